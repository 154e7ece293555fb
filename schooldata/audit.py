"""The audit log: an append-only chain of who did what to which child's record.

Each row stores the hash of the row before it and its own hash over both, so a row
edited, deleted or forged in the middle breaks the chain from there on
(``ews audit verify``). The database refuses updates and deletes (a trigger), and on
PostgreSQL truncation too; the application's role can only insert and read
(``docs/postgres-roles.md``). Rows of one request are appended in the same
transaction as the write they record.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from core import clock
from schooldata.db import hold_lock, insert_rows, keyed_insert, reading
from schooldata.tables import audit_log, lists_opened, users

GENESIS = "0" * 64
FIELDS = ("at", "user_id", "actor", "action", "student_id", "endpoint", "detail")
# The routes that show a list: a person reading one of a school's on a day has opened its
# list that day (``lists_opened``, the area office's actions page).
LIST_ROUTES = ("GET /list", "GET /api/v1/risk-list")


@dataclass(frozen=True)
class Entry:
    """One thing to record (``at`` is set when it is appended)."""

    action: str  # read, write, denied, export, download, sign_in, sign_in_failed, ...
    endpoint: str  # the route template or command, never a path with an id in it
    user_id: int | None = None
    student_id: str | None = None
    actor: str | None = None
    detail: str | None = None
    school_id: str | None = None  # the school whose code student_id is


_CHAIN_LOCK = 0x45575341  # "EWSA": the key every chain writer waits on


def row_hash(previous: str, row: dict[str, Any]) -> str:
    """The hash of a row over the previous row's hash and the row's own fields.

    The text hashed is ``json.dumps`` of the fields with sorted keys, not ASCII-escaped
    (the chain's format since migration 0004); it is written here field by field, the
    same text at a fifth of the cost (a list of 200 students appends 200 rows). The
    student's school (since migration 0011) is a field of the rows that name one: the
    rows written before hash as they did.
    """
    keys = _SORTED_WITH_SCHOOL if row.get("school_id") is not None else _SORTED
    text = "".join((previous, "{", ", ".join([_field(k, row.get(k)) for k in keys]), "}"))
    return hashlib.sha256(text.encode()).hexdigest()


# The time, user, action and route repeat within a list: each is written once.
@functools.lru_cache(maxsize=4096, typed=True)
def _field(key: str, value: Any) -> str:
    return f'"{key}": {_json(_plain(value))}'


_SORTED = sorted(FIELDS)  # the keys as ``json.dumps(..., sort_keys=True)`` orders them
_SORTED_WITH_SCHOOL = sorted((*FIELDS, "school_id"))
_string = json.encoder.encode_basestring  # json.dumps's own string encoder (ensure_ascii off)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(microsecond=0).isoformat()
    return value


def _json(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)``."""
    if value is None:
        return "null"
    if type(value) is str:
        return _string(value)
    if type(value) is int:
        return int.__repr__(value)
    return json.dumps(value, ensure_ascii=False)


def append(connection: sa.Connection, entries: Sequence[Entry]) -> None:
    """Append entries to the chain inside the caller's transaction."""
    if not entries:
        return
    _hold_the_chain(connection)
    previous = connection.execute(_LAST_HASH).scalar() or GENESIS
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    rows = []
    for entry in entries:
        row = {
            "at": now,
            "user_id": entry.user_id,
            "actor": entry.actor,
            "action": entry.action,
            "student_id": entry.student_id,
            "school_id": entry.school_id,
            "endpoint": entry.endpoint,
            "detail": entry.detail,
        }
        current = row_hash(previous, row)
        rows.append(row | {"prev_hash": previous, "row_hash": current})
        previous = current
    insert_rows(connection, audit_log, rows)  # PostgreSQL: COPY (a list is 200 rows)
    note_lists_opened(
        connection,
        {
            (e.school_id, clock.day_of(now), e.user_id)
            for e in entries
            if e.action == "read" and e.endpoint in LIST_ROUTES
        },
    )


def note_lists_opened(
    connection: sa.Connection, opened: Iterable[tuple[str | None, date, int | None]]
) -> None:
    """Record that these people (user ids) opened these schools' lists on these days
    (Bangkok's), once each: inside the transaction that appends the readings."""
    rows = [
        {"school_id": school, "day": day, "user_id": user}
        for school, day, user in opened
        if school is not None and user is not None
    ]
    if rows:
        connection.execute(keyed_insert(connection, lists_opened).on_conflict_do_nothing(), rows)


def _hold_the_chain(connection: sa.Connection) -> None:
    """Wait until this transaction alone may append, and hold that until it ends.

    Each row follows the last one written, so the last row must be read under a lock held
    to the commit: a request's write appends its rows and commits later, and an append
    from another connection meanwhile (the group writer, another request, ``ews score``
    in its own process) would otherwise follow the last committed row and fork the chain.
    """
    hold_lock(connection, _CHAIN_LOCK)


# LIMIT written into the statement: as a parameter PostgreSQL planned it on every append.
_LAST_HASH = (
    sa.select(audit_log.c.row_hash)
    .order_by(audit_log.c.audit_id.desc())
    .limit(sa.literal(1, literal_execute=True))
)


def record(engine: sa.Engine, entries: Sequence[Entry]) -> None:
    """Append entries in a transaction of their own (reads, denials, sign-ins) and return
    once they are committed.

    Concurrent callers in this process share one transaction (a group commit): while one
    batch is being written, the next gathers, so the chain's lock and the commit are paid
    once a batch rather than once a request.
    """
    if entries:
        while not _writer(engine).write(list(entries)):
            pass  # that writer had just gone idle and closed: the next one takes them


IDLE_SECONDS = 30.0  # a writer with nothing to write for this long ends its thread


class _GroupWriter:
    """Writes the entries of whoever is waiting, in the order they came, one batch a
    transaction; each caller waits for the commit of its own batch."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.ready = threading.Condition()
        self.waiting: list[tuple[list[Entry], Future[None]]] = []
        self.closed = False
        threading.Thread(target=self._run, name="audit-writer", daemon=True).start()

    def write(self, entries: list[Entry]) -> bool:
        """False, writing nothing, when this writer has closed."""
        done: Future[None] = Future()
        with self.ready:
            if self.closed:
                return False
            self.waiting.append((entries, done))
            self.ready.notify()
        done.result()  # the writer's error, if the batch failed
        return True

    def _run(self) -> None:
        while True:
            with self.ready:
                if not self.waiting:
                    self.ready.wait(timeout=IDLE_SECONDS)
                if not self.waiting:
                    self.closed = True
                    break
                batch, self.waiting = self.waiting, []
            try:
                with self.engine.begin() as connection:
                    append(connection, [e for entries, _ in batch for e in entries])
            except BaseException as error:  # noqa: BLE001 (handed to every caller)
                for _, done in batch:
                    done.set_exception(error)
            else:
                for _, done in batch:
                    done.set_result(None)
        with _WRITERS_LOCK:
            if _WRITERS.get(id(self.engine)) is self:
                del _WRITERS[id(self.engine)]


_WRITERS: dict[int, _GroupWriter] = {}
_WRITERS_LOCK = threading.Lock()


def _writer(engine: sa.Engine) -> _GroupWriter:
    with _WRITERS_LOCK:
        writer = _WRITERS.get(id(engine))
        if writer is None or writer.engine is not engine or writer.closed:
            writer = _WRITERS[id(engine)] = _GroupWriter(engine)
        return writer


@dataclass(frozen=True)
class Verification:
    rows: int
    broken_at: int | None  # the first audit_id whose hash does not follow; None: intact
    reason: str = ""


def verify(engine: sa.Engine) -> Verification:
    """Walk the chain from its first row; report the first row that does not follow."""
    previous = GENESIS
    count = 0
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True).execute(
            sa.select(audit_log).order_by(audit_log.c.audit_id)
        )
        for row in result.mappings():
            count += 1
            if row["prev_hash"] != previous:
                return Verification(
                    count, int(row["audit_id"]), "does not follow the row before it"
                )
            if row["row_hash"] != row_hash(previous, dict(row)):
                return Verification(count, int(row["audit_id"]), "was changed after it was written")
            previous = row["row_hash"]
    return Verification(count, None)


@dataclass(frozen=True)
class Filter:
    """Which rows of the log to read: every given condition holds (days are Bangkok's,
    ``until`` included)."""

    school_id: str | None = None
    student_id: str | None = None
    username: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None

    def describe(self) -> str:
        """The conditions as written in the log's own row of this read."""
        given = {k: v for k, v in vars(self).items() if v is not None}
        return " ".join(f"{k}={v}" for k, v in given.items()) or "everything"


def entries(engine: sa.Engine, where: Filter, limit: int | None = None) -> pd.DataFrame:
    """The log's rows that ``where`` selects, newest first (at most ``limit``), with who
    wrote each: the account (its username, none for an integration's token) and role,
    or the command line's actor. Times are Bangkok's. The log has no index but its
    order: a read by child scans it."""
    who = users.alias("who")
    query = (
        sa.select(
            audit_log.c.audit_id,
            audit_log.c.at,
            audit_log.c.user_id,
            who.c.username,
            who.c.role,
            audit_log.c.actor,
            audit_log.c.action,
            audit_log.c.endpoint,
            audit_log.c.school_id,
            audit_log.c.student_id,
            audit_log.c.detail,
        )
        .select_from(audit_log.outerjoin(who, who.c.user_id == audit_log.c.user_id))
        .order_by(audit_log.c.audit_id.desc())
    )
    for column, value in (
        (audit_log.c.school_id, where.school_id),
        (audit_log.c.student_id, where.student_id),
        (who.c.username, where.username),
        (audit_log.c.action, where.action),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(audit_log.c.at >= clock.start_of(where.since))
    if where.until is not None:
        query = query.where(audit_log.c.at < clock.start_of(where.until + timedelta(days=1)))
    if limit is not None:
        query = query.limit(limit)
    with reading(engine) as connection:
        rows = connection.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=list(query.selected_columns.keys()))
    frame["at"] = (
        pd.to_datetime(frame["at"]).dt.tz_localize("UTC").dt.tz_convert(clock.BANGKOK)
    ).dt.tz_localize(None)
    frame.insert(2, "who", _who(frame))
    return frame


def _who(rows: pd.DataFrame) -> pd.Series:
    """Who wrote each row: the account's username and role (an integration's token
    account has no username: its number stands for it), else the command line's user."""
    number = rows["user_id"].astype("Int64").astype("string")
    account = rows["username"].astype("string").fillna("account " + number)
    named = account + " (" + rows["role"].astype("string") + ")"
    return named.fillna(rows["actor"].astype("string")).fillna("").astype(object)
