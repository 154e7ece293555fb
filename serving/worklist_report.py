"""The reports the ministry asks of the missing-children worklist (seeds 002 and 004),
for a school, an area office or every school a user may see, in Thai (English on
request), as Excel and CSV:

1. the four counts OBEC publishes each year: to find, not yet followed, found, not found;
2. the share brought back to school by age band (3-5, 6-15, 16-18) and Thai or foreign,
   beside those still being followed;
3. the reasons for leaving and the help the found children need;
4. the children brought back who are still enrolled one and two terms later, by where
   they were placed (their own school or another).

Counts only: no name, code or ID of a child.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from schooldata.contract import REASON_CODES, REASON_WORDS
from schooldata.db import reading
from schooldata.missing import BACK_IN_SCHOOL, FOUND, HELP, NOBODY_TO_FIND, OPEN_STATUSES
from schooldata.spreadsheet import csv_bytes, xlsx_bytes
from schooldata.tables import TABLES, missing_cases
from serving.accounts import User
from serving.worklist import COUNT_ROLES, HELP_WORDS

AGE_BANDS = ((3, 5, "3-5"), (6, 15, "6-15"), (16, 18, "16-18"))
# Statuses in each of the four counts (closed by an exit record: nobody to find).
FOUR_COUNTS = {
    "to_find": None,  # every case but those of nobody to find (an exit record explains it)
    "not_followed": ("not_followed",),
    "found": FOUND,
    "not_found": ("not_found",),
}
WORDS: dict[str, tuple[str, str]] = {
    "to_find": ("เด็กที่ต้องติดตาม", "children to find"),
    "not_followed": ("ยังไม่ได้ติดตาม", "not yet followed"),
    "following": ("กำลังติดตาม", "being followed"),
    "still_open": ("ยังติดตามอยู่", "still being looked for"),
    "found": ("พบตัว", "found"),
    "not_found": ("ไม่พบตัว", "not found"),
    "back_in_school": ("กลับเข้าเรียน", "back in school"),
    "share_back": ("ร้อยละที่กลับเข้าเรียน", "share back in school"),
    "cases": ("จำนวนรายการ", "cases"),
    "age_band": ("ช่วงอายุ (ปี)", "age band (years)"),
    "nationality": ("สัญชาติ", "nationality"),
    "thai": ("ไทย", "Thai"),
    "foreign": ("ต่างชาติ", "foreign"),
    "unknown": ("ไม่ทราบ", "unknown"),
    "other_age": ("อายุอื่นหรือไม่ทราบ", "other or unknown age"),
    "reason": ("สาเหตุการออก", "reason for leaving"),
    "help": ("ความช่วยเหลือที่ต้องการ", "help needed"),
    "children": ("จำนวนเด็ก", "children"),
    "placed": ("สถานที่เรียน", "placed at"),
    "same_school": ("โรงเรียนเดิม", "their own school"),
    "other_school": ("โรงเรียนอื่น", "another school"),
    "returned": ("กลับเข้าเรียน", "brought back"),
    "enrolled_1": ("ยังเรียนอยู่ 1 ภาคเรียนต่อมา", "still enrolled one term later"),
    "enrolled_2": ("ยังเรียนอยู่ 2 ภาคเรียนต่อมา", "still enrolled two terms later"),
    "not_yet_known_1": ("ยังไม่ถึง 1 ภาคเรียน", "one term not yet loaded"),
    "not_yet_known_2": ("ยังไม่ถึง 2 ภาคเรียน", "two terms not yet loaded"),
    "section": ("หัวข้อ", "section"),
    "item": ("รายการ", "item"),
    "group": ("กลุ่ม", "group"),
    "count": ("จำนวน", "count"),
    "share": ("ร้อยละ", "share (%)"),
    "counts_sheet": ("สรุป 4 ตัวเลข", "four counts"),
    "back_sheet": ("การกลับเข้าเรียน", "brought back"),
    "reasons_sheet": ("สาเหตุและความช่วยเหลือ", "reasons and help"),
    "kept_sheet": ("การคงอยู่หลังกลับเข้าเรียน", "still enrolled"),
    "findings_sheet": ("ผลการติดตาม", "findings"),
}


def word(key: str, language: str) -> str:
    thai, english = WORDS[key]
    return thai if language == "th" else english


def reason_word(code: int, language: str) -> str:
    return REASON_WORDS[code] if language == "th" else REASON_CODES[code]


def help_word(key: str, language: str) -> str:
    thai, english = HELP_WORDS[key]
    return thai if language == "th" else english


@dataclass
class Report:
    """The four tables, with their headers in the report's language."""

    counts: pd.DataFrame
    brought_back: pd.DataFrame
    reasons: pd.DataFrame
    kept: pd.DataFrame
    language: str

    def sheets(self) -> dict[str, pd.DataFrame]:
        return {
            word("counts_sheet", self.language): self.counts,
            word("back_sheet", self.language): self.brought_back,
            word("reasons_sheet", self.language): self.reasons,
            word("kept_sheet", self.language): self.kept,
        }

    def xlsx(self) -> bytes:
        return xlsx_bytes(self.sheets())

    def csv(self) -> bytes:
        """The four tables one under the other, each row naming its table (a sheet of
        the Excel file) in the first column."""
        section = word("section", self.language)
        frames = [frame.assign(**{section: name}) for name, frame in self.sheets().items()]
        combined = pd.concat(frames, ignore_index=True)
        ordered = [section, *[c for c in combined.columns if c != section]]
        return csv_bytes(combined[ordered])


