"""Protected attributes: never model inputs by default, always used by the fairness audit."""

from __future__ import annotations

import pandas as pd


def demographics_state(students: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    columns = ["student_id", "sex", "nationality", "disability"]
    found = queries[["student_id"]].merge(students[columns], on="student_id", how="left")
    return found.set_axis(queries.index)


def sex_female(s: pd.DataFrame) -> pd.Series:
    return (s["sex"] == "F").astype(float).where(s["sex"].notna())


def nationality_not_thai(s: pd.DataFrame) -> pd.Series:
    return (s["nationality"] != "TH").astype(float).where(s["nationality"].notna())


def has_disability(s: pd.DataFrame) -> pd.Series:
    return (s["disability"] != "none").astype(float).where(s["disability"].notna())


FEATURES = (sex_female, nationality_not_thai, has_disability)
