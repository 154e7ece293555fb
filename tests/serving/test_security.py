"""The security review's findings, each against a real server (SECURITY.md lists them).

Tests that change data or trip limits run on their own copy of the API's database and
their own server, so the shared server's tests never see their effects.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import itsdangerous
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from core import clock
from core.secrets import SecretError, secret
from core.settings import Settings
from ews.cli import app as cli
from schooldata import audit
from schooldata.db import make_engine, upgrade
from schooldata.tables import TABLES, audit_log, missing_cases, student_scores, users
from serving import i18n
from serving.accounts import create_user, revoke, rotate_token
from serving.model_store import ModelUnavailable, load_champion
from tests.conftest import kept_last_actions
from tests.serving.conftest import (
    DESKTOP,
    PASSWORDS,
    WEEKS,
    Api,
    csrf_of,
    running_server,
    shoot,
    sign_in,
    sign_in_client,
)

PUBLISHED_SESSION_SECRET = "development-only-session-secret"  # noqa: S105 (the old default)


@dataclass
class Copy:
    """A server of its own on a copy of the API's database."""

    url: str
    engine: sa.Engine
    api: Api

    def get(self, path: str, role: str | None = None, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, headers=self.api._auth(role), timeout=60, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, role: str | None = None, **kwargs: object) -> httpx.Response:
        return httpx.post(self.url + path, headers=self.api._auth(role), timeout=60, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def copy(api: Api, tmp_path: Path) -> Iterator[Copy]:
    target = tmp_path / "ews.db"
    with sqlite3.connect(str(api.engine.url.database)) as source, sqlite3.connect(target) as out:
        source.backup(out)
    settings = api.settings.model_copy(update={"database_url": f"sqlite:///{target}"})
    with running_server(settings) as url:
        yield Copy(url, make_engine(settings.database_url), api)


def _audit(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as connection:
        return pd.DataFrame(connection.execute(sa.select(audit_log)).mappings().all())


def _user_id(engine: sa.Engine, username: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(users.c.user_id).where(users.c.username == username)
            ).scalar_one()
        )


def _signed_in(client: httpx.Client, url: str, username: str, password: str) -> httpx.Response:
    page = client.get(f"{url}/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    return client.post(
        f"{url}/login", data={"csrf": csrf, "username": username, "password": password}
    )


# 1. Forgeable sessions ----------------------------------------------------------------


def test_a_session_forged_with_the_published_secret_reads_nothing(api: Api) -> None:
    signer = itsdangerous.TimestampSigner(PUBLISHED_SESSION_SECRET)
    committee = _user_id(api.engine, api.usernames["committee"])
    payload = base64.b64encode(json.dumps({"user_id": committee, "sid": "x"}).encode())
    cookie = signer.sign(payload).decode()

    page = httpx.get(f"{api.url}/plan", cookies={"ews_session": cookie}, follow_redirects=False)

    assert page.status_code == 303
    assert page.headers["location"] == "/login"


def test_an_unset_secret_is_generated_once_and_kept_owner_only(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ews.db'}")

    first = secret(settings, "session_secret")

    kept = tmp_path / "ews-secrets.json"
    assert len(first) >= 32 and first != PUBLISHED_SESSION_SECRET  # noqa: PT018
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert secret(settings, "session_secret") == first
    assert secret(settings, "id_hash_key") != first


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"session_secret": PUBLISHED_SESSION_SECRET}, "published"),
        ({"id_hash_key": "development-only-id-hash-key"}, "published"),
    ],
)
def test_published_secrets_are_refused_everywhere(changes: dict[str, str], message: str) -> None:
    settings = Settings(**changes)  # type: ignore[arg-type]

    with pytest.raises(SecretError, match=message):
        secret(settings, next(iter(changes)))


def test_production_refuses_missing_and_short_secrets() -> None:
    url = "postgresql+psycopg://ews@db/ews"
    with pytest.raises(ValueError, match="EWS_SESSION_SECRET must be set"):
        Settings(environment="production", database_url=url, id_hash_key="k" * 40)  # type: ignore[arg-type]
    short = Settings(
        environment="production",
        database_url=url,
        id_hash_key="k" * 40,
        session_secret="short",  # type: ignore[arg-type]
    )
    with pytest.raises(SecretError, match="at least 32"):
        secret(short, "session_secret")


# 2. Advisor scope tied to the school ----------------------------------------------------


