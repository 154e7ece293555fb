"""Intervention effects: the doubly robust estimator finds a known effect, finds nothing
when help does nothing, and says when it cannot tell."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.sources import Sources
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from synth import SynthConfig, generate, write_directory
from training.effects import (
    MIN_TREATED,
    _log_odds_shift,
    e_value,
    estimate,
    fit_visit_benefit,
    study,
)
from training.labels import LabelRules
from training.matrix import build_training_matrix

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


def test_on_generated_school_records_every_estimate_holds_the_simulated_effect(
    tmp_path: Path,
) -> None:
    """The simulator's schools act on what their records show; every type with enough
    records gets an interval holding the effect the simulator applied."""
    data = tmp_path / "data"
    write_directory(generate(SynthConfig(schools=8, students=4000, seed=1, defect_rate=0)), data)
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    ingest_directory(data, engine, "test-key", None)
    sources = Sources.from_database(engine)
    matrix = build_training_matrix(sources, LabelRules(180))

    report = study(sources, matrix, 180, data / "truth" / "effects.csv")

    estimated = [e for e in report.effects if e.low is not None]
    assert estimated
    for found in estimated:
        assert found.covers(report.simulated[found.type]), found
    table = report.table()
    assert not table.isin(set(matrix["student_id"])).any().any()  # aggregates only
    visits = pd.read_csv(data / "truth" / "visits.csv")
    assert (visits["visit_effect_on_chance"] <= 0).all()
    assert visits["chance_without_help"].between(0, 1).all()


def test_the_e_value_says_how_strong_an_unrecorded_reason_would_need_to_be() -> None:
    assert e_value(0.10, -0.05, 0.01) == 1.0  # the interval holds no effect
    # Treated left at 10% against 20% without: a risk ratio of 2 at the nearer end.
    assert e_value(0.10, -0.15, -0.10) == pytest.approx(2 + math.sqrt(2))


def test_the_visit_shift_is_recovered_and_no_benefit_order_without_a_helpful_visit() -> None:
    rng = np.random.default_rng(0)
    offset = rng.normal(-2.5, 1.0, 50_000)
    labels = (rng.random(50_000) < 1 / (1 + np.exp(-(offset - 0.6)))).astype(float)
    assert _log_odds_shift(offset, labels) == pytest.approx(-0.6, abs=0.05)

    rows, _ = _records(0.0)
    found = estimate(rows, "home_visit", FEATURES)
    benefit, why = fit_visit_benefit(None, rows, rows, FEATURES, found, 180)  # type: ignore[arg-type]
    assert benefit is None
    assert "does not exclude no effect" in why or "not usable" in why
