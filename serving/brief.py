"""The printed brief of a student's case, for a committee meeting or a referral: a Thai
PDF with only what the recipient needs (why the student is flagged, attendance and
grades over time, what was done, what is asked of them). No national ID, no household
survey, no screening's answers; a restricted note only when its author put it in the
brief. Every print is audited by the route that makes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from core import clock
from serving import i18n
from serving.cases import Case


class BriefError(RuntimeError):
    """The brief cannot be made here (no Thai font)."""


WORDS = {
    "title": "สรุปข้อมูลนักเรียนเพื่อการประชุม/ส่งต่อ",
    "confidential": "เอกสารลับ: ใช้เฉพาะผู้รับที่ระบุ ห้ามเผยแพร่หรือทำสำเนา",
    "student": "นักเรียน",
    "school": "โรงเรียน",
    "printed": "พิมพ์เมื่อ",
    "by": "โดย",
    "why": "เหตุผลที่อยู่ในรายชื่อเฝ้าระวัง",
    "risk": "ความเสี่ยงล่าสุด",
    "weeks": "ความเสี่ยงและการขาดเรียนรายสัปดาห์ (4 สัปดาห์ก่อนวันที่)",
    "week": "สัปดาห์",
    "absence": "ขาดเรียน",
    "plan_began": "เริ่มแผน",
    "grades": "ผลการเรียนรายภาคเรียน",
    "term": "ภาคเรียน",
    "gpa": "เกรดเฉลี่ย",
    "plan": "แผนการช่วยเหลือ",
    "planned": "สิ่งที่วางแผนไว้",
    "owner": "ผู้รับผิดชอบ",
    "opened": "เปิดแผนเมื่อ",
    "next_review": "ทบทวนครั้งต่อไป",
    "done": "สิ่งที่ทำไปแล้ว",
    "nothing_yet": "ยังไม่มี",
    "notes": "บันทึกที่ผู้เขียนให้แนบ",
    "request": "สิ่งที่ขอจากผู้รับ",
}


def make_brief(
    *,
    case: Case,
    name: str | None,
    classroom: str | None,
    school_name: str | None,
    reasons: list[str],
    risk_text: str | None,
    grades: list[tuple[int, int, float]],
    request: str,
    printed_by: str,
    font: Path,
) -> bytes:
    """The brief as PDF bytes (A4, Thai)."""
    if not font.is_file():
        raise BriefError(
            f"no Thai font at {font}: install Debian's fonts-thai-tlwg or set EWS_BRIEF_FONT"
        )
    pdf = FPDF(format="A4")
    pdf.set_margins(18, 16, 18)
    pdf.add_font("thai", "", str(font))
    bold = font.with_name(font.stem + "-Bold" + font.suffix)
    pdf.add_font("thai", "B", str(bold if bold.is_file() else font))
    pdf.set_text_shaping(True)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()

    def heading(text: str) -> None:
        pdf.ln(3)
        pdf.set_font("thai", "B", 13)
        pdf.cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("thai", "", 11)

    def line(text: str) -> None:
        pdf.multi_cell(0, 6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_font("thai", "B", 16)
    pdf.cell(0, 9, WORDS["title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("thai", "", 9)
    pdf.set_text_color(150, 20, 20)
    line(WORDS["confidential"])
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("thai", "", 11)
    room = i18n.classroom(classroom, "th") if classroom else ""
    line(f"{WORDS['student']}: {name or case.student_id} ({case.student_id}) {room}".strip())
    line(f"{WORDS['school']}: {school_name or case.school_id}")
    line(f"{WORDS['printed']} {i18n.day(clock.today(), 'th')} {WORDS['by']} {printed_by}")

    heading(WORDS["why"])
    if risk_text:
        line(f"{WORDS['risk']}: {risk_text}")
    for reason in reasons or [WORDS["nothing_yet"]]:
        line(f"• {reason}")

    heading(WORDS["weeks"])
    _table(
        pdf,
        [WORDS["week"], "ความเสี่ยง", WORDS["absence"], ""],
        [
            [
                i18n.day(w["as_of"], "th"),
                i18n.percent(w["risk"]),
                "–" if w["absence"] is None else f"{w['absence']:.0%}",
                WORDS["plan_began"] if w["since"] and _first_since(case, w) else "",
            ]
            for w in case.weeks
        ],
        [45, 35, 35, 59],
    )

    heading(WORDS["grades"])
    if grades:
        _table(
            pdf,
            [WORDS["term"], WORDS["gpa"]],
            [[f"{term}/{year}", f"{gpa:.2f}"] for year, term, gpa in grades],
            [45, 35],
        )
    else:
        line(WORDS["nothing_yet"])

    heading(WORDS["plan"])
    line(f"{WORDS['planned']}: {i18n.pick(i18n.INTERVENTIONS, case.planned, 'th')}")
    if case.plan_text:
        line(case.plan_text)
    line(f"{WORDS['owner']}: {case.owner} · {WORDS['opened']} {i18n.day(case.opened_on, 'th')}")
    if case.next_review is not None:
        late = case.days_late(clock.today())
        thai = i18n.words("th")
        due = "" if late is None else thai["overdue"].format(late) if late else thai["due_today"]
        when = i18n.day(case.next_review, "th")
        line(
            f"{WORDS['next_review']}: {when} ({due})" if due else f"{WORDS['next_review']}: {when}"
        )

    heading(WORDS["done"])
    for step in case.steps or []:
        outcome = i18n.pick(i18n.OUTCOMES, step["outcome"], "th") if step["outcome"] else ""
        kind = i18n.pick(i18n.INTERVENTIONS, step["type"], "th")
        line(f"• {i18n.day(step['date'], 'th')} {kind} {outcome}".rstrip())
    if not case.steps:
        line(WORDS["nothing_yet"])

    included = [n for n in case.notes if n.in_brief]
    if included:
        heading(WORDS["notes"])
        for note in included:
            line(f"• {i18n.day(clock.day_of(note.written_at), 'th')} {note.author}: {note.text}")

    heading(WORDS["request"])
    line(request.strip() or WORDS["nothing_yet"])
    return bytes(pdf.output())


def _first_since(case: Case, week: dict[str, Any]) -> bool:
    firsts = [w for w in case.weeks if w["since"]]
    return bool(firsts) and firsts[0] is week


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: list[int]) -> None:
    pdf.set_font("thai", "B", 10)
    for text, width in zip(header, widths, strict=False):
        pdf.cell(width, 7, text, border="B")
    pdf.ln(7)
    pdf.set_font("thai", "", 10)
    for row in rows:
        for text, width in zip(row, widths, strict=False):
            pdf.cell(width, 6, text)
        pdf.ln(6)
    pdf.set_font("thai", "", 11)
