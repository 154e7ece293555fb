"""Screening features from the latest screening known at the as-of date."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import screening as sc
from schooldata.contract import SCREENING_DOMAINS


def test_latest_screening_levels_counts_and_sdq_change() -> None:
    base = dict.fromkeys(SCREENING_DOMAINS, "normal")
    screenings = pd.DataFrame(
        [
            {
                **base,
                "student_id": "A",
                "screening_date": "2025-06-10",
                "overall": "normal",
                "sdq_total": 8,
            },
            {
                **base,
                "student_id": "A",
                "screening_date": "2025-11-20",
                "overall": None,
                "sdq_total": 15,
                "emotional": "problem",
                "economic": "at_risk",
                "learning": "at_risk",
            },
        ]
    ).assign(screening_date=lambda f: pd.to_datetime(f["screening_date"]))
    queries = pd.DataFrame(
        {"student_id": ["A", "A"], "as_of": pd.to_datetime(["2025-11-19", "2025-12-01"])}
    )
    s = sc.screening_state(screenings, queries)

    assert sc.screening_overall_level(s).tolist() == [0.0, 2.0]  # missing overall: worst domain
    assert sc.screening_domains_at_risk(s).tolist() == [0.0, 2.0]
    assert sc.screening_domains_problem(s).tolist() == [0.0, 1.0]
    assert sc.screening_emotional_level(s).tolist() == [0.0, 2.0]
    assert np.isnan(sc.sdq_total_change(s).iloc[0])
    assert sc.sdq_total_change(s).iloc[1] == 7.0
    assert sc.days_since_screening(s).tolist() == [162.0, 11.0]
