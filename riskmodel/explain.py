"""Exact explanations of the raw score, whatever the kind of model.

The base value plus the contributions equals the raw score. A logistic model and the ABC
rule explain themselves exactly (``riskmodel.linear``, ``riskmodel.rules``). For
LightGBM, the raw score is the log-odds and the contributions come from
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
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from riskmodel.bundle import ModelBundle
from riskmodel.linear import LinearModel
from riskmodel.rules import ABCRule
from riskmodel.treeshap import FastTreeShap

if TYPE_CHECKING:
    import lightgbm as lgb


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
        # A logistic model or the rule: exact by itself, thread-safe, no tables to build.
        self.itself: LinearModel | ABCRule | None = None
        self.fast: FastTreeShap | None = None
        if isinstance(bundle.model, LinearModel | ABCRule):
            self.itself = bundle.model
            return
        try:
            self.fast = FastTreeShap(bundle.model)
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
        if self.fast is None or self.itself is not None:
            return self
        copy = Explainer.__new__(Explainer)
        copy.__setstate__(self.__getstate__() | {"bundle": self.bundle.without_trees()})
        return copy

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        """``explain(matrix).raw_score``, the same values, without the contributions."""
        if self.itself is not None:
            return self.itself.raw_scores(matrix)
        if self.fast is not None:
            return self.fast.raw_scores(matrix)
        with self._lock:
            return np.asarray(self._booster().predict(matrix, raw_score=True), dtype=float)

    def explain(self, matrix: np.ndarray) -> Explanation:
        if self.itself is not None:
            raw, contributions = self.itself.explain(matrix)
            base = np.full(len(matrix), self._base_value())
            return Explanation(raw_score=raw, base_value=base, contributions=contributions)
        if self.fast is not None:
            raw, contributions = self.fast.explain(matrix)
            base = np.empty(len(matrix))
            base.fill(self.fast.expected_value)
            return Explanation(raw_score=raw, base_value=base, contributions=contributions)
        booster = self._booster()
        with self._lock:
            values = np.asarray(booster.predict(matrix, pred_contrib=True), dtype=float)
            raw = np.asarray(booster.predict(matrix, raw_score=True), dtype=float)
        return Explanation(raw_score=raw, base_value=values[:, -1], contributions=values[:, :-1])

    def _base_value(self) -> float:
        return self.itself.intercept if isinstance(self.itself, LinearModel) else 0.0

    def _booster(self) -> lgb.Booster:
        return cast("lgb.Booster", self.bundle.model)
