"""From a flag to a followed case, in Chromium on a real server: an advisor opens a plan,
records a call and a visit and closes it; a review past its date is overdue; the
committee prints a brief that holds no restricted note; a restricted note stays with its
author and the committee chair. And the usage figures of a known history, exactly."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import time_machine
from pypdf import PdfReader

from core import clock
from schooldata import audit
from schooldata.actions import keep_last_actions
from schooldata.db import make_engine, upgrade
from schooldata.tables import (
    TABLES,
    audit_log,
    case_events,
    case_notes,
    first_flags,
    lists_opened,
    run_schools,
    student_scores,
    support_cases,
)
from serving.access import StudentKey
from serving.accounts import Caller, create_user, find_by_username, set_password
from serving.cases import (
    add_note,
    close_case,
    needs_action,
    open_case,
    untouched_by_school,
    usage,
)
from serving.i18n import percent
from serving.records import record_intervention
from serving.store import latest_run, note_first_flags
from tests.conftest import stored_list
from tests.serving.conftest import (
    DESKTOP,
    PASSWORDS,
    Api,
    double_click,
    shoot,
    sign_in,
    sign_in_client,
)

CHAIR_PASSWORD = "chair-password-1"


def _student_page(page: Any, api: Api, role: str, student: str) -> None:
    api.forget_failed_attempts()
    sign_in(page, api.url, api.usernames[role], PASSWORDS[role])
    page.wait_for_load_state()
    page.goto(f"{api.url}/students/{student}")


def _record(page: Any, kind: str, outcome: str) -> None:
    page.select_option("form[action$='/interventions'] select[name=type]", kind)
    page.select_option("form[action$='/interventions'] select[name=outcome]", outcome)
    page.click("form[action$='/interventions'] button[type=submit]")
    page.wait_for_url("**?recorded=*")


def _case_of(api: Api, student: str) -> Any:
    with api.engine.connect() as connection:
        return connection.execute(
            sa.select(support_cases)
            .where(
                (support_cases.c.school_id == api.school) & (support_cases.c.student_id == student)
            )
            .order_by(support_cases.c.case_id.desc())
        ).first()


def test_an_advisor_opens_a_case_records_a_call_and_a_visit_and_closes_it(
    page: Any, api: Api
) -> None:
    api.forget_failed_attempts()
    sign_in(page, api.url, api.usernames["advisor"], PASSWORDS["advisor"])
    page.wait_for_url("**/list")
    # From the list: a flagged student's "open a plan" link leads to the plan's form.
    flagged = page.locator("tr.student a.open-case")
    assert flagged.count() > 0
    student = flagged.first.get_attribute("href").split("/")[-1].split("#")[0]
    flagged.first.click()
    page.wait_for_selector("form.open-case")
    review_day = (clock.today() + timedelta(days=10)).isoformat()
    page.fill("form.open-case input[name=first_review]", review_day)
    page.click("form.open-case button[type=submit]")
    page.wait_for_selector("dl.case-facts")
    assert page.inner_text("dd.next-review").strip() != "–"
    case = _case_of(api, student)
    assert case.next_review == date.fromisoformat(review_day)
    assert case.planned  # the suggested step's action is the default

    # A case's steps are the student's interventions from the day it opened: another
    # test may have recorded one for this student today, so count what this adds.
    before = Counter(page.locator("ul.steps li").all_inner_texts())
    _record(page, "phone_call", "done")
    _record(page, "home_visit", "not_home")
    added = Counter(page.locator("ul.steps li").all_inner_texts()) - before
    assert sum(added.values()) == 2
    assert any("โทรศัพท์ถึงผู้ปกครอง (สำเร็จ)" in step for step in added)
    assert any("เยี่ยมบ้าน (ไม่พบที่บ้าน)" in step for step in added)
    # The risk chart marks where the plan began.
    assert page.locator("svg[aria-label='risk history']", has_text="เริ่มแผน").count() == 1
    # A review: what it found is kept in the plan's story, the next review as asked.
    next_review = (clock.today() + timedelta(days=5)).isoformat()
    page.fill("form[action$='/review'] input[name=note]", "ผู้ปกครองรับปากพามาส่งทุกวัน")
    page.fill("form[action$='/review'] input[name=next_review]", next_review)
    page.click("form[action$='/review'] button[type=submit]")
    page.wait_for_selector("ul.case-events li.review")
    assert page.locator("ul.case-events li").count() == 2  # opened, then reviewed
    said = page.inner_text("ul.case-events li.review")
    assert "ทบทวน: ผู้ปกครองรับปากพามาส่งทุกวัน" in said
    assert _case_of(api, student).next_review == date.fromisoformat(next_review)
    shoot(page, "case-open")

    day = clock.today()  # and the day after, if closing crosses Bangkok's midnight
    page.select_option("form[action$='/close'] select[name=outcome]", "improving")
    page.click("form[action$='/close'] button[type=submit]")
    page.wait_for_selector("form.open-case")  # no open case: a new one may be opened
    assert "ดีขึ้น" in page.inner_text("ul.closed-cases")
    closed = _case_of(api, student)
    assert closed.outcome == "improving"
    assert closed.closed_on in {day, clock.today()}


def _count(api: Api, table: sa.Table, **where: object) -> int:
    with api.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(*(table.c[name] == value for name, value in where.items()))
            ).scalar_one()
        )


def test_a_double_click_on_each_of_a_cases_forms_acts_once(page: Any, api: Api) -> None:
    """A double click on a case's Save wrote its note twice and its review twice (and
    told the second click of opening or closing that the case was open or closed
    already). The page sends each form once, and the service acts on each once: the note
    form sent again without the page's script writes nothing more, and sent back with
    another note is told it was sent."""
    student = api.own_student
    case = _case_of(api, student)
    if case is not None and case.closed_on is None:
        author = find_by_username(api.engine, api.usernames["advisor"])
        close_case(api.engine, Caller(author, "test"), int(case.case_id), "improving")
    _student_page(page, api, "advisor", student)
    opened_before = _count(api, support_cases, student_id=student)

    double_click(page, "form.open-case")
    assert _count(api, support_cases, student_id=student) == opened_before + 1
    case_id = int(_case_of(api, student).case_id)
    page.fill(f"form[action='/cases/{case_id}/notes'] textarea[name=text]", "โทรหาแม่แล้ว")
    old_note_form = page.content()
    double_click(page, f"form[action='/cases/{case_id}/notes']")
    assert _count(api, case_notes, case_id=case_id) == 1
    page.fill(f"form[action='/cases/{case_id}/review'] input[name=note]", "มาเรียนครบสัปดาห์")
    double_click(page, f"form[action='/cases/{case_id}/review']")
    assert _count(api, case_events, case_id=case_id, kind="review") == 1
    page.select_option(f"form[action='/cases/{case_id}/close'] select[name=outcome]", "improving")
    double_click(page, f"form[action='/cases/{case_id}/close']")
    assert _count(api, case_events, case_id=case_id, kind="closed") == 1
    assert page.locator("#case p.error").count() == 0  # nothing said wrong to anyone
    assert page.locator("ul.closed-cases").count() == 1

    once = re.search(
        r'action="/cases/\d+/notes">\s*<input[^>]*name="csrf" value="([^"]+)">'
        r'<input type="hidden" name="once" value="([^"]+)"',
        old_note_form,
    )
    assert once is not None
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    note = {"csrf": once[1], "once": once[2], "text": "โทรหาแม่แล้ว"}
    with httpx.Client(base_url=api.url, cookies=cookies, follow_redirects=True) as client:
        same = client.post(f"/cases/{case_id}/notes", data=note)  # without the page's script
        sent_back = client.post(f"/cases/{case_id}/notes", data=note | {"text": "อีกเรื่องหนึ่ง"})
    assert same.status_code == 200
    assert "แบบฟอร์มนี้ส่งไปแล้ว" not in same.text
    assert "แบบฟอร์มนี้ส่งไปแล้ว" in sent_back.text
    assert _count(api, case_notes, case_id=case_id) == 1


def test_a_case_note_sent_after_the_session_ended_leads_back_to_the_case(
    page: Any, api: Api
) -> None:
    """A note sent from a tab left open past the session is not saved: the sign-in page
    says so and leads back to the case, on its student's page. The case's address finds
    its student only for someone who may see them."""
    student = api.colleague_student
    committee = find_by_username(api.engine, api.usernames["committee"])
    assert committee is not None
    case = _case_of(api, student)
    opened_here = case is None or case.closed_on is not None
    if opened_here:
        case_id = open_case(
            api.engine,
            Caller(committee, "test"),
            StudentKey(api.school, student),
            planned="home_visit",
        )
    else:
        case_id = int(case.case_id)
    try:
        _note_sent_signed_out(page, api, student, case_id)
    finally:  # the student as it was: the next test opens a case for them on the page
        if opened_here:
            close_case(api.engine, Caller(committee, "test"), case_id, "improving")


def _note_sent_signed_out(page: Any, api: Api, student: str, case_id: int) -> None:
    _student_page(page, api, "committee", student)
    page.fill(f"form[action='/cases/{case_id}/notes'] textarea[name=text]", "แม่ไปทำงานต่างจังหวัด")
    notes = _count(api, case_notes, case_id=case_id)
    page.context.clear_cookies()  # the session has ended
    page.click(f"form[action='/cases/{case_id}/notes'] button[type=submit]")
    page.wait_for_url("**/login")
    assert "ยังไม่ได้บันทึก" in page.inner_text("p.error")
    page.fill("input[name=username]", api.usernames["committee"])
    page.fill("input[name=password]", PASSWORDS["committee"])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"**/students/{student}#case")
    assert _count(api, case_notes, case_id=case_id) == notes
    assert page.locator(f"form[action='/cases/{case_id}/notes']").count() == 1
    # The note typed is back in its form, to send again (it had to be typed again), and
    # only on this page: the next forgets it.
    box = f"form[action='/cases/{case_id}/notes'] textarea[name=text]"
    assert page.input_value(box) == "แม่ไปทำงานต่างจังหวัด"
    page.reload()
    assert page.input_value(box) == ""
    # Someone else signing in at the same browser tab is not shown it.
    page.fill(box, "แม่ไปทำงานต่างจังหวัด")
    page.context.clear_cookies()
    page.click(f"form[action='/cases/{case_id}/notes'] button[type=submit]")
    page.wait_for_url("**/login")
    chair, password = _chair(api)
    page.fill("input[name=username]", chair)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"**/students/{student}#case")
    assert page.input_value(box) == ""
    # An advisor of another class: the case's address is not found, like any other.
    api.forget_failed_attempts()
    with httpx.Client(base_url=api.url, timeout=60) as advisor:
        sign_in_client(advisor, api.usernames["advisor"], PASSWORDS["advisor"])
        assert advisor.get(f"/cases/{case_id}").status_code == 404


def _printed_brief(page: Any, api: Api, case_id: int) -> str:
    """The text of a case's brief as the signed-in page's user prints it (pypdf reads some
    Thai glyph clusters apart, with a unit separator between them: joined again)."""
    pdf = httpx.get(
        f"{api.url}/cases/{case_id}/brief.pdf",
        cookies={c["name"]: c["value"] for c in page.context.cookies()},
        timeout=60,
    ).content
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    return text.replace("\x1f", "")


def _review_said(review: date, set_on: date) -> set[str]:
    """What the pages may say of a review due on ``review``, set on ``set_on``: by that
    day, or by today if Bangkok's midnight has passed since (the server counts from its
    own day)."""
    days = {(day - review).days for day in (set_on, clock.today())}
    return {"ถึงกำหนดวันนี้" if n == 0 else f"เลยกำหนด {n} วัน" for n in days}


def test_a_review_past_its_date_is_overdue_on_the_needs_action_page(page: Any, api: Api) -> None:
    _student_page(page, api, "committee", api.colleague_student)
    page.click("form.open-case button[type=submit]")
    page.wait_for_selector("dl.case-facts")
    case = _case_of(api, api.colleague_student)
    set_on = clock.today()
    review = set_on - timedelta(days=3)
    with api.engine.begin() as connection:  # three weeks pass without a review
        connection.execute(
            sa.update(support_cases)
            .where(support_cases.c.case_id == case.case_id)
            .values(next_review=review)
        )

    page.goto(f"{api.url}/actions")
    overdue = page.locator(f"tr.review.overdue[data-student='{api.colleague_student}']")
    assert overdue.count() == 1
    said = overdue.inner_text()
    assert any(t in said for t in _review_said(review, set_on)), said
    shoot(page, "actions")
    # The student's own page says so beside the date, as does the brief printed from it.
    overdue.locator("a").first.click()
    page.wait_for_selector("dl.case-facts")
    said = page.inner_text("dd.next-review")
    assert any(t in said for t in _review_said(review, set_on)), said
    text = _printed_brief(page, api, case.case_id)
    assert any(f"({t})" in text for t in _review_said(review, set_on)), text
    set_on = clock.today()
    with api.engine.begin() as connection:
        connection.execute(
            sa.update(support_cases)
            .where(support_cases.c.case_id == case.case_id)
            .values(next_review=set_on)
        )
    page.reload()
    said = page.inner_text("dd.next-review")
    assert any(t in said for t in _review_said(set_on, set_on)), said
    text = _printed_brief(page, api, case.case_id)
    assert any(f"({t})" in text for t in _review_said(set_on, set_on)), text


def _chair(api: Api) -> tuple[str, str]:
    username = "committee-chair"
    with api.engine.connect() as connection:
        known = connection.execute(
            sa.text("select 1 from users where username = :u"), {"u": username}
        ).first()
    if known is None:
        user, _ = create_user(
            api.engine,
            "committee",
            "ประธานกรรมการ",
            school_id=api.school,
            username=username,
            chair=True,
        )
        set_password(api.engine, user.user_id, CHAIR_PASSWORD, "tests", must_change=False)
    return username, CHAIR_PASSWORD


def _prints(api: Api, student: str) -> int:
    with api.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(audit_log)
                .where((audit_log.c.action == "print") & (audit_log.c.student_id == student))
            ).scalar_one()
        )


def test_a_printed_brief_is_thai_audited_and_holds_no_restricted_note(
    browser: Any, api: Api
) -> None:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    student = api.colleague_student
    _student_page(page, api, "committee", student)
    if page.locator("form.open-case").count():
        page.click("form.open-case button[type=submit]")
        page.wait_for_selector("dl.case-facts")
    secret = "แม่แจ้งว่ามีการทำร้ายร่างกายในบ้าน"
    shared = "นักเรียนต้องการทุนค่าเดินทาง"
    for text, restricted, in_brief in ((secret, "protection", False), (shared, "", True)):
        page.fill("form[action$='/notes'] textarea[name=text]", text)
        page.select_option("form[action$='/notes'] select[name=restricted]", restricted)
        if in_brief:
            page.check("form[action$='/notes'] input[name=in_brief]")
        page.click("form[action$='/notes'] button[type=submit]")
        page.wait_for_selector("dl.case-facts")
    assert secret in page.content()  # its author reads it

    page.fill("form[action$='/brief.pdf'] input[name=ask]", "ขอทุนค่าเดินทางจาก อบต.")
    printed_before = _prints(api, student)
    with page.expect_download() as download:
        page.click("form[action$='/brief.pdf'] button[type=submit]")
    pdf = Path(download.value.path()).read_bytes()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "สรุปข้อมูลนักเรียน" in text
    assert shared in text
    assert "ขอทุนค่าเดินทางจาก" in text
    assert secret not in text
    context.close()
    assert _prints(api, student) == printed_before + 1
    pages = Path("build/screenshots/pages")
    pages.mkdir(parents=True, exist_ok=True)
    (pages / "brief.pdf").write_bytes(pdf)


def test_a_printed_brief_gives_the_risk_as_the_student_page_does(api: Api) -> None:
    """The brief read "3%" for a child the pages show at "3.4%"."""
    with api.engine.connect() as connection:
        run = latest_run(connection).run_id  # what the pages show (another test may backfill)
        scores = connection.execute(
            sa.select(student_scores.c.student_id, student_scores.c.risk).where(
                (student_scores.c.run_id == run) & (student_scores.c.school_id == api.school)
            )
        ).all()
    others = {api.own_student, api.colleague_student, api.far_student}  # other tests' own
    student, risk = next(
        (s, r) for s, r in scores if s not in others and 0.01 < r < 0.1 and 0.2 < 100 * r % 1 < 0.8
    )
    author = find_by_username(api.engine, api.usernames["committee"])
    assert author is not None
    case_id = open_case(
        api.engine, Caller(author, "test"), StudentKey(api.school, student), planned="home_visit"
    )
    api.forget_failed_attempts()
    with httpx.Client(base_url=api.url, timeout=60) as client:
        sign_in_page = client.get("/login").text
        csrf = sign_in_page.split('name="csrf" value="')[1].split('"')[0]
        client.post(
            "/login",
            data={
                "csrf": csrf,
                "username": api.usernames["committee"],
                "password": PASSWORDS["committee"],
            },
        )
        shown = client.get(f"/students/{student}").text
        pdf = client.get(f"/cases/{case_id}/brief.pdf").content
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert percent(risk) in shown
    assert f"ความเสี่ยงล่าสุด: {percent(risk)}\n" in text, text


def test_a_restricted_note_is_read_only_by_its_author_and_the_committee_chair(
    api: Api,
) -> None:
    student = api.colleague_student
    secret = "ครูพบรอยช้ำที่แขน ผู้ปกครองอธิบายไม่ได้"
    # The committee member who writes it: a case of their own, whatever ran before.
    author = find_by_username(api.engine, api.usernames["committee"])
    assert author is not None
    key = StudentKey(api.school, student)
    case = _case_of(api, student)
    if case is None or case.closed_on is not None:
        case_id = open_case(api.engine, Caller(author, "test"), key, planned="home_visit")
    else:
        case_id = int(case.case_id)
    add_note(api.engine, Caller(author, "test"), case_id, secret, restricted="protection")

    def page_of(username: str, password: str) -> httpx.Response:
        api.forget_failed_attempts()
        client = httpx.Client(base_url=api.url, timeout=60, cookies={"lang": "th"})
        login = client.get("/login").text
        csrf = login.split('name="csrf" value="')[1].split('"')[0]
        client.post("/login", data={"csrf": csrf, "username": username, "password": password})
        return client.get(f"/students/{student}")

    colleague, _ = create_user(
        api.engine, "committee", "กรรมการอีกคน", school_id=api.school, username="committee-other"
    )
    set_password(api.engine, colleague.user_id, "other-password-1", "tests", must_change=False)
    other = page_of("committee-other", "other-password-1")
    assert other.status_code == 200
    assert secret not in other.text
    chair = page_of(*_chair(api))
    assert secret in chair.text
    # An advisor of another class and the area office do not reach the student at all.
    assert page_of(api.usernames["advisor"], PASSWORDS["advisor"]).status_code == 404
    area, _ = create_user(api.engine, "area", "เขตพื้นที่", username="cases-area", schools=[api.school])
    set_password(api.engine, area.user_id, "area-password-1", "tests", must_change=False)
    assert page_of("cases-area", "area-password-1").status_code == 404
    assert secret not in api.get(f"/api/v1/students/{student}", "committee").text
    with api.engine.connect() as connection:
        reads = connection.execute(
            sa.select(audit_log.c.user_id).where(
                (audit_log.c.action == "read_restricted") & (audit_log.c.student_id == student)
            )
        ).scalars()
        assert set(reads) >= {int(_user_id(api, "committee-chair"))}


def _user_id(api: Api, username: str) -> int:
    with api.engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("select user_id from users where username = :u"), {"u": username}
            ).scalar()
        )


WEEK1, WEEK2 = date(2025, 6, 2), date(2025, 6, 9)


def _store_list(connection: sa.Connection, run_id: int, as_of: date, tiers: dict[str, str]) -> None:
    """A stored list, as the weekly run keeps it with each student's first week on a list."""
    stored_list(connection, run_id, as_of, tiers)
    note_first_flags(connection, run_id, as_of)


