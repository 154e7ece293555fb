"""Children who came back to school are followed whatever their risk; a moved child's
earlier records reach the new school only when the area office grants it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from schooldata.tables import audit_log, history_grants
from serving import followups
from serving.access import StudentKey
from serving.accounts import Caller, create_user, set_password
from serving.app import create_app
from serving.model_store import load_scorer_bundle
from serving.records import NotVisible, require_student
from serving.scoring import Scorer, weekly_run
from tests.conftest import ID_KEY, scratch_settings, thai_id
from tests.serving.conftest import serving, shoot, sign_in

ENROLMENT = "student_id,academic_year,term,school_id,grade_level,classroom,advisor_id"


def _school(root: Path, extra_terms: list[str] | None = None) -> sa.Engine:
    """School A: student 5 dropped out in August 2024 and came back in May 2025 (term 1
    of 2568); student 6 stayed; student 7 of A moved to school B (code 70 there)."""
    engine = make_engine(f"sqlite:///{root / 'ews.db'}")
    ingest_directory(school_files(root, extra_terms), engine, ID_KEY, None)
    return engine


def school_files(root: Path, extra_terms: list[str] | None = None) -> Path:
    """The files of ``_school``'s two schools, in ``root / "data"``."""
    data = root / "data"
    data.mkdir()
    moved = thai_id("110170020707")
    (data / "schools.csv").write_text("school_id,name\nA,เอ\nB,บี\n")
    (data / "students.csv").write_text(
        "student_id,school_id,given_name,national_id\n"
        f"5,A,กลับมา,{thai_id('110170020505')}\n6,A,อยู่ต่อ,\n"
        f"7,A,ย้ายไป,{moved}\n70,B,ย้ายมา,{moved}\n"
    )
    lines = [
        ENROLMENT,
        "5,2567,1,A,M2,M2/1,T1",
        "5,2568,1,A,M2,M2/1,T1",
        "6,2567,1,A,M2,M2/1,T1",
        "6,2567,2,A,M2,M2/1,T1",
        "6,2568,1,A,M3,M3/1,T2",
        "7,2567,1,A,M2,M2/1,T1",
        "70,2567,2,B,M2,M2/4,T9",
        "70,2568,1,B,M3,M3/4,T9",
        *(extra_terms or []),
    ]
    (data / "enrollments.csv").write_text("\n".join(lines) + "\n")
    (data / "exits.csv").write_text(
        "student_id,school_id,exit_date,exit_type\n5,A,2024-08-20,dropout\n"
    )
    (data / "attendance.csv").write_text(
        "student_id,school_id,date,status\n7,A,2024-06-03,absent\n7,A,2024-06-04,absent\n"
    )
    (data / "interventions.csv").write_text(
        "student_id,school_id,date,type,outcome\n7,A,2024-07-01,home_visit,done\n"
    )
    return data


def test_a_child_who_came_back_is_on_the_follow_up_list_of_those_who_see_them(
    tmp_path: Path,
) -> None:
    engine = _school(tmp_path)
    committee, _ = create_user(engine, "committee", "กรรมการ", school_id="A")
    advisor, _ = create_user(engine, "advisor", "ครู", school_id="A", staff_id="T1")
    other_advisor, _ = create_user(engine, "advisor", "ครูอื่น", school_id="A", staff_id="T2")
    school_b, _ = create_user(engine, "committee", "กรรมการบี", school_id="B")

    for user in (committee, advisor):
        found = followups.returned_followups(engine, Caller(user, "test"))
        assert [(r.student_id, str(r.left_on), str(r.returned_on)) for r in found] == [
            ("5", "2024-08-20", "2025-05-16")
        ]
        assert not found[0].from_other_school
        assert found[0].left_again_on is None
        assert found[0].name == "กลับมา"
    assert followups.returned_followups(engine, Caller(other_advisor, "test")) == []
    # The child who moved from A to B came back nowhere: a move is not a return.
    assert followups.returned_followups(engine, Caller(school_b, "test")) == []


def test_a_returned_child_is_followed_for_the_configured_terms_only(tmp_path: Path) -> None:
    # The school's data reaches 2569 term 1: the return (2568 term 1) is two terms back.
    engine = _school(tmp_path, ["6,2568,2,A,M3,M3/1,T2", "6,2569,1,A,M4,M4/1,T2"])
    committee, _ = create_user(engine, "committee", "กรรมการ", school_id="A")

    assert followups.returned_followups(engine, Caller(committee, "test"), follow_terms=2) == []
    followed = followups.returned_followups(engine, Caller(committee, "test"), follow_terms=3)
    assert [r.student_id for r in followed] == ["5"]
    # Student 5 is enrolled nowhere since 2568 term 1: they left again, and it says when.
    assert str(followed[0].left_again_on) == "2025-10-10"


