"""each student's risk against their school's average that week

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("student_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk_vs_school", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("student_scores", schema=None) as batch_op:
        batch_op.drop_column("risk_vs_school")
