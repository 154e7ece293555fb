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


def _state(as_of: str, attendance: pd.DataFrame | None = None) -> pd.DataFrame:
    records = (
        pd.DataFrame({"student_id": "A", "date": DAYS, "status": STATUS})
        if attendance is None
        else attendance
    )
    queries = pd.DataFrame(
        {
            "student_id": ["A", "B"],
            "as_of": pd.Timestamp(as_of),
            "term_start": pd.Timestamp("2025-05-16"),
        }
    )
    return a.attendance_state(records, queries)


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
