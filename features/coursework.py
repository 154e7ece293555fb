"""Coursework features from this term's assessments: the earliest academic signal."""

from __future__ import annotations

import pandas as pd

from features.asof import cumulative_at

RECENT = pd.Timedelta(days=28)


def coursework_state(assessments: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """Pieces, missing pieces and score shares over the last 28 days and the term to date."""
    submitted = assessments["submitted"].fillna(assessments["score"].notna()).astype(bool)
    share = (assessments["score"] / assessments["max_score"]).clip(0, 1)
    events = pd.DataFrame(
        {
            "student_id": assessments["student_id"],
            "date": assessments["date"],
            "pieces": 1.0,
            "missing": (~submitted).astype(float),
            "scored": (submitted & share.notna()).astype(float),
            "share": share.where(submitted).fillna(0.0),
        }
    )
    values = ["pieces", "missing", "scored", "share"]
    students = queries["student_id"]
    now = cumulative_at(events, "date", values, students, queries["as_of"])
    recent = cumulative_at(events, "date", values, students, queries["as_of"] - RECENT)
    term = cumulative_at(
        events, "date", values, students, queries["term_start"] - pd.Timedelta(days=1)
    )
    out = pd.DataFrame(index=queries.index)
    for column in values:
        out[f"{column}_28d"] = now[column] - recent[column]
        out[f"{column}_term"] = now[column] - term[column]
        out[f"{column}_before_28d"] = recent[column] - term[column]
    return out


def coursework_score_share_28d(s: pd.DataFrame) -> pd.Series:
    return (s["share_28d"] / s["scored_28d"]).where(s["scored_28d"] > 0)


def coursework_missing_28d(s: pd.DataFrame) -> pd.Series:
    return s["missing_28d"].where(s["pieces_term"] > 0)


def coursework_missing_share_term(s: pd.DataFrame) -> pd.Series:
    return (s["missing_term"] / s["pieces_term"]).where(s["pieces_term"] > 0)


def coursework_trend_28d(s: pd.DataFrame) -> pd.Series:
    earlier = (s["share_before_28d"] / s["scored_before_28d"]).where(s["scored_before_28d"] > 0)
    return coursework_score_share_28d(s) - earlier


FEATURES = (
    coursework_score_share_28d,
    coursework_missing_28d,
    coursework_missing_share_term,
    coursework_trend_28d,
)
