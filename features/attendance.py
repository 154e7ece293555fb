"""Attendance features: absence over recent school days and the term, streaks, lateness."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from features.asof import as_ns, latest_rows

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
    order = _by_student_and_date(attendance)
    students = np.asarray(attendance["student_id"])[order]
    dates = as_ns(attendance["date"])[order]
    status = attendance["status"]
    absent = status.isin(ABSENT).to_numpy()[order]
    present = status.isin(PRESENT).to_numpy()[order]
    stream = _Streams(students)
    # Running counts along each student's stream, read only at the rows the queries need.
    cum_absent = stream.cumsum(absent)
    cum_unexplained = stream.cumsum((status == "absent").to_numpy()[order])
    cum_late = stream.cumsum((status == "late").to_numpy()[order])
    streak = stream.streak(absent)
    at = _Rows(stream, latest_rows(students, dates, queries["student_id"], queries["as_of"]))
    before_term = _Rows(
        stream,
        latest_rows(
            students, dates, queries["student_id"], queries["term_start"], strictly_before=True
        ),
    )
    has_records = at.found
    position_at = at.position()
    days_20 = np.minimum(position_at, WINDOW_DAYS)
    days_prev_20 = np.clip(position_at - WINDOW_DAYS, 0, WINDOW_DAYS)
    absent_at, lag20_absent = at.value(cum_absent), at.back(cum_absent, WINDOW_DAYS)
    last_present = np.full(len(queries), np.datetime64("NaT"), dtype=dates.dtype)
    last_present[has_records] = stream.last_where(present, dates, at.rows[has_records])
    columns = {
        "has_records": has_records,
        "days_20": days_20,
        "absent_20": absent_at - lag20_absent,
        "late_20": at.value(cum_late) - at.back(cum_late, WINDOW_DAYS),
        "days_prev_20": days_prev_20,
        "absent_prev_20": lag20_absent - at.back(cum_absent, 2 * WINDOW_DAYS),
        "term_days": position_at - before_term.position(),
        "term_absent": absent_at - before_term.value(cum_absent, 0.0),
        "term_unexplained": at.value(cum_unexplained) - before_term.value(cum_unexplained, 0.0),
        "streak": at.value(streak),
        "longest_streak_term": _longest_streak_in_term(stream, streak, before_term, at),
        "last_present": last_present,
        "as_of": queries["as_of"].to_numpy(),
    }
    return pd.DataFrame(columns, index=queries.index)


class _Rows:
    """One row of the sorted records per query (-1: the student has none by then)."""

    def __init__(self, stream: _Streams, rows: np.ndarray) -> None:
        self.stream = stream
        self.found = rows >= 0
        self.rows = np.maximum(rows, 0)

    def value(self, values: np.ndarray, missing: float = np.nan) -> np.ndarray:
        """``values`` at each query's row (``missing`` where none)."""
        if not len(values):
            return np.full(len(self.rows), missing)
        return np.where(self.found, values[self.rows], missing)

    def position(self) -> np.ndarray:
        """How many rows the student's stream holds up to each query's row (0: none)."""
        return self.value(self.stream.position + 1, 0.0)

    def back(self, cumulative: np.ndarray, rows: int) -> np.ndarray:
        """``cumulative`` ``rows`` rows before each query's row in the same stream (0 before
        the stream's start, NaN where the query has no row)."""
        if not len(cumulative):
            return np.full(len(self.rows), np.nan)
        far_enough = self.stream.position[self.rows] >= rows
        earlier = np.where(far_enough, cumulative[np.maximum(self.rows - rows, 0)], 0)
        return np.where(self.found, earlier, np.nan)


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

    def streak(self, absent: np.ndarray) -> np.ndarray:
        """Consecutive absent rows ending at each row, counted from the stream's start."""
        reset = np.maximum.accumulate(np.where(~absent | self.first, self.index, 0))
        return np.where(absent, self.index - reset + absent[reset], 0)

    def last_where(self, flags: np.ndarray, dates: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The latest date at or before each of ``rows`` where ``flags`` holds in its stream
        (NaT: none yet)."""
        last = np.maximum.accumulate(np.where(flags, self.index, -1))[rows]
        found = (last >= self.start[rows]) & (last >= 0)
        result = np.full(len(rows), np.datetime64("NaT"), dtype=dates.dtype)
        result[found] = dates[last[found]]
        return result


def _by_student_and_date(frame: pd.DataFrame) -> np.ndarray:
    """Row order by student, then date, ties in their order (a stable sort)."""
    students = np.asarray(frame["student_id"])
    if students.dtype.kind not in "iu":
        students, _ = pd.factorize(students, sort=True)
    return np.lexsort((as_ns(frame["date"]), students))


def _longest_streak_in_term(
    stream: _Streams, streak: np.ndarray, before_term: _Rows, at: _Rows
) -> np.ndarray:
    """The longest run of absences from each query's term start to its as-of date.

    Streaks are counted from the term's first day: a run that began before the term is
    cut at the term start, as the student's term record shows it.
    """
    if not len(streak):
        return np.zeros(len(at.rows))
    # The student's first row in the term: after the last one before it, else their first.
    first = np.where(before_term.found, before_term.rows + 1, stream.start[at.rows])
    last = np.where(at.found, at.rows, -1)  # -1: no row, an empty term
    return _longest_runs(streak, first, last)


@numba.njit(cache=True)
def _longest_runs(streak: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """For each query, the largest streak over rows ``first`` to ``last``, a streak cut
    to the rows since ``first``."""
    longest = np.zeros(len(first))
    for query in range(len(first)):
        start = first[query]
        for row in range(start, last[query] + 1):
            longest[query] = max(longest[query], min(streak[row], row - start + 1))
    return longest


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
