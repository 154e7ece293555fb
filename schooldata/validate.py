"""Read one source file and split it into typed good rows and a rejects report.

Files come as CSV, Excel (``.xlsx`` / ``.xls``) or Parquet, with English or Thai headers;
attendance may also come as a class register (one column per day), which is turned into
one row per student and day. Parsing is vectorised per column; value rules (allowed values,
ranges, patterns, the national-ID checksum) are a pandera schema built from the contract.

A bad required or key value rejects its row; a bad optional value is blanked and reported
as a warning, and the row is kept. Each is reported with its file, line, column, value and
reason. A file that cannot be read or lacks a required column is refused whole
(:class:`FileRefused`).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import functools
import io
import itertools
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import python_calamine

from core import clock
from schooldata.contract import (
    ATTENDANCE,
    ENROLLMENTS,
    GRADES_SOURCE,
    PER_PERSON_HEADERS,
    SCREENING_ALIASES,
    SCREENING_LEVELS,
    SOURCES,
    STUDENTS,
    Column,
    Source,
    fold_header,
    unit_factor,
)
from schooldata.national_id import is_accepted as national_id_is_accepted

REJECT_COLUMNS = ["file", "line", "column", "value", "reason", "action"]
# What happened to a reported value: its row rejected, the value blanked (the row kept),
# or the value corrected (a code's leading zeros put back; the row kept); or an ID kept
# but linking no one (several students of one school carry it: ``identity.shared_ids``).
REJECTED, BLANKED, CORRECTED, NOT_LINKED = "rejected", "blanked", "corrected", "not linked"
# Workbooks: Excel's, old and new, and LibreOffice Calc's (.ods, the open format).
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
# Text tables: CSV, and the tab-separated text Excel saves ("Unicode Text" or "Text (Tab
# delimited)", named .txt) or a system exports (.tsv).
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
SUFFIXES = (*TEXT_SUFFIXES, *WORKBOOK_SUFFIXES, ".parquet")
# What separates a text table's cells: a comma, a tab or (a sheet of a locale writing
# decimal commas) a semicolon; the one whose header names the most known columns.
DELIMITERS = (",", "\t", ";")
# Excel day 0 is 1899-12-30 (it counts 1900 as a leap year); serials past 1950 only.
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EXCEL_SERIALS = (18_264, 73_051)  # 1950-01-01 .. 2099-12-31
THAI_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        ("ม.ค.", "มกราคม", "มกรา"),
        ("ก.พ.", "กุมภาพันธ์", "กุมภา"),
        ("มี.ค.", "มีนาคม", "มีนา"),
        ("เม.ย.", "เมษายน", "เมษา"),
        ("พ.ค.", "พฤษภาคม", "พฤษภา"),
        ("มิ.ย.", "มิถุนายน", "มิถุนา"),
        ("ก.ค.", "กรกฎาคม", "กรกฎา"),
        ("ส.ค.", "สิงหาคม", "สิงหา"),
        ("ก.ย.", "กันยายน", "กันยา"),
        ("ต.ค.", "ตุลาคม", "ตุลา"),
        ("พ.ย.", "พฤศจิกายน", "พฤศจิกา"),
        ("ธ.ค.", "ธันวาคม", "ธันวา"),
    ),
    start=1,
):
    for _name in _names:
        THAI_MONTHS[_name] = _number
        THAI_MONTHS[_name.replace(".", "")] = _number
# A register needs at least this many day columns to be read as one.
REGISTER_MIN_DAYS = 3
# A header row is looked for among a file's first rows (a sheet's title lines above it).
HEADER_SEARCH_ROWS = 15
# "มี"/"ไม่มี" (has, has not): how a survey answers "owns land", "has electricity".
TRUE_WORDS = {fold_header(w) for w in ("true", "1", "yes", "y", "t", "ใช่", "จริง", "มี")}
FALSE_WORDS = {fold_header(w) for w in ("false", "0", "no", "n", "f", "ไม่ใช่", "เท็จ", "ไม่มี")}
# Buddhist-Era years are 543 ahead of the Common Era.
BE_OFFSET = 543
BE_YEARS_FROM = 2400  # a four-digit year above this is Buddhist Era (2568 is 2025)


class FileRefused(Exception):
    """A whole file is refused: unreadable, or missing a required column."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


@dataclass
class ParsedSource:
    """The good rows of one file (typed, contract column names) and its rejects."""

    source: Source
    file: str
    rows: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    lines: np.ndarray  # the file line of each good row
    # The contract's columns the file has: a load keeps what is stored in the others.
    given: tuple[str, ...] = ()


@dataclass(frozen=True)
class FolderFiles:
    """A folder's data files: those read for each source, and those not read, with why."""

    of: dict[str, list[Path]]
    not_read: list[tuple[Path, str]]


def folder_files(directory: Path) -> FolderFiles:
    """The data files of ``directory`` (CSV, Excel or Parquet), by the source each holds.

    A source's files are the one named after it, then every file in a folder named after
    it (``attendance/``: one register per classroom or month), in name order. A file
    named after no source (a school's export under its own name) is read by its headers
    when it is the only one of its data in the folder. Where a file is named after that
    data, or several hold it, none of them is guessed at: a folder also keeps copies
    (``students (1).xlsx``, one set aside), and an old copy must never load for this
    term's. Every file not read is named, with why and what would have it read, and so is
    a folder of data files named after no source (``attendance.old/``, a term's folder).
    """
    paths = sorted(directory.iterdir())
    files = [p for p in paths if _a_data_file(p)]
    of: dict[str, list[Path]] = {}
    not_read: list[tuple[Path, str]] = []
    for source in SOURCES:
        named = [p for p in files if source.named(p.stem)]
        of[source.name] = named[:1]
        for folder in (p for p in paths if p.is_dir() and source.named(p.name)):
            of[source.name] += [path for path in sorted(folder.iterdir()) if _a_data_file(path)]
        not_read += [
            (
                p,
                f"{named[0].name} is read as this folder's {source.name}; several files of "
                f"one source go in a folder named {source.name}/",
            )
            for p in named[1:]
        ]
    not_read += [
        (
            p,
            "a folder is read only when named after a source (attendance/, การมาเรียน/), "
            "and a school's own files in schools/<school_id>/",
        )
        for p in paths
        if p.is_dir()
        and not any(s.named(p.name) for s in SOURCES)
        and any(_a_data_file(inner) for inner in p.iterdir())
    ]
    unnamed = [p for p in files if not any(s.named(p.stem) for s in SOURCES)]
    seen = {path: detect_source(path) for path in unnamed}
    for path, seems in seen.items():
        if seems is None:
            not_read.append(
                (
                    path,
                    "neither its name nor its headers tell which data it holds: name it "
                    f"after its data ({', '.join(s.name for s in SOURCES)}); "
                    "docs/data-dictionary.md gives each one's headers",
                )
            )
            continue
        alike = [p.name for p, s in seen.items() if s is seems and p != path]
        # A class list named after the students holds the enrolments too.
        had = of[seems.name] or files_holding_too(FolderFiles(of, []), seems)
        if not had and not alike:
            of[seems.name] = [path]  # the folder's only file of its data
            continue
        why = (
            f"{had[0].name} is read as this folder's {seems.name}"
            if had
            else f"so are those of {', '.join(alike)}, and which is this folder's is not guessed"
        )
        not_read.append(
            (
                path,
                f"its headers are those of {seems.name} ({seems.thai}), but {why}: to load "
                f"it, name it {seems.name}{path.suffix} or {seems.thai}{path.suffix}, or put "
                f"the files of {seems.name} in a folder named {seems.name}/",
            )
        )
    return FolderFiles(of, sorted(not_read))


def files_holding_too(files: FolderFiles, source: Source) -> list[Path]:
    """Without a file of ``source`` in a folder, the files of another source there that
    hold it as well. A class list (students, each one's class and term named by columns
    or by its sheet's title) is also the term's enrolments; an enrolment file naming its
    students (name, sex, ID or birth date) is also the students file."""
    partner = {"enrollments": STUDENTS, "students": ENROLLMENTS}.get(source.name)
    if partner is None:
        return []
    return [p for p in files.of[partner.name] if _holds_too(p, partner, source)]


