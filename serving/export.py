"""Weekly lists as CSV that Excel opens with Thai intact and no formulas run.

One layout for every list that leaves the service: the page's download and ``ews export``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from serving.queries import full_list
from serving.schemas import ListedStudent

COLUMNS = [
    "rank",
    "student_id",
    "name",
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


def list_frame(students: Sequence[ListedStudent], rank_by: str = "rank_in_school") -> pd.DataFrame:
    """One row per listed student, ranked as the reader's list ranks them."""
    rows = [
        {
            "rank": getattr(s, rank_by),
            "student_id": s.student_id,
            "name": s.name,
            "school_id": s.school_id,
            "advisor_id": s.advisor_id,
            "classroom": s.classroom,
            "grade_level": s.grade_level,
            "risk": round(s.risk, 4),
            "tier": s.tier,
            "rank_in_school": s.rank_in_school,
            "rank_in_advisor": s.rank_in_advisor,
            "change": s.change,
            "reasons_th": "; ".join(r.text_th for r in s.reasons),
            "reasons_en": "; ".join(r.text_en for r in s.reasons),
            "suggested_step": f"{s.suggested_step_th or ''} / {s.suggested_step_en or ''}",
        }
        for s in students
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def risk_list_frame(engine: sa.Engine, as_of: date, school_id: str | None = None) -> pd.DataFrame:
    """The stored list of the latest run on or before ``as_of``, every school or one.

    Raises:
        LookupError: no run on or before the date.
    """
    return list_frame(full_list(engine, as_of, school_id).students)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel shows Thai; formula-like cells escaped."""
    text: str = frame.astype(object).map(excel_safe).to_csv(index=False)
    return ("\ufeff" + text).encode("utf-8")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``csv_bytes`` of the frame to a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(frame))
