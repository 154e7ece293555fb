"""Ingest: bad rows rejected with their line, good rows kept, refusals, idempotence, atomicity."""

from __future__ import annotations

import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from core import clock
from ews.cli import app
from schooldata.db import read_table
from schooldata.ingest import ingest_directory
from schooldata.validate import UTF8_PIECE, text_encoding
from tests.conftest import ID_KEY, thai_id


def _ingest(directory: Path, engine: sa.Engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    return ingest_directory(directory, engine, ID_KEY, tmp_path / "rejects")


def _school_s1(tmp_path: Path, students: str) -> tuple[Path, Path]:
    """A data directory holding school S1's folder: these students (A1, A2), both
    enrolled in M1/1 in term 1/2568, nobody left."""
    directory = tmp_path / "data"
    school = directory / "schools" / "S1"
    school.mkdir(parents=True)
    (school / "students.csv").write_text(students)
    (school / "enrollments.csv").write_text(
        "student_id,academic_year,term,grade_level,classroom\nA1,2568,1,M1,M1/1\nA2,2568,1,M1,M1/1\n"
    )
    (school / "exits.csv").write_text("student_id,exit_date,exit_type\n")
    return directory, school


def _wrong_check_digit(national_id: str) -> str:
    return national_id[:-1] + str((int(national_id[-1]) + 1) % 10)


def _rejects(tmp_path: Path, source: str) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "rejects" / f"{source}.csv", dtype=str, keep_default_na=False)


