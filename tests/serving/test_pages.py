"""Every user served, in a real headless Chromium against a real server: a teacher's own
password, the admin's page, the area office, the analyst's pages and each list checked
against what happened. Screenshots at desktop and phone width go to build/screenshots/.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any

import httpx
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from riskmodel.benefit import TROUBLE_FLAGS, VisitBenefit
from schooldata.identity import settle_shared_ids
from schooldata.tables import TABLES, audit_log, list_outcomes, score_runs, student_scores
from serving import area, store
from serving.accounts import Caller, User, create_user, find_by_username, set_password
from serving.routes import area_pages
from serving.scoring import weekly_run
from tests.serving.conftest import (
    DESKTOP,
    WEEKS,
    Api,
    double_click,
    open_referrals,
    shoot,
    sign_in,
)
from training.effects import EffectsReport, log_effects, measure_effects
from training.outcomes import check_past_lists

FIRST_TERM_WEEK = "2024-08-05"
# The synthetic schools number their students from 10001 (synth.output.school_codes).
STUDENT_ID = re.compile(r"(?<![\d,.])1\d{4}(?![\d,.])")


@pytest.fixture(autouse=True)
def _fresh_limits(api: Api) -> None:
    api.forget_failed_attempts()


def _account(api: Api, role: str, username: str, password: str, **scope: Any) -> int:
    user, _ = create_user(api.engine, role, f"{role} {username}", username=username, **scope)
    set_password(api.engine, user.user_id, password, "tests", must_change=False)
    return user.user_id


def _latest(api: Api) -> pd.DataFrame:
    with api.engine.connect() as connection:
        run = connection.execute(
            sa.select(sa.func.max(score_runs.c.run_id)).where(score_runs.c.as_of == WEEKS[-1])
        ).scalar()
        return pd.DataFrame(
            connection.execute(
                sa.select(
                    student_scores.c.student_id, student_scores.c.school_id, student_scores.c.tier
                ).where(student_scores.c.run_id == run)
            ).all()
        )


def _names(api: Api, schools: list[str]) -> dict[tuple[str, str], str]:
    students = TABLES["students"]
    with api.engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                students.c.school_id,
                students.c.student_id,
                students.c.given_name,
                students.c.family_name,
            ).where(students.c.school_id.in_(schools))
        ).all()
    return {
        (r.school_id, r.student_id): f"{r.given_name} {r.family_name}" for r in rows if r.given_name
    }


def test_a_teacher_signs_in_with_a_temporary_password_and_sets_their_own(
    page: Any, api: Api
) -> None:
    assert (api.school, api.own_student) in set(
        zip(*_latest(api)[["school_id", "student_id"]].T.values, strict=True)
    )
    user, _ = create_user(
        api.engine,
        "advisor",
        "ครูใหม่",
        staff_id=_advisor_of(api, api.own_student),
        school_id=api.school,
        username="teacher-new",
    )
    set_password(api.engine, user.user_id, "temporary-123", "tests", must_change=True)

    sign_in(page, api.url, "teacher-new", "temporary-123")
    page.wait_for_url("**/password")
    page.goto(f"{api.url}/list")  # nothing else opens before the password is changed
    assert page.url.endswith("/password")
    shoot(page, "password")
    page.fill("input[name=current]", "temporary-123")
    page.fill("input[name=new]", "my own passphrase 42")
    page.fill("input[name=again]", "my own passphrase 42")
    page.click("form[action='/password'] button[type=submit]")
    page.wait_for_url("**/list")
    assert page.locator("tr.student").count() > 0

    page.click("header form button")  # sign out
    page.wait_for_url("**/login")
    shoot(page, "login")
    sign_in(page, api.url, "teacher-new", "temporary-123")
    assert page.locator("p.error").count() == 1
    sign_in(page, api.url, "teacher-new", "my own passphrase 42")
    page.wait_for_url("**/list")
    page.goto(f"{api.url}/account")  # their own name, weekly message and password
    page.fill("form.name input[name=name]", "ครูใหม่ ใจดี")
    page.click("form.name button[type=submit]")
    page.wait_for_selector("p.notice")
    assert page.input_value("form.name input[name=name]") == "ครูใหม่ ใจดี"
    shoot(page, "account")


def _advisor_of(api: Api, student: str) -> str:
    with api.engine.connect() as connection:
        return str(
            connection.execute(
                sa.select(student_scores.c.advisor_id)
                .where(
                    (student_scores.c.school_id == api.school)
                    & (student_scores.c.student_id == student)
                )
                .limit(1)
            ).scalar()
        )


def test_an_admin_who_double_clicks_create_sees_the_new_accounts_temporary_password(
    page: Any, api: Api
) -> None:
    """The browser shows the answer to the last sending: a double click on "create
    account" showed the second's, "the username is taken", and the temporary password,
    shown once in the first answer, was lost (and on the demo, two requests migrating at
    once answered 500). A form's second click while its answer is on its way sends
    nothing: one account, and its password on the screen."""
    sign_in(page, api.url, api.usernames["admin"], "test-password-of-admin")
    page.wait_for_url("**/admin")
    page.locator("details.card summary").first.click()
    form = "form[action='/admin/accounts']"
    page.select_option(f"{form} select[name=role]", "analyst")
    page.fill(f"{form} input[name=name]", "นักวิเคราะห์ คลิกสองที")
    page.fill(f"{form} input[name=username]", "double-click-analyst")
    double_click(page, form)

    assert page.locator("p.error").count() == 0
    temporary = page.locator("code.secret").inner_text().strip()
    assert len(temporary) >= 12
    made = find_by_username(api.engine, "double-click-analyst")
    assert made is not None
    page.context.clear_cookies()
    sign_in(page, api.url, "double-click-analyst", temporary)  # the password shown is its own
    page.wait_for_url("**/password")


def test_an_admin_resets_a_password_and_deactivates_an_account_whose_sessions_end(
    browser: Any, api: Api
) -> None:
    _account(api, "committee", "committee-two", "committee-pass-1", school_id=api.school)
    province = pd.read_sql(
        sa.text("SELECT province FROM schools WHERE school_id = :s"),
        api.engine,
        params={"s": api.school},
    )["province"].iloc[0]
    _account(api, "area", "area-of-a-province", "area-pass-1", province=province)
    theirs = browser.new_context(viewport=DESKTOP)
    admins = browser.new_context(viewport=DESKTOP)
    member, admin = theirs.new_page(), admins.new_page()
    sign_in(member, api.url, "committee-two", "committee-pass-1")
    member.wait_for_url("**/list")

    sign_in(admin, api.url, api.usernames["admin"], "test-password-of-admin")
    admin.wait_for_url("**/admin")
    row = admin.locator("tr[data-username='committee-two']")
    row.locator("button.reset").click()
    admin.wait_for_load_state()
    temporary = admin.locator("code.secret").inner_text().strip()
    assert len(temporary) >= 12
    shoot(admin, "admin")
    admin.click("details.schools summary")  # a school to add before any file of it
    assert admin.locator("details.schools select[name=affiliation] option").count() == 8
    shoot(admin, "admin-add-school")
    # An area office of a province: its province and the schools of it so far.
    scope = admin.locator("tr[data-username='area-of-a-province'] td").nth(3).inner_text()
    assert scope.startswith(f"จังหวัด {province}: ")
    assert api.school in scope

    member.goto(f"{api.url}/list")  # a reset signs out whoever held the account
    assert member.url.endswith("/login")
    sign_in(member, api.url, "committee-two", temporary)
    member.wait_for_url("**/password")

    # Deactivation asks first: the first click only opens the question.
    admin.locator("tr[data-username='committee-two'] summary.deactivate").click()
    assert admin.locator("tr[data-username='committee-two'].inactive").count() == 0
    admin.locator("tr[data-username='committee-two'] button.deactivate-confirm").click()
    admin.wait_for_load_state()
    assert admin.locator("tr[data-username='committee-two'].inactive").count() == 1
    member.goto(f"{api.url}/password")
    assert member.url.endswith("/login")  # the session ended with the account
    sign_in(member, api.url, "committee-two", temporary)
    assert member.locator("p.error").count() == 1
    theirs.close()
    admins.close()


def test_an_area_office_sees_its_schools_figures_and_no_name(
    page: Any, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    latest = _latest(api)
    schools = [api.school, api.other_school]
    referred = latest[
        (latest["school_id"] == api.school) & (latest["student_id"] != api.own_student)
    ]
    referred_id = str(referred["student_id"].iloc[-1])
    recorded = api.post(
        "/api/v1/interventions",
        "committee",
        {
            "student_id": referred_id,
            "date": WEEKS[-1],
            "type": "external_referral",
            "outcome": "done",
        },
    )
    assert recorded.status_code == 201, recorded.text
    # A second referral of the same child: one child to follow, not two.
    again = api.post(
        "/api/v1/interventions",
        "committee",
        {"student_id": referred_id, "date": WEEKS[-1], "type": "health_referral"},
    )
    assert again.status_code == 201, again.text
    # A child who dropped out before the week, on no list now: still followed.
    left_id = _leaver(api, latest)
    gone = api.post(
        "/api/v1/interventions",
        "committee",
        {"student_id": left_id, "date": WEEKS[-1], "type": "external_referral"},
    )
    assert gone.status_code == 201, gone.text
    _account(api, "area", "area-office", "area-password-1", schools=schools)

    sign_in(page, api.url, "area-office", "area-password-1")
    page.wait_for_url("**/area")
    shoot(page, "area")
    # No label without a figure (a phone shows each cell's label).
    assert page.locator("table.area td[data-label]:empty").count() == 0

    shown = page.locator("tr.school").evaluate_all("rows => rows.map(r => r.dataset.school)")
    assert sorted(shown) == sorted(schools)
    mine = latest[latest["school_id"] == api.school]
    high = page.locator(f"tr[data-school='{api.school}'] .tier.high").inner_text()
    assert int(high) == int((mine["tier"] == "high").sum())
    # The area page counts; the children referred outside are named on a page of their
    # own, opened from the count (and read, audited, only there).
    names = _names(api, schools)
    text = page.inner_text("main")
    assert not [n for n in names.values() if n in text]
    to_follow = _open_referrals(api, schools)
    assert page.locator("a.referred-link").inner_text().endswith(f"({len(to_follow)})")
    page.locator("a.referred-link").click()
    page.wait_for_url("**/area/referred")
    shoot(page, "area-referred")
    text = page.inner_text("main")
    listed = _referred_rows(page)
    referred_key = (api.school, referred_id)
    assert referred_key in listed
    assert listed == to_follow
    on_list = page.inner_text(f"tr.referred[data-student='{referred_id}']")
    assert "ไม่อยู่ในรายชื่อสัปดาห์นี้" not in on_list
    off_list = page.inner_text(f"tr.referred[data-student='{left_id}']")
    assert "ไม่อยู่ในรายชื่อสัปดาห์นี้" in off_list
    assert "ออกกลางคัน เมื่อ" in off_list  # how they left, and when
    allowed = {names[s] for s in listed if s in names}
    assert names[referred_key] in text
    assert not [n for n in names.values() if n in text and n not in allowed]
    # A page at a time (here one child a page; the server runs in this process).
    monkeypatch.setattr(area_pages, "REFERRED_PAGE", 1)
    page.reload()
    paged: list[tuple[str, str]] = []
    while True:
        paged += sorted(_referred_rows(page))
        following = page.locator("nav.pager a[rel=next]")
        if following.count() == 0:
            break
        following.click()
        page.wait_for_url("**page=*")
    assert len(paged) == len(set(paged)) == len(listed) >= 2
    assert set(paged) == listed
    monkeypatch.undo()
    # One school's, from its count on the area page, under the school's name.
    page.goto(f"{api.url}/area")
    page.locator(f"tr[data-school='{api.school}'] a[href^='/area/referred']").click()
    page.wait_for_load_state()
    assert _referred_rows(page) == {k for k in to_follow if k[0] == api.school}
    schools_table = TABLES["schools"]
    with api.engine.connect() as connection:
        school_name = connection.execute(
            sa.select(schools_table.c.name).where(schools_table.c.school_id == api.school)
        ).scalar_one()
    assert page.inner_text("p.referred-total").startswith(f"{school_name} {api.school}:")
    assert school_name in page.inner_text(f"tr.referred[data-school='{api.school}']")
    # A page at a time, each child once, and only the page's children read.
    office = find_by_username(api.engine, "area-office")
    assert office is not None
    caller = Caller(office, "GET /area/referred")
    with api.engine.connect() as connection:
        audited = connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar()
    pages = [area.referred_cases(api.engine, caller, offset=n, limit=1) for n in range(len(listed))]
    assert {(p.cases[0].school_id, p.cases[0].student_id) for p in pages} == listed
    assert {p.total for p in pages} == {len(listed)}
    assert area.referred_cases(api.engine, caller, offset=len(listed), limit=1).cases == []
    with api.engine.connect() as connection:
        reads = connection.execute(
            sa.select(audit_log.c.school_id, audit_log.c.student_id).where(
                audit_log.c.audit_id > audited
            )
        ).all()
    assert sorted(tuple(r) for r in reads) == sorted(listed)
    assert page.goto(f"{api.url}/students/{referred_id}").status == 404
    assert page.goto(f"{api.url}/list.csv").status == 404

    figures = _area_api(api, "area-office", "area-password-1")
    assert {(c["school_id"], c["student_id"]) for c in figures["referred"]} == listed
    by_school = {s["school_id"]: s for s in figures["schools"]}
    assert by_school[api.school]["high"] == int(high)
    # Counted by the database, for an area office and an analyst alike: the children the
    # referred page names, each once.
    _account(api, "analyst", "analyst-referrals", "analyst-password-1")
    country = {
        s["school_id"]: s
        for s in _area_api(api, "analyst-referrals", "analyst-password-1")["schools"]
    }
    children = Counter(school for school, _ in listed)
    assert children[api.school] >= 1
    for school in schools:
        assert (
            by_school[school]["open_referrals"]
            == country[school]["open_referrals"]
            == children[school]
        )
        assert by_school[school]["high_with_action_30d"] == country[school]["high_with_action_30d"]


def test_an_area_office_sees_how_many_ids_each_school_must_correct(page: Any, api: Api) -> None:
    """Two students of a school given one ID (a column filled down): linked by it to
    nobody until the school corrects it, and the area office, which follows the school's
    data, sees how many to chase. Restored after."""
    students, enrolled = TABLES["students"], TABLES["enrollments"]
    with api.engine.begin() as connection:
        term = connection.execute(
            sa.select(enrolled.c.academic_year, enrolled.c.term)
            .where(enrolled.c.school_id == api.other_school)
            .order_by(enrolled.c.academic_year.desc(), enrolled.c.term.desc())
            .limit(1)
        ).one()
        two = connection.execute(
            sa.select(students.c.student_id, students.c.national_id_hash)
            .join(
                enrolled,
                (enrolled.c.school_id == students.c.school_id)
                & (enrolled.c.student_id == students.c.student_id),
            )
            .where(
                students.c.school_id == api.other_school,
                students.c.national_id_hash.is_not(None),
                enrolled.c.academic_year == term.academic_year,
                enrolled.c.term == term.term,
            )
            .order_by(students.c.student_id)
            .limit(2)
        ).all()
    mine = (students.c.school_id == api.other_school) & (students.c.student_id == two[1][0])

    def give(national_id_hash: str) -> None:
        with api.engine.begin() as connection:
            connection.execute(
                sa.update(students).where(mine).values(national_id_hash=national_id_hash)
            )
            settle_shared_ids(connection, [api.other_school])

    give(two[0][1])
    try:
        _account(api, "area", "area-ids", "area-password-2", schools=[api.school, api.other_school])
        sign_in(page, api.url, "area-ids", "area-password-2")
        page.wait_for_url("**/area")
        shown = page.locator(f"tr[data-school='{api.other_school}'] .ids-to-correct").inner_text()
        assert "นักเรียน 2 คนมีเลขประจำตัวประชาชนซ้ำ" in shown
        assert page.locator(f"tr[data-school='{api.school}'] .ids-to-correct").count() == 0
        shoot(page, "area-ids")
        figures = {
            s["school_id"]: s for s in _area_api(api, "area-ids", "area-password-2")["schools"]
        }
        assert (figures[api.other_school]["shared_ids"], figures[api.school]["shared_ids"]) == (
            2,
            0,
        )
    finally:
        give(two[1][1])
    with api.engine.connect() as connection:
        keys = (
            connection.execute(
                sa.select(students.c.person_id).where(
                    students.c.school_id == api.other_school,
                    students.c.student_id.in_([code for code, _ in two]),
                )
            )
            .scalars()
            .all()
        )
    assert all(key.startswith("n:") for key in keys)  # linked again, as before


def test_a_followed_school_that_has_sent_nothing_this_term_comes_first(page: Any, api: Api) -> None:
    """A school of the area in the schools file whose enrolments of the term have not
    come is the stalest of all, not a school with nobody at risk."""
    with api.engine.begin() as connection:
        connection.execute(
            sa.insert(TABLES["schools"]).values(school_id="C9001", name="โรงเรียนบ้านใหม่")
        )
    _account(api, "area", "area-new-school", "area-password-2", schools=[api.school, "C9001"])

    figures = _area_api(api, "area-new-school", "area-password-2")
    new = {s["school_id"]: s for s in figures["schools"]}["C9001"]
    assert (new["stale"], new["enrolled"], new["newest_attendance"]) == (True, 0, None)
    sign_in(page, api.url, "area-new-school", "area-password-2")
    page.wait_for_url("**/area")
    shoot(page, "area-school-without-files")
    assert page.locator("tr.school").first.get_attribute("data-school") == "C9001"
    assert "ยังไม่ส่งรายชื่อนักเรียนของภาคเรียนนี้" in page.inner_text("tr[data-school='C9001']")
    assert "ข้อมูลไม่เป็นปัจจุบัน 1 โรงเรียน" in page.inner_text("main")


def _leaver(api: Api, latest: pd.DataFrame) -> str:
    """The code of a child of the school who dropped out before the latest week and is on
    no list of it, the latest to leave."""
    exits = TABLES["exits"]
    with api.engine.connect() as connection:
        rows = connection.execute(
            sa.select(exits.c.student_id)
            .where(
                (exits.c.school_id == api.school)
                & (exits.c.exit_type == "dropout")
                & (exits.c.exit_date <= date.fromisoformat(WEEKS[-1]))
            )
            .order_by(exits.c.exit_date.desc())
        ).scalars()
        listed = set(latest.loc[latest["school_id"] == api.school, "student_id"])
        leaver = next((code for code in rows if code not in listed), None)
    assert leaver is not None, "the test data has no child who dropped out of the school"
    return str(leaver)


def _referred_rows(page: Any) -> set[tuple[str, str]]:
    """The children (school, code) of a page of referred children."""
    return {
        tuple(pair)
        for pair in page.locator("tr.referred").evaluate_all(
            "r => r.map(x => [x.dataset.school, x.dataset.student])"
        )
    }


def _open_referrals(api: Api, schools: list[str]) -> set[tuple[str, str]]:
    """Students (school, code) of the schools with an open referral outside their school
    in the latest week: straight from the tables."""
    return open_referrals(api.engine, schools, date.fromisoformat(WEEKS[-1]))


def _area_api(api: Api, username: str, password: str) -> dict[str, Any]:
    """The same figures through the JSON API, with a token of the same account."""
    with api.engine.connect() as connection:
        user_id = connection.execute(
            sa.text("select user_id from users where username = :u"), {"u": username}
        ).scalar()
    from serving.accounts import rotate_token

    token = rotate_token(api.engine, int(user_id), "tests")
    answer = httpx.get(
        f"{api.url}/api/v1/area", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_area_figures_are_refused_to_school_roles(api: Api) -> None:
    assert api.get("/api/v1/area", "advisor").status_code == 403
    assert api.get("/api/v1/area", "committee").status_code == 403
    every = api.get("/api/v1/area", "analyst").json()
    assert {s["school_id"] for s in every["schools"]} >= {api.school, api.other_school}
    assert every["referred"] == []  # an analyst sees no name


def test_an_analyst_sees_the_model_pages_and_no_student(page: Any, api: Api) -> None:
    # The small test data's reference holds first-term weeks only: score one of those.
    weekly_run(api.engine, api.scorer, pd.Timestamp(FIRST_TERM_WEEK))
    effects = measure_effects(api.settings, api.engine, 180)  # the analyst's step, to MLflow
    sign_in(page, api.url, api.usernames["analyst"], "test-password-of-analyst")
    page.wait_for_url("**/model")
    # The test world trains one version: the champion alone has the column's width, and
    # the note that nothing waits stands above it, not in an empty card beside it.
    assert page.locator("section.version").count() == 1
    champion = page.locator("section.version").bounding_box()
    versions = page.locator("div.versions").bounding_box()
    assert champion is not None and versions is not None  # noqa: PT018
    assert champion["width"] == pytest.approx(versions["width"], abs=1)
    assert page.locator("div.versions > .card").count() == 1
    assert page.get_by_text("ยังไม่มีแบบจำลองใหม่ที่รอเทียบ").is_visible()
    assert page.locator("section.version table.metrics tbody tr").count() >= 4
    loaded = page.locator("section.version img").evaluate_all(
        "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
    )
    assert loaded and all(loaded)  # noqa: PT018
    assert page.locator("table.fairness tbody tr").count() > 3
    # Found in time by group: every nationality, poverty, disability and sex group; the
    # small test world's groups have too few leavers to judge, so they show counts.
    found = page.locator("table.found-by-group tbody tr")
    assert found.count() > 3
    assert re.search(r"\b\d+/\d+\b", found.first.inner_text())
    assert page.locator("table.found-by-group tr.too-few").count() == found.count()
    assert page.locator("table.drift tbody tr").count() > 0
    assert page.locator("table.promotions tbody tr").count() >= 1
    shown = page.locator("table.effects tbody tr")
    assert shown.count() == len(effects.effects) > 0
    assert STUDENT_ID.search(page.locator("table.effects").inner_text()) is None
    shoot(page, "model")

    names = _names(api, [api.school, api.other_school])
    for path in ("/model", "/area", "/outcomes"):
        page.goto(f"{api.url}{path}")
        text = page.inner_text("main")
        assert not STUDENT_ID.findall(text), path
        assert not [n for n in names.values() if n in text], path
    page.goto(f"{api.url}/area")
    shoot(page, "area-analyst")
    page.goto(f"{api.url}/list")
    assert page.locator("tr.student").count() == 0
    assert page.goto(f"{api.url}/students/{api.own_student}").status == 404
    assert page.goto(f"{api.url}/plan").status == 404
    assert page.goto(f"{api.url}/area/referred").status == 404  # counts, never names


@pytest.fixture(scope="module")
def judged(api: Api) -> pd.DataFrame:
    """The stored lists judged against what happened, with a horizon the test data has
    passed."""
    # A list of a week whose horizon has passed (the analyst's test may have made it too;
    # a second run of a week replaces the first).
    weekly_run(api.engine, api.scorer, pd.Timestamp(FIRST_TERM_WEEK))
    check_past_lists(api.settings, api.engine, horizon_days=60)
    with api.engine.connect() as connection:
        return pd.DataFrame(connection.execute(sa.select(list_outcomes)).mappings().all())


def test_a_committee_sees_its_schools_lead_time_figures(
    page: Any, api: Api, judged: pd.DataFrame
) -> None:
    mine = judged[judged["school_id"] == api.school]
    assert len(mine) >= 1 and judged["school_id"].nunique() > 1  # noqa: PT018

    sign_in(page, api.url, api.usernames["committee"], "test-password-of-committee")
    page.wait_for_url("**/list")
    page.goto(f"{api.url}/outcomes")
    shoot(page, "outcomes")

    rows = page.locator("tr.outcome")
    assert rows.count() == len(mine)
    for record in mine.to_dict("records"):
        row = page.locator(
            f"tr.outcome[data-version='{record['model_version']}']"
            f"[data-term='{record['term']}/{record['academic_year']}']"
        )
        cells = row.locator("td").all_inner_texts()
        assert cells[3] == str(record["left"])
        assert cells[4].split()[0] == str(record["found"])
        assert cells[7] == str(record["planned_in_time"])
        assert cells[8] == str(record["planned_8w"])
        assert cells[9] == str(record["missed"])
    assert page.locator("h2", has_text="รายโรงเรียน").count() == 0  # no other school


def test_the_analyst_sees_every_schools_outcomes(page: Any, api: Api, judged: pd.DataFrame) -> None:
    sign_in(page, api.url, api.usernames["analyst"], "test-password-of-analyst")
    page.wait_for_url("**/model")
    page.goto(f"{api.url}/outcomes")
    shoot(page, "outcomes-analyst")
    per_school = page.locator("table.outcomes").nth(1).locator("tbody tr")
    assert per_school.count() == len(judged)


def test_outcomes_judged_without_daily_records_equal_those_judged_with_every_source(
    api: Api, judged: pd.DataFrame
) -> None:
    from features.sources import Sources
    from training.labels import label_rules
    from training.outcomes import OUTCOME_SOURCES, judge_lists, list_histories, list_history

    every = Sources.from_database(api.engine)
    needed = Sources.from_database(api.engine, only=OUTCOME_SOURCES)
    assert every.attendance is not None and every.grades is not None  # noqa: PT018
    assert needed.attendance is None and needed.grades is None  # noqa: PT018
    history, rules = list_history(api.engine), label_rules(api.engine, 60)
    full, judged_here = judge_lists([history], every, rules), judge_lists([history], needed, rules)

    key = ["model_version", "school_id", "academic_year", "term"]
    stored = judged.drop(columns="computed_at").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        full.rows.sort_values(key).reset_index(drop=True), stored, check_dtype=False
    )
    (plans,), (plans_here,) = full.on_plans, judged_here.on_plans
    assert plans.overall == plans_here.overall
    pd.testing.assert_frame_equal(plans.by_group, plans_here.by_group)
    assert set(plans.by_group["attribute"]) >= {"poverty", "sex"}
    # A school at a time (as a country's lists are judged: never all at once), the same.
    parts = list(list_histories(api.engine, rows_at_once=1))
    assert len(parts) == history["school_id"].nunique() > 1
    apart = judge_lists(parts, needed, rules)
    pd.testing.assert_frame_equal(
        apart.rows.sort_values(key).reset_index(drop=True), stored, check_dtype=False
    )
    (plans_apart,) = apart.on_plans
    assert plans_apart.overall == plans.overall
    pd.testing.assert_frame_equal(plans_apart.by_group, plans.by_group)


def test_ews_outcomes_prints_and_logs_found_in_time_on_the_plans_by_group(
    api: Api, judged: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from typer.testing import CliRunner

    from ews.cli import app as cli
    from riskmodel.registry import OUTCOMES_EXPERIMENT

    monkeypatch.setenv("EWS_DATABASE_URL", api.settings.database_url)
    monkeypatch.setenv("EWS_MLFLOW_TRACKING_URI", api.settings.mlflow_tracking_uri)
    monkeypatch.setenv("EWS_MLFLOW_ARTIFACT_ROOT", str(api.settings.mlflow_artifact_root))
    result = CliRunner().invoke(cli, ["outcomes", "--horizon-days", "60"], env={"COLUMNS": "240"})

    assert result.exit_code == 0, result.output
    found = re.search(
        r"v(\d+), every judged list, each child once: of (\d+) who left", result.output
    )
    assert found is not None, result.output
    # One term and one list a child here: each child once is each school term's sum.
    assert int(found.group(2)) == judged["left"].sum()
    assert "Found in time by group" in result.output
    # A row of the group table for each attribute: "│ sex  │ M  │ 1 │ 1/1 (too few...".
    for attribute in ("nationality", "poverty", "disability", "sex"):
        assert re.search(rf"│ {attribute} +│ [^│]+│ +\d+ │", result.output), attribute
    mlflow.set_tracking_uri(api.settings.mlflow_tracking_uri)
    runs = mlflow.search_runs(
        experiment_names=[OUTCOMES_EXPERIMENT], order_by=["attributes.start_time DESC"]
    )
    assert runs.iloc[0]["metrics.plans.left"] == judged["left"].sum()


def _benefit_model(api: Api) -> VisitBenefit:
    """A benefit model as ``ews effects`` logs it: a LightGBM model of the addressable
    chance over the served model's inputs (here learnt from the stored risks, so that it
    ranks students differently from the risk order only through its log-odds)."""
    with api.engine.connect() as connection:
        rows = connection.execute(
            sa.select(student_scores.c.contributions, student_scores.c.risk)
        ).all()
    features = api.scorer.features
    values = [
        {c["feature"]: c["value"] for c in store.read_contributions(r.contributions, features)}
        for r in rows
    ]
    x = np.array([[v.get(f, np.nan) for f in features] for v in values], dtype=float)
    x = np.where(pd.isna(x), np.nan, x)
    noise = np.random.default_rng(0).random(len(rows))
    label = (noise < np.array([r.risk for r in rows]) * 3).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 4, "verbosity": -1, "min_data_in_leaf": 5},
        lgb.Dataset(x, label),
        num_boost_round=10,
    )
    return VisitBenefit(
        features=features,
        model=booster.model_to_string(),
        log_odds_effect=-0.3,
        effect=-0.01,
        low=-0.02,
        high=-0.002,
        horizon_days=180,
        made_at="2026-01-05 10:00",
        trouble_log_odds_effect=-1.5,  # a visit helps attendance or family trouble more
    )


def test_an_analyst_turns_on_the_benefit_order_and_the_committee_sees_both_orders(
    page: Any, api: Api
) -> None:
    benefit = _benefit_model(api)
    why = (
        "benefit order available: a visit shifts the log-odds of leaving for a reason it can "
        "address by -0.40 (learnt from 120 visits); one effect for everyone: "
        "the visits were not estimated by group"
    )
    log_effects(api.settings, EffectsReport([], {}, 0, benefit=benefit, benefit_why=why), 180)
    committee = f"/api/v1/schools/{api.school}/home-visit-plan"
    assert api.get(committee, "committee").json()["by_benefit"] is None  # off by default

    sign_in(page, api.url, api.usernames["analyst"], "test-password-of-analyst")
    page.wait_for_url("**/model")
    row = page.locator(f"table.plan-orders tr[data-school='{api.school}']")
    # The analyst's page is in Thai, so is what the estimate rests on.
    assert "เรียนรู้จากการเยี่ยม 120 ครั้ง" in page.inner_text("p.benefit-why")
    row.locator("button").click()
    page.wait_for_url("**/model")
    assert page.locator(f"table.plan-orders tr[data-school='{api.school}'] b").count() == 1
    assert page.locator(f"table.plan-orders tr[data-school='{api.other_school}'] b").count() == 0
    shoot(page, "model-benefit-order")
    with api.engine.connect() as connection:
        written = (
            connection.execute(
                sa.select(audit_log.c.detail).where(
                    audit_log.c.endpoint == "POST /model/benefit-order"
                )
            )
            .scalars()
            .all()
        )
    assert written == [f"benefit order on for {api.school}"]

    plan = api.get(committee, "committee").json()
    by_risk, by_benefit = plan["students"], plan["by_benefit"]
    assert len(by_benefit) == len(by_risk) == plan["capacity"] > 0
    gains = [s["visit_benefit"] for s in by_benefit]
    assert gains == sorted(gains, reverse=True) and gains[0] > 0  # noqa: PT018
    expected = benefit.estimate([_inputs(api, s["student_id"], plan["as_of"]) for s in by_benefit])
    assert [round(e.benefit, 9) for e in expected] == [round(g, 9) for g in gains]
    assert plan["benefit_effect"] == pytest.approx(-0.01)
    reasons = [[r["feature"] for r in s["benefit_reasons"]] for s in by_benefit]
    assert reasons == [e.drivers for e in expected]
    flagged = [r for r in reasons if r and r[0] in TROUBLE_FLAGS]
    assert flagged  # students in trouble come first, the flag as their first reason

    page.context.clear_cookies()
    sign_in(page, api.url, api.usernames["committee"], "test-password-of-committee")
    page.wait_for_url("**/list")
    page.goto(f"{api.url}/plan")
    assert page.locator("section.by-risk .card.visit").count() == len(by_risk)
    assert page.locator("section.by-benefit .card.visit").count() == len(by_benefit)
    assert page.locator("section.by-benefit p.benefit").count() == len(by_benefit)
    first = page.locator("section.by-benefit .card.visit").first.get_attribute("data-student")
    assert first == by_benefit[0]["student_id"]
    shoot(page, "plan-benefit")

    # Turned off, the committee sees the risk order alone again.
    from serving.records import set_benefit_order

    analyst = _analyst(api)
    set_benefit_order(api.engine, Caller(analyst, "tests"), api.school, False, available=True)
    assert api.get(committee, "committee").json()["by_benefit"] is None


def test_the_benefit_order_cannot_be_turned_on_without_a_model_or_by_others(api: Api) -> None:
    from serving.records import InvalidInput, NotVisible, set_benefit_order

    with pytest.raises(InvalidInput, match="no benefit model"):
        set_benefit_order(
            api.engine, Caller(_analyst(api), "tests"), api.school, True, available=False
        )
    committee = _user(api, "committee")
    with pytest.raises(NotVisible):
        set_benefit_order(api.engine, Caller(committee, "tests"), api.school, True, available=True)


def _inputs(api: Api, student_id: str, as_of: str) -> dict[str, float | None]:
    """The model inputs stored for a student in the newest run of that week."""
    with api.engine.connect() as connection:
        stored = connection.execute(
            sa.select(student_scores.c.contributions, score_runs.c.features)
            .join(score_runs, score_runs.c.run_id == student_scores.c.run_id)
            .where(
                (student_scores.c.school_id == api.school)
                & (student_scores.c.student_id == student_id)
                & (score_runs.c.as_of == pd.Timestamp(as_of).date())
            )
            .order_by(student_scores.c.run_id.desc())
        ).first()
    assert stored is not None
    names = store.feature_names(stored.features)
    return {c["feature"]: c["value"] for c in store.read_contributions(stored.contributions, names)}


def _user(api: Api, role: str) -> User:
    user = find_by_username(api.engine, api.usernames[role])
    assert user is not None
    return user


def _analyst(api: Api) -> User:
    return _user(api, "analyst")
