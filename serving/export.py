"""Weekly lists as CSV that Excel opens with Thai intact and no formulas run."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from features.db import score_runs, student_scores

COLUMNS = [
    "student_id",
    "school_id",
    "advisor_id",
    "classroom",
    "grade_level",
    "risk",
    "tier",
    "rank_in_school",
    "rank_in_advisor",
    "change",
    "reasons_th",
    "reasons_en",
    "suggested_step",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: object) -> object:
    """Prefix text that Excel would read as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def risk_list_frame(engine: sa.Engine, as_of: date, school_id: str | None = None) -> pd.DataFrame:
    """The stored list of the latest run on or before ``as_of``."""
    with engine.connect() as connection:
        run = connection.execute(
            sa.select(score_runs.c.run_id)
            .where(score_runs.c.as_of <= as_of)
            .order_by(score_runs.c.as_of.desc(), score_runs.c.run_id.desc())
            .limit(1)
        ).scalar()
        if run is None:
            raise LookupError(
                f"no weekly run on or before {as_of}: run `ews score --as-of {as_of}` first"
            )
        query = sa.select(student_scores).where(student_scores.c.run_id == run)
        if school_id is not None:
            query = query.where(student_scores.c.school_id == school_id)
        rows = pd.DataFrame(
            connection.execute(
                query.order_by(student_scores.c.school_id, student_scores.c.rank_in_school)
            )
            .mappings()
            .all()
        )
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    reasons = rows["reasons"].map(json.loads)
    rows["reasons_th"] = reasons.map(lambda items: "; ".join(r["text_th"] for r in items))
    rows["reasons_en"] = reasons.map(lambda items: "; ".join(r["text_en"] for r in items))
    rows["suggested_step"] = (
        rows["suggested_step_th"].fillna("") + " / " + rows["suggested_step_en"].fillna("")
    )
    rows["risk"] = rows["risk"].round(4)
    return rows[COLUMNS]


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8 with a byte-order mark, so that Excel shows Thai; formula-like cells escaped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = frame.astype(object).map(excel_safe)
    safe.to_csv(path, index=False, encoding="utf-8-sig")
