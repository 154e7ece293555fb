"""Load a data directory into the operational database.

Every file is read and validated before anything is written; then all good rows of all
accepted files are upserted on their natural keys in one transaction, so a load that dies
midway leaves the database as it was. Bad rows go to one rejects CSV per source.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from schooldata.contract import REQUIRED_SOURCES, SOURCES, Source
from schooldata.dataset import home_schools, write_dataset
from schooldata.db import upgrade
from schooldata.national_id import hash_national_id
from schooldata.spreadsheet import write_csv
from schooldata.tables import APPEND_ONLY, ORIGIN_IMPORT, TABLES, stored_column_name
from schooldata.validate import (
    REJECT_COLUMNS,
    FileRefused,
    ParsedSource,
    find_source_file,
    parse_source,
    read_raw,
)

CHUNK_ROWS = 50_000
# With a Parquet dataset, the database keeps what the service's pages and accounts read.
DATABASE_SOURCES = ("schools", "calendar", "students", "enrollments", "exits", "interventions")


@dataclass
class SourceReport:
    """What happened to one source file."""

    source: str
    file: str
    rows_read: int = 0
    rows_loaded: int = 0
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    refused: str | None = None

    @property
    def rows_rejected(self) -> int:
        return 0 if self.refused else int(self.rejects["line"].nunique())


@dataclass
class IngestReport:
    """The outcome of one load."""

    sources: list[SourceReport]
    seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def refused(self) -> list[SourceReport]:
        return [s for s in self.sources if s.refused]

    @property
    def exit_code(self) -> int:
        return 2 if self.refused else 0

    def rejects_by_reason(self) -> pd.DataFrame:
        frames = [s.rejects.assign(source=s.source) for s in self.sources if not s.refused]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["source", "column", "reason", "rows"])
        rejects = pd.concat(frames)
        counts = rejects.groupby(["source", "column", "reason"], as_index=False).agg(
            rows=("line", "nunique")
        )
        return counts.sort_values("rows", ascending=False)


def ingest_directory(
    directory: Path,
    engine: sa.Engine,
    id_hash_key: str,
    rejects_dir: Path,
    on_progress: Callable[[str], None] = lambda _message: None,
    dataset: Path | None = None,
) -> IngestReport:
    """Validate and load every source file found in ``directory``.

    Args:
        directory: a data directory following the data contract.
        engine: the operational database (migrated here if needed).
        id_hash_key: key of the national-ID hash.
        rejects_dir: where one rejects CSV per source is written.
        on_progress: called with a short message as each step starts.
        dataset: also append every accepted record to this Parquet dataset (partitioned by
            home school); the database then takes only the sources the service itself
            reads (``DATABASE_SOURCES``), not years of daily records.

    Returns:
        The per-source report; ``exit_code`` is 2 when any file was refused whole.
    """
    started = time.perf_counter()
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory {directory} does not exist")
    upgrade(engine)
    known_students = _existing_ids(engine, "students", "student_id")
    known_schools = _existing_ids(engine, "schools", "school_id")

    reports: list[SourceReport] = []
    accepted: list[tuple[Source, pd.DataFrame]] = []
    for source in SOURCES:
        path = find_source_file(directory, source)
        if path is None:
            if source.name in REQUIRED_SOURCES and not _has_rows(engine, source.name):
                reports.append(
                    SourceReport(
                        source.name, f"{source.name}.csv", refused="required file is missing"
                    )
                )
            continue
        on_progress(f"reading {path.name}")
        report = SourceReport(source.name, path.name)
        reports.append(report)
        try:
            raw, lines = read_raw(path, source)
        except FileRefused as refusal:
            report.refused = refusal.reason
            report.rejects = pd.DataFrame(
                [
                    {
                        "file": path.name,
                        "line": "",
                        "column": "",
                        "value": "",
                        "reason": refusal.reason,
                    }
                ]
            )
            continue
        parsed = parse_source(raw, lines, source, path.name)
        rows, reference_rejects = _check_references(parsed, known_students, known_schools)
        report.rows_read = parsed.rows_read
        report.rejects = (
            pd.concat([parsed.rejects, reference_rejects], ignore_index=True)
            .sort_values(["line", "column"], kind="stable")
            .reset_index(drop=True)
        )
        report.rows_loaded = len(rows)
        if source.name == "students":
            known_students |= set(rows["student_id"])
            rows = _hash_ids(rows, source, id_hash_key)
        if source.name == "schools":
            known_schools |= set(rows["school_id"])
        accepted.append((source, rows))

    write_started = time.perf_counter()
    if dataset is not None:
        on_progress("writing to the dataset")
        frames = {source.name: rows for source, rows in accepted}
        write_dataset(frames, dataset, home_schools(dataset, frames.get("students")))
        accepted = [(s, rows) for s, rows in accepted if s.name in DATABASE_SOURCES]
    on_progress("writing to the database")
    with engine.begin() as connection:
        for source, rows in accepted:
            _upsert(connection, source, rows)
    write_seconds = time.perf_counter() - write_started

    _write_rejects(reports, rejects_dir)
    return IngestReport(reports, time.perf_counter() - started, write_seconds)


def _existing_ids(engine: sa.Engine, table: str, column: str) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(TABLES[table].c[column])).scalars())


def _has_rows(engine: sa.Engine, table: str) -> bool:
    with engine.connect() as connection:
        return (
            connection.execute(sa.select(sa.func.count()).select_from(TABLES[table])).scalar_one()
            > 0
        )


def _check_references(
    parsed: ParsedSource, known_students: set[str], known_schools: set[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reject good rows that name a student or school nobody has loaded.

    School references are checked only once any school is known: a data directory with
    only the required sources has no schools file to check against.
    """
    rows = parsed.rows
    source = parsed.source
    unknown = np.zeros(len(rows), dtype=bool)
    parts = []
    checks: list[tuple[str, set[str], str]] = []
    if source.student_ref:
        checks.append((source.student_ref, known_students, "unknown student"))
    if known_schools:
        checks += [(c, known_schools, "unknown school") for c in source.school_refs]
    for column, known, reason in checks:
        values = rows[column]
        missing = values.notna() & ~values.isin(known) & ~unknown
        missing_np = missing.to_numpy(dtype=bool)
        if missing_np.any():
            parts.append(
                pd.DataFrame(
                    {
                        "file": parsed.file,
                        "line": parsed.lines[missing_np],
                        "column": column,
                        "value": values[missing_np].astype(str).to_numpy(),
                        "reason": reason,
                    }
                )
            )
        unknown |= missing_np
    rejects = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REJECT_COLUMNS)
    return rows.loc[~unknown].reset_index(drop=True), rejects


