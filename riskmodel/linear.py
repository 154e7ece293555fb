"""A logistic regression as a servable model: its numbers in JSON, its explanation exact.

Training fits scikit-learn's pipeline (median imputation with missing indicators,
standardisation, L2 logistic regression; ``training.baselines``) and writes here only
what scoring needs: the medians, the means and scales, the coefficients and the
intercept. Serving needs no scikit-learn and no pickle.

Each input's contribution is its coefficient times its distance from the training mean
on the model's (standardised) scale; a missing value's indicator is added to the input
it stands for. The base value is the intercept (the score of a student at every mean),
and base plus contributions is the raw score (log-odds) exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LinearModel:
    features: list[str]
    medians: np.ndarray  # (features,): what a missing value is imputed with
    indicators: list[int]  # feature positions that have a missing-value indicator
    means: np.ndarray  # (features + indicators,) on the imputed scale
    scales: np.ndarray  # (features + indicators,)
    coefficients: np.ndarray  # (features + indicators,)
    intercept: float

    def _design(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        matrix = np.asarray(matrix, dtype=float)
        missing = np.isnan(matrix)
        imputed = np.where(missing, self.medians, matrix)
        return np.hstack([imputed, missing[:, self.indicators].astype(float)]), missing

    def explain(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The raw score of each row and each input's exact contribution to it."""
        design, _ = self._design(matrix)
        terms = self.coefficients * (design - self.means) / self.scales
        contributions = terms[:, : len(self.features)].copy()
        for k, position in enumerate(self.indicators):
            contributions[:, position] += terms[:, len(self.features) + k]
        return self.intercept + terms.sum(axis=1), contributions

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        return self.explain(matrix)[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "logistic",
            "features": self.features,
            "medians": self.medians.tolist(),
            "indicators": self.indicators,
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "coefficients": self.coefficients.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> LinearModel:
        return cls(
            features=list(content["features"]),
            medians=np.asarray(content["medians"], dtype=float),
            indicators=[int(i) for i in content["indicators"]],
            means=np.asarray(content["means"], dtype=float),
            scales=np.asarray(content["scales"], dtype=float),
            coefficients=np.asarray(content["coefficients"], dtype=float),
            intercept=float(content["intercept"]),
        )

    @classmethod
    def from_pipeline(cls, pipeline: Any, features: list[str]) -> LinearModel:
        """From ``training.baselines.logistic_regression`` once fitted on ``features``."""
        imputer, scaler, regression = (step for _, step in pipeline.steps)
        medians = np.nan_to_num(np.asarray(imputer.statistics_, dtype=float), nan=0.0)
        indicators = (
            [int(i) for i in imputer.indicator_.features_] if imputer.indicator_ is not None else []
        )
        scales = np.asarray(scaler.scale_, dtype=float)
        return cls(
            features=list(features),
            medians=medians,
            indicators=indicators,
            means=np.asarray(scaler.mean_, dtype=float),
            scales=np.where(scales == 0, 1.0, scales),
            coefficients=np.asarray(regression.coef_[0], dtype=float),
            intercept=float(regression.intercept_[0]),
        )
