"""Intervention effects: the doubly robust estimator finds a known effect, finds nothing
when help does nothing, and says when it cannot tell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.effects import MIN_TREATED, estimate

FEATURES = ["absence", "poverty", "grades"]


def _records(effect: float, students: int = 12_000, seed: int = 1) -> tuple[pd.DataFrame, float]:
    """Students chosen for help on what the records show (confounded: the chosen are
    riskier), with a known effect on the chance of leaving. Returns rows and the true ATT."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(students, 3))
    x[rng.random(students) < 0.1, 1] = np.nan  # a survey not done
    risk_logit = -3.2 + 0.9 * x[:, 0] + 0.6 * np.nan_to_num(x[:, 1]) - 0.5 * x[:, 2]
    chosen_logit = -2.0 + 1.2 * x[:, 0] + 0.8 * np.nan_to_num(x[:, 1])
    treated = rng.random(students) < 1 / (1 + np.exp(-chosen_logit))
    base = 1 / (1 + np.exp(-risk_logit))
    helped = 1 / (1 + np.exp(-(risk_logit + effect)))
    chance = np.where(treated, helped, base)
    left = rng.random(students) < chance
    rows = pd.DataFrame(x, columns=FEATURES).assign(
        student_id=[f"S{i}" for i in range(students)],
        type=np.where(treated, "home_visit", None),
        label=left.astype(int),
    )
    return rows, float((helped - base)[treated].mean())


@pytest.mark.parametrize("effect", [-0.8, 0.0])
def test_the_interval_holds_the_true_effect_and_zero_when_help_does_nothing(
    effect: float,
) -> None:
    rows, truth = _records(effect)
    naive = (
        rows.loc[rows["type"].notna(), "label"].mean()
        - rows.loc[rows["type"].isna(), "label"].mean()
    )

    found = estimate(rows, "home_visit", FEATURES)

    assert found.low is not None
    assert found.high is not None
    assert found.covers(truth)
    assert naive > truth + 0.03  # the confounding the estimator had to undo
    if effect == 0.0:
        assert found.covers(0.0)
    else:
        assert found.high < 0  # a real effect is found
    assert found.outside_overlap < 0.1


def test_too_few_helped_students_give_no_estimate_and_say_why() -> None:
    rows, _ = _records(-0.8, students=2_000)
    few = pd.concat([rows[rows["type"].isna()], rows[rows["type"].notna()].head(MIN_TREATED - 1)])

    found = estimate(few, "home_visit", FEATURES)

    assert found.effect is None
    assert not found.usable
    assert "too few" in found.why
