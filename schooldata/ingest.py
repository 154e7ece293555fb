"""Load a data directory into the operational database.

Every file is read and validated before anything is written; then all good rows of all
accepted files are upserted on their natural keys in one transaction, so a load that dies
midway leaves the database as it was. Bad rows, and optional values blanked with a
warning, go to one rejects CSV per source.

A data directory holds one file per source, and may hold single schools' files in
``schools/<school_id>/`` (the Excel workbooks some schools keep). A load for one school's
data officer is *scoped*: rows that name another school or its students are rejected.
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

from schooldata.contract import CLASSROOM_GROUP, REQUIRED_SOURCES, SOURCES, Source
from schooldata.dataset import home_schools, write_dataset
from schooldata.db import upgrade
from schooldata.national_id import hash_national_id
from schooldata.spreadsheet import write_csv
from schooldata.tables import APPEND_ONLY, ORIGIN_IMPORT, TABLES, stored_column_name
from schooldata.validate import (
    BLANKED,
    REJECT_COLUMNS,
    REJECTED,
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
        if self.refused:
            return 0
        return int(self.rejects.loc[self.rejects["action"] == REJECTED, "line"].nunique())

    @property
    def values_blanked(self) -> int:
        """Optional values that were bad: blanked, reported, and their rows kept."""
        return 0 if self.refused else int((self.rejects["action"] == BLANKED).sum())


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
        """Rows rejected and values blanked, counted by source, column and reason."""
        frames = [
            s.rejects.assign(source=s.source, file=s.file) for s in self.sources if not s.refused
        ]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["source", "column", "reason", "action", "rows"])
        rejects = pd.concat(frames)
        counts = rejects.groupby(
            ["source", "column", "reason", "action"], as_index=False, dropna=False
        ).agg(rows=("line", "size"))
        return counts.sort_values("rows", ascending=False)


def ingest_directory(
    directory: Path,
    engine: sa.Engine,
    id_hash_key: str,
    rejects_dir: Path | None,
    on_progress: Callable[[str], None] = lambda _message: None,
    dataset: Path | None = None,
    schools: frozenset[str] | None = None,
    dry_run: bool = False,
) -> IngestReport:
    """Validate and load every source file found in ``directory``.

    Args:
        directory: a data directory following the data contract (single schools' files
            may sit in ``schools/<school_id>/``).
        engine: the operational database (migrated here if needed).
        id_hash_key: key of the national-ID hash.
        rejects_dir: where one rejects CSV per source is written (None: not written).
        on_progress: called with a short message as each step starts.
        dataset: also append every accepted record to this Parquet dataset (partitioned by
            home school); the database then takes only the sources the service itself
            reads (``DATABASE_SOURCES``), not years of daily records.
        schools: a load for these schools only (an upload by a school's data officer):
            rows naming any other school, or a student of one, are rejected.
        dry_run: validate and report, write nothing (the upload page's preview).

    Returns:
        The per-file report; ``exit_code`` is 2 when any file was refused whole.
    """
    started = time.perf_counter()
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory {directory} does not exist")
    upgrade(engine)
    known = _Known.read(engine, schools)

    reports: list[SourceReport] = []
    accepted: list[tuple[Source, pd.DataFrame]] = []
    folders = [directory, *_school_folders(directory)]
    for source in SOURCES:
        paths = [p for p in (find_source_file(folder, source) for folder in folders) if p]
        if not paths:
            if source.name in REQUIRED_SOURCES and not _has_rows(engine, source.name):
                reports.append(
                    SourceReport(
                        source.name, f"{source.name}.csv", refused="required file is missing"
                    )
                )
            continue
        for path in paths:
            shown = str(path.relative_to(directory))
            on_progress(f"reading {shown}")
            report = SourceReport(source.name, shown)
            reports.append(report)
            try:
                raw, lines = read_raw(path, source)
            except FileRefused as refusal:
                report.refused = refusal.reason
                report.rejects = pd.DataFrame(
                    [
                        {
                            "file": shown,
                            "line": "",
                            "column": "",
                            "value": "",
                            "reason": refusal.reason,
                            "action": REJECTED,
                        }
                    ]
                )
                continue
            parsed = parse_source(raw, lines, source, shown)
            rows, reference_rejects = _check_references(parsed, known)
            report.rows_read = parsed.rows_read
            report.rejects = (
                pd.concat([parsed.rejects, reference_rejects], ignore_index=True)
                .sort_values(["line", "column"], kind="stable")
                .reset_index(drop=True)
            )
            report.rows_loaded = len(rows)
            if source.name == "students":
                known.add_students(rows)
                rows = _hash_ids(rows, source, id_hash_key)
            if source.name == "schools":
                known.schools |= set(rows["school_id"])
            if source.name == "enrollments":
                rows = _group_by_classroom(rows)
            accepted.append((source, rows))

    write_started = time.perf_counter()
    if not dry_run:
        if dataset is not None:
            on_progress("writing to the dataset")
            frames = {
                name: pd.concat([r for s, r in accepted if s.name == name], ignore_index=True)
                for name in dict.fromkeys(s.name for s, _ in accepted)
            }
            write_dataset(frames, dataset, home_schools(dataset, frames.get("students")))
            accepted = [(s, rows) for s, rows in accepted if s.name in DATABASE_SOURCES]
        on_progress("writing to the database")
        with engine.begin() as connection:
            for source, rows in accepted:
                _upsert(connection, source, rows)
    write_seconds = time.perf_counter() - write_started

    if rejects_dir is not None:
        _write_rejects(reports, rejects_dir)
    return IngestReport(reports, time.perf_counter() - started, write_seconds)


def _school_folders(directory: Path) -> list[Path]:
    """Single schools' folders (``schools/<school_id>/``), in name order."""
    folder = directory / "schools"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _group_by_classroom(rows: pd.DataFrame) -> pd.DataFrame:
    """Students whose enrolment names no advisor are listed under their classroom.

    A DMC enrolment export has no advisor column; its students get the advisor code
    ``class:GRADE/ROOM``, which an admin gives to the classroom's advisor account.
    """
    missing = rows["advisor_id"].isna()
    if not missing.any():
        return rows
    room = rows["classroom"].fillna("").astype(str)
    room = room.str.split("/").str[-1].where(room != "", "-")
    group = CLASSROOM_GROUP + rows["grade_level"].astype(str) + "/" + room
    return rows.assign(advisor_id=rows["advisor_id"].where(~missing, group))


@dataclass
class _Known:
    """Students and schools known so far; with a scope, which of them belong to it."""

    students: set[str]
    schools: set[str]
    scope: frozenset[str] | None = None
    in_scope: set[str] = field(default_factory=set)  # students of the scope's schools

    @classmethod
    def read(cls, engine: sa.Engine, scope: frozenset[str] | None) -> _Known:
        known = cls(
            _existing_ids(engine, "students", "student_id"),
            _existing_ids(engine, "schools", "school_id"),
            scope,
        )
        if scope is not None:
            students, enrollments = TABLES["students"], TABLES["enrollments"]
            with engine.connect() as connection:
                known.in_scope = set(
                    connection.execute(
                        sa.select(students.c.student_id).where(students.c.school_id.in_(scope))
                    ).scalars()
                ) | set(
                    connection.execute(
                        sa.select(enrollments.c.student_id).where(
                            enrollments.c.school_id.in_(scope)
                        )
                    ).scalars()
                )
        return known

    def add_students(self, rows: pd.DataFrame) -> None:
        self.students |= set(rows["student_id"])
        if self.scope is not None:
            self.in_scope |= set(rows["student_id"])


def _existing_ids(engine: sa.Engine, table: str, column: str) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(TABLES[table].c[column])).scalars())


