"""The web pages in a real headless Chromium: sign in, read the list, open a student,
record a home visit, plan visits, and never reach another advisor's student.

Screenshots of the pages (in Thai) go to build/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import sqlalchemy as sa

from schooldata.tables import TABLES, audit_log
from serving.routes import lists, pages
from tests.serving.conftest import PASSWORDS, Api, double_click, shoot


def _sign_in(page, api: Api, role: str) -> None:  # type: ignore[no-untyped-def]
    api.forget_failed_attempts()  # other tests fail sign-ins from this address
    page.goto(f"{api.url}/login")
    page.fill("input[name=username]", api.usernames[role])
    page.fill("input[name=password]", PASSWORDS[role])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/list.*"))


def test_advisor_reads_the_list_opens_a_student_and_records_a_home_visit(page, api: Api) -> None:  # type: ignore[no-untyped-def]
    _sign_in(page, api, "advisor")

    rows = page.locator("tr.student")
    assert rows.count() > 0
    listed = set(rows.evaluate_all("rows => rows.map(r => r.dataset.student)"))
    assert api.own_student in listed
    assert api.colleague_student not in listed and api.far_student not in listed  # noqa: PT018
    assert "รายชื่อนักเรียนสัปดาห์นี้" in page.content()
    assert "built-in method" not in page.content()
    # The list says how it orders students with the same score.
    assert "ขาดเรียนมากกว่าใน 20 วันเรียนล่าสุดอยู่ก่อน" in page.locator("p.scorer").inner_text()
    shoot(page, "list")

    page.click(f"tr[data-student='{api.own_student}'] a")
    page.wait_for_url(f"**/students/{api.own_student}")
    assert page.locator("svg[aria-label='risk history'] circle").count() >= 2
    assert page.locator("ol.contributions li").count() > 0
    page.select_option("select[name=type]", "home_visit")
    page.select_option("select[name=outcome]", "done")
    page.click("form[action$='/interventions'] button[type=submit]")
    # Back on the student's page, with the record and a few minutes to undo it.
    page.wait_for_url(f"**/students/{api.own_student}?recorded=*")
    assert page.locator("tr.intervention", has_text="เยี่ยมบ้าน").count() >= 1
    shoot(page, "student")

    page.goto(f"{api.url}/list")
    last = page.locator(f"tr[data-student='{api.own_student}'] td.last")
    assert "เยี่ยมบ้าน" in last.inner_text()


def test_a_form_sent_from_a_page_opened_before_signing_in_again_leads_back_to_it(
    page: Any, api: Api
) -> None:
    """A shared computer: the student's page stays open in one tab while the advisor signs
    out and in again in another; sending its form then says why it cannot be sent, in
    Thai, and leads back to the student's page, the header still the advisor's."""
    _sign_in(page, api, "advisor")
    page.goto(f"{api.url}/students/{api.own_student}")
    other = page.context.new_page()
    other.goto(f"{api.url}/list")
    other.click("header form button")  # sign out
    other.wait_for_url("**/login")
    _sign_in(other, api, "advisor")
    other.close()

    page.select_option("select[name=type]", "home_visit")
    page.select_option("select[name=outcome]", "done")
    with page.expect_navigation() as sent:
        page.click("form[action$='/interventions'] button[type=submit]")

    assert sent.value.status == 403
    assert "แบบฟอร์มหมดอายุ" in page.locator("main h1").inner_text()
    assert "เปิดหน้าเดิมอีกครั้งแล้วส่งใหม่" in page.locator("main").inner_text()
    assert page.locator("header form[action='/logout']").count() == 1
    shoot(page, "form-expired")
    page.click("main a")
    page.wait_for_url(f"**/students/{api.own_student}")
    assert page.locator("form[action$='/interventions']").count() == 1
    # An address that is no page answers a page too, not the API's JSON.
    assert page.goto(f"{api.url}/no-such-page").status == 404
    assert "ไม่พบข้อมูล" in page.locator("main h1").inner_text()


def test_another_advisors_student_is_not_reachable_by_url(page, api: Api) -> None:  # type: ignore[no-untyped-def]
    _sign_in(page, api, "advisor")

    for student in (api.far_student, api.colleague_student):
        response = page.goto(f"{api.url}/students/{student}")
        assert response.status == 404
        assert "ไม่พบข้อมูล" in page.content()
    assert page.goto(f"{api.url}/plan").status == 404
    csv = page.request.get(f"{api.url}/list.csv")
    assert api.far_student not in csv.text()
    assert api.own_student in csv.text()


def test_committee_plans_home_visits_within_capacity(page, api: Api) -> None:  # type: ignore[no-untyped-def]
    _sign_in(page, api, "committee")
    response = page.goto(f"{api.url}/plan")
    assert response.status == 200, page.content()[:2000]
    page.fill("input[name=capacity]", "4")
    page.click("form[action='/plan/capacity'] button[type=submit]")
    page.wait_for_url("**/plan")
    # Who changed the capacity, which decides who is visited, is in the audit log.
    with api.engine.connect() as connection:
        changed = connection.execute(
            sa.select(audit_log.c.action, audit_log.c.school_id, audit_log.c.detail)
            .where(audit_log.c.endpoint == "POST /plan/capacity")
            .order_by(audit_log.c.audit_id.desc())
        ).first()
    assert changed is not None
    assert (changed.action, changed.school_id) == ("write", api.school)
    assert changed.detail.endswith(" to 4 a week")

    visits = page.locator("div.visit")
    assert visits.count() == 4
    assert "built-in method" not in page.content()
    first = visits.first.get_attribute("data-student")
    shoot(page, "plan")
    # A visit is recorded with the outcome the committee chooses (none is preselected).
    visits.first.locator("select[name=outcome]").select_option("done")
    visits.first.locator("button").click()
    page.wait_for_url("**/plan?recorded=*")

    remaining = page.locator("div.visit").evaluate_all("cards => cards.map(c => c.dataset.student)")
    assert first not in remaining
    assert len(remaining) == 4


def test_english_switch_and_phone_layout(browser, api: Api) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    _sign_in(page, api, "advisor")
    assert (
        page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    )  # nothing wider than the phone

    page.click("text=English")
    page.wait_for_url("**/list")
    assert "This week's list" in page.content()
    context.close()


def test_session_cookie_is_httponly_strict_and_short_lived(page, api: Api) -> None:  # type: ignore[no-untyped-def]
    import time

    _sign_in(page, api, "advisor")
    cookie = next(c for c in page.context.cookies() if c["name"] == "ews_session")

    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert 0 < cookie["expires"] - time.time() <= 8 * 3600 + 60


def test_forms_without_the_csrf_token_are_refused(api: Api) -> None:
    with httpx.Client(base_url=api.url, follow_redirects=False) as client:
        login_page = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', login_page.text).group(1)  # type: ignore[union-attr]
        assert (
            client.post("/login", data={"token": api.tokens["advisor"], "csrf": token}).status_code
            == 303
        )
        forged = client.post(
            f"/students/{api.own_student}/interventions",
            data={"csrf": "forged", "type": "home_visit", "outcome": "done"},
        )
        assert forged.status_code == 403
        assert client.post("/login", data={"token": "wrong", "csrf": "x"}).status_code == 403


def test_bad_plan_input_gets_a_clear_error_and_changes_nothing(api: Api) -> None:
    # In English, the language of the checks' own messages (the Thai pages translate them).
    with httpx.Client(base_url=api.url, follow_redirects=False, cookies={"lang": "en"}) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"token": api.tokens["committee"], "csrf": token})
        page = client.get("/plan").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        before = re.search(r'name="capacity" min="0" max="500" value="(\d+)"', page).group(1)  # type: ignore[union-attr]

        too_many = client.post("/plan/capacity", data={"csrf": csrf, "capacity": "600"})
        not_a_number = client.post("/plan/capacity", data={"csrf": csrf, "capacity": "ten"})
        bad_outcome = client.post(
            "/plan/visits",
            data={"csrf": csrf, "student_id": api.own_student, "outcome": "vanished"},
        )

        assert too_many.status_code == 422
        assert "capacity must be between 0 and 500" in too_many.text
        assert not_a_number.status_code == 422
        assert "capacity must be a whole number" in not_a_number.text
        assert bad_outcome.status_code == 422
        assert "outcome must be one of" in bad_outcome.text
        after = re.search(
            r'name="capacity" min="0" max="500" value="(\d+)"', client.get("/plan").text
        )
        assert after is not None
        assert after.group(1) == before


def test_another_roles_page_asked_with_a_bad_value_is_not_found_all_the_same(api: Api) -> None:
    """A page of another role answers "not found" whatever its address or form holds: a
    value it cannot take answered 422 before the role was checked, so the answer told
    that the page is there."""
    huge = "99999999999999999999"
    asked = {
        "admin": ["/missing?show=x", "/missing/report.csv?lang=xx", f"/plan?recorded={huge}"],
        "analyst": ["/missing/cases.csv?lang=xx", "/area/referred?page=0", "/list.csv?tier=red"],
        "advisor": ["/missing/report.xlsx?lang=xx", f"/plan?recorded={huge}", "/area/actions"],
    }
    answers = {}
    for role, paths in asked.items():
        with httpx.Client(base_url=api.url, follow_redirects=False) as client:
            page = client.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"token": api.tokens[role], "csrf": token})
            for path in paths:
                answers[role, path] = client.get(path).status_code
            # Forms sent empty: the role is checked first, not the fields.
            for path in ("/plan/visits", "/plan/capacity"):  # a committee's
                answers[role, f"POST {path}"] = client.post(path).status_code
            if role != "advisor":  # an advisor sends files of findings
                answers[role, "POST /missing/file"] = client.post("/missing/file").status_code
    assert answers == dict.fromkeys(answers, 404)
    # The same values on one's own page still name the value.
    with httpx.Client(base_url=api.url, follow_redirects=False) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"token": api.tokens["committee"], "csrf": token})
        assert client.get("/missing/report.csv?lang=xx").status_code == 422


def test_a_page_asked_with_a_value_it_cannot_take_says_which_in_the_pages_language(
    api: Api,
) -> None:
    """An old bookmark or a link edited by hand: a page, not the API's JSON, and the
    signed-in user's header on it as on every error page."""
    with httpx.Client(base_url=api.url, follow_redirects=False) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"token": api.tokens["committee"], "csrf": token})
        thai_page = client.get("/list?page=0")
        client.cookies.set("lang", "en")
        word = client.get("/list?page=ten")
        too_far = client.get("/missing?show=everything")
        no_such_tier = client.get("/list?tier=red")
        every_tier = client.get("/list?tier=")  # the list's own "all" choice
        huge = client.get(f"/students/{api.own_student}?recorded=99999999999999999999")
        not_there = client.get("/students/not-a-student")
        api_answer = client.get(
            "/api/v1/risk-list?limit=0",
            headers={"Authorization": f"Bearer {api.tokens['committee']}"},
        )

    assert thai_page.status_code == 422
    assert thai_page.headers["content-type"].startswith("text/html")
    assert 'action="/logout"' in thai_page.text  # the signed-in header, sign-out in it
    assert 'action="/logout"' in not_there.text
    assert "ค่า page ต้องไม่น้อยกว่า 1" in thai_page.text
    assert word.status_code == 422
    assert "page must be a whole number" in word.text
    assert "ten" not in word.text.split("<main>")[1]  # never the value sent
    assert too_far.status_code == 422
    assert "show is not a value this page takes" in too_far.text
    assert no_such_tier.status_code == 422  # not an empty list, as if nobody were at risk
    assert "tier is not a value this page takes" in no_such_tier.text
    assert every_tier.status_code == 200
    assert huge.status_code == 422  # a number SQLite cannot bind, not a server error
    assert api_answer.status_code == 422
    assert api_answer.json()["detail"][0]["loc"] == ["query", "limit"]


