"""Weekly lists as CSV that Excel opens with Thai intact and no formulas run.

One layout for every list that leaves the service: the page's download and ``ews export``.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from schooldata.spreadsheet import csv_bytes, excel_safe, write_csv
from serving.i18n import scorer_label
from serving.queries import full_list
from serving.schemas import RiskList

# The spreadsheet helpers are the data layer's; lists leave through them.
__all__ = ["COLUMNS", "csv_bytes", "excel_safe", "list_frame", "risk_list_frame", "write_csv"]

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
    "scored_by",
]


def list_frame(listing: RiskList, rank_by: str = "rank_in_school") -> pd.DataFrame:
    """One row per listed student, ranked as the reader's list ranks them; each row says
    what made the list (the ABC rule's "risk" is the share of its flags raised)."""
    made_by = " / ".join(
        scorer_label(listing.scorer, listing.model_version, lang) for lang in ("th", "en")
    )
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
            "scored_by": made_by,
        }
        for s in listing.students
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def risk_list_frame(
    engine: sa.Engine, as_of: date, school_id: str | None = None, actor: str = "cli"
) -> pd.DataFrame:
    """The stored list of the latest run on or before ``as_of``, every school or one,
    recorded in the audit log as exported by ``actor``.

    Raises:
        LookupError: no run on or before the date.
    """
    return list_frame(full_list(engine, as_of, school_id, actor))
