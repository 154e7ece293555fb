"""The upload page: a school's data officer brings in the files the school keeps, sees
every rejected row and blanked value before confirming, and loads only their school."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from core.secrets import secret
from schooldata.db import make_engine, read_table
from schooldata.national_id import hash_national_id
from schooldata.tables import audit_log, loads, missing_cases
from serving import uploads
from serving.access import StudentKey, visible_students
from serving.accounts import User, create_user, set_password, unassigned_classrooms
from serving.app import create_app
from tests.conftest import scratch_settings, thai_id
from tests.serving.conftest import Api, serving, shoot, sign_in

PASSWORD = "data-officer-password-1"


def _workbook(path: Path, rows: list[list[object]], title: str | None = None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if title:
        sheet.append([title])
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _open_document(path: Path, rows: list[list[object]]) -> Path:
    """A spreadsheet saved by LibreOffice Calc (OpenDocument, .ods)."""
    pd.DataFrame(rows[1:], columns=rows[0]).to_excel(path, engine="odf", index=False)
    return path


@pytest.fixture(scope="module")
def school_server(api: Api, synthetic_engine: sa.Engine, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A server of its own (uploads change the data), with a data officer of one school."""
    folder = tmp_path_factory.mktemp("upload")
    copy = folder / "ews.db"
    with (
        sqlite3.connect(str(synthetic_engine.url.database)) as source,
        sqlite3.connect(copy) as target,
    ):
        source.backup(target)
    settings = scratch_settings(f"sqlite:///{copy}", folder, upload_dir=folder / "uploads")
    engine = make_engine(settings.database_url)
    officer, _ = create_user(
        engine, "data_officer", "เจ้าหน้าที่ข้อมูล", school_id=api.school, username="officer"
    )
    set_password(engine, officer.user_id, PASSWORD, "tests", must_change=False)
    with serving(create_app(settings, scorer=api.scorer)) as url:
        yield url, engine, settings, officer


def _files(folder: Path, school: str, other_school: str, far_student: str) -> list[Path]:
    """Students, a DMC enrolment (no advisor) and a monthly register, as a school has them."""
    good = thai_id("110170020999")
    wrong_check_digit = good[:-1] + str((int(good[-1]) + 1) % 10)
    students = _workbook(
        folder / "ทะเบียนนักเรียน.xlsx",
        [
            [
                "รหัสนักเรียน",
                "รหัสสถานศึกษา",
                "ชื่อ",
                "นามสกุล",
                "เลขประจำตัวประชาชน",
                "เพศ",
                "วันเกิด",
                "สัญชาติ",
                "ชื่อเล่น",  # no column of the contract: named on the page, not read
                "คำนำหน้าชื่อ",  # the sex again: read where เพศ is blank
            ],
            ["UP0001", school, "สมใจ", "ดีมาก", good, "ด.ญ.", "10/11/55", "ไทย", "ใจ", "เด็กหญิง"],
            [
                "UP0002",
                school,
                "Min",
                "Aung",
                "G650099990001",
                "ด.ช.",
                "3 มิ.ย. 2556",
                "เมียนมา",
                None,
                "เด็กหญิง",  # says otherwise: named on the page, เพศ read
            ],
            [
                "UP0003",
                school,
                "ทดสอบ",
                "ผิดเลข",
                wrong_check_digit,
                "ญ",
                dt.date(2012, 5, 1),
                "ไทย",
            ],
            ["UP0004", other_school, "อื่น", "โรงเรียนอื่น", "", "ช", "", "ไทย"],
            ["04510", school, "เลข", "ศูนย์นำ", "", "ช", "", "ไทย"],  # a code kept as text
        ],
        title="ข้อมูลนักเรียน ปีการศึกษา 2567",
    )
    enrolment = _workbook(
        folder / "dmc.xlsx",
        [
            ["รหัสนักเรียน", "ปีการศึกษา", "ภาคเรียน", "รหัสสถานศึกษา", "ชั้น", "ห้อง"],
            ["UP0001", 2567, 2, school, "ม.1", "ม.1/3"],
            ["UP0002", 2567, 2, school, "ม.1", "ม.1/3"],
            ["UP0003", 2567, 2, school, "ม.2", "ม.2/1"],
            ["UP0004", 2567, 2, other_school, "ม.1", "1"],
            ["04510", 2567, 2, school, "ม.1", "ม.1/3"],
        ],
    )
    days = ["4/11/2567", "5/11/2567", "6/11/2567", "7/11/2567"]
    register = _workbook(
        folder / "เวลาเรียน พ.ย.xlsx",
        [
            # The 7th given twice: read as any column given twice, named where it differs.
            ["ลำดับ", "รหัสนักเรียน", "ชื่อ", *days, days[-1]],
            [1, "UP0001", "สมใจ", "/", "/", "ข", "/", "ข"],
            [2, "UP0002", "Min", "/", None, "ล", "x"],  # a blank day, a mark nobody uses
            [3, far_student, "อื่น", "/", "/", "/", "/"],  # another school's student
            [4, 4510, "เลข", "/", "/", "/", "ข", "ข"],  # the sheet made the code 04510 a number
        ],
        title="แบบบันทึกเวลาเรียน ม.1/3 เดือนพฤศจิกายน 2567",
    )
    return [students, enrolment, register]


