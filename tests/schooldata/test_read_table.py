"""Reads of the operational database: the fast SQLite path gives what SQLAlchemy gives."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from schooldata.db import read_table, typed_frame
from schooldata.tables import TABLES


def _through_sqlalchemy(engine: sa.Engine, query: sa.Select, name: str) -> pd.DataFrame:  # type: ignore[type-arg]
    with engine.connect() as connection:
        return typed_frame(pd.read_sql(query, connection), TABLES[name])


def test_every_table_reads_as_sqlalchemy_reads_it(synthetic_engine: sa.Engine) -> None:
    for name, table in TABLES.items():
        expected = _through_sqlalchemy(synthetic_engine, sa.select(*table.c), name)
        pd.testing.assert_frame_equal(read_table(synthetic_engine, name), expected)


def test_a_read_by_students_and_date_keeps_exactly_their_records(
    synthetic_engine: sa.Engine,
) -> None:
    table = TABLES["attendance"]
    ids = read_table(synthetic_engine, "students", columns=["student_id"])["student_id"][
        :40
    ].tolist()
    since = pd.Timestamp("2025-01-06").date()

    got = read_table(synthetic_engine, "attendance", student_ids=ids, since=("date", since))

    query = sa.select(*table.c).where(table.c.date >= since, table.c.student_id.in_(ids))
    expected = _through_sqlalchemy(synthetic_engine, query, "attendance")
    assert 0 < len(got) < len(read_table(synthetic_engine, "attendance"))
    pd.testing.assert_frame_equal(got, expected)


def test_a_database_without_the_table_fails_with_sqlalchemys_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    empty = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(sa.exc.OperationalError, match="no such table: attendance"):
        read_table(empty, "attendance")
