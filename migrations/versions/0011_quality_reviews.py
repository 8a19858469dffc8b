"""Quality review: scorecards in versions, reviews with scores and pinned comments, the
monthly review rounds' seeds, the training library; agents' teams; registers' scorecards and
sample sizes.

Revision ID: 0011_reviews
Revises: 0010_dsr
Create Date: 2026-12-02 00:57:38

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011_reviews"
down_revision = "0010_dsr"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "review_round",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_review_round")),
    )
    op.create_table(
        "scorecard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard")),
        sa.UniqueConstraint("name", name=op.f("uq_scorecard_name")),
    )
    op.create_table(
        "scorecard_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_scorecard_version_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["scorecard_id"],
            ["scorecard.id"],
            name=op.f("fk_scorecard_version_scorecard_id_scorecard"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_version")),
        sa.UniqueConstraint("scorecard_id", "number", name="uq_scorecard_version"),
    )
    op.create_table(
        "scorecard_criterion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("scale_min", sa.Integer(), nullable=False),
        sa.Column("scale_max", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.CheckConstraint("scale_max > scale_min", name=op.f("ck_scorecard_criterion_scale")),
        sa.CheckConstraint("weight > 0", name=op.f("ck_scorecard_criterion_weight_positive")),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["scorecard_version.id"],
            name=op.f("fk_scorecard_criterion_version_id_scorecard_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_criterion")),
    )
    with op.batch_alter_table("scorecard_criterion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scorecard_criterion_version_id"), ["version_id"], unique=False
        )

    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_team", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'published') = (published_at IS NOT NULL)", name=op.f("ck_review_published")
        ),
        sa.CheckConstraint("status IN ('draft', 'published')", name=op.f("ck_review_status")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["user_account.id"], name=op.f("fk_review_agent_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_review_call_id_call"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["user_account.id"], name=op.f("fk_review_reviewer_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["scorecard_version.id"],
            name=op.f("fk_review_version_id_scorecard_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review")),
        sa.UniqueConstraint("call_id", name=op.f("uq_review_call_id")),
    )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_version_id"), ["version_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_reviewer_id"), ["reviewer_id"], unique=False)

    op.create_table(
        "training_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("marked_by_id", sa.Integer(), nullable=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["call.id"], name=op.f("fk_training_item_call_id_call"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["marked_by_id"],
            ["user_account.id"],
            name=op.f("fk_training_item_marked_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_item")),
        sa.UniqueConstraint("call_id", name=op.f("uq_training_item_call_id")),
    )
    op.create_table(
        "review_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("at_ms", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("at_ms IS NULL OR at_ms >= 0", name=op.f("ck_review_comment_moment")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_review_comment_author_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["review.id"],
            name=op.f("fk_review_comment_review_id_review"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_comment")),
    )
    with op.batch_alter_table("review_comment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_comment_review_id"), ["review_id"], unique=False
        )

    op.create_table(
        "review_score",
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["criterion_id"],
            ["scorecard_criterion.id"],
            name=op.f("fk_review_score_criterion_id_scorecard_criterion"),
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["review.id"],
            name=op.f("fk_review_score_review_id_review"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("review_id", "criterion_id", name=op.f("pk_review_score")),
    )
    with op.batch_alter_table("register", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scorecard_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("review_sample_size", sa.Integer(), server_default="3", nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_register_scorecard_id_scorecard"), "scorecard", ["scorecard_id"], ["id"]
        )
        batch_op.create_check_constraint(op.f("ck_register_sample_size_nonnegative"), "review_sample_size >= 0")

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("team")

    with op.batch_alter_table("register", schema=None) as batch_op:
        batch_op.drop_constraint("ck_register_sample_size_nonnegative", type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_register_scorecard_id_scorecard"), type_="foreignkey"
        )
        batch_op.drop_column("review_sample_size")
        batch_op.drop_column("scorecard_id")

    op.drop_table("review_score")
    with op.batch_alter_table("review_comment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_comment_review_id"))

    op.drop_table("review_comment")
    op.drop_table("training_item")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_reviewer_id"))
        batch_op.drop_index(batch_op.f("ix_review_version_id"))
        batch_op.drop_index(batch_op.f("ix_review_agent_id"))

    op.drop_table("review")
    with op.batch_alter_table("scorecard_criterion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scorecard_criterion_version_id"))

    op.drop_table("scorecard_criterion")
    op.drop_table("scorecard_version")
    op.drop_table("scorecard")
    op.drop_table("review_round")
