"""The audit log's group commit: concurrent readers share transactions, and the chain
still holds every entry, in order, intact."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

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