# Students columns an enrolment file may carry, making it a class list.
_ABOUT_A_STUDENT = {"given_name", "family_name", "national_id", "sex", "birth_date"}


def _holds_too(path: Path, partner: Source, source: Source) -> bool:
    try:
        sheets = _read_sheets(path, partner)
    except FileRefused:
        return False  # refused as its own source already, with the reason
    for frame, _ in sheets:
        columns = set(_contract_names(frame.columns, source))
        names = {fold_header(str(c)) for c in frame.columns} & _FULL_NAME
        if source.name == "students" and not (columns & _ABOUT_A_STUDENT or names):
            return False
        titled = _named_in_titles(frame.attrs.get("titles", []), columns, source)
        if source.name == "enrollments" and not {*TITLED_COLUMNS[source.name]} <= {
            *columns,
            *titled,
        }:
            return False
    return bool(sheets)


def _a_data_file(path: Path) -> bool:
    return (
        path.is_file()
        and path.suffix.lower() in SUFFIXES
        and not path.name.startswith(("~$", "."))  # Excel's lock file of an open workbook
    )


def detect_source(path: Path) -> Source | None:
    """The source a file holds: by its name (English or Thai), else by its headers.

    A class register (a student column and one column per day) is attendance; a grade
    summary (a student column and one column per subject, headed by its code) is grades.
    """
    for source in SOURCES:
        if source.named(path.stem):
            return source
    try:
        frame, _ = _read_table(path)
    except FileRefused:
        return None
    if _register_days(frame.columns):
        return ATTENDANCE
    if _subject_columns(frame.columns, GRADES_SOURCE):  # a column a subject
        return GRADES_SOURCE
    headers = {fold_header(str(c)) for c in frame.columns}
    best: tuple[int, Source | None] = (0, None)
    for source in SOURCES:
        named = {column for header, column in source.headers.items() if header in headers}
        named |= set(_named_in_titles(frame.attrs.get("titles", []), named, source))
        # A school's own file may leave its school out: its folder or upload names it.
        # A school's code alone says nothing of what a file holds (not even a schools
        # list, whose every other column is optional).
        if (
            named - {"school_id"}
            and set(source.required_columns) - {"school_id"} <= named
            and len(named) > best[0]
        ):
            best = (len(named), source)
    return best[1]


def decode_csv_bytes(data: bytes) -> str:
    """Decode a text file (``text_encoding``). A NUL character (a damaged export's) is
    dropped: it is no part of any value, and PostgreSQL refuses text holding one, which
    failed the whole load."""
    return data.decode(text_encoding(data)).replace("\x00", "")


UTF8_PIECE = 1 << 24  # bytes of a text file checked as UTF-8 at a time


def text_encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 (Excel's "Unicode Text", which starts with
    its byte-order mark), else Windows-874 / TIS-620. UTF-8 is checked a piece at a
    time, never as one copy of the whole text."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    view, piece = memoryview(data), UTF8_PIECE
    try:
        for start in range(0, len(data), piece):
            decoder.decode(view[start : start + piece], final=start + piece >= len(data))
    except UnicodeDecodeError:
        return "cp874"
    return "utf-8-sig"


def _csv_bytes(data: bytes) -> tuple[bytes, str]:
    """A text file's bytes as the CSV reader takes them, and their encoding; NULs dropped
    (``decode_csv_bytes``). The reader decodes as it goes: the whole text decoded first,
    then copied into a text stream, took twice the memory and time of the table read."""
    encoding = text_encoding(data)
    if encoding == "utf-16":  # its NULs are half its bytes: the text is recoded
        return decode_csv_bytes(data).encode("utf-8"), "utf-8"
    return data.replace(b"\x00", b""), encoding  # a NUL byte is a NUL in these