def test_bad_rows_rejected_with_line_column_value_reason_and_good_rows_kept(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    write_csv(
        "attendance",
        [
            "student_id,date,status",
            "A1,2025-06-02,present",  # line 2
            "A1,2025-06-03,presnt",  # line 3: bad status
            "A1,31/02/2568,absent",  # line 4: impossible date
            "A2,2025-06-03,ขาด",  # line 5: Thai word for absent
            "A2,04/06/2568,มา",  # line 6: BE date, Thai word for present
            "ZZ,2025-06-03,present",  # line 7: unknown student
            "A2,2025-06-03,late",  # line 8: same key as line 5
        ],
    )
    report = _ingest(base_directory, engine, tmp_path)

    assert report.exit_code == 0
    rejects = _rejects(tmp_path, "attendance")
    assert list(rejects.columns) == ["file", "line", "column", "value", "reason", "action"]
    assert set(rejects["action"]) == {"rejected"}
    assert rejects[["line", "column", "value"]].values.tolist() == [
        ["3", "status", "presnt"],
        ["4", "date", "31/02/2568"],
        ["7", "student_id", "ZZ"],
        ["8", "", "school_id, student_id, date as on line 5"],
    ]
    assert set(rejects["file"]) == {"attendance.csv"}
    assert rejects["reason"].str.len().min() > 5
    stored = read_table(engine, "attendance").sort_values(["student_id", "date"])
    # Without a school column, each code's one school (A1 and A2 are S1's only).
    assert stored.assign(date=stored["date"].dt.strftime("%Y-%m-%d")).values.tolist() == [
        ["A1", "S1", "2025-06-02", "present"],
        ["A2", "S1", "2025-06-03", "absent"],
        ["A2", "S1", "2025-06-04", "present"],
    ]


def test_missing_required_column_refuses_the_file_with_exit_code_2(
    base_directory: Path, write_csv, tmp_path, monkeypatch
) -> None:
    write_csv("attendance", ["student_id,status", "A1,present"])
    db = tmp_path / "cli.db"
    monkeypatch.setenv("EWS_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("EWS_ID_HASH_KEY", ID_KEY)
    result = CliRunner().invoke(
        app, ["ingest", str(base_directory), "--rejects-dir", str(tmp_path / "r")]
    )

    assert result.exit_code == 2
    assert "attendance.csv" in result.output
    assert "'date'" in result.output
    engine = sa.create_engine(f"sqlite:///{db}")
    assert read_table(engine, "attendance").empty
    assert len(read_table(engine, "students")) == 3  # the other files still load


def test_unreadable_file_is_refused_whole(base_directory: Path, tmp_path, engine) -> None:
    (base_directory / "grades.parquet").write_bytes(b"this is not parquet")
    report = _ingest(base_directory, engine, tmp_path)

    assert report.exit_code == 2
    assert [s.file for s in report.refused] == ["grades.parquet"]
    assert "cannot be read" in (report.refused[0].refused or "")
    assert read_table(engine, "grades").empty


def test_unknown_school_rejected_not_dropped(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    write_csv(
        "enrollments",
        [
            "student_id,academic_year,term,school_id,grade_level,classroom,advisor_id,snapshot_date",
            "A1,2568,1,S1,P6,P6/1,T1,2025-06-10",
            "A2,2568,1,S9,P5,P5/1,T2,2025-06-10",
        ],
    )
    _ingest(base_directory, engine, tmp_path)

    rejects = _rejects(tmp_path, "enrollments")
    assert rejects[["line", "column", "value", "reason"]].values.tolist() == [
        ["3", "school_id", "S9", "unknown school"]
    ]
    assert read_table(engine, "enrollments")["student_id"].tolist() == ["A1"]


def test_loading_the_same_directory_twice_changes_nothing(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    write_csv(
        "attendance", ["student_id,date,status", "A1,2025-06-02,present", "A2,2025-06-02,absent"]
    )
    _ingest(base_directory, engine, tmp_path)
    first = {name: read_table(engine, name) for name in ("students", "enrollments", "attendance")}
    _ingest(base_directory, engine, tmp_path)

    for name, frame in first.items():
        pd.testing.assert_frame_equal(read_table(engine, name), frame)


def test_reloading_a_corrected_row_updates_it(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    write_csv("attendance", ["student_id,date,status", "A1,2025-06-02,absent"])
    _ingest(base_directory, engine, tmp_path)
    write_csv("attendance", ["student_id,date,status", "A1,2025-06-02,sick_leave"])
    _ingest(base_directory, engine, tmp_path)

    assert read_table(engine, "attendance")["status"].tolist() == ["sick_leave"]


def test_windows_874_csv_with_thai_screening_words_is_read(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    write_csv(
        "screenings",
        [
            "student_id,screening_date,learning,economic,overall,sdq_total",
            "A3,17/11/2568,ห่วงใย,ใกล้ชิด,ใกล้ชิด,14",
            "A1,2025-11-20,ปกติ,เสี่ยง,เสี่ยง,8",
        ],
        encoding="cp874",
    )
    _ingest(base_directory, engine, tmp_path)

    stored = read_table(engine, "screenings").sort_values("student_id")
    assert stored[["student_id", "learning", "economic", "overall"]].values.tolist() == [
        ["A1", "normal", "at_risk", "at_risk"],
        ["A3", "at_risk", "problem", "problem"],
    ]
    assert stored["screening_date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-11-20", "2025-11-17"]


@pytest.mark.parametrize(
    ("encoding", "suffix"),
    [("utf-16", ".txt"), ("utf-8", ".txt"), ("utf-16", ".csv"), ("cp874", ".tsv")],
    ids=["unicode-text", "tab-delimited-text", "utf16-named-csv", "windows-874-tsv"],
)
def test_a_tab_separated_text_file_as_excel_saves_it_loads_like_a_csv(
    base_directory: Path, engine, tmp_path, encoding: str, suffix: str
) -> None:
    """Excel's "Unicode Text" (UTF-16 with its byte-order mark, tab-separated, named
    .txt) and "Text (Tab delimited)" are how a sheet is often saved or sent; a school
    system may name such a file .csv."""
    lines = [
        "รหัสนักเรียน\tวันที่\tสถานะ",
        "A1\t02/06/2568\tมา",
        "A2\t2025-06-02\tขาด",
        "A2\t03/06/2568\tลาป่วย",
    ]
    path = base_directory / f"การมาเรียน{suffix}"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    report = _ingest(base_directory, engine, tmp_path)

    attendance = next(s for s in report.sources if s.source == "attendance")
    assert (attendance.rows_loaded, len(attendance.rejects)) == (3, 0)
    stored = read_table(engine, "attendance").sort_values(["student_id", "date"])
    assert stored[["student_id", "status"]].values.tolist() == [
        ["A1", "present"],
        ["A2", "absent"],
        ["A2", "sick_leave"],
    ]


def test_a_files_encoding_is_its_whole_texts(base_directory: Path, engine, tmp_path) -> None:
    """UTF-8 is checked a piece at a time and the CSV reader decodes as it reads: a Thai
    character across two pieces is still UTF-8, and a Windows-874 word far down a file
    makes the whole file Windows-874, its first rows too."""
    assert text_encoding(b"a" * (UTF8_PIECE - 1) + "ก".encode()) == "utf-8-sig"
    assert text_encoding(b"a" * UTF8_PIECE + "ก".encode("cp874")) == "cp874"

    # A school year of days, each with a long note: the Thai word is past the first
    # 256 KB, which are decoded alone to find the header.
    days = pd.date_range("2025-05-16", periods=300).strftime("%Y-%m-%d")
    note = "x" * 1_000
    lines = [
        "student_id,date,status,note",
        *(f"A1,{day},present,{note}" for day in days),
        "A2,2025-06-02,ขาด,",
    ]
    (base_directory / "attendance.csv").write_bytes("\r\n".join(lines).encode("cp874"))
    report = _ingest(base_directory, engine, tmp_path)

    attendance = next(s for s in report.sources if s.source == "attendance")
    assert (attendance.rows_loaded, len(attendance.rejects)) == (301, 0)
    stored = read_table(engine, "attendance")
    assert stored.loc[stored["student_id"] == "A2", "status"].tolist() == ["absent"]


def test_utf8_bom_header_and_thai_booleans(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    write_csv(
        "household",
        [
            "student_id,survey_date,household_size,monthly_income,welfare_card,owns_land,caregiver,"
            "equity_status",
            "A1,2025-07-01,4,9000,ใช่,ไม่ใช่,none,none",
            "A2,2025-07-01,5,,yes,0,mother,ยากจน",
        ],
        encoding="utf-8-sig",
    )
    _ingest(base_directory, engine, tmp_path)

    stored = read_table(engine, "household").sort_values("student_id")
    assert stored["welfare_card"].tolist() == [True, True]
    assert stored["owns_land"].tolist() == [False, False]
    assert stored["monthly_income"].isna().tolist() == [False, True]  # missing stays missing
    # "none" is a value of its own, not a blank.
    assert stored[["caregiver", "equity_status"]].values.tolist() == [
        ["none", "none"],
        ["mother", "poor"],
    ]


def test_a_bad_national_id_is_blanked_with_a_warning_and_a_g_code_kept(
    write_csv, engine, tmp_path
) -> None:
    good = thai_id("110170020345")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    g_code = "G650012345678"
    directory = write_csv(
        "students",
        [
            "student_id,school_id,national_id,sex,nationality",
            f"B1,S1,{good},M,TH",
            f"B2,S1,{bad},F,TH",  # line 3: wrong check digit
            f"B3,S1,{g_code.lower()},ญ,เมียนมา",  # a child without a Thai ID
            "B4,S1,12345,ด.ช.,ลาว",  # line 5: neither an ID nor a code
        ],
    )
    write_csv(
        "enrollments",
        ["student_id,academic_year,term,school_id,grade_level,advisor_id"]
        + [f"B{i},2568,1,S1,ม.{i},T1" for i in range(1, 5)],
    )
    write_csv("attendance", ["student_id,date,status"] + [f"B{i},10/06/68,/" for i in range(1, 5)])
    write_csv("exits", ["student_id,exit_date,exit_type"])
    report = _ingest(directory, engine, tmp_path)

    students = read_table(engine, "students").set_index("student_id")
    assert list(students.index) == ["B1", "B2", "B3", "B4"]  # every child is kept
    expected = {
        "B1": hmac.new(ID_KEY.encode(), good.encode(), hashlib.sha256).hexdigest(),
        "B3": hmac.new(ID_KEY.encode(), g_code.encode(), hashlib.sha256).hexdigest(),
    }
    assert students["national_id_hash"].dropna().to_dict() == expected
    assert students["sex"].tolist() == ["M", "F", "F", "M"]
    assert students["nationality"].tolist() == ["TH", "TH", "MM", "LA"]
    assert len(read_table(engine, "attendance")) == 4  # and all their records
    assert len(read_table(engine, "enrollments")) == 4
    rejects = _rejects(tmp_path, "students")
    assert rejects[["line", "column", "action"]].values.tolist() == [
        ["3", "national_id", "blanked"],
        ["5", "national_id", "blanked"],
    ]
    assert "check digit" in rejects["reason"].iloc[0]
    assert bad not in rejects.to_csv()  # the report masks IDs too
    students_report = next(s for s in report.sources if s.source == "students")
    assert (students_report.rows_rejected, students_report.values_blanked) == (0, 2)
    database_bytes = Path(str(engine.url.database)).read_bytes()
    assert good.encode() not in database_bytes
    assert g_code.encode() not in database_bytes


def test_missing_required_source_is_reported(write_csv, engine, tmp_path) -> None:
    """A first load bringing a school's records without its students (a schools file
    alone adds schools: ``test_a_first_load_of_the_schools_alone_...``)."""
    write_csv("schools", ["school_id", "S1"])
    directory = write_csv(
        "attendance", ["student_id,school_id,date,status", "A1,S1,2025-06-02,present"]
    )
    report = _ingest(directory, engine, tmp_path)

    assert report.exit_code == 2
    assert {s.source for s in report.refused} == {"students", "enrollments", "exits"}


def test_a_later_load_of_one_source_needs_no_required_file_though_nobody_has_left_yet(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    """A new school's first load gave an empty exits file (nobody has left): next week's
    attendance alone loads, and the load succeeds (before: exits "refused", exit code 2)."""
    _ingest(base_directory, engine, tmp_path)
    week = ["student_id,date,status", "A1,2025-06-02,present"]
    later = write_csv("attendance", week, folder="w2")

    report = _ingest(later, engine, tmp_path)

    assert (report.exit_code, report.refused) == (0, [])
    assert len(read_table(engine, "attendance")) == 1


def test_parquet_source_loads_like_csv(base_directory: Path, engine, tmp_path) -> None:
    pd.DataFrame(
        {
            "student_id": ["A1", "A2"],
            "date": pd.to_datetime(["2025-06-02", "2025-06-02"]),
            "status": ["present", "late"],
        }
    ).to_parquet(base_directory / "attendance.parquet")
    _ingest(base_directory, engine, tmp_path)

    assert read_table(engine, "attendance")["status"].tolist() == ["present", "late"]


KILLED_LOAD = """
import sys
from pathlib import Path
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory

def progress(message):
    print(message, flush=True)

engine = make_engine(sys.argv[2])
ingest_directory(Path(sys.argv[1]), engine, "k", Path(sys.argv[3]), on_progress=progress)
print("done", flush=True)
"""


def test_a_load_killed_midway_leaves_the_database_as_before(
    base_directory: Path, engine, tmp_path
) -> None:
    _ingest(base_directory, engine, tmp_path)
    before = {name: read_table(engine, name) for name in ("students", "enrollments", "attendance")}
    # Enough rows (3,000 students over a year) that the write takes seconds and can be cut.
    days = pd.bdate_range("2025-05-16", "2026-03-31")
    students = pd.read_csv(base_directory / "students.csv", dtype=str)
    many = pd.DataFrame({"student_id": [f"K{i}" for i in range(3000)], "school_id": "S1"})
    pd.concat([students, many]).to_csv(base_directory / "students.csv", index=False)
    attendance = pd.DataFrame(
        {
            "student_id": [f"K{i}" for i in range(3000)] * len(days),
            "date": days.repeat(3000).strftime("%Y-%m-%d"),
            "status": "present",
        }
    )
    attendance.to_csv(base_directory / "attendance.csv", index=False)

    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_LOAD,
            str(base_directory),
            engine.url.render_as_string(),
            str(tmp_path / "r"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("writing"):
            break
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert process.returncode == -signal.SIGKILL
    for name, frame in before.items():
        pd.testing.assert_frame_equal(read_table(engine, name), frame)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_ingest_of_missing_directory_says_so(tmp_path, engine) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _ingest(tmp_path / "nowhere", engine, tmp_path)


def test_thai_digits_and_a_grade_written_with_its_room_are_read(
    write_csv, engine, tmp_path
) -> None:
    thai = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
    national_id = thai_id("110170020345")
    directory = write_csv(
        "students",
        [
            "รหัสนักเรียน,รหัสสถานศึกษา,เลขประจำตัวประชาชน,วันเดือนปีเกิด",
            f"A1,S1,{national_id.translate(thai)},๓/๒/๕๕",
        ],
    )
    write_csv(
        "enrollments",
        ["รหัสนักเรียน,ปีการศึกษา,ภาคเรียน,รหัสสถานศึกษา,ระดับชั้น,ห้อง", "A1,๒๕๖๘,๑,S1,ม.๑/๒,๒"],
    )
    write_csv("attendance", ["รหัสนักเรียน,วันที่,สถานะ", "A1,๑๐/๐๖/๖๘,ขาด"])
    write_csv("exits", ["student_id,exit_date,exit_type"])
    report = _ingest(directory, engine, tmp_path)

    assert sum(s.rows_rejected + s.values_blanked for s in report.sources) == 0
    students = read_table(engine, "students")
    expected = hmac.new(ID_KEY.encode(), national_id.encode(), hashlib.sha256).hexdigest()
    assert students["national_id_hash"].tolist() == [expected]
    assert students["birth_date"].dt.strftime("%Y-%m-%d").tolist() == ["2012-02-03"]
    enrolment = read_table(engine, "enrollments")
    assert enrolment[["academic_year", "term", "grade_level"]].values.tolist() == [[2568, 1, "M1"]]
    assert read_table(engine, "attendance")["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-06-10"
    ]


def test_headers_with_or_without_their_unit_in_brackets_name_the_same_column(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    """Forms put a column's unit after it in brackets: รายได้ครัวเรือนต่อเดือน (บาท). One
    with its unit, one without (ระยะทางถึงโรงเรียน, the contract's says (กม.)), and a
    word with a note after it: each was a column or a value the load did not know."""
    write_csv(
        "household",
        [
            "เลขประจำตัวนักเรียน,วันที่สำรวจ,จำนวนสมาชิกครัวเรือน (คน),"
            "รายได้ครัวเรือนต่อเดือน (บาท),ระยะทางถึงโรงเรียน,เวลาเดินทาง,สถานะกองทุนเสมอภาค",
            "A1,2025-07-01,5,4500,12.5,40,ยากจนพิเศษ (กสศ.)",
        ],
    )

    report = _ingest(base_directory, engine, tmp_path)

    assert sum(s.rows_rejected + s.values_blanked for s in report.sources) == 0
    surveyed = read_table(engine, "household")
    assert surveyed[
        ["household_size", "monthly_income", "distance_km", "travel_minutes", "equity_status"]
    ].values.tolist() == [[5, 4500.0, 12.5, 40.0, "extremely_poor"]]


def test_a_unit_in_brackets_is_read_in_that_unit_and_the_service_keeps_its_own(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    """Ignoring a header's bracket read ระยะทางถึงโรงเรียน (เมตร) as kilometres (3,000 m:
    3,000 km, blanked as out of range) and เวลาเดินทาง (ชั่วโมง) as minutes (an hour and
    a half: 1.5 minutes, kept as if true). Another unit of the same kind is converted; a
    unit of another kind is no header of that column, and is named as not read. The
    survey's usual wording of the distance (จากบ้าน) names the column too."""
    write_csv(
        "household",
        [
            "เลขประจำตัวนักเรียน,วันที่สำรวจ,ระยะทางจากบ้านถึงโรงเรียน (เมตร),"
            "ระยะเวลาในการเดินทาง (ชั่วโมง),รายได้ครัวเรือนต่อเดือน (ชั่วโมง)",
            'A1,2025-07-01,"3,000",1.5,4',
            "A2,2025-07-01,800,0.25,4",
        ],
    )

    report = _ingest(base_directory, engine, tmp_path)

    assert sum(s.rows_rejected + s.values_blanked for s in report.sources) == 0
    surveyed = read_table(engine, "household").sort_values("student_id")
    assert surveyed[["distance_km", "travel_minutes"]].values.tolist() == [[3.0, 90.0], [0.8, 15.0]]
    assert surveyed["monthly_income"].isna().all()
    assert report.unread() == {"household.csv": ("รายได้ครัวเรือนต่อเดือน (ชั่วโมง)",)}


def test_income_given_per_person_is_the_households_with_its_size(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    """The equity fund's screening (นร.01) gives a household's income per person
    (รายได้เฉลี่ยต่อคนต่อเดือน), the figure its 3,000-baht line is drawn on. Before, the
    column was named as not read and the income lost. It is the household's income once
    the household's size is known; a row without the size keeps everything but that
    value, and says why."""
    write_csv(
        "household",
        [
            "รหัสนักเรียน,วันที่สำรวจ,จำนวนสมาชิกครัวเรือน,รายได้เฉลี่ยต่อคนต่อเดือน (บาท)",
            'A1,2025-07-01,4,"1,250"',
            "A2,2025-07-01,,2000",
        ],
    )

    report = _ingest(base_directory, engine, tmp_path)

    household = next(s for s in report.sources if s.source == "household")
    assert (household.rows_loaded, household.rows_rejected, household.values_blanked) == (2, 0, 1)
    assert report.unread() == {}
    stored = read_table(engine, "household").sort_values("student_id")
    assert stored["monthly_income"].tolist()[0] == 5000.0
    assert pd.isna(stored["monthly_income"].tolist()[1])
    blanked = _rejects(tmp_path, "household")
    assert blanked[["line", "column", "reason"]].values.tolist() == [
        ["3", "monthly_income", "given per person: the household's size is needed"]
    ]


def test_a_file_naming_its_children_by_national_id_only_reaches_each_childs_records(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    """The equity fund's (กสศ.) poverty screening, a hospital's health check, a district's
    list: files from outside the school name a child by the national ID, never by the
    school's code. Before, such a file was refused whole for a missing student column.
    The ID is matched, as a keyed hash, against the students' own; a child no student
    has the ID of is a rejected row, its ID masked, and the ID is never stored here."""
    write_csv(
        "household",
        [
            "เลขประจำตัวประชาชน,วันที่สำรวจ,จำนวนสมาชิกครัวเรือน,สถานะกองทุนเสมอภาค",
            f"{thai_id('110170020345')},2025-07-01,5,ยากจนพิเศษ",
            "-".join(["3", "1017", "00203", "46", thai_id("310170020346")[-1]])
            + ",2025-07-01,3,ยากจน",
            f"{thai_id('110170020999')},2025-07-01,4,ยากจน",  # no student of ours
            f"{_wrong_check_digit(thai_id('110170020345'))},2025-07-01,4,ยากจน",  # nobody's ID
        ],
    )

    report = _ingest(base_directory, engine, tmp_path)

    household = next(s for s in report.sources if s.source == "household")
    assert household.refused is None
    assert (household.rows_read, household.rows_loaded, household.rows_rejected) == (4, 2, 2)
    stored = read_table(engine, "household").sort_values("student_id")
    assert stored[
        ["school_id", "student_id", "household_size", "equity_status"]
    ].values.tolist() == [
        ["S1", "A1", 5, "extremely_poor"],
        ["S1", "A2", 3, "poor"],
    ]
    rejected = _rejects(tmp_path, "household")
    assert rejected[["line", "column", "reason"]].values.tolist() == [
        ["4", "national_id", "no student has this national ID or G code"],
        ["5", "national_id", "no student code, nor a valid national ID or G code"],
    ]
    assert thai_id("110170020999") not in rejected.to_csv()  # masked, as every ID is

    # A later load (the students are in the database by now) finds them the same way.
    again = tmp_path / "later"
    again.mkdir()
    (again / "household.csv").write_text(
        f"national_id,survey_date,household_size\n{thai_id('110170020345')},2025-11-01,6\n"
    )
    _ingest(again, engine, tmp_path)
    assert read_table(engine, "household", student_ids=["A1"])["household_size"].tolist() == [5, 6]

    # Another school's upload never reaches S1's child by the ID, nor learns that S1 has it.
    (again / "household.csv").write_text(
        f"national_id,survey_date,household_size\n{thai_id('110170020345')},2025-12-01,7\n"
    )
    scoped = ingest_directory(again, engine, ID_KEY, None, schools=frozenset({"S2"}))
    assert scoped.sources[0].rejects["reason"].tolist() == [
        "no student has this national ID or G code"
    ]
    assert read_table(engine, "household", student_ids=["A1"])["household_size"].tolist() == [5, 6]

    # The child moved to S2 (its student B9, the same ID): a file of the area naming no
    # school cannot tell which school's record it is, and says so; naming it, it loads.
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "students.csv").write_text(
        f"student_id,school_id,national_id\nB9,S2,{thai_id('110170020345')}\n"
    )
    _ingest(moved, engine, tmp_path)
    (moved / "students.csv").unlink()
    (moved / "household.csv").write_text(
        "national_id,school_id,survey_date,household_size\n"
        f"{thai_id('110170020345')},,2026-01-05,8\n{thai_id('110170020345')},S2,2026-01-05,8\n"
    )
    shared = _ingest(moved, engine, tmp_path)
    assert shared.sources[0].rejects["reason"].tolist() == [
        "students of several schools have this national ID or G code; give the school"
    ]
    assert read_table(engine, "household", student_ids=["B9"])["household_size"].tolist() == [8]


def test_exits_headed_as_a_schools_register_of_leavers_heads_them(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    """A school's register of leavers (ทะเบียนนักเรียนจำหน่าย) heads its columns วันที่
    จำหน่าย, ประเภทการจำหน่าย and สาเหตุการออก: the file was refused whole for missing
    columns, so a first load could not start."""
    write_csv(
        "exits",
        [
            "เลขประจำตัวนักเรียน,วันที่จำหน่าย,ประเภทการจำหน่าย,สาเหตุการออก",
            "A1,1/7/2568,ลาออก,ผู้ปกครองมีรายได้น้อย",
        ],
    )

    report = _ingest(base_directory, engine, tmp_path)

    assert [s.refused for s in report.sources if s.source == "exits"] == [None]
    left = read_table(engine, "exits")
    assert left[["student_id", "exit_type"]].values.tolist() == [["A1", "other"]]
    assert left["reason_code"].astype("Int64").tolist() == [5]


def test_thai_as_schools_type_it_is_read_and_every_word_the_service_shows_is_accepted(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    """Headers and words as Thai files really hold them.

    Text taken from PDFs and some keyboards writes ำ as two characters (ํ + า), typists
    write แ as two เ, and word-breaking tools leave zero-width spaces; English words come
    with spaces for underscores. The Thai words a school's own household survey and case
    records use for caregiver, housing, equity status and a help's kind and outcome are read.
    """
    decomposed = "เลขประจ\u0e4d\u0e32ตัวนักเรียน"  # เลขประจำตัวนักเรียน with ำ as ํ + า
    write_csv(
        "household",
        [
            f"{decomposed},วันที่ส\u0e4d\u0e32รวจ,ผู้ดูแล,สภาพที่อยู่อาศัย,สถานะกองทุนเสมอภาค,"
            "มีที่ดินท\u0e4d\u0e32กิน",
            "A1,2025-07-01,บิดามารดา,ทรุดโทรม,ไม่ยากจน,มี",
            "A2,2025-07-01,ปู่ย่าตายาย,พอใช้,ยากจน\u200bพิเศษ,ไม่มี",
            "A3,2025-07-01,both parents,good,extremely poor,",
        ],
    )
    write_csv(
        "interventions",
        [
            "student\u200b_id,date,type,outcome",
            "A1,2025-08-01,เยี่ยมบ้าน,ไม่พบที่บ้าน",
            "A2,2025-08-02,พบผู้ปกครอง,สำเร็จ",
            "A3,2025-08-03,ส่งต่อทุนการศึกษา,ย้ายที่อยู่",
            "A1,2025-08-04,เเนะเเนว,ปฏิเสธ",
        ],
    )
    write_csv(
        "attendance",
        ["student_id,date,status"]
        + [
            f"A1,2025-06-{day:02d},{word}"
            for day, word in enumerate(["√", "มาเรียน", "ขาดเรียน", "มาสาย", "ป่วย", "ลา"], 2)
        ],
    )
    write_csv(  # the care system's forms name each result's group: กลุ่มเสี่ยง
        "screenings",
        [
            "เลขประจำตัวนักเรียน,วันที่คัดกรอง,ด้านการเรียน,ด้านเศรษฐกิจ,ผลการคัดกรองรวม",
            "A1,15/6/2568,กลุ่มเสี่ยง,กลุ่มมีปัญหา,กลุ่มเสี่ยง",
            "A2,15/6/2568,กลุ่มปกติ,ปกติ,กลุ่ม ปกติ",
            "A3,15/6/2568,กลุ่มห่วงใย,กลุ่มใกล้ชิด,กลุ่มไว้ใจ",
        ],
    )
    write_csv(  # how leaving is written in school records and DMC exports
        "exits",
        [
            "เลขประจำตัวนักเรียน,วันที่ออก,ประเภทการออก,สาเหตุ",
            "A1,1/7/2568,ย้ายสถานศึกษา,ย้ายถิ่นที่อยู่",  # the DMC's words for reason 2
            "A2,1/7/2568,ลาออก,ผู้ปกครองมีรายได้น้อย",  # the service's own for 5
            "A3,1/7/2568,สำเร็จการศึกษา",
            "A1,2/7/2568,ถึงแก่กรรม",
            "A2,2/7/2568,พ้นสภาพ",
            "A3,2/7/2568,ย้ายโรงเรียน",
            "A1,3/7/2568,จำหน่าย",
        ],
    )
    report = _ingest(base_directory, engine, tmp_path)

    assert sum(s.rows_rejected + s.values_blanked for s in report.sources) == 0
    # Leaving for a reason the school did not say is "other": a child who then enrols
    # nowhere still counts as a dropout, one found at another school as a move.
    left = read_table(engine, "exits").sort_values(["exit_date", "student_id"])
    assert left["reason_code"].astype("Int64").tolist()[:2] == [2, 5]
    assert left["exit_type"].tolist() == [
        "transfer",
        "other",
        "graduated",
        "deceased",
        "other",
        "transfer",
        "other",
    ]
    screened = read_table(engine, "screenings").sort_values("student_id")
    assert screened[["learning", "economic", "overall"]].values.tolist() == [
        ["at_risk", "problem", "at_risk"],
        ["normal", "normal", "normal"],
        ["at_risk", "problem", "normal"],
    ]
    days = read_table(engine, "attendance").sort_values("date")["status"].tolist()
    assert days == ["present", "present", "absent", "late", "sick_leave", "personal_leave"]
    household = read_table(engine, "household").sort_values("student_id")
    assert household[["caregiver", "housing", "equity_status"]].values.tolist() == [
        ["both_parents", "poor", "none"],
        ["grandparents", "fair", "extremely_poor"],
        ["both_parents", "good", "extremely_poor"],
    ]
    assert household["survey_date"].notna().all()
    assert household["owns_land"].tolist()[:2] == [True, False]
    assert household["owns_land"].isna().tolist() == [False, False, True]
    helps = read_table(engine, "interventions").sort_values("date")
    assert helps[["type", "outcome"]].values.tolist() == [
        ["home_visit", "not_home"],
        ["parent_meeting", "done"],
        ["scholarship_referral", "moved"],
        ["counselling", "refused"],
    ]


def test_a_csv_saved_from_a_sheet_with_a_title_above_its_header_loads_as_the_sheet_does(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    """A school's CSV keeps the sheet's title lines and its empty rows ("รายชื่อ…", ",,,")."""
    write_csv(
        "attendance",
        [
            "บันทึกเวลาเรียน ชั้น ป.6/1 ภาคเรียนที่ 1 ปีการศึกษา 2568,,",
            ",,",
            "รหัสนักเรียน,วันที่,สถานะ",  # line 3
            "A1,2025-06-02,มา",
            "A1,2025-06-03,presnt",  # line 5: bad status
            ",,",
            "A2,2025-06-03,ขาด",
            ",,",
        ],
    )
    report = _ingest(base_directory, engine, tmp_path)

    assert report.exit_code == 0
    assert _rejects(tmp_path, "attendance")[["line", "column"]].values.tolist() == [["5", "status"]]
    stored = read_table(engine, "attendance").sort_values(["student_id", "date"])
    assert stored[["student_id", "status"]].values.tolist() == [["A1", "present"], ["A2", "absent"]]


def test_a_folder_named_after_a_source_holds_several_files_of_it(
    base_directory: Path, engine, tmp_path
) -> None:
    """One register per classroom or month in ``attendance/``; Excel's lock file is not one."""
    folder = base_directory / "attendance"
    folder.mkdir()
    (folder / "p6-1.csv").write_text("student_id,date,status\nA1,2025-06-02,present\n")
    (folder / "p5-1.csv").write_text("student_id,date,status\nA2,2025-06-02,absent\n")
    (folder / "~$p5-1.xlsx").write_bytes(b"an open workbook's lock")
    kept = base_directory / "attendance.old"  # a folder kept aside is not a source's folder
    kept.mkdir()
    (kept / "p6-1.csv").write_text("student_id,date,status\nA1,2025-06-03,absent\n")

    report = _ingest(base_directory, engine, tmp_path)

    assert [s.file for s in report.sources if s.source == "attendance"] == [
        "attendance/p5-1.csv",
        "attendance/p6-1.csv",
    ]
    assert [file for file, _ in report.not_read] == ["attendance.old/"]  # named, not read
    stored = read_table(engine, "attendance").sort_values("student_id")
    assert stored[["student_id", "status"]].values.tolist() == [["A1", "present"], ["A2", "absent"]]


def test_a_file_under_its_own_name_is_read_by_its_headers_when_it_is_the_only_one(
    base_directory: Path, tmp_path, monkeypatch
) -> None:
    """A school's folder keeps its exports under their own names, and copies beside them.
    A file named after no source is read by its headers when it is the folder's only one
    of its data; beside a file named after that data, or another holding it too, it is
    not guessed at (a copy set aside must not become this term's list). None is skipped
    unseen: the report names each file not read, why, and what would have it read.
    Before, a download's second copy (``students (1).csv``, its note in brackets matched
    as headers are) was read as the students file in place of ``students.csv``, and a
    file under its own name was passed over without a word."""
    copy = "student_id,school_id,given_name\nA1,S1,สมชายเก่า\n"
    (base_directory / "students (1).csv").write_text(copy)
    (base_directory / "students.xlsx").write_bytes(b"a second students file by name")
    school = base_directory / "schools" / "S1"
    school.mkdir(parents=True)
    (school / "export 2568.csv").write_text("student_id,date,status\nA1,2025-06-02,present\n")
    (school / "notes.csv").write_text("topic,text\nmeeting,เยี่ยมบ้าน\n")
    marks = "student_id,subject_code,academic_year,term,grade\nA1,ท21101,2568,1,{}\n"
    (school / "ผลการเรียน ม.1.csv").write_text(marks.format(3))
    (school / "ผลการเรียน ม.1 (2).csv").write_text(marks.format(1))
    monkeypatch.setenv("EWS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("EWS_ID_HASH_KEY", ID_KEY)

    result = CliRunner().invoke(
        app, ["ingest", str(base_directory), "--rejects-dir", str(tmp_path / "r")]
    )

    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    assert "สมชาย" in read_table(engine, "students")["given_name"].tolist()  # not the copy's
    attendance = read_table(engine, "attendance")
    assert attendance[["school_id", "student_id", "status"]].values.tolist() == [
        ["S1", "A1", "present"]
    ]
    report = ingest_directory(base_directory, engine, ID_KEY, None, dry_run=True)
    read = {s.file: s.source for s in report.sources}
    assert read["schools/S1/export 2568.csv"] == "attendance"
    assert "grades" not in read.values()  # two files hold grades: neither is guessed at
    reasons = dict(report.not_read)
    assert sorted(reasons) == [
        "schools/S1/notes.csv",
        "schools/S1/ผลการเรียน ม.1 (2).csv",
        "schools/S1/ผลการเรียน ม.1.csv",
        "students (1).csv",
        "students.xlsx",
    ]
    assert "so are those of ผลการเรียน ม.1.csv" in reasons["schools/S1/ผลการเรียน ม.1 (2).csv"]
    assert "name it grades.csv or ผลการเรียน.csv" in reasons["schools/S1/ผลการเรียน ม.1.csv"]
    assert "students.csv is read as this folder's students" in reasons["students (1).csv"]
    assert "headers are those of students" in reasons["students (1).csv"]
    assert "students.csv is read as this folder's students" in reasons["students.xlsx"]
    assert "neither its name nor its headers" in reasons["schools/S1/notes.csv"]
    output = " ".join(result.output.split())
    for file in reasons:
        assert f"Not read: {file}:" in output


def test_a_first_load_of_the_schools_alone_adds_them_and_an_empty_one_is_refused(
    tmp_path: Path, engine
) -> None:
    """The README adds schools before their first files by a schools file: that load
    was refused for want of students, enrolments and exits (exit code 2). A folder with
    no file at all still is: nothing was loaded, and the load says what it needs."""
    schools = tmp_path / "schools-only"
    schools.mkdir()
    (schools / "schools.csv").write_text("school_id,name\nA,โรงเรียนเอ\nB,โรงเรียนบี\n")
    (tmp_path / "empty").mkdir()

    report = _ingest(schools, engine, tmp_path)

    assert (report.exit_code, report.refused) == (0, [])
    assert sorted(read_table(engine, "schools")["school_id"]) == ["A", "B"]
    empty = _ingest(tmp_path / "empty", engine, tmp_path)
    assert empty.exit_code == 2
    assert sorted(s.source for s in empty.refused) == ["enrollments", "exits", "students"]


def test_two_columns_naming_one_column_read_the_first_its_blanks_filled_by_the_second(
    tmp_path: Path, engine
) -> None:
    """A DMC export keeps the sex twice (เพศ, and the title: คำนำหน้าชื่อ), and an export
    joined from two systems may keep the school's code twice. The first is read, and the
    second fills its blanks; one saying otherwise on some row is named as not read there,
    never dropped unseen. Words the contract reads alike (ชาย, เด็กชาย) are no
    difference. Before, a file whose school column came twice in a school's folder
    crashed the load (``AttributeError``: ``DataFrame`` has no ``str``), and a file of one
    sheet dropped the second column unseen: a child whose เพศ was blank had no sex though
    the title said it."""
    directory, school = _school_s1(
        tmp_path, "เลขประจำตัวนักเรียน,เพศ,คำนำหน้าชื่อ,ชื่อ\nA1,ชาย,เด็กชาย,สมชาย\nA2,,เด็กหญิง,สมหญิง\n"
    )
    (directory / "schools.csv").write_text("school_id,name\nS1,โรงเรียนบ้านหนึ่ง\nS2,สอง\n")
    (school / "attendance.csv").write_text(
        "รหัสนักเรียน,รหัสโรงเรียน,date,status,school_id\n"
        "A1,S1,2025-06-02,present,S1\n"
        "A2,S1,2025-06-02,absent,S2\n"
    )

    report = _ingest(directory, engine, tmp_path)

    assert report.exit_code == 0
    students = read_table(engine, "students").sort_values("student_id")
    assert students["sex"].tolist() == ["M", "F"]
    attendance = read_table(engine, "attendance").sort_values("student_id")
    assert attendance[["school_id", "student_id", "status"]].values.tolist() == [
        ["S1", "A1", "present"],
        ["S1", "A2", "absent"],
    ]
    assert report.unread() == {
        "schools/S1/attendance.csv": (
            "school_id (a second school_id column: where it differs from the first, the "
            "first is read)",
        )
    }


def _ingest_by_cli(
    directory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attendance: str
) -> str:
    """``ews ingest`` of the folder with this attendance file: its output on one line."""
    (directory / "attendance.csv").write_text(attendance)
    monkeypatch.setenv("EWS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("EWS_ID_HASH_KEY", ID_KEY)

    result = CliRunner().invoke(
        app, ["ingest", str(directory), "--rejects-dir", str(tmp_path / "r")]
    )

    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_the_load_prints_file_names_and_values_in_square_brackets_as_written(
    base_directory: Path, tmp_path, monkeypatch
) -> None:
    """A school names a file as it likes (``students [old].csv``) and writes what it
    likes in a cell. Before, the CLI read square brackets as its own markup: the name
    printed as ``students .csv``, and a register's tick in a header (``มา [/]``) crashed
    the load's report (``MarkupError``) after the load had written."""
    (base_directory / "students [old].csv").write_text("student_id,given_name\nA1,ก\n")

    output = _ingest_by_cli(
        base_directory,
        tmp_path,
        monkeypatch,
        "student_id,school_id,date,status,มา [/],[หมายเหตุ]\n"
        "A1,S1,2025-06-02,present,1,x\n"
        "A2,S1,2025-06-02,[ขาด],0,\n",
    )

    assert "Not read: students [old].csv:" in output
    assert "Not read in attendance.csv: มา [/], [หมายเหตุ]." in output


def test_the_load_tells_a_second_column_read_in_part_from_a_column_not_read(
    base_directory: Path, tmp_path, monkeypatch
) -> None:
    """A second column naming one is read where the first is blank: the CLI said it was
    not read, with the advice for a column nobody reads (give it its header)."""
    output = _ingest_by_cli(
        base_directory,
        tmp_path,
        monkeypatch,
        "student_id,school_id,date,status,สถานะ,หมายเหตุ\n"
        "A1,S1,2025-06-02,present,ขาด,x\n"
        "A2,S1,2025-06-02,,ขาด,\n",
    )

    assert "Not read in attendance.csv: หมายเหตุ. To keep these values" in output
    assert (
        "Read in part in attendance.csv: สถานะ (a second status column: where it differs "
        "from the first, the first is read)." in output
    )


def test_a_file_naming_only_a_school_code_is_not_taken_for_the_schools_list(
    tmp_path: Path, engine
) -> None:
    """A school's report that keeps the school's code beside columns the contract does
    not know says nothing of what it holds. Before, it was read by its headers as the
    schools list (whose other columns are optional), and the school of the folder,
    missing from that "list", had every child of its class list rejected as an unknown
    school. Found by loading damaged school files (tests/schooldata/test_damaged_files.py)."""
    directory, school = _school_s1(tmp_path, "student_id,given_name\nA1,สมชาย\nA2,สมหญิง\n")
    (school / "รายงาน.csv").write_text("รหัสโรงเรียน,กรณีที่ออก\n1101700230705,\n")

    report = _ingest(directory, engine, tmp_path)

    assert report.exit_code == 0
    assert sorted(read_table(engine, "students")["student_id"]) == ["A1", "A2"]
    assert read_table(engine, "schools").empty
    assert "neither its name nor its headers" in dict(report.not_read)["schools/S1/รายงาน.csv"]


def test_a_record_dated_after_today_is_refused_with_its_reason(
    base_directory: Path, write_csv, engine, tmp_path
) -> None:
    """A date with a digit lost (10/6/2068 for 10/6/2568) is decades ahead: a visit kept
    so would be the child's last action until then, an exit a child who never left. Such
    a row is refused, naming its date; an optional date is blanked and its row kept."""
    later = (clock.today() + timedelta(days=1)).isoformat()
    write_csv(
        "interventions",
        [
            "student_id,date,type,outcome",
            "A1,2025-08-01,home_visit,done",
            "A2,10/6/2068,home_visit,done",  # line 3
            f"A2,{later},phone_call,done",  # line 4
        ],
    )
    write_csv("exits", ["student_id,exit_date,exit_type", "A3,1/7/2068,dropout"])
    write_csv(
        "grades",
        [
            "student_id,academic_year,term,subject_code,grade,credits,recorded_date",
            "A1,2568,1,ค21101,3,1.5,1/10/2068",
        ],
    )
    report = _ingest(base_directory, engine, tmp_path)

    assert report.exit_code == 0
    refused = _rejects(tmp_path, "interventions")
    assert refused[["line", "column", "value", "reason", "action"]].values.tolist() == [
        ["3", "date", "10/6/2068", "is in the future", "rejected"],
        ["4", "date", later, "is in the future", "rejected"],
    ]
    assert read_table(engine, "interventions")["student_id"].tolist() == ["A1"]
    assert _rejects(tmp_path, "exits")["reason"].tolist() == ["is in the future"]
    assert read_table(engine, "exits").empty
    assert _rejects(tmp_path, "grades")["action"].tolist() == ["blanked"]
    grades = read_table(engine, "grades")
    assert len(grades) == 1
    assert grades["recorded_date"].isna().all()
