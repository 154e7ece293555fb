"""the forms of the pages acted on, by the key each was drawn with: a double click on a
case's Save wrote its note twice, and its review twice; a missing child's finding too

Revision ID: 0029
Revises: 0028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forms_sent",
        sa.Column("user_id", sa.Integer(), primary_key=True),
        sa.Column("form_key", sa.String(), primary_key=True),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_forms_sent_sent_at", "forms_sent", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_forms_sent_sent_at", table_name="forms_sent")
    op.drop_table("forms_sent")
