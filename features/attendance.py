"""Attendance features: absence over recent school days and the term, streaks, lateness."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.asof import latest_at

WINDOW_DAYS = 20  # school days: about four weeks
ABSENT = ("absent", "sick_leave", "personal_leave")
PRESENT = ("present", "late")


def attendance_state(attendance: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """Each student's attendance record as of each query's date.

    Args:
        attendance: student_id, date, status (one row per student and school day).
        queries: student_id, as_of, term_start.

    Returns:
        Counts over the last 20 and the 20 before that school days, over the term to
        date, the current and the longest streak this term, and the last present day.
    """
    a = attendance.sort_values(["student_id", "date"], kind="stable").reset_index(drop=True)
    status = a["status"]
    absent = status.isin(ABSENT).to_numpy()
    flags = pd.DataFrame(
        {
            "days": 1,
            "absent": absent.astype(int),
            "unexplained": (status == "absent").to_numpy().astype(int),
            "late": (status == "late").to_numpy().astype(int),
        }
    )
    group = a["student_id"]
    cum = flags.groupby(group.to_numpy()).cumsum()
    first_row = ~group.duplicated().to_numpy()
    # Position within the student's stream, and the cumulative counts 20 and 40 rows back.
    position = cum["days"].to_numpy()
    lag20 = cum.groupby(group.to_numpy()).shift(WINDOW_DAYS).fillna(0)
    lag40 = cum.groupby(group.to_numpy()).shift(2 * WINDOW_DAYS).fillna(0)
    # Current absence streak: consecutive absent rows ending here.
    run_id = np.cumsum(~absent | first_row)
    streak = pd.Series(absent.astype(int)).groupby(run_id).cumsum().to_numpy()
    present_day = a["date"].where(status.isin(PRESENT))
    last_present = present_day.groupby(group.to_numpy()).ffill()
    state = pd.DataFrame(
        {
            "student_id": group,
            "date": a["date"],
            "position": position,
            "absent": absent,
            "cum_absent": cum["absent"],
            "cum_unexplained": cum["unexplained"],
            "cum_late": cum["late"],
            "lag20_absent": lag20["absent"],
            "lag20_late": lag20["late"],
            "lag40_absent": lag40["absent"],
            "streak": streak,
            "last_present": last_present,
        }
    )
    at = latest_at(state, "date", queries["student_id"], queries["as_of"])
    before_term = latest_at(
        state[["student_id", "date", "position", "cum_absent", "cum_unexplained"]],
        "date",
        queries["student_id"],
        queries["term_start"],
        strictly_before=True,
    )[["position", "cum_absent", "cum_unexplained"]].fillna(0)
    # Longest streak inside the term so far: max over the rows between term start and as-of.
    longest = _longest_streak_in_term(state, queries)
    has_records = at["position"].notna()
    position_at = at["position"].fillna(0)
    days_20 = np.minimum(position_at, WINDOW_DAYS)
    days_prev_20 = np.clip(position_at - WINDOW_DAYS, 0, WINDOW_DAYS)
    out = pd.DataFrame(index=queries.index)
    out["has_records"] = has_records
    out["days_20"] = days_20
    out["absent_20"] = at["cum_absent"] - at["lag20_absent"]
    out["late_20"] = at["cum_late"] - at["lag20_late"]
    out["days_prev_20"] = days_prev_20
    out["absent_prev_20"] = at["lag20_absent"] - at["lag40_absent"]
    out["term_days"] = position_at - before_term["position"]
    out["term_absent"] = at["cum_absent"] - before_term["cum_absent"]
    out["term_unexplained"] = at["cum_unexplained"] - before_term["cum_unexplained"]
    out["streak"] = at["streak"]
    out["longest_streak_term"] = longest
    out["last_present"] = at["last_present"]
    out["as_of"] = queries["as_of"]
    return out


def _longest_streak_in_term(state: pd.DataFrame, queries: pd.DataFrame) -> pd.Series:
    """Running maximum of the streak since each term start, looked up at the as-of date.

    Streaks are counted from the term's first day: a run that began before the term is
    cut at the term start, as the student's term record shows it.
    """
    result = pd.Series(np.nan, index=queries.index)
    for term_start, group in queries.groupby("term_start", sort=False):
        in_term = (state["date"] >= term_start) & (state["date"] <= group["as_of"].max())
        rows = state[in_term.to_numpy()]
        if rows.empty:
            result[group.index] = 0.0
            continue
        absent = rows["absent"].to_numpy()
        student = rows["student_id"].to_numpy()
        first = np.r_[True, student[1:] != student[:-1]]
        run_id = np.cumsum(~absent | first)
        streak = pd.Series(absent.astype(int)).groupby(run_id).cumsum()
        running = streak.groupby(student).cummax().to_numpy()
        term_state = pd.DataFrame(
            {"student_id": student, "date": rows["date"].to_numpy(), "longest": running}
        )
        found = latest_at(term_state, "date", group["student_id"], group["as_of"])
        result[group.index] = found["longest"].fillna(0.0).to_numpy()
    return result


def _rate(count: pd.Series, days: pd.Series) -> pd.Series:
    return (count / days).where(days > 0)


def absent_days_20d(s: pd.DataFrame) -> pd.Series:
    return s["absent_20"].where(s["has_records"])


def school_days_20d(s: pd.DataFrame) -> pd.Series:
    return s["days_20"].where(s["has_records"])


def absence_rate_20d(s: pd.DataFrame) -> pd.Series:
    return _rate(s["absent_20"], s["days_20"])


def absence_rate_term(s: pd.DataFrame) -> pd.Series:
    return _rate(s["term_absent"], s["term_days"])


def attendance_below_80pct_term(s: pd.DataFrame) -> pd.Series:
    rate = absence_rate_term(s)
    return (rate > 0.2).astype(float).where(rate.notna())


def absence_streak_current(s: pd.DataFrame) -> pd.Series:
    return s["streak"].where(s["has_records"])


def absence_streak_longest_term(s: pd.DataFrame) -> pd.Series:
    return s["longest_streak_term"].where(s["term_days"] > 0)


def days_since_last_present(s: pd.DataFrame) -> pd.Series:
    return (s["as_of"] - s["last_present"]).dt.days.astype(float)


def absence_trend_20d(s: pd.DataFrame) -> pd.Series:
    return absence_rate_20d(s) - _rate(s["absent_prev_20"], s["days_prev_20"])


def late_rate_20d(s: pd.DataFrame) -> pd.Series:
    return _rate(s["late_20"], s["days_20"])


def unexplained_absence_share_term(s: pd.DataFrame) -> pd.Series:
    return _rate(s["term_unexplained"], s["term_absent"])


FEATURES = (
    absent_days_20d,
    school_days_20d,
    absence_rate_20d,
    absence_rate_term,
    attendance_below_80pct_term,
    absence_streak_current,
    absence_streak_longest_term,
    days_since_last_present,
    absence_trend_20d,
    late_rate_20d,
    unexplained_absence_share_term,
)
