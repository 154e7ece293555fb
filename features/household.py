"""Household poverty features from the latest survey known at the as-of date."""

from __future__ import annotations

import pandas as pd

from features.asof import latest_at

POVERTY_LINE_BAHT = 3000  # per person a month, the equity fund's line
EQUITY_LEVEL = {"none": 0.0, "poor": 1.0, "extremely_poor": 2.0}
HOUSING_LEVEL = {"good": 0.0, "fair": 1.0, "poor": 2.0}
WITHOUT_PARENTS = {"grandparents", "relatives", "other", "none"}


def household_state(household: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    found = latest_at(household, "survey_date", queries["student_id"], queries["as_of"])
    return found.assign(as_of=queries["as_of"])


def _flag(values: pd.Series) -> pd.Series:
    return values.astype("float")


def income_per_person(s: pd.DataFrame) -> pd.Series:
    size = s["household_size"].astype(float)
    return (s["monthly_income"].astype(float) / size).where(size > 0)


def below_poverty_line(s: pd.DataFrame) -> pd.Series:
    income = income_per_person(s)
    return (income < POVERTY_LINE_BAHT).astype(float).where(income.notna())


def equity_status_level(s: pd.DataFrame) -> pd.Series:
    return s["equity_status"].map(EQUITY_LEVEL).astype(float)


def lives_without_parents(s: pd.DataFrame) -> pd.Series:
    return s["caregiver"].isin(WITHOUT_PARENTS).astype(float).where(s["caregiver"].notna())


def household_dependants(s: pd.DataFrame) -> pd.Series:
    columns = ["dependants_elderly", "dependants_disabled", "dependants_unemployed"]
    return s[columns].astype(float).sum(axis=1, min_count=1)


def housing_condition_level(s: pd.DataFrame) -> pd.Series:
    return s["housing"].map(HOUSING_LEVEL).astype(float)


def no_electricity(s: pd.DataFrame) -> pd.Series:
    return 1.0 - _flag(s["has_electricity"])


def welfare_card(s: pd.DataFrame) -> pd.Series:
    return _flag(s["welfare_card"])


def distance_km(s: pd.DataFrame) -> pd.Series:
    return s["distance_km"].astype(float)


def travel_minutes(s: pd.DataFrame) -> pd.Series:
    return s["travel_minutes"].astype(float)


def household_survey_age_days(s: pd.DataFrame) -> pd.Series:
    return (s["as_of"] - s["survey_date"]).dt.days.astype(float)


FEATURES = (
    income_per_person,
    below_poverty_line,
    equity_status_level,
    lives_without_parents,
    household_dependants,
    housing_condition_level,
    no_electricity,
    welfare_card,
    distance_km,
    travel_minutes,
    household_survey_age_days,
)
