"""School history and context features."""

from __future__ import annotations

import pandas as pd
import pytest

from features import history as hi
from features.school_context import school_dropout_rate_past_years, school_year_counts


def _enrollments() -> pd.DataFrame:
    rows = [
        ("A", 2567, 1, "S1", "2024-05-16"),
        ("A", 2567, 2, "S2", "2024-11-01"),  # moved school
        ("A", 2568, 1, "S2", "2025-05-16"),  # back after a dropout exit in March
        ("B", 2567, 1, "S1", "2024-05-16"),
        ("C", 2567, 1, "S1", "2024-05-16"),
        ("B", 2568, 1, "S1", "2025-05-16"),
    ]
    frame = pd.DataFrame(
        rows, columns=["student_id", "academic_year", "term", "school_id", "term_start"]
    )
    return frame.assign(term_start=pd.to_datetime(frame["term_start"]))


def test_history_of_a_student_who_moved_and_came_back() -> None:
    students = pd.DataFrame({"student_id": ["A"], "birth_date": pd.to_datetime(["2010-03-01"])})
    exits = pd.DataFrame(
        {
            "school_id": ["S2"],
            "student_id": ["A"],
            "exit_date": pd.to_datetime(["2025-03-10"]),
            "exit_type": ["dropout"],
        }
    )
    interventions = pd.DataFrame(
        {
            "student_id": ["A", "A", "A"],
            "date": pd.to_datetime(["2025-01-05", "2025-06-20", "2025-06-30"]),
            "type": ["home_visit", "counselling", "home_visit"],
        }
    )
    queries = pd.DataFrame(
        {
            "student_id": ["A"],
            "as_of": [pd.Timestamp("2025-07-07")],
            "term_start": [pd.Timestamp("2025-05-16")],
            "academic_year": [2568],
            "grade_level": ["M3"],
            "entered_on": [pd.Timestamp("2024-11-01")],  # at S2, in M2
            "entry_grade": ["M2"],
        }
    )
    s = hi.history_state(queries, students, _enrollments(), exits, interventions)

    assert hi.over_age_years(s).iloc[0] == 1.0  # 15 on 16 May 2025, usual M3 age 14
    assert hi.transition_grade(s).iloc[0] == 1.0
    assert hi.school_moves(s).iloc[0] == 1.0
    assert hi.schools_attended(s).iloc[0] == 2.0
    assert hi.moved_school_last_year(s).iloc[0] == 1.0  # 1 November 2024: within a year
    assert hi.entered_school_this_year(s).iloc[0] == 0.0  # in 2567, not 2568
    assert hi.entry_grade_level_order(s).iloc[0] == hi.LEVEL_ORDER["M2"]
    assert hi.returned_after_dropout(s).iloc[0] == 1.0
    assert hi.interventions_90d(s).iloc[0] == 2.0
    assert hi.days_since_home_visit(s).iloc[0] == 7.0


def test_school_dropout_rate_uses_earlier_years_only() -> None:
    exits = pd.DataFrame(
        {
            "school_id": ["S1", "S1"],
            "student_id": ["C", "B"],
            "exit_date": pd.to_datetime(["2024-08-01", "2025-08-01"]),
            "exit_type": ["dropout", "dropout"],
        }
    )
    queries = pd.DataFrame({"school_id": ["S1", "S1"], "academic_year": [2567, 2568]})
    rate = school_dropout_rate_past_years(queries, school_year_counts(_enrollments(), exits))

    assert pd.isna(rate.iloc[0])  # no year before 2567
    assert rate.iloc[1] == pytest.approx(1 / 3)  # 2567: A, B, C enrolled at S1; C left


def test_a_move_more_than_a_year_ago_is_not_a_move_last_year() -> None:
    queries = pd.DataFrame(
        {
            "student_id": ["A"],
            "as_of": [pd.Timestamp("2026-01-05")],
            "term_start": [pd.Timestamp("2025-11-01")],
            "academic_year": [2568],
            "grade_level": ["M3"],
            "entered_on": [pd.Timestamp("2025-05-16")],
            "entry_grade": ["M3"],
        }
    )
    students = pd.DataFrame({"student_id": ["A"], "birth_date": pd.to_datetime(["2010-03-01"])})
    none = pd.DataFrame(columns=["school_id", "student_id", "exit_date", "exit_type"])
    s = hi.history_state(queries, students, _enrollments(), none, None)

    assert hi.moved_school_last_year(s).iloc[0] == 0.0  # S1 to S2 was in November 2024
    assert hi.entered_school_this_year(s).iloc[0] == 1.0
    assert hi.returned_after_dropout(s).iloc[0] == 0.0  # no dropout, no term away
