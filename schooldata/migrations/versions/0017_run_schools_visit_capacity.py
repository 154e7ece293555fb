"""each school's weekly home-visit capacity stored with each run

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Runs stored before this version have none: their plans are replayed at today's.
    with op.batch_alter_table("run_schools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visit_capacity", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_schools", schema=None) as batch_op:
        batch_op.drop_column("visit_capacity")