def test_the_new_school_sees_earlier_records_only_when_the_area_office_grants_it(
    tmp_path: Path,
) -> None:
    engine = _school(tmp_path)
    committee_b, _ = create_user(engine, "committee", "กรรมการบี", school_id="B")
    area, _ = create_user(engine, "area", "เขตพื้นที่", schools=("A", "B"))
    other_area, _ = create_user(engine, "area", "เขตอื่น", schools=("A",))  # not B
    moved = StudentKey("B", "70")

    assert followups.earlier_records(engine, moved) == {"status": None}
    followups.request_history(engine, Caller(committee_b, "test"), moved)
    assert followups.earlier_records(engine, moved) == {"status": "requested"}
    requests = followups.history_requests(engine, area)
    assert [(r["school_id"], r["student_id"], r["schools_before"]) for r in requests] == [
        ("B", "70", ["เอ"])
    ]
    assert followups.history_requests(engine, other_area) == []
    with pytest.raises(NotVisible):
        followups.decide_history(engine, Caller(other_area, "test"), moved, True)

    followups.decide_history(engine, Caller(area, "test"), moved, True)
    earlier = followups.earlier_records(engine, moved)
    assert earlier["status"] == "granted"
    (school,) = earlier["schools"]
    assert (school["school_id"], school["attendance_days"], school["absent_days"]) == ("A", 2, 2)
    assert [(str(i["date"]), i["type"]) for i in school["interventions"]] == [
        ("2024-07-01", "home_visit")
    ]
    followups.decide_history(engine, Caller(area, "test"), moved, False)  # revoked
    assert followups.earlier_records(engine, moved) == {"status": "revoked"}
    # A child who was at no other school has nothing to ask for.
    committee_a, _ = create_user(engine, "committee", "กรรมการเอ", school_id="A")
    with pytest.raises(ValueError, match="no other school"):
        followups.request_history(engine, Caller(committee_a, "test"), StudentKey("A", "6"))


