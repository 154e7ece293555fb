"""The ABC rule: Attendance, Behaviour and Course failure, as early-warning systems define it.

A student is flagged on each of the three when any of its conditions holds; the rule's
score is the number of flags (0-3) plus a hundredth of this term's absence rate plus a
ten-thousandth of last term's GPA shortfall ((4 - GPA) / 4). So students with the same
flags are ordered by how much school they miss this term, and those who miss the same
(none, or a school that keeps no attendance) by how low their grades were last term.

It is both a baseline every trained model is measured against and the scorer of a
school that has no sound model yet. Its explanation is exact like a model's: each flag
that fired adds 1 to the score, shared equally between the conditions that fired it,
and each tie-break goes to its input (the absence rate, the GPA); the contributions sum
to the score (the base value is 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

TIEBREAK = 0.01  # the absence rate's weight; the GPA shortfall's is its square
# The highest score: three flags, every school day missed, a GPA of 0.
TOP_SCORE = 3 + TIEBREAK + TIEBREAK**2
# A condition's share of its flag is at least a quarter; the tie-break is no reason.
REASON_FLOOR = 0.1
RULE_VERSION = "abc-rule"


@dataclass(frozen=True)
class RuleThresholds:
    """When each flag fires (``EWS_ABC_*`` settings; the defaults follow the literature:
    missing a tenth of school, a behaviour concern, a failed course)."""

    absence_rate_term: float = 0.10  # attendance: this term's absence rate at least
    absent_days_20d: float = 4  # attendance: or absent days in the last 20 school days
    # attendance: or school days without a record at least (more than a school week that
    # the register has gone on without the child: ``features.attendance``)
    school_days_unrecorded: float = 6
    screening_behaviour_level: float = 1  # behaviour: advisor's screening level at least
    screening_overall_level: float = 2  # behaviour: or overall screening level at least
    sdq_total: float = 17  # behaviour: or SDQ total difficulties at least
    failed_subjects_last_term: float = 1  # course: failed subjects at least
    not_eligible_marks_last_term: float = 1  # course: or "not eligible" marks
    incomplete_marks_last_term: float = 1  # course: or incomplete marks
    gpa_last_term: float = 1.5  # course: or GPA last term below this

    def to_json(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> RuleThresholds:
        return cls(**{f.name: float(content[f.name]) for f in fields(cls) if f.name in content})


# Each flag and its conditions: (input, "at least" or "below").
FLAGS: dict[str, tuple[tuple[str, str], ...]] = {
    "attendance": (
        ("absence_rate_term", "at least"),
        ("absent_days_20d", "at least"),
        ("school_days_unrecorded", "at least"),
    ),
    "behaviour": (
        ("screening_behaviour_level", "at least"),
        ("screening_overall_level", "at least"),
        ("sdq_total", "at least"),
    ),
    "course": (
        ("failed_subjects_last_term", "at least"),
        ("not_eligible_marks_last_term", "at least"),
        ("incomplete_marks_last_term", "at least"),
        ("gpa_last_term", "below"),
    ),
}
RULE_INPUTS = [name for conditions in FLAGS.values() for name, _ in conditions]


@dataclass(frozen=True)
class ABCRule:
    """The rule over a matrix whose columns are its ``inputs`` (NaN: unknown, never fires).

    ``inputs`` are ``RULE_INPUTS``, or fewer for a rule an earlier version saved (before
    ``school_days_unrecorded``): it ranks as it did, on the conditions it has.
    """

    thresholds: RuleThresholds = RuleThresholds()
    inputs: tuple[str, ...] = tuple(RULE_INPUTS)

    def __post_init__(self) -> None:
        unknown = [name for name in self.inputs if name not in RULE_INPUTS]
        if unknown or list(self.inputs) != [n for n in RULE_INPUTS if n in self.inputs]:
            raise ValueError(
                f"the rule's inputs are not this version's ABC rule's or some of them, in "
                f"its order ({', '.join(unknown) or 'out of order'}): "
                f"{', '.join(self.inputs)}"
            )

    def conditions(self, matrix: np.ndarray) -> np.ndarray:
        """(rows, inputs) booleans: which condition holds for each student."""
        matrix = np.asarray(matrix, dtype=float)
        limits = self.thresholds.to_json()
        held = np.zeros(matrix.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            for j, (name, kind) in enumerate(self._conditions()):
                column = matrix[:, j]
                held[:, j] = column < limits[name] if kind == "below" else column >= limits[name]
        return np.asarray(held & ~np.isnan(matrix))

    def flags(self, matrix: np.ndarray) -> pd.DataFrame:
        """Which of the three flags fired, one column each."""
        held = self.conditions(matrix)
        return pd.DataFrame({flag: held[:, columns].any(axis=1) for flag, columns in self._spans()})

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.explain(matrix)[0])

    def explain(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The score of each row and its exact contributions (summing to it, base 0)."""
        matrix = np.asarray(matrix, dtype=float)
        held = self.conditions(matrix).astype(float)
        contributions = np.zeros(matrix.shape)
        for _flag, columns in self._spans():
            fired = held[:, columns]
            count = fired.sum(axis=1, keepdims=True)
            contributions[:, columns] = np.divide(
                fired, count, out=np.zeros_like(fired), where=count > 0
            )
        absence = self.inputs.index("absence_rate_term")
        contributions[:, absence] += TIEBREAK * np.nan_to_num(
            np.clip(matrix[:, absence], 0, 1), nan=0.0
        )
        gpa = self.inputs.index("gpa_last_term")
        contributions[:, gpa] += TIEBREAK**2 * np.nan_to_num(
            np.clip((4 - matrix[:, gpa]) / 4, 0, 1), nan=0.0
        )
        return contributions.sum(axis=1), contributions

    def score(self, rows: pd.DataFrame) -> np.ndarray:
        """The score of feature rows holding the rule's inputs."""
        return self.raw_scores(rows.reindex(columns=list(self.inputs)).to_numpy(dtype=float))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "abc_rule",
            "inputs": list(self.inputs),
            "thresholds": self.thresholds.to_json(),
        }

    @classmethod
    def from_json(cls, content: dict[str, Any]) -> ABCRule:
        inputs = tuple(content.get("inputs", RULE_INPUTS))
        return cls(RuleThresholds.from_json(content.get("thresholds", {})), inputs)

    def _conditions(self) -> list[tuple[str, str]]:
        return [
            condition
            for conditions in FLAGS.values()
            for condition in conditions
            if condition[0] in self.inputs
        ]

    def _spans(self) -> list[tuple[str, list[int]]]:
        spans, start = [], 0
        for flag, conditions in FLAGS.items():
            count = sum(name in self.inputs for name, _ in conditions)
            spans.append((flag, list(range(start, start + count))))
            start += count
        return spans
