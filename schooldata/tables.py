"""The operational database's tables: one per data-contract source, plus the service's own.

The contract tables follow ``schooldata.contract`` column by column (national IDs only as
their keyed hash). The service tables hold accounts, the audit log and the weekly
scores. All live in one migration history (``schooldata/migrations``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from schooldata.contract import SOURCES, Source

metadata = sa.MetaData()

_TYPES: dict[str, type[sa.types.TypeEngine[Any]]] = {
    "str": sa.String,
    "category": sa.String,
    "int": sa.Integer,
    "float": sa.Float,
    "date": sa.Date,
    "bool": sa.Boolean,
}


def stored_column_name(source: Source, name: str) -> str:
    """National IDs are stored only as their keyed hash."""
    return "national_id_hash" if source.column(name).kind == "national_id" else name


def _table_for(source: Source) -> sa.Table:
    columns = []
    for c in source.columns:
        if c.kind == "national_id":
            columns.append(sa.Column("national_id_hash", sa.String(64), nullable=True, index=True))
            continue
        in_key = c.name in source.key
        # Key columns are never NULL; calendar's "every school" row stores school_id ''.
        columns.append(
            sa.Column(
                c.name, _TYPES[c.kind](), primary_key=in_key, nullable=not (c.required or in_key)
            )
        )
    return sa.Table(source.name, metadata, *columns)


TABLES: dict[str, sa.Table] = {s.name: _table_for(s) for s in SOURCES}


# Tables the serving side writes: accounts, the audit log and the weekly scores. They live
# in the same operational database and migration history as the contract tables.
users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("role", sa.String, nullable=False),
    sa.Column("staff_id", sa.String, nullable=True),
    sa.Column("school_id", sa.String, nullable=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("student_id", sa.String, nullable=False),
    sa.Column("endpoint", sa.String, nullable=False),
)

score_runs = sa.Table(
    "score_runs",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("model_version", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("students", sa.Integer, nullable=False),
    sa.UniqueConstraint("as_of", "model_version", name="uq_score_runs_week_model"),
)

student_scores = sa.Table(
    "student_scores",
    metadata,
    sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("score_runs.run_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("student_id", sa.String, primary_key=True),
    sa.Column("school_id", sa.String, nullable=False, index=True),
    sa.Column("advisor_id", sa.String, nullable=True, index=True),
    sa.Column("classroom", sa.String, nullable=True),
    sa.Column("grade_level", sa.String, nullable=True),
    sa.Column("risk", sa.Float, nullable=False),
    sa.Column("raw_score", sa.Float, nullable=False),
    sa.Column("base_value", sa.Float, nullable=False),
    sa.Column("tier", sa.String, nullable=False),
    sa.Column("rank_in_school", sa.Integer, nullable=False),
    sa.Column("rank_in_advisor", sa.Integer, nullable=False),
    sa.Column("risk_vs_school", sa.Float, nullable=True),
    sa.Column("contributions", sa.Text, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("suggested_step_th", sa.String, nullable=True),
    sa.Column("suggested_step_en", sa.String, nullable=True),
    sa.Column("change", sa.String, nullable=False),
    sa.Column("previous_rank_in_school", sa.Integer, nullable=True),
)
