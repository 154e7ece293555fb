"""The operational database: tables of the data contract, engine, migrations, and reads.

The schema is managed by Alembic (``features/migrations``); ``upgrade`` brings any database
(SQLite file or PostgreSQL URL) to the current revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from features.contract import SOURCES, Source

metadata = sa.MetaData()
ID_CHUNK = 5000

_TYPES: dict[str, type[sa.types.TypeEngine]] = {
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


def make_engine(url: str) -> sa.Engine:
    """Create an engine; a SQLite file's folder is created when missing."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: sa.Engine) -> None:
    """Bring the database schema to the newest migration."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def read_table(
    engine: sa.Engine,
    name: str,
    columns: Sequence[str] | None = None,
    student_ids: Sequence[str] | None = None,
    since: tuple[str, date] | None = None,
) -> pd.DataFrame:
    """Read a contract table as typed columns (dates as ``datetime64``).

    Args:
        engine: the operational database.
        name: source name, e.g. ``"attendance"``.
        columns: columns to read (all by default).
        student_ids: restrict to these students.
        since: (date column, first date) to read only records dated from then on.

    Returns:
        One row per stored record; an empty frame with the columns when there is none.
    """
    table = TABLES[name]
    selected = [table.c[c] for c in columns] if columns else list(table.c)
    query = sa.select(*selected)
    if since is not None:
        query = query.where(table.c[since[0]] >= since[1])
    if student_ids is not None and "student_id" in table.c:
        ids = list(student_ids)
        # SQLite caps bound parameters: ask in chunks.
        parts = []
        with engine.connect() as connection:
            for start in range(0, max(len(ids), 1), ID_CHUNK):
                chunk = query.where(table.c.student_id.in_(ids[start : start + ID_CHUNK]))
                parts.append(pd.read_sql(chunk, connection))
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    else:
        with engine.connect() as connection:
            frame = pd.read_sql(query, connection)
    return typed_frame(frame, table)


def typed_frame(frame: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """Columns as a read from the database gives them, whatever the frame came from.

    Dates become ``datetime64[s]``, booleans nullable ``boolean``, integers ``int64`` (or
    ``float64`` with a gap, as the driver gives), floats ``float64`` and text ``str``; a
    Parquet dataset read this way gives the same features as the database.
    """
    for column in table.c:
        if column.name not in frame:
            continue
        values = frame[column.name]
        if isinstance(column.type, sa.Date):
            if not pd.api.types.is_datetime64_any_dtype(values):
                values = pd.to_datetime(values, format="ISO8601")
            frame[column.name] = values.astype("datetime64[s]")
        elif isinstance(column.type, sa.Boolean):
            frame[column.name] = values.astype("boolean")
        elif isinstance(column.type, sa.Integer):
            frame[column.name] = values.astype("float64" if values.isna().any() else "int64")
        elif isinstance(column.type, sa.Float):
            frame[column.name] = values.astype("float64")
        else:
            frame[column.name] = values.astype("str")
    return frame


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
    sa.Column("contributions", sa.Text, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("suggested_step_th", sa.String, nullable=True),
    sa.Column("suggested_step_en", sa.String, nullable=True),
    sa.Column("change", sa.String, nullable=False),
    sa.Column("previous_rank_in_school", sa.Integer, nullable=True),
)
