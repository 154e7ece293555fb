"""a record of help, or a child to look for, never takes the number of one removed before

SQLite gives a new row the highest number in its table plus one, so the number of a row
removed at the top was given again: a record of help withdrawn by its author (always one
of the newest) passed its number to the next record, and the withdrawn record's undo
button, sent again from a page left open, withdrew that next record, someone else's good
work; the audit log's "withdraw intervention N" then named a record that exists. A child
to look for whose case was merged into another's gave its number (the one of a page's
address, a message's link) to the next child's case. Both tables now number their rows
AUTOINCREMENT: a number is never given twice. PostgreSQL's sequences never did.

Each table is copied whole into one declared so, with its columns, key and unique
constraints as they were, then its indexes and triggers are made again as they were.

Revision ID: 0030
Revises: 0029
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NUMBERED = {"interventions": "intervention_id", "missing_cases": "case_id"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, key in NUMBERED.items():
            _copy_numbered(name, key, autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name, key in NUMBERED.items():
            _copy_numbered(name, key, autoincrement=False)


def _copy_numbered(name: str, key: str, *, autoincrement: bool) -> None:
    """Copy ``name`` into the same table numbered by ``key`` with (or without)
    AUTOINCREMENT, keeping every row, index and trigger."""
    bind = op.get_bind()
    found = sa.inspect(bind)
    columns = found.get_columns(name)
    uniques = found.get_unique_constraints(name)
    # Dropping the table drops these: made again from their own statements.
    made_with = (
        bind.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE tbl_name = :name "
                "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
            ),
            {"name": name},
        )
        .scalars()
        .all()
    )
    copy = sa.Table(
        f"{name}_0030",
        sa.MetaData(),
        *[
            sa.Column(
                c["name"],
                c["type"],
                primary_key=c["name"] == key,
                nullable=c["nullable"],
                server_default=sa.text(c["default"]) if c["default"] is not None else None,
            )
            for c in columns
        ],
        *[sa.UniqueConstraint(*u["column_names"], name=u["name"]) for u in uniques],
        sqlite_autoincrement=autoincrement,
    )
    copy.create(bind)
    names = ", ".join(c["name"] for c in columns)
    op.execute(f"INSERT INTO {copy.name} ({names}) SELECT {names} FROM {name}")
    op.drop_table(name)
    op.rename_table(copy.name, name)
    for statement in made_with:
        op.execute(statement)
