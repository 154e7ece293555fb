"""Property-based loading of damaged school files: no file crashes the load or costs the
class list beside it, and loading the same folder again changes nothing.

Each example is a school's folder: a class list of three children, and one file as
schools keep it (a monthly register, a grade summary under a merged label, a screening
form of ticks, or a sheet of headers drawn from the contract and others), with cells
replaced, rows copied, cut or dropped and columns inserted, as Excel or as CSV. Such
damage found two crashes the hand-made forms had not: a column given twice, and a
register's day given twice (12, then ๑๒).
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

import openpyxl
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from schooldata.contract import SOURCES
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from tests.conftest import ID_KEY, LOAD_EXAMPLES

EXAMPLES = 40
CODES = ["05101", "05102", "05103"]
# What a school's cell may hold: codes, marks, grades, dates of every kind, errors.
VALUES = [
    None,
    "",
    "05101",
    5101,
    "๐๕๑๐๑",
    "-",
    "#N/A",
    "=SUM(A1:A3)",
    dt.datetime(2025, 6, 15),
    "15/06/2568",
    "31/02/2568",
    "15 มิ.ย. 2568",
    45823,
    -1,
    2.5,
    1e12,
    "nan",
    "ร",
    "มส",
    "/",
    "ข",
    "ล",
    "✓",
    "ปกติ",
    "เสี่ยง",
    "ม.1",
    True,
    "ก" * 300,
    "a\nb",
    "[/]",
    "1101700230705",
    "3,000",
]
EXTRA_HEADERS = [
    "เลขที่",
    "ชื่อ - สกุล",
    "หมายเหตุ",
    "GPA",
    "ภาษาไทย",
    "ท21101",
    "คะแนน",
    "ปกติ",
    "มิถุนายน 2568",
    "12",
    "๑๒",
    "จ",
    "",
    "มา [/]",
    "รายได้เฉลี่ยต่อคนต่อเดือน",
    "ระยะทาง (เมตร)",
    "เลขประจำตัวประชาชน",
    "รหัสสถานศึกษา",
]
value = st.sampled_from(VALUES)


@st.composite
def register(draw: st.DrawFn) -> tuple[str, list[list[object]], list[tuple[int, int, int]]]:
    days = draw(st.lists(st.integers(1, 30), min_size=3, max_size=8))
    written = [draw(st.sampled_from([d, str(d), str(d).translate(_THAI)])) for d in days]
    header = ["เลขที่", "รหัสนักเรียน", "ชื่อ - สกุล", "มิถุนายน 2568"] + [None] * (len(days) - 1)
    rows = [["แบบบันทึกเวลาเรียน ชั้น ม.1/1"], header, [None, None, None, *written]]
    if draw(st.booleans()):
        rows.append([None, None, None, *(draw(st.sampled_from("จอพศ")) for _ in days)])
    marks = st.sampled_from(["/", "/", "ข", "ล", "ส", "", "x"])
    rows += [[i, code, "ชื่อ", *(draw(marks) for _ in days)] for i, code in enumerate(CODES)]
    return "การมาเรียน", rows, [(2, 4, 3 + len(days))]


@st.composite
def summary(draw: st.DrawFn) -> tuple[str, list[list[object]], list[tuple[int, int, int]]]:
    subjects = draw(st.lists(st.sampled_from(["ท21101", "ค21101 (1.5)", "ว21101"]), min_size=1))
    rows = [
        ["สรุปผลการเรียน ภาคเรียนที่ 1 ปีการศึกษา 2568"],
        ["เลขที่", "เลขประจำตัว", "ชื่อ - สกุล", "ผลการเรียนรายวิชา"] + [None] * (len(subjects) - 1),
        [None, None, None, *subjects],
    ]
    grades = st.sampled_from([4, "3.5", "ร", "มส", 0, "", 9])
    rows += [[i, code, "ชื่อ", *(draw(grades) for _ in subjects)] for i, code in enumerate(CODES)]
    return "ผลการเรียน", rows, [(2, 4, 3 + len(subjects))]


@st.composite
def screening(draw: st.DrawFn) -> tuple[str, list[list[object]], list[tuple[int, int, int]]]:
    aspects = draw(st.lists(st.sampled_from(["ด้านการเรียน", "ด้านสุขภาพ"]), min_size=1))
    rows = [
        ["แบบสรุปผลการคัดกรองนักเรียน วันที่คัดกรอง 15 มิ.ย. 2568"],
        ["เลขที่", "เลขประจำตัว", "ชื่อ - สกุล", *(c for a in aspects for c in (a, None, None))],
        [None, None, None, *(["ปกติ", "เสี่ยง", "มีปัญหา"] * len(aspects))],
    ]
    ticks = st.sampled_from(["✓", "/", None, None, "x"])
    rows += [
        [i, code, "ชื่อ", *(draw(ticks) for _ in range(3 * len(aspects)))]
        for i, code in enumerate(CODES)
    ]
    return "การคัดกรองนักเรียน", rows, [(2, 4 + 3 * i, 6 + 3 * i) for i in range(len(aspects))]


@st.composite
def any_headers(draw: st.DrawFn) -> tuple[str, list[list[object]], list[tuple[int, int, int]]]:
    """A file named after a source, its headers mostly that source's (any of their
    English and Thai names, so one column may come twice), some of other files'."""
    source = draw(st.sampled_from(SOURCES))
    own = sorted({h for c in source.columns for h in (c.name, c.thai, *c.headers) if h})
    header = draw(
        st.lists(st.sampled_from(own) | st.sampled_from(EXTRA_HEADERS), min_size=1, max_size=10)
    )
    rows: list[list[object]] = [header]
    rows += draw(st.lists(st.lists(value, min_size=len(header), max_size=len(header)), max_size=5))
    return draw(st.sampled_from([source.name, "ข้อมูล DMC"])), rows, []


