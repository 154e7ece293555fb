"""the database refuses to change or remove an intervention the staff recorded: only a
school's imported records are updated or deleted (by its next file, or an undone upload)

The application's role needs UPDATE and DELETE on interventions for those (an upload of
the school's interventions upserts them; undoing it puts them back), which
docs/postgres-roles.md revoked, so such an upload failed there. The trigger keeps what
the revocation kept, for every role: a staff record (``origin`` other than ``import``)
is never rewritten, and a correction is a new record pointing to it.

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "interventions recorded by staff are append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION interventions_staff_records_kept() RETURNS trigger AS $$ BEGIN "
            "IF OLD.origin <> 'import' OR (TG_OP = 'UPDATE' AND NEW.origin <> OLD.origin) "
            f"THEN RAISE EXCEPTION '{MESSAGE}'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END; "
            "$$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER interventions_staff_records_kept BEFORE UPDATE OR DELETE "
            "ON interventions FOR EACH ROW EXECUTE FUNCTION interventions_staff_records_kept()"
        )
        return
    op.execute(
        "CREATE TRIGGER interventions_staff_records_no_update BEFORE UPDATE ON interventions "
        "WHEN OLD.origin <> 'import' OR NEW.origin <> OLD.origin "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )
    op.execute(
        "CREATE TRIGGER interventions_staff_records_no_delete BEFORE DELETE ON interventions "
        f"WHEN OLD.origin <> 'import' BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER interventions_staff_records_kept ON interventions")
        op.execute("DROP FUNCTION interventions_staff_records_kept()")
        return
    op.execute("DROP TRIGGER interventions_staff_records_no_update")
    op.execute("DROP TRIGGER interventions_staff_records_no_delete")