def test_a_data_officer_uploads_checks_and_loads_their_schools_files(
    page: Any, api: Api, school_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    url, engine, _, officer = school_server
    files = _files(tmp_path, api.school, api.other_school, api.far_student)

    sign_in(page, url, "officer", PASSWORD)
    page.wait_for_url("**/upload")
    page.set_input_files("input[name=files]", [str(f) for f in files])
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("table.upload-summary")

    summary = {
        row.get_attribute("data-source"): row
        for row in page.locator("table.upload-summary tbody tr").all()
    }
    assert set(summary) == {"students", "enrollments", "attendance"}
    assert summary["students"].locator("td.to-load").inner_text() == "4"
    assert summary["students"].locator("td.rejected").inner_text() == "1"
    assert summary["students"].locator("td.blanked").inner_text() == "1"
    assert summary["attendance"].locator("td.to-load").inner_text() == "10"
    problems = page.locator("table.problems tbody tr")
    texts = [row.inner_text() for row in problems.all()]
    # The page is in Thai, so are its reasons (the English ones are the rejects file's).
    assert any("เป็นข้อมูลของโรงเรียนอื่น" in t for t in texts)
    assert any("เลขหลักสุดท้ายไม่ถูกต้อง" in t for t in texts)
    # Another school's code: no student of this school has it (a school's file names its
    # own students only), so none of the far student's days is loaded here or there.
    assert sum("ไม่พบนักเรียนคนนี้ของโรงเรียน" in t for t in texts) == 4
    # 4510: the school's 04510, its zero put back, its four days kept.
    assert sum("เติมเลข 0 นำหน้า" in t and "แก้ค่านี้ เก็บแถวไว้" in t for t in texts) == 4
    # A column nobody reads is named, so that no value is lost unseen.
    assert page.locator("div.unread li").all_inner_texts() == [
        "ทะเบียนนักเรียน.xlsx: คำนำหน้าชื่อ (คอลัมน์เพศซ้ำ แถวที่ค่าต่างจากคอลัมน์แรก ใช้ค่าของคอลัมน์แรก), ชื่อเล่น",
        "เวลาเรียน พ.ย.xlsx: 7 พ.ย. 2567 (วันนี้ซ้ำสองคอลัมน์ แถวที่ค่าต่างกัน ใช้ค่าของคอลัมน์แรก)",
    ]
    shoot(page, "upload")
    assert read_table(engine, "students", student_ids=["UP0001"]).empty  # nothing yet
    far_before = read_table(engine, "attendance", student_ids=[api.far_student])

    _confirms(page)
    shoot(page, "upload-loaded")

    students = read_table(engine, "students", student_ids=["UP0001", "UP0002", "UP0003", "UP0004"])
    assert sorted(students["student_id"]) == ["UP0001", "UP0002", "UP0003"]
    zeros = read_table(engine, "attendance", student_ids=["04510", "4510"])
    assert (zeros["student_id"].unique().tolist(), len(zeros)) == (["04510"], 4)
    assert students.set_index("student_id")["national_id_hash"].notna().to_dict() == {
        "UP0001": True,
        "UP0002": True,  # the G code
        "UP0003": False,  # the wrong check digit: blanked, the child kept
    }
    enrolments = read_table(engine, "enrollments", student_ids=["UP0001", "UP0002", "UP0003"])
    assert sorted(enrolments["advisor_id"]) == ["class:M1/3", "class:M1/3", "class:M2/1"]
    # The admin page lists the classrooms nobody advises yet, and gives one to its advisor,
    # who then sees that classroom only.
    waiting = {(c["school_id"], c["group"]) for c in unassigned_classrooms(engine)}
    assert {(api.school, "class:M1/3"), (api.school, "class:M2/1")} <= waiting
    teacher, _ = create_user(
        engine, "advisor", "ครูประจำชั้น ม.1/3", staff_id="class:M1/3", school_id=api.school
    )
    mine = [StudentKey(api.school, code) for code in ("UP0001", "UP0002", "UP0003")]
    assert visible_students(engine, teacher, mine) == mine[:2]
    still = {(c["school_id"], c["group"]) for c in unassigned_classrooms(engine)}
    assert (api.school, "class:M1/3") not in still
    assert (api.school, "class:M2/1") in still
    admin, _ = create_user(engine, "admin", "ผู้ดูแล", username="upload-admin")
    set_password(engine, admin.user_id, PASSWORD, "tests", must_change=False)
    page.context.clear_cookies()
    sign_in(page, url, "upload-admin", PASSWORD)
    page.wait_for_url("**/admin")
    page.click("details.classrooms summary")
    assert "class:M2/1" in page.locator("details.classrooms").inner_text()
    shoot(page, "admin-classrooms")
    page.click("form.all-classrooms button")  # every classroom's advisor in one step
    page.wait_for_selector("table.issued")
    issued = page.locator("table.issued tbody tr code").all_inner_texts()
    assert issued[0] == f"{api.school.lower()}-m2-1"  # the school and the room it advises
    assert "class:M2/1" not in {(c["group"]) for c in unassigned_classrooms(engine)}
    shoot(page, "admin-issued")
    attendance = read_table(engine, "attendance", student_ids=["UP0001", "UP0002"])
    by_student = attendance.sort_values("date").groupby("student_id")["status"].apply(list)
    assert by_student["UP0001"] == ["present", "present", "absent", "present"]
    assert by_student["UP0002"] == ["present", "personal_leave"]  # blank: not recorded
    far_after = read_table(engine, "attendance", student_ids=[api.far_student])
    assert far_after.equals(far_before)  # another school's student is untouched
    with engine.connect() as connection:
        actions = connection.execute(
            sa.select(audit_log.c.action, audit_log.c.detail, audit_log.c.endpoint).where(
                audit_log.c.user_id == officer.user_id, audit_log.c.action.like("upload%")
            )
        ).all()
    assert [(a, route) for a, _, route in actions] == [
        ("upload_checked", "POST /upload"),
        ("upload_loaded", "POST /upload/{token}/confirm"),  # the route, never the token
    ]
    assert all("UP000" not in (d or "") for _, d, _ in actions)  # counts, never a student


def test_a_committee_of_another_school_cannot_load_someone_elses_upload(
    api: Api, school_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, engine, settings, officer = school_server
    staged = uploads.stage(
        settings,
        engine,
        officer,
        [
            (f.name, f.read_bytes())
            for f in _files(tmp_path, api.school, api.other_school, api.far_student)
        ],
    )
    stranger = User(999, "x", "committee", None, api.other_school)
    with pytest.raises(uploads.UploadError, match="no such upload"):
        uploads.confirm(settings, engine, stranger, staged.token)
    advisor = User(998, "x", "advisor", "T1", api.school)
    with pytest.raises(uploads.UploadError, match="data officer"):
        uploads.stage(settings, engine, advisor, [("a.csv", b"student_id\n")])
    uploads.cancel(settings, officer, staged.token)
    assert not (settings.upload_dir / staged.token).exists()


def test_an_upload_confirmed_twice_at_once_is_loaded_once(
    api: Api, school_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A double click on Confirm sent two confirms of one upload, and both loaded it: two
    loads of the school, and the undo of the latest put back the first one's records, so
    the upload stayed after its undo. One confirm loads it; the other is told. Ten
    uploads: the two meet at a different moment each time (one of them, in CI, between
    the check of the upload's owner and of its age)."""
    _, engine, settings, officer = school_server
    register = _workbook(
        tmp_path / "เวลาเรียน.xlsx", [["รหัสนักเรียน", "2/12/2567"], [api.own_student, "/"]]
    )
    for _ in range(10):
        staged = uploads.stage(settings, engine, officer, [(register.name, register.read_bytes())])
        before = _loads_of(engine, api.school)
        start = threading.Barrier(2)

        def confirm(token: str = staged.token, start: threading.Barrier = start) -> str:
            start.wait()
            try:
                uploads.confirm(settings, engine, officer, token)
            except uploads.UploadError as error:
                return str(error)
            return "loaded"

        with ThreadPoolExecutor(2) as pool:
            answers = sorted(pool.map(lambda _: confirm(), range(2)))

        assert answers == ["loaded", "no such upload: it was loaded, cancelled or has expired"]
        assert _loads_of(engine, api.school) == before + 1
        assert not any(settings.upload_dir.glob(f"{staged.token}*"))  # nothing left on disk


def _loads_of(engine: sa.Engine, school: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).where(loads.c.school_id == school)
            ).scalar_one()
        )


def test_each_classrooms_register_uploads_in_one_go(
    api: Api, school_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Advisors keep a register each: a data officer uploads them together (before: "two
    files hold attendance; upload one", thirty uploads for thirty classrooms). One advisor
    keeps theirs in LibreOffice Calc (.ods, the government's open format): before, it
    was "not a .csv, .xlsx or .xls file". The next week's was saved from Excel as "Unicode
    Text" (UTF-16, tab-separated, .txt): before, not a file the service read."""
    _, engine, settings, officer = school_server
    days = ["2/12/2567", "3/12/2567", "4/12/2567"]
    week = ["9/12/2567", "10/12/2567", "11/12/2567"]
    text = tmp_path / "เวลาเรียน ม.1-1 สัปดาห์ที่ 2.txt"
    rows = [["รหัสนักเรียน", *week], [api.own_student, "/", "ข", "/"]]
    text.write_bytes("".join("\t".join(r) + "\r\n" for r in rows).encode("utf-16"))
    registers = [
        _workbook(
            tmp_path / "เวลาเรียน ม.1-1.xlsx",
            [["รหัสนักเรียน", *days], [api.own_student, "/", "ข", "/"]],
        ),
        _open_document(
            tmp_path / "เวลาเรียน ม.1-2.ods",
            [["รหัสนักเรียน", *days], [api.colleague_student, "/", "/", "ล"]],
        ),
        text,
    ]
    staged = uploads.stage(settings, engine, officer, [(f.name, f.read_bytes()) for f in registers])
    loaded = [s.rows_loaded for s in staged.report.sources if s.source == "attendance"]
    assert loaded == [3, 3, 3]
    assert {s.dates for s in staged.report.sources} == {
        (dt.date(2024, 12, 2), dt.date(2024, 12, 4)),
        (dt.date(2024, 12, 9), dt.date(2024, 12, 11)),
    }
    assert [f.name for f in staged.files] == [f.name for f in registers]

    uploads.confirm(settings, engine, officer, staged.token)

    theirs = read_table(engine, "attendance", student_ids=[api.own_student, api.colleague_student])
    theirs = theirs[theirs["school_id"] == api.school]  # codes are the school's own
    for first, last, expected in (
        (
            "2024-12-02",
            "2024-12-04",
            {
                api.own_student: ["present", "absent", "present"],
                api.colleague_student: ["present", "present", "personal_leave"],
            },
        ),
        ("2024-12-09", "2024-12-11", {api.own_student: ["present", "absent", "present"]}),
    ):
        days = theirs[theirs["date"].between(pd.Timestamp(first), pd.Timestamp(last))]
        days = days[days["student_id"].isin(list(expected))]
        by_student = days.sort_values("date").groupby("student_id")["status"].apply(list)
        assert by_student.to_dict() == expected


def test_a_class_list_uploads_as_the_students_and_their_enrolments(
    page: Any, api: Api, school_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The school's own class list, a sheet per room, the class and term in each title
    and no school column: before, the page could not tell what it was."""
    url, engine, _, _ = school_server
    book = openpyxl.Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for room, rows in (
        ("ม.4-1", [[1, "CL0001", "นาย", "ก้อง", "ภพ"], [2, "CL0002", "นางสาว", "ฝน", "ดี"]]),
        ("ม.4-2", [[1, "CL0003", "นาย", "ต้น", "กล้า"]]),
    ):
        sheet = book.create_sheet(room)
        sheet.append([f"รายชื่อนักเรียนชั้น {room.replace('-', '/')} ภาคเรียนที่ 2 ปีการศึกษา 2567"])
        sheet.append(["เลขที่", "เลขประจำตัว", "คำนำหน้าชื่อ", "ชื่อ", "นามสกุล"])
        for row in rows:
            sheet.append(row)
    book.save(tmp_path / "รายชื่อนักเรียน ม.4.xlsx")

    sign_in(page, url, "officer", PASSWORD)
    page.wait_for_url("**/upload")
    # The file picker offers every kind of file the service reads.
    offered = page.get_attribute("input[name=files]", "accept").split(",")
    assert sorted(offered) == sorted(uploads.ACCEPTED)
    assert ".ods" in offered  # LibreOffice Calc's own format
    page.set_input_files("input[name=files]", str(tmp_path / "รายชื่อนักเรียน ม.4.xlsx"))
    page.click("form.upload button[type=submit]")
    page.wait_for_selector("table.upload-summary")
    rows = page.locator("table.upload-summary tbody tr")
    shown = [
        (
            r.get_attribute("data-source"),
            r.locator("td").first.inner_text(),
            r.locator("td.to-load").inner_text(),
        )
        for r in rows.all()
    ]
    assert shown == [
        ("students", "รายชื่อนักเรียน ม.4.xlsx", "3"),
        ("enrollments", "รายชื่อนักเรียน ม.4.xlsx", "3"),
    ]
    # What the load covers, so that last year's list sent by mistake is seen before it
    # loads (before: only counts of rows).
    covers = page.locator("table.upload-summary tbody tr td.covers").all_inner_texts()
    assert covers == ["", "ภาคเรียนที่ 2/2567"]
    shoot(page, "upload-class-list")
    _confirms(page)

    codes = ["CL0001", "CL0002", "CL0003"]
    enrolled = read_table(engine, "enrollments", student_ids=codes).sort_values("student_id")
    assert enrolled[["school_id", "academic_year", "term", "grade_level", "classroom"]].astype(
        str
    ).values.tolist() == [[api.school, "2567", "2", "M4", room] for room in ("1", "1", "2")]
    students = read_table(engine, "students", student_ids=codes).sort_values("student_id")
    assert students["sex"].tolist() == ["M", "F", "M"]


def test_the_upload_page_is_refused_to_other_roles(page: Any, api: Api) -> None:
    from tests.serving.conftest import PASSWORDS

    sign_in(page, api.url, api.usernames["advisor"], PASSWORDS["advisor"])
    page.goto(f"{api.url}/upload")
    assert page.locator("form.upload").count() == 0


@pytest.fixture(autouse=True)
def _fresh_limits(api: Api) -> None:
    api.forget_failed_attempts()


def test_an_upload_nobody_confirmed_is_removed_after_its_hour_without_another_upload(
    tmp_path: Path,
) -> None:
    """A data officer who leaves the page after checking their files leaves the school's
    records (names, IDs) on the server: they went only when someone uploaded again."""
    settings = scratch_settings(
        f"sqlite:///{tmp_path / 'ews.db'}", tmp_path, upload_dir=tmp_path / "uploads"
    )
    left, waiting = settings.upload_dir / "left-yesterday", settings.upload_dir / "just-now"
    for folder in (left, waiting):
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "students.xlsx").write_bytes(b"a school's records")
    hours_ago = time.time() - 2 * 3600
    os.utime(left, (hours_ago, hours_ago))

    with serving(create_app(settings)):  # a server starts (or sweeps, every few minutes)
        for _ in range(100):
            if not left.exists():
                break
            time.sleep(0.05)

    assert not left.exists()
    assert (waiting / "data" / "students.xlsx").exists()  # its hour is not over


def _officer_checks(page: Any, url: str, file: Path) -> None:
    """The school's data officer signs in and checks one file (the preview)."""
    sign_in(page, url, "officer", PASSWORD)
    page.wait_for_url("**/upload")
    page.set_input_files("input[name=files]", str(file))
    page.click("form.upload button[type=submit]")


def _confirms(page: Any) -> None:
    page.click("form[action$='/confirm'] button")
    page.wait_for_selector("p.loaded")


def _officer_loads(page: Any, url: str, file: Path) -> None:
    """The school's data officer signs in, checks one file and confirms it."""
    _officer_checks(page, url, file)
    _confirms(page)


def _not_linked_before_and_after_confirming(page: Any, url: str, file: Path) -> list[str]:
    """The officer loads one file: the text of the one "not linked" problem the page
    shows, in the preview and again after confirming."""
    _officer_checks(page, url, file)
    texts = []
    for confirmed in (False, True):
        row = page.locator("table.problems tr.not-linked")
        assert row.count() == 1, f"confirmed: {confirmed}"
        texts.append(row.inner_text())
        if not confirmed:
            _confirms(page)
    return texts


def test_a_wrong_upload_is_undone_on_the_page_and_the_schools_records_are_as_before(
    page: Any, api: Api, school_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """An exits file naming a child who has not left, sent by mistake: before, nothing
    could take it back (a second upload cannot say a row should not be there)."""
    url, engine, _, officer = school_server
    exits = _workbook(
        tmp_path / "นักเรียนที่ออก.xlsx",
        [["รหัสนักเรียน", "วันที่ออก", "ประเภทการออก"], [api.own_student, "1/12/2567", "ออกกลางคัน"]],
    )
    before = read_table(engine, "exits")

    _officer_loads(page, url, exits)

    left = read_table(engine, "exits")
    assert len(left) == len(before) + 1
    card = page.locator("div.last-upload")
    assert "ข้อมูลที่ส่งล่าสุด" in card.inner_text()
    assert "การออกจากสถานศึกษา 1 แถว" in card.inner_text()  # what it wrote, in the school's words
    shoot(page, "upload-undo")
    page.click("div.last-upload form button")
    page.wait_for_selector("p.undone")
    shoot(page, "upload-undone")

    after = read_table(engine, "exits")
    pd.testing.assert_frame_equal(
        after.sort_values(list(after.columns)).reset_index(drop=True),
        before.sort_values(list(before.columns)).reset_index(drop=True),
    )
    assert page.locator("div.last-upload").count() == 0  # nothing more to undo
    with engine.connect() as connection:
        actions = connection.execute(
            sa.select(audit_log.c.action, audit_log.c.endpoint, audit_log.c.detail).where(
                audit_log.c.user_id == officer.user_id, audit_log.c.action == "upload_undone"
            )
        ).all()
    assert [(a, route) for a, route, _ in actions] == [
        ("upload_undone", "POST /upload/undo/{load_id}")
    ]
    assert api.own_student not in actions[0][2]  # counts, never a student


def test_one_rooms_list_sent_as_the_new_terms_whole_school_is_seen_and_undone(
    page: Any, api: Api, school_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The new term's first class list, of one room: every other child of the school
    became a child to find, and nothing said so (before: only ews ingest printed a count)."""
    url, engine, _, _ = school_server
    book = tmp_path / "รายชื่อนักเรียน ม.1-1.xlsx"
    _workbook(
        book,
        [["เลขที่", "เลขประจำตัว"], [1, api.own_student], [2, api.colleague_student]],
        title="รายชื่อนักเรียนชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568",
    )

    _officer_loads(page, url, book)

    opened = page.locator("div.missing-opened").inner_text()
    assert "ในรายการเด็กที่ต้องติดตาม" in opened
    warning = page.locator("p.surge").inner_text()
    assert f"{api.school}: นักเรียน" in warning
    assert "ย้อนการส่งครั้งนี้" in warning  # what to do, in Thai
    shoot(page, "upload-surge")
    page.click("div.last-upload form button")
    page.wait_for_selector("p.undone")

    with engine.connect() as connection:
        still_open = connection.execute(
            sa.select(sa.func.count()).where(
                missing_cases.c.school_id == api.school,
                missing_cases.c.expected_year == 2568,
                missing_cases.c.closed_on.is_(None),
            )
        ).scalar_one()
    assert still_open == 0  # the children to find were the upload's, and went with it
    assert read_table(engine, "enrollments").query("academic_year == 2568").empty


def test_one_id_given_to_two_children_is_named_on_the_page_and_links_neither(
    page: Any, api: Api, school_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A students list whose ID column was filled down: two of the school's children
    carry one ID. The page names both codes, in Thai, as kept and not linked, before
    and after confirming; before, the two were one child."""
    url, engine, _, _ = school_server
    one = thai_id("310170020777")
    book = _workbook(
        tmp_path / "รายชื่อนักเรียน.xlsx",
        [["รหัสนักเรียน", "เลขประจำตัวประชาชน"], [api.own_student, one], [api.colleague_student, one]],
    )

    # Seen before confirming, and again after.
    for text in _not_linked_before_and_after_confirming(page, url, book):
        assert api.own_student in text
        assert api.colleague_student in text
        assert "ไม่เชื่อมโยงด้วยเลขนี้" in text
        assert "มีเลขประจำตัวประชาชนเดียวกัน" in text
    students = read_table(engine, "students").set_index(["school_id", "student_id"])
    two = students.loc[[(api.school, api.own_student), (api.school, api.colleague_student)]]
    assert two["person_id"].nunique() == 2
    assert two["person_id"].str.startswith("s:").all()
    shoot(page, "upload-shared-id")
    page.click("div.last-upload form button")
    page.wait_for_selector("p.undone")


def test_one_id_given_to_children_of_two_schools_at_school_on_the_same_days_links_neither(
    page: Any, api: Api, school_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The school's students list gives one of its children the ID another school's
    student carries, and both were at school on the same days: the page says so, in
    Thai, before and after confirming, naming the school's own child only, and the two
    stay two children (before: one, on the other school's list alone)."""
    url, engine, settings, _ = school_server
    at_school = sa.text(
        "SELECT date FROM attendance WHERE school_id = :school AND student_id = :student "
        "AND status IN ('present', 'late')"
    )
    with engine.connect() as connection:
        days = set(
            connection.execute(at_school, {"school": api.school, "student": api.own_student})
            .scalars()
            .all()
        )
        theirs = pd.DataFrame(
            connection.execute(
                sa.text(
                    "SELECT a.student_id, COUNT(*) AS days FROM attendance a JOIN enrollments e "
                    "ON e.school_id = a.school_id AND e.student_id = a.student_id "
                    "WHERE a.school_id = :school AND a.status IN ('present', 'late') "
                    "GROUP BY a.student_id"
                ),
                {"school": api.other_school},
            ).all()
        )
        other = str(theirs.sort_values(["days", "student_id"]).iloc[-1]["student_id"])
        together = days & set(
            connection.execute(at_school, {"school": api.other_school, "student": other})
            .scalars()
            .all()
        )
    assert len(together) >= 3
    one = thai_id("310170020555")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE students SET national_id_hash = :hash WHERE school_id = :school AND "
                "student_id = :student"
            ),
            {
                "hash": hash_national_id(one, secret(settings, "id_hash_key")),
                "school": api.other_school,
                "student": other,
            },
        )
    book = _workbook(
        tmp_path / "รายชื่อนักเรียน.xlsx", [["รหัสนักเรียน", "เลขประจำตัวประชาชน"], [api.own_student, one]]
    )

    for text in _not_linked_before_and_after_confirming(page, url, book):
        assert api.own_student in text
        assert other not in text.replace(api.own_student, "")
        assert api.other_school not in text
        assert "โรงเรียนอื่น" in text
        assert "มาเรียนในวันเดียวกัน" in text
    students = read_table(engine, "students").set_index(["school_id", "student_id"])
    two = students.loc[[(api.school, api.own_student), (api.other_school, other)]]
    assert two["person_id"].nunique() == 2
    assert two["person_id"].str.startswith("s:").all()
    shoot(page, "upload-id-at-two-schools")
    page.click("div.last-upload form button")
    page.wait_for_selector("p.undone")
    # Undone: the other school's student is the ID's only child again, linked by it.
    students = read_table(engine, "students").set_index(["school_id", "student_id"])
    assert students.loc[(api.other_school, other), "person_id"].startswith("n:")
