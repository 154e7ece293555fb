"""a school's latest upload can be undone: the rows it replaced are kept with it

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loads",
        sa.Column("load_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("school_id", sa.String(), nullable=False),
        sa.Column("loaded_by", sa.Integer(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.Column("summary", sa.String(), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
    )
    op.create_index("ix_loads_school_id", "loads", ["school_id"])
    op.create_table(
        "load_snapshots",
        sa.Column("load_id", sa.Integer(), primary_key=True),
        sa.Column("table_name", sa.String(), primary_key=True),
        sa.Column("part", sa.String(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("rows", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("load_snapshots")
    op.drop_index("ix_loads_school_id", table_name="loads")
    op.drop_table("loads")
