"""A home visit's expected benefit for each student, as ``ews effects`` estimated it.

A visit cannot help every kind of leaving: a family that moves away (DMC reason 2) does
not stay for a visit. So the benefit of a visit is

    benefit = a - sigmoid(logit(a) + tau)

- ``a``: the student's chance of leaving within the horizon for a reason a visit can
  address (any dropout but a move away), from the same as-of features as the risk
  model: a small LightGBM model that ``ews effects`` trains;
- ``tau``: a visit's effect on the log-odds of such leaving, one number, estimated among
  the students who were visited against the chance each would have had without it.

The records of a few hundred visits cannot tell apart how the effect varies from group
to group, so ``tau`` is one number and the benefit varies through ``a``. The file holds
the model and aggregate figures only: no student.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import lightgbm as lgb
import numpy as np

BENEFIT_FILE = "visit_benefit.json"  # beside the effects table of an effects run
CANNOT_PREVENT = (2,)  # DMC reasons a home visit cannot change: the family moved away


@dataclass(frozen=True)
class StudentBenefit:
    addressable: float  # chance of leaving for a reason a visit can address
    benefit: float  # how much a visit lowers the chance of leaving
    drivers: list[str]  # features that raise the addressable chance most, strongest first


@dataclass(frozen=True)
class VisitBenefit:
    features: list[str]
    model: str  # LightGBM model text of the addressable chance
    log_odds_effect: float  # tau
    effect: float  # the home-visit estimate among the visited (change in chance)
    low: float
    high: float
    horizon_days: int
    made_at: str
    run_id: str | None = None

    @cached_property
    def booster(self) -> lgb.Booster:
        return lgb.Booster(model_str=self.model)

    def matrix(self, values: Sequence[Mapping[str, float | None]]) -> np.ndarray:
        """Model inputs of each student (NaN where a value is unknown or not given)."""
        matrix = np.full((len(values), len(self.features)), np.nan)
        for i, row in enumerate(values):
            for j, feature in enumerate(self.features):
                value = row.get(feature)
                if value is not None:
                    matrix[i, j] = value
        return matrix

    def addressable(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(matrix), dtype=float)

    def benefit(self, addressable: np.ndarray) -> np.ndarray:
        """How much a visit lowers each chance (positive: fewer leave)."""
        a = np.clip(addressable, 1e-6, 1 - 1e-6)
        return np.asarray(a - _sigmoid(np.log(a / (1 - a)) + self.log_odds_effect))

    def estimate(
        self, values: Sequence[Mapping[str, float | None]], drivers: int = 3
    ) -> list[StudentBenefit]:
        """Each student's addressable chance, a visit's benefit, and what drives it."""
        if not values:
            return []
        matrix = self.matrix(values)
        a = self.addressable(matrix)
        gain = self.benefit(a)
        contributions = np.asarray(self.booster.predict(matrix, pred_contrib=True))[:, :-1]
        found = []
        for i in range(len(values)):
            order = np.argsort(-contributions[i])[:drivers]
            named = [self.features[j] for j in order if contributions[i, j] > 0]
            found.append(StudentBenefit(float(a[i]), float(gain[i]), named))
        return found

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> VisitBenefit:
        return cls(**json.loads(text))

    @classmethod
    def read(cls, path: Path) -> VisitBenefit:
        return cls.from_json(path.read_text(encoding="utf-8"))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-x)))
