"""Temporal splits: rolling-origin folds for choosing settings, a purged test, and a refit.

A row's label is the student's outcome over ``horizon`` days after its as-of date, so it
is only *observed* at ``as_of + horizon``. A model judged on a period starting at ``S``
may only be fitted on rows observed by ``S`` ("purged"): otherwise it learns from events
that happen inside the period it is judged on.

- **Test**: the latest term with mature labels (or from ``test_from``). It is never used
  to choose anything; it only measures the evaluation model.
- **Evaluation model**: fitted on rows observed before the test start, then scored on
  the test period.
- **Folds** (rolling origin): each earlier term (or, when there are too few, each block
  of a few weeks) is a validation period, with a model fitted on rows observed before
  it. Settings and the number of trees are chosen on the folds together.
- **Refit**: the registered model is fitted on every mature row, so it is as fresh as
  the data.

It works with one or two terms a year and two or three years of data; when the history
is too short for any fold, the plan says so and training uses its default settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from training.config import TrainConfig

TERM_KEY = ["academic_year", "term"]


class SplitError(ValueError):
    """The data cannot be split as asked (too little history with mature labels)."""


@dataclass(frozen=True)
class Fold:
    """One rolling-origin fold: fit on ``train`` (purged), judge on ``valid``."""

    train: pd.Series
    valid: pd.Series
    valid_from: pd.Timestamp
    valid_until: pd.Timestamp
    term: int  # the term number of the validation period (its season)
    purged: bool = True  # False: a stand-in when the history is too short (see plan_splits)

    def describe(self) -> str:
        kind = "" if self.purged else ", not purged"
        return f"{self.valid_from.date()}–{self.valid_until.date()} (term {self.term}{kind})"


@dataclass(frozen=True)
class TemporalPlan:
    """Row masks over the training matrix for every fit of one training run."""

    horizon: pd.Timedelta
    folds: list[Fold]
    train: pd.Series  # the evaluation model's rows: observed before the test start
    test: pd.Series
    refit: pd.Series  # every mature row
    train_from: pd.Timestamp
    train_until: pd.Timestamp
    test_from: pd.Timestamp
    test_until: pd.Timestamp
    refit_until: pd.Timestamp
    notes: list[str] = field(default_factory=list)

    @property
    def tuned(self) -> bool:
        """Whether the folds are purged ones that settings may be chosen on."""
        return bool(self.folds) and all(f.purged for f in self.folds)

    def describe(self) -> dict[str, str]:
        return {
            "train_from": str(self.train_from.date()),
            "train_until": str(self.train_until.date()),
            "test_from": str(self.test_from.date()),
            "test_until": str(self.test_until.date()),
            "refit_until": str(self.refit_until.date()),
            "horizon_days": str(self.horizon.days),
            "folds": "; ".join(f.describe() for f in self.folds) or "none",
        }


def plan_splits(
    matrix: pd.DataFrame,
    horizon_days: int,
    *,
    test_from: date | None = None,
    train_until: date | None = None,
    max_folds: int = 3,
    fold_weeks: int = 8,
    min_positives: int = 10,
) -> TemporalPlan:
    """Plan the folds, the purged evaluation fit, the test period and the refit.

    Args:
        matrix: the training matrix (as_of, academic_year, term, label, mature).
        horizon_days: the label's horizon: a row is observed ``horizon_days`` after it.
        test_from: first as-of date of the test period (default: the latest mature term).
        train_until: last as-of date any fit may use before the test (default: as late
            as the purge allows).
        max_folds: at most this many folds, the most recent first.
        fold_weeks: the length of a validation block when there are too few terms.
        min_positives: a fit or a judged period needs at least this many students who left.

    Raises:
        SplitError: no test period, or too little history before it to fit anything.
    """
    horizon = pd.Timedelta(days=horizon_days)
    mature = matrix["mature"].astype(bool)
    as_of = matrix["as_of"]
    observed = as_of + horizon
    terms = (
        matrix[mature]
        .groupby(TERM_KEY, as_index=False)
        .agg(start=("as_of", "min"), end=("as_of", "max"), positives=("label", "sum"))
        .sort_values("start")
        .reset_index(drop=True)
    )
    terms = terms[terms["positives"] > 0]
    if terms.empty:
        raise SplitError(
            "nothing to learn from yet: the data shows no student leaving within "
            f"{horizon_days} days of a date at least {horizon_days} days before its end. "
            "Load earlier years (enrolments and exits), or train once this year's outcomes "
            "are in; until a model is promoted, the weekly run ranks by the ABC rule"
        )
    test_start = pd.Timestamp(test_from) if test_from is not None else terms["start"].iloc[-1]
    test = mature & (as_of >= test_start)
    if int(matrix.loc[test, "label"].sum()) < 1:
        raise SplitError(f"no mature label with anyone who left on or after {test_start.date()}")
    cutoff = test_start
    train = mature & (as_of < test_start) & (observed <= cutoff)
    if train_until is not None:
        train &= as_of <= pd.Timestamp(train_until)
    positives = _leavers(matrix, train)
    if positives < min_positives:
        first = as_of[mature].min()
        raise SplitError(
            f"too little history before the test period ({test_start.date()}): a model may "
            f"only learn from rows whose {horizon_days}-day outcome is known by then, and "
            f"those hold {positives} students who left (at least {min_positives} needed). "
            f"The data's first as-of date is {first.date()}; add older data, use a shorter "
            "--horizon-days, or move --test-from later"
        )
    folds = _folds(
        matrix,
        mature,
        terms,
        test_start,
        cutoff=cutoff,
        horizon=horizon,
        max_folds=max_folds,
        fold_weeks=fold_weeks,
        min_positives=min_positives,
    )
    notes = []
    if not folds:
        notes.append(
            "too little history for rolling-origin validation: no fold has enough rows "
            "observed before it. The shape and number of trees are the configured defaults, "
            "not chosen on data, and calibration is fitted on the last weeks before the test "
            "period, whose outcomes overlap the weeks learned from"
        )
        folds = _stand_in(matrix, train)
    refit = mature.copy()
    return TemporalPlan(
        horizon=horizon,
        folds=folds,
        train=train,
        test=test,
        refit=refit,
        train_from=as_of[train].min(),
        train_until=as_of[train].max(),
        test_from=test_start,
        test_until=as_of[test].max(),
        refit_until=as_of[refit].max(),
        notes=notes,
    )


def plan_from_config(matrix: pd.DataFrame, config: TrainConfig) -> TemporalPlan:
    """``plan_splits`` with the horizon, split and validation settings of a config."""
    return plan_splits(
        matrix,
        config.labels.horizon_days,
        test_from=config.split.test_from,
        train_until=config.split.train_until,
        max_folds=config.validation.max_folds,
        fold_weeks=config.validation.fold_weeks,
        min_positives=config.validation.min_positives,
    )


def _folds(
    matrix: pd.DataFrame,
    mature: pd.Series,
    terms: pd.DataFrame,
    test_start: pd.Timestamp,
    *,
    cutoff: pd.Timestamp,
    horizon: pd.Timedelta,
    max_folds: int,
    fold_weeks: int,
    min_positives: int,
) -> list[Fold]:
    """The most recent usable validation periods before the test, as terms or blocks."""
    as_of = matrix["as_of"]
    observed = as_of + horizon
    before = terms[terms["start"] < test_start]
    periods: list[tuple[pd.Timestamp, pd.Timestamp, int]] = [
        (pd.Timestamp(start), min(pd.Timestamp(end), cutoff - pd.Timedelta(days=1)), int(term))
        for start, end, term in zip(before["start"], before["end"], before["term"], strict=True)
    ]
    folds = _usable(matrix, mature, periods, observed, min_positives)
    if len(folds) < 2:
        # Too few whole terms: validate on blocks of a few weeks instead.
        mondays = sorted(as_of[mature & (as_of < cutoff)].unique())
        blocks = [mondays[i : i + fold_weeks] for i in range(0, len(mondays), fold_weeks)]
        periods = []
        for block in blocks:
            first, last = pd.Timestamp(block[0]), pd.Timestamp(block[-1])
            term = matrix.loc[as_of == first, "term"].mode()
            periods.append((first, last, int(term.iloc[0]) if len(term) else 1))
        folds = _usable(matrix, mature, periods, observed, min_positives)
    return folds[-max_folds:]


def _leavers(matrix: pd.DataFrame, rows: pd.Series) -> int:
    """Distinct students among the rows who went on to leave."""
    return int(matrix.loc[rows & (matrix["label"] == 1), "person_id"].nunique())


def _stand_in(matrix: pd.DataFrame, train: pd.Series) -> list[Fold]:
    """One unpurged fold: the evaluation rows' last quarter of weeks against the rest."""
    as_of = matrix["as_of"]
    mondays = np.sort(as_of[train].unique())
    if len(mondays) < 4:
        return []
    start = pd.Timestamp(mondays[len(mondays) * 3 // 4])
    late = train & (as_of >= start)
    term = matrix.loc[late, "term"].mode()
    return [
        Fold(
            train & (as_of < start),
            late,
            start,
            pd.Timestamp(mondays[-1]),
            int(term.iloc[0]) if len(term) else 1,
            purged=False,
        )
    ]


def _usable(
    matrix: pd.DataFrame,
    mature: pd.Series,
    periods: list[tuple[pd.Timestamp, pd.Timestamp, int]],
    observed: pd.Series,
    min_positives: int,
) -> list[Fold]:
    as_of = matrix["as_of"]
    folds = []
    for start, end, term in periods:
        train = mature & (observed <= start)
        valid = mature & (as_of >= start) & (as_of <= end)
        enough = (
            _leavers(matrix, train) >= min_positives and _leavers(matrix, valid) >= min_positives
        )
        if enough:
            folds.append(Fold(train, valid, start, end, term))
    return folds
