"""each stored list's leavers found 4 and 8 weeks ahead on the replayed home-visit plans

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Figures judged before this version have none: the next ``ews outcomes`` fills them.
    with op.batch_alter_table("list_outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_in_time", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("planned_8w", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("list_outcomes", schema=None) as batch_op:
        batch_op.drop_column("planned_8w")
        batch_op.drop_column("planned_in_time")
