"""each stored list's leavers found 8 or more weeks ahead, beside 4 (the headline's two)

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Figures judged before this version have none: the next ``ews outcomes`` fills them.
    with op.batch_alter_table("list_outcomes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("found_8w", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("list_outcomes", schema=None) as batch_op:
        batch_op.drop_column("found_8w")
