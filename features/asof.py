"""As-of lookups: the state of each student's record stream at given dates.

Every windowed feature is a difference of cumulative sums looked up at anchor dates
(the as-of date, 28 days before, the term start). One pass over a source serves every
as-of date at once, and only records dated on or before an anchor are ever read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


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
    ordered = events.sort_values(["student_id", date_column], kind="stable")
    sums = ordered.groupby("student_id", sort=False)[list(value_columns)].cumsum()
    state = pd.concat([ordered[["student_id", date_column]], sums], axis=1)
    # Several events on one date: keep the last cumulative row of that date.
    state = state.drop_duplicates(["student_id", date_column], keep="last")
    found = latest_at(state, date_column, student_ids, anchors)
    return found[list(value_columns)].fillna(0.0)


def as_ns(values: pd.Series | pd.Index) -> np.ndarray:
    """Dates as nanosecond datetime64: pandas keeps s/us/ns apart and will not merge across."""
    return np.asarray(pd.to_datetime(values), dtype="datetime64[ns]")


def _same_key_dtype(query: pd.DataFrame, right: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """merge_asof needs identical ``by`` dtypes; an empty frame may carry object ids."""
    if query["student_id"].dtype != right["student_id"].dtype:
        query = query.assign(student_id=query["student_id"].astype(object))
        right = right.assign(student_id=right["student_id"].astype(object))
    return query, right


def latest_at(
    records: pd.DataFrame,
    date_column: str,
    student_ids: pd.Series,
    anchors: pd.Series,
    strictly_before: bool = False,
) -> pd.DataFrame:
    """The latest record of each student dated on (or strictly before) each anchor.

    Returns:
        A frame aligned with ``anchors`` with every column of ``records`` (NaN where none).
    """
    query = pd.DataFrame({"student_id": student_ids.to_numpy(), "_anchor": as_ns(anchors)})
    query["_order"] = np.arange(len(query))
    valid = query["_anchor"].notna()
    right = records.dropna(subset=[date_column]).sort_values(date_column, kind="stable")
    right = right.assign(_record_date=as_ns(right[date_column]))
    query, right = _same_key_dtype(query, right)
    valid = query["_anchor"].notna()
    matched = pd.merge_asof(
        query[valid].sort_values("_anchor", kind="stable"),
        right,
        left_on="_anchor",
        right_on="_record_date",
        by="student_id",
        direction="backward",
        allow_exact_matches=not strictly_before,
    )
    out = pd.concat([matched, query[~valid]], ignore_index=True).sort_values("_order")
    columns = [c for c in records.columns if c != "student_id"]
    return out[columns].reset_index(drop=True).set_axis(anchors.index)


def next_after(
    records: pd.DataFrame, date_column: str, student_ids: pd.Series, anchors: pd.Series
) -> pd.Series:
    """The first record date strictly after each anchor, per student (NaT where none)."""
    query = pd.DataFrame({"student_id": student_ids.to_numpy(), "_anchor": as_ns(anchors)})
    query["_order"] = np.arange(len(query))
    right = records[["student_id", date_column]].dropna().sort_values(date_column)
    right = right.rename(columns={date_column: "_next"}).assign(_next=lambda f: as_ns(f["_next"]))
    query, right = _same_key_dtype(query, right)
    matched = pd.merge_asof(
        query.sort_values("_anchor", kind="stable"),
        right,
        left_on="_anchor",
        right_on="_next",
        by="student_id",
        direction="forward",
        allow_exact_matches=False,
    ).sort_values("_order")
    return pd.Series(matched["_next"].to_numpy(), index=anchors.index)
