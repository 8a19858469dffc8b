"""A data-subject request's deadline extended by two further months (GDPR Art. 12(3)): when,
by whom and why.

Revision ID: 0012_dsr_extension
Revises: 0011_reviews
Create Date: 2026-12-02 05:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_dsr_extension"
down_revision = "0011_reviews"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("dsr_case") as batch:
        batch.add_column(sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("extended_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("extension_reason", sa.Text(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_dsr_case_extended_by_id_user_account"),
            "user_account",
            ["extended_by_id"],
            ["id"],
        )
        batch.create_check_constraint(
            op.f("ck_dsr_case_extension_has_reason"),
            "(extended_at IS NULL) = (extension_reason IS NULL)",
        )


def downgrade():
    with op.batch_alter_table("dsr_case") as batch:
        batch.drop_constraint(op.f("ck_dsr_case_extension_has_reason"), type_="check")
        batch.drop_constraint(
            batch.f("fk_dsr_case_extended_by_id_user_account"), type_="foreignkey"
        )
        batch.drop_column("extension_reason")
        batch.drop_column("extended_by_id")
        batch.drop_column("extended_at")
