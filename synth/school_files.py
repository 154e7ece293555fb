"""One school's records in the forms schools keep, not the contract's CSV.

Excel workbooks with Thai headers and Thai values (ม.1, ชาย/หญิง, เมียนมา, two-digit
Buddhist-Era dates), attendance as a class register (one sheet a month, one column per
school day, marks ``/ ข ส ป ล``, a blank cell for a day not recorded) and the DMC enrolment
export, which has no advisor column. Ingest must read them to the same tables as the CSV.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

from schooldata.contract import GRADE_LEVELS, NATIONALITY_ALIASES, SOURCES, SOURCES_BY_NAME

# Written per school (the students and what is about them); schools and the calendar stay
# in the area's shared files.
PER_SCHOOL = tuple(s.name for s in SOURCES if s.about_students)
THAI_LEVEL = {"K": "อ.", "P": "ป.", "M": "ม.", "V": "ปวช.", "H": "ปวส."}
THAI_SEX = {"M": "ชาย", "F": "หญิง"}
THAI_NATIONALITY = {code: word for word, code in NATIONALITY_ALIASES.items() if not word.isascii()}
MARK = {"present": "/", "absent": "ข", "late": "ส", "sick_leave": "ป", "personal_leave": "ล"}
MONTHS = (
    "ม.ค.",
    "ก.พ.",
    "มี.ค.",
    "เม.ย.",
    "พ.ค.",
    "มิ.ย.",
    "ก.ค.",
    "ส.ค.",
    "ก.ย.",
    "ต.ค.",
    "พ.ย.",
    "ธ.ค.",
)


def split_school(
    frames: dict[str, pd.DataFrame], school_id: str
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """(everything else, the school's own records): every record about the school's
    students. A school's own files leave out its school column (ingest fills it in from
    the folder), as a school's system would."""
    rest, mine = dict(frames), {}
    for name in PER_SCHOOL:
        frame = frames[name]
        ours = frame["school_id"] == school_id
        rest[name] = frame.loc[~ours]
        mine[name] = (
            frame.loc[ours]
            if name in ("students", "enrollments")
            else frame.loc[ours].drop(columns=["school_id"])
        )
    return rest, mine


def write_school_files(frames: dict[str, pd.DataFrame], folder: Path) -> None:
    """Write one school's records as its staff keep them, one workbook per source."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if name == "attendance":
            _write_register(frame, folder / "attendance.xlsx")
            continue
        frame = _thai_values(name, frame)
        if name == "enrollments":
            frame = frame.drop(columns=["advisor_id"])  # a DMC export has none
        source = SOURCES_BY_NAME[name]
        headers: list[object] = [source.column(c).thai for c in frame.columns]
        _write_workbook(
            folder / f"{name}.xlsx",
            {source.thai: [headers, *_cells(frame)]},
            title=f"{source.thai} (ส่งออกจากระบบของโรงเรียน)",
        )


def _thai_values(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    if name == "students":
        frame["sex"] = frame["sex"].map(THAI_SEX).fillna(frame["sex"])
        frame["nationality"] = (
            frame["nationality"].map(THAI_NATIONALITY).fillna(frame["nationality"])
        )
        frame["birth_date"] = _be_short(frame["birth_date"])
    if name == "enrollments":
        level = frame["grade_level"].astype(str)
        thai = level.str[0].map(THAI_LEVEL) + level.str[1:]
        frame["grade_level"] = thai.where(level.isin(GRADE_LEVELS), level)
    if name == "exits":
        frame["exit_date"] = _thai_month(frame["exit_date"])
    return frame


def _be_short(dates: pd.Series) -> pd.Series:
    """dd/mm/yy with a two-digit Buddhist-Era year, as typed in Thai offices."""
    d = pd.to_datetime(dates, errors="coerce")
    text = d.dt.strftime("%d/%m/") + ((d.dt.year + 543) % 100).map(lambda y: f"{y:02.0f}")
    return text.where(d.notna(), dates)


def _thai_month(dates: pd.Series) -> pd.Series:
    """``10 มิ.ย. 2568``."""
    d = pd.to_datetime(dates, errors="coerce")
    text = (
        d.dt.day.map(lambda v: f"{v:.0f}")
        + " "
        + d.dt.month.map(lambda m: MONTHS[int(m) - 1] if pd.notna(m) else "")
        + " "
        + (d.dt.year + 543).map(lambda y: f"{y:.0f}")
    )
    return text.where(d.notna(), dates)


def _cells(frame: pd.DataFrame) -> list[list[object]]:
    """Rows of Excel values: ISO date text as real dates, blanks as empty cells."""
    out = []
    for row in frame.itertuples(index=False):
        out.append([_cell(v) for v in row])
    return out


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_register(attendance: pd.DataFrame, path: Path) -> None:
    """One sheet a month: a student per row, a school day per column (Buddhist-Era dates)."""
    days = pd.to_datetime(attendance["date"], errors="coerce")
    rows = attendance.assign(day=days).dropna(subset=["day"])
    rows = rows.drop_duplicates(["student_id", "day"])
    sheets: dict[str, list[list[object]]] = {}
    for month, part in rows.groupby(rows["day"].dt.to_period("M"), sort=True):
        grid = part.pivot(index="student_id", columns="day", values="status")
        columns = pd.DatetimeIndex(grid.columns)
        header: list[object] = ["ลำดับ", "รหัสนักเรียน"]
        header += [f"{d.day}/{d.month}/{d.year + 543}" for d in columns]
        body: list[list[object]] = [
            [i + 1, student, *(MARK.get(s, s) if isinstance(s, str) else None for s in marks)]
            for i, (student, marks) in enumerate(zip(grid.index, grid.to_numpy(), strict=True))
        ]
        sheets[f"{MONTHS[month.month - 1]} {month.year + 543}"] = [header, *body]
    _write_workbook(path, sheets, title="แบบบันทึกเวลาเรียน")


def _write_workbook(path: Path, sheets: dict[str, list[list[object]]], title: str) -> None:
    book = openpyxl.Workbook(write_only=True)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name[:31])
        sheet.append([title])  # a title row above the header, as schools' sheets have
        for row in rows:
            sheet.append(row)
    book.save(path)
