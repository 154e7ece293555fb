"""The choice of the model's shape and number of trees on the rolling-origin folds.

Every shape is fitted once per fold with the most trees allowed, and its average
precision on the fold's validation period is read every few trees. One choice serves
all folds, so that no single period's noise decides. Each shape keeps the fewest trees
near its own best mean average precision; the shape is the simplest whose best is within
1% of the best of all, unless another shape's weekly lists find more of the folds'
students who left 8 or more weeks ahead (the headline, ``training.evaluate.finds_more``):
where the leavers tell two shapes apart, the lists decide. The folds also give the
out-of-sample scores that the calibration is fitted on, and the baselines' scores the
guards compare with.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from riskmodel.ranking import TIE_BREAK
from training.baselines import ABCRule, logistic_regression
from training.config import Shape, TrainConfig
from training.evaluate import (
    FOUND_WEEKS,
    capacity_places,
    finds_more,
    flag_places,
    found_share,
    leads,
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
    # By shape, at its own number of trees: the share of the folds' students who left that
    # its weekly lists found 8+ weeks ahead (empty when there was no choice to make).
    found_by_shape: dict[str, float]
    reason: str  # why this shape, in words (average precision, or the headline's figures)
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
    boosters: dict[tuple[int, str], lgb.Booster] = {}
    curves: dict[str, list[np.ndarray]] = {shape.name: [] for shape in shapes}
    valids = [matrix[fold.valid] for fold in plan.folds]
    for number, (fold, valid) in enumerate(zip(plan.folds, valids, strict=True)):
        train = thinned(matrix[fold.train], config.model.fold_week_stride)
        for shape in shapes:
            params = lightgbm_params(features, config.model, shape, len(train))
            booster = fitter(train, features, params, rounds)
            boosters[number, shape.name] = booster
            curves[shape.name].append(validation_curve(booster, valid, features))
    mean_curves = {name: np.mean(_aligned(c), axis=0) for name, c in curves.items()}
    frames = [_fold_frame(valid, number) for number, valid in enumerate(valids)]
    found: dict[str, float] = {}
    if config.model.trees or not plan.tuned:
        best_shape = max(mean_curves, key=lambda name: mean_curves[name][-1])
        trees = rounds
        reason = "the configured trees" if config.model.trees else "too little history: defaults"
    else:
        enough = {name: fewest_near_best(curve) for name, curve in mean_curves.items()}
        simplest = _simplest_near_best(mean_curves, [s.name for s in shapes])
        lead = {
            name: _shape_leads(
                [boosters[number, name] for number in range(len(plan.folds))],
                enough[name],
                frames=frames,
                valid=valids,
                features=features,
                share=config.tiers.high_share,
            )
            for name in mean_curves
        }
        found = {name: float((weeks >= FOUND_WEEKS[1]).mean()) for name, weeks in lead.items()}
        best_shape, reason = _by_headline(simplest, lead, found)
        trees = enough[best_shape]
    shape = next(s for s in shapes if s.name == best_shape)
    out_of_fold, scores = [], []
    for number, fold in enumerate(plan.folds):
        train = thinned(matrix[fold.train], config.model.fold_week_stride)
        frame = _fold_scores(
            boosters[number, best_shape],
            trees,
            train,
            valids[number],
            frame=frames[number],
            features=features,
            config=config,
        )
        out_of_fold.append(frame)
        scores.extend(_judge(frame, fold, config.tiers.high_share))
    return Selection(
        shape,
        trees,
        plan.tuned,
        mean_curves,
        found,
        reason,
        pd.DataFrame(scores),
        pd.concat(out_of_fold),
    )


def fold_leads(folds: list[pd.DataFrame], share: float, scorers: list[str]) -> pd.DataFrame:
    """Of each student who left during a fold, the weeks each scorer's home-visit plans
    (each school at its capacity a week, leaving out whom it visited in the last 30 days)
    took them ahead (``leads``): a row per fold and student, in the same order for every
    scorer."""
    parts = []
    for rows in folds:
        rows = rows.reset_index(drop=True)
        places = capacity_places(rows, share)
        parts.append(
            pd.DataFrame({name: leads(rows, rows[name].to_numpy(), places) for name in scorers})
        )
    return pd.concat(parts, ignore_index=True)


def _shape_leads(
    boosters: list[lgb.Booster],
    trees: int,
    *,
    frames: list[pd.DataFrame],
    valid: list[pd.DataFrame],
    features: list[str],
    share: float,
) -> pd.Series:
    """The folds' leads (``fold_leads``) of one shape's boosters with ``trees`` trees."""
    scored = [
        frame.assign(model=raw_scores(booster, rows, features, trees))
        for booster, frame, rows in zip(boosters, frames, valid, strict=True)
    ]
    return fold_leads(scored, share, ["model"])["model"]


def _by_headline(
    simplest: str, lead: dict[str, pd.Series], found: dict[str, float]
) -> tuple[str, str]:
    """The shape whose lists find significantly more of the folds' leavers 8+ weeks ahead
    than the simplest near the best average precision, the one finding most if several;
    else the simplest. Returns the shape and why, in words."""
    better = [
        name
        for name in lead
        if name != simplest and finds_more(lead[name].to_numpy(), lead[simplest].to_numpy())
    ]
    if not better:
        return simplest, "the simplest shape within 1% of the best mean average precision"
    chosen = max(better, key=lambda name: found[name])
    return chosen, (
        f"its home-visit plans found {found[chosen]:.1%} of the folds' students who left 8+ "
        f"weeks ahead, against the {simplest} shape's {found[simplest]:.1%}"
    )


def _simplest_near_best(
    curves: dict[str, np.ndarray], order: list[str], tolerance: float = NEAR_BEST
) -> str:
    """The simplest shape (shapes are listed simplest first) whose best mean average
    precision is within ``tolerance`` of the best of all. Differences that small are the
    folds' noise; the simpler model is steadier from one run to the next."""
    best = max(float(c.max()) for c in curves.values())
    return next(n for n in order if float(curves[n].max()) >= (1 - tolerance) * best)


