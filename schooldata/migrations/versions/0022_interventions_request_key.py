"""a record made through the API may carry its sender's request key (the
``Idempotency-Key`` header): one record per account and key, so a request sent again
after a lost answer returns the record it made instead of making a second

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("interventions", sa.Column("request_key", sa.String(100), nullable=True))
    op.create_index(
        "uq_interventions_request",
        "interventions",
        ["recorded_by", "request_key"],
        unique=True,
        sqlite_where=sa.text("request_key IS NOT NULL"),
        postgresql_where=sa.text("request_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_interventions_request", table_name="interventions")
    op.drop_column("interventions", "request_key")
