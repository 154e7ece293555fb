"""The week runs itself: two server workers' schedulers over simulated weeks, a holiday and
an upload; messages reach a real SMTP server and a signed webhook."""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from typer.testing import CliRunner

from core.clock import BANGKOK
from core.settings import Settings
from ews.cli import app as cli
from schooldata.db import make_engine, upgrade
from schooldata.ingest import ingest_directory
from schooldata.tables import TABLES, notifications, run_schools, score_runs, student_scores
from serving.accounts import create_user, set_password
from serving.app import create_app
from serving.i18n import THAI_MONTHS, day
from serving.messages import SIGNATURE_HEADER, tell_about_run
from serving.schedule import RETRY_AFTER, WeekRunner, now_utc
from serving.scoring import NOTHING_LOADED, NothingToScore, weekly_run
from serving.translate import thai
from tests.conftest import ID_KEY, scratch_settings
from tests.serving.conftest import (
    WEEKS,
    _free_port,
    check_retries,
    copy_with_a_late_school,
    copy_without_runs,
    job_rows,
    serving,
    shoot,
    sign_in,
)

MONDAYS = ("2025-02-10", "2025-02-17", "2025-02-24", "2025-03-03")
HOLIDAY_WEEK = ",".join(f"2025-02-{d}" for d in range(17, 22))  # Monday to Friday


