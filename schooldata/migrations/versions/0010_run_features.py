"""each run's model inputs stored once with the run, not in every student's contributions
(which halves what a run writes)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("score_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("features", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("score_runs", schema=None) as batch_op:
        batch_op.drop_column("features")
