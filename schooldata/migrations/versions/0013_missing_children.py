"""the missing children's worklist: cases and their notes

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "missing_cases",
        sa.Column("case_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(), nullable=False),
        sa.Column("school_id", sa.String(), nullable=False),
        sa.Column("student_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("grade_level", sa.String(), nullable=False),
        sa.Column("last_year", sa.Integer(), nullable=False),
        sa.Column("last_term", sa.Integer(), nullable=False),
        sa.Column("expected_year", sa.Integer(), nullable=False),
        sa.Column("expected_term", sa.Integer(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("status_on", sa.Date(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("reason_code", sa.Integer(), nullable=True),
        sa.Column("help_needed", sa.String(), nullable=True),
        sa.Column("agency", sa.String(), nullable=True),
        sa.Column("found_school_id", sa.String(), nullable=True),
        sa.Column("found_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.UniqueConstraint("person_id", "expected_year", "expected_term", name="uq_missing_case"),
    )
    op.create_index("ix_missing_cases_person_id", "missing_cases", ["person_id"])
    op.create_index("ix_missing_cases_school_id", "missing_cases", ["school_id"])
    op.create_table(
        "missing_case_notes",
        sa.Column("note_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "case_id",
            sa.Integer(),
            sa.ForeignKey("missing_cases.case_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("author_user_id", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_missing_case_notes_case_id", "missing_case_notes", ["case_id"])


def downgrade() -> None:
    op.drop_table("missing_case_notes")
    op.drop_table("missing_cases")
