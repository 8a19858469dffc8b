"""Legal holds, and the recordings that have left the system (without personal data).

Revision ID: 0007_retention
Revises: 0006_tokens
Create Date: 2026-12-01 19:15:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007_retention"
down_revision = "0006_tokens"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("case_ref", sa.String(length=128), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(call_id IS NULL) <> (customer_id IS NULL)", name=op.f("ck_legal_hold_one_object")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["user_account.id"], name=op.f("fk_legal_hold_set_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_hold")),
    )
    op.create_index("ix_legal_hold_call_id", "legal_hold", ["call_id"])
    op.create_index("ix_legal_hold_customer_id", "legal_hold", ["customer_id"])
    op.create_table(
        "removed_recording",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("recording_key", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_removed_recording")),
        sa.UniqueConstraint("recording_key", name=op.f("uq_removed_recording_recording_key")),
    )


def downgrade():
    op.drop_table("removed_recording")
    op.drop_index("ix_legal_hold_customer_id", table_name="legal_hold")
    op.drop_index("ix_legal_hold_call_id", table_name="legal_hold")
    op.drop_table("legal_hold")
