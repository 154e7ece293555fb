"""Test-period metrics: discrimination, calibration, and precision and recall at the top.

Each week's list is ranked separately, as advisors and committees see it: "top 10%"
means the top tenth of the students scored on the same as-of date (overall), or of the
same school on that date (within school).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def flag_top(scores: np.ndarray, groups: pd.DataFrame, share: float) -> np.ndarray:
    """True for the top ``share`` (at least one) of each group by score."""
    # Ties at the cut are broken by a fixed pseudo-random order: row order would follow the
    # table's sort (school ids), which can correlate with who leaves.
    tiebreak = np.random.default_rng(0).random(len(scores))
    order = np.lexsort((tiebreak, -np.asarray(scores, dtype=float)))
    frame = groups.reset_index(drop=True).iloc[order]
    position = frame.groupby(list(groups.columns), sort=False).cumcount().to_numpy() + 1
    size = (
        frame.groupby(list(groups.columns), sort=False)[frame.columns[0]]
        .transform("size")
        .to_numpy()
    )
    flagged = np.zeros(len(scores), dtype=bool)
    flagged[order] = position <= np.maximum(1, np.ceil(share * size))
    return flagged


def precision_recall_at(labels: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    positives = labels.sum()
    hits = labels[flagged].sum()
    precision = hits / flagged.sum() if flagged.any() else float("nan")
    recall = hits / positives if positives else float("nan")
    return float(precision), float(recall)


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 10
) -> float:
    """Weighted gap between predicted and observed rates over equal-count bins."""
    order = np.argsort(probabilities, kind="stable")
    gaps = [
        len(part) * abs(probabilities[part].mean() - labels[part].mean())
        for part in np.array_split(order, bins)
        if len(part)
    ]
    return float(sum(gaps) / len(labels))


def evaluate(
    labels: np.ndarray,
    probabilities: np.ndarray,
    ranking: np.ndarray,
    meta: pd.DataFrame,
    top_shares: list[float],
) -> dict[str, float]:
    """All test metrics of one scorer.

    Args:
        labels: 0/1 outcomes.
        probabilities: calibrated probabilities (Brier score and calibration error).
        ranking: the score lists are ranked by; calibration maps it monotonically to the
            probability but flattens it into ties, so ranking metrics use it instead.
        meta: ``as_of`` and ``school_id`` of each row.
        top_shares: e.g. [0.05, 0.10, 0.20].
    """
    metrics = {
        "roc_auc": float(roc_auc_score(labels, ranking)),
        "pr_auc": float(average_precision_score(labels, ranking)),
        "brier": float(brier_score_loss(labels, probabilities)),
        "ece": expected_calibration_error(labels, probabilities),
        "base_rate": float(labels.mean()),
    }
    for share in top_shares:
        pct = round(share * 100)
        for scope, columns in (("", ["as_of"]), ("_school", ["as_of", "school_id"])):
            flagged = flag_top(ranking, meta[columns], share)
            precision, recall = precision_recall_at(labels, flagged)
            metrics[f"precision_at_{pct}{scope}"] = precision
            metrics[f"recall_at_{pct}{scope}"] = recall
    return metrics


def metrics_table(results: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Scorers as columns, metrics as rows."""
    return pd.DataFrame(results)