def read_raw(
    path: Path, source: Source, school: str | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a file as text columns named by the contract, with each row's line number.

    Excel rows are numbered as Excel shows them; a register's rows as ``sheet:row``. A
    file of one school's (``school``: its folder's, or an upload's) may leave out the
    school column, then filled with that school.

    Raises:
        FileRefused: the file cannot be read or lacks a required column.
    """
    sheets = [(_ticked_levels(f, source), rows) for f, rows in _read_sheets(path, source)]
    frame, lines = sheets[0]
    # A register's or a grade summary's other columns (names, totals) are for people.
    shaped = source.name == "attendance" and bool(_register_days(frame.columns))
    scales = {k: v for f, _ in reversed(sheets) for k, v in _unit_scales(f.columns, source).items()}
    per_person = {n for f, _ in sheets for n in _per_person(f.columns, source).values()}
    if shaped:
        parts = [_register_to_rows(f, rows, source, path.name) for f, rows in sheets]
        frame = pd.concat([f for f, _, _ in parts], ignore_index=True)
        lines = np.concatenate([rows for _, rows, _ in parts])
        frame.columns = _contract_names(frame.columns, source)
        duplicates = list(dict.fromkeys(d for _, _, found in parts for d in found))
    elif len(sheets) == 1 and not _subject_columns(frame.columns, source):
        frame = _named(frame, source)
        duplicates = frame.attrs["duplicates"]
        frame = _with_names_split(_with_titled_columns(frame, source), source)
    else:
        # A workbook of one sheet per classroom: each sheet's headers are its own, and
        # its title may name its class and term. A grade summary becomes a row a grade.
        shaped = any(_subject_columns(f.columns, source) for f, _ in sheets)
        sheets = [_summary_to_rows(f, rows, source) for f, rows in sheets]
        named = [_named(f, source) for f, _ in sheets]
        duplicates = list(dict.fromkeys(d for f in named for d in f.attrs["duplicates"]))
        named = [_with_names_split(_with_titled_columns(f, source), source) for f in named]
        frame = named[0] if len(named) == 1 else pd.concat(named, ignore_index=True).fillna("")
        lines = np.concatenate([rows for _, rows in sheets])
    if school is not None and "school_id" in source.column_names:
        if "school_id" not in frame.columns:
            frame["school_id"] = school
        else:
            blank = frame["school_id"].astype(str).str.strip().isin(("", "nan"))
            frame["school_id"] = frame["school_id"].where(~blank, school)
    national_ids = _named_by_national_id(frame, source)
    if national_ids is not None:
        frame["student_id"] = ""  # each row's student is found by the ID as it loads
    missing = [c for c in source.required_columns if c not in frame.columns]
    if missing:
        titled = set(TITLED_COLUMNS.get(source.name, ()))
        hint = TITLE_HINTS[source.name] if set(missing) & titled else ""
        raise FileRefused(
            path.name, f"missing required column {', '.join(repr(c) for c in missing)}{hint}"
        )
    given = [c for c in source.column_names if c in frame.columns]
    unread = duplicates + ([] if shaped else _unread(frame, source))
    for column in source.column_names:
        if column not in frame.columns:
            frame[column] = ""
    frame = frame[source.column_names].reset_index(drop=True)
    frame.attrs["given"] = given  # the columns the file has (``ParsedSource.given``)
    frame.attrs["unread"] = unread
    frame.attrs["scales"] = scales  # values in another unit, converted as they are parsed
    frame.attrs["per_person"] = per_person  # values per household member, likewise
    if national_ids is not None:
        frame.attrs["national_ids"] = national_ids
    return frame, lines


def _named_by_national_id(frame: pd.DataFrame, source: Source) -> pd.Series | None:
    """A file about students naming each by the national ID or G code, not the school's
    code (the equity fund's screening, a hospital's list): the IDs, row by row."""
    if source.student_ref is None or source.name == "students" or "student_id" in frame.columns:
        return None
    column = next(
        (c for c in frame.columns if STUDENTS.headers.get(fold_header(str(c))) == "national_id"),
        None,
    )
    if column is None:
        return None
    ids = _arabic_digits(frame[column].fillna("").astype(str).str.strip())
    return ids.str.replace(r"[\s-]", "", regex=True).str.upper().reset_index(drop=True)


def masked_national_id(value: str) -> str:
    """A national ID as a report may show it: its last four digits."""
    return _masked(value, STUDENTS.column("national_id"))


# What a school's file holds for the people reading it, whose loss is no loss: row
# numbers, and who the child is and where they sit (the students and enrolments files
# hold those).
_ROW_NUMBERS = {fold_header(h) for h in ("ลำดับ", "ลำดับที่", "เลขที่", "ที่", "no", "no.", "#")}
_NOT_LOST = {*STUDENTS.headers, *ENROLLMENTS.headers, *_ROW_NUMBERS}
_NO_HEADER = re.compile(r"^(unnamed: \d+)?$")


def _unread(frame: pd.DataFrame, source: Source) -> list[str]:
    """The file's columns holding values the source does not read: a header the
    contract does not know, or another source's data (the report names them)."""
    return [
        str(c)
        for c in frame.columns
        if c not in source.column_names
        and fold_header(str(c)) not in _NOT_LOST | _FULL_NAME
        and not _NO_HEADER.match(str(c))
        and frame[c].fillna("").astype(str).str.strip().ne("").any()
    ]


def _contract_names(columns: pd.Index, source: Source) -> list[str]:
    """Each header's contract column, else the header as it is (a column not read). A
    header naming a unit of another kind in brackets is not the column's; a header of
    the value per household member names it when no header names it whole."""
    per_person = _per_person(columns, source)
    return [
        name or per_person.get(str(c)) or str(c).strip().casefold()
        for c, name in zip(columns, _whole_names(columns, source), strict=True)
    ]


def _whole_names(columns: pd.Index, source: Source) -> list[str | None]:
    headers = source.headers
    names = []
    for c in columns:
        name = headers.get(fold_header(str(c)))
        if name is not None and unit_factor(str(c), source.column(name)) is None:
            name = None
        names.append(name)
    return names


def _per_person(columns: pd.Index, source: Source) -> dict[str, str]:
    """The headers giving a column's value per household member → that column (none
    that a header names whole, nor given twice)."""
    whole = set(_whole_names(columns, source))
    found: dict[str, str] = {}
    for c in columns:
        name = PER_PERSON_HEADERS.get(source.name, {}).get(fold_header(str(c)))
        if name is not None and name not in whole and name not in found.values():
            if unit_factor(str(c), source.column(name)) is not None:
                found[str(c)] = name
    return found


def _unit_scales(columns: pd.Index, source: Source) -> dict[str, float]:
    """The columns whose header gives them in another unit (เมตร for กม.), with the
    factor to the contract's unit."""
    scales: dict[str, float] = {}
    for header, name in zip(columns, _contract_names(columns, source), strict=True):
        if name in source.column_names:
            factor = unit_factor(str(header), source.column(name))
            if factor is not None and factor != 1.0:
                scales.setdefault(name, factor)
    return scales


_SECOND_COLUMN = re.compile(
    r"^(.*) \(a second (\S+) column: where it differs from the first, the first is read\)$"
)


def second_column_note(header: str, name: str) -> str:
    """How the report names a second column naming the contract column ``name`` (or a
    register's second column of the day ``name``), read only where the first is blank."""
    return f"{header} (a second {name} column: where it differs from the first, the first is read)"


def second_column(note: str) -> tuple[str, str] | None:
    """The header and the column (or day) of a report's note on a second column naming
    one (``second_column_note``); None for a column not read at all."""
    found = _SECOND_COLUMN.match(note)
    return None if found is None else (found[1], found[2])


def _named(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    """The sheet's columns by their contract names. Of two columns naming one contract
    column (a DMC export's เพศ and คำนำหน้าชื่อ are both the sex), the first is read and
    a later one fills its blanks; a later one saying otherwise on some row is named as
    not read there (``attrs["duplicates"]``), never dropped unseen."""
    names = _contract_names(frame.columns, source)
    named = frame.set_axis(names, axis=1)
    again = named.columns.duplicated()
    kept = named.loc[:, ~again]
    duplicates = []
    for i in np.flatnonzero(again & named.columns.isin(source.column_names)).tolist():
        column = source.column(names[i])
        first, later = kept[column.name], named.iloc[:, i]
        said, says = _meaning(first, column), _meaning(later, column)
        if (said.ne("") & says.ne("") & said.ne(says)).any():
            duplicates.append(second_column_note(str(frame.columns[i]), column.name))
        kept = kept.assign(**{column.name: first.where(said.ne(""), later)})
    kept.attrs = {**frame.attrs, "duplicates": duplicates}
    return kept


def _meaning(values: pd.Series, column: Column) -> pd.Series:
    """A cell's value as two columns naming one are compared: its words as the contract
    reads them (เด็กชาย and ชาย are both M), its digits Arabic."""
    text = _arabic_digits(values.fillna("").astype(str).str.strip())
    if column.aliases or column.allowed:
        text = _normalise_category(text, column).fillna("").astype(str)
    return text


# What a title names instead of a column: a class list's class and term ("รายชื่อ
# นักเรียนชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568"; a sheet's name cannot hold "/": ม.1-1
# there), a grade book's subject, credits and term ("รายวิชา ท21101 ภาษาไทย 1 จำนวน 1.5
# หน่วยกิต").
TITLED_COLUMNS = {
    "enrollments": ("grade_level", "academic_year", "term"),
    "grades": ("subject_code", "academic_year", "term"),
    "screenings": ("screening_date",),
}
TITLE_HINTS = {
    "enrollments": "; a class list may name them above its header instead "
    "(รายชื่อนักเรียนชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568)",
    "grades": "; a grade book may name them above its header instead "
    "(รายวิชา ท21101 ภาษาไทย 1 ภาคเรียนที่ 1 ปีการศึกษา 2568)",
    "screenings": "; a screening summary may name its date above its header instead "
    "(แบบสรุปผลการคัดกรองนักเรียน ชั้น ม.1/1 วันที่คัดกรอง 15 มิ.ย. 2568)",
}
# A form's date in its title: "วันที่คัดกรอง 15/06/2568", "คัดกรองเมื่อวันที่ 15 มิ.ย. 2568".
_SCREENED_ON = re.compile(
    r"(?:วันที่\s*คัดกรอง|คัดกรอง(?:เมื่อ)?\s*วันที่)\s*[:：]?\s*"
    r"(\d{1,2}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{2,4}|\d{1,2}\s+\S+\s+\d{2,4})"
)
_CLASS_NAMED = re.compile(
    r"(มัธยมศึกษาปีที่|ประถมศึกษาปีที่|อนุบาลปีที่|อนุบาล|ปวช\.?|ปวส\.?|ม\.|ป\.|อ\.)\s*(\d)"
    r"(?:\s*(?:/|-|_|ห้อง(?:ที่)?)\s*(\d{1,2}))?(?!\d)"
)
_YEAR_NAMED = re.compile(r"(?:ปีการศึกษา\s*|ภาคเรียน(?:ที่)?\s*\d\s*/\s*)(25\d\d)(?!\d)")
_TERM_NAMED = re.compile(r"ภาคเรียน(?:ที่)?\s*([12])(?!\d)")
# Basic education's codes (a subject group's letter and five digits: ท21101, ค21101, I20201)
# and vocational ones (20000-1101).
_SUBJECT_NAMED = re.compile(r"(?<![ก-๙A-Za-z\d])([ก-ฮA-Z]\s?\d{5}|\d{5}-\d{4})(?!\d)")
_CREDITS_NAMED = re.compile(r"(\d+(?:\.\d+)?)\s*หน่วยกิต|หน่วยกิต\s*(\d+(?:\.\d+)?)")


# A grade summary's subject column: its code first, then maybe its name and "(credits)".
_SUBJECT_HEADER = re.compile(
    r"^([ก-ฮA-Z]\s?\d{5}|\d{5}-\d{4})(?!\d)(?:.*?\(\s*(\d+(?:\.\d+)?)\s*\))?"
)


# A summary kept by the subjects' names (a primary school's, by learning area): the
# name as written, then maybe "(credits)". The learning areas of the core curriculum,
# the subjects a school splits them into, and the learner development activities.
_SUBJECT_NAMES = (
    "ภาษาไทย",
    "คณิตศาสตร์",
    "วิทยาศาสตร์",
    "วิทยาการคำนวณ",
    "เทคโนโลยี",
    "สังคมศึกษา",
    "ประวัติศาสตร์",
    "หน้าที่พลเมือง",
    "สุขศึกษา",
    "พลศึกษา",
    "ศิลปะ",
    "ทัศนศิลป์",
    "ดนตรี",
    "นาฏศิลป์",
    "การงานอาชีพ",
    "ภาษาต่างประเทศ",
    "ภาษาอังกฤษ",
    "ภาษาจีน",
    "กิจกรรม",
    "แนะแนว",
    "ลูกเสือ",
    "เนตรนารี",
    "ยุวกาชาด",
    "ชุมนุม",
)
SUBJECTS_BY_NAME_MIN = 3
_SUBJECT_NAME_HEADER = re.compile(
    rf"^((?:{'|'.join(_SUBJECT_NAMES)})[^()]*?)\s*(?:\(\s*(\d+(?:\.\d+)?)\s*\))?\s*$"
)


def _subject_columns(columns: pd.Index, source: Source | None) -> dict[int, re.Match[str]]:
    """A grade summary's subject columns by position (none: not a grade summary)."""
    if source is not None and source.name != "grades":
        return {}
    named = set(_contract_names(columns, GRADES_SOURCE))
    if {"grade", "subject_code"} & named or "student_id" not in named:
        return {}
    headers = [str(c).translate(THAI_DIGITS).strip() for c in columns]
    by_code = {i: m for i, h in enumerate(headers) if (m := _SUBJECT_HEADER.match(h)) is not None}
    by_name = {
        i: m for i, h in enumerate(headers) if (m := _SUBJECT_NAME_HEADER.match(h)) is not None
    }
    # Subjects by name in three columns or more: a class list may keep a child's club.
    found = by_name | by_code if by_code or len(by_name) >= SUBJECTS_BY_NAME_MIN else {}
    # A subject over its score and its grade ("ท21101 … คะแนน", "ท21101 … เกรด"): the grade.
    graded = {
        i
        for i, h in enumerate(headers)
        if i in found and GRADES_SOURCE.headers.get(fold_header(h.rsplit(" ", 1)[-1])) == "grade"
    }
    codes = {found[i][1] for i in graded}
    return {i: m for i, m in found.items() if i in graded or m[1] not in codes}


def _summary_to_rows(
    frame: pd.DataFrame, lines: np.ndarray, source: Source
) -> tuple[pd.DataFrame, np.ndarray]:
    """A class's grade summary (one row a student, one column a subject headed by its
    code) as one row per student and subject graded; a blank cell is no grade."""
    subjects = _subject_columns(frame.columns, source)
    if not subjects:
        return frame, lines
    named = _contract_names(frame.columns, source)
    kept = {c: frame.iloc[:, named.index(c)] for c in ("student_id", "school_id") if c in named}
    parts, rows = [], []
    for position, header in subjects.items():
        cells = frame.iloc[:, position].fillna("").astype(str).str.strip()
        graded = (cells != "").to_numpy()
        parts.append(
            pd.DataFrame({c: values[graded] for c, values in kept.items()}).assign(
                subject_code=header[1].replace(" ", ""),
                credits=header[2] or "",
                grade=cells[graded].to_numpy(),
            )
        )
        rows.append(np.asarray(lines)[graded])
    long = pd.concat(parts, ignore_index=True)
    long.attrs = frame.attrs
    return long, np.concatenate(rows)


# A child's title and names in one column, as most class lists keep them.
_FULL_NAME = {fold_header(h) for h in ("ชื่อ-สกุล", "ชื่อ-นามสกุล", "ชื่อสกุล", "ชื่อและนามสกุล", "full name")}
_TITLE = re.compile(r"^\s*(ด\.ช\.|ด\.ญ\.|เด็กชาย|เด็กหญิง|นางสาว|น\.ส\.|นาย|นาง(?=\s))\s*")


def _with_names_split(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    """Students whose names are in one column (ด.ช.สมชาย ใจดี): the given name, the
    family name, and the sex the title says when no column does."""
    if source.name != "students" or {"given_name", "family_name"} & set(frame.columns):
        return frame
    full = next((c for c in frame.columns if fold_header(str(c)) in _FULL_NAME), None)
    if full is None:
        return frame
    text = frame[full].fillna("").astype(str).str.strip()
    title = text.str.extract(_TITLE)[0].fillna("")
    names = text.str.replace(_TITLE, "", regex=True).str.strip().str.split(r"\s+", n=1, regex=True)
    filled = {"given_name": names.str[0].fillna(""), "family_name": names.str[1].fillna("")}
    if "sex" not in frame.columns:
        filled["sex"] = title
    return frame.assign(**filled)


def _with_titled_columns(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    """Enrolments or grades whose class, subject or term no column holds, from the
    sheet's name or title."""
    if source.name not in TITLED_COLUMNS or not frame.attrs.get("titles"):
        return frame
    filled = _named_in_titles(frame.attrs["titles"], set(frame.columns), source)
    return frame.assign(**filled) if filled else frame


def _named_in_titles(titles: list[str], columns: set[str], source: Source) -> dict[str, str]:
    """The values the titles name for the source's columns no column holds."""
    if source.name not in TITLED_COLUMNS:
        return {}
    texts = [str(t).translate(THAI_DIGITS) for t in titles]

    def first(pattern: re.Pattern[str]) -> re.Match[str] | None:
        return next((m for m in map(pattern.search, texts) if m is not None), None)

    named: dict[str, str] = {}
    for column, pattern in (("academic_year", _YEAR_NAMED), ("term", _TERM_NAMED)):
        if column in source.column_names and column not in columns:
            if (found := first(pattern)) is not None:
                named[column] = found[1]
    if source.name == "enrollments" and "grade_level" not in columns:
        if (found := first(_CLASS_NAMED)) is not None:
            named["grade_level"] = found[1] + found[2]
            if found[3] and "classroom" not in columns:
                named["classroom"] = found[3]
    if source.name == "screenings" and "screening_date" not in columns:
        if (found := first(_SCREENED_ON)) is not None:
            named["screening_date"] = found[1]
    if source.name == "grades":
        if "subject_code" not in columns and (found := first(_SUBJECT_NAMED)) is not None:
            named["subject_code"] = found[1].replace(" ", "")
        if "credits" not in columns and (found := first(_CREDITS_NAMED)) is not None:
            named["credits"] = found[1] or found[2]
    return named


def _read_table(path: Path, source: Source | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    return _read_sheets(path, source)[0]


def _read_sheets(path: Path, source: Source | None = None) -> list[tuple[pd.DataFrame, np.ndarray]]:
    """The file's table (a workbook's registers: one per sheet) and each row's line."""
    name = path.name
    try:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            frame = _parquet_as_text(pd.read_parquet(path))
            return [(frame, np.arange(1, len(frame) + 1))]  # row number within the file
        if suffix in WORKBOOK_SUFFIXES:
            return _read_workbook(path, source)
        data, encoding = _csv_bytes(path.read_bytes())
        # Saved from a sheet, a CSV keeps the sheet's title lines above its header.
        delimiter, top = _top_rows(data, encoding, source)
        header_at = _header_index(top, source)
        titles = [" ".join(r) for r in top[:header_at]]
        grouped = _grouped_header(top, header_at)
        weekdays = not grouped and _weekdays_under(top, header_at)
        frame = pd.read_csv(
            io.BytesIO(data),
            encoding=encoding,
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            skipinitialspace=True,
            skiprows=[*range(header_at), header_at + 1]
            if weekdays
            else header_at + (2 if grouped else 0),
            header=None if grouped else "infer",
        )
        if grouped:  # a header of two rows, as a sheet with a merged label saves it
            header, labels = grouped
            titles += labels
            frame.columns = [
                (header[i] if i < len(header) else "") or f"column {i + 1}"
                for i in range(frame.shape[1])
            ]
        frame.columns = [str(c).strip().lstrip("\ufeff").strip() for c in frame.columns]
        first = header_at + (3 if grouped or weekdays else 2)  # line 1 is the first
        lines = np.arange(first, first + len(frame))
        return [_titled(*_without_empty_rows(frame, lines), titles)]
    except (
        OSError,
        UnicodeDecodeError,
        ValueError,
        pd.errors.ParserError,
        python_calamine.CalamineError,
    ) as error:
        raise FileRefused(name, f"cannot be read: {type(error).__name__}: {error}") from None


def _top_rows(data: bytes, encoding: str, source: Source | None) -> tuple[str, list[list[str]]]:
    """A text table's delimiter (``DELIMITERS``: the first whose header names the most
    known columns; a comma when none names any) and its top rows split by it."""
    # Its first 65,536 characters, of four bytes at most each (a character the cut
    # splits lies beyond them).
    head = data[: 4 * 65_536].decode(encoding, errors="ignore")[:65_536]
    split = {
        d: list(csv.reader(itertools.islice(io.StringIO(head), HEADER_SEARCH_ROWS), delimiter=d))
        for d in DELIMITERS
    }

    def named(rows: list[list[str]]) -> int:
        return _known_count(rows[_header_index(rows, source)], source) if rows else 0

    delimiter = max(DELIMITERS, key=lambda d: named(split[d]))  # the first of equals
    return delimiter, split[delimiter]


def _read_workbook(path: Path, source: Source | None) -> list[tuple[pd.DataFrame, np.ndarray]]:
    """The source's sheet (named in English or Thai, else the first) as text cells.

    An attendance workbook whose sheets are registers (one a month) is read whole.
    """
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    names = list(workbook.sheet_names)
    if not names:
        raise ValueError("the workbook has no sheet")
    wanted = {fold_header(source.name), fold_header(source.thai)} if source else set()
    named = [n for n in names if fold_header(n) in wanted]
    sheets = [_sheet_frame(*_cells(workbook.get_sheet_by_name(n)), source, n) for n in names]
    if named:
        return [sheets[names.index(named[0])]]
    registers = [
        (name, frame, lines)
        for name, (frame, lines) in zip(names, sheets, strict=True)
        if (source is None or source.name == "attendance") and _register_days(frame.columns)
    ]
    if not registers:
        return _tables(names, sheets, source)
    if len(registers) == 1:
        return [registers[0][1:]]
    return [
        (frame, np.array([f"{name}:{line}" for line in lines], dtype=object))
        for name, frame, lines in registers
    ]


def _tables(
    names: list[str], sheets: list[tuple[pd.DataFrame, np.ndarray]], source: Source | None
) -> list[tuple[pd.DataFrame, np.ndarray]]:
    """The sheets holding the source's table: one sheet per classroom or grade is read
    whole (rows numbered ``sheet:row``); a cover or summary sheet naming none of its
    columns is not. A sheet that lacks a required column has its rows rejected, each
    with its sheet and row, never left out unseen."""
    known = _known_headers(source)
    holding = [
        i
        for i, (frame, _) in enumerate(sheets)
        if len(frame) and any(fold_header(str(c)) in known for c in frame.columns)
    ]
    if len(holding) <= 1:
        return [sheets[holding[0] if holding else 0]]
    return [
        (sheets[i][0], np.array([f"{names[i]}:{line}" for line in sheets[i][1]], dtype=object))
        for i in holding
    ]


Merged = list[tuple[int, int, int]]  # a cell merged down: its row, column and last row


def _cells(sheet: python_calamine.CalamineSheet) -> tuple[list[list[Any]], Merged]:
    """A sheet's cells, and its cells merged down over the rows below them (a class's
    room written once beside its students), placed as the cells are."""
    top, left = sheet.start or (0, 0)
    down = [
        (first_row - top, column - left, last_row - top)
        for (first_row, column), (last_row, last_column) in sheet.merged_cell_ranges or ()
        if last_column == column and last_row > first_row
    ]
    return sheet.to_python(), down


def _sheet_frame(
    cells: list[list[Any]], merged: Merged, source: Source | None, sheet: str = ""
) -> tuple[pd.DataFrame, np.ndarray]:
    """A sheet's header row (the first naming a known column) and the rows below it.

    A cell of a known column merged down (ชั้น ม.1/1 once beside the room's students)
    is each row's; a register's days are not (a holiday written down a day's column is
    no mark of each child)."""
    rows = [[_cell_text(v) for v in row] for row in cells]
    header_at = _header_index(rows, source)
    if not rows:
        return pd.DataFrame(), np.zeros(0, dtype=int)
    titles = [sheet, *(" ".join(row) for row in rows[:header_at])]
    grouped = _grouped_header(rows, header_at)
    header, labels = grouped or (list(rows[header_at]), [])
    titles += labels
    while header and not header[-1]:
        header.pop()
    first = header_at + (2 if grouped or _weekdays_under(rows, header_at) else 1)
    known = _known_headers(source)
    for row, column, last in merged:
        if row >= first and column < len(header) and fold_header(header[column]) in known:
            for below in rows[row + 1 : last + 1]:
                if column < len(below) and not below[column]:
                    below[column] = rows[row][column]
    header = [h or f"column {i + 1}" for i, h in enumerate(header)]
    if source is None or source.name == "attendance":
        header = _days_of_the_month(header, titles)
    body = [(row + [""] * len(header))[: len(header)] for row in rows[first:]]
    frame = pd.DataFrame(body, columns=header, dtype=object)
    lines = np.arange(first + 1, first + 1 + len(frame))  # Excel rows start at 1
    return _titled(*_without_empty_rows(frame, lines), titles)


# The days of the week as a register writes them under its dates: จ อ พ พฤ ศ, or whole.
_WEEKDAYS = {
    fold_header(w).rstrip(".")
    for w in (
        "จ อ พ พฤ ศ ส อา จ. อ. พ. พฤ. ศ. ส. อา. "
        "จันทร์ อังคาร พุธ พฤหัส พฤหัสบดี ศุกร์ เสาร์ อาทิตย์ mon tue wed thu fri sat sun"
    ).split()
}


def _weekdays_under(rows: list[list[str]], at: int) -> bool:
    """The row under a register's header names the days of the week under its dates and
    nothing else (no student): it is the header's, not a row with no student."""
    if at + 1 >= len(rows):
        return False
    filled = [cell for cell in rows[at + 1] if cell]
    return len(filled) >= REGISTER_MIN_DAYS and all(
        fold_header(cell).rstrip(".") in _WEEKDAYS for cell in filled
    )


# Headers naming a student's code: never a label over a group of columns.
_STUDENT_HEADERS = {h for s in SOURCES for h, c in s.headers.items() if c == "student_id"}


# A cell left unticked in a form of ticks; any other mark (✓, /, X, 1) is a tick.
_UNTICKED = {"", "0", "-", "–", "—"}
_LEVEL_WORDS = {fold_header(word) for word in SCREENING_ALIASES}


def _ticked_levels(frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    """A screening form ticking each aspect's result: an aspect (ด้านการเรียน) over a
    column per level (ปกติ, เสี่ยง, มีปัญหา; read as "ด้านการเรียน ปกติ") becomes the
    aspect's column holding the ticked level. No tick is no result; two ticks are a value
    of both words, blanked and reported as a bad value is."""
    if source.name != "screenings":
        return frame
    ticks: dict[str, list[tuple[str, str]]] = {}
    for column in map(str, frame.columns):
        aspect, _, level = column.rpartition(" ")
        named = source.headers.get(fold_header(aspect))
        if named is not None and source.column(named).allowed == SCREENING_LEVELS:
            if fold_header(level) in _LEVEL_WORDS:
                ticks.setdefault(aspect, []).append((column, level))
    for aspect, columns in ticks.items():
        marks = [~frame[c].fillna("").astype(str).str.strip().isin(_UNTICKED) for c, _ in columns]
        levels = [level for _, level in columns]
        result = pd.Series(
            [
                " และ ".join(w for w, hit in zip(levels, row, strict=True) if hit)
                for row in zip(*marks, strict=True)
            ],
            index=frame.index,
            dtype=object,
        )
        at = list(map(str, frame.columns)).index(columns[0][0])
        frame = frame.drop(columns=[c for c, _ in columns])
        frame.insert(at, aspect, result)
    return frame


def _grouped_header(rows: list[list[str]], at: int) -> tuple[list[str], list[str]] | None:
    """A header of two rows: a label over a group of columns (a merged cell, read as the
    label and blanks: "ผลการเรียนรายวิชา" over a subject code a column, a month over its
    days) and each grouped column's own name in the row below, which is blank under every
    column the upper row names alone. Returns each column's name (in a group, the lower
    row's, with its group's label where the same names are under every group) and the
    groups' labels; None for a header of one row, where the row below is a student's
    (their code filled) or leaves a grouped column unnamed."""
    if at + 1 >= len(rows):
        return None
    width = max(len(rows[at]), len(rows[at + 1]))
    upper, lower = ((row + [""] * width)[:width] for row in (rows[at], rows[at + 1]))
    while width and not upper[width - 1] and not lower[width - 1]:
        width -= 1
    grouped: list[int] = []
    labels: list[str] = []
    for start, label in enumerate(upper[:width]):
        end = start + 1
        while end < width and not upper[end]:
            end += 1
        if label and end - start > 1:
            grouped += range(start, end)
            labels.append(label)
    names = [lower[j] for j in grouped]
    if (
        not grouped
        or not all(names)
        or any(lower[j] for j in range(width) if j not in grouped)
        or any(fold_header(label) in _STUDENT_HEADERS for label in labels)
    ):
        return None
    if len(set(names)) < len(names):
        # The same names in every group (a screening's ปกติ, เสี่ยง, มีปัญหา under each
        # of its aspects): each is its group's, "ด้านการเรียน ปกติ".
        label_of: dict[int, str] = {}
        for j in range(width):
            label_of[j] = upper[j] or label_of.get(j - 1, "")
        lower = [f"{label_of[j]} {lower[j]}" if j in grouped else lower[j] for j in range(width)]
        if len({lower[j] for j in grouped}) < len(grouped):
            return None
    return [lower[j] if j in grouped else upper[j] for j in range(width)], labels


def _titled(
    frame: pd.DataFrame, lines: np.ndarray, titles: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """A table with the sheet's name and the title lines above its header, which name
    what no column does: a class list's class and term, a register's month."""
    frame.attrs["titles"] = [t for t in titles if t.strip()]
    return frame, lines


def _days_of_the_month(header: list[str], titles: list[str]) -> list[str]:
    """A register's day columns numbered 1-31 under a month its sheet or title names
    ("พ.ย. 67", "เดือนพฤศจิกายน พ.ศ. 2567"), as dates; a day number smaller than the one
    before it is of the next month. Without a month named, the headers stay numbers."""
    numbers = [h.translate(THAI_DIGITS) for h in header]  # ๑ ๒ ๓ as official forms write
    numbered = [i for i, h in enumerate(numbers) if re.fullmatch(r"(?:[1-9]|[12]\d|3[01])", h)]
    month = next((m for m in map(_month_named, titles) if m is not None), None)
    if len(numbered) < REGISTER_MIN_DAYS or month is None:
        return header
    dated = list(header)
    year, number, previous = *month, 0
    for i in numbered:
        day = int(numbers[i])
        if day < previous:  # 29 30 1 2: into the next month
            year, number = (year + 1, 1) if number == 12 else (year, number + 1)
        previous = day
        with contextlib.suppress(ValueError):  # 31 in a month of 30 stays a number
            dated[i] = dt.date(year, number, day).isoformat()
    return dated


_MONTH_WORDS = "|".join(re.escape(w) for w in sorted(THAI_MONTHS, key=len, reverse=True))
_MONTH_NAMED = re.compile(rf"({_MONTH_WORDS})\s*(?:[พค]\.?\s*ศ\.?)?\s*(\d{{4}}|\d{{2}})(?!\d)")


def _month_named(text: str) -> tuple[int, int] | None:
    """The (year, month) a title names: a Thai month and its year (Buddhist Era)."""
    found = _MONTH_NAMED.search(str(text).translate(THAI_DIGITS))
    if found is None:
        return None
    year = int(found[2])
    year = year + 2500 if len(found[2]) == 2 else year
    return (year - BE_OFFSET if year > BE_YEARS_FROM else year), THAI_MONTHS[found[1]]


def _known_headers(source: Source | None) -> set[str]:
    """The headers (folded) of the source's columns; without one, of every source's."""
    return set(source.headers) if source else {h for s in SOURCES for h in s.headers}


def _header_index(rows: Iterable[list[str]], source: Source | None) -> int:
    """The header row: of the top rows, the first naming the most known columns (else
    the first row). A title above it may name one too: "ผลการเรียน (ภาคเรียนที่ 1)"."""
    counts = [_known_count(row, source) for row in itertools.islice(rows, HEADER_SEARCH_ROWS)]
    most = max(counts, default=0)
    return counts.index(most) if most else 0


def _known_count(row: list[str], source: Source | None) -> int:
    """How many known columns a row's cells name (a subject's grade under each subject
    is one)."""
    known = _known_headers(source)
    return len({folded for v in row if v and (folded := fold_header(v)) in known})


def _without_empty_rows(frame: pd.DataFrame, lines: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    if frame.empty:
        return frame, lines
    # Only rows with an empty first cell can be empty: millions of rows, a few checked whole.
    maybe = np.flatnonzero((frame.iloc[:, 0] == "").to_numpy(dtype=bool, na_value=False))
    empty = maybe[(frame.iloc[maybe] == "").all(axis=1).to_numpy()]
    if not len(empty):
        return frame, lines
    filled = np.ones(len(frame), dtype=bool)
    filled[empty] = False
    return frame.loc[filled].reset_index(drop=True), lines[filled]


def _parquet_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            text = values.dt.strftime("%Y-%m-%d")
        else:
            text = values.astype("object").map(lambda v: "" if v is None else str(v))
        out[column] = text.where(values.notna(), "")
    return pd.DataFrame(out, index=frame.index)


def _cell_text(value: Any) -> str:
    """An Excel cell as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).replace("\x00", "").strip()  # NUL: as in ``decode_csv_bytes``


def _register_days(columns: pd.Index) -> dict[str, pd.Timestamp]:
    """The day columns of a class register: headers that are dates."""
    headers = pd.Series([str(c) for c in columns], dtype=object)
    dates = parse_dates(headers)
    days = {h: d for h, d in zip(headers, dates, strict=True) if pd.notna(d)}
    return days if len(days) >= REGISTER_MIN_DAYS else {}


def _register_to_rows(
    frame: pd.DataFrame, lines: np.ndarray, source: Source, file: str
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """One row per student and recorded day; a blank cell is not recorded, never absent.

    A day given twice (12, then ๑๒; its headers are its date by now) is read as any
    column given twice (``_named``): the first column's marks, a later one's where the
    first is blank, and the later one named by its date as not read where it says
    otherwise (the third item returned).
    """
    days = _register_days(frame.columns)
    named = _contract_names(frame.columns, source)
    if "student_id" not in named:
        raise FileRefused(file, "a register needs a student column ('student_id' or รหัสนักเรียน)")
    student = frame.iloc[:, named.index("student_id")].astype(str).str.strip()
    day_at = [i for i, c in enumerate(frame.columns) if str(c) in days]
    marks = frame.iloc[:, day_at].fillna("").astype(str).apply(lambda column: column.str.strip())
    marks.columns = [days[str(frame.columns[i])].strftime("%Y-%m-%d") for i in day_at]
    again = marks.columns.duplicated()
    kept = marks.loc[:, ~again]
    status = source.column("status")
    duplicates = []
    for i in np.flatnonzero(again).tolist():
        date, later = marks.columns[i], marks.iloc[:, i]
        first = kept[date]
        said, says = _meaning(first, status), _meaning(later, status)
        if (said.ne("") & says.ne("") & said.ne(says)).any():
            duplicates.append(second_column_note(date, date))
        kept = kept.assign(**{date: first.where(first.ne(""), later)})
    recorded = (kept != "").to_numpy()
    rows, cols = np.nonzero(recorded)
    long = pd.DataFrame(
        {
            "student_id": student.to_numpy()[rows],
            "date": kept.columns.to_numpy(dtype=object)[cols],
            "status": kept.to_numpy()[rows, cols],
        }
    )
    return long, np.asarray(lines)[rows], duplicates


def parse_dates(text: pd.Series) -> pd.Series:
    """Parse the dates schools write; unparseable values and blanks become NaT.

    ISO ``YYYY-MM-DD`` (a time after it is ignored; also with ``/`` or ``.``); ``dd/mm/yyyy``
    (also with ``-`` or ``.``); a four-digit year over 2400 is Buddhist Era either way (a
    Thai sheet's date cell typed 10/6/2568 holds 2568-06-10); ``dd/mm/yy``, a two-digit
    Buddhist-Era year (``10/11/68`` is 10 November 2568); a Thai month name (``10 มิ.ย.
    2568``, ``10 มิถุนายน พ.ศ. 2568``); an Excel serial number.
    """
    return _each_distinct(text, _dates)


def _dates(text: pd.Series) -> pd.Series:
    text = _arabic_digits(text.astype("str").str.strip())
    result = pd.to_datetime(
        text.where(text.str.match(r"^\d{4}-\d{2}-\d{2}")).str[:10],
        errors="coerce",
        format="%Y-%m-%d",
    )
    # Year first, Buddhist Era (by its parts: 2567-02-29 is a day of 2024, a leap year).
    result = result.mask(result.dt.year > BE_YEARS_FROM)
    todo = result.isna() & (text != "")
    if todo.any():
        first = text[todo].str.extract(r"^(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:[ T].*)?$")
        _assemble(result, first[2], first[1], first[0])
    todo = result.isna() & (text != "")
    numeric = text[todo].str.extract(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})$")
    _assemble(result, numeric[0], numeric[1], numeric[2])
    todo = result.isna() & (text != "")
    if todo.any():
        thai = text[todo].str.extract(
            r"^(\d{1,2})\s*([^\d\s]+)\s*(?:[พค]\.?\s*ศ\.?)?\s*(\d{4}|\d{2})$"
        )
        month = thai[1].str.strip().map(THAI_MONTHS)
        _assemble(result, thai[0], month, thai[2].where(month.notna()))
    todo = result.isna() & text.str.fullmatch(r"\d{5}(\.0+)?")
    if todo.any():
        serial = pd.to_numeric(text[todo], errors="coerce")
        serial = serial[serial.between(*EXCEL_SERIALS)]
        result.loc[serial.index] = EXCEL_EPOCH + pd.to_timedelta(serial, unit="D")
    return result.dt.normalize()


def _assemble(result: pd.Series, day: pd.Series, month: pd.Series, year: pd.Series) -> None:
    """Fill ``result`` where day, month and year were all found (in place)."""
    found = day.notna() & month.notna() & year.notna()
    if not found.any():
        return
    year = year[found].astype(str)
    number = year.astype(int)
    # Two digits are a Buddhist-Era year (68 → 2568); four over 2400 are Buddhist Era too.
    number = number.where(year.str.len() == 4, number + 2500)
    number = number.where(number <= BE_YEARS_FROM, number - BE_OFFSET)
    assembled = pd.to_datetime(
        pd.DataFrame(
            {
                "year": number,
                "month": month[found].astype(int),
                "day": day[found].astype(int),
            }
        ),
        errors="coerce",
    )
    result.loc[assembled.index] = assembled


def _masked(value: object, column: Column) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if column.kind == "national_id" and len(text) > 4:
        return "*" * (len(text) - 4) + text[-4:]
    if column.name in ("given_name", "family_name"):
        return "***"
    return text


class _RejectLog:
    def __init__(self, file: str, lines: np.ndarray) -> None:
        self.file = file
        self.lines = lines
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        positions: np.ndarray,
        column: Column | None,
        values: pd.Series | list[str],
        reason: str,
        action: str = REJECTED,
    ) -> None:
        if len(positions) == 0:
            return
        name = column.name if column else ""
        shown = [_masked(v, column) if column else str(v) for v in values]
        self.parts.append(
            pd.DataFrame(
                {
                    "file": self.file,
                    "line": self.lines[positions],
                    "column": name,
                    "value": shown,
                    "reason": reason,
                    "action": action,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in REJECT_COLUMNS})
        return pd.concat(self.parts, ignore_index=True).sort_values(
            ["line", "column"], kind="stable", key=_line_order
        )


def _line_order(values: pd.Series) -> pd.Series:
    """Sort lines as numbers, and ``sheet:row`` lines by sheet then row."""
    if values.name != "line":
        return values
    text = values.astype(str)
    row = pd.to_numeric(text.str.rsplit(":", n=1).str[-1], errors="coerce")
    sheet = text.str.rsplit(":", n=1).str[0].where(text.str.contains(":"), "")
    return sheet + row.map(lambda r: f"{r:012.0f}" if pd.notna(r) else "")


class _Bad:
    """Which rows are rejected, and how a bad value is handled in its column."""

    def __init__(self, rows: int, log: _RejectLog) -> None:
        self.rows = np.zeros(rows, dtype=bool)
        self.log = log

    def value(
        self, failed: pd.Series | np.ndarray, column: Column, raw: pd.Series, reason: str
    ) -> np.ndarray:
        """Report failing values: a required one rejects its row, an optional one is blanked.

        Returns the positions of the values to blank.
        """
        mask = np.asarray(failed, dtype=bool)
        positions = np.flatnonzero(mask)
        if column.optional:
            self.log.add(positions, column, raw.iloc[positions], reason, BLANKED)
            return positions
        self.log.add(positions, column, raw.iloc[positions], reason, REJECTED)
        self.rows |= mask
        return np.zeros(0, dtype=int)


THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
THAI_DIGIT = re.compile("[๐-๙]")


def _each_distinct(text: pd.Series, parse: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``parse`` done once for each distinct value, then given to every row that holds
    it: a column of millions holds a few hundred (a term's days, a handful of words), and
    parsing every row made a Python value of each, a gigabyte for a term's attendance."""
    codes, distinct = pd.factorize(text, use_na_sentinel=False)
    parsed = parse(pd.Series(distinct, dtype=text.dtype, name=text.name))
    return parsed.take(codes).set_axis(text.index)


def _arabic_digits(text: pd.Series) -> pd.Series:
    # Looked up per distinct value: a column of millions holds few distinct ones.
    distinct = [v for v in text.unique() if isinstance(v, str) and THAI_DIGIT.search(v)]
    if not distinct:
        return text
    return text.replace({v: v.translate(THAI_DIGITS) for v in distinct})


def _normalise_category(text: pd.Series, column: Column) -> pd.Series:
    return _each_distinct(text, functools.partial(_normalised, column=column))


def _normalised(text: pd.Series, column: Column) -> pd.Series:
    mapping = {fold_header(a): c for a, c in column.aliases.items()}
    mapping.update({fold_header(c): c for c in column.allowed or ()})
    mapped = text.map(lambda value: mapping.get(fold_header(value)))
    if column.name == "grade_level":
        # "ม.1/2": the grade and its room in one cell.
        level = text.str.split("/").str[0]
        mapped = mapped.fillna(level.map(lambda v: mapping.get(fold_header(v))))
    if column.name == "grade":
        # "4.0", "1.50" and "๔" style variants of the numeric grades.
        numeric = pd.to_numeric(text, errors="coerce")
        as_grade = numeric.map(lambda v: f"{v:g}" if pd.notna(v) else np.nan)
        mapped = mapped.fillna(as_grade.where(as_grade.isin(column.allowed or ())))
    return mapped.fillna(text)


def _room_of_the_class(grade: pd.Series) -> pd.Series:
    """The room of a class written with its grade (ม.1/2 is room 2), else blank."""
    room = _arabic_digits(grade.astype("str")).str.extract(r"/\s*([^/]+?)\s*$")[0]
    return room.mask(room == "")


def _parse_column(raw: pd.Series, column: Column, bad: _Bad) -> pd.Series:
    text = raw.astype("str").str.strip()
    if column.kind != "str" or column.name == "student_id":
        # Thai digits (๐-๙), as official documents write numbers, dates and IDs.
        text = _arabic_digits(text)
    # "none" is a real value (caregiver, equity status), never a blank.
    blank = (text == "") | text.str.upper().isin(["NA", "N/A", "NULL", "-"]) & (
        column.kind != "str"
    )
    if column.kind == "str":
        if column.aliases:
            text = _normalise_category(text, column)
            if column.pattern == r"^[A-Z]{2}$":
                text = text.where(~text.str.fullmatch(r"[a-zA-Z]{2}"), text.str.upper())
        return text.mask(text == "")
    if column.kind == "national_id":
        cleaned = text.str.replace(r"[\s-]", "", regex=True).str.upper()
        return cleaned.mask(blank)
    if column.kind == "category":
        return _normalise_category(text, column).mask(blank)
    if column.kind in ("int", "float"):
        if column.aliases:  # a code given by its words (a reason for leaving)
            text = _normalise_category(text, column)
        numeric = pd.to_numeric(text.str.replace(",", "", regex=False).mask(blank), errors="coerce")
        failed = numeric.isna() & ~blank
        if column.kind == "int":
            fractional = numeric.notna() & (numeric != np.floor(numeric.fillna(0)))
            bad.value(fractional, column, raw, "not a whole number")
            failed &= ~fractional
            numeric = numeric.mask(fractional).astype("Int64")
        bad.value(failed, column, raw, "not a number")
        return numeric
    if column.kind == "date":
        dates = parse_dates(text.mask(blank, ""))
        failed = dates.isna() & ~blank
        bad.value(
            failed,
            column,
            raw,
            "not a date (YYYY-MM-DD, dd/mm/yyyy or dd/mm/yy in the Buddhist Era, "
            "or a Thai month such as 10 มิ.ย. 2568)",
        )
        return dates
    if column.kind == "bool":
        folded = text.map({v: fold_header(v) for v in text.unique()})
        truth = pd.Series(pd.NA, index=text.index, dtype="boolean")
        truth[folded.isin(TRUE_WORDS)] = True
        truth[folded.isin(FALSE_WORDS)] = False
        failed = truth.isna() & ~blank
        words = "true/false, 1/0, yes/no, ใช่/ไม่ใช่, มี/ไม่มี"
        bad.value(failed, column, raw, f"not a yes/no value ({words})")
        return truth
    raise ValueError(f"unknown column kind {column.kind}")


def pandera_schema(source: Source) -> pa.DataFrameSchema:
    """The value rules of one source as a pandera schema over parsed columns."""
    columns = {}
    for c in source.columns:
        checks = []
        if c.allowed is not None:
            allowed: list[object] = list(c.allowed)
            if c.kind == "int":
                allowed = [int(a) for a in c.allowed]
            checks.append(pa.Check.isin(allowed, error=f"must be one of: {', '.join(c.allowed)}"))
        if c.min is not None and c.max is not None:
            checks.append(
                pa.Check.in_range(c.min, c.max, error=f"must be between {c.min:g} and {c.max:g}")
            )
        if c.pattern:
            checks.append(pa.Check.str_matches(c.pattern, error=f"must match {c.pattern}"))
        if c.kind == "national_id":
            checks.append(pa.Check(national_id_is_accepted, error=NATIONAL_ID_REASON))
        columns[c.name] = pa.Column(nullable=not c.required, checks=checks, coerce=False)
    return pa.DataFrameSchema(columns, strict=False, coerce=False, name=source.name)


NATIONAL_ID_REASON = (
    "not a 13-digit Thai national ID nor a code of a child without one (G code or another "
    "code starting with a letter)"
)
CHECKSUM_REASON = "a 13-digit national ID whose check digit is wrong"


# Rules that span columns: (columns named in the report, reason, predicate on parsed rows).
def _cross_column_rules(source: Source, rows: pd.DataFrame) -> list[tuple[str, str, pd.Series]]:
    rules = []
    if source.name == "calendar":
        rules.append(("end_date", "ends before it starts", rows["end_date"] < rows["start_date"]))
    if source.name == "assessments":
        rules.append(("score", "score is above max_score", rows["score"] > rows["max_score"]))
    if source.name == "students":
        future = rows["birth_date"] > pd.Timestamp(clock.today())
        rules.append(("birth_date", "is in the future", future))
    if source.name in HAPPENED_ON:
        # A record of what happened cannot be dated after today: 10/6/2068 is 10/6/2568
        # with a digit lost. Kept, a visit "in 2068" would count as the child's last
        # action for forty years, and an exit as a child who has not left.
        column = HAPPENED_ON[source.name]
        rules.append((column, "is in the future", rows[column] > pd.Timestamp(clock.today())))
    return rules


# The date each record of an event holds (a term's calendar and an enrolment's snapshot
# may be dated ahead; a birth date has its own rule above).
HAPPENED_ON = {
    "exits": "exit_date",
    "attendance": "date",
    "grades": "recorded_date",
    "assessments": "date",
    "household": "survey_date",
    "screenings": "screening_date",
    "interventions": "date",
}


def parse_source(raw: pd.DataFrame, lines: np.ndarray, source: Source, file: str) -> ParsedSource:
    """Parse and validate raw text columns; return good rows, rejects and warnings."""
    log = _RejectLog(file, lines)
    bad = _Bad(len(raw), log)
    parsed = pd.DataFrame(
        {c.name: _parse_column(raw[c.name], c, bad) for c in source.columns}, index=raw.index
    )
    for name, factor in raw.attrs.get("scales", {}).items():
        parsed[name] = parsed[name] * factor
    for name in raw.attrs.get("per_person", ()):
        unknown = (parsed[name].notna() & parsed["household_size"].isna()).to_numpy()
        reason = "given per person: the household's size is needed"
        _blank(parsed, name, bad.value(unknown, source.column(name), raw[name], reason))
        parsed[name] = parsed[name] * parsed["household_size"]
    if source.name == "enrollments":
        parsed["classroom"] = parsed["classroom"].fillna(_room_of_the_class(raw["grade_level"]))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pandera_schema(source).validate(parsed, lazy=True)
        except pa.errors.SchemaErrors as errors:
            _log_schema_failures(errors.failure_cases, source, raw, parsed, bad)

    for column_name, reason, rule in _cross_column_rules(source, parsed):
        failing = rule.fillna(False).to_numpy(dtype=bool) & ~bad.rows
        column = source.column(column_name)
        _blank(parsed, column_name, bad.value(failing, column, raw[column_name], reason))

    duplicate = parsed.duplicated(list(source.key), keep="first").to_numpy() & ~bad.rows
    if duplicate.any():
        first_line = _first_line_of_key(parsed, source, lines)
        positions = np.flatnonzero(duplicate)
        shown = [f"{', '.join(source.key)} as on line {first_line[p]}" for p in positions]
        log.add(positions, None, shown, "duplicate key: same as an earlier line")
        bad.rows |= duplicate

    good = parsed.loc[~bad.rows].reset_index(drop=True)
    given = tuple(raw.attrs.get("given", source.column_names))
    return ParsedSource(source, file, good, log.frame(), len(raw), lines[~bad.rows], given)


def _first_line_of_key(parsed: pd.DataFrame, source: Source, lines: np.ndarray) -> np.ndarray:
    group = parsed.groupby(list(source.key), sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(lines).groupby(group).transform("first").to_numpy()
    return first


def _log_schema_failures(
    failures: pd.DataFrame,
    source: Source,
    raw: pd.DataFrame,
    parsed: pd.DataFrame,
    bad: _Bad,
) -> None:
    already_bad = bad.rows.copy()  # a row rejected for one value is reported once
    failures = failures.dropna(subset=["index"])
    for (column_name, check), group in failures.groupby(["column", "check"], sort=False):
        positions = np.unique(group["index"].astype(int).to_numpy())
        positions = positions[~already_bad[positions]]
        if len(positions) == 0:
            continue
        column = source.column(str(column_name))
        reason = "required value is missing" if check == "not_nullable" else str(check)
        if column.kind == "national_id" and check == NATIONAL_ID_REASON:
            # A 13-digit number whose check digit is wrong is named as such.
            values = parsed[column.name].iloc[positions]
            digits = values.str.fullmatch(r"\d{13}").fillna(False).to_numpy(dtype=bool)
            for part, why in ((positions[digits], CHECKSUM_REASON), (positions[~digits], reason)):
                failing = np.zeros(len(raw), dtype=bool)
                failing[part] = True
                _blank(parsed, column.name, bad.value(failing, column, raw[column.name], why))
            continue
        failing = np.zeros(len(raw), dtype=bool)
        failing[positions] = True
        _blank(parsed, column.name, bad.value(failing, column, raw[column.name], reason))


def _blank(parsed: pd.DataFrame, name: str, positions: np.ndarray) -> None:
    """Blank a column's values at these positions (in place)."""
    if len(positions):
        values = parsed[name].copy()
        values.iloc[positions] = None
        parsed[name] = values
