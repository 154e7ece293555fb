"""accounts with expiry and passwords, server-side sessions, a chained audit log,
append-only interventions

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("token_hash", existing_type=sa.String(64), nullable=True)
        batch_op.add_column(sa.Column("token_expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("username", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("password_hash", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.create_unique_constraint("uq_users_username", ["username"])
    op.create_table(
        "sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    _chain_audit_log(dialect)
    _append_only_interventions()


def _chain_audit_log(dialect: str) -> None:
    from schooldata.audit import row_hash

    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("student_id", existing_type=sa.String(), nullable=True)
        batch_op.add_column(sa.Column("action", sa.String(), nullable=False, server_default="read"))
        batch_op.add_column(sa.Column("actor", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("detail", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
    # Chain the rows written before this revision, in order.
    bind = op.get_bind()
    table = sa.table(
        "audit_log",
        sa.column("audit_id", sa.Integer()),
        sa.column("at", sa.DateTime()),
        sa.column("user_id", sa.Integer()),
        *(
            sa.column(c, sa.String())
            for c in ("actor", "action", "student_id", "endpoint", "detail", "prev_hash")
        ),
        sa.column("row_hash", sa.String()),
    )
    previous = GENESIS
    rows = bind.execute(sa.select(table).order_by(table.c.audit_id)).mappings().all()
    for row in rows:
        current = row_hash(previous, dict(row))
        bind.execute(
            sa.update(table)
            .where(table.c.audit_id == row["audit_id"])
            .values(prev_hash=previous, row_hash=current)
        )
        previous = current
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{action.lower()} BEFORE {action} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    else:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def _append_only_interventions() -> None:
    op.create_table(
        "interventions_new",
        sa.Column("intervention_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("student_id", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("staff_id", sa.String(), nullable=True),
        sa.Column("origin", sa.String(), nullable=False, server_default="import"),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=True),
        sa.Column("corrects", sa.Integer(), nullable=True),
    )
    op.execute(
        "INSERT INTO interventions_new (student_id, date, type, outcome, staff_id, origin) "
        "SELECT student_id, date, type, outcome, staff_id, 'import' FROM interventions"
    )
    op.drop_table("interventions")
    op.rename_table("interventions_new", "interventions")
    op.create_index(
        "uq_interventions_imported",
        "interventions",
        ["student_id", "date", "type"],
        unique=True,
        sqlite_where=sa.text("origin = 'import'"),
        postgresql_where=sa.text("origin = 'import'"),
    )


def downgrade() -> None:
    raise NotImplementedError("the audit chain and append-only records are not undone")
