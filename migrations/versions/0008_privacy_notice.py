"""What a register's privacy notice says that the rest of the system does not already know:
the legal basis of the recording, its processors, and the day the notice last changed.

Revision ID: 0008_notice
Revises: 0007_retention
Create Date: 2026-12-01 21:45:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008_notice"
down_revision = "0007_retention"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("register") as batch:
        batch.add_column(
            sa.Column(
                "legal_basis",
                sa.String(length=32),
                nullable=False,
                server_default="legitimate_interest",
            )
        )
        batch.add_column(sa.Column("processors", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column(
                "notice_updated_on",
                sa.Date(),
                nullable=False,
                server_default=sa.text("CURRENT_DATE"),
            )
        )


def downgrade():
    with op.batch_alter_table("register") as batch:
        batch.drop_column("notice_updated_on")
        batch.drop_column("processors")
        batch.drop_column("legal_basis")
