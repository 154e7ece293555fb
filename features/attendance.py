"""Attendance features: absence over recent school days and the term, streaks, lateness."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from features.asof import as_ns, shared_codes, stream_order
from schooldata.contract import AT_SCHOOL

WINDOW_DAYS = 20  # school days: about four weeks
# A student's recent days are known while at most this many school days of the term have
# passed since their latest record (the stale rule's default for a whole school,
# ``EWS_STALE_AFTER_SCHOOL_DAYS``). A child whose records stopped while they are still
# enrolled (the register no longer lists them) has no "last 20 school days" on record: their
# last 20 records are from weeks before, and a count over them is not a count of now.
RECENT_WITHIN_SCHOOL_DAYS = 5
ABSENT = ("absent", "sick_leave", "personal_leave")
PRESENT = AT_SCHOOL


def attendance_state(attendance: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """Each student's attendance record as of each query's date.

    Args:
        attendance: student_id, date, status (one row per student and school day).
        queries: student_id, as_of, term_start.

    Returns:
        Counts over the last 20 and the 20 before that school days, over the term to
        date, the current and the longest streak this term, the last present day, the
        latest record's day, the term's school days since it and whether that is few
        enough for the counts over recent days to be about now (``recent``).
    """
    dates = _dates(attendance["date"])
    dated = ~np.isnat(dates)
    if not dated.all():  # the contract requires a date: an undated row has no place
        attendance, dates = attendance[dated], dates[dated]
    keys, query_keys = shared_codes(attendance["student_id"], queries["student_id"])
    # Each student's records a stream in date order (a stable sort: ties keep theirs).
    order = stream_order(keys, dates)
    as_of, term_start = as_ns(queries["as_of"]), as_ns(queries["term_start"])
    unit = _exact_unit(dates.dtype, as_of, term_start)
    values, last_present, last_record = _at_dates(
        keys[order],
        dates.astype(unit, copy=False).view(np.int64)[order],
        _kinds(attendance["status"])[order],
        query_keys,
        as_of.astype(unit).view(np.int64),
        term_start.astype(unit).view(np.int64),
    )
    columns: dict[str, np.ndarray] = dict(zip(_STATE, values.T, strict=True))
    columns["has_records"] = ~np.isnan(columns.pop("found"))
    columns["last_present"] = last_present.view(unit).astype("datetime64[ns]")
    columns["last_record"] = last_record.view(unit).astype("datetime64[ns]")
    unrecorded = _school_days_since(columns["last_record"], term_start, as_of)
    columns["school_days_unrecorded"] = unrecorded
    columns["recent"] = ~(unrecorded > RECENT_WITHIN_SCHOOL_DAYS)  # unknown: no records
    columns["as_of"] = queries["as_of"].to_numpy()
    return pd.DataFrame(columns, index=queries.index)


def _school_days_since(
    last_record: np.ndarray, term_start: np.ndarray, as_of: np.ndarray
) -> np.ndarray:
    """Weekdays after the latest record and before the as-of date, counted from the term's
    start (the days before it are holidays, as for a school's freshness); NaN where there
    is no record by the date."""
    known = ~np.isnat(last_record) & ~np.isnat(as_of)
    since = last_record.astype("datetime64[D]")
    term_eve = term_start.astype("datetime64[D]") - np.timedelta64(1, "D")
    since = np.where(~np.isnat(term_eve) & (term_eve > since), term_eve, since)
    begin = (since + np.timedelta64(1, "D"))[known]
    end = as_of.astype("datetime64[D]")[known]
    days = np.full(len(last_record), np.nan)
    days[known] = np.busday_count(begin, np.maximum(begin, end))
    return days


# What ``_at_dates`` gives for each query, in its columns' order ("found": NaN if the
# student has no record by the date, else 1).
_STATE = (
    "found",
    "days_20",
    "absent_20",
    "late_20",
    "days_prev_20",
    "absent_prev_20",
    "term_days",
    "term_absent",
    "term_unexplained",
    "streak",
    "longest_streak_term",
)
# Each status as a small number: what the counts need to know of it.
_OTHER, _UNEXPLAINED, _LEAVE, _PRESENT, _LATE = range(5)
_KIND = {
    "absent": _UNEXPLAINED,
    "sick_leave": _LEAVE,
    "personal_leave": _LEAVE,
    "present": _PRESENT,
    "late": _LATE,
}
_NAT = np.iinfo(np.int64).min
_WIDTH = len(_STATE)


def _dates(values: pd.Series) -> np.ndarray:
    """Record dates as datetime64 in their own unit (no conversion of millions of rows)."""
    dates = values.to_numpy()
    return dates if dates.dtype.kind == "M" else as_ns(values)


def _exact_unit(unit: np.dtype, *days: np.ndarray) -> np.dtype:
    """The records' date unit, when every query date is exact in it (comparing in it
    then converts thousands of query dates, not millions of records); else nanoseconds."""
    for values in days:
        if not ((values.astype(unit) == values) | np.isnat(values)).all():
            return np.dtype("datetime64[ns]")
    return unit


def _kinds(status: pd.Series) -> np.ndarray:
    """Each record's status as a ``_KIND`` number (categories looked up once)."""
    if isinstance(status.dtype, pd.CategoricalDtype):
        per_category = np.array(
            [_KIND.get(c, _OTHER) for c in status.cat.categories] + [_OTHER], dtype=np.int8
        )
        kinds: np.ndarray = per_category[status.cat.codes.to_numpy()]  # -1: the last, other
        return kinds
    return status.map(_KIND).fillna(_OTHER).to_numpy(dtype=np.int8)