def _two_weeks_of_lists(tmp_path: Path) -> sa.Engine:
    """Two weekly lists of school A (and one flagged student of school B), the help
    recorded after them, and the lists' readings appended to the audit log."""
    engine = make_engine(f"sqlite:///{tmp_path / 'usage.db'}")
    upgrade(engine)
    week1, week2 = WEEK1, WEEK2
    interventions = TABLES["interventions"]
    with engine.begin() as connection:
        _store_list(
            connection,
            1,
            week1,
            {"s1": "high", "s2": "watch", "s3": "high", "s4": "low", "s5": "watch"},
        )
        _store_list(
            connection,
            2,
            week2,
            {"s1": "high", "s2": "low", "s3": "low", "s4": "watch", "s5": "high", "B:b1": "high"},
        )
        for run_id in (1, 2):
            for school in ("A", "B"):  # each run's schools, as the weekly run stores them
                connection.execute(
                    sa.insert(run_schools).values(
                        run_id=run_id, school_id=school, enrolled=5, scored=5, stale=False
                    )
                )
        # s1: acted on 3 days after week 1's list and 1 day after week 2's; s2: 12 days
        # after week 1's; s3 and s5: never; s4: 20 days after week 2's.
        for code, day in (
            ("s1", week1 + timedelta(days=3)),
            ("s1", week2 + timedelta(days=1)),
            ("s2", week1 + timedelta(days=12)),
            ("s4", week2 + timedelta(days=20)),
        ):
            connection.execute(
                sa.insert(interventions).values(
                    school_id="A", student_id=code, date=day, type="home_visit", origin="service"
                )
            )
        keep_last_actions(connection, schools=["A"])  # as every writer of help does
        # Lists opened (moments in UTC, days in Bangkok): user 7 twice on one day and
        # once the next, user 8 once, user 9 at Monday's first moment (week 1); user 7
        # once in week 2, and user 8 at 06:30 on its Monday (Sunday in UTC); a read of
        # another route, one before the first week and one of school B do not count.
        for user_id, at, endpoint, school in (
            (7, datetime(2025, 6, 2, 8), "GET /list", "A"),
            (7, datetime(2025, 6, 2, 9), "GET /list", "A"),
            (7, datetime(2025, 6, 3, 8), "GET /api/v1/risk-list", "A"),
            (8, datetime(2025, 6, 4, 8), "GET /list", "A"),
            (9, datetime(2025, 6, 1, 17, 0), "GET /list", "A"),
            (9, datetime(2025, 6, 1, 16, 59), "GET /list", "A"),
            (7, datetime(2025, 6, 10, 8), "GET /list", "A"),
            (8, datetime(2025, 6, 8, 23, 30), "GET /list", "A"),
            (8, datetime(2025, 6, 10, 8), "GET /students/{id}", "A"),
            (5, datetime(2025, 6, 10, 8), "GET /list", "B"),
        ):
            with time_machine.travel(at.replace(tzinfo=UTC), tick=False):
                code = "s1" if school == "A" else "b1"
                audit.append(
                    connection, [audit.Entry("read", endpoint, user_id, code, school_id=school)]
                )
    return engine


