"""indexes for a week's list of a school or an advisor at national volume; an
enrolment's advisor is optional (a DMC export has none: ingest lists the student under
their classroom group)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.alter_column("advisor_id", existing_type=sa.String(), nullable=True)
    op.create_index(
        "ix_student_scores_run_school_rank",
        "student_scores",
        ["run_id", "school_id", "rank_in_school"],
    )
    op.create_index(
        "ix_student_scores_run_advisor_rank",
        "student_scores",
        ["run_id", "school_id", "advisor_id", "rank_in_advisor"],
    )


def downgrade() -> None:
    op.drop_index("ix_student_scores_run_advisor_rank", table_name="student_scores")
    op.drop_index("ix_student_scores_run_school_rank", table_name="student_scores")
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.alter_column("advisor_id", existing_type=sa.String(), nullable=False)
