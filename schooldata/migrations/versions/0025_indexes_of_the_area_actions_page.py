"""indexes of the area office's actions page: the lists read in a week, from the audit
log's rows of list routes by moment (not the whole log, a row for every student each
list shows), and a student's weeks on a list (not every week's every student) (measured
on a country's records: ``make bench-pages``)

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A school's readings of a route from a moment on. Its keys repeat within a reading
    # of a list (one moment, reader and school for every student shown): PostgreSQL
    # stores each once, a twelfth of the log's size.
    op.create_index(
        "ix_audit_log_list_reads",
        "audit_log",
        ["action", "endpoint", "school_id", "at", "user_id"],
    )
    op.create_index(
        "ix_student_scores_flagged",
        "student_scores",
        ["school_id", "student_id", "run_id"],
        sqlite_where=sa.text("tier IN ('high', 'watch')"),
        postgresql_where=sa.text("tier IN ('high', 'watch')"),
    )


def downgrade() -> None:
    op.drop_index("ix_student_scores_flagged", table_name="student_scores")
    op.drop_index("ix_audit_log_list_reads", table_name="audit_log")
