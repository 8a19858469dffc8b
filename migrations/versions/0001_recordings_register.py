"""The recordings register: users and their sessions, registers, services, purposes,
customers, calls, purpose grants and the audit trail's event table.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:24:30.575643

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PURPOSES = [
    ("order_verification", False),
    ("complaint", True),
    ("quality", False),
    ("training", False),
    ("service_development", False),
    ("data_subject_request", True),
    ("authority_request", True),
]


def upgrade():
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_number", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("contact_person", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint(
            "customer_number", name=op.f("uq_customer_customer_number")
        ),
    )
    op.create_table(
        "purpose",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("requires_case_ref", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_purpose")),
    )
    op.create_table(
        "register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("retention_months", sa.Integer(), nullable=False),
        sa.Column("controller", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("dpo_contact", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "retention_months > 0", name=op.f("ck_register_retention_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register")),
        sa.UniqueConstraint("code", name=op.f("uq_register_code")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("auth_source", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("external_id", name=op.f("uq_user_account_external_id")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "customer_phone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_phone_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_phone")),
        sa.UniqueConstraint(
            "customer_id", "phone_e164", name="uq_customer_phone_number"
        ),
    )
    with op.batch_alter_table("customer_phone", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_phone_phone_e164", ["phone_e164"], unique=False
        )

    op.create_table(
        "register_purpose",
        sa.Column("register_id", sa.Integer(), nullable=False),
        sa.Column("purpose_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["purpose_code"],
            ["purpose.code"],
            name=op.f("fk_register_purpose_purpose_code_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["register_id"],
            ["register.id"],
            name=op.f("fk_register_purpose_register_id_register"),
        ),
        sa.PrimaryKeyConstraint(
            "register_id", "purpose_code", name=op.f("pk_register_purpose")
        ),
    )
    op.create_table(
        "service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["register_id"],
            ["register.id"],
            name=op.f("fk_service_register_id_register"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service")),
        sa.UniqueConstraint("code", name=op.f("uq_service_code")),
    )
    op.create_table(
        "user_role",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_role_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_role")),
    )
    op.create_table(
        "user_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index("ix_user_session_user_id", ["user_id"], unique=False)

    op.create_table(
        "call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("phone_e164", sa.String(length=16), nullable=True),
        sa.Column("phone_secret", sa.Boolean(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(length=150), nullable=True),
        sa.Column("recording_key", sa.String(length=255), nullable=False),
        sa.Column("recording_bytes", sa.Integer(), nullable=False),
        sa.Column("recording_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "direction IN ('in', 'out')", name=op.f("ck_call_direction")
        ),
        sa.CheckConstraint(
            "NOT (phone_secret AND phone_e164 IS NOT NULL)",
            name=op.f("ck_call_secret_no_digits"),
        ),
        sa.CheckConstraint(
            "duration_s >= 0", name=op.f("ck_call_duration_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["user_account.id"],
            name=op.f("fk_call_agent_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_call_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_call_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call")),
        sa.UniqueConstraint("external_id", name=op.f("uq_call_external_id")),
    )
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.create_index(
            "ix_call_agent_id_started_at_id_filters",
            ["agent_id", "started_at", "id", "service_id", "direction", "duration_s"],
            unique=False,
        )
        batch_op.create_index(
            "ix_call_customer_id_started_at",
            ["customer_id", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_call_direction_started_at_id_agent_id",
            ["direction", "started_at", "id", "agent_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_call_duration_s_started_at", ["duration_s", "started_at"], unique=False
        )
        batch_op.create_index(
            "ix_call_phone_e164_started_at_id",
            ["phone_e164", "started_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_call_service_id_started_at_id_agent_id",
            ["service_id", "started_at", "id", "agent_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_call_started_at_id_duration_s",
            ["started_at", "id", "duration_s"],
            unique=False,
        )

    op.create_table(
        "access_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("purpose_code", sa.String(length=32), nullable=False),
        sa.Column("case_ref", sa.String(length=128), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["call.id"],
            name=op.f("fk_access_grant_call_id_call"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["purpose_code"],
            ["purpose.code"],
            name=op.f("fk_access_grant_purpose_code_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["user_session.id"],
            name=op.f("fk_access_grant_session_id_user_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grant")),
    )
    with op.batch_alter_table("access_grant", schema=None) as batch_op:
        batch_op.create_index(
            "ix_access_grant_session_call", ["session_id", "call_id"], unique=False
        )

    op.create_table(
        "audit_event",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=255), nullable=True),
        sa.Column("actor_roles", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=True),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=64), nullable=True),
        sa.Column("case_ref", sa.String(length=128), nullable=True),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("chain", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_event"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_event_actor_id_seq", ["actor_id", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_audit_event_customer_id_seq", ["customer_id", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_audit_event_object", ["object_type", "object_id", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_audit_event_occurred_at", ["occurred_at"], unique=False
        )


    # The purposes of SPEC §1 are reference data: every installation has them.
    purpose = sa.table(
        "purpose",
        sa.column("code", sa.String),
        sa.column("requires_case_ref", sa.Boolean),
        sa.column("position", sa.Integer),
    )
    op.bulk_insert(
        purpose,
        [
            {"code": code, "requires_case_ref": needs_case, "position": i}
            for i, (code, needs_case) in enumerate(PURPOSES)
        ],
    )


def downgrade():
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_occurred_at")
        batch_op.drop_index("ix_audit_event_object")
        batch_op.drop_index("ix_audit_event_customer_id_seq")
        batch_op.drop_index("ix_audit_event_actor_id_seq")

    op.drop_table("audit_event")
    with op.batch_alter_table("access_grant", schema=None) as batch_op:
        batch_op.drop_index("ix_access_grant_session_call")

    op.drop_table("access_grant")
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_index("ix_call_started_at_id_duration_s")
        batch_op.drop_index("ix_call_service_id_started_at_id_agent_id")
        batch_op.drop_index("ix_call_phone_e164_started_at_id")
        batch_op.drop_index("ix_call_duration_s_started_at")
        batch_op.drop_index("ix_call_direction_started_at_id_agent_id")
        batch_op.drop_index("ix_call_customer_id_started_at")
        batch_op.drop_index("ix_call_agent_id_started_at_id_filters")

    op.drop_table("call")
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index("ix_user_session_user_id")

    op.drop_table("user_session")
    op.drop_table("user_role")
    op.drop_table("service")
    op.drop_table("register_purpose")
    with op.batch_alter_table("customer_phone", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_phone_phone_e164")

    op.drop_table("customer_phone")
    op.drop_table("user_account")
    op.drop_table("register")
    op.drop_table("purpose")
    op.drop_table("customer")
