"""The operational database: engine, migrations, and typed reads of the contract tables.

The schema is managed by Alembic (``schooldata/migrations``); ``upgrade`` brings any
database (SQLite file or PostgreSQL URL) to the current revision.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from schooldata.tables import TABLES

if TYPE_CHECKING:
    from alembic.config import Config

INSERT_BATCH = 5000  # rows a statement when the database has no bulk path

ID_CHUNK = 5000
SQLITE_PAGE_SIZE = 16_384


def make_engine(url: str) -> sa.Engine:
    """Create an engine; a SQLite file's folder is created when missing."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # Parameters (student ids) never appear in an error message or a log. A server's
    # connection is tested as it leaves the pool (a round trip, under a millisecond):
    # a restart, failover or idle timeout of the database ends every pooled connection,
    # and without the test the next request on each one failed.
    engine = sa.create_engine(url, hide_parameters=True, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # Only a new, empty database takes it. A stored score (about 2 KB of
            # contributions and reasons) takes a 4 KB page of its own, half of it empty;
            # 16 KB pages hold seven (docs/design.md, storage details).
            cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")  # a committed write survives a power cut
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def reading(engine: sa.Engine) -> sa.Connection:
    """A connection for reads only (``with reading(engine) as connection:``).

    On PostgreSQL it runs without a transaction: each statement sees what was committed
    when it began, as it would in a READ COMMITTED transaction, without the BEGIN and
    ROLLBACK round trips; and psycopg keeps its prepared statements, which it discards on
    every ROLLBACK (so a page's statements were planned again on every request). Writes
    take ``engine.begin()``.
    """
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def among(
    connection: sa.Connection, column: sa.ColumnElement[Any], values: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """``column IN values``. On PostgreSQL one array parameter, unnested
    (``IN (SELECT unnest(...))``): the statement is the same whatever the number of
    values, so it is compiled and prepared once, not rebuilt with a parameter per value
    on every request (a list page asks about 200)."""
    return _among(connection.dialect.name, column, None, list(values))


def among_parameter(
    dialect: str, column: sa.ColumnElement[Any], name: str
) -> sa.ColumnElement[bool]:
    """``among`` with the values given when the statement runs (``{name: [...]}``), so
    that a statement every request asks is built once, not on every call."""
    return _among(dialect, column, name, None)


def _among(
    dialect: str, column: sa.ColumnElement[Any], name: str | None, values: list[Any] | None
) -> sa.ColumnElement[bool]:
    required = values is None  # a named parameter must be given when the statement runs
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        if isinstance(column.type, sa.String):
            # One text parameter cast to an array: psycopg's list dumper would format each
            # of a list's ids in Python, which costs more than the query.
            text = sa.bindparam(name, values, type_=_TextArray(), required=required)
            array: sa.ColumnElement[Any] = sa.cast(text, ARRAY(column.type))
        else:
            array = sa.bindparam(name, values, type_=ARRAY(column.type), required=required)
        # ``IN (SELECT unnest(...))``, not ``= ANY(...)``: the cast of the text to an array
        # is not folded into a constant, so a plan that scans the table would parse the
        # whole array again for every row; as a join it is parsed once.
        return column.in_(sa.select(sa.func.unnest(array)))
    return column.in_(sa.bindparam(name, values, expanding=True, required=required))


def among_students(
    connection: sa.Connection,
    school: sa.ColumnElement[str],
    code: sa.ColumnElement[str],
    keys: Iterable[tuple[str, str]],
) -> sa.ColumnElement[bool]:
    """``(school, code) IN keys``: the rows about these students, each a school and its
    own code. Not a school ``IN`` and a code ``IN`` apart: the database cannot look pairs
    up in a table's (school, code) index from two lists, and on PostgreSQL it read the
    whole table instead (a list's last help: 60 ms among 500,000 records, against 1)."""
    return _among_students(connection.dialect.name, school, code, _pairs(keys))


def among_students_parameter(
    dialect: str, school: sa.ColumnElement[str], code: sa.ColumnElement[str]
) -> sa.ColumnElement[bool]:
    """``among_students`` with the keys given when the statement runs (the parameters
    ``students_parameters`` makes), for a statement built once."""
    return _among_students(dialect, school, code, None)


def students_parameters(dialect: str, keys: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The parameters of a statement built with ``among_students_parameter``."""
    pairs = _pairs(keys)
    if dialect == "postgresql":
        return {"key_schools": [s for s, _ in pairs], "key_codes": [c for _, c in pairs]}
    return {"keys": json.dumps(pairs, ensure_ascii=False)}


def _pairs(keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted({(str(school), str(code)) for school, code in keys})


def _among_students(
    dialect: str,
    school: sa.ColumnElement[str],
    code: sa.ColumnElement[str],
    pairs: list[tuple[str, str]] | None,
) -> sa.ColumnElement[bool]:
    required = pairs is None
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        arrays = [
            sa.cast(
                sa.bindparam(
                    name,
                    None if pairs is None else [p[i] for p in pairs],
                    type_=_TextArray(),
                    required=required,
                ),
                ARRAY(sa.String),
            )
            for i, name in enumerate(("key_schools", "key_codes"))
        ]
        # Two arrays unnested side by side: the pairs, in one statement whatever their number.
        return sa.tuple_(school, code).in_(sa.select(*(sa.func.unnest(a) for a in arrays)))
    # SQLite: the pairs as one JSON text, read by json_each, as PostgreSQL's arrays: one
    # statement whatever their number, never near a build's limit of variables (32,766
    # by default; two a student).
    text: sa.BindParameter[str] = sa.bindparam(
        "keys", None if pairs is None else json.dumps(pairs, ensure_ascii=False), required=required
    )
    each = sa.func.json_each(text).table_valued("value")
    return sa.tuple_(school, code).in_(
        sa.select(
            sa.func.json_extract(each.c.value, "$[0]"), sa.func.json_extract(each.c.value, "$[1]")
        )
    )


class _TextArray(sa.types.TypeDecorator[Sequence[str]]):
    """A list of strings sent as PostgreSQL's array literal (``array_literal``)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Sequence[str] | None, dialect: Any) -> str | None:
        return None if value is None else array_literal(value)


def array_literal(values: Sequence[str]) -> str:
    """``{"a","b"}``: every element quoted, a backslash or a double quote escaped by a
    backslash (PostgreSQL's array input syntax), so no value is read as NULL or split."""
    return "{" + ",".join('"' + _ARRAY_ESCAPE.sub(r"\\\g<0>", v) + '"' for v in values) + "}"


_ARRAY_ESCAPE = re.compile(r'["\\]')


def insert_rows(connection: sa.Connection, table: sa.Table, records: list[dict[str, Any]]) -> None:
    """Append rows inside the caller's transaction (see ``insert_columns``). Every record
    has the same keys."""
    if records:
        names = list(records[0])
        insert_columns(connection, table, names, [tuple(r[n] for n in names) for r in records])


def insert_columns(
    connection: sa.Connection, table: sa.Table, names: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """Append rows of plain values, one per column in ``names``, inside the caller's
    transaction: PostgreSQL's bulk path (``COPY``), else batched inserts."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        from psycopg import sql

        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        driver = connection.connection.driver_connection
        assert driver is not None  # an open connection inside the caller's transaction
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            # In pieces: psycopg sends one while the next is formatted.
            for start in range(0, len(rows), COPY_PIECE):
                piece = rows[start : start + COPY_PIECE]
                text = copy_text(piece)
                if text is not None:
                    copy.write(text)
                else:
                    for row in piece:
                        copy.write_row(row)
        return
    if connection.dialect.name == "sqlite":
        # Plain tuples straight to the driver's executemany: SQLAlchemy's per-row
        # parameter handling costs more than SQLite's insert (errors are still wrapped).
        compiled = sa.insert(table).compile(dialect=connection.dialect, column_keys=names)
        order = [names.index(c) for c in compiled.positiontup or []]  # its ``?`` parameters
        if order != list(range(len(names))):
            rows = [tuple(row[i] for i in order) for row in rows]
        for start in range(0, len(rows), INSERT_BATCH):
            connection.exec_driver_sql(str(compiled), rows[start : start + INSERT_BATCH])
        return
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        connection.execute(sa.insert(table), [dict(zip(names, row, strict=True)) for row in batch])


COPY_PIECE = 1000  # rows formatted and written to COPY at a time


def hold_lock(connection: sa.Connection, key: int) -> None:
    """Wait until this transaction alone holds ``key`` among the writers that take it,
    and hold it to the transaction's end: so that two of them read, then write, one
    after the other. PostgreSQL: an advisory lock (LOCK TABLE needs rights the
    application's role lacks). SQLite: the database's write lock (``BEGIN IMMEDIATE``),
    unless this transaction has written already and so holds it (the sqlite3 driver
    opens a transaction at the first write, not at a read)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
    elif connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def keyed_insert(connection: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT into ``table``, which can say what becomes of a row whose key
    the table holds already (``on_conflict_do_nothing``, ``on_conflict_do_update``)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"an insert by key is not implemented for the {dialect} dialect")


def copy_text(rows: list[tuple[Any, ...]]) -> str | None:
    """Rows in ``COPY``'s text format, formatted column by column: psycopg's ``write_row``
    formats value by value in Python, most of appending a list's 200 audit rows. None
    when a column holds values of other than one plain type (str, int, float, date,
    datetime without a time zone) and None: psycopg formats those rows instead.
    """
    columns = []
    for values in zip(*rows, strict=True):
        text = _column_text(values)
        if text is None:
            return None
        columns.append(text)
    return "".join(["\t".join(fields) + "\n" for fields in zip(*columns, strict=True)])


def _column_text(values: tuple[Any, ...]) -> list[str] | None:
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) > 1:
        return None
    kind = kinds.pop() if kinds else str
    if kind is str:
        return [
            _NULL if v is None else (v.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(v) else v)
            for v in values
        ]
    if kind is int:
        return [_NULL if v is None else int.__repr__(v) for v in values]
    if kind is float:
        return [_NULL if v is None else _float_text(v) for v in values]
    if kind is date:
        return [_NULL if v is None else v.isoformat() for v in values]
    if kind is datetime and all(v is None or v.tzinfo is None for v in values):
        return [_NULL if v is None else v.isoformat(" ") for v in values]
    return None


# COPY's text format: a backslash, tab, newline or carriage return in a value is escaped.
_NULL = "\\N"
_COPY_SPECIAL = re.compile("[\\\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _float_text(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def alembic_config(engine: sa.Engine) -> Config:
    # Imported here: the weekly run's workers read and score but never migrate.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


# Alembic runs a migration through module-level proxies (``alembic.context``, ``op``),
# which one thread's run removes under another's: two requests of a server that migrate
# at once (an admin's page and an upload's confirm) failed with KeyError 'config'.
_MIGRATING = threading.Lock()
_MIGRATION_LOCK = 0x4557534D  # "EWSM": the key every process migrating waits on


def upgrade(engine: sa.Engine) -> None:
    """Bring the database schema to the newest migration: one thread of a process at a
    time (Alembic's module-level proxies are not thread-safe), and one process at a time
    (``ews serve --workers`` starts each worker's at once after an update: on SQLite the
    second made a table the first had just made, and its worker stopped the server)."""
    from alembic import command

    config = alembic_config(engine)
    with _MIGRATING, engine.begin() as connection:
        hold_lock(connection, _MIGRATION_LOCK)  # before Alembic reads where the schema is
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def read_table(
    engine: sa.Engine,
    name: str,
    *,
    columns: Sequence[str] | None = None,
    student_ids: Sequence[str] | None = None,
    students: pd.DataFrame | None = None,
    since: tuple[str, date] | None = None,
    until: tuple[str, date] | None = None,
) -> pd.DataFrame:
    """Read a contract table as typed columns (dates as ``datetime64``).

    Args:
        engine: the operational database.
        name: source name, e.g. ``"attendance"``.
        columns: columns to read (all by default).
        student_ids: restrict to the students with these codes, at any school.
        students: instead, restrict to these schools' students (``school_id``,
            ``student_id``), asked school by school: the first columns of every table's
            key, so the database goes to them by its index. By codes alone it reads every
            school's students of the same codes, and on SQLite the whole table to find them.
        since: (date column, first date) to read only records dated from then on.
        until: (date column, first date not read) to read only records dated before it.

    Returns:
        One row per stored record; an empty frame with the columns when there is none.
    """
    table = TABLES[name]
    chosen = [table.c[c] for c in columns] if columns else list(table.c)
    # Dates as the driver gives them (ISO text on SQLite), converted a column at a time
    # by ``typed_frame`` rather than a value at a time by SQLAlchemy.
    selected = [
        sa.type_coerce(c, sa.String).label(c.name) if isinstance(c.type, sa.Date) else c
        for c in chosen
    ]
    query = sa.select(*selected)
    if since is not None:
        query = query.where(table.c[since[0]] >= since[1])
    if until is not None:
        query = query.where(table.c[until[0]] < until[1])
    asked: list[tuple[Any, list[str]]] | None = None  # (a condition, the codes under it)
    if students is not None and "student_id" in table.c:
        key = students[["school_id", "student_id"]].astype(str).drop_duplicates()
        # No students: one query that finds nothing, for the columns' types.
        asked = [
            (table.c.school_id == school, sorted(codes))
            for school, codes in key.groupby("school_id")["student_id"]
        ] or [(sa.true(), [])]
    elif student_ids is not None and "student_id" in table.c:
        asked = [(sa.true(), list(student_ids))]
    if asked is not None:
        parts = []
        with engine.connect() as connection:
            for condition, codes in asked:
                # SQLite caps bound parameters: ask in chunks.
                for start in range(0, max(len(codes), 1), ID_CHUNK):
                    chunk = codes[start : start + ID_CHUNK]
                    parts.append(
                        _frame(connection, query.where(condition, table.c.student_id.in_(chunk)))
                    )
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    else:
        with engine.connect() as connection:
            frame = _frame(connection, query)
    return typed_frame(frame, table)


def _frame(connection: sa.Connection, query: sa.Select[Any]) -> pd.DataFrame:
    """A query's rows as a frame, run through SQLAlchemy (its errors, its logging) and
    fetched from the driver's cursor: a million attendance days cost half as much
    without a SQLAlchemy row object each (on SQLite and on PostgreSQL)."""
    result = connection.execute(query)
    try:
        names = [d[0] for d in result.cursor.description]
        return pd.DataFrame.from_records(result.cursor.fetchall(), columns=names)
    finally:
        result.close()


def typed_frame(frame: pd.DataFrame, table: sa.Table) -> pd.DataFrame:
    """Columns as a read from the database gives them, whatever the frame came from.

    Dates become ``datetime64[s]``, booleans nullable ``boolean``, integers ``int64`` (or
    ``float64`` with a gap, as the driver gives), floats ``float64`` and text ``str`` (or
    categories of text, kept as they are); a Parquet dataset read this way gives the same
    features as the database.
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
        elif not isinstance(values.dtype, pd.CategoricalDtype):  # categories of text stay
            frame[column.name] = values.astype("str")
    return frame