def history_actions(engine: sa.Engine) -> list[str]:
    """The audited steps of history requests, in order."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(audit_log.c.action)
                .where(audit_log.c.action.like("history_%"))
                .order_by(audit_log.c.audit_id)
            ).scalars()
        )


def test_a_request_or_a_decision_sent_twice_is_made_once(tmp_path: Path) -> None:
    """A second click on "ask the area office", or on its "grant" or "decline", changes
    nothing and audits nothing more; a declined request may be asked again."""
    engine = _school(tmp_path)
    committee_b, _ = create_user(engine, "committee", "กรรมการบี", school_id="B")
    colleague, _ = create_user(engine, "committee", "กรรมการบีสอง", school_id="B")
    area, _ = create_user(engine, "area", "เขตพื้นที่", schools=("A", "B"))
    moved = StudentKey("B", "70")

    followups.request_history(engine, Caller(committee_b, "test"), moved)
    followups.request_history(engine, Caller(colleague, "test"), moved)
    assert len(followups.history_requests(engine, area)) == 1
    with engine.connect() as connection:  # the first request stands
        asker = connection.execute(sa.select(history_grants.c.requested_by)).scalar_one()
    assert asker == committee_b.user_id
    for _ in range(2):
        followups.decide_history(engine, Caller(area, "test"), moved, False)
    assert followups.earlier_records(engine, moved) == {"status": "declined"}
    followups.request_history(engine, Caller(colleague, "test"), moved)
    for _ in range(2):
        followups.decide_history(engine, Caller(area, "test"), moved, True)
    followups.request_history(engine, Caller(committee_b, "test"), moved)  # granted already
    assert followups.earlier_records(engine, moved)["status"] == "granted"
    assert history_actions(engine) == [
        "history_requested",
        "history_declined",
        "history_requested",
        "history_granted",
    ]


def test_a_request_checks_a_childs_scope_once_and_a_refusal_every_time(tmp_path: Path) -> None:
    engine = _school(tmp_path)
    committee_a, _ = create_user(engine, "committee", "กรรมการเอ", school_id="A")
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def asked(caller: Caller, student: StudentKey) -> int:
        statements.clear()
        require_student(engine, caller, student)
        return len(statements)

    request = Caller(committee_a, "test")
    assert asked(request, StudentKey("A", "6")) > 0
    assert asked(request, StudentKey("A", "6")) == 0  # the page's other parts: checked
    assert asked(Caller(committee_a, "test"), StudentKey("A", "6")) > 0  # the next request
    # A child who moved to B is refused, and audited, every time it is asked.
    for _ in range(2):
        with pytest.raises(NotVisible):
            require_student(engine, request, StudentKey("B", "70"))
    with engine.connect() as connection:
        denied = connection.execute(
            sa.select(sa.func.count()).where(audit_log.c.action == "denied")
        ).scalar()
    assert denied == 2


def test_a_returned_child_is_shown_on_the_list_and_on_their_page(page: Any, tmp_path: Path) -> None:
    """On the committee's list, in the children who came back, and on the child's page:
    when they came back and when they had left (the page said "กลับมาเรียน กลับมาเรียนเมื่อ")."""
    engine = _school(tmp_path)
    settings = scratch_settings(str(engine.url), tmp_path)
    bundle, version = load_scorer_bundle(settings, tmp_path / "model")  # no model: the rule
    weekly_run(engine, Scorer(bundle, version), pd.Timestamp("2025-06-02"))
    committee, token = create_user(engine, "committee", "กรรมการ", school_id="A", username="cm-a")
    set_password(engine, committee.user_id, "committee-a-password", "tests", must_change=False)
    with serving(create_app(settings)) as url:
        # The API gives an integration the same child, with the same dates.
        answer = httpx.get(
            url + "/api/v1/returned", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert answer.status_code == 200
        assert [
            (r["student_id"], r["returned_on"], r["left_on"], r["from_other_school"])
            for r in answer.json()
        ] == [("5", "2025-05-16", "2024-08-20", False)]
        sign_in(page, url, "cm-a", "committee-a-password")
        page.goto(url + "/list")
        rows = page.locator("section.returned tr.returned-student")
        assert rows.count() == 1
        cells = [" ".join(c.split()) for c in rows.first.locator("td").all_inner_texts()]
        assert "กลับมา" in cells[0]
        assert cells[2:4] == ["16 พ.ค. 2568", "20 ส.ค. 2567 (ออกจากโรงเรียนนี้)"]
        page.goto(url + "/students/5")
        line = " ".join(page.locator("p.returned").inner_text().split())
        assert line == "กลับมาเรียน 16 พ.ค. 2568 · ออกไปเมื่อ 20 ส.ค. 2567 (ออกจากโรงเรียนนี้)"
        # Ranked by the rule with no sign this week: said, not an empty list under
        # "main reasons", and no contributions chart the rule cannot fill.
        assert page.locator("p.no-reasons").inner_text() == "สัปดาห์นี้ไม่มีสัญญาณเตือน"
        assert page.get_by_text("ปัจจัยที่เพิ่มหรือลดความเสี่ยง").count() == 0
        shoot(page, "student-returned")


def test_a_moved_childs_earlier_records_are_asked_for_and_granted_on_the_pages(
    page: Any, tmp_path: Path
) -> None:
    """The new school's committee asks on the child's page, the area office grants on its
    own page, and the child's page then shows the earlier school's records: the forms of
    both pages, sent as a browser sends them."""
    engine = _school(tmp_path)
    settings = scratch_settings(str(engine.url), tmp_path)
    bundle, version = load_scorer_bundle(settings, tmp_path / "model")  # no model: the rule
    weekly_run(engine, Scorer(bundle, version), pd.Timestamp("2025-06-02"))
    committee, _ = create_user(engine, "committee", "กรรมการบี", school_id="B", username="cm-b")
    area, _ = create_user(engine, "area", "เขตพื้นที่", schools=("A", "B"), username="area-ab")
    passwords = {"cm-b": "committee-b-password", "area-ab": "area-ab-password"}
    for user in (committee, area):
        set_password(engine, user.user_id, passwords[user.username], "tests", must_change=False)
    with serving(create_app(settings)) as url:

        def opens(username: str, path: str) -> None:
            """``username`` signs in (the one before out) and opens ``path``."""
            signed_out = page.locator("header form[action='/logout'] button")
            if signed_out.count():
                signed_out.click()
            sign_in(page, url, username, passwords[username])
            page.goto(url + path)

        opens("cm-b", "/students/70")
        page.click("form[action='/students/70/history-request'] button")
        page.wait_for_url(url + "/students/70")
        assert page.locator("p.history-requested").count() == 1

        opens("area-ab", "/area")
        request = page.locator("tr.history-request[data-school='B'][data-student='70']")
        assert request.count() == 1
        request.locator("button[value=grant]").click()
        page.wait_for_url(url + "/area")
        assert page.locator("tr.history-request").count() == 0

        opens("cm-b", "/students/70")
        earlier = page.locator("details.earlier")
        assert earlier.locator("h3").all_inner_texts() == ["เอ"]  # the school's name
        assert "เยี่ยมบ้าน" in earlier.inner_text()  # school A's home visit of July 2024
        shoot(page, "student-earlier-granted")
    assert followups.earlier_records(engine, StudentKey("B", "70"))["status"] == "granted"