@numba.njit(cache=True)
def _at_dates(  # noqa: PLR0917 (numba compiles positional arguments only)
    keys: np.ndarray,
    dates: np.ndarray,
    kinds: np.ndarray,
    query_keys: np.ndarray,
    as_of: np.ndarray,
    term_start: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass along the records sorted by student and date, then each query's values
    (``_STATE``), last present day and latest record's day (NaT: none).

    A query's row is its student's latest record on or before the as-of date; windows
    count the 20 and the 40 rows up to it, the term the rows after the student's latest
    record before the term start. A streak is the run of absences ending at a row,
    counted from the stream's start; this term's longest is cut at the term's first row.
    """
    n = len(keys)
    absent = np.zeros(n + 1, np.int32)  # running counts along each stream, 0 before it
    unexplained = np.zeros(n + 1, np.int32)
    late = np.zeros(n + 1, np.int32)
    streak = np.zeros(n, np.int32)
    for i in range(n):
        kind = kinds[i]
        away = kind == _UNEXPLAINED or kind == _LEAVE
        if i > 0 and keys[i] == keys[i - 1]:  # counts up to row i are at i + 1
            absent[i + 1] = absent[i] + away
            unexplained[i + 1] = unexplained[i] + (kind == _UNEXPLAINED)
            late[i + 1] = late[i] + (kind == _LATE)
            streak[i] = streak[i - 1] + 1 if away else 0
        else:  # a student's first row
            absent[i + 1] = away
            unexplained[i + 1] = kind == _UNEXPLAINED
            late[i + 1] = kind == _LATE
            streak[i] = 1 if away else 0
    values = np.full((len(query_keys), _WIDTH), np.nan)
    last_present = np.full(len(query_keys), _NAT, np.int64)
    last_record = np.full(len(query_keys), _NAT, np.int64)
    for q in range(len(query_keys)):
        lo = np.searchsorted(keys, query_keys[q], side="left")
        hi = np.searchsorted(keys, query_keys[q], side="right")
        at = -1
        if as_of[q] != _NAT:
            at = lo + np.searchsorted(dates[lo:hi], as_of[q], side="right") - 1
        before_term = -1
        if term_start[q] != _NAT:
            before_term = lo + np.searchsorted(dates[lo:hi], term_start[q], side="left") - 1
        found_before = before_term >= lo
        row = values[q]
        term_absent_before = absent[before_term + 1] if found_before else 0
        term_unexplained_before = unexplained[before_term + 1] if found_before else 0
        days_before = before_term - lo + 1 if found_before else 0
        if at < lo:  # no record by the date
            row[1] = 0.0
            row[4] = 0.0
            row[6] = -days_before
            row[10] = 0.0
            continue
        position = at - lo + 1  # the student's rows up to the date
        # Absences up to the row one window and two windows back (0: before the stream).
        absent_back = absent[at + 1 - WINDOW_DAYS] if position > WINDOW_DAYS else 0
        late_back = late[at + 1 - WINDOW_DAYS] if position > WINDOW_DAYS else 0
        absent_back_2 = absent[at + 1 - 2 * WINDOW_DAYS] if position > 2 * WINDOW_DAYS else 0
        row[0] = 1.0
        last_record[q] = dates[at]
        row[1] = min(position, WINDOW_DAYS)
        row[2] = absent[at + 1] - absent_back
        row[3] = late[at + 1] - late_back
        row[4] = min(max(position - WINDOW_DAYS, 0), WINDOW_DAYS)
        row[5] = absent_back - absent_back_2
        row[6] = position - days_before
        row[7] = absent[at + 1] - term_absent_before
        row[8] = unexplained[at + 1] - term_unexplained_before
        row[9] = streak[at]
        first_in_term = before_term + 1 if found_before else lo
        longest = 0
        for r in range(first_in_term, at + 1):
            longest = max(longest, min(streak[r], r - first_in_term + 1))
        row[10] = longest
        for r in range(at, lo - 1, -1):
            if kinds[r] == _PRESENT or kinds[r] == _LATE:
                last_present[q] = dates[r]
                break
    return values, last_present, last_record


def _rate(count: pd.Series, days: pd.Series) -> pd.Series:
    return (count / days).where(days > 0)


def _now(s: pd.DataFrame, values: pd.Series) -> pd.Series:
    """Values over the student's latest records, where those records are about now."""
    return values.where(s["has_records"] & s["recent"])


def absent_days_20d(s: pd.DataFrame) -> pd.Series:
    return _now(s, s["absent_20"])


def school_days_20d(s: pd.DataFrame) -> pd.Series:
    return _now(s, s["days_20"])


def absence_rate_20d(s: pd.DataFrame) -> pd.Series:
    return _now(s, _rate(s["absent_20"], s["days_20"]))


def absence_rate_term(s: pd.DataFrame) -> pd.Series:
    return _rate(s["term_absent"], s["term_days"])


def attendance_below_80pct_term(s: pd.DataFrame) -> pd.Series:
    rate = absence_rate_term(s)
    return (rate > 0.2).astype(float).where(rate.notna())


def absence_streak_current(s: pd.DataFrame) -> pd.Series:
    return _now(s, s["streak"])


def absence_streak_longest_term(s: pd.DataFrame) -> pd.Series:
    return s["longest_streak_term"].where(s["term_days"] > 0)


def days_since_last_present(s: pd.DataFrame) -> pd.Series:
    return (s["as_of"] - s["last_present"]).dt.days.astype(float)


def absence_trend_20d(s: pd.DataFrame) -> pd.Series:
    return absence_rate_20d(s) - _rate(s["absent_prev_20"], s["days_prev_20"])


def late_rate_20d(s: pd.DataFrame) -> pd.Series:
    return _now(s, _rate(s["late_20"], s["days_20"]))


def school_days_unrecorded(s: pd.DataFrame) -> pd.Series:
    return s["school_days_unrecorded"].where(s["has_records"])


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
    school_days_unrecorded,
)
