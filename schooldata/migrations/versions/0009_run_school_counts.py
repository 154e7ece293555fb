"""each run's per-school counts of the high and watch tiers and of students new on the
list, stored with the run (the area page reads them rather than counting rows)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run_schools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("high", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("watch", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("new_on_list", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_schools", schema=None) as batch_op:
        batch_op.drop_column("new_on_list")
        batch_op.drop_column("watch")
        batch_op.drop_column("high")
