"""A Thai page says everything in Thai: every word a page shows comes from the
translation tables, numbers, dates and names aside."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser

import httpx
import pytest
import sqlalchemy as sa

from schooldata.tables import TABLES, job_runs, score_runs, student_scores, users
from serving.accounts import create_user, set_password
from tests.serving.conftest import PASSWORDS, Api

THAI = re.compile(r"[\u0e00-\u0e7f]")
# Latin words a Thai page may show: names of methods and formats people use as they are.
KEPT_AS_IS = {
    "English",
    "ROC-AUC",
    "PR-AUC",
    "Brier",
    "PSI",
    "SMD",  # standardised mean difference, as PSI: a statistic named as it is
    "SDQ",
    "LightGBM",
    "ABC",
    "CSV",
    "Excel",
    "LibreOffice",
    "SHAP",
    "log-odds",
    "E-value",
    "recall",
    "precision",
    "average",
    "doubly",
    "robust",
    "token",
    "ews",
    "score",
    "effects",
    "EWS_SCHEDULER",
    "false",
    "name@school.ac.th",
    "Asia/Bangkok",
    "advisor_id",
    "csv",
    "xlsx",
    "xls",
    "ods",
    "txt",
    "Unicode",  # Thai Excel names the file type "ข้อความ Unicode (*.txt)"
    "G",
}
TOKEN = re.compile(r"[A-Za-z0-9_@./\-]+")


class _Text(HTMLParser):
    """The text a person reads on a page (not scripts or styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.texts.append(" ".join(data.split()))


def foreign_words(html: str, names: set[str]) -> list[str]:
    """The texts of a page with a word that is neither Thai, nor a number or code, nor
    a name of the data (school IDs, usernames) or a term kept as it is."""
    parser = _Text()
    parser.feed(html)
    found = []
    for text in parser.texts:
        for word in TOKEN.findall(text):
            word = word.strip(".-/")
            plain = not any(ch.isalpha() for ch in word) or any(ch.isdigit() for ch in word)
            if plain or word in KEPT_AS_IS or word in names:
                continue
            found.append(f"{text}  <- {word!r}")
            break
    return found


def _names(api: Api) -> set[str]:
    """Names the data holds (children's, staff usernames): shown as they are written."""
    students = TABLES["students"]
    with api.engine.connect() as connection:
        rows = connection.execute(sa.select(students.c.given_name, students.c.family_name)).all()
        people = connection.execute(sa.select(users.c.name, users.c.username)).all()
    words = {w for row in [*rows, *people] for part in row if part for w in str(part).split()}
    # A name as a page writes it: "ครูสมศรี (SSO)" has the word "SSO".
    return words | {w.strip("()") for w in words}


def _signed_in(api: Api, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=api.url, timeout=60, cookies={"lang": "th"})
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    reply = client.post(
        "/login", data={"csrf": csrf[1], "username": username, "password": password}
    )
    assert reply.status_code == 303
    return client


@pytest.fixture(scope="module")
def clients(api: Api) -> dict[str, httpx.Client]:
    people = {role: (api.usernames[role], PASSWORDS[role]) for role in PASSWORDS}
    for role, scope in (
        ("area", {"schools": [api.school, api.other_school]}),
        ("data_officer", {"school_id": api.school}),
    ):
        username = f"thai-{role.replace('_', '-')}"
        user, _ = create_user(api.engine, role, "ผู้ทดสอบ", username=username, **scope)
        set_password(api.engine, user.user_id, "thai-page-password", "tests", must_change=False)
        people[role] = (username, "thai-page-password")
    return {role: _signed_in(api, *who) for role, who in people.items()}


PAGES = [
    ("advisor", "/list"),
    ("advisor", "/students/{own}"),
    ("committee", "/list"),
    ("committee", "/plan"),
    ("committee", "/outcomes"),
    ("committee", "/upload"),
    ("data_officer", "/upload"),
    ("area", "/area"),
    ("analyst", "/area"),
    ("analyst", "/model"),
    ("analyst", "/outcomes"),
    ("admin", "/admin"),
    ("admin", "/admin/operations"),
    ("admin", "/admin/audit"),
    ("advisor", "/account"),
    ("advisor", "/password"),
    ("advisor", "/actions"),
    ("committee", "/actions"),
    ("area", "/area/actions"),
    ("analyst", "/area/actions"),
    ("area", "/area/referred"),
]


@pytest.mark.parametrize(("role", "path"), PAGES, ids=[f"{r} {p}" for r, p in PAGES])
def test_a_thai_page_shows_no_word_outside_the_translation_tables(
    api: Api, clients: dict[str, httpx.Client], role: str, path: str
) -> None:
    reply = clients[role].get(path.format(own=api.own_student))
    assert reply.status_code == 200

    found = foreign_words(reply.text, _names(api))
    assert found == [], "\n".join(found)


def test_an_upload_with_problems_is_explained_in_thai(
    api: Api, clients: dict[str, httpx.Client]
) -> None:
    client = clients["data_officer"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/upload").text)
    assert csrf is not None
    rows = "student_id,date,status\n" + f"{api.own_student},2025-03-03,มา\n" + "X1,2025-03-03,ไป\n"
    reply = client.post(
        "/upload",
        data={"csrf": csrf[1]},
        files={"files": ("attendance_upload.csv", rows.encode(), "text/csv")},
    )

    assert reply.status_code == 200
    assert "attendance_upload.csv" in reply.text
    assert "ต้องเป็นค่าใดค่าหนึ่ง: มา, ขาด, สาย, ลาป่วย, ลากิจ" in reply.text
    assert foreign_words(reply.text, _names(api) | {"attendance_upload.csv"}) == []


def test_a_form_error_is_in_thai(api: Api, clients: dict[str, httpx.Client]) -> None:
    client = clients["committee"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/plan").text)
    assert csrf is not None
    reply = client.post("/plan/capacity", data={"csrf": csrf[1], "capacity": "abc"})

    assert reply.status_code == 422
    assert "จำนวนที่เยี่ยมได้ต้องเป็นจำนวนเต็ม" in reply.text
    assert foreign_words(reply.text, _names(api) | {"abc"}) == []


def test_the_operations_page_says_how_long_each_run_took_in_thai(
    api: Api, clients: dict[str, httpx.Client]
) -> None:
    """A finished run's time showed as "5 s" on the Thai page."""
    started = datetime(2025, 6, 2, 6, 0, 0)
    with api.engine.begin() as connection:
        job_id = connection.execute(
            sa.insert(job_runs).values(
                kind="school",
                as_of=date(2025, 6, 2),
                school_id=api.school,
                attempt=91,
                status="done",
                trigger="upload",
                started_at=started,
                finished_at=started + timedelta(seconds=5),
            )
        ).inserted_primary_key[0]
    try:
        reply = clients["admin"].get("/admin/operations")

        assert "5 วินาที" in reply.text
        with api.engine.connect() as connection:
            newest = connection.execute(
                sa.select(score_runs.c.students)
                .order_by(score_runs.c.as_of.desc(), score_runs.c.run_id.desc())
                .limit(1)
            ).scalar_one()
        assert f"นักเรียน {newest:,} คน" in reply.text  # a count, as a sentence says it
        assert foreign_words(reply.text, _names(api)) == []
    finally:
        with api.engine.begin() as connection:
            connection.execute(sa.delete(job_runs).where(job_runs.c.job_id == job_id))


def test_the_student_page_suggests_a_next_step_only_for_a_student_on_the_list(
    api: Api, clients: dict[str, httpx.Client]
) -> None:
    """A step is for a flagged student; a student at low risk had the heading "สิ่งที่ควร
    ทำต่อ:" with nothing after it."""
    scores, runs = student_scores, score_runs
    with api.engine.connect() as connection:
        newest = connection.execute(sa.select(sa.func.max(runs.c.run_id))).scalar()
        tiers = dict(
            connection.execute(
                sa.select(scores.c.student_id, scores.c.tier).where(
                    (scores.c.run_id == newest) & (scores.c.school_id == api.school)
                )
            ).all()
        )
    low = next(s for s, tier in tiers.items() if tier == "low")
    flagged = next(s for s, tier in tiers.items() if tier in ("high", "watch"))

    assert "สิ่งที่ควรทำต่อ" not in clients["committee"].get(f"/students/{low}").text
    assert "สิ่งที่ควรทำต่อ" in clients["committee"].get(f"/students/{flagged}").text


def test_a_plan_that_reaches_students_off_the_list_shows_no_empty_step(
    api: Api, clients: dict[str, httpx.Client]
) -> None:
    """A school whose capacity reaches past its flagged students visits some at low risk:
    their cards read "สิ่งที่ควรทำต่อ: ·" with no step."""
    client = clients["committee"]
    schools = TABLES["schools"]
    with api.engine.connect() as connection:
        before = connection.execute(
            sa.select(schools.c.home_visit_capacity).where(schools.c.school_id == api.school)
        ).scalar()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/plan").text)
    assert csrf is not None
    try:
        reply = client.post("/plan/capacity", data={"csrf": csrf[1], "capacity": "500"})
        assert reply.status_code == 303
        page = client.get("/plan").text

        assert 'class="tier low"' in page or "ปกติ" in page  # students off the list visited
        assert not re.search(r"สิ่งที่ควรทำต่อ:</b>\s*·", page)
    finally:
        with api.engine.begin() as connection:
            connection.execute(
                sa.update(schools)
                .where(schools.c.school_id == api.school)
                .values(home_visit_capacity=before)
            )
