"""The keyed audit chain: the head row that serializes appends, and triggers that refuse to
change or delete an event.

Revision ID: 0003_audit
Revises: 0002_ldap
Create Date: 2026-11-22 02:50:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0003_audit"
down_revision = "0002_ldap"
branch_labels = None
depends_on = None

REFUSAL = "audit_event is append-only: events are never changed or deleted"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END""",
    f"""CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END""",
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
        BEGIN SELECT RAISE(ABORT, 'the audit chain head is never deleted'); END""",
]

POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'insufficient_privilege';
        END $$""",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
        FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()""",
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head
        FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()""",
]


def upgrade():
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("chain", sa.String(length=64), nullable=True),
        sa.Column(
            "events", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # Events written before the chain existed stay unchained; the first chained event follows
    # the newest of them.
    op.execute(
        "INSERT INTO audit_head (id, seq, chain, events) "
        "SELECT 1, COALESCE(MAX(seq), 0), NULL, COUNT(*) FROM audit_event"
    )
    statements = (
        POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    )
    for statement in statements:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_head_no_delete ON audit_head")
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    else:
        for name in ("audit_head_no_delete", "audit_event_no_delete", "audit_event_no_update"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("audit_head")
