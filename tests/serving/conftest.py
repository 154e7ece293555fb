"""A real uvicorn server on loopback, serving a model trained on small synthetic data."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import uvicorn

from core.clock import BANGKOK
from core.settings import Settings
from schooldata.db import make_engine
from schooldata.tables import (
    TABLES,
    job_runs,
    run_drift,
    run_schools,
    score_runs,
    student_scores,
)
from serving import store
from serving.accounts import Limiter, create_user, set_password
from serving.app import create_app
from serving.model_store import load_champion
from serving.schedule import LEASE, WeekRunner, now_utc
from serving.scoring import Scorer, weekly_run
from tests.conftest import scratch_settings, unavailable
from training.config import TrainConfig
from training.promote import promote
from training.train import train

WEEKS = ("2025-03-03", "2025-03-10")
PASSWORDS = {
    role: f"test-password-of-{role}" for role in ("advisor", "committee", "analyst", "admin")
}


@dataclass
class Api:
    url: str
    settings: Settings
    engine: sa.Engine
    scorer: Scorer
    tokens: dict[str, str]
    usernames: dict[str, str]
    school: str  # the committee's school
    other_school: str
    own_student: str  # advised by "advisor"
    colleague_student: str  # same school, another advisor
    far_student: str  # another school
    app: Any = None

    def forget_failed_attempts(self) -> None:
        """Start the sign-in limits afresh (other tests fail sign-ins from this address)."""
        self.app.state.ews.limiter = Limiter()

    def get(
        self, path: str, role: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.get(self.url + path, headers=self._auth(role) | (headers or {}), timeout=60)

    def post(
        self,
        path: str,
        role: str | None = None,
        json: object = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return httpx.post(
            self.url + path, headers=self._auth(role) | (headers or {}), json=json, timeout=60
        )

    def _auth(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(settings: Settings) -> Iterator[str]:
    """The app on a real uvicorn server on loopback; yields its base URL."""
    with serving(create_app(settings)) as url:
        yield url


@contextlib.contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[str]:
    """Any ASGI app on a real uvicorn server on loopback; yields its base URL."""
    port = port or _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def api(synthetic_engine: sa.Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("api")
    copy = folder / "ews.db"
    with (
        sqlite3.connect(str(synthetic_engine.url.database)) as source,
        sqlite3.connect(copy) as target,
    ):
        source.backup(target)
    settings = scratch_settings(f"sqlite:///{copy}", folder, max_batch_rows=50)
    engine = make_engine(settings.database_url)
    train(settings, TrainConfig.load(), engine)  # the search: a LightGBM champion
    promote(settings, engine)
    bundle, version = load_champion(settings, folder / "model")
    scorer = Scorer(bundle, version)
    for week in WEEKS:
        weekly_run(engine, scorer, pd.Timestamp(week))

    with engine.connect() as connection:
        scores = pd.DataFrame(
            connection.execute(
                sa.select(
                    student_scores.c.student_id,
                    student_scores.c.school_id,
                    student_scores.c.advisor_id,
                    student_scores.c.rank_in_school,
                )
            ).all()
        )
    by_school = scores.groupby("school_id")["advisor_id"].nunique()
    school = by_school[by_school > 1].index[0]
    # Schools number their own students, so codes repeat across schools: the far student
    # is another school's student with a code the committee's school does not use, so that
    # naming the code alone can only mean that student (the tests of codes two schools
    # share name both).
    codes_here = set(
        pd.read_sql(
            sa.select(TABLES["students"].c.student_id).where(
                TABLES["students"].c.school_id == school
            ),
            engine,
        )["student_id"]
    )
    elsewhere = scores[(scores["school_id"] != school) & ~scores["student_id"].isin(codes_here)]
    other_school = elsewhere["school_id"].iloc[0]
    in_school = scores[scores["school_id"] == school].sort_values("rank_in_school")
    advisor = in_school["advisor_id"].iloc[0]
    colleague = in_school[in_school["advisor_id"] != advisor]
    accounts = {
        "advisor": create_user(
            engine, "advisor", "ครูสมศรี", staff_id=advisor, school_id=school, username="somsri"
        ),
        "committee": create_user(
            engine, "committee", "กรรมการ", school_id=school, username="committee"
        ),
        "analyst": create_user(engine, "analyst", "นักวิเคราะห์", username="analyst"),
        "admin": create_user(engine, "admin", "ผู้ดูแล", username="admin"),
    }
    tokens = {role: token for role, (_, token) in accounts.items()}
    for role, (user, _) in accounts.items():
        set_password(engine, user.user_id, PASSWORDS[role], "tests", must_change=False)
    app = create_app(settings)
    with serving(app) as url:
        yield Api(
            app=app,
            url=url,
            settings=settings,
            engine=engine,
            scorer=scorer,
            tokens=tokens,
            usernames={role: str(user.username) for role, (user, _) in accounts.items()},
            school=school,
            other_school=other_school,
            own_student=in_school["student_id"].iloc[0],
            colleague_student=colleague["student_id"].iloc[0],
            far_student=elsewhere["student_id"].iloc[0],
        )


SCORE_COLUMNS = ["risk", "raw_score", "base_value"]
SAME_COLUMNS = ["advisor_id", "tier", "rank_in_school", "rank_in_advisor", "reasons"]


def copy_without_runs(engine: sa.Engine, target: Path) -> sa.Engine:
    """A copy of the ingested database without any stored run.

    The copies come from the pristine ingest (``synthetic_engine``), never from the API
    tests' database, where other tests record interventions.
    """
    with sqlite3.connect(str(engine.url.database)) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    copied = make_engine(f"sqlite:///{target}")
    with copied.begin() as connection:
        for table in (student_scores, run_schools, run_drift, score_runs):
            connection.execute(sa.delete(table))
    return copied


def make_late(engine: sa.Engine, school: str, as_of: pd.Timestamp) -> None:
    """``school``'s attendance made to stop three weeks before ``as_of``: a school whose
    registers have not come, stale on that date."""
    attendance = TABLES["attendance"]
    with engine.begin() as connection:
        connection.execute(
            sa.delete(attendance).where(
                (attendance.c.school_id == school)
                & (attendance.c.date >= (as_of - pd.Timedelta(days=21)).date())
            )
        )


def copy_with_a_late_school(
    engine: sa.Engine, target: Path, school: str, as_of: pd.Timestamp
) -> sa.Engine:
    """``copy_without_runs`` with ``school`` late (``make_late``)."""
    copied = copy_without_runs(engine, target)
    make_late(copied, school, as_of)
    return copied


def stored_run(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as connection:
        rows = (
            connection.execute(
                sa.select(student_scores, score_runs.c.features.label("run_features")).join(
                    score_runs, score_runs.c.run_id == student_scores.c.run_id
                )
            )
            .mappings()
            .all()
        )
    return pd.DataFrame(rows).set_index(["school_id", "student_id"]).sort_index()


def records_in_force(engine: sa.Engine) -> pd.DataFrame:
    """Every record of help that no later record corrects, its date a date: straight from
    the table (what the area figures are checked against)."""
    with engine.connect() as connection:
        rows = pd.DataFrame(connection.execute(sa.select(TABLES["interventions"])).mappings().all())
    rows = rows[~rows["intervention_id"].isin(rows["corrects"].dropna())].copy()
    rows["date"] = pd.to_datetime(rows["date"]).dt.date
    return rows


def open_referrals(engine: sa.Engine, schools: Collection[str], day: date) -> set[tuple[str, str]]:
    """Students (school, code) of ``schools`` referred outside their school in the 90
    days to ``day``, not refused or moved, whether on the week's list or not: straight
    from the tables."""
    rows = records_in_force(engine)
    referred = rows[
        rows["type"].isin(["external_referral", "health_referral"])
        & (rows["date"] > day - timedelta(days=90))
        & (rows["date"] <= day)
        & ~rows["outcome"].isin(["refused", "moved"])
    ]
    keys = zip(referred["school_id"], referred["student_id"], strict=True)
    return {key for key in keys if key[0] in schools}


def assert_same_run(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert len(reference) > 100
    assert list(ours.index) == list(reference.index)
    assert np.abs(ours[SCORE_COLUMNS] - reference[SCORE_COLUMNS]).to_numpy().max() <= 1e-9
    pd.testing.assert_frame_equal(ours[SAME_COLUMNS], reference[SAME_COLUMNS])
    pairs = zip(
        ours[["contributions", "run_features"]].itertuples(index=False),
        reference[["contributions", "run_features"]].itertuples(index=False),
        strict=True,
    )
    for mine, theirs in pairs:
        a = store.read_contributions(mine[0], store.feature_names(mine[1]))
        b = store.read_contributions(theirs[0], store.feature_names(theirs[1]))
        assert [c["feature"] for c in a] == [c["feature"] for c in b]
        assert [c["value"] for c in a] == [c["value"] for c in b]
        assert np.abs(np.array([c["shap"] for c in a]) - [c["shap"] for c in b]).max() <= 1e-9


@pytest.fixture(scope="module")
def whole_engine(
    api: Api, synthetic_engine: sa.Engine, tmp_path_factory: pytest.TempPathFactory
) -> sa.Engine:
    """A copy of the synthetic database with the whole run of the last week stored."""
    engine = copy_without_runs(synthetic_engine, tmp_path_factory.mktemp("whole") / "ews.db")
    weekly_run(engine, api.scorer, pd.Timestamp(WEEKS[-1]))
    return engine


@pytest.fixture(scope="module")
def whole_run(whole_engine: sa.Engine) -> pd.DataFrame:
    return stored_run(whole_engine)


def stored_schools(engine: sa.Engine) -> pd.DataFrame:
    """The stored run's schools (``run_schools``), by school."""
    with engine.connect() as connection:
        schools = pd.DataFrame(connection.execute(sa.select(run_schools)).mappings().all())
    schools = schools.drop(columns=["run_id"])
    return schools.sort_values("school_id").reset_index(drop=True)


