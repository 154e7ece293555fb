"""Coursework features over the last 28 days and the term to date."""

from __future__ import annotations

import pandas as pd
import pytest

from features import coursework as c


def test_coursework_scores_missing_work_and_trend() -> None:
    assessments = pd.DataFrame(
        {
            "student_id": "A",
            "subject_code": "MA",
            "date": pd.to_datetime(
                ["2025-05-10", "2025-05-20", "2025-06-01", "2025-06-20", "2025-06-25", "2025-07-10"]
            ),
            "score": [1.0, 8.0, 6.0, None, 5.0, 10.0],
            "max_score": 10.0,
            "submitted": pd.array([True, True, True, False, True, True], dtype="boolean"),
        }
    )
    queries = pd.DataFrame(
        {
            "student_id": ["A"],
            "as_of": [pd.Timestamp("2025-07-04")],
            "term_start": [pd.Timestamp("2025-05-16")],
        }
    )
    s = c.coursework_state(assessments, queries)

    # Last 28 days (6 June - 4 July): one missing piece and one scored 5/10.
    assert c.coursework_score_share_28d(s).iloc[0] == pytest.approx(0.5)
    assert c.coursework_missing_28d(s).iloc[0] == 1
    # Term to date (from 16 May): four pieces, one missing; the 10 May piece is last term.
    assert c.coursework_missing_share_term(s).iloc[0] == pytest.approx(0.25)
    assert c.coursework_trend_28d(s).iloc[0] == pytest.approx(0.5 - 0.7)
