"""Grade features from terms known by the as-of date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import grades as g


def _grades() -> pd.DataFrame:
    rows = [
        # term 2567/1, known 24 Oct 2024
        ("TH", 1.0, "4", 2567, 1, "2024-10-24"),
        ("MA", 1.0, "3", 2567, 1, "2024-10-24"),
        # term 2567/2, known 14 Apr 2025
        ("TH", 1.0, "3", 2567, 2, "2025-04-14"),
        ("MA", 1.0, "2", 2567, 2, "2025-04-14"),
        ("SC", 1.0, "ร", 2567, 2, "2025-04-14"),
        ("PE", 0.5, "0", 2567, 2, "2025-04-14"),
        ("AR", 1.0, "มส", 2567, 2, "2025-04-14"),
    ]
    frame = pd.DataFrame(
        rows, columns=["subject_code", "credits", "grade", "academic_year", "term", "known_date"]
    )
    return frame.assign(student_id="A", known_date=pd.to_datetime(frame["known_date"]))


def _state(as_of: str) -> pd.DataFrame:
    return g.grades_state(
        _grades(), pd.DataFrame({"student_id": ["A"], "as_of": [pd.Timestamp(as_of)]})
    )


def test_grades_after_two_terms() -> None:
    s = _state("2025-07-04")

    assert g.gpa_last_term(s).iloc[0] == pytest.approx(5 / 2.5)  # (3 + 2 + 0) / 2.5 credits
    assert g.gpa_change_last_term(s).iloc[0] == pytest.approx(2.0 - 3.5)
    assert g.failed_subjects_last_term(s).iloc[0] == 1
    assert g.incomplete_marks_last_term(s).iloc[0] == 1
    assert g.not_eligible_marks_last_term(s).iloc[0] == 1
    assert g.gpa_cumulative(s).iloc[0] == pytest.approx(12 / 4.5)


def test_grades_not_yet_recorded_are_unseen() -> None:
    s = _state("2025-04-13")  # the day before term 2's grades were recorded

    assert g.gpa_last_term(s).iloc[0] == pytest.approx(3.5)
    assert np.isnan(g.gpa_change_last_term(s).iloc[0])
    assert g.failed_subjects_last_term(s).iloc[0] == 0
