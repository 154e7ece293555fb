"""indexes the pages read by: every intervention by its student and by its kind and
date, the corrected ones, a week's high tier (measured on a country's records:
``make bench-pages``)

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_interventions_key", "interventions", ["school_id", "student_id", "date", "type"]
    )
    op.create_index("ix_interventions_type_date", "interventions", ["type", "date"])
    op.create_index(
        "ix_interventions_corrects",
        "interventions",
        ["corrects"],
        sqlite_where=sa.text("corrects IS NOT NULL"),
        postgresql_where=sa.text("corrects IS NOT NULL"),
    )
    op.create_index(
        "ix_student_scores_run_high",
        "student_scores",
        ["run_id", "school_id", "student_id"],
        sqlite_where=sa.text("tier = 'high'"),
        postgresql_where=sa.text("tier = 'high'"),
    )


def downgrade() -> None:
    op.drop_index("ix_student_scores_run_high", table_name="student_scores")
    op.drop_index("ix_interventions_corrects", table_name="interventions")
    op.drop_index("ix_interventions_type_date", table_name="interventions")
    op.drop_index("ix_interventions_key", table_name="interventions")
