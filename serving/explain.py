"""Exact TreeSHAP explanations of the raw score (log-odds).

The base value plus the contributions equals the raw score. LightGBM's own TreeSHAP
(``pred_contrib``) is exact; it is not safe to call concurrently on one booster, so calls
are serialised.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from features.model_bundle import ModelBundle


@dataclass(frozen=True)
class Explanation:
    raw_score: np.ndarray  # (n,)
    base_value: np.ndarray  # (n,)
    contributions: np.ndarray  # (n, features)


class Explainer:
    """Thread-safe exact explanations for one model."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle
        self._lock = threading.Lock()

    def explain(self, matrix: np.ndarray) -> Explanation:
        with self._lock:
            values = np.asarray(self.bundle.booster.predict(matrix, pred_contrib=True), dtype=float)
            raw = np.asarray(self.bundle.booster.predict(matrix, raw_score=True), dtype=float)
        return Explanation(raw_score=raw, base_value=values[:, -1], contributions=values[:, :-1])
