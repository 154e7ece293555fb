"""The fairness audit on a hand-built frame: exact rates, ratios and flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.config import FairnessConfig
from training.fairness import fairness_audit, flags


def _rows() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    # One week of 200 students: 100 Thai, 100 other; 20 leave in each group.
    n = 200
    rows = pd.DataFrame(
        {
            "as_of": pd.Timestamp("2025-06-02"),
            "school_id": "S1",
            "grade_level": "M4",
            "sex": ["F", "M"] * 100,
            "nationality": ["TH"] * 100 + ["MM"] * 100,
            "disability": ["none"] * 198 + ["visual"] * 2,
            "equity_status": "none",
        }
    )
    labels = np.zeros(n, dtype=int)
    labels[:20] = 1  # Thai leavers
    labels[100:120] = 1  # other leavers
    scores = np.zeros(n)
    scores[:16] = 10  # 16 Thai leavers in the top 20
    scores[100:104] = 9  # 4 other leavers in the top 20
    return rows, labels, scores


def test_rates_ratios_and_flags_are_exact() -> None:
    rows, labels, scores = _rows()
    config = FairnessConfig(top_share=0.10, low=0.8, high=1.25, min_flagged=3, min_positives=10)
    audit = fairness_audit(rows, labels, scores, config).set_index(["attribute", "group"])

    thai, other = audit.loc[("nationality", "Thai")], audit.loc[("nationality", "other")]
    assert thai["status"] == "reference"
    assert thai["recall"] == pytest.approx(16 / 20)
    assert other["recall"] == pytest.approx(4 / 20)
    assert other["recall_ratio"] == pytest.approx(0.25)
    assert other["precision"] == pytest.approx(1.0)
    assert other["fpr_ratio"] == pytest.approx(1.0)  # no false alarms in either group: equal rates
    assert other["status"] == "flag"
    assert "nationality=other (recall)" in flags(audit.reset_index())


def test_small_groups_are_marked_too_small_not_judged() -> None:
    rows, labels, scores = _rows()
    audit = fairness_audit(rows, labels, scores, FairnessConfig()).set_index(["attribute", "group"])

    assert audit.loc[("disability", "any"), "status"] == "too small"
