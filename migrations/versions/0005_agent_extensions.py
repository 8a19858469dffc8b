"""Extensions and the agents who answered at them, with the days each mapping was valid.

Revision ID: 0005_agents
Revises: 0004_sealed
Create Date: 2026-12-01 18:35:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0005_agents"
down_revision = "0004_sealed"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "agent_extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_agent_extension_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_extension")),
    )
    op.create_index(
        "ix_agent_extension_extension_valid_from", "agent_extension", ["extension", "valid_from"]
    )


def downgrade():
    op.drop_index("ix_agent_extension_extension_valid_from", table_name="agent_extension")
    op.drop_table("agent_extension")
