"""Grade features from the last terms whose grades were known by the as-of date."""

from __future__ import annotations

import pandas as pd

from features.asof import latest_at

# A student who entered their school within this long is still new there.
LAST_YEAR = pd.Timedelta(days=365)

NUMERIC_GRADES = {
    "0": 0.0,
    "1": 1.0,
    "1.5": 1.5,
    "2": 2.0,
    "2.5": 2.5,
    "3": 3.0,
    "3.5": 3.5,
    "4": 4.0,
}


def term_results(grades: pd.DataFrame) -> pd.DataFrame:
    """One row per student and term: GPA, failures and special marks, and when it was known."""
    points = grades["grade"].map(NUMERIC_GRADES).astype(float)
    credits = grades["credits"].astype(float).fillna(1.0)
    weighted = credits.where(points.notna(), 0.0)
    frame = grades.assign(
        _points=(points * weighted).fillna(0.0),
        _credits=weighted,
        _failed=(grades["grade"] == "0").astype(int),
        _incomplete=(grades["grade"] == "ร").astype(int),
        _not_eligible=(grades["grade"] == "มส").astype(int),
    )
    terms = frame.groupby(["student_id", "academic_year", "term"], as_index=False).agg(
        points=("_points", "sum"),
        credits=("_credits", "sum"),
        failed=("_failed", "sum"),
        incomplete=("_incomplete", "sum"),
        not_eligible=("_not_eligible", "sum"),
        known_date=("known_date", "max"),
    )
    terms = terms.sort_values(["student_id", "known_date"], kind="stable").reset_index(drop=True)
    terms["gpa"] = (terms["points"] / terms["credits"]).where(terms["credits"] > 0)
    by_student = terms.groupby("student_id", sort=False)
    terms["previous_gpa"] = by_student["gpa"].shift(1)
    cum_points = by_student["points"].cumsum()
    cum_credits = by_student["credits"].cumsum()
    terms["cumulative_gpa"] = (cum_points / cum_credits).where(cum_credits > 0)
    return terms


def grades_state(grades: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """The latest term result known at each query's as-of date; and, for a student who
    entered their school in the last year, the last result known before they entered
    (their previous school's, when they came from one)."""
    terms = term_results(grades)
    columns = [
        "student_id",
        "known_date",
        "gpa",
        "previous_gpa",
        "cumulative_gpa",
        "failed",
        "incomplete",
        "not_eligible",
    ]
    state = latest_at(terms[columns], "known_date", queries["student_id"], queries["as_of"])
    if "entered_on" not in queries:
        return state.assign(previous_school_gpa=float("nan"))
    entered = pd.to_datetime(queries["entered_on"])
    before = latest_at(
        terms[columns], "known_date", queries["student_id"], entered, strictly_before=True
    )
    recent = (entered >= queries["as_of"] - LAST_YEAR).to_numpy()
    return state.assign(previous_school_gpa=before["gpa"].where(recent).to_numpy())


def gpa_last_term(s: pd.DataFrame) -> pd.Series:
    return s["gpa"].astype(float)


def gpa_change_last_term(s: pd.DataFrame) -> pd.Series:
    return (s["gpa"] - s["previous_gpa"]).astype(float)


def failed_subjects_last_term(s: pd.DataFrame) -> pd.Series:
    return s["failed"].astype(float)


def incomplete_marks_last_term(s: pd.DataFrame) -> pd.Series:
    return s["incomplete"].astype(float)


def not_eligible_marks_last_term(s: pd.DataFrame) -> pd.Series:
    return s["not_eligible"].astype(float)


def gpa_cumulative(s: pd.DataFrame) -> pd.Series:
    return s["cumulative_gpa"].astype(float)


def gpa_previous_school(s: pd.DataFrame) -> pd.Series:
    return s["previous_school_gpa"].astype(float)


FEATURES = (
    gpa_last_term,
    gpa_change_last_term,
    failed_subjects_last_term,
    incomplete_marks_last_term,
    not_eligible_marks_last_term,
    gpa_cumulative,
    gpa_previous_school,
)