def _has_rows(engine: sa.Engine, table: str) -> bool:
    with engine.connect() as connection:
        return (
            connection.execute(sa.select(sa.func.count()).select_from(TABLES[table])).scalar_one()
            > 0
        )


def _check_references(parsed: ParsedSource, known: _Known) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reject good rows that name a student or school nobody has loaded, or, in a load
    scoped to some schools, another school or a student of one.

    School references are checked only once any school is known: a data directory with
    only the required sources has no schools file to check against.
    """
    rows = parsed.rows
    source = parsed.source
    unknown = np.zeros(len(rows), dtype=bool)
    parts = []
    checks: list[tuple[str, pd.Series, str]] = []
    if source.student_ref:
        values = rows[source.student_ref]
        checks.append((source.student_ref, ~values.isin(known.students), "unknown student"))
        if known.scope is not None:
            other = ~values.isin(known.in_scope)
            checks.append((source.student_ref, other, "a student of another school"))
    school_columns = [*source.school_refs, *(("school_id",) if source.name == "schools" else ())]
    for column in school_columns:
        values = rows[column]
        if known.schools and source.name != "schools":
            checks.append((column, values.notna() & ~values.isin(known.schools), "unknown school"))
        if known.scope is not None:
            outside = ~values.isin(known.scope)
            checks.append(
                (
                    column,
                    outside,
                    "another school's row: this load is for " + ", ".join(sorted(known.scope)),
                )
            )
    if source.name == "students" and known.scope is not None:
        # A student already at another school stays that school's.
        elsewhere = rows["student_id"].isin(known.students) & ~rows["student_id"].isin(
            known.in_scope
        )
        checks.append(("student_id", elsewhere, "a student of another school"))
    for column, failing, reason in checks:
        missing_np = failing.to_numpy(dtype=bool) & ~unknown
        if missing_np.any():
            parts.append(
                pd.DataFrame(
                    {
                        "file": parsed.file,
                        "line": parsed.lines[missing_np],
                        "column": column,
                        "value": rows[column][missing_np].astype(str).to_numpy(),
                        "reason": reason,
                        "action": REJECTED,
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
    for source in dict.fromkeys(r.source for r in reports):
        rejects = pd.concat(
            [r.rejects.reindex(columns=REJECT_COLUMNS) for r in reports if r.source == source],
            ignore_index=True,
        )
        # The values come from the school's file: escaped so that none runs in Excel.
        write_csv(rejects, rejects_dir / f"{source}.csv")
