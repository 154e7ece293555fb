"""A school's term on a day: the quick lookup a page uses agrees with the calendar the
features use, on every day of two years."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from schooldata.calendar import Calendar, term_on
from schooldata.db import upgrade
from schooldata.tables import TABLES


def test_the_term_a_page_looks_up_is_the_one_the_calendar_gives_on_every_day(
    engine: sa.Engine,
) -> None:
    rows = [
        # Every school: term 1 of 2568 later than the default.
        {
            "school_id": "",
            "academic_year": 2568,
            "term": 1,
            "start": "2025-06-02",
            "end": "2025-10-03",
        },
        # School A: its own term 1 of 2568 (over the all-schools row) and term 2 of 2567.
        {
            "school_id": "A",
            "academic_year": 2568,
            "term": 1,
            "start": "2025-05-12",
            "end": "2025-09-26",
        },
        {
            "school_id": "A",
            "academic_year": 2567,
            "term": 2,
            "start": "2024-11-11",
            "end": "2025-03-14",
        },
    ]
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(TABLES["calendar"]),
            [
                {
                    "school_id": r["school_id"],
                    "academic_year": r["academic_year"],
                    "term": r["term"],
                    "start_date": date.fromisoformat(r["start"]),
                    "end_date": date.fromisoformat(r["end"]),
                }
                for r in rows
            ],
        )
    calendar = Calendar.stored(engine, range(2566, 2571))
    checked = 0
    with engine.connect() as connection:
        for school in ("A", "B"):
            terms = calendar.terms_for([school])
            day = date(2024, 5, 1)
            while day <= date(2026, 4, 30):
                stamp = pd.Timestamp(day)
                held = terms[(terms["start_date"] <= stamp) & (terms["end_date"] >= stamp)]
                expected = (
                    None
                    if held.empty
                    else (int(held["academic_year"].iloc[0]), int(held["term"].iloc[0]))
                )
                assert term_on(connection, school, day) == expected, (school, day)
                checked += expected is not None
                day += timedelta(days=1)
    assert checked > 900  # most days of the two years fall in a term
