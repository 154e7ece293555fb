"""The logistic model and the ABC rule explain themselves exactly, and travel as JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskmodel.bundle import Calibration, ModelBundle, SeasonalCalibration, TierPolicy
from riskmodel.explain import Explainer
from riskmodel.linear import LinearModel
from riskmodel.rules import RULE_INPUTS, ABCRule, RuleThresholds
from training.baselines import logistic_regression


def _rows(n: int, seed: int = 0) -> pd.DataFrame:
    random = np.random.default_rng(seed)
    frame = pd.DataFrame(random.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    frame.loc[random.random(n) < 0.2, "b"] = np.nan  # a missing-value indicator is learnt
    frame["d"] = 3.0  # a constant input
    return frame


def test_logistic_contributions_add_up_to_sklearns_log_odds() -> None:
    rows = _rows(800)
    label = (
        rows["a"].fillna(0) + 0.5 * rows["b"].isna() + np.random.default_rng(1).normal(size=800)
        > 0.3
    )
    features = list(rows.columns)
    pipeline = logistic_regression(0).fit(rows, label.astype(int))
    model = LinearModel.from_pipeline(pipeline, features)
    assert model.indicators == [1]

    fresh = _rows(300, seed=2)
    raw, contributions = model.explain(fresh.to_numpy())
    expected = pipeline.decision_function(fresh)
    np.testing.assert_allclose(raw, expected, atol=1e-9)
    np.testing.assert_allclose(model.intercept + contributions.sum(axis=1), raw, atol=1e-6)
    # The constant input is at its mean everywhere: it contributes nothing.
    assert np.abs(contributions[:, 3]).max() < 1e-12
    # A missing value's indicator is counted in its own input's contribution.
    missing = np.isnan(fresh["b"].to_numpy())
    assert np.abs(contributions[missing, 1]).min() > 0


def test_abc_rule_names_each_flag_and_sums_to_its_score() -> None:
    rule = ABCRule(RuleThresholds(absence_rate_term=0.2))
    values = dict.fromkeys(RULE_INPUTS, np.nan)
    nobody = dict(values)
    absent = values | {"absence_rate_term": 0.5, "absent_days_20d": 9.0}
    everything = absent | {"sdq_total": 20.0, "gpa_last_term": 1.0, "failed_subjects_last_term": 2}
    below = values | {"absence_rate_term": 0.15}  # under this school's threshold of 0.2
    matrix = pd.DataFrame([nobody, absent, everything, below])[RULE_INPUTS].to_numpy(dtype=float)

    raw, contributions = rule.explain(matrix)
    np.testing.assert_allclose(contributions.sum(axis=1), raw, atol=1e-12)
    # The flags, a hundredth of the absence rate, a ten-thousandth of the GPA shortfall.
    np.testing.assert_allclose(raw, [0, 1.005, 3.005075, 0.0015], rtol=0, atol=1e-12)
    flags = rule.flags(matrix)
    assert flags.sum(axis=1).tolist() == [0, 1, 3, 0]
    # Both attendance conditions fired: the flag is shared between them.
    a = RULE_INPUTS.index("absence_rate_term")
    d = RULE_INPUTS.index("absent_days_20d")
    assert contributions[1, d] == 0.5
    assert abs(contributions[1, a] - 0.505) < 1e-12
    # Only the GPA and the failed subjects fired the course flag.
    course = [RULE_INPUTS.index(n) for n in ("gpa_last_term", "failed_subjects_last_term")]
    np.testing.assert_allclose(contributions[2, course], [0.500075, 0.5], rtol=0, atol=1e-12)


def test_the_abc_rule_orders_students_with_the_same_flags_by_absence_then_by_grades() -> None:
    """Without attendance (a college that keeps none), or with the same absence rate, the
    student whose grades fell lowest last term comes first; grades never outrank a flag
    or more absence."""
    values = dict.fromkeys(RULE_INPUTS, np.nan)
    rows = pd.DataFrame(
        [
            values | {"gpa_last_term": 2.5},  # no flag
            values | {"gpa_last_term": 1.6},  # no flag, lower grades
            values | {"gpa_last_term": 0.0},  # the course flag
            values | {"gpa_last_term": 1.4, "absence_rate_term": 0.05},  # the course flag
            values | {"gpa_last_term": 1.0, "absence_rate_term": 0.05},  # and lower grades
            values | {"gpa_last_term": 4.0, "absence_rate_term": 0.1, "sdq_total": 20},  # two
        ]
    )
    scores = ABCRule().score(rows)
    assert np.argsort(-scores, kind="stable").tolist() == [5, 4, 3, 2, 1, 0]
    flags = ABCRule().flags(rows[RULE_INPUTS].to_numpy(dtype=float)).sum(axis=1)
    assert flags.tolist() == [0, 0, 1, 1, 1, 2]


def test_a_child_the_register_has_gone_on_without_raises_the_attendance_flag() -> None:
    """Records that stopped more than a school week ago leave no count over recent days
    (``features.attendance``); the rule flags the days without a record instead, and
    only past a school week (a late register for a day or two is no sign)."""
    values = dict.fromkeys(RULE_INPUTS, np.nan)
    rows = pd.DataFrame(
        [
            values | {"absence_rate_term": 0.04, "school_days_unrecorded": 5.0},
            values | {"absence_rate_term": 0.04, "school_days_unrecorded": 23.0},
        ]
    )
    flags = ABCRule().flags(rows[RULE_INPUTS].to_numpy(dtype=float))
    assert flags["attendance"].tolist() == [False, True]


def test_a_rule_an_earlier_version_saved_ranks_as_it_did(tmp_path: Path) -> None:
    """A registered rule saved before ``school_days_unrecorded`` has nine inputs: its
    bundle loads and ranks on them, where refusing it would stop every weekly run after
    an upgrade."""
    earlier = [name for name in RULE_INPUTS if name != "school_days_unrecorded"]
    saved = ABCRule().to_json() | {"inputs": earlier}  # as the version before wrote it
    calibration = SeasonalCalibration(Calibration([0.0, 3.0], [0.0, 1.0]))
    tiers = TierPolicy(0.05, 0.15, 0.1, 0.8, 0.5)
    bundle = ModelBundle(
        ABCRule.from_json(saved), earlier, calibration, {}, tiers, metadata={"kind": "abc_rule"}
    )
    loaded = ModelBundle.load(bundle.save(tmp_path / "earlier-rule"))
    rule = loaded.model
    assert isinstance(rule, ABCRule)
    assert list(rule.inputs) == loaded.features == earlier
    values = dict.fromkeys(RULE_INPUTS, np.nan)
    rows = pd.DataFrame(
        [
            values | {"absence_rate_term": 0.5, "sdq_total": 20.0, "school_days_unrecorded": 30},
            values | {"absence_rate_term": 0.01, "school_days_unrecorded": 30.0},
        ]
    )
    raw, contributions = rule.explain(rows[earlier].to_numpy(dtype=float))
    np.testing.assert_allclose(raw, [2.005, 0.0001], rtol=0, atol=1e-12)
    np.testing.assert_allclose(contributions.sum(axis=1), raw, atol=1e-12)
    assert rule.score(rows).tolist() == raw.tolist()
    assert ABCRule.from_json(rule.to_json()) == rule
    with pytest.raises(ValueError, match="shoe_size"):
        ABCRule.from_json(saved | {"inputs": [*earlier, "shoe_size"]})
    with pytest.raises(ValueError, match="out of order"):
        ABCRule.from_json(saved | {"inputs": earlier[::-1]})


def test_json_models_are_saved_loaded_and_explained_like_a_booster(tmp_path: Path) -> None:
    rows = _rows(500)
    pipeline = logistic_regression(0).fit(rows, (rows["a"] > 0).astype(int))
    calibration = SeasonalCalibration(Calibration([-5.0, 5.0], [0.0, 1.0]))
    tiers = TierPolicy(0.05, 0.15, 0.1, 0.8, 0.5)
    for model, features in (
        (LinearModel.from_pipeline(pipeline, list(rows.columns)), list(rows.columns)),
        (ABCRule(), RULE_INPUTS),
    ):
        kind = "logistic" if isinstance(model, LinearModel) else "abc_rule"
        bundle = ModelBundle(model, features, calibration, {}, tiers, metadata={"kind": kind})
        loaded = ModelBundle.load(bundle.save(tmp_path / kind))
        assert loaded.kind == kind
        assert not list((tmp_path / kind).glob("*.txt")), "no LightGBM file, no pickle"
        matrix = np.random.default_rng(3).normal(size=(50, len(features)))
        explanation = Explainer(loaded).explain(matrix)
        np.testing.assert_allclose(
            explanation.base_value + explanation.contributions.sum(axis=1),
            explanation.raw_score,
            atol=1e-6,
        )
        np.testing.assert_allclose(Explainer(bundle).raw_scores(matrix), explanation.raw_score)
