"""The choice of the model's shape and number of trees on the rolling-origin folds.

Every shape is fitted once per fold with the most trees allowed, and its average
precision on the fold's validation period is read every few trees. One choice serves
all folds, so that no single period's noise decides: the simplest shape whose mean over
the folds is within 1% of the best, with the fewest trees near its own best. The folds
also give the out-of-sample scores that the calibration is fitted on, and the baselines'
scores the guards compare with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from riskmodel.ranking import TIE_BREAK
from training.baselines import ABCRule, logistic_regression
from training.config import Shape, TrainConfig
from training.evaluate import (
    FOUND_WEEKS,
    capacity_places,
    flag_places,
    found_share,
    precision_recall_at,
)
from training.model import CURVE_STEP, Fitter, lightgbm_params, raw_scores, validation_curve
from training.split import Fold, TemporalPlan

NEAR_BEST = 0.01  # relative: within 1% of the best mean average precision is a tie
# With when a leaver left and the lists' tie-break features: a fold's weekly lists are
# judged as the test period's, in the lists' own order, on how early they find leavers.
OUT_OF_FOLD_COLUMNS = [
    "student_id",
    "person_id",
    "as_of",
    "school_id",
    "term",
    "capacity",
    "label",
    "event_date",
    *TIE_BREAK,
]


@dataclass(frozen=True)
class Selection:
    """The chosen configuration and what the folds said about it."""

    shape: Shape
    trees: int
    tuned: bool  # False: too little history, the configured defaults were used
    curves: dict[str, np.ndarray]  # mean average precision every CURVE_STEP trees, by shape
    # Per fold and scorer: pr_auc, roc_auc, precision at capacity, found 8+ weeks ahead.
    fold_scores: pd.DataFrame
    out_of_fold: pd.DataFrame  # validation rows with each scorer's out-of-sample score

    @property
    def summary(self) -> pd.DataFrame:
        """Mean and spread over the folds of each scorer's scores."""
        scores = self.fold_scores.drop(columns="fold")
        return scores.groupby("scorer").agg(["mean", "std"])


def select(
    matrix: pd.DataFrame,
    plan: TemporalPlan,
    features: list[str],
    config: TrainConfig,
    fitter: Fitter,
) -> Selection:
    """Fit every shape on every fold; keep the best shape and number of trees."""
    shapes = config.model.shapes
    if not plan.tuned:
        # Too little history to choose: the default shape, trained where calibration can
        # still be fitted out of sample (the plan's stand-in fold).
        shapes = [next((s for s in shapes if s.name == "medium"), shapes[0])]
    rounds = config.model.trees or (config.model.max_trees if plan.tuned else 0)
    rounds = rounds or config.model.default_trees
    boosters = {}
    curves: dict[str, list[np.ndarray]] = {shape.name: [] for shape in shapes}
    for number, fold in enumerate(plan.folds):
        train = _thinned(matrix[fold.train], config.model.fold_week_stride)
        valid = matrix[fold.valid]
        for shape in shapes:
            params = lightgbm_params(features, config.model, shape, len(train))
            booster = fitter(train, features, params, rounds)
            boosters[number, shape.name] = booster
            curves[shape.name].append(validation_curve(booster, valid, features))
    mean_curves = {name: np.mean(_aligned(c), axis=0) for name, c in curves.items()}
    if config.model.trees or not plan.tuned:
        best_shape = max(mean_curves, key=lambda name: mean_curves[name][-1])
        trees = rounds
    else:
        best_shape, trees = _simplest_near_best(mean_curves, [s.name for s in shapes])
    shape = next(s for s in shapes if s.name == best_shape)
    out_of_fold, scores = [], []
    for number, fold in enumerate(plan.folds):
        valid = matrix[fold.valid]
        train = _thinned(matrix[fold.train], config.model.fold_week_stride)
        frame = _fold_scores(
            boosters[number, best_shape],
            trees,
            train,
            valid,
            features=features,
            config=config,
            number=number,
        )
        out_of_fold.append(frame)
        scores.extend(_judge(frame, fold, config.tiers.high_share))
    return Selection(
        shape, trees, plan.tuned, mean_curves, pd.DataFrame(scores), pd.concat(out_of_fold)
    )


def _simplest_near_best(
    curves: dict[str, np.ndarray], order: list[str], tolerance: float = NEAR_BEST
) -> tuple[str, int]:
    """The simplest shape (shapes are listed simplest first) whose best mean average
    precision is within ``tolerance`` of the best of all, with the fewest trees within
    half that of its own best. Differences that small are the folds' noise; the simpler
    model is steadier from one run to the next."""
    best = max(float(c.max()) for c in curves.values())
    name = next(n for n in order if float(curves[n].max()) >= (1 - tolerance) * best)
    curve = curves[name]
    enough = np.flatnonzero(curve >= (1 - tolerance / 2) * float(curve.max()))
    return name, (int(enough[0]) + 1) * CURVE_STEP


def _thinned(rows: pd.DataFrame, stride: int) -> pd.DataFrame:
    """Every ``stride``-th Monday: a student's consecutive weeks are nearly the same row."""
    if stride <= 1:
        return rows
    mondays = np.sort(rows["as_of"].unique())
    return rows[rows["as_of"].isin(mondays[::stride])]


def _aligned(curves: list[np.ndarray]) -> np.ndarray:
    length = min(len(c) for c in curves)
    return np.array([c[:length] for c in curves])


def _fold_scores(
    booster: object,
    trees: int,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    *,
    features: list[str],
    config: TrainConfig,
    number: int,
) -> pd.DataFrame:
    """Out-of-sample scores of the model and both baselines on one fold's validation."""
    logistic = logistic_regression(config.model.seed).fit(train[features], train["label"])
    frame = valid.reindex(columns=OUT_OF_FOLD_COLUMNS).copy()
    frame["fold"] = number
    frame["model"] = raw_scores(booster, valid, features, trees)  # type: ignore[arg-type]
    frame["logistic"] = logistic.decision_function(valid[features])
    frame["abc_rule"] = ABCRule().score(valid)
    return frame.reset_index(drop=True)


def _judge(frame: pd.DataFrame, fold: Fold, share: float) -> list[dict[str, object]]:
    labels = frame["label"].to_numpy()
    places = capacity_places(frame, share)
    records: list[dict[str, object]] = []
    for scorer in ("model", "logistic", "abc_rule"):
        score = frame[scorer].to_numpy()
        flagged = flag_places(score, frame[["as_of", "school_id"]], places, rows=frame)
        records.append(
            {
                "fold": fold.describe(),
                "scorer": scorer,
                "pr_auc": float(average_precision_score(labels, score)),
                "roc_auc": float(roc_auc_score(labels, score)),
                "precision_at_capacity": precision_recall_at(labels, flagged)[0],
                "found_8w": found_share(frame, score, places, weeks=FOUND_WEEKS[1]),
            }
        )
    return records
