"""As-of lookups against a brute-force reading of the same records."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.asof import latest_rows, next_after

START = pd.Timestamp("2024-05-16")


def _brute_latest(records: pd.DataFrame, student: int, day: pd.Timestamp, before: bool) -> int:
    mine = records[(records["student_id"] == student) & records["date"].notna()]
    mine = mine[mine["date"] < day] if before else mine[mine["date"] <= day]
    if mine.empty:
        return -1
    latest = mine["date"].max()
    return int(mine.index[mine["date"] == latest][-1])  # the last of several on that date


@st.composite
def _records_and_queries(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Whole days, or with a time of day: the two ways dates are turned into numbers.
    unit = draw(st.sampled_from(["D", "h"]))
    n = draw(st.integers(0, 40))
    offsets = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    students = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    dates = START + pd.to_timedelta(offsets, unit=unit)
    if n and draw(st.booleans()):
        dates = dates.where(np.arange(n) % 5 != 0)  # some undated records
    records = pd.DataFrame({"student_id": students, "date": dates})
    m = draw(st.integers(1, 10))
    query_days = draw(st.lists(st.integers(-3, 35), min_size=m, max_size=m))
    queries = pd.DataFrame(
        {
            "student_id": draw(st.lists(st.integers(0, 5), min_size=m, max_size=m)),
            "as_of": START + pd.to_timedelta(query_days, unit="D"),
        }
    )
    return records, queries


@settings(max_examples=200, deadline=None)
@given(_records_and_queries(), st.booleans())
def test_latest_rows_is_the_latest_record_on_or_before_each_date(
    case: tuple[pd.DataFrame, pd.DataFrame], before: bool
) -> None:
    records, queries = case
    found = latest_rows(
        records["student_id"], records["date"], queries["student_id"], queries["as_of"], before
    )
    expected = [
        _brute_latest(records, s, d, before)
        for s, d in zip(queries["student_id"], queries["as_of"], strict=True)
    ]
    assert found.tolist() == expected


@settings(max_examples=100, deadline=None)
@given(_records_and_queries())
def test_next_after_is_the_first_record_after_each_date(
    case: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    records, queries = case
    found = next_after(records, "date", queries["student_id"], queries["as_of"])
    for i, (student, day) in enumerate(zip(queries["student_id"], queries["as_of"], strict=True)):
        later = records.loc[(records["student_id"] == student) & (records["date"] > day), "date"]
        assert found.iloc[i] == later.min() if len(later) else pd.isna(found.iloc[i])