# ------------------------------------------------------------------ a real headless browser

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def job_rows(engine: sa.Engine) -> pd.DataFrame:
    """The scheduler's runs (``job_runs``), oldest first."""
    return pd.read_sql(sa.select(job_runs).order_by(job_runs.c.job_id), engine)


def check_retries(engine: sa.Engine, tmp_path: Path) -> None:
    """On a new database (SQLite in ``test_schedule``, PostgreSQL in ``test_postgres``):
    a dead worker's run is taken over, and only each run's last attempt is retried, found
    in one statement."""
    runner = WeekRunner(
        scratch_settings(str(engine.url), tmp_path), engine, run_job=lambda d, s: (None, "x", 0)
    )
    now = now_utc()
    long_ago = now - LEASE - timedelta(minutes=1)

    def job(day: str, status: str, attempt: int = 1, school: str = "", at: Any = long_ago) -> dict:
        return {
            "kind": "school" if school else "weekly",
            "as_of": date.fromisoformat(day),
            "school_id": school,
            "attempt": attempt,
            "status": status,
            "trigger": "upload" if school else "schedule",
            "started_at": at,
            "finished_at": None if status == "running" else at,
        }

    # Two years of weekly runs and of one school's reruns, all done: nothing to redo.
    history = [job(str(date(2023, 1, 2) + timedelta(weeks=w)), "done") for w in range(100)]
    history += [job(r["as_of"].isoformat(), "done", school="S1") for r in history]
    with engine.begin() as connection:
        connection.execute(
            sa.insert(job_runs),
            [
                *history,
                job("2025-03-03", "failed"),  # failed, then done at its second attempt
                job("2025-03-03", "done", attempt=2),
                job("2025-03-10", "running"),  # its worker died hours ago
                job("2025-03-17", "running", at=now),  # still at work
                job("2025-03-10", "failed", school="S2"),  # an upload's rerun, failed
                job("2025-03-03", "failed", attempt=3, school="S3"),  # no attempt left
            ],
        )
    outcomes = runner.retry_failed(datetime.now(BANGKOK))
    assert [o.status for o in outcomes] == ["done", "done"]
    retried = job_rows(engine).query("trigger == 'retry'").astype({"as_of": str})
    assert sorted(retried[["kind", "as_of", "school_id", "attempt"]].values.tolist()) == [
        ["school", "2025-03-10", "S2", 2],
        ["weekly", "2025-03-10", "", 2],
    ]

    # The check every ten minutes reads the whole history in one statement.
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert runner.retry_failed(datetime.now(BANGKOK)) == []
    assert len(statements) == 1


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        unavailable(
            "no Chromium on this machine: `apt-get install chromium fonts-thai-tlwg` "
            "(make test does it where it can)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


# Chromium's console line for a resource the server refused (one the tab stopped loading
# as the test moved on says net::ERR_ABORTED instead, and is no fault of the page).
ANSWERED_WITH_AN_ERROR = "Failed to load resource: the server responded with a status"


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A browser tab; the test fails if anything a page loads beside itself (its style
    sheet, the icon the browser asks for) was not found or refused. A page the test opens
    may be an error page."""
    context = browser.new_context(viewport=DESKTOP, locale="th-TH")
    tab = context.new_page()
    opened: set[str] = set()
    failed: set[str] = set()
    tab.on(
        "response",
        lambda answer: (
            opened.add(answer.url) if answer.request.resource_type == "document" else None
        ),
    )
    # The browser's own requests (the icon) are seen only as the console's error.
    tab.on(
        "console",
        lambda message: (
            failed.add(message.location.get("url", ""))
            if message.type == "error" and message.text.startswith(ANSWERED_WITH_AN_ERROR)
            else None
        ),
    )
    yield tab
    context.close()
    assert not failed - opened, f"what the pages load beside themselves failed: {failed - opened}"


def csrf_of(page: str) -> str:
    """The CSRF token of a page's form."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "the page has no form"
    return found[1]


def sign_in_client(client: httpx.Client, username: str, password: str) -> None:
    """Sign an HTTP client (based at the service) in with the login form."""
    answer = client.post(
        "/login",
        data={
            "csrf": csrf_of(client.get("/login").text),
            "username": username,
            "password": password,
        },
    )
    assert answer.status_code in (200, 303), answer.text[:300]


def sign_in(page: Any, url: str, username: str, password: str) -> None:
    """Sign in on the login page; the caller waits for where their role lands."""
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def double_click(page: Any, form: str) -> None:
    """Two clicks 60 ms apart on the form's button, both on the page as drawn (a person's
    second click, before the page changes), then the page as it stands once answered."""
    page.evaluate(
        """form => { const button = document.querySelector(form + ' button[type=submit]');
                     button.click(); setTimeout(() => button.click(), 60); }""",
        form,
    )
    page.wait_for_timeout(3000)  # every sending answered
    page.wait_for_load_state()


def shoot(page: Any, name: str) -> None:
    """Screenshots of the current page at desktop and at phone width, in build/screenshots,
    and checks that nothing on the page is wider than the phone and sign-out is in view."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    sign_out = page.locator("header form[action='/logout'] button")
    box = sign_out.bounding_box() if sign_out.count() else None
    # A phone shows each cell as "label: value": no label may stand without its value.
    bare = page.locator("table.list td[data-label]:empty:visible").count()
    page.set_viewport_size(DESKTOP)
    assert width <= PHONE["width"] + 1, f"{name} is {width}px wide on a 390px phone"
    assert bare == 0, f"{name} shows {bare} labels without a value on a phone"
    # Sign-out in view on a phone without scrolling the header (a shared school phone).
    assert box is None or 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], (
        f"{name}: sign-out is out of view on a phone ({box})"
    )
