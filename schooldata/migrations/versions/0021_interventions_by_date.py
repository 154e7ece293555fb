"""interventions by date, with their student and ID: the area page counts the high
tier's students helped in the last 30 days from this index alone (measured on a
country's records: ``make bench-pages``)

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_interventions_date",
        "interventions",
        ["date", "school_id", "student_id", "intervention_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_interventions_date", table_name="interventions")
