"""A school's upload can be undone: its records are put back as they were before it.

A data officer who loads the wrong file (last year's class list under this term, another
room's register, an exits file of children who have not left) needs the school's
records as they were, not a second upload guessing what the first one changed. Before a
scoped upload writes (``schooldata.ingest``), the school's stored rows it may replace
(of the days or the terms it holds; the students whole) are kept, compressed, with the
load; undoing puts exactly those rows back, in one transaction, and works out the
school's returned and missing children again.

Only a school's latest upload can be undone, and only while nothing else has loaded
records of that school since: a later upload keeps its own rows instead (its undo brings
back the state after the first), and a load by the command line forgets what the
school's uploads kept (what it wrote would be lost). Records the service itself keeps
(visits and notes written on its pages, cases, scores) are never touched; an undo that
would remove a child for whom the service has recorded something since is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from core import clock
from schooldata.actions import keep_last_actions
from schooldata.contract import SOURCES
from schooldata.db import hold_lock
from schooldata.identity import settle_shared_ids, store_returns
from schooldata.missing import follow_new_keys, store_missing
from schooldata.tables import (
    APPEND_ONLY,
    ORIGIN_IMPORT,
    TABLES,
    load_snapshots,
    loads,
    support_cases,
)

CHUNK_ROWS = 5_000
_UNDO_LOCK = 0x45575355  # "EWSU": the key every undo of an upload waits on
SOURCE_KEYS = {source.name: source.key for source in SOURCES}


class CannotUndo(ValueError):
    """The school has no upload that can be undone; the message says why."""


@dataclass(frozen=True)
class LastLoad:
    """A school's latest upload, as the upload page offers to undo it."""

    load_id: int
    loaded_at: dt.datetime
    loaded_by: int | None
    summary: str
    undoable: bool


@dataclass(frozen=True)
class Undone:
    """What an undo put back: each table's rows of the part kept, before it and after."""

    load_id: int
    tables: dict[str, tuple[int, int]]


def keep_before(
    connection: sa.Connection,
    school: str,
    written: dict[str, list[pd.DataFrame]],
    by: int | None,
    summary: str,
) -> int:
    """Keep ``school``'s rows that an upload of these rows (by table) may replace, as they
    are before it writes them: of the days or terms the upload holds (a week's register
    keeps that week's days, not years of them), or the school's whole table when its key
    has neither (students).

    Only the school's newest upload keeps its rows (only it can be undone). Returns the
    load's id.
    """
    _forget(connection, [school])
    load_id = connection.execute(
        sa.insert(loads)
        .values(school_id=school, loaded_by=by, loaded_at=clock.utc_now(), summary=summary[:1000])
        .returning(loads.c.load_id)
    ).scalar_one()
    for name, frames in sorted(written.items()):
        part = _part(name, pd.concat(frames, ignore_index=True))
        rows = [dict(r._mapping) for r in connection.execute(_of_school(name, school, part))]
        connection.execute(
            sa.insert(load_snapshots).values(
                load_id=load_id,
                table_name=name,
                part=json.dumps(part),
                rows=_packed(rows),
                row_count=len(rows),
            )
        )
    return int(load_id)


def forget(connection: sa.Connection, schools: Iterable[str]) -> None:
    """A load not by upload (the command line) wrote these schools' records: what their
    uploads kept would undo it too, so it is let go."""
    _forget(connection, sorted(set(schools)))


def last_load(engine: sa.Engine, school: str) -> LastLoad | None:
    """The school's latest upload (None once undone), and whether it can still be undone."""
    with engine.connect() as connection:
        row = _latest(connection, school)
        if row is None:
            return None
        kept = connection.execute(
            sa.select(sa.func.count()).where(load_snapshots.c.load_id == row.load_id)
        ).scalar_one()
    return LastLoad(row.load_id, row.loaded_at, row.loaded_by, row.summary or "", kept > 0)


def undo(engine: sa.Engine, school: str, load_id: int, by: int | None) -> Undone:
    """Put ``school``'s records back as they were before upload ``load_id``.

    Raises:
        CannotUndo: the upload is not the school's latest, was undone already, a load
            since has written the school's records, or the service has recorded
            something about a child the undo would remove.
    """
    with engine.begin() as connection:
        # Two undos at once (a double click, two tabs) one after the other: both read the
        # upload as not undone, and the second put its rows back beside the first's (on
        # PostgreSQL a broken key, a 500).
        hold_lock(connection, _UNDO_LOCK)
        latest = _latest(connection, school)
        if latest is None or latest.load_id != load_id:
            done = connection.execute(
                sa.select(loads.c.undone_at).where(
                    (loads.c.load_id == load_id) & (loads.c.school_id == school)
                )
            ).scalar()
            if done is not None:
                raise CannotUndo("this upload was undone already")
            raise CannotUndo("only the school's latest upload can be undone, and only once")
        kept = {
            name: (json.loads(part), _unpacked(name, rows))
            for name, part, rows in connection.execute(
                sa.select(
                    load_snapshots.c.table_name, load_snapshots.c.part, load_snapshots.c.rows
                ).where(load_snapshots.c.load_id == load_id)
            )
        }
        if not kept:
            raise CannotUndo(
                "this upload cannot be undone: a load since (by the command line) wrote the "
                "school's records, or the service keeps them in a dataset; upload the right "
                "files instead"
            )
        persons = _persons(connection, school)
        if "students" in kept:
            _refuse_if_service_records(connection, school, kept["students"][1])
        counts = {}
        for name, (part, rows) in kept.items():
            table = TABLES[name]
            where = _where(name, school, part)
            now = connection.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
            connection.execute(sa.delete(table).where(*where))
            for start in range(0, len(rows), CHUNK_ROWS):
                connection.execute(sa.insert(table), rows[start : start + CHUNK_ROWS])
            counts[name] = (int(now), len(rows))
        # Students another load set apart by an ID this one brought are linked again.
        _, changed = settle_shared_ids(connection, [school])
        persons |= set(changed["person_id"]) | set(changed["now"])
        persons |= _persons(connection, school) | follow_new_keys(connection)
        store_returns(connection, persons)
        store_missing(connection, persons)
        if "interventions" in kept:
            keep_last_actions(connection, schools=[school])
        connection.execute(
            sa.update(loads)
            .where(loads.c.load_id == load_id)
            .values(undone_at=clock.utc_now(), undone_by=by)
        )
        connection.execute(sa.delete(load_snapshots).where(load_snapshots.c.load_id == load_id))
    return Undone(load_id, counts)


