"""Household features from the latest survey known at the as-of date."""

from __future__ import annotations

import pandas as pd
import pytest

from features import household as h


def test_latest_survey_on_or_before_the_date_is_used() -> None:
    surveys = pd.DataFrame(
        {
            "student_id": ["A", "A"],
            "survey_date": pd.to_datetime(["2024-07-01", "2025-07-01"]),
            "household_size": [4, 4],
            "monthly_income": [16000.0, 9000.0],
            "caregiver": ["both_parents", "grandparents"],
            "dependants_elderly": [0, 1],
            "dependants_disabled": [0, 0],
            "dependants_unemployed": [0, 1],
            "housing": ["good", "poor"],
            "has_electricity": pd.array([True, False], dtype="boolean"),
            "welfare_card": pd.array([False, True], dtype="boolean"),
            "equity_status": ["none", "poor"],
            "distance_km": [3.0, 12.5],
            "travel_minutes": [10.0, 45.0],
        }
    )
    queries = pd.DataFrame(
        {"student_id": ["A", "A"], "as_of": pd.to_datetime(["2025-06-30", "2025-07-11"])}
    )
    s = h.household_state(surveys, queries)

    assert h.income_per_person(s).tolist() == [4000.0, 2250.0]
    assert h.below_poverty_line(s).tolist() == [0.0, 1.0]
    assert h.equity_status_level(s).tolist() == [0.0, 1.0]
    assert h.lives_without_parents(s).tolist() == [0.0, 1.0]
    assert h.household_dependants(s).tolist() == [0.0, 2.0]
    assert h.housing_condition_level(s).tolist() == [0.0, 2.0]
    assert h.no_electricity(s).tolist() == [0.0, 1.0]
    assert h.welfare_card(s).tolist() == [0.0, 1.0]
    assert h.distance_km(s).tolist() == [3.0, 12.5]
    assert h.household_survey_age_days(s).tolist() == pytest.approx([364.0, 10.0])
