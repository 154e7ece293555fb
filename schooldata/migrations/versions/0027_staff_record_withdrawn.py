"""a record of help its author withdraws within minutes of making it (a click on the
wrong student or outcome) is removed again: since 0024 the database refused every
removal of a staff record, so the page's offer to undo one ended in an error

The service allows a withdrawal within five minutes (``serving.records.UNDO_MINUTES``)
and only of the author's own record that nothing corrects. The database allows the
removal of a staff record recorded within the last ten minutes by its own clock (a
margin for two clocks), and still refuses any other change or removal of one.

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "interventions recorded by staff are append-only"  # as 0024 has it


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _function(
            "IF TG_OP = 'DELETE' AND COALESCE(OLD.recorded_at >= "
            "(now() AT TIME ZONE 'UTC') - interval '10 minutes', false) THEN RETURN OLD; "
            "END IF; "
        )
        return
    op.execute("DROP TRIGGER interventions_staff_records_no_delete")
    op.execute(
        "CREATE TRIGGER interventions_staff_records_no_delete BEFORE DELETE ON interventions "
        "WHEN OLD.origin <> 'import' AND (OLD.recorded_at IS NULL "
        "OR OLD.recorded_at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-10 minutes')) "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _function("")
        return
    op.execute("DROP TRIGGER interventions_staff_records_no_delete")
    op.execute(
        "CREATE TRIGGER interventions_staff_records_no_delete BEFORE DELETE ON interventions "
        f"WHEN OLD.origin <> 'import' BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )


def _function(withdrawn: str) -> None:
    """0024's function, with ``withdrawn`` first: what it lets pass."""
    op.execute(
        "CREATE OR REPLACE FUNCTION interventions_staff_records_kept() RETURNS trigger AS $$ "
        f"BEGIN {withdrawn}"
        "IF OLD.origin <> 'import' OR (TG_OP = 'UPDATE' AND NEW.origin <> OLD.origin) "
        f"THEN RAISE EXCEPTION '{MESSAGE}'; END IF; "
        "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END; "
        "$$ LANGUAGE plpgsql"
    )
