"""Temporal splits never leak test dates or immature labels into training."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features.sources import Sources
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.split import SplitError, temporal_split


@pytest.fixture(scope="module")
def matrix(synthetic_sources: Sources) -> pd.DataFrame:
    return build_training_matrix(synthetic_sources, LabelRules())


def test_default_split_tests_on_the_latest_mature_term(matrix: pd.DataFrame) -> None:
    split = temporal_split(matrix)
    train, valid, test = matrix[split.train], matrix[split.valid], matrix[split.test]

    assert train["as_of"].max() < valid["as_of"].min()
    assert valid["as_of"].max() < test["as_of"].min()
    assert train["mature"].all() and valid["mature"].all() and test["mature"].all()  # noqa: PT018
    latest_mature_term = (
        matrix[matrix["mature"]].sort_values("as_of")[["academic_year", "term"]].iloc[-1]
    )
    assert set(zip(test["academic_year"], test["term"], strict=True)) == {tuple(latest_mature_term)}
    assert not (split.train & split.test).any()


def test_flags_set_the_dates_and_immature_rows_never_enter(matrix: pd.DataFrame) -> None:
    split = temporal_split(matrix, train_until=date(2023, 12, 31), test_from=date(2024, 5, 20))

    assert matrix.loc[split.train | split.valid, "as_of"].max() <= pd.Timestamp("2023-12-31")
    assert matrix.loc[split.test, "as_of"].min() >= pd.Timestamp("2024-05-20")
    immature = ~matrix["mature"].astype(bool)
    assert not (immature & (split.train | split.valid | split.test)).any()


def test_too_little_history_is_refused_with_a_reason(matrix: pd.DataFrame) -> None:
    first_term = matrix[
        (matrix["academic_year"] == matrix["academic_year"].min()) & (matrix["term"] == 1)
    ]

    with pytest.raises(SplitError, match="at least three terms"):
        temporal_split(first_term)
