"""Calibration of the model's raw score."""

from __future__ import annotations

import numpy as np

from training.model import calibrate


def test_calibration_never_claims_certainty_from_a_few_students() -> None:
    rng = np.random.default_rng(0)
    raw = rng.normal(size=20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-(raw * 1.5 - 4)))).astype(int)
    raw[-3:] = 9.0  # three extreme students who all left
    labels[-3:] = 1
    calibration = calibrate(raw, labels)
    risk = calibration.apply(np.array([-5.0, 0.0, 2.0, 9.0]))

    assert np.all(np.diff(risk) >= 0)  # monotone
    assert risk[-1] < 0.9  # three students do not make a certainty
    observed = labels[raw > 1.5].mean()
    assert abs(calibration.apply(raw[raw > 1.5]).mean() - observed) < 0.05


def test_nobody_gets_a_risk_of_zero_because_nobody_like_them_left_yet() -> None:
    rng = np.random.default_rng(1)
    raw = rng.normal(size=20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-(raw * 2 - 5)))).astype(int)
    labels[raw < -0.5] = 0  # the lowest scores: not one leaver among thousands
    calibration = calibrate(raw, labels)
    risk = calibration.apply(np.array([-4.0, -1.0, 0.0, 3.0]))

    assert risk[0] > 0
    assert risk[0] < 0.5 / ((raw < -0.5).sum() / 2)  # at most half a student in the step
    assert np.all(np.diff(risk) >= 0)


def test_students_past_the_last_step_still_show_different_risks() -> None:
    from riskmodel.bundle import TAIL_SHARE, TierPolicy

    rng = np.random.default_rng(2)
    raw = rng.normal(size=20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-(raw * 3 - 1)))).astype(int)
    calibration = calibrate(raw, labels)
    top, last = calibration.probabilities[-1], calibration.raw_points[-1]
    beyond = np.sort(raw[raw > last])
    assert len(beyond) > 50  # a list's first places lie past the last step

    risk = calibration.apply(beyond)
    assert np.all(np.diff(risk) > 0)  # different scores, different risks
    assert risk.min() > top
    assert risk.max() <= top + TAIL_SHARE * (1 - top)
    # So a school's first places are not all tied, and its high tier fills them.
    school = np.sort(raw)[-1_000:]
    tiers = TierPolicy(0.05, 0.15, 0.1, 0.5, 0.3, high_floor=0.3)
    chosen = tiers.by_rank(
        calibration.apply(school), np.arange(1_000, 0, -1), np.full(1_000, 1_000)
    )
    assert (chosen == "high").sum() == 50