def report(engine: sa.Engine, user: User, language: str = "th") -> Report:
    """The reports of the schools ``user`` may see the counts of."""
    if user.role not in COUNT_ROLES:
        raise PermissionError("this role sees no report of the worklist")
    with reading(engine) as connection:
        frame = _cases(connection, user)
        kept = _kept(connection, frame)
    return Report(
        counts=_four_counts(frame, language),
        brought_back=_brought_back(frame, language),
        reasons=_reasons(frame, language),
        kept=_kept_table(kept, language),
        language=language,
    )


def _cases(connection: sa.Connection, user: User) -> pd.DataFrame:
    students = TABLES["students"]
    query = sa.select(
        missing_cases.c.school_id,
        missing_cases.c.student_id,
        missing_cases.c.status,
        missing_cases.c.opened_on,
        missing_cases.c.reason_code,
        missing_cases.c.help_needed,
        missing_cases.c.found_school_id,
        missing_cases.c.found_on,
        missing_cases.c.person_id,
        missing_cases.c.expected_year,
        missing_cases.c.expected_term,
        students.c.birth_date,
        students.c.nationality,
    ).select_from(
        missing_cases.outerjoin(
            students,
            (students.c.school_id == missing_cases.c.school_id)
            & (students.c.student_id == missing_cases.c.student_id),
        )
    )
    if user.role == "committee":
        query = query.where(missing_cases.c.school_id == (user.school_id or ""))
    elif user.role == "area":
        query = query.where(missing_cases.c.school_id.in_(user.schools))
    frame = pd.DataFrame(connection.execute(query).mappings().all())
    if frame.empty:
        return pd.DataFrame(
            columns=[c.name for c in query.selected_columns],
        )
    return frame[~frame["status"].isin(NOBODY_TO_FIND)].reset_index(drop=True)


def _four_counts(frame: pd.DataFrame, language: str) -> pd.DataFrame:
    rows = []
    for key, statuses in FOUR_COUNTS.items():
        count = len(frame) if statuses is None else int(frame["status"].isin(statuses).sum())
        rows.append({"item": word(key, language), "count": count})
    rows.append(
        {"item": word("following", language), "count": int((frame["status"] == "following").sum())}
    )
    return pd.DataFrame(rows).rename(
        columns={"item": word("item", language), "count": word("count", language)}
    )


def _age(birth: Any, on: Any) -> int | None:
    if birth is None or on is None or pd.isna(birth) or pd.isna(on):
        return None
    b, d = pd.Timestamp(birth), pd.Timestamp(on)
    return int(d.year - b.year - ((d.month, d.day) < (b.month, b.day)))


