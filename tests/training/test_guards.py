"""A model that cannot rank students never reaches a list: training says so, promotion
refuses, and nothing is served that flags everyone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from riskmodel.bundle import BundleError
from riskmodel.registry import CHAMPION, PROMOTIONS_EXPERIMENT, fetch_bundle
from tests.conftest import scratch_settings
from training import train as training
from training.config import GuardConfig, TrainConfig
from training.evaluate import Interval
from training.guards import Evidence, problems
from training.promote import promote


def _without_signal(matrix: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The same weeks, with each departure given to a student picked at random among
    those on the roll in the weeks before it (so as many leave, and when, as before)."""
    rng = np.random.default_rng(seed)
    horizon = pd.Timedelta(days=180)
    leavers = matrix.loc[matrix["label"] == 1].groupby("student_id")["event_date"].first()
    event: dict[str, pd.Timestamp] = {}
    for day in pd.to_datetime(leavers.to_numpy()):
        near = matrix["as_of"].between(day - horizon, day, inclusive="left")
        free = np.setdiff1d(matrix.loc[near, "student_id"].unique(), list(event))
        event[str(rng.choice(free))] = day
    dates = pd.to_datetime(matrix["student_id"].map(event))
    label = (dates > matrix["as_of"]) & (dates <= matrix["as_of"] + horizon)
    return matrix.assign(label=label.astype(int), event_date=dates.where(label))


@pytest.mark.slow
def test_a_data_set_with_no_signal_is_refused_with_a_clear_message(
    synthetic_engine: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = scratch_settings(synthetic_engine.url.render_as_string(), tmp_path)
    real = training.training_matrix
    monkeypatch.setattr(training, "training_matrix", lambda *args: _without_signal(real(*args)))

    result = training.train(settings, TrainConfig.load(), synthetic_engine)
    decision = promote(settings, synthetic_engine)

    assert result.problems, "a model without signal passed every guard"
    assert any("no better than" in p for p in result.problems)
    assert not decision.promoted
    assert any("failed a guard" in r for r in decision.reasons)
    with pytest.raises(BundleError, match="champion"):  # nothing is served at all
        fetch_bundle(settings.model_name, CHAMPION, tmp_path / "none")
    runs = mlflow.search_runs(experiment_names=[PROMOTIONS_EXPERIMENT])
    assert list(runs["tags.decision"]) == ["refused"]


def _evidence(**changes: object) -> Evidence:
    fields: dict[str, object] = {
        "trees": 120,
        "ranking": {"model": 0.20, "logistic": 0.15, "abc_rule": 0.05},
        "average_precision": {"model": 0.21, "logistic": 0.19, "abc_rule": 0.10},
        "ranking_source": "validation folds",
        "auc": Interval(0.76, 0.73, 0.79),
        "test_risk": np.linspace(0.001, 0.3, 500),
        "single_score_high_share": 0.05,
    }
    return Evidence(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"trees": 2}, "kept only 2 trees"),
        ({"auc": Interval(0.52, 0.47, 0.57)}, "no better than chance"),
        (  # no leaver told them apart: the average precision decides
            {"average_precision": {"model": 0.14, "logistic": 0.15}},
            "no better than the logistic",
        ),
        ({"test_risk": np.full(500, 0.2117)}, "only 1 different values"),
        ({"single_score_high_share": 0.9}, "90% of students in the high tier"),
    ],
)
def test_each_guard_says_in_plain_words_what_went_wrong(
    change: dict[str, object], words: str
) -> None:
    assert problems(_evidence(), GuardConfig()) == []

    found = problems(_evidence(**change), GuardConfig())

    assert len(found) == 1
    assert words in found[0]


def test_the_headline_decides_only_where_the_leavers_tell_two_scorers_apart() -> None:
    # Of 400 students who left, the model's lists found 120 of them 8+ weeks ahead and
    # the logistic's 80 (each found some the other missed); the logistic's average
    # precision is higher, as pooled over every school it can be.
    rng = np.random.default_rng(0)
    both = rng.permutation(np.r_[np.ones(70), np.zeros(330)])
    model = np.where(both == 1, 10.0, 0.0)
    logistic = model.copy()
    model[np.flatnonzero(both == 0)[:50]] = 10.0
    logistic[np.flatnonzero(both == 0)[50:60]] = 10.0
    apart = _evidence(
        ranking={"model": 0.30, "logistic": 0.20},
        average_precision={"model": 0.18, "logistic": 0.21},
        leads=pd.DataFrame({"model": model, "logistic": logistic}),
    )
    assert apart.better("model", "logistic")
    assert problems(apart, GuardConfig()) == []

    # Three students more (two found only by the model, five only by the other) are no
    # evidence: the average precision decides.
    close = model.copy()
    close[np.flatnonzero(model > 0)[:2]] = 0.0
    close[np.flatnonzero(model == 0)[:5]] = 10.0
    near = _evidence(
        ranking={"model": 0.30, "logistic": 0.31},
        average_precision={"model": 0.18, "logistic": 0.21},
        leads=pd.DataFrame({"model": model, "logistic": close}),
    )
    assert near.better("logistic", "model")
    assert any("no better than the logistic" in p for p in problems(near, GuardConfig()))
    reversed_precision = {"model": 0.21, "logistic": 0.18}
    assert replace(near, average_precision=reversed_precision).better("model", "logistic")
