"""Schools' own files (Excel, Thai headers and values, class registers, no advisors) load
to exactly the tables the contract's CSV gives for the same records."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from schooldata.contract import SOURCES
from schooldata.db import make_engine, read_table
from schooldata.ingest import IngestReport, ingest_directory
from schooldata.validate import detect_source
from serving import translate
from synth import SynthConfig, generate, write_directory
from tests.conftest import ID_KEY, SMALL_SYNTH


def _load(directory: Path, folder: Path) -> tuple[sa.Engine, IngestReport]:
    engine = make_engine(f"sqlite:///{folder / 'ews.db'}")
    return engine, ingest_directory(directory, engine, ID_KEY, folder / "rejects")


def _sorted(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


@pytest.fixture(scope="module")
def loads(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    result = generate(SynthConfig(**SMALL_SYNTH))
    root = tmp_path_factory.mktemp("school-files")
    write_directory(result, root / "csv")
    in_excel = write_directory(result, root / "mixed", school_files=2)
    (root / "a").mkdir()
    (root / "b").mkdir()
    return _load(root / "csv", root / "a"), _load(root / "mixed", root / "b"), in_excel, root


@pytest.mark.slow
def test_the_school_files_are_what_schools_keep(loads) -> None:  # type: ignore[no-untyped-def]
    *_, in_excel, root = loads
    folder = root / "mixed" / "schools" / in_excel[0]
    register = openpyxl.load_workbook(folder / "attendance.xlsx", read_only=True)
    assert len(register.sheetnames) > 3  # a sheet a month
    sheet = register[register.sheetnames[0]]
    header = [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert header[1] == "รหัสนักเรียน"
    assert str(header[2]).split("/")[-1].startswith("25")  # a Buddhist-Era date
    marks = {c.value for row in sheet.iter_rows(min_row=3, max_row=60) for c in row[2:]}
    assert {"/", "ข"} <= marks  # the register's marks
    enrolment = openpyxl.load_workbook(folder / "enrollments.xlsx", read_only=True).active
    rows = list(enrolment.iter_rows(min_row=2, max_row=3, values_only=True))
    assert "รหัสครูที่ปรึกษา" not in rows[0]  # a DMC export has no advisor
    assert rows[1][rows[0].index("ระดับชั้น")][:2] in {"ม.", "ป.", "อ."} or rows[1][
        rows[0].index("ระดับชั้น")
    ].startswith("ปว")


def test_excel_thai_and_registers_load_to_the_same_tables_as_the_csv(loads) -> None:  # type: ignore[no-untyped-def]
    (csv_engine, csv_report), (excel_engine, excel_report), in_excel, _ = loads

    for report in (csv_report, excel_report):
        assert report.exit_code == 0
        assert sum(s.rows_rejected for s in report.sources) == 0
        assert sum(s.values_blanked for s in report.sources) == 0
    assert any(s.file.endswith("attendance.xlsx") for s in excel_report.sources)

    for source in SOURCES:
        key = list(source.key)
        ours = _sorted(read_table(excel_engine, source.name), key)
        theirs = _sorted(read_table(csv_engine, source.name), key)
        # Row numbers the database gives depend on the order of the files, nothing else.
        ours, theirs = (
            f.drop(columns=["intervention_id"], errors="ignore") for f in (ours, theirs)
        )
        if source.name == "enrollments":
            # Without an advisor, the school's students are listed by classroom.
            from_excel = theirs["school_id"].isin(in_excel)
            room = theirs["classroom"].str.split("/").str[-1]
            theirs.loc[from_excel, "advisor_id"] = ("class:" + theirs["grade_level"] + "/" + room)[
                from_excel
            ]
            assert from_excel.sum() > 100
        pd.testing.assert_frame_equal(ours, theirs, obj=source.name)


def test_without_advisors_each_classroom_is_one_list(loads) -> None:  # type: ignore[no-untyped-def]
    _, (engine, _), in_excel, _ = loads
    enrolments = read_table(engine, "enrollments").query("school_id in @in_excel")
    grouped = enrolments[enrolments["advisor_id"].str.startswith("class:")]
    assert len(grouped) > 100
    per_group = grouped.groupby(["school_id", "advisor_id"])[["grade_level", "classroom"]].nunique()
    assert (per_group == 1).all().all()  # one classroom per list, one list per classroom


def test_a_class_written_with_its_room_in_the_grade_column_keeps_its_room(
    base_directory: Path, write_csv, engine: sa.Engine, tmp_path: Path
) -> None:
    """Class lists write a class as ม.1/2 (M1, room 2) in their one class column: the
    room is the classroom, so each room is its own list, not all M1 of the school one."""
    write_csv(
        "enrollments",
        [
            "รหัสนักเรียน,ปีการศึกษา,ภาคเรียน,รหัสสถานศึกษา,ชั้น",
            "A1,2568,1,S1,ม.1/2",
            "A2,2568,1,S1,ม.๑/๓",
            "A3,2568,1,S2,ปวช.1/1",
        ],
    )

    report = ingest_directory(base_directory, engine, ID_KEY, tmp_path / "rejects")

    assert report.exit_code == 0
    stored = read_table(engine, "enrollments").sort_values("student_id")
    assert stored[["grade_level", "classroom", "advisor_id"]].values.tolist() == [
        ["M1", "2", "class:M1/2"],
        ["M1", "3", "class:M1/3"],
        ["V1", "1", "class:V1/1"],
    ]


def test_no_disability_as_thai_files_write_it_is_none(
    base_directory: Path, write_csv, engine: sa.Engine, tmp_path: Path
) -> None:
    """A DMC export says ไม่พิการ, a school's list ไม่มี or -: none, not a disability (the
    fairness audit and found-in-time would count every such child as disabled)."""
    write_csv(
        "students",
        [
            "รหัสสถานศึกษา,เลขประจำตัวนักเรียน,ความพิการ",
            "S1,A1,ไม่พิการ",
            "S1,A2,ไม่มี",
            "S2,A3,-",
            "S2,A4,บกพร่องทางการเรียนรู้",
            "S2,A5,None",
            "S2,A6,",
        ],
    )

    assert ingest_directory(base_directory, engine, ID_KEY, tmp_path / "rejects").exit_code == 0

    stored = read_table(engine, "students").sort_values("student_id")
    assert stored["disability"].fillna("blank").tolist() == [
        "none",
        "none",
        "none",
        "บกพร่องทางการเรียนรู้",
        "none",
        "blank",
    ]


def _class_list(path: Path, rooms: dict[str, list[list[object]]], title: str) -> Path:
    """A school's class list: a sheet per room (sheet names cannot hold "/"), the room and
    term in the title above the header, no column of either."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for room, rows in rooms.items():
        sheet = book.create_sheet(room.replace("/", "-"))
        sheet.append([title.format(room=room)])
        sheet.append(["เลขที่", "เลขประจำตัวนักเรียน", "คำนำหน้าชื่อ", "ชื่อ", "นามสกุล"])
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_a_class_list_is_the_schools_students_and_their_enrolments(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """The file every school keeps is its class list (รายชื่อนักเรียน): each student's
    code, name and title, the class and term above. It was a students file only, and a
    first load without an enrolments file was refused: the school had to split its own
    list in two and type the class and term into every row."""
    folder = tmp_path / "data" / "schools" / "S1"
    folder.mkdir(parents=True)
    _class_list(
        folder / "นักเรียน.xlsx",
        {
            "ม.1/1": [[1, "05101", "ด.ช.", "สมชาย", "ใจดี"], [2, "05102", "ด.ญ.", "สมหญิง", "ใจงาม"]],
            "ม.1/2": [[1, "05201", "เด็กหญิง", "มาลี", "ดีมาก"]],
        },
        "รายชื่อนักเรียนชั้น{room} ภาคเรียนที่ ๑ ปีการศึกษา ๒๕๖๘",
    )
    (folder / "exits.csv").write_text("student_id,exit_date,exit_type\n")

    report = ingest_directory(tmp_path / "data", engine, ID_KEY, tmp_path / "rejects")

    assert report.exit_code == 0, [(s.file, s.refused) for s in report.sources]
    students = read_table(engine, "students").sort_values("student_id")
    assert students[["school_id", "student_id", "sex", "given_name"]].values.tolist() == [
        ["S1", "05101", "M", "สมชาย"],
        ["S1", "05102", "F", "สมหญิง"],
        ["S1", "05201", "F", "มาลี"],
    ]
    enrolled = read_table(engine, "enrollments").sort_values("student_id")
    assert enrolled[
        ["student_id", "academic_year", "term", "grade_level", "classroom", "advisor_id"]
    ].values.tolist() == [
        ["05101", 2568, 1, "M1", "1", "class:M1/1"],
        ["05102", 2568, 1, "M1", "1", "class:M1/1"],
        ["05201", 2568, 1, "M1", "2", "class:M1/2"],
    ]
    # Last year's list downloaded again beside it is not taken for this term's enrolments.
    _class_list(
        folder / "นักเรียน (1).xlsx",
        {"ป.6/1": [[1, "04101", "ด.ช.", "สมชาย", "ใจดี"]]},
        "รายชื่อนักเรียนชั้น{room} ภาคเรียนที่ ๑ ปีการศึกษา ๒๕๖๗",
    )
    again = ingest_directory(tmp_path / "data", engine, ID_KEY, None, dry_run=True)
    assert [(s.file, s.source) for s in again.sources if s.rows_read] == [
        ("schools/S1/นักเรียน.xlsx", "students"),
        ("schools/S1/นักเรียน.xlsx", "enrollments"),
    ]
    assert [file for file, _ in again.not_read] == ["schools/S1/นักเรียน (1).xlsx"]


def test_columns_the_service_does_not_read_are_named_never_dropped_unseen(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """A DMC export holds more than its data: before, a column of other data (the
    distance home, the household survey's) or a header typed another way was dropped
    with "ok", and the data officer never learnt their values were not read. Row
    numbers, empty columns, and who the child is and where they sit (the students and
    enrolments files hold them) are no loss."""
    folder = tmp_path / "data" / "schools" / "S1"
    folder.mkdir(parents=True)
    (folder / "students.csv").write_text(
        "ลำดับ,เลขประจำตัว,คำนำหน้าชื่อ,ชื่อ,นามสกุล,ชั้น,ห้อง,"
        "ระยะทางจากบ้านถึงโรงเรียน(กม.),วันเกิดนักเรียน,หมายเหตุ\n"
        "1,701,ด.ช.,สมชาย,ใจดี,ม.1,1,12,01/03/2555,\n"
        "2,702,ด.ญ.,มาลี,ศรี,ม.1,1,,,\n"
    )
    (folder / "exits.csv").write_text("student_id,exit_date,exit_type\n")
    (folder / "การมาเรียน.csv").write_text(
        "เลขที่,รหัสนักเรียน,ชื่อ - สกุล,วันที่,สถานะ,ครูผู้บันทึก\n1,701,ด.ช.สมชาย ใจดี,10/06/2568,มา,ครูสมศรี\n"
    )
    (folder / "enrollments.csv").write_text(
        "รหัสนักเรียน,ปีการศึกษา,ภาคเรียน,ชั้น,ห้อง\n701,2568,1,ม.1,1\n702,2568,1,ม.1,1\n"
    )

    report = ingest_directory(tmp_path / "data", engine, ID_KEY, tmp_path / "rejects")

    assert report.exit_code == 0, [(s.file, s.refused) for s in report.sources]
    unread = {s.source: s.unread for s in report.sources}
    assert unread["students"] == ("ระยะทางจากบ้านถึงโรงเรียน(กม.)", "วันเกิดนักเรียน")
    assert unread["attendance"] == ("ครูผู้บันทึก",)
    assert unread["enrollments"] == ()

    # A class list (its class read as its enrolments) loses only what nobody read.
    (folder / "enrollments.csv").unlink()
    (folder / "students.csv").write_text(
        "รายชื่อนักเรียน ภาคเรียนที่ 1 ปีการศึกษา 2568\n"
        "เลขที่,เลขประจำตัว,ชื่อ,นามสกุล,ชั้น,ห้อง,ชื่อเล่น\n1,701,สมชาย,ใจดี,ม.1,1,ต้น\n"
    )
    report = ingest_directory(tmp_path / "data", engine, ID_KEY, tmp_path / "rejects")
    unread = {s.source: s.unread for s in report.sources}
    assert (unread["students"], unread["enrollments"]) == (("ชื่อเล่น",), ("ชื่อเล่น",))


def test_a_class_list_with_one_name_column_gives_each_childs_names_and_sex(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """Most class lists keep a child's title and names in one column (ชื่อ - สกุล): the
    advisor's list showed codes only, and the sex (in the title) was lost."""
    folder = tmp_path / "data" / "schools" / "S1"
    folder.mkdir(parents=True)
    (folder / "students.csv").write_text(
        "เลขที่,เลขประจำตัว,ชื่อ - สกุล\n"
        "1,701,ด.ช.สมชาย  ใจดี\n"
        "2,702,เด็กหญิง มาลี ศรี สุข\n"
        "3,703,นางสาวฝน\n"
        "4,704,\n"
    )
    (folder / "exits.csv").write_text("student_id,exit_date,exit_type\n")
    (folder / "enrollments.csv").write_text(
        "student_id,academic_year,term,grade_level\n701,2568,1,M1\n"
    )

    ingest_directory(tmp_path / "data", engine, ID_KEY, tmp_path / "rejects")

    stored = read_table(engine, "students").sort_values("student_id")
    assert stored[["student_id", "sex", "given_name", "family_name"]].astype(object).fillna(
        "-"
    ).values.tolist() == [
        ["701", "M", "สมชาย", "ใจดี"],
        ["702", "F", "มาลี", "ศรี สุข"],
        ["703", "F", "ฝน", "-"],
        ["704", "-", "-", "-"],
    ]


def test_a_class_list_with_one_name_column_recognised_by_its_headers_is_both_files(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """Named as the school names it (not students.csv), a class list keeping names in one
    column was taken for enrolments only: the students file was "missing" and every
    enrolment rejected as a student nobody knew."""
    folder = tmp_path / "data" / "schools" / "S1"
    # The upload page keeps each file under the source it was recognised as.
    (folder / "enrollments").mkdir(parents=True)
    (folder / "enrollments" / "1.csv").write_text(
        "รายชื่อนักเรียนชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568\n"
        "เลขที่,เลขประจำตัว,ชื่อ - สกุล\n1,701,ด.ช.สมชาย ใจดี\n2,702,ด.ญ.มาลี ศรี\n"
    )
    (folder / "exits.csv").write_text("student_id,exit_date,exit_type\n")

    report = ingest_directory(tmp_path / "data", engine, ID_KEY, tmp_path / "rejects")

    assert report.exit_code == 0, [(s.file, s.refused) for s in report.sources]
    assert read_table(engine, "students")["given_name"].tolist() == ["สมชาย", "มาลี"]
    assert len(read_table(engine, "enrollments")) == 2


def test_a_class_list_whose_term_is_named_nowhere_says_what_to_add(
    tmp_path: Path, engine: sa.Engine
) -> None:
    folder = tmp_path / "data" / "schools" / "S1"
    folder.mkdir(parents=True)
    _class_list(
        folder / "นักเรียน.xlsx",
        {"ป.6/1": [[1, "601", "ด.ช.", "ก", "ข"]]},
        "รายชื่อนักเรียนชั้น{room}",
    )
    (folder / "exits.csv").write_text("student_id,exit_date,exit_type\n")

    report = ingest_directory(tmp_path / "data", engine, ID_KEY, tmp_path / "rejects")

    refused = {s.source: s.refused for s in report.sources if s.refused}
    assert list(refused) == ["enrollments"]
    assert str(refused["enrollments"]).startswith("required file is missing; a class list")
    assert "ภาคเรียนที่ 1 ปีการศึกษา 2568" in str(refused["enrollments"])
    assert len(read_table(engine, "students")) == 1  # the students are loaded all the same


def test_a_new_school_without_an_exits_file_is_told_how_to_say_nobody_has_left(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """A first load needs its exits (who left, or that nobody has): a school with nobody
    gone was told only "required file is missing", and did not know what to send."""
    folder = tmp_path / "data" / "schools" / "S1"
    folder.mkdir(parents=True)
    _class_list(
        folder / "นักเรียน.xlsx",
        {"ป.6/1": [[1, "601", "ด.ช.", "ก", "ข"]]},
        "รายชื่อนักเรียนชั้น{room} ภาคเรียนที่ 1 ปีการศึกษา 2568",
    )

    report = ingest_directory(tmp_path / "data", engine, ID_KEY, tmp_path / "rejects")

    refused = {s.source: str(s.refused) for s in report.sources if s.refused}
    assert list(refused) == ["exits"]
    assert "nobody has left" in refused["exits"]
    assert "รหัสนักเรียน,วันที่ออก,ประเภทการออก" in refused["exits"]
    thai = translate.in_language(refused["exits"], "th")
    assert thai.startswith("ไม่มีไฟล์ที่ต้องมี")
    assert "ยังไม่มีนักเรียนออก" in thai


def test_a_teachers_grade_book_a_sheet_per_subject_names_subject_and_term_above(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """A grade book (ปพ.5) is kept a sheet per subject, its code, credits and term in the
    title, one row per student with the marks and the grade (เกรด)."""
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for code, name, credits, grades in (
        ("ท21101", "ภาษาไทย 1", "1.5", ["3.5", "มส."]),
        ("ค21101", "คณิตศาสตร์ 1", "๑.๕", ["4", "1"]),
    ):
        sheet = book.create_sheet(code)
        sheet.append([f"แบบบันทึกผลการเรียน รายวิชา {code} {name} จำนวน {credits} หน่วยกิต"])
        sheet.append(["ชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568"])
        sheet.append(["เลขที่", "เลขประจำตัว", "ชื่อ - สกุล", "คะแนนเก็บ", "ปลายภาค", "รวม", "เกรด"])
        sheet.append([1, "A1", "สมชาย ใจดี", 60, 25, 85, grades[0]])
        sheet.append([2, "A2", "สมหญิง ทองคำ", 40, 10, 50, grades[1]])

    stored, _ = _grades_of(book, base_directory, engine, tmp_path)

    assert stored.sort_values(["subject_code", "student_id"]).values.tolist() == [
        ["A1", "2568", "1", "ค21101", "1.5", "4"],
        ["A2", "2568", "1", "ค21101", "1.5", "1"],
        ["A1", "2568", "1", "ท21101", "1.5", "3.5"],
        ["A2", "2568", "1", "ท21101", "1.5", "มส"],
    ]


def _grades_of(
    book: openpyxl.Workbook, directory: Path, engine: sa.Engine, tmp_path: Path
) -> tuple[pd.DataFrame, IngestReport]:
    """A grade workbook loaded as the school's grades file: the grades stored (as text,
    a blank "-"); uploaded under any other name, it must be known as grades too."""
    book.save(directory / "ผลการเรียน.xlsx")
    renamed = tmp_path / "ม.1-1 ภาคเรียนที่ 1.xlsx"
    book.save(renamed)
    assert getattr(detect_source(renamed), "name", None) == "grades"
    report = ingest_directory(directory, engine, ID_KEY, tmp_path / "rejects")
    assert report.exit_code == 0, [(s.file, s.refused) for s in report.sources]
    columns = ["student_id", "academic_year", "term", "subject_code", "credits", "grade"]
    stored = read_table(engine, "grades")[columns].astype(object).fillna("-").astype(str)
    return stored.reset_index(drop=True), report


def test_a_class_grade_summary_a_column_per_subject_loads_each_grade(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """The term's grade summary of a class (ปพ.6, a school MIS export): one row per
    student, one column per subject headed by its code (its name and credits after), the
    term in the title. A blank cell is no grade, never a zero."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "ม.1-1"
    sheet.append(["สรุปผลการเรียน ชั้นมัธยมศึกษาปีที่ 1/1 ภาคเรียนที่ 2 ปีการศึกษา 2567"])
    sheet.append(
        ["เลขที่", "เลขประจำตัว", "ชื่อ - สกุล", "ท21102 ภาษาไทย 2 (1.5)", "ค21102", "ก21901", "GPA"]
    )
    sheet.append([1, "A1", "สมชาย ใจดี", "3.5", "ร", "ผ่าน", "3.50"])
    sheet.append([2, "A2", "สมหญิง ทองคำ", None, "4", "ไม่ผ่าน", "4.00"])

    stored, report = _grades_of(book, base_directory, engine, tmp_path)

    assert stored.sort_values(["student_id", "subject_code"]).values.tolist() == [
        ["A1", "2567", "2", "ก21901", "-", "ผ"],  # an activity: passed
        ["A1", "2567", "2", "ค21102", "-", "ร"],
        ["A1", "2567", "2", "ท21102", "1.5", "3.5"],
        ["A2", "2567", "2", "ก21901", "-", "มผ"],
        ["A2", "2567", "2", "ค21102", "-", "4"],
    ]
    grades = next(s for s in report.sources if s.source == "grades")
    assert (grades.rows_read, grades.rows_loaded) == (5, 5)  # the blank cell is no row


def test_a_header_of_two_rows_a_label_merged_over_its_columns_names_each_column(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """A grade summary's subjects under one merged "ผลการเรียนรายวิชา", a register's days
    under their month: the upper row labels a group of columns (a merged cell reads as the
    label and blanks), the row below names each. Both files were refused for a missing
    column, and saved as CSV too. The codes' row is no student's: rows keep their lines."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["สรุปผลการเรียน ชั้นมัธยมศึกษาปีที่ 1/1 ภาคเรียนที่ 2 ปีการศึกษา 2567"])
    sheet.append(["เลขที่", "เลขประจำตัว", "ชื่อ - สกุล", "ผลการเรียนรายวิชา", None, "GPA"])
    sheet.append([None, None, None, "ท21102", "ค21102", None])
    sheet.append([1, "A1", "สมชาย ใจดี", "3.5", "ร", "3.50"])
    sheet.append([2, "A2", "สมหญิง ทองคำ", "7", "4", "4.00"])  # 7 is no grade
    for cells in ("D2:E2", "A2:A3", "B2:B3", "C2:C3", "F2:F3"):
        sheet.merge_cells(cells)
    register = openpyxl.Workbook()
    days = register.active
    assert days is not None
    days.append(["แบบบันทึกเวลาเรียน ชั้น ป.6/1"])
    days.append(["เลขที่", "รหัสนักเรียน", "ชื่อ - สกุล", "มิถุนายน ๒๕๖๘", None, None, "รวม"])
    days.append([None, None, None, "๒", "๓", "๔", None])
    days.append([1, "A1", "สมชาย ใจดี", "/", "ข", "ล", 1])
    days.merge_cells("D2:F2")
    register.save(base_directory / "attendance.xlsx")
    as_text = tmp_path / "as-csv"
    (as_text / "schools" / "S1").mkdir(parents=True)
    with (as_text / "schools" / "S1" / "grades.csv").open("w", newline="") as saved:
        csv.writer(saved).writerows(
            [[str(c.value or "") for c in row] for row in sheet.iter_rows()]
        )

    stored, report = _grades_of(book, base_directory, engine, tmp_path)

    assert stored.sort_values(["student_id", "subject_code"]).values.tolist() == [
        ["A1", "2567", "2", "ค21102", "-", "ร"],
        ["A1", "2567", "2", "ท21102", "-", "3.5"],
        ["A2", "2567", "2", "ค21102", "-", "4"],
    ]
    grades = next(s for s in report.sources if s.source == "grades")
    assert grades.rejects[["line", "column", "value"]].values.tolist() == [[5, "grade", "7"]]
    attendance = read_table(engine, "attendance")
    assert attendance.assign(date=attendance["date"].dt.strftime("%Y-%m-%d"))[
        ["student_id", "date", "status"]
    ].values.tolist() == [
        ["A1", "2025-06-02", "present"],
        ["A1", "2025-06-03", "absent"],
        ["A1", "2025-06-04", "personal_leave"],
    ]
    csv_report = ingest_directory(as_text, engine, ID_KEY, None, dry_run=True)
    from_csv = next(s for s in csv_report.sources if s.source == "grades")
    assert (from_csv.rows_read, from_csv.rows_loaded) == (4, 3)
    assert from_csv.rejects[["line", "column", "value"]].values.tolist() == [[5, "grade", "7"]]


def test_a_registers_row_of_weekdays_under_its_dates_is_its_headers(
    tmp_path: Path, engine: sa.Engine, base_directory: Path
) -> None:
    """A register names the day of the week under each date (จ อ พ พฤ ศ). That row was
    read as a row with no student, rejected with a reason a day, in every month's sheet.
    Rows keep their lines, as Excel and as CSV."""
    rows = [
        ["แบบบันทึกเวลาเรียน ชั้น ป.6/1"],
        ["เลขที่", "รหัสนักเรียน", "2/6/2568", "3/6/2568", "4/6/2568", "5/6/2568"],
        ["", "", "จ", "อ", "พ.", "พฤ"],
        ["1", "A1", "/", "ข", "/", "/"],
        ["2", "A2", "/", "/", "?", "ล"],
    ]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(base_directory / "attendance.xlsx")
    as_text = tmp_path / "as-csv"
    as_text.mkdir()
    with (as_text / "attendance.csv").open("w", newline="") as saved:
        csv.writer(saved).writerows(rows)

    for directory in (base_directory, as_text):  # the CSV's students: those loaded first
        report = ingest_directory(directory, engine, ID_KEY, None, dry_run=directory == as_text)
        attendance = next(s for s in report.sources if s.source == "attendance")
        assert (attendance.rows_read, attendance.rows_loaded) == (8, 7), directory
        assert attendance.rejects[["line", "value"]].values.tolist() == [[5, "?"]]


def test_a_register_giving_one_day_twice_reads_it_as_any_column_given_twice(
    engine: sa.Engine, base_directory: Path
) -> None:
    """A month's register typed by hand may give a day twice (12, then ๑๒). As any column
    given twice, the first column's marks load, the second's fill its blanks, and the
    second is named as not read where it says otherwise. Before, such a register crashed
    the load (``IndexError``); then the second's marks were rejected row by row as a
    "duplicate key", a reason naming no day."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (
        ["แบบบันทึกเวลาเรียน ชั้น ป.6/1"],
        ["เลขที่", "รหัสนักเรียน", "มิถุนายน 2568", None, None, None, None],
        [None, None, "10", "11", "๑๑", "12", "๑๒"],
        [1, "A1", "/", "มา", "/", "ข", "/"],
        [2, "A2", "/", "/", None, None, "ล"],
    ):
        sheet.append(row)
    sheet.merge_cells("C2:G2")
    book.save(base_directory / "attendance.xlsx")

    report = ingest_directory(base_directory, engine, ID_KEY, None)

    attendance = next(s for s in report.sources if s.source == "attendance")
    assert (attendance.rows_loaded, attendance.rows_rejected) == (6, 0)
    stored = read_table(engine, "attendance").sort_values(["student_id", "date"])
    assert stored[["student_id", "status"]].values.tolist() == [
        ["A1", "present"],
        ["A1", "present"],  # มา, then /: one mark, not named
        ["A1", "absent"],  # ข, then /: the first column's mark, the second named
        ["A2", "present"],
        ["A2", "present"],
        ["A2", "personal_leave"],  # blank, then ล: the second column fills the first's blank
    ]
    assert report.unread() == {
        "attendance.xlsx": (
            "2025-06-12 (a second 2025-06-12 column: where it differs from the first, the "
            "first is read)",
        )
    }


def test_a_cell_merged_down_beside_a_rooms_students_is_each_students(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """A class list writes each room once, merged down beside its students: only the
    first student of each room kept it, and the others' enrolments were rejected for a
    missing class. A register's day is not filled so: a holiday written down a day's
    column is no mark of each child."""
    folder = tmp_path / "data" / "schools" / "S1"
    folder.mkdir(parents=True)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["รายชื่อนักเรียน ภาคเรียนที่ 1 ปีการศึกษา 2568"])
    sheet.append(["ชั้น", "เลขที่", "เลขประจำตัว", "ชื่อ - สกุล"])
    sheet.append(["ม.1/1", 1, "06101", "ด.ช.สมชาย ใจดี"])
    sheet.append([None, 2, "06102", "ด.ญ.สมหญิง ใจงาม"])
    sheet.append(["ม.1/2", 1, "06201", "ด.ญ.มาลี ดีมาก"])
    sheet.append([None, 2, "06202", "ด.ช.มานะ อดทน"])
    sheet.merge_cells("A3:A4")
    sheet.merge_cells("A5:A6")
    book.save(folder / "นักเรียน.xlsx")
    register = openpyxl.Workbook()
    days = register.active
    assert days is not None
    days.append(["เลขที่", "รหัสนักเรียน", *(f"{day}/6/2568" for day in range(2, 7))])
    days.append([1, "06101", "/", "วันหยุด", "/", "/", "/"])
    days.append([2, "06102", "ข", None, "/", "/", "/"])
    days.merge_cells("D2:D3")
    register.save(folder / "การมาเรียน.xlsx")
    (folder / "exits.csv").write_text("student_id,exit_date,exit_type\n")

    report = ingest_directory(tmp_path / "data", engine, ID_KEY, None)

    enrolled = read_table(engine, "enrollments").sort_values("student_id")
    assert enrolled[["student_id", "grade_level", "classroom"]].values.tolist() == [
        ["06101", "M1", "1"],
        ["06102", "M1", "1"],
        ["06201", "M1", "2"],
        ["06202", "M1", "2"],
    ]
    attendance = next(s for s in report.sources if s.source == "attendance")
    assert attendance.rejects[["line", "value"]].values.tolist() == [[2, "วันหยุด"]]
    assert len(read_table(engine, "attendance")) == 8  # 06102's 3 June is not recorded


def test_a_summary_keeping_each_subjects_score_and_grade_loads_the_grades(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """Each subject merged over its score and its grade (คะแนน, เกรด): the grade is the
    subject's, the score is for people. The row of เกรด twice was taken for the header."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["สรุปผลการเรียน ชั้นมัธยมศึกษาปีที่ 1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568"])
    sheet.append(["เลขที่", "เลขประจำตัว", "ชื่อ - สกุล", "ท21101 ภาษาไทย 1 (1.5)", None, "ค21101"])
    sheet.append([None, None, None, "คะแนน", "เกรด", "คะแนน", "เกรด"])
    sheet.append([1, "A1", "สมชาย ใจดี", 78, 3, 45, 0])
    sheet.merge_cells("D2:E2")
    sheet.merge_cells("F2:G2")

    stored, report = _grades_of(book, base_directory, engine, tmp_path)

    assert stored.sort_values("subject_code").values.tolist() == [
        ["A1", "2568", "1", "ค21101", "-", "0"],
        ["A1", "2568", "1", "ท21101", "1.5", "3"],
    ]
    assert sum(s.rows_rejected for s in report.sources) == 0


def test_a_screening_summary_ticking_each_aspects_level_loads_the_ticked_levels(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """The care system's class summary of a screening: each aspect merged over a column
    per level (ปกติ, เสี่ยง, มีปัญหา), a tick in one, the date in the title. It was
    refused (no date column), and the ticks could not be read. No tick is no result; two
    ticks are blanked and reported, the row kept."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["แบบสรุปผลการคัดกรองนักเรียน ชั้น ป.6/1 วันที่คัดกรอง ๑๕ มิ.ย. ๒๕๖๘"])
    aspects = ["ด้านการเรียน", "ด้านสุขภาพ", "ด้านเศรษฐกิจ"]
    sheet.append(["เลขที่", "เลขประจำตัว", "ชื่อ - สกุล", *(c for a in aspects for c in (a, None, None))])
    sheet.append([None, None, None, *(["ปกติ", "เสี่ยง", "มีปัญหา"] * 3)])
    sheet.append([1, "A1", "สมชาย ใจดี", "✓", None, None, None, "/", None, None, None, "X"])
    sheet.append([2, "A2", "สมหญิง ทองคำ", None, None, None, "✓", None, None, "✓", "✓", None])
    for column in (4, 7, 10):
        sheet.merge_cells(start_row=2, start_column=column, end_row=2, end_column=column + 2)
    book.save(base_directory / "screenings.xlsx")
    renamed = tmp_path / "คัดกรอง ป.6-1.xlsx"
    book.save(renamed)
    assert getattr(detect_source(renamed), "name", None) == "screenings"  # on the upload page

    report = ingest_directory(base_directory, engine, ID_KEY, tmp_path / "rejects")

    assert report.exit_code == 0, [(s.file, s.refused) for s in report.sources]
    stored = read_table(engine, "screenings").sort_values("student_id")
    assert stored.assign(date=stored["screening_date"].dt.strftime("%Y-%m-%d"))[
        ["student_id", "date", "learning", "health", "economic"]
    ].astype(object).fillna("-").values.tolist() == [
        ["A1", "2025-06-15", "normal", "at_risk", "problem"],
        ["A2", "2025-06-15", "-", "normal", "-"],
    ]
    screenings = next(s for s in report.sources if s.source == "screenings")
    assert screenings.rejects[["line", "column", "action"]].values.tolist() == [
        [5, "economic", "blanked"]
    ]
    sheet.delete_rows(4, 2)  # the form before anyone is screened
    empty = tmp_path / "empty"
    empty.mkdir()
    book.save(empty / "screenings.xlsx")
    report = ingest_directory(empty, engine, ID_KEY, None, dry_run=True)
    assert [(s.rows_read, s.refused) for s in report.sources] == [(0, None)]


def test_a_primary_schools_summary_by_the_subjects_names_loads_each_grade(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """A primary school heads its summary with the subjects' names, not codes (ภาษาไทย,
    คณิตศาสตร์, the activities): such a file was refused for a missing subject column.
    A class list keeping each child's club (ชุมนุม) is still a class list."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["สรุปผลการเรียน ชั้นประถมศึกษาปีที่ 6/1 ภาคเรียนที่ 1 ปีการศึกษา 2567"])
    sheet.append(
        ["เลขที่", "เลขประจำตัว", "ชื่อ - สกุล", "ภาษาไทย", "คณิตศาสตร์ (1.5)", "วิทยาศาสตร์และเทคโนโลยี"]
        + ["กิจกรรมพัฒนาผู้เรียน", "เกรดเฉลี่ย"]
    )
    sheet.append([1, "A1", "สมชาย ใจดี", 4, "ร", 2.5, "ผ", 3.2])

    stored, _ = _grades_of(book, base_directory, engine, tmp_path)

    assert stored.sort_values("subject_code").values.tolist() == [
        ["A1", "2567", "1", "กิจกรรมพัฒนาผู้เรียน", "-", "ผ"],
        ["A1", "2567", "1", "คณิตศาสตร์", "1.5", "ร"],
        ["A1", "2567", "1", "ภาษาไทย", "-", "4"],
        ["A1", "2567", "1", "วิทยาศาสตร์และเทคโนโลยี", "-", "2.5"],
    ]
    clubs = tmp_path / "รายชื่อ ป.6-1.csv"
    clubs.write_text("เลขประจำตัว,ชื่อ - สกุล,ชุมนุม,ลูกเสือ\nA1,สมชาย ใจดี,ดนตรีไทย,สามัญ\n")
    assert getattr(detect_source(clubs), "name", None) == "students"


def test_a_vocational_colleges_files_name_their_students_as_colleges_do(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """A college's students are นักศึกษา (รหัสนักศึกษา), its classes groups of a year
    (ชั้นปี ปวช.1, กลุ่มเรียน 2); a school file may call its school รหัสโรงเรียน. Each was
    a file refused for a missing student or school column."""
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "students.csv").write_text(
        "รหัสวิทยาลัย,รหัสนักศึกษา,คำนำหน้า,ชื่อ\nV1,6630001,นาย,ก้อง\nV1,6630002,นางสาว,ฝน\n"
    )
    (folder / "enrollments.csv").write_text(
        "รหัสโรงเรียน,รหัสประจำตัวนักศึกษา,ปีการศึกษา,ภาคเรียน,ชั้นปี,กลุ่มเรียน\n"
        "V1,6630001,2568,1,ปวช.1,2\nV1,6630002,2568,1,ปวช.1,2\n"
    )
    (folder / "exits.csv").write_text("รหัสนักศึกษา,วันที่ออก,ประเภทการออก\n")

    report = ingest_directory(folder, engine, ID_KEY, tmp_path / "rejects")

    assert report.exit_code == 0, [(s.file, s.refused) for s in report.sources]
    enrolled = read_table(engine, "enrollments").sort_values("student_id")
    assert enrolled[["school_id", "student_id", "grade_level", "classroom"]].values.tolist() == [
        ["V1", "6630001", "V1", "2"],
        ["V1", "6630002", "V1", "2"],
    ]


def test_an_old_xls_workbook_with_thai_headers_loads(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    import xlwt  # type: ignore[import-untyped]

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("การมาเรียน")
    rows = [
        ["รหัสนักเรียน", "วันที่", "สถานะ"],
        ["A1", "10/06/68", "มา"],
        ["A2", "10 มิ.ย. 2568", "ข"],
        ["A2", "11/06/2568", "ลาป่วย"],
    ]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(base_directory / "attendance.xls"))

    report = ingest_directory(base_directory, engine, ID_KEY, tmp_path / "rejects")

    assert [s.file for s in report.sources if s.source == "attendance"] == ["attendance.xls"]
    stored = read_table(engine, "attendance").sort_values(["student_id", "date"])
    assert stored.assign(date=stored["date"].dt.strftime("%Y-%m-%d")).values.tolist() == [
        ["A1", "S1", "2025-06-10", "present"],
        ["A2", "S1", "2025-06-10", "absent"],
        ["A2", "S1", "2025-06-11", "sick_leave"],
    ]


def test_a_workbook_saved_by_libreoffice_loads(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """LibreOffice Calc's own format (.ods, the open standard Thai government offices
    use): before, a directory's ``attendance.ods`` was not a data file at all."""
    marks = pd.DataFrame(
        {"รหัสนักเรียน": ["A1", "A2"], "วันที่": ["10/06/2568", "10/06/2568"], "สถานะ": ["มา", "ข"]}
    )
    marks.to_excel(base_directory / "การมาเรียน.ods", engine="odf", index=False)

    report = ingest_directory(base_directory, engine, ID_KEY, tmp_path / "rejects")

    assert [s.file for s in report.sources if s.source == "attendance"] == ["การมาเรียน.ods"]
    stored = read_table(engine, "attendance").sort_values("student_id")
    assert stored["status"].tolist() == ["present", "absent"]


def test_codes_excel_stripped_of_their_leading_zeros_name_the_schools_students(
    write_csv, engine: sa.Engine, tmp_path: Path
) -> None:
    """A school's codes 05123: a sheet typed without text format holds the number 5123."""
    directory = write_csv(
        "students",
        [
            "student_id,school_id,sex,birth_date",
            "05123,S1,M,2012-03-01",
            "05124,S1,F,2012-04-01",
            "0777,S1,F,2012-05-01",
            "777,S1,M,2012-06-01",  # two codes one number apart from zeros: never guessed
        ],
    )
    write_csv("enrollments", ["student_id,academic_year,term,school_id,grade_level"])
    write_csv("exits", ["student_id,exit_date,exit_type"])
    ingest_directory(directory, engine, ID_KEY, tmp_path / "rejects")

    later = tmp_path / "later"
    later.mkdir()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "การมาเรียน"
    for row in (
        ["เลขประจำตัวนักเรียน", "วันที่", "สถานะ"],
        [5123, "10/06/2568", "มา"],
        [5124, "10/06/2568", "ขาด"],
        [777, "10/06/2568", "มา"],  # the school's own 777
        [77, "10/06/2568", "มา"],  # 0077: nobody's code
    ):
        sheet.append(row)
    book.save(later / "attendance.xlsx")
    (later / "students.csv").write_text(  # next term's file, from the school's system
        "student_id,school_id,sex,birth_date\n5123,S1,M,2012-03-01\n"
    )
    report = ingest_directory(later, engine, ID_KEY, tmp_path / "rejects")

    stored = read_table(engine, "attendance").sort_values("student_id")
    assert stored[["student_id", "status"]].values.tolist() == [
        ["05123", "present"],
        ["05124", "absent"],
        ["777", "present"],
    ]
    assert sorted(read_table(engine, "students")["student_id"]) == ["05123", "05124", "0777", "777"]
    rejects = pd.read_csv(tmp_path / "rejects" / "attendance.csv", dtype=str)
    assert rejects[["line", "value", "action"]].values.tolist() == [
        ["2", "5123", "corrected"],
        ["3", "5124", "corrected"],
        ["5", "77", "rejected"],
    ]
    assert rejects["reason"].iloc[0].startswith("leading zeros put back")
    attendance = next(s for s in report.sources if s.source == "attendance")
    assert (attendance.rows_loaded, attendance.rows_rejected) == (3, 1)


def test_dates_with_their_buddhist_era_year_first_or_spelled_out_are_read(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """A date cell typed 10/6/2568 in a Thai sheet is the date 2568-06-10 (Excel keeps years
    to 9999); systems write 2568/06/11; letters write 12 มิถุนายน พ.ศ. 2568."""
    import datetime as dt

    book = openpyxl.Workbook()
    sheet = book.active
    for row in (
        ["รหัสนักเรียน", "วันที่", "สถานะ"],
        ["A1", dt.datetime(2568, 6, 10), "มา"],
        ["A1", "2568/06/11", "มา"],
        ["A1", "12 มิถุนายน พ.ศ. 2568", "ขาด"],
        ["A2", "2567-02-29", "มา"],  # 29 February 2024: 2567 itself is no leap year
        ["A2", "2025-06-13", "มา"],
    ):
        sheet.append(row)
    book.save(base_directory / "attendance.xlsx")

    report = ingest_directory(base_directory, engine, ID_KEY, tmp_path / "rejects")

    assert sum(s.rows_rejected for s in report.sources) == 0
    stored = read_table(engine, "attendance").sort_values(["student_id", "date"])
    assert stored["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-06-10",
        "2025-06-11",
        "2025-06-12",
        "2024-02-29",
        "2025-06-13",
    ]


def test_a_workbook_of_one_sheet_per_classroom_loads_every_classroom(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """Schools keep a class list per sheet, often behind an instructions sheet: only the
    first sheet was read, and every other classroom was left out without a word."""
    (base_directory / "enrollments.csv").unlink()
    book = openpyxl.Workbook()
    cover = book.active
    cover.title = "คำชี้แจง"
    cover.append(["กรอกข้อมูลนักเรียนแต่ละห้องในแผ่นงานของห้องนั้น"])
    rooms = {
        "ป.6-1": [["เลขประจำตัวนักเรียน", "ปีการศึกษา", "ภาคเรียน", "ชั้น", "ห้อง", "รหัสสถานศึกษา"]]
        + [["A1", 2568, 1, "ป.6", "1", "S1"]],
        "ป.5-1": [["รหัสนักเรียน", "ภาคเรียน", "ปีการศึกษา", "ระดับชั้น", "ห้อง", "school_id"]]
        + [["A2", 1, 2568, "ป.5", "1", "S1"]],  # its own order and words
        "ป.5-2": [["เลขที่", "ปีการศึกษา", "ภาคเรียน", "ชั้น", "ห้อง", "รหัสสถานศึกษา"]]
        + [["1", 2568, 1, "ป.5", "2", "S1"]],  # no student code
    }
    for title, rows in rooms.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.create_sheet("Sheet1")  # empty
    book.save(base_directory / "enrollments.xlsx")

    report = ingest_directory(base_directory, engine, ID_KEY, tmp_path / "rejects")

    stored = read_table(engine, "enrollments").sort_values("student_id")
    assert stored[["student_id", "grade_level", "classroom"]].values.tolist() == [
        ["A1", "P6", "1"],
        ["A2", "P5", "1"],
    ]
    enrolments = next(s for s in report.sources if s.source == "enrollments")
    assert (enrolments.rows_read, enrolments.rows_loaded) == (3, 2)
    assert enrolments.rejects[["line", "column"]].values.tolist() == [["ป.5-2:2", "student_id"]]
    # Uploaded under any name, the workbook is known by its classrooms' headers.
    renamed = tmp_path / "ห้องเรียนปี 2568.xlsx"
    renamed.write_bytes((base_directory / "enrollments.xlsx").read_bytes())
    assert getattr(detect_source(renamed), "name", None) == "enrollments"


def test_a_register_numbering_its_days_under_the_month_of_its_title_loads_each_day(
    base_directory: Path, engine: sa.Engine, tmp_path: Path
) -> None:
    """Registers often number the days 1-31 and name the month once, in the sheet's name
    or the title above: those were not read as days at all."""
    book = openpyxl.Workbook()
    november = book.active
    november.title = "พ.ย. 67"
    november.append(["แบบบันทึกเวลาเรียน ชั้น ป.6/1"])
    november.append(["เลขที่", "รหัสนักเรียน", "ชื่อ - สกุล", 28, 29, 2, 3])  # into December
    november.append([1, "A1", "สมชาย ใจดี", "/", "ข", "/", "/"])
    december = book.create_sheet("ป.6-1 ธันวา")
    december.append(["แบบบันทึกเวลาเรียน เดือนธันวาคม พ.ศ. ๒๕๖๗"])
    december.append(["เลขที่", "รหัสนักเรียน", "ชื่อ - สกุล", "๙", "๑๐", "๑๑"])
    december.append([1, "A1", "สมชาย ใจดี", "ล", "/", ""])
    book.save(base_directory / "attendance.xlsx")

    report = ingest_directory(base_directory, engine, ID_KEY, tmp_path / "rejects")

    assert sum(s.rows_rejected for s in report.sources) == 0
    stored = read_table(engine, "attendance").sort_values("date")
    assert stored.assign(date=stored["date"].dt.strftime("%Y-%m-%d"))[
        ["date", "status"]
    ].values.tolist() == [
        ["2024-11-28", "present"],
        ["2024-11-29", "absent"],
        ["2024-12-02", "present"],
        ["2024-12-03", "present"],
        ["2024-12-09", "personal_leave"],
        ["2024-12-10", "present"],
    ]