def fewest_near_best(curve: np.ndarray, tolerance: float = NEAR_BEST) -> int:
    """The fewest trees whose value on a curve (mean average precision, in the search) is
    within half of ``tolerance`` of the curve's own best."""
    enough = np.flatnonzero(curve >= (1 - tolerance / 2) * float(curve.max()))
    return (int(enough[0]) + 1) * CURVE_STEP


def thinned(rows: pd.DataFrame, stride: int) -> pd.DataFrame:
    """Every ``stride``-th Monday: a student's consecutive weeks are nearly the same row."""
    if stride <= 1:
        return rows
    mondays = np.sort(rows["as_of"].unique())
    return rows[rows["as_of"].isin(mondays[::stride])]


def _aligned(curves: list[np.ndarray]) -> np.ndarray:
    length = min(len(c) for c in curves)
    return np.array([c[:length] for c in curves])


def _fold_frame(valid: pd.DataFrame, number: int) -> pd.DataFrame:
    """A fold's validation rows as the lists are judged on: who, when, and the tie-break."""
    frame = valid.reindex(columns=OUT_OF_FOLD_COLUMNS).copy()
    frame["fold"] = number
    return frame


def _fold_scores(
    booster: lgb.Booster,
    trees: int,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    *,
    frame: pd.DataFrame,
    features: list[str],
    config: TrainConfig,
) -> pd.DataFrame:
    """Out-of-sample scores of the model and both baselines on one fold's validation."""
    logistic = logistic_regression(config.model.seed).fit(train[features], train["label"])
    frame = frame.copy()
    frame["model"] = raw_scores(booster, valid, features, trees)
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