def _latest(connection: sa.Connection, school: str) -> Any:
    """The school's latest upload; None when there is none or it was undone (the one
    before it kept nothing: only the latest can be undone)."""
    row = connection.execute(
        sa.select(loads)
        .where(loads.c.school_id == school)
        .order_by(loads.c.load_id.desc())
        .limit(1)
    ).first()
    return None if row is None or row.undone_at is not None else row


def _forget(connection: sa.Connection, schools: list[str]) -> None:
    if not schools:
        return
    kept = sa.select(loads.c.load_id).where(loads.c.school_id.in_(schools))
    connection.execute(sa.delete(load_snapshots).where(load_snapshots.c.load_id.in_(kept)))


def _part(name: str, rows: pd.DataFrame) -> dict[str, Any]:
    """The part of a school's table that upserting ``rows`` can change: the span of the
    date in its key, the terms in its key, or (neither) all of it."""
    table = TABLES[name]
    key = SOURCE_KEYS[name]
    dated = [c for c in key if isinstance(table.c[c].type, sa.Date)]
    if dated and len(rows):
        days = pd.to_datetime(rows[dated[0]])
        return {
            "column": dated[0],
            "from": f"{days.min():%Y-%m-%d}",
            "to": f"{days.max():%Y-%m-%d}",
        }
    if {"academic_year", "term"} <= set(key) and len(rows):
        terms = rows[["academic_year", "term"]].drop_duplicates().astype(int)
        return {"terms": sorted(map(list, terms.itertuples(index=False, name=None)))}
    return {}


def _where(name: str, school: str, part: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
    table = TABLES[name]
    conditions: list[sa.ColumnElement[bool]] = [table.c.school_id == school]
    if name in APPEND_ONLY:  # the service's own records are never a load's
        conditions.append(table.c.origin == ORIGIN_IMPORT)
    if "column" in part:
        column = table.c[part["column"]]
        first, last = (dt.date.fromisoformat(part[k]) for k in ("from", "to"))
        conditions.append(column.between(first, last))
    if "terms" in part:
        conditions.append(
            sa.or_(
                *(
                    sa.and_(table.c.academic_year == year, table.c.term == term)
                    for year, term in part["terms"]
                )
            )
        )
    return conditions


def _of_school(name: str, school: str, part: dict[str, Any]) -> sa.Select[Any]:
    return sa.select(TABLES[name]).where(*_where(name, school, part))


def _persons(connection: sa.Connection, school: str) -> set[str]:
    students = TABLES["students"]
    return set(
        connection.execute(
            sa.select(students.c.person_id).where(students.c.school_id == school)
        ).scalars()
    )


def _refuse_if_service_records(
    connection: sa.Connection, school: str, kept_students: list[dict[str, Any]]
) -> None:
    """An undo removing a child the service has recorded something about since would
    leave those records pointing at nobody."""
    before = {r["student_id"] for r in kept_students}
    students = TABLES["students"]
    now = set(
        connection.execute(
            sa.select(students.c.student_id).where(students.c.school_id == school)
        ).scalars()
    )
    removed = sorted(now - before)
    if not removed:
        return
    interventions = TABLES["interventions"]
    for table, column in (
        (interventions, interventions.c.student_id),
        (support_cases, support_cases.c.student_id),
    ):
        chosen = sa.select(sa.func.count()).where(
            table.c.school_id == school, column.in_(removed[:5000])
        )
        if table is interventions:
            chosen = chosen.where(interventions.c.origin != ORIGIN_IMPORT)
        if connection.execute(chosen).scalar_one():
            raise CannotUndo(
                f"{len(removed)} children this upload added have visits or cases recorded "
                "since; undoing it would leave those records without their child"
            )


def _packed(rows: list[dict[str, Any]]) -> bytes:
    def plain(value: Any) -> Any:
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        return value

    text = json.dumps([{k: plain(v) for k, v in r.items()} for r in rows], ensure_ascii=False)
    return zlib.compress(text.encode("utf-8"), 6)


def _unpacked(name: str, packed: bytes) -> list[dict[str, Any]]:
    """Rows as the table's types take them (dates back from their ISO text)."""
    table = TABLES[name]
    parse = {
        c.name: (
            dt.datetime.fromisoformat if isinstance(c.type, sa.DateTime) else dt.date.fromisoformat
        )
        for c in table.c
        if isinstance(c.type, sa.Date | sa.DateTime)
    }
    rows = json.loads(zlib.decompress(packed).decode("utf-8"))
    for row in rows:
        for column, convert in parse.items():
            if row.get(column) is not None:
                row[column] = convert(row[column])
    return list(rows)
