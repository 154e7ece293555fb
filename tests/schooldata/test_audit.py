"""The audit log's group commit: concurrent readers share transactions, and the chain
still holds every entry, in order, intact."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from schooldata import audit
from schooldata.db import make_engine, upgrade
from schooldata.tables import audit_log


def test_concurrent_records_are_all_committed_in_one_intact_chain(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    start = threading.Barrier(16)

    def reader(user_id: int) -> None:
        start.wait()
        for i in range(10):
            entries = [
                audit.Entry("read", "GET /list", user_id, f"S{user_id}-{i}-{k}") for k in range(5)
            ]
            audit.record(engine, entries)
            with engine.connect() as connection:  # committed before record returns
                found = connection.execute(
                    sa.select(sa.func.count()).where(audit_log.c.student_id == f"S{user_id}-{i}-0")
                ).scalar()
            assert found == 1

    threads = [threading.Thread(target=reader, args=(u,)) for u in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(audit_log.c.user_id, audit_log.c.student_id).order_by(audit_log.c.audit_id)
        ).all()
    assert len(rows) == 16 * 10 * 5
    for user_id in range(16):  # each reader's entries in the order it made them
        own = [r.student_id for r in rows if r.user_id == user_id]
        assert own == [f"S{user_id}-{i}-{k}" for i in range(10) for k in range(5)]
    checked = audit.verify(engine)
    assert checked.broken_at is None and checked.rows == len(rows)  # noqa: PT018


def test_a_failed_batch_fails_its_callers(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")  # no tables: the write fails
    with pytest.raises(sa.exc.OperationalError):
        audit.record(engine, [audit.Entry("read", "GET /list", 1, "S1")])


_TEXT = st.one_of(st.none(), st.text(max_size=40))


@settings(max_examples=300, deadline=None)
@given(
    at=st.datetimes(),
    user_id=st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    actor=_TEXT,
    action=st.text(max_size=20),
    student_id=_TEXT,
    endpoint=st.text(max_size=40),
    detail=_TEXT,
    previous=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_row_hash_hashes_the_chain_format_of_json_dumps(
    at: datetime,
    user_id: int | None,
    actor: str | None,
    action: str,
    student_id: str | None,
    endpoint: str,
    detail: str | None,
    previous: str,
) -> None:
    """Rows already in a chain were hashed over ``json.dumps`` of their fields (sorted
    keys, Thai not escaped): the hash written field by field must be the same, or every
    existing chain would stop verifying. Quotes, backslashes, control characters, Thai
    and surrogates included."""
    row = {
        "at": at,
        "user_id": user_id,
        "actor": actor,
        "action": action,
        "student_id": student_id,
        "endpoint": endpoint,
        "detail": detail,
    }
    content = {
        k: (v.replace(microsecond=0).isoformat() if k == "at" else v) for k, v in row.items()
    }
    text = previous + json.dumps(content, sort_keys=True, ensure_ascii=False)
    expected = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    try:
        found = audit.row_hash(previous, row)
    except UnicodeEncodeError:  # a lone surrogate: json.dumps's text cannot be encoded either
        with pytest.raises(UnicodeEncodeError):
            text.encode()
        return
    assert found == expected


@pytest.mark.parametrize("second", ["a read's record", "another write", "another process"])
def test_an_append_while_a_write_transaction_holds_its_rows_keeps_the_chain(
    tmp_path: Path, second: str
) -> None:
    """A request's write appends its rows in its own transaction and commits after; an
    append from elsewhere meanwhile (the group writer, another request, ``ews score`` in
    its own process) must follow those rows, not the last committed one."""
    url = f"sqlite:///{tmp_path / 'ews.db'}"
    engine = make_engine(url)
    upgrade(engine)
    audit.record(engine, [audit.Entry("read", "GET /list", 1, "S0")])
    appended = threading.Event()

    def first_write() -> None:
        with engine.begin() as connection:
            audit.append(connection, [audit.Entry("write", "POST /cases", 1, "S1")])
            appended.set()
            threading.Event().wait(0.5)  # the request's transaction is still open

    writer = threading.Thread(target=first_write)
    writer.start()
    appended.wait(10)
    entry = audit.Entry("read", "GET /list", 2, "S2")
    if second == "a read's record":
        audit.record(engine, [entry])
    elif second == "another write":
        with make_engine(url).begin() as connection:
            audit.append(connection, [entry])
    else:
        code = (
            "import sys; from schooldata import audit; from schooldata.db import make_engine;"
            "audit.record(make_engine(sys.argv[1]), [audit.Entry('read', 'ews score', 2, 'S2')])"
        )
        subprocess.run([sys.executable, "-c", code, url], check=True, timeout=60)
    writer.join()

    checked = audit.verify(engine)
    assert checked.rows == 3
    assert checked.broken_at is None, checked.reason
