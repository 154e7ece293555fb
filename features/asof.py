"""As-of lookups: the state of each student's record stream at given dates.

Every windowed feature is a difference of cumulative sums looked up at anchor dates
(the as-of date, 28 days before, the term start). One pass over a source serves every
as-of date at once, and only records dated on or before an anchor are ever read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd

DAY_NS = 86_400 * 10**9


def cumulative_at(
    events: pd.DataFrame,
    date_column: str,
    value_columns: Sequence[str],
    student_ids: pd.Series,
    anchors: pd.Series,
) -> pd.DataFrame:
    """Per-student cumulative sums of ``value_columns`` over events dated on or before each anchor.

    Args:
        events: one row per event with ``student_id``, ``date_column`` and the values.
        date_column: the event date.
        value_columns: numeric columns to accumulate.
        student_ids: the student of each query.
        anchors: the date of each query (NaT gives zeros).

    Returns:
        A frame aligned with ``anchors`` holding the sums (0 where no event precedes).
    """
    values = list(value_columns)
    events = events.dropna(subset=[date_column])
    keys, query_keys = shared_codes(events["student_id"], student_ids)
    order = np.lexsort((as_ns(events[date_column]), keys))
    # Summed student by student, in date order: the same additions whatever else is read.
    sums = events[values].iloc[order].groupby(keys[order], sort=False).cumsum()
    state = sums.assign(student_id=keys[order], _date=events[date_column].to_numpy()[order])
    # Several events on one date: the latest lookup takes the last of them, the full sum.
    found = latest_at(state, "_date", pd.Series(query_keys, index=anchors.index), anchors)
    return found[values].fillna(0.0)


def as_ns(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Dates as nanosecond datetime64: pandas keeps s/us/ns apart and will not merge across."""
    return np.asarray(pd.to_datetime(values), dtype="datetime64[ns]")


def latest_at(
    records: pd.DataFrame,
    date_column: str,
    student_ids: pd.Series,
    anchors: pd.Series,
    strictly_before: bool = False,
) -> pd.DataFrame:
    """The latest record of each student dated on (or strictly before) each anchor.

    Of several records on that date, the last one in ``records``' order.

    Returns:
        A frame aligned with ``anchors`` with every column of ``records`` (NaN where none).
    """
    position = latest_rows(
        records["student_id"], records[date_column], student_ids, anchors, strictly_before
    )
    columns = [c for c in records.columns if c != "student_id"]
    found = records[columns].reset_index(drop=True).reindex(position)  # -1: no record
    return found.set_axis(anchors.index)


def next_after(
    records: pd.DataFrame, date_column: str, student_ids: pd.Series, anchors: pd.Series
) -> pd.Series:
    """The first record date strictly after each anchor, per student (NaT where none)."""
    dates = as_ns(records[date_column])
    kept = ~np.isnat(dates)
    keys, query_keys = shared_codes(records["student_id"][kept], student_ids)
    dates = dates[kept]
    order = np.lexsort((dates, keys))
    keys, dates = keys[order], dates[order]
    day = as_ns(anchors)
    # The first (student, date) pair after (student, anchor): the student's next record.
    position = _search(keys, dates, query_keys, day, side="right")
    if not len(keys):
        return pd.Series(np.full(len(day), np.datetime64("NaT"), "datetime64[ns]"), anchors.index)
    found = position < len(keys)
    found[found] &= keys[position[found]] == query_keys[found]
    found &= ~np.isnat(day)
    result = np.full(len(day), np.datetime64("NaT"), dtype="datetime64[ns]")
    result[found] = dates[position[found]]
    return pd.Series(result, index=anchors.index)


