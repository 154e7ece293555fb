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


def test_a_read_by_schools_students_keeps_exactly_theirs_and_finds_them_by_the_index(
    synthetic_engine: sa.Engine,
) -> None:
    table = TABLES["attendance"]
    students = read_table(synthetic_engine, "students", columns=["school_id", "student_id"])
    # Codes other schools use too: one school's student of each, a few at every school.
    shared = students[students.duplicated("student_id", keep=False)]
    asked = shared.drop_duplicates("student_id").groupby("school_id").head(5)
    asked = asked.reset_index(drop=True)
    assert asked["school_id"].nunique() > 1
    since = pd.Timestamp("2025-01-06").date()
    statements: list[tuple[str, tuple[object, ...]]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    sa.event.listen(synthetic_engine, "before_cursor_execute", keep)
    try:
        got = read_table(synthetic_engine, "attendance", students=asked, since=("date", since))
    finally:
        sa.event.remove(synthetic_engine, "before_cursor_execute", keep)

    pairs = list(asked.itertuples(index=False, name=None))
    query = sa.select(*table.c).where(
        table.c.date >= since, sa.tuple_(table.c.school_id, table.c.student_id).in_(pairs)
    )
    expected = _through_sqlalchemy(synthetic_engine, query, "attendance")
    by_codes = read_table(
        synthetic_engine, "attendance", student_ids=asked["student_id"], since=("date", since)
    )
    assert 0 < len(expected) < len(by_codes)  # the other schools' students are left out
    order = ["school_id", "student_id", "date"]
    pd.testing.assert_frame_equal(
        got.sort_values(order, ignore_index=True), expected.sort_values(order, ignore_index=True)
    )
    # Each school's students are found by the table's key, never by reading all of it.
    assert statements
    with synthetic_engine.connect() as connection:
        for statement, parameters in statements:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            details = [row[-1] for row in plan]
            assert all(d.startswith("SEARCH attendance USING INDEX") for d in details), details
