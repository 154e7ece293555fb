"""Guards against a degenerate model: what makes a challenger unfit for anyone's list.

A model that cannot rank students must never reach a list. Each check returns a plain
sentence saying what went wrong and what to try; ``ews train`` prints them and
``ews promote`` refuses a challenger with any (unless forced, with a reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cmp_to_key

import numpy as np
import pandas as pd

from training.config import GuardConfig
from training.evaluate import Interval, finds_more


@dataclass(frozen=True)
class Evidence:
    """What the guards look at, from one training run."""

    trees: int | None  # LightGBM's chosen trees; None for a baseline
    # Per scorer: the mean share of leavers its weekly lists found 8+ weeks ahead over the
    # folds (or on the test period), as the messages state it; ``better`` compares.
    ranking: dict[str, float]
    ranking_source: str  # "validation folds" or "test period"
    auc: Interval  # the model's ROC-AUC out of sample, with its interval over students
    test_risk: np.ndarray  # calibrated risk of every test row
    single_score_high_share: float  # share of test rows "high" by the global cut-offs
    scorer: str = "model"  # which scorer this is evidence about ("model", "logistic", ...)
    average_precision: dict[str, float] = field(default_factory=dict)
    # Of each student who left (a row; a fold's leaver once per fold), the weeks between
    # each scorer's first planned visit and leaving (a column per scorer; 0: never before).
    leads: pd.DataFrame | None = None

    def better(self, one: str, other: str) -> bool:
        """Whether ``one`` ranks students better than ``other``.

        By the headline where the leavers can tell them apart: the students who left that
        one's lists found 8+ weeks ahead and the other's did not, against the reverse, a
        paired sign test at the 95% level (so a few students of a small fold decide
        nothing). Otherwise by average precision, which uses every student's score.
        """
        if self.leads is not None and {one, other} <= set(self.leads.columns):
            headline = finds_more(self.leads[one].to_numpy(), self.leads[other].to_numpy())
            if headline is not None:
                return headline
        nan = float("nan")
        return self.average_precision.get(one, nan) > self.average_precision.get(other, nan)

    def best(self, scorers: list[str]) -> str:
        """The scorer that ranks better than the others (``better``), the first on a tie."""

        def compare(one: str, other: str) -> int:
            return int(self.better(one, other)) - int(self.better(other, one))

        return max(scorers, key=cmp_to_key(compare))


def problems(evidence: Evidence, config: GuardConfig) -> list[str]:
    """Every reason this model should not be promoted, in plain words (empty: none)."""
    found = []
    name = "model" if evidence.scorer == "model" else evidence.scorer.replace("_", " ")
    if evidence.trees is not None and evidence.trees < config.min_trees:
        found.append(
            f"The model kept only {evidence.trees} trees: it found almost nothing to learn. "
            "Check that attendance, grades or coursework were loaded for the training "
            "years, and that enough students left in them."
        )
    if np.isfinite(evidence.auc.low) and evidence.auc.low <= 0.5:
        found.append(
            f"The {name} ranks students no better than chance (ROC-AUC {evidence.auc} on the "
            f"{evidence.ranking_source}, interval over students). The data may not hold "
            "the signals that come before leaving; keep the current champion."
        )
    ranking = evidence.ranking
    others = [k for k in ranking if k != evidence.scorer]
    if others and evidence.scorer in ranking:
        best = evidence.best(others)
        if not evidence.better(evidence.scorer, best):
            precision = evidence.average_precision
            nan = float("nan")
            found.append(
                f"On the {evidence.ranking_source} the {name} ranks students no better than "
                f"the {best.replace('_', ' ')}: its home-visit plans found "
                f"{ranking[evidence.scorer]:.1%} of the students who left 8 or more weeks "
                f"ahead, against {ranking[best]:.1%}, and its average precision is "
                f"{precision.get(evidence.scorer, nan):.4f} against "
                f"{precision.get(best, nan):.4f}. A simpler scorer would serve as well; "
                "keep the current champion or add data."
            )
    distinct = len(np.unique(np.round(evidence.test_risk, 6)))
    if distinct < config.min_distinct_risks:
        found.append(
            f"Its risk takes only {distinct} different values on the test period, so most "
            "students share the same risk and cannot be ranked by it. The calibration "
            f"collapsed: the {name} found too little to tell students apart."
        )
    if evidence.single_score_high_share > 0.5:
        found.append(
            f"It would put {evidence.single_score_high_share:.0%} of students in the high "
            "tier when scored one at a time: a list that flags most students helps no one."
        )
    return found
