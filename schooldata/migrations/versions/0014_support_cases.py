"""follow-through: support cases, their events and notes; the committee chair

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("chair", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "support_cases",
        sa.Column("case_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("school_id", sa.String(), nullable=False),
        sa.Column("student_id", sa.String(), nullable=False),
        sa.Column("opened_by", sa.Integer(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=False),
        sa.Column("planned", sa.String(), nullable=False),
        sa.Column("plan_text", sa.Text(), nullable=True),
        sa.Column("review_every_days", sa.Integer(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("next_review", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
    )
    op.create_index("ix_support_cases_school_id", "support_cases", ["school_id"])
    op.create_index(
        "uq_support_cases_open",
        "support_cases",
        ["school_id", "student_id"],
        unique=True,
        sqlite_where=sa.text("closed_on IS NULL"),
        postgresql_where=sa.text("closed_on IS NULL"),
    )
    op.create_table(
        "case_events",
        sa.Column("event_id", sa.Integer(), primary_key=True, autoincrement=True),
        _case_id(),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "case_notes",
        sa.Column("note_id", sa.Integer(), primary_key=True, autoincrement=True),
        _case_id(),
        sa.Column("author_user_id", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("restricted", sa.String(), nullable=True),
        sa.Column("in_brief", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])


def _case_id() -> sa.Column[int]:
    return sa.Column(
        "case_id",
        sa.Integer(),
        sa.ForeignKey("support_cases.case_id", ondelete="CASCADE"),
        nullable=False,
    )


def downgrade() -> None:
    op.drop_table("case_notes")
    op.drop_table("case_events")
    op.drop_table("support_cases")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("chair")
