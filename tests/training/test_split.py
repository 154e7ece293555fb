"""Temporal splits: every fit learns only from outcomes known before the period it is
judged on, with folds for two years of data and one or two terms a year."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features.sources import Sources
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.split import SplitError, plan_splits

HORIZON = 180


@pytest.fixture(scope="module")
def matrix(synthetic_sources: Sources) -> pd.DataFrame:
    return build_training_matrix(synthetic_sources, LabelRules(HORIZON))


def _observed(matrix: pd.DataFrame, mask: pd.Series) -> pd.Timestamp:
    """When the last outcome a fit learned from became known."""
    return matrix.loc[mask, "as_of"].max() + pd.Timedelta(days=HORIZON)


def test_every_fit_learns_only_from_outcomes_known_before_it_is_judged(
    matrix: pd.DataFrame,
) -> None:
    plan = plan_splits(matrix, HORIZON)

    assert plan.folds
    assert _observed(matrix, plan.train) <= plan.test_from
    for fold in plan.folds:
        assert fold.purged
        assert _observed(matrix, fold.train) <= fold.valid_from
        assert matrix.loc[fold.valid, "as_of"].max() < plan.test_from  # the test stays unseen
    assert not (plan.train & plan.test).any()
    latest = matrix[matrix["mature"]].sort_values("as_of")[["academic_year", "term"]].iloc[-1]
    test_terms = set(
        zip(matrix.loc[plan.test, "academic_year"], matrix.loc[plan.test, "term"], strict=True)
    )
    assert test_terms == {tuple(latest)}
    immature = ~matrix["mature"].astype(bool)
    every = plan.train | plan.test | plan.refit
    for fold in plan.folds:
        every |= fold.train | fold.valid
    assert not (immature & every).any()
    assert (plan.refit == matrix["mature"].astype(bool)).all()  # the refit sees every mature row


def test_two_years_with_one_term_a_year_still_get_folds_or_say_why(
    matrix: pd.DataFrame,
) -> None:
    one_term = matrix[matrix["term"] == 1].reset_index(drop=True)

    plan = plan_splits(one_term, HORIZON, min_positives=5)

    assert plan.folds
    assert all(set(one_term.loc[f.valid, "term"]) == {1} for f in plan.folds)
    if not plan.tuned:
        assert "too little history" in plan.notes[0]
    for fold in plan.folds:
        if fold.purged:
            assert _observed(one_term, fold.train) <= fold.valid_from


def test_flags_set_the_dates(matrix: pd.DataFrame) -> None:
    plan = plan_splits(matrix, HORIZON, test_from=date(2024, 5, 20), train_until=date(2023, 9, 1))

    assert matrix.loc[plan.test, "as_of"].min() >= pd.Timestamp("2024-05-20")
    assert matrix.loc[plan.train, "as_of"].max() <= pd.Timestamp("2023-09-01")
    assert _observed(matrix, plan.train) <= plan.test_from


def test_too_little_history_is_refused_with_a_reason(matrix: pd.DataFrame) -> None:
    first_term = matrix[
        (matrix["academic_year"] == matrix["academic_year"].min()) & (matrix["term"] == 1)
    ]

    with pytest.raises(SplitError, match="too little history before the test period"):
        plan_splits(first_term, HORIZON)


def test_data_whose_outcomes_are_not_known_yet_is_refused_saying_what_to_load(
    matrix: pd.DataFrame,
) -> None:
    # One school year, loaded before it ends: no row's horizon has passed.
    with pytest.raises(SplitError, match="nothing to learn from yet") as refusal:
        plan_splits(matrix.assign(mature=False), HORIZON)

    assert "Load earlier years" in str(refusal.value)
    assert "ranks by the ABC rule" in str(refusal.value)
