"""area offices' schools, and lists checked against outcomes

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_schools",
        sa.Column("user_id", sa.Integer(), primary_key=True),
        sa.Column("school_id", sa.String(), primary_key=True),
    )
    op.create_table(
        "list_outcomes",
        sa.Column("model_version", sa.String(), primary_key=True),
        sa.Column("school_id", sa.String(), primary_key=True),
        sa.Column("academic_year", sa.Integer(), primary_key=True),
        sa.Column("term", sa.Integer(), primary_key=True),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column("students", sa.Integer(), nullable=False),
        sa.Column("left", sa.Integer(), nullable=False),
        sa.Column("found", sa.Integer(), nullable=False),
        sa.Column("found_in_time", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("median_lead_weeks", sa.Float(), nullable=True),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("flagged_helped", sa.Integer(), nullable=False),
        sa.Column("backfilled_weeks", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("list_outcomes")
    op.drop_table("user_schools")
