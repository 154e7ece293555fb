"""Weekly lists as CSV that Excel opens with Thai intact and no formulas run.

One layout for every list that leaves the service: the page's download and ``ews export``.
"""

from __future__ import annotations

import pandas as pd

from schooldata.spreadsheet import csv_bytes, excel_safe, write_csv
from serving import i18n
from serving.i18n import scorer_label
from serving.schemas import RiskList

# The spreadsheet helpers are the data layer's; lists leave through them.
__all__ = ["COLUMNS", "csv_bytes", "excel_safe", "list_frame", "write_csv"]

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
    "reasons",
    "suggested_step",
    "scored_by",
]
# The columns' Thai headers (an export is in Thai unless English is asked for).
THAI_HEADERS = {
    "rank": "ลำดับ",
    "student_id": "เลขประจำตัวนักเรียน",
    "name": "ชื่อ-สกุล",
    "school_id": "รหัสโรงเรียน",
    "advisor_id": "รหัสครูที่ปรึกษา",
    "classroom": "ห้อง",
    "grade_level": "ระดับชั้น",
    "risk": "ความเสี่ยง",
    "tier": "กลุ่ม",
    "rank_in_school": "ลำดับในโรงเรียน",
    "rank_in_advisor": "ลำดับในกลุ่มครูที่ปรึกษา",
    "change": "เทียบสัปดาห์ก่อน",
    "reasons": "เหตุผลหลัก",
    "suggested_step": "สิ่งที่ควรทำต่อ",
    "scored_by": "จัดลำดับโดย",
}


def list_frame(
    listing: RiskList, rank_by: str = "rank_in_school", language: str = "th"
) -> pd.DataFrame:
    """One row per listed student, ranked as the reader's list ranks them, in the
    reader's language (Thai headers and words, or English); each row says what made the
    list (the ABC rule's "risk" is the share of its flags raised)."""
    english = language == "en"
    made_by = scorer_label(listing.scorer, listing.model_version, language)
    rows = [
        {
            "rank": getattr(s, rank_by),
            "student_id": s.student_id,
            "name": s.name,
            "school_id": s.school_id,
            "advisor_id": s.advisor_id,
            "classroom": s.classroom if english else i18n.classroom(s.classroom, "th"),
            "grade_level": s.grade_level if english else i18n.grade(s.grade_level, "th"),
            "risk": round(s.risk, 4),
            "tier": s.tier if english else i18n.pick(i18n.TIERS, s.tier, "th"),
            "rank_in_school": s.rank_in_school,
            "rank_in_advisor": s.rank_in_advisor,
            "change": s.change if english else i18n.pick(i18n.CHANGES, s.change, "th"),
            "reasons": "; ".join(r.text_en if english else r.text_th for r in s.reasons),
            "suggested_step": (s.suggested_step_en if english else s.suggested_step_th) or "",
            "scored_by": made_by,
        }
        for s in listing.students
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame if english else frame.rename(columns=THAI_HEADERS)
