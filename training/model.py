"""LightGBM with monotone constraints, early stopping on validation, isotonic calibration."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from features.catalog import catalog
from features.model_bundle import Calibration
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


def calibrate(raw: np.ndarray, labels: np.ndarray) -> Calibration:
    """Isotonic regression of the label on the raw score, kept as its breakpoints."""
    isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, labels)
    return Calibration(
        [float(x) for x in isotonic.X_thresholds_], [float(y) for y in isotonic.y_thresholds_]
    )
