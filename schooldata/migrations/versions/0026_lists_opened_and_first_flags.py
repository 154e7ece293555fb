"""lists opened (who opened which school's list on which day) and each student's first
week on a list, kept as they happen: the actions page of every school read a country's
week of the audit log (a row for every student each list shows) and every week's flagged
students, 675 ms at a country's volume (``make bench-pages``)

Both are filled from what the database holds: the audit log's readings of a list, and
the stored lists. The audit log's index of list readings (0025) then has no reader and
is dropped: each reading of a list paid for it. The index of flagged rows (0025) is
ordered by run: a week's flagged students are read, no longer a student's weeks.

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIST_ROUTES = ("GET /list", "GET /api/v1/risk-list")  # as schooldata.audit has them
BANGKOK = timedelta(hours=7)  # the schools' day: UTC+7, no summer time
CHUNK = 10_000


def upgrade() -> None:
    lists_opened = op.create_table(
        "lists_opened",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("school_id", sa.String(), primary_key=True),
        sa.Column("user_id", sa.Integer(), primary_key=True),
    )
    op.create_table(
        "first_flags",
        sa.Column("school_id", sa.String(), primary_key=True),
        sa.Column("student_id", sa.String(), primary_key=True),
        sa.Column("as_of", sa.Date(), nullable=False),
    )
    connection = op.get_bind()
    audit_log = sa.table(
        "audit_log",
        sa.column("at", sa.DateTime()),
        sa.column("user_id", sa.Integer()),
        sa.column("school_id", sa.String()),
        sa.column("endpoint", sa.String()),
        sa.column("action", sa.String()),
    )
    # One row per reading (a moment, a reader, a school), by the index of 0025.
    readings = connection.execute(
        sa.select(audit_log.c.school_id, audit_log.c.user_id, audit_log.c.at)
        .where(
            (audit_log.c.action == "read")
            & audit_log.c.endpoint.in_(LIST_ROUTES)
            & audit_log.c.school_id.is_not(None)
            & audit_log.c.user_id.is_not(None)
        )
        .distinct()
    )
    opened = sorted({((at + BANGKOK).date(), school, user) for school, user, at in readings})
    rows = [{"day": d, "school_id": s, "user_id": u} for d, s, u in opened]
    for start in range(0, len(rows), CHUNK):
        connection.execute(sa.insert(lists_opened), rows[start : start + CHUNK])
    op.execute(
        "INSERT INTO first_flags (school_id, student_id, as_of) "
        "SELECT s.school_id, s.student_id, MIN(r.as_of) "
        "FROM student_scores s JOIN score_runs r ON r.run_id = s.run_id "
        "WHERE s.tier IN ('high', 'watch') GROUP BY s.school_id, s.student_id"
    )
    op.drop_index("ix_audit_log_list_reads", table_name="audit_log")
    # A run's flagged students, by run first: no read wants a student's weeks any more.
    op.drop_index("ix_student_scores_flagged", table_name="student_scores")
    _flagged_index(["run_id", "school_id", "student_id"])


def _flagged_index(columns: list[str]) -> None:
    op.create_index(
        "ix_student_scores_flagged",
        "student_scores",
        columns,
        sqlite_where=sa.text("tier IN ('high', 'watch')"),
        postgresql_where=sa.text("tier IN ('high', 'watch')"),
    )


def downgrade() -> None:
    op.drop_index("ix_student_scores_flagged", table_name="student_scores")
    _flagged_index(["school_id", "student_id", "run_id"])
    op.create_index(
        "ix_audit_log_list_reads",
        "audit_log",
        ["action", "endpoint", "school_id", "at", "user_id"],
    )
    op.drop_table("first_flags")
    op.drop_table("lists_opened")
