"""The missing children's worklist as its users work it, on a real server: a school
follows its cases, the area office sees by name only the cases referred outside, notes
stay with those who follow the case, files of findings and the ministry's report."""

from __future__ import annotations

import html
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from schooldata.tables import audit_log, missing_case_notes, missing_cases
from serving.accounts import create_user, set_password
from tests.serving.conftest import PASSWORDS, Api
from tests.serving.test_thai_pages import _names, foreign_words

PASSWORD = "missing-page-password"


def _client(api: Api, username: str, password: str) -> httpx.Client:
    api.forget_failed_attempts()  # other tests fail sign-ins from this address
    client = httpx.Client(base_url=api.url, timeout=60, cookies={"lang": "th"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert csrf is not None
    reply = client.post(
        "/login", data={"csrf": csrf[1], "username": username, "password": password}
    )
    assert reply.status_code == 303
    return client


def _person(api: Api, role: str, username: str, **scope: object) -> httpx.Client:
    user, _ = create_user(api.engine, role, f"ผู้ใช้ {username}", username=username, **scope)
    set_password(api.engine, user.user_id, PASSWORD, "tests", must_change=False)
    return _client(api, username, PASSWORD)


@pytest.fixture(scope="module")
def people(api: Api) -> dict[str, httpx.Client]:
    others = sorted(set(_cases(api)["school_id"]) - {api.school}) or [api.other_school]
    return {
        "committee": _client(api, api.usernames["committee"], PASSWORDS["committee"]),
        "analyst": _client(api, api.usernames["analyst"], PASSWORDS["analyst"]),
        "colleague": _person(api, "committee", "missing-colleague", school_id=api.school),
        "area": _person(api, "area", "missing-area", schools=[api.school, api.other_school]),
        "far_area": _person(api, "area", "missing-far-area", schools=others[:1]),
    }


def _cases(api: Api) -> pd.DataFrame:
    with api.engine.connect() as connection:
        rows = connection.execute(sa.select(missing_cases)).mappings().all()
    return pd.DataFrame(rows)


def _csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found[1]


def _open_case(api: Api) -> int:
    cases = _cases(api)
    mine = cases[(cases["school_id"] == api.school) & (cases["status"] == "not_followed")]
    assert len(mine), "the synthetic school has children to find"
    # The school year's (the page's open view): the newest term a child was missing from.
    newest = mine.sort_values(["expected_year", "expected_term", "case_id"]).iloc[-1]
    return int(newest["case_id"])


def test_the_synthetic_schools_have_children_to_find_and_some_were_found_by_the_records(
    api: Api,
) -> None:
    statuses = set(_cases(api)["status"])
    assert "not_followed" in statuses
    assert statuses & {"returned", "enrolled_elsewhere"}


def test_the_open_view_holds_the_school_years_cases_and_counts_the_older_ones(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    cases = _cases(api)
    mine = cases[(cases["school_id"] == api.school) & (cases["status"] == "not_followed")]
    ordinal = mine["expected_year"] * 2 + mine["expected_term"]
    with api.engine.connect() as connection:
        newest = connection.execute(
            sa.text("select max(academic_year * 2 + term) from enrollments")
        ).scalar()
    recent, older = mine[ordinal >= newest - 1], mine[ordinal < newest - 1]

    page = people["committee"].get("/missing").text
    shown = {int(c) for c in re.findall(r'data-case="(\d+)"', page)}
    assert shown >= set(recent["case_id"])
    assert not shown & set(older["case_id"])
    if len(older):
        assert f"อีก {len(older)} รายการ" in page
    every = people["committee"].get("/missing?show=all").text
    assert {int(c) for c in re.findall(r'data-case="(\d+)"', every)} >= set(mine["case_id"])


def test_a_school_follows_a_case_to_a_referral_and_the_area_office_sees_it_by_name(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    committee = people["committee"]
    case_id = _open_case(api)
    assert f'data-case="{case_id}"' in committee.get("/missing").text
    # The area office sees counts, not this child, while the school follows the case.
    assert f'data-case="{case_id}"' not in people["area"].get("/missing").text

    csrf = _csrf(committee, f"/missing/{case_id}")
    reply = committee.post(
        f"/missing/{case_id}",
        data={"csrf": csrf, "status": "following", "note": "แม่บอกว่าย้ายไปอยู่กับยาย"},
    )
    assert reply.status_code == 303
    reply = committee.post(
        f"/missing/{case_id}",
        data={
            "csrf": csrf,
            "status": "found_referred",
            "reason_code": "1",
            "help_needed": ["money", "documents"],
            "agency": "พัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด",
        },
    )
    assert reply.status_code == 303

    stored = _cases(api).set_index("case_id").loc[case_id]
    assert stored["status"] == "found_referred"
    assert (stored["reason_code"], stored["help_needed"]) == (1, "money,documents")
    assert stored["owner_user_id"] is not None  # whoever set "following" follows it
    page = people["area"].get("/missing").text
    assert f'data-case="{case_id}"' in page
    assert f'data-case="{case_id}"' not in people["far_area"].get("/missing").text
    assert people["far_area"].get(f"/missing/{case_id}").status_code == 404
    assert 'data-case="' not in people["analyst"].get("/missing").text  # counts only
    with api.engine.connect() as connection:
        actions = set(
            connection.execute(
                sa.select(audit_log.c.action).where(
                    audit_log.c.endpoint == "POST /missing/{case_id}"
                )
            ).scalars()
        )
    assert "write" in actions


def test_a_note_is_read_only_by_its_author_and_whoever_follows_the_case(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    committee, colleague = people["committee"], people["colleague"]
    case_id = _open_case(api)
    secret = "พ่อแม่แยกทางกัน เด็กอยู่กับป้า"
    reply = committee.post(
        f"/missing/{case_id}",
        data={
            "csrf": _csrf(committee, f"/missing/{case_id}"),
            "status": "following",
            "note": secret,
        },
    )
    assert reply.status_code == 303

    assert secret in committee.get(f"/missing/{case_id}").text
    other = colleague.get(f"/missing/{case_id}")
    assert other.status_code == 200  # the case is the school's, the note the follower's
    assert secret not in other.text


def test_a_finding_sent_twice_at_once_is_written_once_and_its_form_sent_back_is_refused(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    """A double click on Save wrote the note twice. The form is acted on once: two
    sendings of it at once leave one note; the same form sent back with another note is
    told it was sent (409), and the first note stays the only one."""
    committee = people["committee"]
    case_id = _open_case(api)
    drawn = committee.get(f"/missing/{case_id}").text
    form = {
        name: re.search(rf'name="{name}" value="([^"]+)"', drawn)[1]  # type: ignore[index]
        for name in ("csrf", "once")
    }
    # The case stays as it is (other tests take a case nobody follows yet).
    form |= {"status": "not_followed", "note": "ไปบ้านแล้ว ไม่พบใคร เพื่อนบ้านว่าย้ายไปชลบุรี"}
    before = _notes_of(api, case_id)
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _: committee.post(f"/missing/{case_id}", data=form), (1, 2)))

    assert [r.status_code for r in replies] == [303, 303]
    assert _notes_of(api, case_id) == before + 1
    again = committee.post(f"/missing/{case_id}", data=form | {"note": "อีกเรื่องหนึ่ง"})
    assert again.status_code == 409
    assert "แบบฟอร์มนี้ส่งไปแล้ว" in again.text
    assert _notes_of(api, case_id) == before + 1
    assert 'name="once"' in committee.get(f"/missing/{case_id}").text  # a new form, a new key


def test_a_case_page_left_open_while_a_colleague_records_a_finding_does_not_undo_it(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    """Two members of the committee on one case: the page one left open put its findings
    back over the colleague's when it was sent (a child referred was 'not followed'
    again). Its note is added; its findings, older than the case's, are not."""
    committee, colleague = people["committee"], people["colleague"]
    case_id = _open_case(api)
    drawn = [committee.get(f"/missing/{case_id}").text for _ in (1, 2, 3)]
    forms = [
        {
            name: re.search(rf'name="{name}" value="([^"]+)"', page)[1]  # type: ignore[index]
            for name in ("csrf", "once", "version")
        }
        for page in drawn
    ]
    assert _record(colleague, case_id, status="found_referred", agency="พมจ. ชลบุรี") == 303
    before = _notes_of(api, case_id)

    noted = committee.post(
        f"/missing/{case_id}",
        data=forms[0] | {"status": "not_followed", "note": "โทรหาแม่ ไม่มีคนรับสาย"},
    )
    changed = committee.post(
        f"/missing/{case_id}",
        data=forms[1] | {"status": "following", "note": "ไปบ้านแล้ว ไม่พบใคร"},
    )

    colleague_id = re.search(r'<option value="(\d+)">ผู้ใช้ missing-colleague<', drawn[2])
    assert colleague_id is not None
    given_to = committee.post(
        f"/missing/{case_id}",
        data=forms[2] | {"status": "not_followed", "owner": colleague_id[1]},
    )

    assert noted.status_code == 303
    assert changed.status_code == 409
    assert given_to.status_code == 409  # not "saved" with the owner left as it was
    assert "รายการนี้มีการแก้ไขหลังจากเปิดแบบฟอร์ม" in changed.text
    assert '<option value="found_referred" selected>' in changed.text  # the case as it is
    stored = _cases(api).set_index("case_id").loc[case_id]
    assert (stored["status"], stored["agency"]) == ("found_referred", "พมจ. ชลบุรี")
    assert _notes_of(api, case_id) == before + 2
    assert _record(colleague, case_id, status="not_followed") == 303  # for the other tests


def _record(client: httpx.Client, case_id: int, **findings: str) -> int:
    """The status of recording findings on a case's page, as it is now."""
    page = f"/missing/{case_id}"
    return client.post(page, data={"csrf": _csrf(client, page), **findings}).status_code


def test_a_file_of_findings_sent_twice_adds_its_notes_once(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    """A teacher not sure the file went sends it again, or sends last week's sheet with
    its notes still in it: every note in it was added a second time. The same words in
    a sheet given out after the note are a new note ("no answer" two weeks running)."""
    committee = people["committee"]
    case_id = _open_case(api)
    note = "โทรหาแม่ ไม่มีคนรับสาย"

    def sheet_noted() -> bytes:
        sheet = _cases_file(committee, "csv")
        sheet.loc[sheet["เลขที่รายการ"] == str(case_id), "บันทึก"] = note
        return sheet.to_csv(index=False).encode()

    content = sheet_noted()
    before = _notes_of(api, case_id)

    first = _send(committee, "ผลการติดตาม.csv", content)
    again = _send(committee, "ผลการติดตาม.csv", content)
    with api.engine.begin() as connection:  # as if the note were written a week ago
        connection.execute(
            sa.update(missing_case_notes)
            .where(missing_case_notes.c.case_id == case_id)
            .values(written_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=7))
        )
    week_later = _send(committee, "ผลการติดตาม.csv", content)

    assert (first.status_code, again.status_code, week_later.status_code) == (303, 303, 303)
    assert first.headers["location"].endswith("applied=1")
    assert again.headers["location"].endswith("applied=0")
    assert week_later.headers["location"].endswith("applied=0")
    assert _notes_of(api, case_id) == before + 1
    anew = _send(committee, "ผลการติดตาม.csv", sheet_noted())
    assert anew.headers["location"].endswith("applied=1"), _problems(anew)
    assert _notes_of(api, case_id) == before + 2


def test_a_file_of_findings_made_before_a_colleagues_finding_does_not_undo_it(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    """A sheet downloaded on Monday and sent back on Friday put each of its rows' Monday
    findings back: a child a colleague had referred in between was 'not followed' again.
    A row left as it was adds its note; a row that changes the older findings is named."""
    committee, colleague = people["committee"], people["colleague"]
    case_id = _open_case(api)
    sheet = _cases_file(committee, "xlsx")
    assert sheet.columns[-1] == "รหัสฉบับ"
    agency = "บ้านพักเด็กและครอบครัว"
    assert _record(colleague, case_id, status="found_referred", agency=agency) == 303
    row = sheet["เลขที่รายการ"] == str(case_id)
    sheet.loc[row, "บันทึก"] = "ยายบอกว่าเด็กอยู่กับพ่อที่ระยอง"
    before = _notes_of(api, case_id)

    kept = _send(committee, "ผลการติดตาม.csv", sheet.to_csv(index=False).encode())

    assert kept.status_code == 303, _problems(kept)
    stored = _cases(api).set_index("case_id").loc[case_id]
    assert (stored["status"], stored["agency"]) == ("found_referred", "บ้านพักเด็กและครอบครัว")
    assert _notes_of(api, case_id) == before + 1

    sheet.loc[row, ["สถานะ", "บันทึก"]] = ["กำลังติดตาม", "โทรหาพ่อแล้ว จะพามาโรงเรียน"]
    refused = _send(committee, "ผลการติดตาม.csv", sheet.to_csv(index=False).encode())

    assert refused.status_code == 422
    assert "รายการนี้มีการแก้ไขหลังจากเปิดแบบฟอร์มหรือดาวน์โหลดไฟล์นี้ บันทึกถูกเพิ่มแล้ว" in (_problems(refused))
    assert _cases(api).set_index("case_id").loc[case_id, "status"] == "found_referred"
    assert _notes_of(api, case_id) == before + 2
    assert _record(colleague, case_id, status="not_followed") == 303  # for the other tests


def _notes_of(api: Api, case_id: int) -> int:
    with api.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).where(missing_case_notes.c.case_id == case_id)
            ).scalar_one()
        )


def test_a_case_form_with_a_missing_agency_says_so_in_thai_and_keeps_the_case(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    committee = people["committee"]
    case_id = _open_case(api)
    note = "ส่งต่อแล้ว รอหน่วยงานติดต่อกลับ"
    reply = committee.post(
        f"/missing/{case_id}",
        data={
            "csrf": _csrf(committee, f"/missing/{case_id}"),
            "status": "found_referred",
            "note": note,
        },
    )

    assert reply.status_code == 422
    assert "กรุณาระบุหน่วยงานที่ส่งต่อ" in reply.text
    assert _cases(api).set_index("case_id").loc[case_id, "status"] == "not_followed"
    # The form comes back as it was sent, to mend: the note typed was lost before.
    assert f">{note}</textarea>" in reply.text
    assert '<option value="found_referred" selected>' in reply.text


def test_a_file_of_findings_with_thai_headers_updates_its_cases_and_names_a_bad_row(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    committee = people["committee"]
    case_id = _open_case(api)
    rows = (
        "เลขที่รายการ,สถานะ,สาเหตุ,วันที่พบหรือกลับเข้าเรียน\n"
        f"{case_id},พบตัว เรียนอยู่ที่อื่น,2,2025-01-10\n"
        "999999,ไม่พบตัว ส่งต่อกระทรวงและภาคี,,\n"
    )
    reply = committee.post(
        "/missing/file",
        data={"csrf": _csrf(committee, "/missing")},
        files={"file": ("ผลการติดตาม.csv", rows.encode(), "text/csv")},
    )

    assert reply.status_code == 422
    assert "ไม่พบรายการนี้ในรายการที่คุณดูแล" in reply.text
    assert "บันทึกผลการติดตามแล้ว 1 รายการ" in reply.text
    stored = _cases(api).set_index("case_id").loc[case_id]
    assert (stored["status"], stored["reason_code"]) == ("found_enrolled", 2)


def _findings(committee: httpx.Client, rows: str, encoding: str = "utf-8") -> httpx.Response:
    """A findings file (CSV, as Excel saves it in the encoding) sent on the page."""
    return _send(committee, "ผลการติดตาม.csv", rows.encode(encoding))


def _send(committee: httpx.Client, name: str, content: bytes) -> httpx.Response:
    """A file of findings sent on the page."""
    return committee.post(
        "/missing/file",
        data={"csrf": _csrf(committee, "/missing")},
        files={"file": (name, content, "application/octet-stream")},
        follow_redirects=False,
    )


def test_a_file_of_findings_saved_by_thai_excel_reads_its_buddhist_era_dates_day_first(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    """Thai Excel saves CSV in Windows-874 and writes dates day first in the Buddhist Era:
    the file was refused as undecodable, and 10/01/2568 would have been read month first."""
    case_id = _open_case(api)
    rows = f"เลขที่รายการ,สถานะ,สาเหตุ,วันที่พบหรือกลับเข้าเรียน\n{case_id},พบตัว เรียนอยู่ที่อื่น,2,10/01/2568\n"

    reply = _findings(people["committee"], rows, "cp874")

    assert reply.status_code == 303, reply.text[-2000:]
    stored = _cases(api).set_index("case_id").loc[case_id]
    assert (stored["status"], str(stored["found_on"])[:10]) == ("found_enrolled", "2025-01-10")


def test_a_file_of_findings_saved_by_libreoffice_updates_its_case(
    api: Api, people: dict[str, httpx.Client], tmp_path: Path
) -> None:
    """LibreOffice Calc's own format (.ods): the page refused it as "not a .csv, .xlsx or
    .xls file"."""
    case_id = _open_case(api)
    sheet = tmp_path / "ผลการติดตาม.ods"
    pd.DataFrame({"เลขที่รายการ": [case_id], "สถานะ": ["กำลังติดตาม"], "สาเหตุ": [2]}).to_excel(
        sheet, engine="odf", index=False
    )

    reply = _send(people["committee"], sheet.name, sheet.read_bytes())

    assert reply.status_code == 303, reply.text[-2000:]
    stored = _cases(api).set_index("case_id").loc[case_id]
    assert (stored["status"], int(stored["reason_code"])) == ("following", 2)


def test_a_file_of_findings_gives_reasons_by_their_thai_words(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    """The page and the ministry's report write a reason in words (ครอบครัวมีความจำเป็น),
    the DMC in its own (ย้ายถิ่นที่อยู่): a file giving either lost the row's whole update
    to "invalid literal for int()"."""
    case_id = _open_case(api)
    header = "เลขที่รายการ,สถานะ,สาเหตุ\n"
    for words, code in (("ครอบครัวมีความจำเป็น", 1), ("ย้ายถิ่นที่อยู่", 2), ("99", 99)):
        reply = _findings(people["committee"], f"{header}{case_id},กำลังติดตาม,{words}\n")

        assert reply.status_code == 303, reply.text[-2000:]
        stored = _cases(api).set_index("case_id").loc[case_id]
        assert (stored["status"], int(stored["reason_code"])) == ("following", code)
    wrong = _findings(people["committee"], f"{header}{case_id},กำลังติดตาม,ไม่รู้\n")
    assert "สาเหตุ 'ไม่รู้' ไม่ถูกต้อง" in html.unescape(wrong.text)


def test_the_exported_report_counts_equal_the_cases_statuses(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    reply = people["area"].get("/missing/report.xlsx")
    assert reply.status_code == 200
    sheets = pd.read_excel(io.BytesIO(reply.content), sheet_name=None, engine="openpyxl")
    assert list(sheets) == [
        "สรุป 4 ตัวเลข",
        "การกลับเข้าเรียน",
        "สาเหตุและความช่วยเหลือ",
        "การคงอยู่หลังกลับเข้าเรียน",
    ]
    counts = sheets["สรุป 4 ตัวเลข"].set_index("รายการ")["จำนวน"]

    cases = _cases(api)
    theirs = cases[cases["school_id"].isin([api.school, api.other_school])]
    theirs = theirs[theirs["status"] != "explained"]
    found = {
        "found_returning",
        "found_referred",
        "found_enrolled",
        "returned",
        "enrolled_elsewhere",
    }
    assert counts["เด็กที่ต้องติดตาม"] == len(theirs)
    assert counts["ยังไม่ได้ติดตาม"] == (theirs["status"] == "not_followed").sum()
    assert counts["พบตัว"] == theirs["status"].isin(found).sum()
    assert counts["ไม่พบตัว"] == (theirs["status"] == "not_found").sum()
    back = sheets["การกลับเข้าเรียน"]
    assert back["จำนวนรายการ"].sum() == len(theirs)
    csv = people["area"].get("/missing/report.csv")
    assert csv.content.startswith("\ufeff".encode())
    assert "เด็กที่ต้องติดตาม" in csv.text
    assert people["colleague"].get("/missing/report.xlsx").status_code == 200
    advisor = _client(api, api.usernames["advisor"], PASSWORDS["advisor"])
    assert advisor.get("/missing/report.xlsx").status_code == 404


@pytest.mark.parametrize("role", ["committee", "area", "analyst"])
def test_the_worklist_pages_show_no_word_outside_the_translation_tables(
    api: Api, people: dict[str, httpx.Client], role: str
) -> None:
    names = _names(api) | {"missing-area", "missing-far-area", "missing-colleague"}
    page = people[role].get("/missing")
    assert page.status_code == 200
    assert foreign_words(page.text, names) == []
    if role == "committee":
        case = people[role].get(f"/missing/{_open_case(api)}")
        assert foreign_words(case.text, names) == []


def test_the_api_gives_each_role_its_cases_and_counts_and_checks_what_is_recorded(
    api: Api,
) -> None:
    committee = api.get("/api/v1/missing-cases", "committee")
    assert committee.status_code == 200
    cases = _cases(api)
    assert {c["case_id"] for c in committee.json()} == set(
        cases.loc[cases["school_id"] == api.school, "case_id"]
    )
    assert all("notes" not in c for c in committee.json())
    assert api.get("/api/v1/missing-cases", "analyst").json() == []  # counts only
    counts = api.get("/api/v1/missing-cases/counts", "analyst").json()
    assert sum(c["to_find"] for c in counts) == (cases["status"] != "explained").sum()
    assert api.get("/api/v1/missing-cases/counts", "admin").json() == []

    case_id = _open_case(api)
    bad = api.post(f"/api/v1/missing-cases/{case_id}", "committee", json={"status": "lost"})
    assert bad.status_code == 422
    assert "status must be one of" in bad.text
    other = cases.loc[cases["school_id"] != api.school, "case_id"]
    if len(other):
        hidden = api.post(
            f"/api/v1/missing-cases/{int(other.iloc[0])}", "committee", json={"status": "following"}
        )
        assert hidden.status_code == 404
        assert hidden.json() == {"detail": "no such case"}  # as one that does not exist
    nowhere = api.post("/api/v1/missing-cases/999999", "committee", json={"status": "following"})
    assert (nowhere.status_code, nowhere.json()) == (404, {"detail": "no such case"})
    done = api.post(
        f"/api/v1/missing-cases/{case_id}",
        "committee",
        json={"status": "found_returning", "found_on": "2025-01-06"},
    )
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["found_school_id"]) == (
        "found_returning",
        api.school,
    )
    # A client sending back the version it read is refused once someone changed the case.
    read = next(c for c in committee.json() if c["case_id"] == case_id)
    stale = api.post(
        f"/api/v1/missing-cases/{case_id}",
        "committee",
        json={"status": "following", "version": read["version"]},
    )
    assert stale.status_code == 409, stale.text
    assert "changed after it was read" in stale.json()["detail"]
    assert _cases(api).set_index("case_id").loc[case_id, "status"] == "found_returning"
    current = api.post(
        f"/api/v1/missing-cases/{case_id}",
        "committee",
        json={"status": "following", "version": done.json()["version"]},
    )
    assert (current.status_code, current.json()["status"]) == (200, "following")


@pytest.mark.parametrize(
    ("name", "delimiter", "encoding"),
    [
        ("ผลการติดตาม.txt", "\t", "utf-16"),  # Excel's "Unicode Text": tabs, UTF-16
        ("ผลการติดตาม.csv", ";", "utf-8"),  # a sheet program set to semicolons
    ],
)
def test_a_file_of_findings_separated_by_tabs_or_semicolons_updates_its_case(
    api: Api, people: dict[str, httpx.Client], name: str, delimiter: str, encoding: str
) -> None:
    """Excel saves "Unicode Text" as tab-separated UTF-16 (.txt), and a sheet program may
    separate a CSV's cells by semicolons: the page refused the one as not a file it reads
    and read the other as one column, "the file needs the columns case_id and status"."""
    case_id = _open_case(api)
    cells = [["เลขที่รายการ", "สถานะ", "สาเหตุ", "บันทึก"], [str(case_id), "กำลังติดตาม", "2", "a, b"]]
    rows = "".join(delimiter.join(line) + "\r\n" for line in cells)

    reply = _send(people["committee"], name, rows.encode(encoding))

    assert reply.status_code == 303, reply.text[-2000:]
    stored = _cases(api).set_index("case_id").loc[case_id]
    assert (stored["status"], int(stored["reason_code"])) == ("following", 2)


def test_a_case_number_no_case_can_have_costs_its_row_not_the_file(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    """A file's case number of twenty digits (two cells run together, say): SQLite cannot
    bind it, and the whole file answered 500. Now that row is named, the others apply."""
    case_id = _open_case(api)
    cells = [
        ["case_id", "status"],
        [str(case_id), "following"],
        ["11031000123456789012", "following"],
    ]
    rows = "".join(",".join(line) + "\r\n" for line in cells)

    reply = _send(people["committee"], "findings.csv", rows.encode())
    owner = people["committee"].post(
        f"/missing/{case_id}",
        data={
            "csrf": _csrf(people["committee"], f"/missing/{case_id}"),
            "status": "following",
            "owner": "99999999999999999999",
        },
        follow_redirects=False,
    )

    assert reply.status_code == 422  # the page names the rows it could not apply
    assert "ไม่พบรายการนี้ในรายการที่คุณดูแล" in _problems(reply)  # no such case of yours
    assert _cases(api).set_index("case_id").loc[case_id, "status"] == "following"
    assert owner.status_code == 422  # a forged account number, refused by its form
    back = f"case_id,status\r\n{case_id},not_followed\r\n"  # for the tests after this one
    assert _send(people["committee"], "findings.csv", back.encode()).status_code == 303


def test_a_file_of_findings_of_a_kind_the_service_does_not_read_is_refused_by_name(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    reply = _send(people["committee"], "ผลการติดตาม.pdf", b"%PDF-1.4")

    assert reply.status_code == 422
    assert "ผลการติดตาม.pdf: ไม่ใช่ไฟล์ที่ระบบอ่านได้ (.csv, .txt, .tsv, .xlsx" in html.unescape(reply.text)


def _problems(reply: httpx.Response) -> str:
    """The rows a file of findings could not apply, as the page lists them."""
    found = re.search(r'<table class="list problems">.*?</table>', reply.text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found[0])) if found else reply.text[-2000:]


def _cases_file(client: httpx.Client, kind: str, lang: str = "th") -> pd.DataFrame:
    """The file of one's cases to fill in, as the page gives it out."""
    reply = client.get(f"/missing/cases.{kind}?lang={lang}")
    assert reply.status_code == 200, reply.text[-2000:]
    assert "attachment" in reply.headers["content-disposition"]
    if kind == "xlsx":
        return pd.read_excel(
            io.BytesIO(reply.content), engine="calamine", dtype=str, keep_default_na=False
        )
    return pd.read_csv(io.BytesIO(reply.content), dtype=str, keep_default_na=False)


def test_a_school_downloads_its_cases_fills_in_what_it_found_and_sends_the_file_back(
    api: Api, people: dict[str, httpx.Client], tmp_path: Path
) -> None:
    """The page took a file of findings keyed by case numbers it never listed (only each
    case's own page shows its number): a school could not make the file."""
    committee = people["committee"]
    case_id = _open_case(api)
    sheet = _cases_file(committee, "xlsx")

    assert str(case_id) in set(sheet["เลขที่รายการ"]), _cases(api).set_index("case_id").loc[case_id]
    assert list(sheet.columns[:2]) == ["เลขที่รายการ", "เลขประจำตัว"]
    assert {"สถานะ", "สาเหตุ", "ความช่วยเหลือที่ต้องการ", "บันทึก"} <= set(sheet.columns)
    mine = sheet[sheet["เลขที่รายการ"] == str(case_id)]
    assert len(mine) == 1
    stored = _cases(api).set_index("case_id").loc[case_id]
    assert mine.iloc[0]["เลขประจำตัว"] == stored["student_id"]
    assert mine.iloc[0]["สถานะ"] == "ยังไม่ได้ติดตาม"
    # Filled in as a teacher would, in the sheet's own words, and sent back whole.
    filled = sheet.copy()
    columns = ["สถานะ", "สาเหตุ", "ความช่วยเหลือที่ต้องการ", "วันที่พบหรือกลับเข้าเรียน"]
    filled.loc[mine.index, columns] = [
        "พบตัว กำลังกลับเข้าเรียน",
        "อพยพตามผู้ปกครอง",
        "การเดินทาง, สอนเสริมการเรียน",
        "10/01/2568",
    ]
    path = tmp_path / "ผลการติดตาม.xlsx"
    filled.to_excel(path, index=False)
    before = _cases(api).set_index("case_id")

    reply = _send(committee, path.name, path.read_bytes())

    assert reply.status_code == 303, _problems(reply)
    stored = _cases(api).set_index("case_id").loc[case_id]
    assert (stored["status"], int(stored["reason_code"])) == ("found_returning", 2)
    assert stored["help_needed"] == "transport,learning"
    assert (str(stored["found_on"])[:10], stored["found_school_id"]) == ("2025-01-10", api.school)
    # The other rows came back as they went out: nothing of theirs changed.
    others = [int(c) for c in sheet["เลขที่รายการ"] if int(c) != case_id]
    assert len(others)
    after = _cases(api).set_index("case_id")

    # (a column of only empty values reads as None, with one value set as NaN: both "empty")
    def stored_as(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[others].astype(object).where(frame.loc[others].notna(), None)

    pd.testing.assert_frame_equal(stored_as(after), stored_as(before))
    assert "บันทึกผลการติดตามแล้ว 1 รายการ" in committee.get(reply.headers["location"]).text


def test_the_file_of_cases_in_english_reads_back_in_english_words(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    committee = people["committee"]
    case_id = _open_case(api)
    sheet = _cases_file(committee, "csv", "en")
    assert list(sheet.columns[:2]) == ["case_id", "student_id"]
    row = sheet.index[sheet["case_id"] == str(case_id)]
    sheet.loc[row, ["status", "reason_code", "help_needed"]] = [
        "being followed",
        "moved away",
        "documents or legal status",
    ]

    reply = _send(committee, "findings.csv", sheet.loc[row].to_csv(index=False).encode())

    assert reply.status_code == 303, _problems(reply)
    stored = _cases(api).set_index("case_id").loc[case_id]
    assert (stored["status"], int(stored["reason_code"])) == ("following", 2)
    assert stored["help_needed"] == "documents"


def test_the_file_of_cases_holds_only_the_callers_cases_and_its_reading_is_audited(
    api: Api, people: dict[str, httpx.Client]
) -> None:
    sheet = _cases_file(people["committee"], "csv")
    cases = _cases(api).set_index("case_id").loc[[int(c) for c in sheet["เลขที่รายการ"]]]
    assert set(cases["school_id"]) == {api.school}
    with api.engine.connect() as connection:
        downloaded = connection.execute(
            sa.select(audit_log.c.student_id).where(
                audit_log.c.action == "download",
                audit_log.c.endpoint == "GET /missing/cases.{kind}",
            )
        ).scalars()
        assert set(cases["student_id"]) <= set(downloaded)
    # The area office's file holds the cases it follows by name, those referred outside;
    # an analyst follows counts only.
    referred = {"พบตัว ส่งต่อหน่วยงาน", "ไม่พบตัว ส่งต่อกระทรวงและภาคี"}
    assert set(_cases_file(people["area"], "csv")["สถานะ"]) <= referred
    assert people["analyst"].get("/missing/cases.xlsx").status_code == 404
