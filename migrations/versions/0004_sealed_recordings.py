"""Sealed recordings: each call keeps its recording's data key, wrapped by a master key, and
that key's id. Recordings stored before this stay plain (both columns empty) and are read as
they are.

Revision ID: 0004_sealed
Revises: 0003_audit
Create Date: 2026-12-01 18:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0004_sealed"
down_revision = "0003_audit"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("call") as batch:
        batch.add_column(sa.Column("recording_sealed_key", sa.LargeBinary(length=128), nullable=True))
        batch.add_column(sa.Column("recording_key_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_call_recording_key_id", ["recording_key_id"])


def downgrade():
    with op.batch_alter_table("call") as batch:
        batch.drop_index("ix_call_recording_key_id")
        batch.drop_column("recording_key_id")
        batch.drop_column("recording_sealed_key")
