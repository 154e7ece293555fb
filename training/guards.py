"""Guards against a degenerate model: what makes a challenger unfit for anyone's list.

A model that cannot rank students must never reach a list. Each check returns a plain
sentence saying what went wrong and what to try; ``ews train`` prints them and
``ews promote`` refuses a challenger with any (unless forced, with a reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.config import GuardConfig
from training.evaluate import Interval


@dataclass(frozen=True)
class Evidence:
    """What the guards look at, from one training run."""

    trees: int | None  # LightGBM's chosen trees; None for a baseline
    ranking: dict[str, float]  # per scorer: mean pr_auc over the folds (or on the test period)
    ranking_source: str  # "validation folds" or "test period"
    auc: Interval  # the model's ROC-AUC out of sample, with its interval over students
    test_risk: np.ndarray  # calibrated risk of every test row
    single_score_high_share: float  # share of test rows "high" by the global cut-offs
    scorer: str = "model"  # which scorer this is evidence about ("model", "logistic", ...)


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
    others = {k: v for k, v in ranking.items() if k != evidence.scorer}
    if others and evidence.scorer in ranking:
        best = max(others, key=lambda other: others[other])
        if ranking[evidence.scorer] <= others[best]:
            found.append(
                f"On the {evidence.ranking_source} the {name} ranks students no better than "
                f"the {best.replace('_', ' ')} (average precision "
                f"{ranking[evidence.scorer]:.4f} against {others[best]:.4f}). A simpler "
                "scorer would serve as well; keep the current champion or add data."
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
