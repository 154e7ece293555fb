"""The training matrix on synthetic data: contract checks and a directional signal check."""

from __future__ import annotations

import pandas as pd

from features.sources import Sources
from training.labels import LabelRules
from training.matrix import build_training_matrix, weekly_as_of_dates


def test_rows_are_unique_mondays_in_term_with_audit_columns(synthetic_sources: Sources) -> None:
    matrix = build_training_matrix(synthetic_sources, LabelRules())

    assert not matrix.duplicated(["school_id", "student_id", "as_of"]).any()
    assert not matrix.duplicated(["person_id", "as_of"]).any()  # a child at one school a day
    assert (matrix["as_of"].dt.day_of_week == 0).all()
    assert (matrix["as_of"] >= matrix["term_start"]).all()
    assert (matrix["as_of"] <= matrix["term_end"]).all()
    assert {"sex", "nationality", "disability", "equity_status"} <= set(matrix.columns)
    assert set(matrix["as_of"].unique()) == set(weekly_as_of_dates(synthetic_sources))


def test_students_who_drop_out_are_absent_more_four_to_eight_weeks_before(
    synthetic_sources: Sources,
) -> None:
    matrix = build_training_matrix(synthetic_sources, LabelRules())
    lead = matrix["event_date"] - matrix["as_of"]
    leaving = matrix[
        (matrix["event_kind"] == "dropout_exit")
        & lead.between(pd.Timedelta(weeks=4), pd.Timedelta(weeks=8))
    ]
    staying = matrix[(matrix["label"] == 0) & matrix["mature"]]

    assert len(leaving) > 100
    assert leaving["absence_rate_20d"].mean() > 2 * staying["absence_rate_20d"].mean()
    assert leaving["absence_rate_term"].mean() > 1.5 * staying["absence_rate_term"].mean()
