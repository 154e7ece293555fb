"""each account's token keeps the last day it was used, so that an admin is told to
renew a token in use (an integration's) before it expires and the integration stops

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("token_used_on", sa.Date, nullable=True))


def downgrade() -> None:
    op.drop_column("users", "token_used_on")
