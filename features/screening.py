"""Care-system screening features from the latest screening known at the as-of date."""

from __future__ import annotations

import pandas as pd

from features.asof import latest_at
from schooldata.contract import SCREENING_DOMAINS

LEVEL = {"normal": 0.0, "at_risk": 1.0, "problem": 2.0}


def screening_state(screenings: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    ordered = screenings.sort_values(["student_id", "screening_date"], kind="stable")
    ordered = ordered.assign(previous_sdq_total=ordered.groupby("student_id")["sdq_total"].shift(1))
    found = latest_at(ordered, "screening_date", queries["student_id"], queries["as_of"])
    return found.assign(as_of=queries["as_of"])


def _level(s: pd.DataFrame, column: str) -> pd.Series:
    return s[column].map(LEVEL).astype(float)


def _domain_levels(s: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({d: _level(s, d) for d in SCREENING_DOMAINS})


def screening_overall_level(s: pd.DataFrame) -> pd.Series:
    overall = _level(s, "overall")
    # A screening without an overall group takes its worst domain.
    return overall.fillna(_domain_levels(s).max(axis=1))


def screening_domains_at_risk(s: pd.DataFrame) -> pd.Series:
    levels = _domain_levels(s)
    return (levels == 1).sum(axis=1).astype(float).where(levels.notna().any(axis=1))


def screening_domains_problem(s: pd.DataFrame) -> pd.Series:
    levels = _domain_levels(s)
    return (levels == 2).sum(axis=1).astype(float).where(levels.notna().any(axis=1))


def screening_learning_level(s: pd.DataFrame) -> pd.Series:
    return _level(s, "learning")


def screening_economic_level(s: pd.DataFrame) -> pd.Series:
    return _level(s, "economic")


def screening_emotional_level(s: pd.DataFrame) -> pd.Series:
    return _level(s, "emotional")


def screening_protection_level(s: pd.DataFrame) -> pd.Series:
    return _level(s, "protection")


def screening_behaviour_level(s: pd.DataFrame) -> pd.Series:
    return _level(s, "behaviour")


def sdq_total(s: pd.DataFrame) -> pd.Series:
    return s["sdq_total"].astype(float)


def sdq_total_change(s: pd.DataFrame) -> pd.Series:
    return (s["sdq_total"] - s["previous_sdq_total"]).astype(float)


def days_since_screening(s: pd.DataFrame) -> pd.Series:
    return (s["as_of"] - s["screening_date"]).dt.days.astype(float)


FEATURES = (
    screening_overall_level,
    screening_domains_at_risk,
    screening_domains_problem,
    screening_learning_level,
    screening_economic_level,
    screening_emotional_level,
    screening_protection_level,
    screening_behaviour_level,
    sdq_total,
    sdq_total_change,
    days_since_screening,
)