def _brought_back(frame: pd.DataFrame, language: str) -> pd.DataFrame:
    ages = [_age(b, o) for b, o in zip(frame["birth_date"], frame["opened_on"], strict=True)]
    band = [
        next((name for low, high, name in AGE_BANDS if a is not None and low <= a <= high), None)
        for a in ages
    ]
    nationality = frame["nationality"].astype(object)
    group = [
        "unknown" if n is None or pd.isna(n) or n == "XX" else "thai" if n == "TH" else "foreign"
        for n in nationality
    ]
    table = frame.assign(band=pd.Series(band, index=frame.index, dtype=object), group=group)
    rows = []
    for band_name in [name for *_, name in AGE_BANDS] + [None]:
        for group_key in ("thai", "foreign", "unknown"):
            part = table[
                (table["band"].isna() if band_name is None else table["band"] == band_name)
                & (table["group"] == group_key)
            ]
            if part.empty:
                continue
            back = int(part["status"].isin(BACK_IN_SCHOOL).sum())
            rows.append(
                {
                    word("age_band", language): band_name or word("other_age", language),
                    word("nationality", language): word(group_key, language),
                    word("cases", language): len(part),
                    word("back_in_school", language): back,
                    word("share_back", language): round(100 * back / len(part), 1),
                    word("still_open", language): int(
                        (
                            part["status"].isin(OPEN_STATUSES)
                            & ~part["status"].isin(BACK_IN_SCHOOL)
                        ).sum()
                    ),
                }
            )
    columns = [
        word(k, language)
        for k in ("age_band", "nationality", "cases", "back_in_school", "share_back", "still_open")
    ]
    return pd.DataFrame(rows, columns=columns)


def _reasons(frame: pd.DataFrame, language: str) -> pd.DataFrame:
    rows = []
    reasons = frame["reason_code"].dropna().astype(int).value_counts()
    for code in sorted(reasons.index):
        rows.append(
            {
                word("section", language): word("reason", language),
                word("item", language): reason_word(int(code), language),
                word("children", language): int(reasons[code]),
            }
        )
    helps = pd.Series(
        [h for value in frame["help_needed"].dropna() for h in str(value).split(",") if h]
    ).value_counts()
    for key in HELP:
        if key in helps.index:
            rows.append(
                {
                    word("section", language): word("help", language),
                    word("item", language): help_word(key, language),
                    word("children", language): int(helps[key]),
                }
            )
    columns = [word(k, language) for k in ("section", "item", "children")]
    return pd.DataFrame(rows, columns=columns)


def _kept(connection: sa.Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """The children back in school (by the records), where, and whether still enrolled
    one and two terms after the term they came back (None: that term is not loaded)."""
    back = frame[frame["status"].isin(("returned", "enrolled_elsewhere"))]
    if back.empty:
        return pd.DataFrame(columns=["placed", "enrolled_1", "enrolled_2"])
    enrolled, students = TABLES["enrollments"], TABLES["students"]
    persons = sorted(set(back["person_id"]))
    rows = connection.execute(
        sa.select(students.c.person_id, enrolled.c.academic_year, enrolled.c.term)
        .select_from(
            enrolled.join(
                students,
                (students.c.school_id == enrolled.c.school_id)
                & (students.c.student_id == enrolled.c.student_id),
            )
        )
        .where(students.c.person_id.in_(persons))
    ).all()
    terms: dict[str, set[int]] = {}
    for person, year, term in rows:
        terms.setdefault(person, set()).add(int(year) * 2 + int(term))
    latest = connection.execute(
        sa.select(sa.func.max(enrolled.c.academic_year * 2 + enrolled.c.term))
    ).scalar()
    newest = int(latest or 0)
    out = []
    for person, school, found_at, year, term in zip(
        back["person_id"],
        back["school_id"],
        back["found_school_id"],
        back["expected_year"],
        back["expected_term"],
        strict=True,
    ):
        theirs = terms.get(person, set())
        began = min((o for o in theirs if o >= int(year) * 2 + int(term)), default=None)
        if began is None:
            continue
        out.append(
            {
                "placed": "same_school" if found_at == school else "other_school",
                "enrolled_1": None if began + 1 > newest else began + 1 in theirs,
                "enrolled_2": None if began + 2 > newest else began + 2 in theirs,
            }
        )
    return pd.DataFrame(out, columns=["placed", "enrolled_1", "enrolled_2"])


def _kept_table(kept: pd.DataFrame, language: str) -> pd.DataFrame:
    rows = []
    for placed in ("same_school", "other_school"):
        part = kept[kept["placed"] == placed]
        rows.append(
            {
                word("placed", language): word(placed, language),
                word("returned", language): len(part),
                word("enrolled_1", language): sum(v is True for v in part["enrolled_1"]),
                word("not_yet_known_1", language): int(part["enrolled_1"].isna().sum()),
                word("enrolled_2", language): sum(v is True for v in part["enrolled_2"]),
                word("not_yet_known_2", language): int(part["enrolled_2"].isna().sum()),
            }
        )
    return pd.DataFrame(rows)