def test_the_same_advisor_code_at_another_school_sees_nothing(copy: Copy) -> None:
    api = copy.api
    advisor_code = api_advisor_code(copy)
    with copy.engine.begin() as connection:
        connection.execute(
            sa.update(TABLES["enrollments"])
            .where(
                (TABLES["enrollments"].c.school_id == api.other_school)
                & (TABLES["enrollments"].c.student_id == api.far_student)
            )
            .values(advisor_id=advisor_code)
        )
        connection.execute(
            sa.update(student_scores)
            .where(
                (student_scores.c.school_id == api.other_school)
                & (student_scores.c.student_id == api.far_student)
            )
            .values(advisor_id=advisor_code)
        )

    listed = {s["student_id"] for s in copy.get("/api/v1/risk-list", "advisor").json()["students"]}

    far = f"/api/v1/students/{api.far_student}?school_id={api.other_school}"
    assert copy.get(far, "advisor").status_code == 404
    assert api.far_student not in listed
    assert api.own_student in listed


def api_advisor_code(copy: Copy) -> str:
    with copy.engine.connect() as connection:
        return str(
            connection.execute(
                sa.select(users.c.staff_id).where(users.c.username == copy.api.usernames["advisor"])
            ).scalar_one()
        )


# 3. Transfers leave no student visible ---------------------------------------------------


def test_after_a_transfer_the_old_school_no_longer_lists_the_student(copy: Copy) -> None:
    api = copy.api
    assert api.own_student in _listed(copy, "committee")
    with copy.engine.begin() as connection:
        connection.execute(
            sa.insert(TABLES["exits"]).values(
                school_id=api.school,
                student_id=api.own_student,
                exit_date=clock.today(),
                exit_type="transfer",
                destination_school_id=api.other_school,
            )
        )

    plan = copy.get(f"/api/v1/schools/{api.school}/home-visit-plan?capacity=50", "committee")

    assert api.own_student not in _listed(copy, "committee")
    assert api.own_student not in _listed(copy, "advisor")
    assert api.own_student not in {s["student_id"] for s in plan.json()["students"]}
    assert copy.get(f"/api/v1/students/{api.own_student}", "committee").status_code == 404


def _listed(copy: Copy, role: str) -> set[str]:
    body = copy.get("/api/v1/risk-list?limit=5000", role).json()
    return {s["student_id"] for s in body["students"]}


# 4. No student id in the server log ----------------------------------------------------------


def test_an_unexpected_error_logs_the_route_and_an_error_id_only(
    copy: Copy, caplog: pytest.LogCaptureFixture
) -> None:
    with copy.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE student_scores RENAME TO scores_gone"))
    caplog.set_level(logging.INFO)

    response = copy.get(f"/api/v1/students/{copy.api.own_student}", "advisor")

    assert response.status_code == 500
    error_id = response.json()["error_id"]
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in server)
    assert error_id in logged
    assert "GET /api/v1/students/{student_id}" in logged
    assert copy.api.own_student not in logged
    assert copy.api.own_student not in response.text


# 5. Model hashes recorded in the registry --------------------------------------------------


def test_a_bundle_rewritten_with_its_manifest_is_refused(api: Api, tmp_path: Path) -> None:
    folders = list(Path(api.settings.mlflow_artifact_root).rglob("serving/manifest.json"))
    originals = {p: p.read_bytes() for f in folders for p in f.parent.iterdir()}
    try:
        for manifest in folders:
            metadata = manifest.parent / "metadata.json"
            content = json.loads(metadata.read_text())
            content["tier_policy"]["floor"] = 0.0  # everyone above the floor
            metadata.write_text(json.dumps(content))
            files = json.loads(manifest.read_text())
            files["metadata.json"] = hashlib.sha256(metadata.read_bytes()).hexdigest()
            manifest.write_text(json.dumps(files))
        with pytest.raises(ModelUnavailable, match="recorded in the registry"):
            load_champion(api.settings, tmp_path / "download")
    finally:
        for path, content in originals.items():
            path.write_bytes(content)


# 6. An audit log that cannot be wiped ----------------------------------------------------------


