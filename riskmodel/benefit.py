"""A home visit's expected benefit for each student, as ``ews effects`` estimated it.

A visit cannot help every kind of leaving: a family that moves away (DMC reason 2) does
not stay for a visit. So the benefit of a visit is

    benefit = a - sigmoid(logit(a) + tau)

- ``a``: the student's chance of leaving within the horizon for a reason a visit can
  address (any dropout but a move away), from the same as-of features as the risk
  model: a small LightGBM model that ``ews effects`` trains;
- ``tau``: a visit's effect on the log-odds of such leaving: the shift that, applied to
  the visited students' addressable chances, gives the doubly robust estimate of what
  visits did for them (``training.effects``).

A visit is meant for attendance and family trouble (DOMAIN.md: the home visit of the
student care system), and may help those students more. When the records tell the two
groups apart (no one log-odds shift fits both groups' estimates at the 95% level), ``tau``
is one number for students with attendance or family trouble (``TROUBLE_FLAGS``) and one
for the others; otherwise one number for everyone, and the benefit varies through ``a``
alone. The file
holds the model and aggregate figures only: no student.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb

BENEFIT_FILE = "visit_benefit.json"  # beside the effects table of an effects run
CANNOT_PREVENT = (2,)  # DMC reasons a home visit cannot change: the family moved away
# Inputs that mark attendance or family trouble: a student with any of them at 1 is in
# the group a visit may help more.
TROUBLE_FLAGS = ("attendance_below_80pct_term", "lives_without_parents")


@dataclass(frozen=True)
class StudentBenefit:
    addressable: float  # chance of leaving for a reason a visit can address
    benefit: float  # how much a visit lowers the chance of leaving
    # The trouble flags set when a visit helps that group more, then the features that
    # raise the addressable chance most, strongest first.
    drivers: list[str]


@dataclass(frozen=True)
class VisitBenefit:
    features: list[str]
    model: str  # LightGBM model text of the addressable chance
    log_odds_effect: float  # tau: everyone's, or the others' when the groups differ
    effect: float  # the home-visit estimate among the visited (change in chance)
    low: float
    high: float
    horizon_days: int
    made_at: str
    run_id: str | None = None
    # tau of students with attendance or family trouble, when the records tell it apart
    # from the others' (None: one tau for everyone; files made before it have none).
    trouble_log_odds_effect: float | None = None

    @cached_property
    def booster(self) -> lgb.Booster:
        import lightgbm as lgb

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

    def trouble(self, matrix: np.ndarray) -> np.ndarray:
        return trouble_of(matrix, self.features)

    def benefit(self, addressable: np.ndarray, trouble: np.ndarray | None = None) -> np.ndarray:
        """How much a visit lowers each chance (positive: fewer leave); ``trouble`` says
        who is in the group with its own effect, when there is one."""
        a = np.clip(addressable, 1e-6, 1 - 1e-6)
        tau = np.full(len(a), self.log_odds_effect)
        if self.trouble_log_odds_effect is not None and trouble is not None:
            tau[trouble] = self.trouble_log_odds_effect
        return np.asarray(a - _sigmoid(np.log(a / (1 - a)) + tau))

    def order(self, matrix: np.ndarray) -> np.ndarray:
        """Each student's benefit from a visit, from the model inputs."""
        return self.benefit(self.addressable(matrix), self.trouble(matrix))

    def estimate(
        self, values: Sequence[Mapping[str, float | None]], drivers: int = 3
    ) -> list[StudentBenefit]:
        """Each student's addressable chance, a visit's benefit, and what drives it."""
        if not values:
            return []
        matrix = self.matrix(values)
        a = self.addressable(matrix)
        trouble = self.trouble(matrix)
        gain = self.benefit(a, trouble)
        contributions = np.asarray(self.booster.predict(matrix, pred_contrib=True))[:, :-1]
        helps_more = (
            self.trouble_log_odds_effect is not None
            and self.trouble_log_odds_effect < self.log_odds_effect
        )
        found = []
        for i in range(len(values)):
            flags = [
                f
                for f in TROUBLE_FLAGS
                if helps_more and f in self.features and matrix[i, self.features.index(f)] > 0
            ]
            order = np.argsort(-contributions[i])
            named = [self.features[j] for j in order if contributions[i, j] > 0]
            named = [f for f in named if f not in flags]
            found.append(StudentBenefit(float(a[i]), float(gain[i]), (flags + named)[:drivers]))
        return found

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> VisitBenefit:
        return cls(**json.loads(text))


def trouble_of(matrix: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """Whether each row of model inputs has attendance or family trouble: a flag of
    ``TROUBLE_FLAGS`` at 1 (unknown counts as not set)."""
    flags = [list(features).index(f) for f in TROUBLE_FLAGS if f in features]
    return np.asarray((matrix[:, flags] > 0).any(axis=1)) if flags else np.zeros(len(matrix), bool)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-x)))
