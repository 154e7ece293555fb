"""Temporal splits: train on earlier as-of dates, validate on the next term, test on the latest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

TERM_KEY = ["academic_year", "term"]


class SplitError(ValueError):
    """The data cannot be split as asked (too few terms with mature labels)."""


@dataclass(frozen=True)
class TemporalSplit:
    """Row masks over the training matrix and the dates that define them."""

    train: pd.Series
    valid: pd.Series
    test: pd.Series
    train_from: pd.Timestamp
    train_until: pd.Timestamp
    valid_from: pd.Timestamp
    test_from: pd.Timestamp
    test_until: pd.Timestamp

    def describe(self) -> dict[str, str]:
        return {
            "train_from": f"{self.train_from.date()}",
            "train_until": f"{self.train_until.date()}",
            "valid_from": f"{self.valid_from.date()}",
            "test_from": f"{self.test_from.date()}",
            "test_until": f"{self.test_until.date()}",
        }


def temporal_split(
    matrix: pd.DataFrame, train_until: date | None = None, test_from: date | None = None
) -> TemporalSplit:
    """Split the matrix by as-of date; only mature labels are ever used.

    Without dates: the test period is the latest term with mature labels, validation the
    term before it, training every earlier mature row. ``train_until`` is the last as-of
    date of training and validation (validation is its latest term); ``test_from`` the
    first as-of date of the test period.
    """
    mature = matrix["mature"].astype(bool)
    as_of = matrix["as_of"]
    terms = (
        matrix[mature]
        .groupby(TERM_KEY, as_index=False)
        .agg(start=("as_of", "min"), end=("as_of", "max"), positives=("label", "sum"))
        .sort_values("start")
        .reset_index(drop=True)
    )
    terms = terms[terms["positives"] > 0]
    if test_from is None:
        if len(terms) < 3:
            raise SplitError(
                "need at least three terms with mature labels to train, validate and test; "
                f"found {len(terms)}"
            )
        test_start = terms["start"].iloc[-1]
    else:
        test_start = pd.Timestamp(test_from)
    before_test = terms[terms["end"] < test_start]
    if train_until is not None:
        before_test = before_test[before_test["start"] <= pd.Timestamp(train_until)]
    if len(before_test) < 2:
        raise SplitError("need at least two terms with mature labels before the test period")
    last_train_day = (
        pd.Timestamp(train_until) if train_until is not None else before_test["end"].iloc[-1]
    )
    last_train_day = min(last_train_day, test_start - pd.Timedelta(days=1))
    valid_start = before_test["start"].iloc[-1]

    test = mature & (as_of >= test_start)
    valid = mature & (as_of >= valid_start) & (as_of <= last_train_day)
    train = mature & (as_of < valid_start)
    if not test.any():
        raise SplitError(f"no mature labels on or after the test start {test_start.date()}")
    return TemporalSplit(
        train=train,
        valid=valid,
        test=test,
        train_from=as_of[train].min(),
        train_until=last_train_day,
        valid_from=valid_start,
        test_from=test_start,
        test_until=as_of[test].max(),
    )
