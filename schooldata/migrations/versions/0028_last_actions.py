"""each student's last action, kept as help is written: the actions page of every
school read every record of help ever written for the country's flagged students, so it
slowed with every year of records (``make bench-pages`` with five records per student
helped: 855 ms, and 560 ms reading this table)

Filled from the records of help in force (a record a later one corrects is void).

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "last_actions",
        sa.Column("school_id", sa.String(), primary_key=True),
        sa.Column("student_id", sa.String(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
    )
    op.execute(
        "INSERT INTO last_actions (school_id, student_id, day) "
        "SELECT i.school_id, i.student_id, MAX(i.date) FROM interventions i "
        "WHERE NOT EXISTS (SELECT 1 FROM interventions later "
        "WHERE later.corrects = i.intervention_id) "
        "GROUP BY i.school_id, i.student_id"
    )


def downgrade() -> None:
    op.drop_table("last_actions")
