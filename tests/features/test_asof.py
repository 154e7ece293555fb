"""As-of lookups against a brute-force reading of the same records."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.asof import latest_rows, next_after, stream_order

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


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 300),
    st.integers(1, 50),
    st.sampled_from([1, 3, 5_000]),
    st.sampled_from(["D", "s", "h"]),
    st.integers(0, 2**31),
)
def test_stream_order_is_the_stable_order_by_student_then_date(
    n: int, students: int, days: int, unit: str, seed: int
) -> None:
    # Few days (many ties), a span of days far larger than the records (the two-key sort
    # instead of counting), and dates with a time of day (the lexical sort).
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, students, n)
    step = {"D": 86_400, "s": 86_400, "h": 3_600}[unit]
    dates = (np.datetime64("2024-05-16", "s") + rng.integers(0, days, n) * step).astype(
        f"datetime64[{unit}]" if unit != "h" else "datetime64[s]"
    )

    order = stream_order(keys, dates)

    np.testing.assert_array_equal(order, np.lexsort((dates, keys)))
