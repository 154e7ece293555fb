"""LightGBM: the shapes searched, one fit, the validation curve, and seasonal calibration.

There is no early stopping: the number of trees and the shape are chosen on the
rolling-origin folds (``training.search``), then every fit trains exactly that many
trees. Directions known from the catalog become monotone constraints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score

from features.catalog import catalog
from riskmodel.bundle import Calibration, SeasonalCalibration
from training.config import ModelConfig, Shape

Fitter = Callable[[pd.DataFrame, list[str], dict[str, Any], int], lgb.Booster]
CURVE_STEP = 10  # the validation curve is read every this many trees
MIN_CALIBRATION_POSITIVES = 30


@dataclass(frozen=True)
class FittedModel:
    booster: lgb.Booster
    calibration: SeasonalCalibration
    trees: int


def lightgbm_params(
    features: list[str], config: ModelConfig, shape: Shape, rows: int
) -> dict[str, Any]:
    """Training parameters of one shape; leaves need a share of the rows, not a count."""
    entries = catalog()
    return {
        "objective": "binary",
        "num_leaves": shape.num_leaves,
        "max_depth": shape.max_depth,
        "min_child_samples": max(20, int(shape.min_leaf_share * rows)),
        "learning_rate": config.learning_rate,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": config.bagging_freq,
        "lambda_l2": config.lambda_l2,
        "monotone_constraints": [entries[f].monotone for f in features],
        "monotone_constraints_method": "intermediate",
        "seed": config.seed,
        "deterministic": True,
        "num_threads": 2,
        "verbosity": -1,
    }


def fit_booster(
    rows: pd.DataFrame, features: list[str], params: dict[str, Any], trees: int
) -> lgb.Booster:
    """Exactly ``trees`` rounds on ``rows`` (their ``label``) on this machine."""
    dataset = lgb.Dataset(rows[features].to_numpy(dtype=float), rows["label"].to_numpy())
    return lgb.train(params, dataset, num_boost_round=trees)


def raw_scores(
    booster: lgb.Booster, rows: pd.DataFrame, features: list[str], trees: int | None = None
) -> np.ndarray:
    """The model's log-odds for rows holding the input columns (the first ``trees``)."""
    return np.asarray(
        booster.predict(rows[features].to_numpy(dtype=float), raw_score=True, num_iteration=trees),
        dtype=float,
    )


Criterion = Callable[[pd.DataFrame, np.ndarray], float]  # rows with a label, their scores


def validation_curve(booster: lgb.Booster, rows: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Average precision on ``rows`` after every ``CURVE_STEP`` trees (index k: k+1 steps)."""
    return validation_curves(booster, rows, features, {"ap": average_precision})["ap"]


def validation_curves(
    booster: lgb.Booster, rows: pd.DataFrame, features: list[str], criteria: dict[str, Criterion]
) -> dict[str, np.ndarray]:
    """Each criterion on ``rows`` after every ``CURVE_STEP`` trees (index k: k+1 steps)."""
    x = rows[features].to_numpy(dtype=float)
    raw = np.zeros(len(x))
    points: dict[str, list[float]] = {name: [] for name in criteria}
    for start in range(0, booster.num_trees(), CURVE_STEP):
        raw += booster.predict(x, start_iteration=start, num_iteration=CURVE_STEP, raw_score=True)
        for name, criterion in criteria.items():
            points[name].append(criterion(rows, raw))
    return {name: np.array(values) for name, values in points.items()}


def average_precision(rows: pd.DataFrame, score: np.ndarray) -> float:
    """Average precision of ``score`` over all of ``rows`` (their ``label``)."""
    return float(average_precision_score(rows["label"].to_numpy(), score))


def calibrate(
    raw: np.ndarray, labels: np.ndarray, min_bin_rows: int = 200, max_bins: int = 400
) -> Calibration:
    """Isotonic regression of the outcome on the raw score, over equal-count bins.

    Fitting on single rows lets the extreme steps rest on a handful of students and
    declare a risk of 0 or 1; bins of at least ``min_bin_rows`` keep every step an
    observed rate among many students. Isotonic regression pools bins into flat steps,
    which would give hundreds of students one identical risk; each step is placed at the
    middle of its bins instead and the map runs straight between steps, so it stays
    monotone and students with different scores get different risks.
    """
    order = np.argsort(raw, kind="stable")
    bins = int(np.clip(len(raw) // min_bin_rows, 2, max_bins))
    parts = np.array_split(order, bins)
    centre = np.array([raw[p].mean() for p in parts])
    rate = np.array([labels[p].mean() for p in parts])
    weight = np.array([len(p) for p in parts], dtype=float)
    isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
        centre, rate, sample_weight=weight
    )
    points = isotonic.predict(centre)
    knots_x, knots_y, rows = [], [], []
    for level in np.unique(points):
        step = points == level
        knots_x.append(float(np.average(centre[step], weights=weight[step])))
        knots_y.append(float(level))
        rows.append(float(weight[step].sum()))
    return Calibration(knots_x, _never_certain(knots_y, rows))


def _never_certain(levels: list[float], rows: list[float]) -> list[float]:
    """No step says 0 or 1: nobody (or everybody) of n students leaving is read as a
    half of one student in n + 1, kept inside its neighbours so the map stays monotone."""
    levels = list(levels)
    if len(levels) > 1 and levels[0] == 0.0:
        levels[0] = min(0.5 / (rows[0] + 1), levels[1] / 2)
    if len(levels) > 1 and levels[-1] == 1.0:
        levels[-1] = max(1 - 0.5 / (rows[-1] + 1), (1 + levels[-2]) / 2)
    return levels


def seasonal_calibration(
    raw: np.ndarray, labels: np.ndarray, terms: np.ndarray
) -> SeasonalCalibration:
    """A calibration per term number where that season has enough students who left,
    and one over every term for the rest.

    The share who leave differs by season (term 2 ends the year, when non-continuation
    is counted), so a map fitted on the other term mis-states risk.

    Args:
        raw: out-of-sample raw scores (never from the rows a model was fitted on).
        labels: their outcomes.
        terms: the term number of each row.
    """
    by_term = {}
    for term in np.unique(terms):
        chosen = terms == term
        if labels[chosen].sum() >= MIN_CALIBRATION_POSITIVES:
            by_term[str(int(term))] = calibrate(raw[chosen], labels[chosen])
    return SeasonalCalibration(calibrate(raw, labels), by_term)