def test_two_workers_run_each_school_week_once_skip_the_holiday_and_rerun_an_upload(
    synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    settings = scratch_settings(str(engine.url), tmp_path, holidays=HOLIDAY_WEEK)
    workers = [WeekRunner(settings, engine), WeekRunner(settings, engine)]

    for monday in MONDAYS:
        when = datetime.fromisoformat(f"{monday}T06:00").replace(tzinfo=BANGKOK)
        outcomes: list[Any] = []
        threads = [
            threading.Thread(target=lambda w=w, t=when, o=outcomes: o.append(w.tick(t)))
            for w in workers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert sorted(o.status for o in outcomes) in (["done", "taken"], ["skipped", "taken"])

    jobs = job_rows(engine)
    weekly = jobs[jobs["kind"] == "weekly"].set_index("as_of")["status"]
    assert weekly.to_dict() == {
        date(2025, 2, 10): "done",
        date(2025, 2, 17): "skipped",
        date(2025, 2, 24): "done",
        date(2025, 3, 3): "done",
    }
    assert not jobs.duplicated(["kind", "as_of", "school_id"]).any()  # no week run twice
    runs = pd.read_sql(sa.select(score_runs), engine)
    assert sorted(runs["as_of"].astype(str)) == ["2025-02-10", "2025-02-24", "2025-03-03"]
    assert set(runs["scorer"]) == {"abc_rule"}  # no model yet: the rule, labelled

    school = pd.read_sql(sa.select(student_scores.c.school_id).limit(1), engine).iloc[0, 0]
    latest = int(runs.loc[runs["as_of"].astype(str) == "2025-03-03", "run_id"].iloc[0])
    before = pd.read_sql(
        sa.select(sa.func.count()).where(student_scores.c.run_id == latest), engine
    ).iloc[0, 0]
    assert workers[0].rerun_school(school).status == "started"
    workers[0].reruns[-1].join(timeout=600)
    jobs = job_rows(engine)
    reruns = jobs[jobs["kind"] == "school"]
    assert reruns[["school_id", "status", "trigger"]].values.tolist() == [
        [school, "done", "upload"]
    ]
    after = pd.read_sql(
        sa.select(sa.func.count()).where(student_scores.c.run_id == latest), engine
    ).iloc[0, 0]
    assert after == before  # the school's students replaced, nobody lost or doubled
    assert len(pd.read_sql(sa.select(score_runs), engine)) == 3  # no new run


def test_a_failed_run_is_recorded_with_an_error_id_and_retried(
    synthetic_engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    settings = scratch_settings(str(engine.url), tmp_path)
    calls: list[date] = []

    def flaky(day: date, school: str | None) -> tuple[int | None, str, int | None]:
        calls.append(day)
        if len(calls) == 1:
            raise RuntimeError("the database was unreachable")
        return None, "abc_rule", 0

    runner = WeekRunner(settings, engine, run_job=flaky)
    when = datetime.fromisoformat("2025-03-03T06:00").replace(tzinfo=BANGKOK)
    assert runner.tick(when).status == "failed"
    assert runner.tick(when).status == "taken"  # the week is not run twice by the schedule
    failed = job_rows(engine).iloc[0]
    assert failed["status"] == "failed"
    assert len(failed["error_id"]) == 12
    assert "unreachable" in failed["detail"]
    assert runner.retry_failed(datetime.now(BANGKOK)) == []  # not before RETRY_AFTER
    later = datetime.now(BANGKOK) + RETRY_AFTER
    assert [o.status for o in runner.retry_failed(later)] == ["done"]
    assert job_rows(engine)["attempt"].tolist() == [1, 2]
    # The log tells each run's start and end, the failure by its error id.
    told = [r.getMessage() for r in caplog.records if r.name == "serving.schedule"]
    assert told[0] == "weekly run of 2025-03-03 started (attempt 1, schedule)"
    assert (
        told[1]
        == f"weekly run failed (error id {failed['error_id']}): the database was unreachable"
    )
    assert told[2] == "weekly run of 2025-03-03 started (attempt 2, retry)"
    assert re.fullmatch(r"weekly run of 2025-03-03 done in \d+ s", told[3])
    runner.start()  # the scheduling library's every job added and run is not told
    # The weekly run comes when `ews status` says, in Bangkok's time whatever the
    # server's zone (UTC here: it came seven hours late).
    due = runner._scheduler.get_job("weekly-run").next_run_time
    runner.stop()
    assert due == runner.next_run()
    assert due.astimezone(BANGKOK).strftime("%a %H:%M") == "Mon 06:00"
    assert not [r for r in caplog.records if r.name.startswith("apscheduler")]

    def broken() -> tuple[int | None, str, int | None]:
        raise ValueError("nobody is enrolled on that day")

    # A command's failure is recorded and reported to whoever typed it, never retried.
    with pytest.raises(ValueError, match="nobody is enrolled"):
        runner.record("weekly", date(2025, 3, 10), "", "command", broken)
    # (Started above, the scheduler catches up this week's run when the test runs after
    # Monday 06:00 in Bangkok: the command's row is found by its week, not by place.)
    jobs = job_rows(engine)
    command = jobs[jobs["as_of"] == date(2025, 3, 10)].iloc[-1]
    assert (command["status"], command["trigger"]) == ("failed", "command")
    assert runner.retry_failed(later) == []


def test_a_command_whose_attempt_another_took_a_moment_before_runs_as_the_next(
    tmp_path: Path,
) -> None:
    """Two ``ews score`` typed at once both read attempt 1 as the next: the one whose
    claim finds it taken runs as attempt 2. Before, it ran nothing and the command
    failed on its missing report (an IndexError)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)

    class Beaten(WeekRunner):
        """Reads the next attempt just before another command claims it (once)."""

        beaten = False

        def _next_attempt(self, kind: str, day: date, school_id: str) -> int:
            attempt = super()._next_attempt(kind, day, school_id)
            if not self.beaten:
                self.beaten = True
                WeekRunner(self.settings, self.engine).record(kind, day, school_id, "command", done)
            return attempt

    def done() -> tuple[int | None, str, int | None]:
        return None, "abc_rule", 0

    runner = Beaten(scratch_settings(str(engine.url), tmp_path), engine)
    outcome = runner.record("weekly", date(2025, 3, 10), "", "command", done)
    assert outcome.status == "done"
    assert job_rows(engine)["attempt"].tolist() == [1, 2]


def test_a_new_service_before_any_file_skips_its_week_and_says_why(tmp_path: Path) -> None:
    """A new service with no data and no model: the week's run (``ews score`` in its own
    process) is skipped, not failed and retried, and the reason recorded is the
    command's, not the warning it logged on the way (that no model is registered yet)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    runner = WeekRunner(scratch_settings(str(engine.url), tmp_path), engine)
    when = datetime.fromisoformat("2025-03-03T06:00").replace(tzinfo=BANGKOK)
    assert runner.tick(when).status == "skipped"
    week = job_rows(engine).iloc[-1]
    assert week["detail"] == NOTHING_LOADED
    assert week["error_id"] is None
    assert thai(str(week["detail"])).startswith("ยังไม่มีข้อมูลการลงทะเบียนเรียนในระบบ")
    assert runner.retry_failed(when + 2 * RETRY_AFTER) == []


def test_a_new_terms_first_week_waits_for_its_files_then_gets_its_list_when_they_come(
    synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    """Monday of a new term, before any school has loaded its enrolments: the run finds
    nobody to score. That is recorded as skipped with the reason, not as a failure retried
    with an error id; a school's upload that week makes the week's list then."""
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    runner = WeekRunner(scratch_settings(str(engine.url), tmp_path), engine)
    at = lambda text: datetime.fromisoformat(text).replace(tzinfo=BANGKOK)  # noqa: E731
    assert runner.tick(at("2025-03-03T06:00")).status == "done"  # the last term's last week

    first = runner.tick(at("2025-05-19T06:00"))  # 2568 term 1 began on Friday 16 May

    assert first.status == "skipped"
    week = job_rows(engine).iloc[-1]
    assert week["status"] == "skipped"
    assert week["error_id"] is None
    assert str(week["detail"]).startswith("no student is enrolled on 2025-05-19")
    # The operations page (in Thai) says why, and what brings the list.
    assert thai(str(week["detail"])).startswith("ไม่มีนักเรียนที่ลงทะเบียนเรียนในวันที่ 19 พ.ค. 2568")
    assert runner.retry_failed(at("2025-05-19T06:00") + 2 * RETRY_AFTER) == []

    # Wednesday: one school loads its new term (its enrolments and the days so far).
    enrolled = pd.read_sql(
        sa.select(TABLES["enrollments"]).where(
            (TABLES["enrollments"].c.academic_year == 2567) & (TABLES["enrollments"].c.term == 2)
        ),
        engine,
    )
    school = enrolled["school_id"].value_counts().index[0]
    mine = enrolled[enrolled["school_id"] == school]
    folder = tmp_path / "new-term"
    folder.mkdir()
    mine[["school_id", "student_id", "grade_level", "classroom", "advisor_id"]].assign(
        academic_year=2568, term=1
    ).to_csv(folder / "enrollments.csv", index=False)
    days = pd.DataFrame({"date": ["2025-05-16", "2025-05-19", "2025-05-20"], "status": "present"})
    mine[["school_id", "student_id"]].merge(days, how="cross").to_csv(
        folder / "attendance.csv", index=False
    )
    report = ingest_directory(folder, engine, ID_KEY, tmp_path / "rejects")
    assert sum(s.rows_rejected for s in report.sources) == 0

    assert runner.rerun_school(school, when=at("2025-05-21T10:00")).status == "started"
    runner.reruns[-1].join(timeout=600)

    runs = pd.read_sql(sa.select(score_runs).order_by(score_runs.c.run_id), engine)
    assert runs["as_of"].astype(str).tolist() == ["2025-03-03", "2025-05-19"]
    assert int(runs["students"].iloc[-1]) == len(mine)
    made = job_rows(engine).iloc[-1]
    assert (str(made["as_of"]), made["kind"], made["trigger"], made["status"]) == (
        "2025-05-19",
        "weekly",
        "upload",
        "done",
    )
    # Another upload that week reruns the school in the week's list, as any week.
    assert runner.rerun_school(school, when=at("2025-05-22T10:00")).status == "started"
    runner.reruns[-1].join(timeout=600)
    again = job_rows(engine).iloc[-1]
    assert (again["kind"], again["school_id"], again["status"]) == ("school", school, "done")
    assert len(pd.read_sql(sa.select(score_runs), engine)) == 2


def test_a_weeks_run_missed_while_the_service_was_down_is_made_when_it_is_back(
    tmp_path: Path,
) -> None:
    """The scheduler only starts what falls due while it runs: a server down at Monday
    06:00 (a power cut, an update) left the whole week without a list."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    runner = WeekRunner(
        scratch_settings(str(engine.url), tmp_path), engine, run_job=lambda d, s: (None, "x", 0)
    )
    at = lambda text: datetime.fromisoformat(text).replace(tzinfo=BANGKOK)  # noqa: E731

    assert runner.catch_up(at("2025-02-26T09:00")) is None  # a new service waits for Monday
    assert runner.tick(at("2025-02-24T06:00")).status == "done"
    assert runner.catch_up(at("2025-02-26T09:00")) is None  # this week's was made
    # Down from Sunday night until Tuesday 09:30: Monday's run is made then, dated Monday.
    back = runner.catch_up(at("2025-03-04T09:30"))
    assert back is not None
    assert back.status == "done"
    assert runner.catch_up(at("2025-03-04T09:40")) is None  # once
    assert runner.catch_up(at("2025-03-10T05:59")) is None  # the next is not yet due
    made = job_rows(engine)[["as_of", "trigger", "status"]].astype(str).values.tolist()
    assert made == [["2025-02-24", "schedule", "done"], ["2025-03-03", "catch-up", "done"]]

    # A service started today makes this week's missed run at once, not in ten minutes.
    this_week = (runner.next_run() - timedelta(days=7)).date()
    runner.start()
    try:
        for _ in range(100):
            caught = job_rows(engine).query("trigger == 'catch-up'")["as_of"].astype(str)
            if len(caught) == 2:
                break
            time.sleep(0.1)
    finally:
        runner.stop()
    assert caught.tolist() == ["2025-03-03", str(this_week)]


def test_the_runs_say_when_they_started_on_the_schools_clock(page: Any, tmp_path: Path) -> None:
    """`ews status` and the operations page give each run's start in Bangkok's time (the
    database keeps UTC), so an admin can see the Monday run came at 06:00."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    settings = scratch_settings(str(engine.url), tmp_path)

    def job(day: date, school: str | None) -> tuple[int | None, str, int | None]:
        if day == date(2025, 5, 19):  # a new term's Monday, before its enrolments
            raise NothingToScore(
                "no student is enrolled on 2025-05-19 (a holiday, a date typed wrong, or a "
                "term whose enrolments are not loaded yet). The data holds: 2567 term 2"
            )
        return None, "abc_rule", 0

    runner = WeekRunner(settings, engine, run_job=job)
    assert runner.tick(datetime.fromisoformat("2025-03-03T06:00+07:00")).status == "done"
    assert runner.tick(datetime.fromisoformat("2025-05-19T06:00+07:00")).status == "skipped"
    started = job_rows(engine)["started_at"].iloc[0].to_pydatetime()  # UTC
    here = started + timedelta(hours=7)  # Bangkok keeps no summer time
    english = f"{here.day} {here:%b %Y %H:%M}"
    thai = f"{here.day} {THAI_MONTHS[here.month - 1]} {here.year + 543} {here:%H:%M}"

    env = {
        "EWS_DATABASE_URL": str(engine.url),
        "EWS_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "EWS_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "COLUMNS": "160",
    }
    status = CliRunner().invoke(cli, ["status"], env=env)
    assert status.exit_code == 0, status.output
    assert english in status.output
    assert f"{started:%H:%M}" not in status.output  # the server's UTC

    admin, _ = create_user(engine, "admin", "ผู้ดูแล", username="admin")
    set_password(engine, admin.user_id, "schedule-password-1", "tests", must_change=False)
    with serving(create_app(settings)) as url:
        sign_in(page, url, "admin", "schedule-password-1")
        page.goto(url + "/admin/operations")
        skipped, row = (r.inner_text() for r in page.locator("table.runs tbody tr").all()[:2])
        shoot(page, "operations")
    assert thai in row
    assert f"{started:%H:%M}" not in row
    # Why the new term's first week has no list yet, and what brings it, in Thai.
    assert "ยังไม่ได้ส่งข้อมูลการลงทะเบียน" in skipped
    assert "enrolled" not in skipped


def test_a_dead_workers_run_is_taken_over_and_only_a_runs_last_attempt_counts(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    check_retries(engine, tmp_path)


def test_a_worker_keeps_only_the_reruns_still_at_work(tmp_path: Path) -> None:
    """A worker lives through many uploads: the reruns that ended are let go."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(score_runs).values(
                as_of=date(2025, 3, 10), model_version="1", created_at=now_utc(), students=0
            )
        )
    runner = WeekRunner(
        scratch_settings(str(engine.url), tmp_path), engine, run_job=lambda d, s: (None, "x", 0)
    )
    assert runner.rerun_school("S1").status == "started"
    first = runner.reruns[0]
    first.join(timeout=60)
    assert runner.rerun_school("S2").status == "started"
    assert first not in runner.reruns
    assert len(runner.reruns) == 1
    runner.reruns[0].join(timeout=60)
    assert job_rows(engine)[["school_id", "status"]].values.tolist() == [
        ["S1", "done"],
        ["S2", "done"],
    ]


def test_an_upload_while_the_weeks_run_is_at_work_is_in_that_weeks_list(tmp_path: Path) -> None:
    """Monday's run takes minutes at an area's scale; a data officer who uploads then
    (the files the run was waiting for) gets the school rerun in this week's list once
    the run ends, not last week's list redone while this week's misses the files."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    started, release = threading.Event(), threading.Event()
    calls: list[tuple[date, str | None]] = []

    def run_job(day: date, school: str | None) -> tuple[int | None, str, int | None]:
        calls.append((day, school))
        if school is None:
            started.set()
            release.wait(timeout=60)
            with engine.begin() as connection:
                connection.execute(
                    sa.insert(score_runs).values(
                        as_of=day, model_version="1", created_at=now_utc(), students=0
                    )
                )
        return None, "x", 0

    with engine.begin() as connection:  # last week's list
        connection.execute(
            sa.insert(score_runs).values(
                as_of=date(2025, 2, 24), model_version="1", created_at=now_utc(), students=0
            )
        )
    runner = WeekRunner(scratch_settings(str(engine.url), tmp_path), engine, run_job=run_job)
    runner.wait_poll = 0.05
    at = lambda text: datetime.fromisoformat(text).replace(tzinfo=BANGKOK)  # noqa: E731
    weekly = threading.Thread(target=lambda: runner.tick(at("2025-03-03T06:00")))
    weekly.start()
    assert started.wait(timeout=60)

    assert runner.rerun_school("S1", when=at("2025-03-03T06:05")).status == "started"
    time.sleep(0.5)
    assert calls == [(date(2025, 3, 3), None)]  # waiting for the week's run
    release.set()
    weekly.join(timeout=60)
    runner.reruns[-1].join(timeout=60)

    assert calls == [(date(2025, 3, 3), None), (date(2025, 3, 3), "S1")]
    jobs = job_rows(engine)
    assert jobs[["kind", "as_of", "school_id", "status"]].astype(str).values.tolist() == [
        ["weekly", "2025-03-03", "", "done"],
        ["school", "2025-03-03", "S1", "done"],
    ]


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers[SIGNATURE_HEADER]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _post_office(settings: Settings) -> Iterator[tuple[Settings, list[Any]]]:
    """A real SMTP server and a webhook receiver; the settings that send to them, and the
    mail received (the webhook's bodies in ``_Receiver.received``)."""
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    smtp_port = _free_port()
    smtp = Controller(Handler(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    hook = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    _Receiver.received = []
    try:
        yield (
            settings.model_copy(
                update={
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "smtp_starttls": False,
                    "webhook_url": f"http://127.0.0.1:{hook.server_port}/ews",
                    "webhook_secret": SecretStr("a-webhook-secret-of-the-school"),
                }
            ),
            received,
        )
    finally:
        smtp.stop()
        hook.shutdown()


def _text(envelope: Any) -> str:
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    return f"{message['Subject']}\n{message.get_content()}"


def test_each_advisor_is_told_by_mail_and_each_school_by_a_signed_webhook_without_a_child(
    api, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    with _post_office(api.settings) as (settings, received):
        engine = api.engine
        with engine.connect() as connection:
            (run_id,) = connection.execute(sa.select(sa.func.max(score_runs.c.run_id))).one()
            advisors = (
                connection.execute(
                    sa.select(student_scores.c.advisor_id)
                    .where(
                        (student_scores.c.run_id == run_id)
                        & (student_scores.c.school_id == api.school)
                    )
                    .distinct()
                )
                .scalars()
                .all()
            )
        mailed = []
        for number, advisor in enumerate(advisors[:3]):
            user, _ = create_user(
                engine, "advisor", f"ครู {number}", staff_id=advisor, school_id=api.school
            )
            with engine.begin() as connection:
                connection.execute(
                    sa.text("UPDATE users SET email = :e WHERE user_id = :u"),
                    {"e": f"teacher{number}@school.example", "u": user.user_id},
                )
            mailed.append(user.user_id)
        quiet, _ = create_user(
            engine, "advisor", "ครูไม่รับ", staff_id=advisors[0], school_id=api.school
        )
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE users SET email = 'quiet@school.example', notify = false "
                    "WHERE user_id = :u"
                ),
                {"u": quiet.user_id},
            )

        # A data officer of a school in the list is told nothing: the list is not theirs.
        officer, _ = create_user(engine, "data_officer", "เจ้าหน้าที่", school_id=api.school)
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE users SET email = 'officer@school.example' WHERE user_id = :u"),
                {"u": officer.user_id},
            )

        sent = tell_about_run(settings, engine, run_id)

        assert sent["failed"] == 0
        to = sorted(e.rcpt_tos[0] for e in received)
        assert to == sorted(f"teacher{n}@school.example" for n in range(len(mailed)))
        names = pd.read_sql("SELECT student_id, given_name, family_name FROM students", engine)
        for envelope in received:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            text = message.get_content()
            assert "/list" in text
            for value in (*names["given_name"].dropna(), *names["student_id"]):
                assert f" {value} " not in text  # counts and a link, never a child
        bodies = {json.loads(body)["school_id"]: (body, sig) for body, sig in _Receiver.received}
        assert api.school in bodies
        body, sig = bodies[api.school]
        expected = hmac.new(b"a-webhook-secret-of-the-school", body, hashlib.sha256).hexdigest()
        assert sig == f"sha256={expected}"
        assert set(json.loads(body)) == {
            "event",
            "school_id",
            "as_of",
            "on_list",
            "new_on_list",
            "moved_up",
            "link",
        }
        recorded = pd.read_sql(
            sa.select(notifications).where(notifications.c.run_id == run_id), engine
        )
        assert (recorded["status"] == "sent").all()
        assert quiet.user_id not in set(recorded["user_id"].dropna())


def test_a_school_left_out_for_old_attendance_is_told_so_and_who_sends_the_registers(
    api, synthetic_engine: sa.Engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A stale school's advisor was told "this week's list is ready: 0 of your students on
    it". Its readers and its data officer are told it was left out and since when; its
    webhook says so; another school's readers get their list as before."""
    as_of = pd.Timestamp(WEEKS[-1])
    engine = copy_with_a_late_school(synthetic_engine, tmp_path / "ews.db", api.school, as_of)
    attendance = TABLES["attendance"]
    run = weekly_run(engine, api.scorer, as_of)
    with engine.connect() as connection:
        stale = connection.execute(
            sa.select(run_schools.c.newest_attendance, run_schools.c.school_days_missing).where(
                (run_schools.c.run_id == run.run_id)
                & (run_schools.c.school_id == api.school)
                & run_schools.c.stale
            )
        ).one()
    addresses = {}
    for role, school, staff in (
        ("advisor", api.school, None),
        ("committee", api.school, None),
        ("data_officer", api.school, None),
        ("committee", api.other_school, None),
        ("data_officer", api.other_school, None),
    ):
        user, _ = create_user(
            engine,
            role,
            f"{role} {school}",
            school_id=school,
            staff_id=staff or ("class:any" if role == "advisor" else None),
        )
        address = f"{role}.{school}@school.example".lower()
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE users SET email = :e WHERE user_id = :u"),
                {"e": address, "u": user.user_id},
            )
        addresses[(role, school)] = address

    with _post_office(api.settings) as (settings, received):
        sent = tell_about_run(settings, engine, run.run_id)

        assert sent["failed"] == 0
        texts = {e.rcpt_tos[0]: _text(e) for e in received}
        # The stale school's three, each told it was left out; the other school's committee
        # its list; the other school's data officer nothing.
        assert set(texts) == {
            addresses[("advisor", api.school)],
            addresses[("committee", api.school)],
            addresses[("data_officer", api.school)],
            addresses[("committee", api.other_school)],
        }
        newest_th, newest_en = (
            day(stale.newest_attendance, "th"),
            day(stale.newest_attendance, "en"),
        )
        for role in ("advisor", "committee", "data_officer"):
            text = " ".join(texts[addresses[(role, api.school)]].split())
            assert "This week's list left your school out" in text
            assert f"ข้อมูลการมาเรียนล่าสุดคือวันที่ {newest_th}" in text
            assert f"its newest attendance is from {newest_en}" in text
            assert f"{stale.school_days_missing} school days since have no record" in text
            assert "นักเรียนในรายชื่อของท่าน" not in text  # no "list ready" with nobody on it
            sends = f"Send the newest registers: {settings.public_url}/upload"
            assert (sends in text) == (role == "data_officer")
            assert ("Your school's data officer sends" in text) == (role != "data_officer")
        listed = texts[addresses[("committee", api.other_school)]]
        assert "This week's list is ready" in listed
        assert f"The list of {day(as_of, 'en')}:" in listed

        events = {
            (event["school_id"], event["event"]): event
            for event in (json.loads(body) for body, _ in _Receiver.received)
        }
        assert (api.school, "weekly_list_ready") not in events
        assert events[(api.school, "school_left_out")] == {
            "event": "school_left_out",
            "school_id": api.school,
            "as_of": str(as_of.date()),
            "newest_attendance": str(stale.newest_attendance),
            "school_days_missing": stale.school_days_missing,
            "link": f"{settings.public_url}/upload",
        }
        assert (api.other_school, "weekly_list_ready") in events

        # The registers come; `ews score --school` (as the scheduler runs it after the
        # upload) makes the school's list again and tells its readers, and no one else,
        # that it is ready. A later rerun of a school in the list tells nobody.
        attendance_back = pd.read_sql(
            sa.select(attendance).where(
                (attendance.c.school_id == api.school)
                & (attendance.c.date > stale.newest_attendance)
            ),
            synthetic_engine,
        )
        attendance_back.to_sql("attendance", engine, if_exists="append", index=False)
        received.clear()
        _Receiver.received = []
        env = {
            "EWS_DATABASE_URL": str(engine.url),
            "EWS_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
            "EWS_MLFLOW_ARTIFACT_ROOT": str(settings.mlflow_artifact_root),
            "EWS_SECRETS_FILE": str(tmp_path / "secrets.json"),
            "EWS_SMTP_HOST": "127.0.0.1",
            "EWS_SMTP_PORT": str(settings.smtp_port),
            "EWS_SMTP_STARTTLS": "false",
            "EWS_WEBHOOK_URL": str(settings.webhook_url),
            "EWS_WEBHOOK_SECRET": "a-webhook-secret-of-the-school",
        }
        command = ["score", "--as-of", str(as_of.date()), "--school", api.school]
        again = CliRunner().invoke(cli, command, env=env)
        assert again.exit_code == 0, again.output
        assert "Messages: 3 sent, 0 failed" in again.output
        texts = {e.rcpt_tos[0]: _text(e) for e in received}
        assert set(texts) == {
            addresses[("advisor", api.school)],
            addresses[("committee", api.school)],
        }
        assert all("This week's list is ready" in text for text in texts.values())
        assert [json.loads(body)["event"] for body, _ in _Receiver.received] == [
            "weekly_list_ready"
        ]
        received.clear()
        once_more = CliRunner().invoke(cli, command, env=env)
        assert once_more.exit_code == 0, once_more.output
        assert "Messages" not in once_more.output
        assert received == []

        # The whole week made again by a typed command tells its readers once: a second
        # run of the week (the scheduler's, then one typed out of habit) sends nothing
        # unless asked. Before, every reader got "this week's list is ready" again.
        week = ["score", "--as-of", str(as_of.date())]
        first = CliRunner().invoke(cli, week, env=env)
        assert first.exit_code == 0, first.output
        told = re.search(r"Messages: (\d+) sent, 0 failed", first.output)
        assert told is not None
        assert received
        received.clear()
        second = CliRunner().invoke(cli, week, env=env)
        assert second.exit_code == 0, second.output
        assert "Messages: not sent again: a run of this week told its readers on" in second.output
        assert received == []
        asked = CliRunner().invoke(cli, [*week, "--messages"], env=env)
        assert f"Messages: {told[1]} sent, 0 failed" in asked.output
