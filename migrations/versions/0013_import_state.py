"""Imports that run by themselves: a lease that lets one run at a time, and where each source
was read up to.

Revision ID: 0013_import_state
Revises: 0012_dsr_extension
Create Date: 2026-12-02 20:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013_import_state"
down_revision = "0012_dsr_extension"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "import_state",
        sa.Column("source", sa.String(255), nullable=False),
        sa.Column("position", sa.DateTime(timezone=True), nullable=True),
        sa.Column("holder", sa.String(255), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_import_state")),
    )


def downgrade():
    op.drop_table("import_state")
