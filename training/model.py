"""LightGBM with monotone constraints, early stopping on validation, isotonic calibration."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from features.catalog import catalog
from riskmodel.bundle import Calibration
from training.config import ModelConfig


@dataclass(frozen=True)
class FittedModel:
    booster: lgb.Booster
    calibration: Calibration
    best_iteration: int


def lightgbm_params(features: list[str], config: ModelConfig) -> dict[str, object]:
    """Training parameters; directions known from the catalog become monotone constraints."""
    entries = catalog()
    return {
        "objective": "binary",
        "metric": ["average_precision", "auc"],
        "num_leaves": config.num_leaves,
        "max_depth": config.max_depth,
        "learning_rate": config.learning_rate,
        "min_child_samples": config.min_child_samples,
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


def fit_model(
    train: pd.DataFrame, valid: pd.DataFrame, features: list[str], config: ModelConfig
) -> FittedModel:
    """Train on ``train``, stop early and calibrate on ``valid``."""
    params = lightgbm_params(features, config)
    train_set = lgb.Dataset(
        train[features].to_numpy(dtype=float),
        train["label"].to_numpy(),
        feature_name=features,
        free_raw_data=False,
    )
    valid_set = lgb.Dataset(
        valid[features].to_numpy(dtype=float), valid["label"].to_numpy(), reference=train_set
    )
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.num_boost_round,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[
            lgb.early_stopping(config.early_stopping_rounds, first_metric_only=True, verbose=False)
        ],
    )
    raw = raw_scores(booster, valid, features)
    return FittedModel(booster, calibrate(raw, valid["label"].to_numpy()), booster.best_iteration)


def raw_scores(booster: lgb.Booster, rows: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The model's log-odds for rows holding the input columns."""
    return np.asarray(
        booster.predict(rows[features].to_numpy(dtype=float), raw_score=True), dtype=float
    )


def calibrate(
    raw: np.ndarray, labels: np.ndarray, min_bin_rows: int = 200, max_bins: int = 100
) -> Calibration:
    """Isotonic regression of the outcome on the raw score, over equal-count bins.

    Fitting on single rows lets the extreme steps rest on a handful of students and
    declare a risk of 0 or 1; bins of at least ``min_bin_rows`` keep every step an
    observed rate among many students. The map stays monotone in the raw score.
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
    return Calibration([float(x) for x in centre], [float(y) for y in points])
