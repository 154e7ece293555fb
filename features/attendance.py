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
    a = attendance.iloc[_by_student_and_date(attendance)]
    status = a["status"]
    absent = status.isin(ABSENT).to_numpy()
    present = status.isin(PRESENT).to_numpy()
    stream = _Streams(a["student_id"].to_numpy())
    # Position within the student's stream, and the cumulative counts 20 and 40 rows back.
    cum = {
        "absent": stream.cumsum(absent),
        "unexplained": stream.cumsum((status == "absent").to_numpy()),
        "late": stream.cumsum((status == "late").to_numpy()),
    }
    dates = a["date"].to_numpy()
    state = pd.DataFrame(
        {
            "student_id": a["student_id"].to_numpy(),
            "date": dates,
            "position": stream.position + 1,
            "absent": absent,
            "cum_absent": cum["absent"],
            "cum_unexplained": cum["unexplained"],
            "cum_late": cum["late"],
            "lag20_absent": stream.lag(cum["absent"], WINDOW_DAYS),
            "lag20_late": stream.lag(cum["late"], WINDOW_DAYS),
            "lag40_absent": stream.lag(cum["absent"], 2 * WINDOW_DAYS),
            "streak": stream.streak(absent),
            "last_present": stream.last_where(present, dates),
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


class _Streams:
    """Rows sorted by student and date, each student's rows a stream: counts along it.

    Integer arithmetic on whole arrays: the same counts as a group-by, in a fraction of
    the time.
    """

    def __init__(self, students: np.ndarray) -> None:
        n = len(students)
        self.first = np.r_[True, students[1:] != students[:-1]] if n else np.zeros(0, bool)
        self.index = np.arange(n)
        self.start = np.maximum.accumulate(np.where(self.first, self.index, 0))
        self.position = self.index - self.start  # 0 on a student's first row

    def cumsum(self, flags: np.ndarray) -> np.ndarray:
        """Running count of ``flags`` along each stream."""
        total: np.ndarray = np.cumsum(flags, dtype=np.int64)
        before: np.ndarray = total - flags  # the count before each row
        counts: np.ndarray = total - before[self.start]
        return counts

    def lag(self, cumulative: np.ndarray, rows: int) -> np.ndarray:
        """``cumulative`` ``rows`` rows back in the same stream (0 before its start)."""
        back = np.maximum(self.index - rows, 0)
        return np.where(self.position >= rows, cumulative[back], 0)

    def streak(self, absent: np.ndarray) -> np.ndarray:
        """Consecutive absent rows ending at each row, counted from the stream's start."""
        reset = np.maximum.accumulate(np.where(~absent | self.first, self.index, 0))
        return np.where(absent, self.index - reset + absent[reset], 0)

    def last_where(self, flags: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """The latest date at or before each row where ``flags`` holds (NaT: none yet)."""
        last = np.maximum.accumulate(np.where(flags, self.index, -1))
        found = (last >= self.start) & (last >= 0)
        result = np.full(len(dates), np.datetime64("NaT"), dtype=dates.dtype)
        result[found] = dates[last[found]]
        return result


def _by_student_and_date(frame: pd.DataFrame) -> np.ndarray:
    """Row order by student, then date, ties in their order (a stable sort)."""
    students, _ = pd.factorize(frame["student_id"], sort=True)
    return np.lexsort((frame["date"].to_numpy(), students))


def _longest_streak_in_term(state: pd.DataFrame, queries: pd.DataFrame) -> pd.Series:
    """Running maximum of the streak since each term start, looked up at the as-of date.

    Streaks are counted from the term's first day: a run that began before the term is
    cut at the term start, as the student's term record shows it.
    """
    result = pd.Series(np.nan, index=queries.index)
    dates = state["date"].to_numpy()
    absent_all = state["absent"].to_numpy()
    students = state["student_id"].to_numpy()
    for term_start, group in queries.groupby("term_start", sort=False):
        first, last = pd.Timestamp(term_start), pd.Timestamp(group["as_of"].max())  # type: ignore[arg-type]
        in_term = (dates >= first.to_datetime64()) & (dates <= last.to_datetime64())
        if not in_term.any():
            result[group.index] = 0.0
            continue
        absent, student = absent_all[in_term], students[in_term]
        stream = _Streams(student)
        streak = stream.streak(absent)
        # Running maximum along each stream: streams are lifted apart so none reaches back.
        lift = np.cumsum(stream.first) * (len(streak) + 1)
        running = np.maximum.accumulate(streak + lift) - lift
        term_state = pd.DataFrame(
            {"student_id": student, "date": dates[in_term], "longest": running}
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
