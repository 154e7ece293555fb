"""Exact TreeSHAP explanations of the raw score (log-odds).

The base value plus the contributions equals the raw score. The contributions come from
the precomputed exact TreeSHAP in ``riskmodel.treeshap`` (thread-safe, several times
faster than LightGBM's ``pred_contrib``); the raw score from the same pass, as the sum of
the leaf values each row reaches (not from the contributions: tests check both against
LightGBM, and that they add up). A model the fast path does not
support (categorical splits) falls back to ``pred_contrib``, which is not safe to call
concurrently and is serialised.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from riskmodel.bundle import ModelBundle
from riskmodel.treeshap import FastTreeShap


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
        try:
            self.fast: FastTreeShap | None = FastTreeShap(bundle.booster)
        except NotImplementedError:
            self.fast = None

    def __getstate__(self) -> dict[str, Any]:
        # Sent to Dask workers with the model; a lock does not travel, each copy makes one.
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def travelling(self) -> Explainer:
        """A copy to send to workers: without the LightGBM trees when the tables built
        from them explain (``ModelBundle.without_trees``), else this one."""
        if self.fast is None:
            return self
        copy = Explainer.__new__(Explainer)
        copy.__setstate__(self.__getstate__() | {"bundle": self.bundle.without_trees()})
        return copy

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        """``explain(matrix).raw_score``, the same values, without the contributions."""
        if self.fast is not None:
            return self.fast.raw_scores(matrix)
        with self._lock:
            return np.asarray(self.bundle.booster.predict(matrix, raw_score=True), dtype=float)

    def explain(self, matrix: np.ndarray) -> Explanation:
        if self.fast is not None:
            raw, contributions = self.fast.explain(matrix)
            base = np.empty(len(matrix))
            base.fill(self.fast.expected_value)
            return Explanation(raw_score=raw, base_value=base, contributions=contributions)
        booster = self.bundle.booster
        with self._lock:
            values = np.asarray(booster.predict(matrix, pred_contrib=True), dtype=float)
            raw = np.asarray(booster.predict(matrix, raw_score=True), dtype=float)
        return Explanation(raw_score=raw, base_value=values[:, -1], contributions=values[:, :-1])
