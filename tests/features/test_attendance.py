"""Attendance features on a hand-written record with exact expected values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import attendance as a

DAYS = pd.bdate_range("2025-06-02", periods=25)  # d1 .. d25, Monday 2 June to Friday 4 July
STATUS = (
    ["absent"] * 3
    + ["sick_leave"]  # d1-d4
    + ["present"] * 4
    + ["late"]
    + ["present"] * 11  # d5-d20, late on d9
    + ["absent"] * 3
    + ["personal_leave", "absent"]  # d21-d25
)


def _state(
    as_of: str, attendance: pd.DataFrame | None = None, term_start: str = "2025-05-16"
) -> pd.DataFrame:
    records = (
        pd.DataFrame({"student_id": "A", "date": DAYS, "status": STATUS})
        if attendance is None
        else attendance
    )
    queries = pd.DataFrame(
        {
            "student_id": ["A", "B"],
            "as_of": pd.Timestamp(as_of),
            "term_start": pd.Timestamp(term_start),
        }
    )
    return a.attendance_state(records, queries)


# What a count over the student's latest records says of "now" (the last 20 school days,
# the current streak, the change and lateness over them).
RECENT = (
    a.absent_days_20d,
    a.school_days_20d,
    a.absence_rate_20d,
    a.absence_streak_current,
    a.absence_trend_20d,
    a.late_rate_20d,
)


def test_a_child_whose_records_stopped_weeks_ago_has_no_recent_days_on_record() -> None:
    # The record ends on Friday 4 July; the school's register goes on without the child.
    # Five school days later (Monday 14 July) their latest 20 days are still about now;
    # ten school days later (Monday 21 July) they are not: "absent 5 of the last 20 school
    # days" would be false of a child nobody has recorded for two weeks.
    at_five, at_ten = _state("2025-07-14"), _state("2025-07-21")

    assert a.school_days_unrecorded(at_five).iloc[0] == 5
    assert a.school_days_unrecorded(at_ten).iloc[0] == 10
    assert a.absent_days_20d(at_five).iloc[0] == 5
    assert a.absence_streak_current(at_five).iloc[0] == 5
    for feature in RECENT:
        assert np.isnan(feature(at_ten).iloc[0]), feature.__name__
    # What stays true of the record: the term so far, its longest streak, and the last
    # day at school, 24 days before.
    assert a.absence_rate_term(at_ten).iloc[0] == pytest.approx(9 / 25)
    assert a.absence_streak_longest_term(at_ten).iloc[0] == 5
    assert a.days_since_last_present(at_ten).iloc[0] == 24


def test_the_days_before_a_term_are_a_holiday_not_days_missing() -> None:
    # The record ends with the last term on 4 July; the new term starts on Monday 21 July.
    # On its Thursday the latest 20 days on record are last term's, as for every child in
    # a term's first days: three school days have passed without a record, not thirteen.
    s = _state("2025-07-24", term_start="2025-07-21")

    assert a.school_days_unrecorded(s).iloc[0] == 3
    assert a.absent_days_20d(s).iloc[0] == 5
    assert a.absence_streak_current(s).iloc[0] == 5


def test_attendance_features_at_the_end_of_the_record() -> None:
    s = _state("2025-07-04")
    expected = {
        a.absent_days_20d: 5,  # d21-d25
        a.school_days_20d: 20,
        a.absence_rate_20d: 0.25,
        a.absence_rate_term: 9 / 25,
        a.attendance_below_80pct_term: 1.0,
        a.absence_streak_current: 5,
        a.absence_streak_longest_term: 5,
        a.days_since_last_present: 7,  # last present Friday 27 June
        a.absence_trend_20d: 5 / 20 - 4 / 5,  # the 20 days before hold only d1-d5
        a.late_rate_20d: 1 / 20,  # late on d9, inside d6-d25
        a.unexplained_absence_share_term: 7 / 9,
    }
    for feature, value in expected.items():
        assert feature(s).iloc[0] == pytest.approx(value), feature.__name__


def test_attendance_features_early_in_the_record() -> None:
    s = _state("2025-06-04")  # d3: three absences, never present yet

    assert a.absent_days_20d(s).iloc[0] == 3
    assert a.absence_streak_current(s).iloc[0] == 3
    assert np.isnan(a.days_since_last_present(s).iloc[0])


def test_student_without_records_gets_missing_values_not_zeros() -> None:
    s = _state("2025-07-04")

    for feature in a.FEATURES:
        assert np.isnan(feature(s).iloc[1]), feature.__name__


def test_streak_before_the_term_does_not_count_as_this_terms_longest() -> None:
    days = pd.bdate_range("2025-05-12", periods=8)  # 12-16 May before the term, 19-21 May in it
    records = pd.DataFrame(
        {"student_id": "A", "date": days, "status": ["absent"] * 6 + ["present"] * 2}
    )
    s = _state("2025-05-21", records)

    assert a.absence_streak_longest_term(s).iloc[0] == 2  # 16 and 19 May: in term from 16 May
    assert a.absence_rate_term(s).iloc[0] == pytest.approx(2 / 4)  # 16, 19, 20, 21 May


def _plain_reading(records: pd.DataFrame, query: pd.Series) -> dict[str, object]:
    """One query's state read straight off the student's record, row by row."""
    mine = records[records["student_id"] == query["student_id"]].sort_values("date", kind="stable")
    status = mine["status"].astype(object).tolist()
    dates = list(mine["date"])
    upto = [i for i, d in enumerate(dates) if d <= query["as_of"]]
    before = [i for i, d in enumerate(dates) if d < query["term_start"]]
    away = [s in a.ABSENT for s in status]
    state: dict[str, object] = {
        "has_records": bool(upto),
        "days_20": float(min(len(upto), a.WINDOW_DAYS)),
        "days_prev_20": float(min(max(len(upto) - a.WINDOW_DAYS, 0), a.WINDOW_DAYS)),
        "term_days": float(len(upto) - len(before)),
        "longest_streak_term": 0.0,
        "last_present": pd.NaT,
        "school_days_unrecorded": np.nan,
    }
    if not upto:
        return state | dict.fromkeys(
            ("absent_20", "late_20", "absent_prev_20", "term_absent", "term_unexplained", "streak"),
            np.nan,
        )
    window, previous = upto[-a.WINDOW_DAYS :], upto[-2 * a.WINDOW_DAYS : -a.WINDOW_DAYS]
    streak = 0
    for i in upto:
        streak = streak + 1 if away[i] else 0
    longest = run = 0
    for i in upto[len(before) :]:  # this term's rows; a run from before the term is cut
        run = run + 1 if away[i] else 0
        longest = max(longest, run)
    present = [dates[i] for i in upto if status[i] in a.PRESENT]
    # Weekdays after the latest record (or the eve of the term, if later) before the date.
    since = max(dates[upto[-1]].normalize(), query["term_start"] - pd.Timedelta(days=1))
    day, unrecorded = since + pd.Timedelta(days=1), 0
    while day < query["as_of"].normalize():
        unrecorded += day.weekday() < 5
        day += pd.Timedelta(days=1)
    return state | {
        "school_days_unrecorded": float(unrecorded),
        "absent_20": float(sum(away[i] for i in window)),
        "late_20": float(sum(status[i] == "late" for i in window)),
        "absent_prev_20": float(sum(away[i] for i in previous)),
        "term_absent": float(sum(away[i] for i in upto) - sum(away[i] for i in before)),
        "term_unexplained": float(
            sum(status[i] == "absent" for i in upto) - sum(status[i] == "absent" for i in before)
        ),
        "streak": float(streak),
        "longest_streak_term": float(longest),
        "last_present": present[-1] if present else pd.NaT,
    }


@pytest.mark.parametrize("seed", range(6))
def test_the_state_is_what_a_plain_reading_of_each_record_gives(seed: int) -> None:
    # Random records: repeated days, statuses the counts do not know, missing ones, dates
    # with a time of day, records as categories, queries before any record, with no
    # date, or whose term starts after the date.
    rng = np.random.default_rng(seed)
    statuses = ["absent", "sick_leave", "personal_leave", "present", "late", "holiday", None]
    start = pd.Timestamp("2025-01-06")
    rows = []
    for student in ["A", "B", "C", "D"]:
        days = np.sort(rng.integers(0, 150, rng.integers(0, 120)))
        rows += [(student, start + pd.Timedelta(days=int(d)), rng.choice(statuses)) for d in days]
    records = pd.DataFrame(rows, columns=["student_id", "date", "status"])
    records = records.sample(frac=1, random_state=seed).reset_index(drop=True)
    if seed % 2:
        records = records.astype({"student_id": "category", "status": "category"})
        records["date"] = records["date"].astype("datetime64[s]")
    if seed == 4:
        records["date"] += pd.to_timedelta(rng.integers(0, 24, len(records)), "h")
    queries = pd.DataFrame(
        {
            "student_id": rng.choice(["A", "B", "C", "D", "E"], 40),
            "as_of": start + pd.to_timedelta(rng.integers(-5, 160, 40), "D"),
            "term_start": start + pd.to_timedelta(rng.integers(-10, 170, 40), "D"),
        }
    )
    queries.loc[0, "as_of"] = pd.NaT

    state = a.attendance_state(records, queries)

    for i, query in queries.iterrows():
        expected = _plain_reading(records, query)
        last_present, found = expected.pop("last_present"), state.loc[i, "last_present"]
        assert found == last_present or (pd.isna(found) and pd.isna(last_present)), (seed, i)
        got = state.loc[i, list(expected)].to_dict()
        assert got == pytest.approx(expected, rel=0, abs=0, nan_ok=True), (seed, i)
