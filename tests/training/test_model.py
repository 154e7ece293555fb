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