def test_a_person_reading_a_list_by_page_and_api_has_opened_it_once_that_day(api: Api) -> None:
    advisor = int(_user_id(api, api.usernames["advisor"]))
    before = clock.today()
    with httpx.Client(base_url=api.url) as client:
        sign_in_client(client, api.usernames["advisor"], PASSWORDS["advisor"])
        for _ in range(2):
            assert client.get("/list").status_code == 200
    assert api.get("/api/v1/risk-list", "advisor").status_code == 200
    assert api.get(f"/api/v1/students/{api.own_student}", "advisor").status_code == 200
    after = clock.today()

    with api.engine.connect() as connection:
        opened = connection.execute(
            sa.select(lists_opened.c.school_id, lists_opened.c.day).where(
                (lists_opened.c.user_id == advisor) & (lists_opened.c.day >= before)
            )
        ).all()
        # Each reading's moment is logged, a day in Bangkok: the day it was read.
        reads = connection.execute(
            sa.select(audit_log.c.at).where(
                (audit_log.c.user_id == advisor)
                & audit_log.c.endpoint.in_(audit.LIST_ROUTES)
                & (audit_log.c.at >= clock.start_of(before))
            )
        ).scalars()
        days = {clock.day_of(at) for at in reads}
    assert days
    assert days <= {before, after}
    assert sorted(opened) == [(api.school, day) for day in sorted(days)]