def latest_rows(
    record_ids: pd.Series | np.ndarray,
    record_dates: pd.Series | np.ndarray,
    student_ids: pd.Series,
    anchors: pd.Series,
    strictly_before: bool = False,
) -> np.ndarray:
    """For each query, the row number in the records of its latest record (-1: none):
    ``latest_at`` without gathering the records' columns."""
    dates = as_ns(record_dates)
    ids = np.asarray(record_ids)
    undated = np.isnat(dates)
    rows: np.ndarray | None = None  # each kept record's row number, when not its position
    if undated.any():
        rows = np.flatnonzero(~undated)
        ids, dates = ids[rows], dates[rows]
    keys, query_keys = shared_codes(ids, student_ids)
    if not _in_order(keys, dates):
        order = np.lexsort((dates, keys))  # stable: ties keep the records' order
        keys, dates = keys[order], dates[order]
        rows = order if rows is None else rows[order]
    day = as_ns(anchors)
    if not len(keys):
        return np.full(len(day), -1)
    # Past every (student, date) pair up to (student, anchor), one step back.
    position = _search(keys, dates, query_keys, day, side="left" if strictly_before else "right")
    position -= 1
    found = position >= 0
    found[found] &= keys[position[found]] == query_keys[found]
    found &= ~np.isnat(day)
    if rows is not None:
        position = rows[np.maximum(position, 0)]
    return np.where(found, position, -1)


