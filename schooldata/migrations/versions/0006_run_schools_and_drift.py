"""each run's schools (freshness, stale) and its inputs' drift

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_schools",
        sa.Column("run_id", sa.Integer(), primary_key=True),
        sa.Column("school_id", sa.String(), primary_key=True),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("newest_attendance", sa.Date(), nullable=True),
        sa.Column("newest_coursework", sa.Date(), nullable=True),
        sa.Column("newest_screening", sa.Date(), nullable=True),
        sa.Column("school_days_missing", sa.Integer(), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "run_drift",
        sa.Column("run_id", sa.Integer(), primary_key=True),
        sa.Column("feature", sa.String(), primary_key=True),
        sa.Column("phase", sa.String(), primary_key=True),
        sa.Column("psi", sa.Float(), nullable=False),
        sa.Column("missing_then", sa.Float(), nullable=False),
        sa.Column("missing_now", sa.Float(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_drift")
    op.drop_table("run_schools")