def test_a_students_first_week_on_a_list_is_the_earliest_whatever_the_order_weeks_are_scored(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'flags.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        _store_list(connection, 1, WEEK2, {"s1": "high", "s2": "low", "s3": "low"})
        _store_list(connection, 2, WEEK1, {"s1": "watch", "s2": "high", "s3": "low"})
        _store_list(connection, 3, WEEK2 + timedelta(days=7), {"s2": "watch", "s3": "high"})
        first = dict(
            connection.execute(sa.select(first_flags.c.student_id, first_flags.c.as_of)).all()
        )

    # s1 flagged in week 2, then week 1 scored after it; s3 only in week 3; low is no flag.
    assert first == {"s1": WEEK1, "s2": WEEK1, "s3": WEEK2 + timedelta(days=7)}


def test_a_corrected_record_is_no_action_on_the_actions_pages(api: Api, tmp_path: Path) -> None:
    """A visit recorded today for the wrong day and corrected to six weeks ago: the
    school's and the area's actions pages count the student untouched since then, as
    the list counts their help (records no later record corrects)."""
    import sqlite3

    target = tmp_path / "copy.db"
    with sqlite3.connect(str(api.engine.url.database)) as source, sqlite3.connect(target) as out:
        source.backup(out)
    engine = make_engine(f"sqlite:///{target}")
    committee = find_by_username(engine, api.usernames["committee"])
    assert committee is not None
    caller = Caller(committee, "test")
    before = needs_action(engine, caller, untouched_days=14)
    student = before.untouched[0]["student_id"]
    key = StudentKey(api.school, student)
    counted = untouched_by_school(engine, [api.school], untouched_days=14)[api.school]

    wrong, _ = record_intervention(
        engine, caller, key, clock.today(), kind="home_visit", outcome=None
    )
    touched = needs_action(engine, caller, untouched_days=14)
    assert student not in {s["student_id"] for s in touched.untouched}
    assert untouched_by_school(engine, [api.school], 14)[api.school]["untouched"] == (
        counted["untouched"] - 1
    )
    six_weeks_ago = clock.today() - timedelta(days=42)
    record_intervention(
        engine,
        caller,
        key,
        six_weeks_ago,
        kind="home_visit",
        outcome=None,
        corrects=wrong.intervention_id,
    )

    after = {s["student_id"]: s for s in needs_action(engine, caller, 14).untouched}
    assert after[student]["last_action"] == six_weeks_ago
    assert (
        untouched_by_school(engine, [api.school], 14)[api.school]["untouched"]
        == (counted["untouched"])
    )


def test_usage_counts_lists_opened_and_first_actions_exactly(tmp_path: Path) -> None:
    engine = _two_weeks_of_lists(tmp_path)
    week1, week2 = WEEK1, WEEK2

    found = {u.as_of: u for u in usage(engine, ["A"])}

    first, second = found[week1], found[week2]
    assert (first.lists_opened, first.flagged, first.acted_7, first.acted_14) == (4, 4, 1, 2)
    assert first.median_days == pytest.approx(7.5)  # 3 and 12 days
    assert (second.lists_opened, second.flagged, second.acted_7, second.acted_14) == (2, 3, 1, 1)
    assert second.median_days == pytest.approx(10.5)  # 1 and 20 days
    assert {u.school_id for u in usage(engine)} == {"A", "B"}
    (latest,) = usage(engine, weeks=1, schools=["B"])
    assert (latest.as_of, latest.lists_opened, latest.flagged) == (week2, 1, 1)


def test_untouched_students_are_counted_by_school_from_their_last_action_or_first_flag(
    tmp_path: Path,
) -> None:
    engine = _two_weeks_of_lists(tmp_path)
    # Week 2 flags s1 (acted on 10 June), s4 (29 June), s5 (never; flagged since 2 June)
    # at school A, and b1 at school B (never; flagged since 9 June).
    with time_machine.travel(datetime(2025, 7, 5, 3, tzinfo=UTC), tick=False):
        only_a = untouched_by_school(engine, ["A"], untouched_days=14)
        every = untouched_by_school(engine, None, untouched_days=14)

    # 5 July: s1 untouched 25 days, s5 33 days; s4 acted on 6 days ago.
    assert only_a == {"A": {"flagged": 3, "untouched": 2, "median_days": 29}}
    assert every == only_a | {"B": {"flagged": 1, "untouched": 1, "median_days": 26}}