def stream_order(keys: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Row order by student (integer ``keys``), then date, ties in their order: one
    stable sort of one integer when every date is a whole day, else a two-key sort.

    Args:
        keys: each record's student as an integer.
        dates: each record's date (datetime64, any unit).
    """
    if len(dates) and keys.min() >= 0:
        days = dates.astype("datetime64[D]")
        if (days == dates).all():  # whole days (NaT never equals itself)
            number = days.view(np.int64) - days.view(np.int64).min()
            span, students = int(number.max()) + 1, int(keys.max()) + 1
            if span + students <= 4 * len(keys) + 1024:  # counts no larger than the records
                order: np.ndarray = _counting_order(keys.astype(np.int64), number, students, span)
                return order
            if students * span < 2**62:  # (student, day) as one integer, in order
                order = np.argsort(keys * span + number, kind="stable")
                return order
    return np.lexsort((dates, keys))


def _counting_order(keys: np.ndarray, days: np.ndarray, students: int, span: int) -> np.ndarray:
    """The stable order by (key, day) of keys in [0, students) and days in [0, span):
    a counting sort by day, then a stable one by key (two passes over the records, where
    a comparison sort of millions of records takes ten times as long)."""
    by_day = _stable_by(days, span, np.arange(len(days), dtype=np.int64))
    order: np.ndarray = _stable_by(keys, students, by_day)
    return order


@numba.njit(cache=True)
def _stable_by(values: np.ndarray, span: int, order: np.ndarray) -> np.ndarray:
    """``order`` (row numbers) sorted by ``values`` of the rows, integers in [0, span),
    rows of equal value kept in their order: one counting pass."""
    starts = np.zeros(span + 1, np.int64)
    for i in order:
        starts[values[i] + 1] += 1
    for v in range(span):
        starts[v + 1] += starts[v]
    result = np.empty(len(order), np.int64)
    for i in order:
        result[starts[values[i]]] = i
        starts[values[i]] += 1
    return result


def _in_order(keys: np.ndarray, dates: np.ndarray) -> bool:
    """Whether records are already sorted by student, then date (a stream's own order)."""
    if len(keys) < 2:
        return True
    step = keys[1:] - keys[:-1]
    return bool(((step > 0) | ((step == 0) & (dates[1:] >= dates[:-1]))).all())


def _search(
    keys: np.ndarray, dates: np.ndarray, query_keys: np.ndarray, days: np.ndarray, side: str
) -> np.ndarray:
    """How many (key, date) pairs, sorted by both, come before each (query key, day):
    with ``side="right"`` the pairs on the day count as before it."""
    number, span, rank = _day_numbers(dates, days, side) or _date_ranks(dates, days, side)
    # A (key, date) pair as one integer, in the same order.
    found: np.ndarray = np.searchsorted(keys * span + number, query_keys * span + rank)
    return found


def _date_ranks(
    dates: np.ndarray, days: np.ndarray, side: str
) -> tuple[np.ndarray, int, np.ndarray]:
    """Dates as their rank among the distinct dates, and each day as the rank past which
    (``side="right"``: on or past which) the dates lie after it."""
    distinct = np.sort(pd.unique(dates))
    rank = np.searchsorted(distinct, days, side=side)  # type: ignore[call-overload]
    return np.searchsorted(distinct, dates), len(distinct) + 1, rank


def _day_numbers(
    dates: np.ndarray, days: np.ndarray, side: str
) -> tuple[np.ndarray, int, np.ndarray] | None:
    """``_date_ranks`` by arithmetic when every date is a whole day (no search): dates as
    days since the first, each query day as the number the dates before it (or on it)
    stay under. None when a date has a time of day."""
    ticks = dates.view(np.int64)
    if not len(ticks) or (ticks % DAY_NS).any():
        return None
    first = ticks.min()
    number = (ticks - first) // DAY_NS
    span = int(number.max()) + 2
    query = np.where(np.isnat(days), first, days.view(np.int64)) - first
    # Side "right": dates on the day count, so under floor(day) + 1; "left": under ceil(day).
    bound = query // DAY_NS + 1 if side == "right" else -(-query // DAY_NS)
    return number, span, np.clip(bound, 0, span - 1)


def shared_codes(
    record_ids: pd.Series | np.ndarray, student_ids: pd.Series | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Students as integers shared by the records and the queries: integers as they are,
    categories through their categories (each distinct ID once), else each value."""
    if isinstance(record_ids, pd.Series) and isinstance(student_ids, pd.Series):
        left_type, right_type = record_ids.dtype, student_ids.dtype
        if isinstance(left_type, pd.CategoricalDtype) and isinstance(
            right_type, pd.CategoricalDtype
        ):
            names = left_type.categories.union(right_type.categories)
            return (
                recoded(record_ids, names.get_indexer(left_type.categories)),
                recoded(student_ids, names.get_indexer(right_type.categories)),
            )
    left, right = np.asarray(record_ids), np.asarray(student_ids)
    if left.dtype.kind in "iu" and right.dtype.kind in "iu":
        return left.astype(np.int64), right.astype(np.int64)
    codes, _ = pd.factorize(np.concatenate([left.astype(object), right.astype(object)]))
    return codes[: len(left)].astype(np.int64), codes[len(left) :].astype(np.int64)


def shared_pair_codes(
    left: pd.DataFrame, right: pd.DataFrame, columns: Sequence[str] = ("school_id", "student_id")
) -> tuple[np.ndarray, np.ndarray]:
    """(school, student) pairs, or any two columns, as integers shared by two frames
    (``shared_codes`` of each column, combined; -1 where either is missing)."""
    first, second = columns
    a_left, a_right = shared_codes(left[first], right[first])
    b_left, b_right = shared_codes(left[second], right[second])
    span = int(max(b_left.max(initial=0), b_right.max(initial=0))) + 1
    pairs = []
    for a, b in ((a_left, b_left), (a_right, b_right)):
        pairs.append(np.where((a >= 0) & (b >= 0), a * span + b, -1))
    return pairs[0], pairs[1]


def positions_in(values: pd.Series, labels: pd.Index) -> np.ndarray:
    """Each value's position among ``labels`` (-1: not there); categories looked up once."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return recoded(values, labels.get_indexer(values.cat.categories))
    found: np.ndarray = labels.get_indexer(pd.Index(values))
    return found


def recoded(values: pd.Series, numbers: np.ndarray) -> np.ndarray:
    """A categorical's values as ``numbers`` (one per category; -1 for a missing value)."""
    # A missing value's code, -1, takes the appended -1.
    lookup = np.append(np.asarray(numbers, dtype=np.int64), -1)
    found: np.ndarray = lookup[values.cat.codes.to_numpy()]
    return found