def _hash_ids(rows: pd.DataFrame, source: Source, key: str) -> pd.DataFrame:
    hashed = rows["national_id"].map(
        lambda v: hash_national_id(v, key) if isinstance(v, str) else None
    )
    return rows.drop(columns=["national_id"]).assign(national_id_hash=hashed)


def _driver_values(
    rows: pd.DataFrame, table: sa.Table, dialect: str, names: list[str]
) -> list[np.ndarray]:
    """Each named column as driver-ready Python values (None for missing)."""
    columns = []
    for column in (table.c[name] for name in names):
        values = rows[column.name]
        if isinstance(column.type, sa.Date):
            # SQLite stores dates as ISO text, exactly as SQLAlchemy's Date type does.
            text = values.dt.strftime("%Y-%m-%d") if dialect == "sqlite" else values.dt.date
            out = text.astype(object).where(values.notna(), None).to_numpy()
        elif isinstance(column.type, sa.Integer | sa.Boolean):
            kind = int if isinstance(column.type, sa.Integer) else bool
            out = np.array(
                [None if pd.isna(v) else kind(v) for v in values.astype(object)], dtype=object
            )
        else:
            out = values.astype(object).where(values.notna(), None).to_numpy()
        columns.append(out)
    return columns


def _upsert(connection: sa.Connection, source: Source, rows: pd.DataFrame) -> None:
    """Insert or update rows on the source's natural key.

    The statement is compiled once and rows go to the driver's ``executemany`` as plain
    tuples: per-row statement compilation would cost more than the database write.
    """
    if rows.empty:
        return
    table = TABLES[source.name]
    if source.name == "calendar":
        rows = rows.assign(school_id=rows["school_id"].fillna(""))
    rows = rows.rename(
        columns={c: stored_column_name(source, c) for c in source.column_names if c in rows}
    )
    dialect = connection.dialect.name
    key = list(source.key)
    names = [c.name for c in table.c if c.name in rows.columns]
    where: sa.TextClause | None = None
    if source.name in APPEND_ONLY:
        # A school's file is upserted on its natural key among imported records only;
        # the service's own records are never touched by a load.
        rows = rows.assign(origin=ORIGIN_IMPORT)
        names.append("origin")
        where = sa.text(f"origin = '{ORIGIN_IMPORT}'")  # a constant, compiled inline
    statement: sqlite.Insert | postgresql.Insert
    if dialect == "sqlite":
        statement = sqlite.insert(table)
    elif dialect == "postgresql":
        statement = postgresql.insert(table)
    else:
        raise RuntimeError(f"upsert is not implemented for the {dialect} dialect")
    statement = statement.values({name: sa.bindparam(name) for name in names})
    updates = {name: statement.excluded[name] for name in names if name not in key}
    compiled = statement.on_conflict_do_update(
        index_elements=key, index_where=where, set_=updates
    ).compile(dialect=connection.dialect)
    columns = dict(zip(names, _driver_values(rows, table, dialect, names), strict=True))
    for start in range(0, len(rows), CHUNK_ROWS):
        block = {name: values[start : start + CHUNK_ROWS] for name, values in columns.items()}
        if compiled.positional:
            order = compiled.positiontup or []
            params: list[Any] = list(zip(*(block[name] for name in order), strict=True))
        else:
            params = [
                dict(zip(block, values, strict=True))
                for values in zip(*block.values(), strict=True)
            ]
        connection.exec_driver_sql(compiled.string, params)


def _write_rejects(reports: list[SourceReport], rejects_dir: Path) -> None:
    rejects_dir.mkdir(parents=True, exist_ok=True)
    for report in reports:
        # The values come from the school's file: escaped so that none runs in Excel.
        write_csv(report.rejects[REJECT_COLUMNS], rejects_dir / f"{report.source}.csv")