@st.composite
def damaged(draw: st.DrawFn, form: st.SearchStrategy) -> tuple[str, list[list[object]], list]:  # type: ignore[type-arg]
    name, rows, merges = draw(form)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(rows) - 1))
        kind = draw(st.sampled_from(["cell", "blank row", "copy row", "drop row", "column"]))
        if kind == "cell" and rows[at]:
            rows[at][draw(st.integers(0, len(rows[at]) - 1))] = draw(value)
        elif kind == "blank row":
            rows.insert(at, [])
        elif kind == "copy row":
            rows.insert(at, list(rows[at]))
        elif kind == "drop row" and len(rows) > 1:
            del rows[at]
        elif kind == "column":
            column = draw(st.integers(0, 6))
            for row in rows:
                row[column:column] = [None] if len(row) > column else []
    return name, rows, merges


def _save(folder: Path, name: str, rows: list[list[object]], merges: list, as_csv: bool) -> None:  # type: ignore[type-arg]
    if as_csv:
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as saved:
            csv.writer(saved).writerows(["" if v is None else str(v) for v in r] for r in rows)
        return
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for row, first, last in merges:
        sheet.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
    book.save(folder / f"{name}.xlsx")


def _class_list(folder: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["รายชื่อนักเรียนชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568"])
    sheet.append(["เลขที่", "เลขประจำตัว", "ชื่อ - สกุล"])
    for i, code in enumerate(CODES):
        sheet.append([i + 1, code, "ด.ช.สมชาย ใจดี"])
    book.save(folder / "นักเรียน.xlsx")


def _counts(engine: sa.Engine) -> dict[str, int]:
    tables = ("students", "enrollments", "attendance", "grades", "screenings", "household")
    with engine.connect() as connection:
        return {
            t: connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
            for t in tables
        }


_THAI = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


@given(
    file=damaged(register() | summary() | screening() | any_headers()),
    as_csv=st.booleans(),
)
@settings(LOAD_EXAMPLES, max_examples=EXAMPLES)
def test_a_damaged_school_file_never_crashes_the_load_nor_costs_the_class_list(
    file: tuple[str, list[list[object]], list],
    as_csv: bool,  # type: ignore[type-arg]
) -> None:
    name, rows, merges = file
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work) / "data"
        folder = directory / "schools" / "S1"
        folder.mkdir(parents=True)
        (folder / "exits.csv").write_text("student_id,exit_date,exit_type\n")
        if name not in ("students", "enrollments"):  # a file under those names replaces it
            _class_list(folder)
        _save(folder, name, rows, merges, as_csv)
        engine = make_engine(f"sqlite:///{work}/ews.db")

        report = ingest_directory(directory, engine, ID_KEY, None)
        loaded = _counts(engine)
        ingest_directory(directory, engine, ID_KEY, None, schools=frozenset({"S1"}), dry_run=True)
        ingest_directory(directory, engine, ID_KEY, None)

        assert _counts(engine) == loaded
        # A schools list not naming the folder's school makes it unknown: its children
        # are rejected as such, a reason the report gives.
        schools_list = any(s.source == "schools" and s.rows_loaded for s in report.sources)
        if name not in ("students", "enrollments") and not schools_list:
            assert loaded["students"] == len(CODES)
        engine.dispose()
