"""Data-subject requests as cases, and the customers erased on request (without personal data).

Revision ID: 0010_dsr
Revises: 0009_flags
Create Date: 2026-12-03 10:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010_dsr"
down_revision = "0009_flags"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dsr_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("identity_check", sa.String(length=24), nullable=False),
        sa.Column("identity_note", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("opened_by_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('access', 'portability', 'rectification', 'erasure', 'restriction', "
            "'objection')",
            name=op.f("ck_dsr_case_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'refused')", name=op.f("ck_dsr_case_status")
        ),
        sa.CheckConstraint(
            "(status = 'open') = (closed_at IS NULL)", name=op.f("ck_dsr_case_closed_when_done")
        ),
        sa.CheckConstraint(
            "deadline >= received_on", name=op.f("ck_dsr_case_deadline_after_receipt")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_dsr_case_customer_id_customer"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"],
            ["user_account.id"],
            name=op.f("fk_dsr_case_opened_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["user_account.id"],
            name=op.f("fk_dsr_case_closed_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_case")),
        sa.UniqueConstraint("reference", name=op.f("uq_dsr_case_reference")),
    )
    op.create_index("ix_dsr_case_customer_id", "dsr_case", ["customer_id"])
    op.create_table(
        "erased_customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erased_customer")),
    )
    op.create_index("ix_erased_customer_customer_id", "erased_customer", ["customer_id"])


def downgrade():
    op.drop_index("ix_erased_customer_customer_id", table_name="erased_customer")
    op.drop_table("erased_customer")
    op.drop_index("ix_dsr_case_customer_id", table_name="dsr_case")
    op.drop_table("dsr_case")