def test_the_api_documentation_opens_on_a_server_without_internet(page, api: Api) -> None:  # type: ignore[no-untyped-def]
    """An integrator's first page: Swagger UI from this server (a school's server may have
    no internet; FastAPI's own page asks a CDN for it, and stayed blank here)."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{api.url}/docs")
    page.locator(".opblock-summary-path", has_text="/api/v1/risk-list").first.wait_for()
    operations = page.locator(".opblock").count()
    page.locator(".opblock-summary", has_text="/api/v1/interventions").first.click()
    shoot(page, "api-docs")

    assert operations >= 15
    assert page.get_by_text("Idempotency-Key").count() >= 1  # the retry's header, documented
    assert [url for url in asked if not url.startswith(api.url)] == []


def test_a_committee_pages_through_its_whole_school(page, api: Api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(lists, "PAGE_SIZE", 30)  # the server runs in this process
    _sign_in(page, api, "committee")
    page.goto(f"{api.url}/list")
    csv = page.request.get(f"{api.url}/list.csv").text()
    everyone = csv.count("\n") - 1  # the download holds the whole school
    assert everyone > 2 * lists.PAGE_SIZE  # three pages at least

    seen: list[str] = []
    ranks: list[int] = []
    while True:
        rows = page.locator("tr.student")
        assert rows.count() <= lists.PAGE_SIZE
        seen += rows.evaluate_all("rows => rows.map(r => r.dataset.student)")
        ranks += [int(t) for t in page.locator("tr.student td:first-child").all_inner_texts()]
        following = page.locator("nav.pager a[rel=next]")
        if following.count() == 0:
            break
        following.click()
        page.wait_for_url("**page=*")
    assert len(seen) == len(set(seen)) == everyone
    assert ranks == sorted(ranks)
    shoot(page, "list-committee-last-page")


def test_the_lists_cells_say_what_the_plan_and_student_page_macros_say() -> None:
    """list.html writes out the cells that _student_row.html's macros render for the plan
    and the student page (macro calls were a third of a list page's rendering): the two
    must show a student the same way, in both languages."""
    import datetime as dt

    from starlette.requests import Request

    from serving import i18n
    from serving.accounts import User
    from serving.schemas import LastIntervention, ListedStudent, Reason, RiskList

    student = ListedStudent(
        student_id="S1",
        name="ด.ช. ทดสอบ <b>",
        school_id="A",
        advisor_id="T1",
        classroom="M1/1",
        grade_level="M1",
        rank_in_school=1,
        rank_in_advisor=1,
        risk=0.4567,
        risk_vs_school=3.5,
        tier="high",
        reasons=[
            Reason(feature="f", text_th="ขาดเรียน 6 จาก 20 วัน", text_en="absent 6 of 20 & more")
        ],
        suggested_step_th="เยี่ยมบ้าน",
        suggested_step_en="home visit",
        change="up",
        last_intervention=LastIntervention(
            date=dt.date(2026, 1, 5), type="home_visit", outcome="contacted"
        ),
    )
    user = User(1, "ครู", "advisor", "T1", "A", "advisor", False)
    request = Request(
        {"type": "http", "method": "GET", "path": "/list", "headers": [], "query_string": b""}
    )
    for lang in i18n.LANGUAGES:
        context = {"request": request, "user": user, "csrf": "x", **pages.page_words(lang)}
        page = pages.templates.env.get_template("list.html").render(
            context,
            school=None,
            listing=RiskList(as_of=dt.date(2026, 1, 5), model_version="1", students=[student]),
            classrooms=[],
            classroom=None,
            tier=None,
            page=1,
            more=False,
        )
        cells = re.findall(r"<td[^>]*>(.*?)</td>", page, flags=re.S)
        macros = pages.templates.env.from_string(
            '{% import "_student_row.html" as row with context %}'
            "{{ row.risk(s) }}|{{ row.reasons(s) }}|{{ row.step(s) }}|{{ row.last(s) }}"
        ).render(context, s=student)

        def plain(html: str) -> str:
            return " ".join(html.split())

        assert [plain(cells[i]) for i in (3, 4, 5, 7)] == [plain(m) for m in macros.split("|")]
        assert "&lt;b&gt;" in cells[1]  # names stay escaped


def test_a_double_click_on_save_makes_one_record_of_help(page, api: Api) -> None:  # type: ignore[no-untyped-def]
    """A teacher double-clicks "บันทึก" (two clicks 60 ms apart): Chromium sends the form
    twice, and each made a record, two phone calls for one. The page sends a form once
    (``forms.js``), and the form carries a key drawn with it: sent again without the page
    (no script, a retry), the same record; sent again for another record, told so."""
    _sign_in(page, api, "advisor")
    page.goto(f"{api.url}/students/{api.own_student}")
    form = "form[action$='/interventions']"
    before = _records_of(api)
    page.select_option(f"{form} select[name=type]", "phone_call")
    page.select_option(f"{form} select[name=outcome]", "done")
    key = page.locator(f"{form} input[name=once]").input_value()
    double_click(page, form)

    assert "?recorded=" in page.url
    assert _records_of(api) == before + 1
    # The page drew the form with a new key; the old one, sent for another record:
    assert page.locator(f"{form} input[name=once]").input_value() != key
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    sent = {
        "csrf": page.locator(f"{form} input[name=csrf]").input_value(),
        "once": key,
        "type": "phone_call",
        "outcome": "done",
    }
    with httpx.Client(base_url=api.url, cookies=cookies) as client:
        same = client.post(f"/students/{api.own_student}/interventions", data=sent)
        again = client.post(
            f"/students/{api.own_student}/interventions", data=sent | {"type": "letter"}
        )
    assert same.status_code == 303
    assert same.headers["location"].endswith(page.url.split("/students/")[1])
    assert again.status_code == 409
    assert "แบบฟอร์มนี้ส่งไปแล้ว" in again.text
    assert _records_of(api) == before + 1


def test_a_person_signed_out_comes_back_to_the_page_and_is_told_what_was_not_saved(
    page, api: Api
) -> None:  # type: ignore[no-untyped-def]
    """A session ends after a working day. A teacher who saved a record from a tab left
    open overnight was sent to the sign-in page, which said nothing, and after signing in
    to their list: the record was not made, and nobody told them. Now the sign-in page
    says so and leads back to the student's page; a link opened signed out leads, after
    sign-in, to the page it named."""
    student = f"/students/{api.own_student}"
    page.goto(f"{api.url}{student}?lang=th")  # a link from a message, signed out
    assert page.url.endswith("/login")
    api.forget_failed_attempts()
    page.fill("input[name=username]", api.usernames["advisor"])
    page.fill("input[name=password]", PASSWORDS["advisor"])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"**{student}?lang=th")

    form = "form[action$='/interventions']"
    page.select_option(f"{form} select[name=type]", "phone_call")
    page.select_option(f"{form} select[name=outcome]", "done")
    before = _records_of(api)
    page.context.clear_cookies()  # the session has ended
    page.click(f"{form} button[type=submit]")
    page.wait_for_url("**/login")
    assert "ยังไม่ได้บันทึก" in page.inner_text("p.error")
    assert _records_of(api) == before
    page.fill("input[name=username]", api.usernames["advisor"])
    page.fill("input[name=password]", PASSWORDS["advisor"])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"**{student}")
    assert page.locator("p.error").count() == 0  # said once, on the sign-in page
    # Never a page of another site: a browser takes "//example.org/list" for one.
    with httpx.Client() as client:
        client.get(httpx.URL(f"{api.url}//example.org/list"))
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get(f"{api.url}/login").text)
        api.forget_failed_attempts()
        signed_in = client.post(
            f"{api.url}/login",
            data={
                "csrf": csrf[1],
                "username": api.usernames["advisor"],
                "password": PASSWORDS["advisor"],
            },
        )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/"


def _records_of(api: Api) -> int:
    table = TABLES["interventions"]
    with api.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).where(
                    (table.c.school_id == api.school) & (table.c.student_id == api.own_student)
                )
            ).scalar_one()
        )