def test_the_audit_chain_catches_a_deleted_or_forged_row(copy: Copy) -> None:
    copy.get(f"/api/v1/students/{copy.api.own_student}", "advisor")
    assert audit.verify(copy.engine).broken_at is None
    ids = _audit(copy.engine)["audit_id"].tolist()
    database = str(copy.engine.url.database)
    with sqlite3.connect(database) as raw:
        raw.execute("DROP TRIGGER audit_log_no_delete")  # what an intruder with the file could do
        raw.execute("DELETE FROM audit_log WHERE audit_id = ?", (ids[len(ids) // 2],))

    broken = audit.verify(copy.engine)

    assert broken.broken_at == ids[len(ids) // 2 + 1]
    result = CliRunner().invoke(
        cli, ["audit", "verify"], env={"EWS_DATABASE_URL": f"sqlite:///{database}"}
    )
    assert result.exit_code == 1
    assert "broken" in result.output


def test_who_saw_a_childs_records_is_read_back_from_the_log_and_that_read_is_logged(
    copy: Copy, tmp_path: Path
) -> None:
    api = copy.api
    assert copy.get(f"/api/v1/students/{api.own_student}", "advisor").status_code == 200
    assert copy.get("/api/v1/risk-list", "committee").status_code == 200
    # An integration's account: a token and no username.
    integration, token = create_user(copy.engine, "committee", "ระบบโรงเรียน", school_id=api.school)
    read = httpx.get(
        f"{copy.url}/api/v1/students/{api.own_student}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert read.status_code == 200
    env = {"EWS_DATABASE_URL": str(copy.engine.url)}

    def show(*options: str) -> str:
        result = CliRunner().invoke(cli, ["audit", "show", *options], env=env | {"COLUMNS": "300"})
        assert result.exit_code == 0, result.output
        return result.output

    child = show("--school", api.school, "--student", api.own_student)
    readers = {line.split("│")[2].strip() for line in child.splitlines() if "│ read" in line}
    advisor, committee = api.usernames["advisor"], api.usernames["committee"]
    assert {
        f"{advisor} (advisor)",
        f"{committee} (committee)",
        f"account {integration.user_id} (committee)",
    } <= readers
    # Asked again: the first asking is a row of its own, with its conditions as detail,
    # beside reads without one (blank, not pandas' word for a missing text).
    again = show("--school", api.school, "--student", api.own_student)
    assert f"school_id={api.school} student_id={api.own_student}" in again
    assert not re.search(r"│\s*nan\s*│", again)
    by_advisor = show("--user", advisor, "--out", str(tmp_path / "advisor.csv"))
    rows = pd.read_csv(tmp_path / "advisor.csv", dtype=str, keep_default_na=False)
    assert set(rows["username"]) == {advisor}, rows[rows["username"] != advisor].to_dict("records")
    assert (api.school, api.own_student) in set(
        zip(rows["school_id"], rows["student_id"], strict=True)
    )
    assert f"Wrote {len(rows)} rows" in by_advisor
    # Days are taken from the child's own rows, not from the clock: a run across
    # Bangkok's midnight (17:00 UTC) once read its own rows as "before today".
    days = audit.entries(
        copy.engine, audit.Filter(school_id=api.school, student_id=api.own_student)
    )["at"].dt.date
    assert api.own_student in show("--since", str(days.max()), "--student", api.own_student)
    before = show("--until", str(days.min() - timedelta(days=1)), "--student", api.own_student)
    assert "│ read" not in before

    logged = _audit(copy.engine)
    reads_of_the_log = logged[logged["action"] == "audit_read"]
    assert len(reads_of_the_log) == 5
    assert reads_of_the_log["actor"].str.startswith("cli:").all()
    assert f"username={advisor}" in set(reads_of_the_log["detail"])
    assert audit.verify(copy.engine).broken_at is None


def test_an_admin_reads_who_saw_a_child_on_the_audit_page_and_nobody_else_can(
    copy: Copy, browser: Any
) -> None:
    """The audit log without the server's shell (a parent's request under the PDPA goes
    to the school, not to whoever runs the server): the admin's page shows who read the
    child, its file holds every row selected, and each read of the log is logged."""
    api = copy.api
    assert copy.get(f"/api/v1/students/{api.own_student}", "advisor").status_code == 200
    # A failed sign-in is logged with the name tried: a long one must wrap on a phone.
    with httpx.Client(base_url=copy.url, timeout=60) as stranger:
        login = stranger.get("/login").text
        tried = {"username": "x" * 60, "password": "wrong", "csrf": csrf_of(login)}
        assert stranger.post("/login", data=tried).status_code == 401
    child = f"school={api.school}&student={api.own_student}"
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, copy.url, api.usernames["admin"], PASSWORDS["admin"])
    page.wait_for_url("**/admin")
    page.click("header a[href='/admin/audit']")
    assert page.locator("table.audit tr.audit-row").count() > 1
    shoot(page, "audit")
    page.fill("input[name=school]", api.school)
    page.fill("input[name=student]", api.own_student)
    page.click("form[action='/admin/audit'] button[type=submit]")
    page.wait_for_load_state()

    assert page.url.endswith(f"/admin/audit?{child}&account=&action=&since=&until=")
    readers = page.locator("table.audit tr.audit-row td:nth-child(2)").all_inner_texts()
    assert f"{api.usernames['advisor']} (ครูที่ปรึกษา)" in readers
    assert set(page.locator("table.audit td:nth-child(6)").all_inner_texts()) == {api.own_student}
    shoot(page, "audit-of-a-child")
    page.goto(f"{copy.url}/admin/audit?since=2026-13-01")
    assert "ปปปป-ดด-วว" in page.locator("p.error").inner_text()
    page.goto(f"{copy.url}/admin/audit?account=nobody-of-this-name")
    assert page.locator("table.audit").count() == 0
    assert "ไม่มีรายการตามเงื่อนไขนี้" in page.locator("main").inner_text()
    context.close()

    with httpx.Client(base_url=copy.url, timeout=60) as admin:
        sign_in_client(admin, api.usernames["admin"], PASSWORDS["admin"])
        file = admin.get(f"/admin/audit.csv?{child}")
        assert file.status_code == 200
        rows = pd.read_csv(io.BytesIO(file.content), dtype=str, keep_default_na=False)
        assert f"{api.usernames['advisor']} (advisor)" in set(rows["who"])
        assert set(rows["student_id"]) == {api.own_student}
        refused = admin.get("/admin/audit.csv?until=yesterday")
        assert (refused.status_code, refused.text) == (422, "วันที่ต้องอยู่ในรูปแบบ ปปปป-ดด-วว (ค.ศ.)")
    for role in ("advisor", "committee", "analyst"):
        with httpx.Client(base_url=copy.url, timeout=60) as other:
            sign_in_client(other, api.usernames[role], PASSWORDS[role])
            assert other.get(f"/admin/audit?{child}").status_code == 404
            assert other.get(f"/admin/audit.csv?{child}").status_code == 404

    logged = _audit(copy.engine)
    reads_of_the_log = logged[logged["action"] == "audit_read"]
    # The page asked three times (on opening, for the child, for an unknown account) and
    # the file once; the malformed days read nothing.
    assert reads_of_the_log["endpoint"].tolist() == [
        "GET /admin/audit",
        "GET /admin/audit",
        "GET /admin/audit",
        "GET /admin/audit.csv",
    ]
    assert (reads_of_the_log["user_id"] == _user_id(copy.engine, api.usernames["admin"])).all()
    about_the_child = reads_of_the_log.iloc[[1, 3]]
    assert set(zip(about_the_child["school_id"], about_the_child["student_id"], strict=True)) == {
        (api.school, api.own_student)
    }
    assert audit.verify(copy.engine).broken_at is None


def test_a_day_of_the_audit_log_is_a_day_in_bangkok(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        for moment, code in (
            (datetime(2026, 11, 29, 16, 59), "late on the 29th"),  # 23:59 in Bangkok
            (datetime(2026, 11, 29, 17, 0), "first thing on the 30th"),  # 00:00
        ):
            connection.execute(
                sa.insert(audit_log).values(
                    at=moment, endpoint="GET /list", action="read", student_id=code
                )
            )
    day = date(2026, 11, 30)

    on_the_day = audit.entries(engine, audit.Filter(since=day, until=day))
    before = audit.entries(engine, audit.Filter(until=day - timedelta(days=1)))

    assert on_the_day["student_id"].tolist() == ["first thing on the 30th"]
    assert on_the_day["at"].tolist() == [pd.Timestamp("2026-11-30 00:00")]
    assert before["student_id"].tolist() == ["late on the 29th"]


def test_the_audit_log_refuses_updates_and_deletes(api: Api) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), api.engine.begin() as connection:
        connection.execute(sa.update(audit_log).values(student_id="someone else"))


# 7. Audit gaps ---------------------------------------------------------------------------------


def test_an_intervention_and_its_audit_row_are_one_transaction(
    copy: Copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(connection: sa.Connection, entries: object) -> None:
        raise RuntimeError("the audit log is unavailable")

    table = TABLES["interventions"]
    with copy.engine.connect() as connection:
        before = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    monkeypatch.setattr(audit, "append", broken)

    response = copy.post(
        "/api/v1/interventions",
        "committee",
        json={"student_id": copy.api.own_student, "type": "counselling", "outcome": "done"},
    )

    assert response.status_code == 500
    with copy.engine.connect() as connection:
        after = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    assert after == before


def test_denials_and_failed_sign_ins_are_recorded_without_the_secret(copy: Copy) -> None:
    copy.get(f"/api/v1/students/{copy.api.far_student}", "advisor")
    httpx.get(copy.url + "/api/v1/model", headers={"Authorization": "Bearer guessed-token-123"})
    with httpx.Client() as client:
        _signed_in(client, copy.url, copy.api.usernames["committee"], "guessed-password-456")

    log = _audit(copy.engine)
    denied = log[log["action"] == "denied"]
    assert copy.api.far_student in set(denied["student_id"])
    assert {"token_refused", "sign_in_failed"} <= set(log["action"])
    text = log.astype(str).to_string()
    assert "guessed-token-123" not in text and "guessed-password-456" not in text  # noqa: PT018
    assert audit.verify(copy.engine).broken_at is None


def test_downloads_exports_and_filtered_lists_record_what_was_shown(
    copy: Copy, tmp_path: Path
) -> None:
    api = copy.api
    with httpx.Client() as client:
        _signed_in(client, copy.url, api.usernames["committee"], PASSWORDS["committee"])
        before = len(_audit(copy.engine))
        page = client.get(f"{copy.url}/list?tier=high")
        shown = set(page.text.split('data-student="')[1:])
        shown = {s.split('"')[0] for s in shown}
        reads = _audit(copy.engine).iloc[before:]
        assert set(reads.loc[reads["action"] == "read", "student_id"]) == shown
        before = len(_audit(copy.engine))
        csv = client.get(f"{copy.url}/list.csv")
    downloads = _audit(copy.engine).iloc[before:]
    downloaded = set(downloads.loc[downloads["action"] == "download", "student_id"])
    assert downloaded and all(s in csv.text for s in downloaded)  # noqa: PT018

    before = len(_audit(copy.engine))
    result = CliRunner().invoke(
        cli,
        [
            "export",
            "--as-of",
            WEEKS[1],
            "--out",
            str(tmp_path / "list.csv"),
            "--school",
            api.school,
        ],
        env={"EWS_DATABASE_URL": str(copy.engine.url)},
    )
    assert result.exit_code == 0, result.output
    exported = _audit(copy.engine).iloc[before:]
    exported = exported[exported["action"] == "export"]
    assert len(exported) == len(pd.read_csv(tmp_path / "list.csv"))
    assert exported["actor"].str.startswith("cli:").all()

    # Without a date: the newest list, and the operator is told its week.
    newest = CliRunner().invoke(
        cli,
        ["export", "--out", str(tmp_path / "newest.csv"), "--school", api.school],
        env={"EWS_DATABASE_URL": str(copy.engine.url)},
    )
    assert newest.exit_code == 0, newest.output
    assert f"of the week of {WEEKS[-1]}" in " ".join(newest.output.split())
    assert len(pd.read_csv(tmp_path / "newest.csv")) > 0


# 8. Interventions are never overwritten -------------------------------------------------------


def test_two_staff_records_of_the_same_day_both_stay_and_a_correction_points_back(
    copy: Copy,
) -> None:
    visit = {"student_id": copy.api.own_student, "date": WEEKS[1], "type": "home_visit"}
    first = copy.post("/api/v1/interventions", "advisor", json=visit | {"outcome": "not_home"})
    second = copy.post("/api/v1/interventions", "committee", json=visit | {"outcome": "done"})
    fix = copy.post(
        "/api/v1/interventions",
        "advisor",
        json=visit | {"outcome": "done", "corrects": first.json()["intervention_id"]},
    )

    listed = copy.get(f"/api/v1/students/{copy.api.own_student}/interventions", "committee").json()
    ids = {r["intervention_id"]: r for r in listed}
    assert {first.json()["intervention_id"], second.json()["intervention_id"]} <= set(ids)
    assert ids[first.json()["intervention_id"]]["corrected"]
    assert ids[fix.json()["intervention_id"]]["corrects"] == first.json()["intervention_id"]
    assert (
        ids[first.json()["intervention_id"]]["staff_id"]
        != ids[second.json()["intervention_id"]]["staff_id"]
    )
    kept_last_actions(copy.engine)  # the actions pages' last actions are in step


def test_a_record_made_by_mistake_is_withdrawn_by_its_author_alone(copy: Copy) -> None:
    """A click on the wrong outcome, undone on the student's page within minutes: the
    record is gone, the withdrawal audited, and the student's last action (the actions
    pages') is what it was before. Nobody else can withdraw it."""
    student = copy.api.own_student
    key = (copy.api.school, student)
    before = kept_last_actions(copy.engine).get(key)
    day = clock.today()

    def csrf(client: httpx.Client) -> str:
        return csrf_of(client.get(f"/students/{student}").text)

    def record_visit(client: httpx.Client, outcome: str) -> int:
        made = client.post(
            f"/students/{student}/interventions",
            data={
                "csrf": csrf(client),
                "type": "home_visit",
                "outcome": outcome,
                "date": day.isoformat(),
            },
        )
        assert made.status_code == 303
        return int(made.headers["location"].rsplit("recorded=", 1)[1])

    def withdraw(client: httpx.Client, record: int, once: str = "") -> httpx.Response:
        return client.post(
            f"/interventions/{record}/undo",
            data={"csrf": csrf(client), "back": "/list", "once": once},
        )

    def undo_offered(client: httpx.Client, record: int) -> str:
        """The key of the undo form the student's page offers after the record."""
        page = client.get(f"/students/{student}?recorded={record}").text
        form = re.search(rf'action="/interventions/{record}/undo">(.*?)</form>', page, re.S)
        assert form is not None, "the page offers the record's undo"
        return re.search(r'name="once" value="([^"]+)"', form[1])[1]  # type: ignore[index]

    with httpx.Client(base_url=copy.url) as advisor, httpx.Client(base_url=copy.url) as other:
        sign_in_client(advisor, copy.api.usernames["advisor"], PASSWORDS["advisor"])
        sign_in_client(other, copy.api.usernames["committee"], PASSWORDS["committee"])
        record = record_visit(advisor, "refused")
        assert kept_last_actions(copy.engine)[key] == day

        assert withdraw(other, record).status_code == 404
        assert kept_last_actions(copy.engine)[key] == day

        offered = undo_offered(advisor, record)
        undone = withdraw(advisor, record, offered)
        # A double click (scripts off) sends the undo twice: the second answers as the
        # first did (it answered 404, "not found", for the record just withdrawn).
        clicked_twice = withdraw(advisor, record, offered)
        # The right record, made next, takes a number of its own: the withdrawn one's undo
        # sent again (the page it was offered on, left open) finds nothing to withdraw.
        # SQLite gave the next record the withdrawn one's number, and that undo took it.
        kept = record_visit(advisor, "done")
        assert kept != record
        assert withdraw(advisor, record, offered).status_code == 303
        assert withdraw(advisor, record).status_code == 404  # without the form's key
        withdraw(advisor, kept, undo_offered(advisor, kept))
    assert (undone.status_code, undone.headers["location"]) == (303, "/list?undone=1")
    assert (clicked_twice.status_code, clicked_twice.headers["location"]) == (
        303,
        "/list?undone=1",
    )
    with copy.engine.connect() as connection:
        left = connection.execute(
            sa.select(sa.func.count()).where(TABLES["interventions"].c.intervention_id == record)
        ).scalar_one()
    assert left == 0
    assert kept_last_actions(copy.engine).get(key) == before
    log = _audit(copy.engine)
    withdrawn = log[log["action"] == "withdraw"]
    assert withdrawn["detail"].tolist() == [f"intervention {record}", f"intervention {kept}"]
    assert withdrawn["student_id"].tolist() == [student, student]


@pytest.mark.parametrize(
    ("asked", "sent_to"),
    [
        ("/students/5?tab=case", "/students/5?tab=case"),
        ("//evil.example/x", "/list"),
        ("/\\evil.example/x", "/list"),  # Chromium reads it as //evil.example/x
        ("/\t/evil.example", "/list"),
        ("https://evil.example/", "/list"),
        ("evil.example", "/list"),
    ],
)
def test_the_language_switch_sends_the_browser_nowhere_but_this_service(
    api: Api, asked: str, sent_to: str
) -> None:
    """The language link takes where to go next from its address, which anyone can
    write: a link to the service that leads to another site would lend it the service's
    name. The pages' other "back" fields take the same check (``local_target``)."""
    answer = httpx.get(
        f"{api.url}/lang/en", params={"next": asked}, follow_redirects=False, timeout=30
    )
    assert (answer.status_code, answer.headers["location"]) == (303, sent_to)


SPOOF = "บัญชีของท่านถูกระงับ โทร 099-999-9999"


def test_a_link_puts_no_words_and_no_status_of_its_own_on_the_pages(api: Api) -> None:
    """What a page says went wrong comes from the service. The student page, a missing
    child's page and the model page took it from their address: anyone could write a
    link to the service that showed a signed-in user the service's own page saying
    anything (a number to call). The model page took its status from the address too,
    and a status of -1 broke the connection. A form's error still reaches the page the
    browser is sent back to, once."""
    student = f"/students/{api.own_student}"
    case_id = _missing_case_of(api.engine, api.school)
    with (
        httpx.Client(base_url=api.url, timeout=60) as advisor,
        httpx.Client(base_url=api.url, timeout=60) as committee,
        httpx.Client(base_url=api.url, timeout=60) as analyst,
    ):
        api.forget_failed_attempts()
        for client, role in ((advisor, "advisor"), (committee, "committee"), (analyst, "analyst")):
            sign_in_client(client, api.usernames[role], PASSWORDS[role])
        shown = [
            advisor.get(student, params={"error": SPOOF}),
            advisor.get(student, params={"case_error": SPOOF}),
            committee.get(f"/missing/{case_id}", params={"error": SPOOF}),
            analyst.get("/model", params={"benefit_error": SPOOF, "status_code": "-1"}),
        ]
        assert [(page.status_code, SPOOF in page.text) for page in shown] == [(200, False)] * 4

        # A plan's form with a review day gone by: sent back to the page, which says so.
        refused = advisor.post(
            f"{student}/case",
            data={
                "csrf": csrf_of(advisor.get(student).text),
                "planned": "home_visit",
                "first_review": "2020-01-01",
            },
        )
        assert (refused.status_code, refused.headers["location"]) == (303, f"{student}#case")
        said = "วันทบทวนต้องไม่เป็นวันที่ผ่านมาแล้ว"
        assert said in advisor.get(student).text
        assert said not in advisor.get(student).text  # said once


def _missing_case_of(engine: sa.Engine, school: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.min(missing_cases.c.case_id)).where(
                    missing_cases.c.school_id == school
                )
            ).scalar_one()
        )


# 9. Tokens and sessions that end ---------------------------------------------------------------


def test_expired_revoked_and_rotated_tokens_stop_working(copy: Copy) -> None:
    engine = copy.engine
    analyst = _user_id(engine, copy.api.usernames["analyst"])
    new = rotate_token(engine, analyst, "tests")
    old_token = copy.get("/api/v1/model", "analyst")
    assert (old_token.status_code, old_token.json()["detail"]) == (401, "the token is not valid")
    assert (
        httpx.get(
            copy.url + "/api/v1/model", headers={"Authorization": f"Bearer {new}"}
        ).status_code
        == 200
    )
    with engine.begin() as connection:
        connection.execute(
            sa.update(users)
            .where(users.c.user_id == analyst)
            .values(token_expires_at=pd.Timestamp.now() - timedelta(days=1))
        )
    expired = httpx.get(copy.url + "/api/v1/model", headers={"Authorization": f"Bearer {new}"})
    assert expired.status_code == 401
    assert "the token has expired" in expired.json()["detail"]  # its holder asks for a new one
    committee = _user_id(engine, copy.api.usernames["committee"])
    revoke(engine, committee, "tests")
    revoked = copy.get("/api/v1/risk-list", "committee")
    assert (revoked.status_code, revoked.json()["detail"]) == (401, "the token is not valid")


def test_a_token_in_use_is_named_to_renew_before_it_expires(copy: Copy) -> None:
    """A school's integration stops the day its token expires. The admin page and `ews
    users list` name a token used lately that expires within 30 days (or has), with the
    command that renews it; a token nobody uses is not named, nor one renewed."""
    engine = copy.engine
    analyst = _user_id(engine, copy.api.usernames["analyst"])
    unused, _token = create_user(engine, "committee", "ไม่ได้ใช้", school_id=copy.api.school)

    def expires_in(user_id: int, days: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                sa.update(users)
                .where(users.c.user_id == user_id)
                .values(token_expires_at=datetime.now(UTC).replace(tzinfo=None) + timedelta(days))
            )

    def admin_page() -> str:
        with httpx.Client(cookies={"lang": "en"}) as client:
            _signed_in(client, copy.url, copy.api.usernames["admin"], PASSWORDS["admin"])
            return client.get(copy.url + "/admin").text

    def listed() -> str:
        env = {"EWS_DATABASE_URL": str(engine.url), "COLUMNS": "300"}
        return CliRunner().invoke(cli, ["users", "list"], env=env).output

    asked_on = clock.today()  # and the day after, if the read crosses Bangkok's midnight
    assert copy.get("/api/v1/model", "analyst").status_code == 200  # its integration
    with engine.connect() as connection:
        used = connection.execute(
            sa.select(users.c.token_used_on).where(users.c.user_id == analyst)
        ).scalar_one()
    assert used in {asked_on, clock.today()}
    assert f"ews users rotate {analyst}" not in admin_page()  # a year to go
    expires_in(analyst, 10)
    expires_in(unused.user_id, 10)
    # Its last moment at 23:30 UTC: 06:30 the next day in Bangkok, the day both name.
    ends = datetime.combine(clock.today() + timedelta(days=10), time(23, 30))
    with engine.begin() as connection:
        connection.execute(
            sa.update(users).where(users.c.user_id == analyst).values(token_expires_at=ends)
        )
    page, cli_output = admin_page(), listed()
    last_day = ends.date() + timedelta(days=1)
    assert i18n.day(last_day, "en") in page
    assert f"expires on {last_day.isoformat()}" in cli_output
    assert "Tokens in use that expire soon (1)" in page
    assert f"ews users rotate {analyst}" in page
    assert f"ews users rotate {unused.user_id}" not in page  # nobody uses it
    assert f"(ews users rotate {analyst})" in cli_output
    assert f"(ews users rotate {unused.user_id})" not in cli_output
    status = CliRunner().invoke(cli, ["status"], env={"EWS_DATABASE_URL": str(engine.url)})
    assert "1 token(s) in use expire within 30 days" in status.output
    expires_in(analyst, -2)  # the integration now gets 401: still named, as expired
    assert "expired on" in admin_page()
    rotate_token(engine, analyst, "tests")
    assert f"ews users rotate {analyst}" not in admin_page()


def test_a_copied_session_cookie_dies_with_sign_out_and_revocation(copy: Copy) -> None:
    api = copy.api
    with httpx.Client() as client:
        _signed_in(client, copy.url, api.usernames["committee"], PASSWORDS["committee"])
        stolen = dict(client.cookies)
        assert client.get(f"{copy.url}/plan").status_code == 200
        csrf = client.get(f"{copy.url}/plan").text.split('name="csrf" value="')[1].split('"')[0]
        client.post(f"{copy.url}/logout", data={"csrf": csrf})
    after_logout = httpx.get(f"{copy.url}/plan", cookies=stolen, follow_redirects=False)
    assert after_logout.status_code == 303

    with httpx.Client() as client:
        _signed_in(client, copy.url, api.usernames["advisor"], PASSWORDS["advisor"])
        assert client.get(f"{copy.url}/list").status_code == 200
        revoke(copy.engine, _user_id(copy.engine, api.usernames["advisor"]), "tests")
        assert client.get(f"{copy.url}/list", follow_redirects=False).status_code == 303


# 10. Limits ---------------------------------------------------------------------------------


def test_repeated_bad_tokens_are_slowed_down_without_locking_out_their_address(
    copy: Copy, api: Api
) -> None:
    """An integration left with an old token keeps sending it: it is slowed down, but a
    school's staff share its address, and must still sign in and use their tokens."""
    codes = [
        httpx.get(
            copy.url + "/api/v1/model", headers={"Authorization": f"Bearer bad-{i}"}
        ).status_code
        for i in range(22)
    ]
    with httpx.Client() as client:
        signed_in = _signed_in(client, copy.url, api.usernames["advisor"], PASSWORDS["advisor"])

    assert codes[0] == 401
    assert codes[-1] == 429
    assert copy.get("/api/v1/model", "analyst").status_code == 200  # a valid token passes
    assert signed_in.status_code == 303  # and a teacher signs in from the same address


def test_an_oversized_body_is_refused_unread_and_input_is_never_echoed(copy: Copy) -> None:
    huge = {"rows": [{"absence_rate_term": 0.1}] * 200_000}
    assert copy.post("/api/v1/score/features", "analyst", json=huge).status_code == 413
    long_id = "ST" + "9" * 200_000
    refused = copy.post("/api/v1/score", "committee", json={"student_ids": [long_id[:400_000]]})
    assert refused.status_code in (404, 413, 422)
    assert long_id[:1000] not in refused.text
    missing = copy.post("/api/v1/score", "committee", json={"student_ids": ["NO-SUCH-CHILD-XYZ"]})
    assert missing.status_code == 404
    assert "NO-SUCH-CHILD-XYZ" not in missing.text


# 11. Headers and small gaps --------------------------------------------------------------------


def test_every_response_carries_no_store_and_a_content_security_policy(api: Api) -> None:
    for response in (
        api.get("/api/v1/risk-list", "committee"),
        httpx.get(api.url + "/login"),
        api.get("/api/v1/students/NOPE", "committee"),
    ):
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    page = httpx.get(api.url + "/login").text
    assert "style=" not in page  # the policy allows no inline style
    assert "<style" not in page


def test_the_api_documentation_is_off_unless_enabled(api: Api) -> None:
    settings = api.settings.model_copy(update={"api_docs": False})
    with running_server(settings) as url:
        assert httpx.get(url + "/docs").status_code == 404
        assert httpx.get(url + "/openapi.json").status_code == 404


def test_rejects_reports_escape_formulas_and_sqlite_writes_are_synchronous(
    base_directory: Path, tmp_path: Path
) -> None:
    from schooldata.ingest import ingest_directory

    (base_directory / "attendance.csv").write_text(
        'student_id,date,status\nA1,2025-06-02,=HYPERLINK("http://x")\n', encoding="utf-8"
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    ingest_directory(base_directory, engine, "k" * 40, tmp_path / "rejects")

    rejected = (tmp_path / "rejects" / "attendance.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in rejected
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    assert os.path.exists(tmp_path / "ews.db")
