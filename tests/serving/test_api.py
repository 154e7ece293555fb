"""The JSON API against a real uvicorn server: every endpoint, role and denial."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import psutil
import pytest
import sqlalchemy as sa

from core import clock
from core.settings import Settings
from devtools.processes import connections_held, wait_for_workers, workers_of
from schooldata.tables import TABLES, audit_log
from serving import records, translate
from serving.access import StudentKey
from serving.accounts import Caller, authenticate
from serving.model_page import ModelReports
from tests.serving.conftest import WEEKS, Api, copy_without_runs, csrf_of
from training.fairness import flag_meaning

THAI = re.compile("[\u0e00-\u0e7f]")
ROLES = ("advisor", "committee", "analyst", "admin")
# Which of the three students each role may see.
SCOPE = {
    "advisor": {"own_student"},
    "committee": {"own_student", "colleague_student"},
    "analyst": set(),
    "admin": set(),
}


def _student_calls(api: Api, role: str, student: str, school: str | None = None) -> dict[str, int]:
    """Each student route's status for a student code (at ``school``, when given)."""
    at = f"?school_id={school}" if school else ""
    named = {"school_id": school} if school else {}
    return {
        "GET student": api.get(f"/api/v1/students/{student}{at}", role).status_code,
        "GET interventions": api.get(
            f"/api/v1/students/{student}/interventions{at}", role
        ).status_code,
        "POST score": api.post(
            "/api/v1/score", role, json={"student_ids": [student], "as_of": WEEKS[1], **named}
        ).status_code,
        "POST intervention": api.post(
            "/api/v1/interventions",
            role,
            json={
                "student_id": student,
                "date": WEEKS[1],
                "type": "counselling",
                "outcome": "done",
                **named,
            },
        ).status_code,
    }


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix_for_student_endpoints(api: Api, role: str) -> None:
    for which in ("own_student", "colleague_student", "far_student"):
        # The far student is another school's: named with that school (its code alone
        # names a student of the caller's own school).
        school = api.other_school if which == "far_student" else None
        codes = _student_calls(api, role, getattr(api, which), school)
        allowed = which in SCOPE[role]
        expected = {
            name: (201 if name.startswith("POST intervention") else 200) if allowed else 404
            for name in codes
        }
        assert codes == expected, (role, which)
    missing = _student_calls(api, role, "NO-SUCH-STUDENT")
    assert set(missing.values()) == {404}, role


def test_out_of_scope_answers_exactly_like_a_missing_student(api: Api) -> None:
    hidden = api.get(f"/api/v1/students/{api.far_student}?school_id={api.other_school}", "advisor")
    missing = api.get("/api/v1/students/NO-SUCH-STUDENT", "advisor")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_every_api_route_needs_a_token_but_health(api: Api) -> None:
    assert api.get("/health").status_code == 200
    assert api.get("/health").json()["champion_version"] == api.scorer.version
    for path in (
        "/api/v1/model",
        "/api/v1/risk-list",
        f"/api/v1/students/{api.own_student}",
        f"/api/v1/schools/{api.school}/home-visit-plan",
    ):
        assert api.get(path).status_code == 401, path
    bad = {"Authorization": "Bearer not-a-token"}
    assert api.get("/api/v1/model", None, headers=bad).status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_model_info_for_every_role(api: Api, role: str) -> None:
    body = api.get("/api/v1/model", role).json()

    assert body["version"] == api.scorer.version
    assert body["features"] == api.scorer.features
    assert "precision_at_10" in body["test_metrics"]


def test_advisor_list_holds_only_their_students(api: Api) -> None:
    body = api.get("/api/v1/risk-list", "advisor").json()
    advisors = {s["advisor_id"] for s in body["students"]}

    assert body["as_of"] == WEEKS[1]
    assert len(advisors) == 1
    assert api.own_student in {s["student_id"] for s in body["students"]}
    assert [s["rank_in_advisor"] for s in body["students"]] == sorted(
        s["rank_in_advisor"] for s in body["students"]
    )
    assert api.get("/api/v1/risk-list?advisor_id=SOMEONE-ELSE", "advisor").status_code == 404
    assert (
        api.get(f"/api/v1/risk-list?school_id={api.other_school}", "committee").status_code == 404
    )
    assert api.get("/api/v1/risk-list", "analyst").status_code == 404
    assert api.get("/api/v1/risk-list", "admin").status_code == 404


def test_committee_list_covers_the_school_with_reasons_steps_and_changes(api: Api) -> None:
    body = api.get("/api/v1/risk-list?tier=high&tier=watch", "committee").json()
    students = body["students"]

    assert students
    assert {s["school_id"] for s in students} == {api.school}
    assert {s["tier"] for s in students} <= {"high", "watch"}
    assert {s["change"] for s in students} <= {"new", "up", "down", "same"}
    with_reasons = [s for s in students if s["reasons"]]
    assert with_reasons
    assert all(THAI.search(r["text_th"]) for s in with_reasons for r in s["reasons"])
    assert any(s["suggested_step_th"] for s in students)


def test_a_list_asked_for_what_it_cannot_hold_says_so_instead_of_answering_nobody(
    api: Api,
) -> None:
    """A tier spelled another way, or a week before the service's first, was answered an
    empty list or "no weekly run yet": an integration would read that nobody is at risk."""
    wrong_tier = api.get("/api/v1/risk-list?tier=High", "committee")
    before_first = api.get("/api/v1/risk-list?as_of=2024-01-01", "committee")

    assert wrong_tier.status_code == 422
    assert "'high', 'watch' or 'low'" in wrong_tier.text
    assert before_first.status_code == 404
    assert (
        f"no weekly run on or before 2024-01-01: the first was on {WEEKS[0]}"
        in (before_first.json()["detail"])
    )
    schema = httpx.get(f"{api.url}/openapi.json").json()["components"]["schemas"]
    assert "home_visit" in schema["InterventionIn"]["properties"]["type"]["enum"]
    assert "found_enrolled" in schema["MissingCaseUpdate"]["properties"]["status"]["enum"]


def test_a_large_schools_list_is_read_page_by_page(api: Api) -> None:
    """A vocational college may hold more students than one answer's limit: ``offset``
    pages through the list, in rank order, without a student twice or left out."""
    whole = api.get("/api/v1/risk-list?limit=9", "committee").json()["students"]
    pages = [
        api.get(f"/api/v1/risk-list?limit=3&offset={at}", "committee").json()["students"]
        for at in (0, 3, 6)
    ]

    assert len(whole) == 9
    assert [s["student_id"] for page in pages for s in page] == [s["student_id"] for s in whole]
    assert api.get("/api/v1/risk-list?offset=-1", "committee").status_code == 422
    assert api.get(f"/api/v1/risk-list?offset={2**72}", "committee").status_code == 422


def test_home_visit_plan_respects_capacity_and_recent_visits(api: Api) -> None:
    first = api.get(f"/api/v1/schools/{api.school}/home-visit-plan?capacity=3", "committee").json()
    chosen = first["students"]
    assert len(chosen) == 3
    assert [s["rank_in_school"] for s in chosen] == sorted(s["rank_in_school"] for s in chosen)

    visited = chosen[0]["student_id"]
    response = api.post(
        "/api/v1/interventions",
        "committee",
        json={"student_id": visited, "date": WEEKS[1], "type": "home_visit", "outcome": "done"},
    )
    assert response.status_code == 201
    again = api.get(f"/api/v1/schools/{api.school}/home-visit-plan?capacity=3", "committee").json()

    assert visited not in {s["student_id"] for s in again["students"]}
    assert len(again["students"]) == 3
    assert (
        api.get(f"/api/v1/schools/{api.other_school}/home-visit-plan", "committee").status_code
        == 404
    )
    assert api.get(f"/api/v1/schools/{api.school}/home-visit-plan", "advisor").status_code == 404


def test_a_record_sent_again_with_its_idempotency_key_is_made_once(api: Api) -> None:
    """An integration whose answer was lost sends the record again: with the same key it
    gets the record it made, never a second visit in the student's history."""
    visit = {"student_id": api.own_student, "date": WEEKS[1], "type": "letter", "outcome": "done"}
    key = {"Idempotency-Key": "7d0c6a5e-visit-1"}
    path = "/api/v1/interventions"
    count = len(api.get(f"/api/v1/students/{api.own_student}/interventions", "advisor").json())

    first = api.post(path, "advisor", json=visit, headers=key)
    again = api.post(path, "advisor", json=visit, headers=key)
    with ThreadPoolExecutor(4) as pool:  # the same key sent at once, as a retrying client may
        at_once = list(
            pool.map(
                lambda _: api.post(path, "advisor", json=visit, headers={"Idempotency-Key": "k2"}),
                range(4),
            )
        )
    other_record = api.post(path, "advisor", json=visit | {"outcome": "other"}, headers=key)
    other_account = api.post(path, "committee", json=visit, headers=key)
    history = api.get(f"/api/v1/students/{api.own_student}/interventions", "advisor").json()

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert sorted(r.status_code for r in at_once) == [200, 200, 200, 201]
    assert len({r.json()["intervention_id"] for r in at_once}) == 1
    assert other_record.status_code == 422
    assert "Idempotency-Key was used for another record" in other_record.text
    assert other_account.status_code == 201  # a key is the sender's own
    assert len(history) == count + 3  # the first, the one sent at once, the committee's


def test_a_key_taken_between_the_check_and_the_insert_answers_the_record_that_took_it(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one key at the same moment both find no record, and both insert:
    the database's unique index refuses the second, which answers the first's record."""
    user = authenticate(api.engine, api.tokens["advisor"])
    assert user is not None
    caller, student = Caller(user, "test"), StudentKey(api.school, api.own_student)
    visit = {"kind": "tutoring", "outcome": "done", "request_key": "at-the-same-moment"}
    day = date.fromisoformat(WEEKS[1])
    first, made = records.record_intervention(api.engine, caller, student, day, **visit)
    looked_up = records._by_request
    missed: list[bool] = []

    def before_the_first_commits(*args: object) -> object:
        if not missed:  # the second's check runs before the first's insert commits
            missed.append(True)
            return None
        return looked_up(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(records, "_by_request", before_the_first_commits)

    second, made_again = records.record_intervention(api.engine, caller, student, day, **visit)

    assert made
    assert not made_again
    assert second == first


def test_a_record_sent_without_a_date_and_sent_again_the_next_day_is_made_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record without a date takes the day it is sent. Its retry after midnight (a
    connection that came back the next morning) is the record it made, not "another
    record"; a retry that gives another date is another record."""
    user = authenticate(api.engine, api.tokens["advisor"])
    assert user is not None
    caller, student = Caller(user, "test"), StudentKey(api.school, api.own_student)
    visit = {"kind": "counselling", "outcome": "done", "request_key": "sent-before-midnight"}
    first_day = date.fromisoformat(WEEKS[1])
    monkeypatch.setattr(clock, "today", lambda: first_day)
    first, made = records.record_intervention(api.engine, caller, student, None, **visit)
    monkeypatch.setattr(clock, "today", lambda: first_day + timedelta(days=1))

    again, made_again = records.record_intervention(api.engine, caller, student, None, **visit)

    assert made
    assert (again, made_again) == (first, False)
    assert again.date == first_day
    with pytest.raises(records.InvalidInput, match="used for another record"):
        records.record_intervention(
            api.engine, caller, student, first_day + timedelta(days=1), **visit
        )


def test_score_is_exact_shap_with_thai_reasons(api: Api) -> None:
    body = api.post(
        "/api/v1/score",
        "committee",
        json={"student_ids": [api.own_student, api.colleague_student], "as_of": WEEKS[1]},
    ).json()

    assert body["model_version"] == api.scorer.version
    assert [r["student_id"] for r in body["results"]] == [api.own_student, api.colleague_student]
    for result in body["results"]:
        total = result["base_value"] + sum(c["shap"] for c in result["contributions"])
        assert total == pytest.approx(result["raw_score"], abs=1e-6)
        assert [c["feature"] for c in result["contributions"]] == api.scorer.features
        assert 0 <= result["risk"] <= 1
    reasons = [r for result in body["results"] for r in result["reasons"]]
    assert reasons
    assert all(THAI.search(r["text_th"]) for r in reasons)


def test_score_features_for_what_if_questions(api: Api) -> None:
    calm = {"absence_rate_term": 0.0, "absent_days_20d": 0.0, "school_days_20d": 20.0}
    worse = {"absence_rate_term": 0.4, "absent_days_20d": 9.0, "school_days_20d": 20.0}
    body = api.post("/api/v1/score/features", "analyst", json={"rows": [calm, worse]}).json()
    first, second = body["results"]

    for result in (first, second):
        total = result["base_value"] + sum(c["shap"] for c in result["contributions"])
        assert total == pytest.approx(result["raw_score"], abs=1e-6)
        assert "student_id" not in result
    assert second["risk"] >= first["risk"]
    assert any(r["text_th"] == "ขาดเรียน 9 จาก 20 วันเรียนล่าสุด" for r in second["reasons"])


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"rows": [{"no_such_feature": 1}]}, 422, "unknown feature 'no_such_feature'"),
        ({"rows": [{"absence_rate_term": "lots"}]}, 422, "absence_rate_term"),
        ({"rows": [{"absence_rate_term": 3.5}]}, 422, "outside 0 to 1"),
        ({"rows": [{"sdq_total": -2}]}, 422, "outside 0 to 40"),
        ({"rows": []}, 422, "rows"),
        ({"rows": [{}] * 51}, 413, "at most 50 rows"),
    ],
)
def test_bad_feature_rows_get_a_clear_4xx(
    api: Api, payload: dict, status: int, message: str
) -> None:
    response = api.post("/api/v1/score/features", "analyst", json=payload)

    assert response.status_code == status
    assert message in response.text


def test_bad_score_requests_get_a_clear_4xx(api: Api) -> None:
    not_enrolled = api.post(
        "/api/v1/score", "committee", json={"student_ids": [api.own_student], "as_of": "2025-04-20"}
    )
    assert not_enrolled.status_code == 422
    assert "not enrolled" in not_enrolled.text
    assert api.post("/api/v1/score", "committee", json={"student_ids": []}).status_code == 422
    assert (
        api.post("/api/v1/score", "committee", json={"student_ids": ["x"] * 501}).status_code == 422
    )
    assert (
        api.post(
            "/api/v1/score",
            "committee",
            json={"student_ids": [api.own_student], "as_of": "yesterday"},
        ).status_code
        == 422
    )
    bad_type = api.post(
        "/api/v1/interventions", "committee", json={"student_id": api.own_student, "type": "magic"}
    )
    assert bad_type.status_code == 422
    assert "type must be one of" in bad_type.text


def test_a_help_dated_years_before_the_child_was_at_the_school_is_refused(api: Api) -> None:
    """A record of help dated in year 1 or 1900 was kept, and the student's page showed a
    visit on 1 ม.ค. 544. A help may come before intake (a visit to a new pupil's home),
    not before the year before the child's first school year at the school."""
    with api.engine.connect() as connection:
        first = connection.execute(
            sa.select(sa.func.min(TABLES["enrollments"].c.academic_year)).where(
                (TABLES["enrollments"].c.school_id == api.school)
                & (TABLES["enrollments"].c.student_id == api.own_student)
            )
        ).scalar_one()
    earliest = date(first - 543 - 1, 1, 1)

    def sent(day: date) -> httpx.Response:
        return api.post(
            "/api/v1/interventions",
            "committee",
            json={"student_id": api.own_student, "type": "letter", "date": day.isoformat()},
        )

    for day in (date(1, 1, 1), date(1900, 1, 1), earliest - timedelta(days=1)):
        refused = sent(day)
        assert refused.status_code == 422
        assert refused.json()["detail"] == (
            f"date is before the student's first school year at this school ({first}): "
            "is its year typed wrong?"
        )
    assert sent(earliest).status_code == 201
    said = translate.in_language(refused.json()["detail"], "th")
    assert said == f"วันที่อยู่ก่อนปีการศึกษาแรกของนักเรียนที่โรงเรียนนี้ ({first}): พิมพ์ปีผิดหรือไม่"


def test_a_record_number_past_any_database_integer_answers_422(api: Api) -> None:
    """The fuzzer's find: a case number of twenty digits reached SQLite, which cannot
    bind it (OverflowError), and the service answered 500."""
    huge = 24623165362153566208
    case = api.post(f"/api/v1/missing-cases/{huge}", "committee", json={"status": "following"})
    correction = api.post(
        "/api/v1/interventions",
        "committee",
        json={"student_id": api.own_student, "type": "letter", "corrects": huge},
    )

    assert case.status_code == 422
    assert case.json()["detail"][0]["loc"] == ["path", "case_id"]
    assert correction.status_code == 422
    assert correction.json()["detail"][0]["loc"] == ["body", "corrects"]


def test_reads_of_student_records_are_audited_and_the_log_is_append_only(api: Api) -> None:
    with api.engine.connect() as connection:
        before = connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()
    api.get(f"/api/v1/students/{api.own_student}", "advisor")
    with api.engine.connect() as connection:
        rows = connection.execute(
            sa.select(audit_log).order_by(audit_log.c.audit_id.desc()).limit(1)
        ).all()
        after = connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()

    assert after == before + 1
    assert rows[0].student_id == api.own_student
    assert rows[0].endpoint == "GET /api/v1/students/{student_id}"
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), api.engine.begin() as connection:
        connection.execute(sa.delete(audit_log))


def test_student_page_data_has_history_and_contributions(api: Api) -> None:
    body = api.get(f"/api/v1/students/{api.own_student}", "advisor").json()

    assert [h["as_of"] for h in body["history"]] == list(WEEKS)
    assert body["latest"]["student_id"] == api.own_student
    assert len(body["contributions"]) == len(api.scorer.features)
    assert body["name"]


def test_the_model_pages_keep_the_runs_files_in_memory(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The analyst's pages read a run's tables and plots from MLflow once and leave no
    folder behind (each process once left one in the temporary folder for good)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    reports = ModelReports(api.settings)
    champion = reports.report().champion
    assert champion is not None

    plot = reports.file(champion.run_id, "calibration.png")
    assert plot is not None
    assert plot.startswith(b"\x89PNG")
    assert reports.file(champion.run_id, "calibration.png") is plot  # downloaded once
    assert len(reports.fairness(champion.run_id)) > 3
    assert reports.file(champion.run_id, "no-such-file.csv") is None
    assert list(tmp_path.iterdir()) == []


def test_the_model_page_reads_what_each_fairness_flag_of_a_run_may_mean(tmp_path: Path) -> None:
    """The page listed a flag by its measure only ("nationality=other (fpr)"); what it may
    mean was in the model card alone, which the page does not show. Training logs it in
    the run's fairness table; the page reads it from there, in both languages."""
    flagged = {"attribute": "poverty", "group": "poor", "students": 2029, "left": 72}
    flagged |= {"status": "flag", "flagged_metrics": "fpr", "fpr_ratio": 2.19}
    flagged |= {"fpr_low": 2.03, "fpr_high": 2.36}
    row = pd.Series(flagged)
    table = pd.DataFrame(
        [
            flagged
            | {"meaning_th": flag_meaning(row, "th"), "meaning_en": flag_meaning(row, "en")},
            {"attribute": "sex", "group": "M", "status": "ok", "meaning_th": "", "meaning_en": ""},
        ]
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("t", artifact_location=(tmp_path / "a").as_uri())
    run = client.create_run(experiment)
    (tmp_path / "fairness.csv").write_text(table.to_csv(index=False), encoding="utf-8")
    client.log_artifact(run.info.run_id, str(tmp_path / "fairness.csv"))

    notes = ModelReports(Settings(mlflow_tracking_uri=uri)).flag_notes(run.info.run_id)

    assert set(notes) == {"poverty=poor"}
    thai, english = notes["poverty=poor"]
    assert "whether or not its children leave" in english
    assert thai.startswith("อาจหมายความว่า")
    assert ModelReports(Settings(mlflow_tracking_uri=uri)).flag_notes("no-such-run") == {}


def _serve_env(api: Api) -> dict[str, str]:
    settings = api.settings
    env = os.environ | {
        "EWS_DATABASE_URL": settings.database_url,
        "EWS_MLFLOW_TRACKING_URI": str(settings.mlflow_tracking_uri),
        "EWS_MLFLOW_ARTIFACT_ROOT": str(settings.mlflow_artifact_root),
    }
    if settings.secrets_file is not None:
        env["EWS_SECRETS_FILE"] = str(settings.secrets_file)
    return env


@pytest.mark.slow
def test_ews_serve_runs_several_worker_processes_from_the_environment(
    api: Api, tmp_path: Path
) -> None:
    """`ews serve --workers 2`: each process builds the app from the environment, loads the
    champion, and answers with the same data and the same access rules; kept-alive
    connections are spread over both processes (each has its own SO_REUSEPORT socket:
    with one shared socket, eight users' connections were all in one process), and a
    worker that dies is replaced and leaves no file behind (it once left its copy of the
    model in the temporary folder)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ews = str(Path(sys.executable).with_name("ews"))
    server = subprocess.Popen(
        [ews, "serve", "--port", str(port), "--workers", "2"],
        env=_serve_env(api) | {"TMPDIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_workers(server, port, 2)
        headers = {"Authorization": f"Bearer {api.tokens['advisor']}"}
        answers = [httpx.get(f"{base}/api/v1/risk-list", headers=headers) for _ in range(6)]
        assert {a.status_code for a in answers} == {200}
        assert answers[0].json() == api.get("/api/v1/risk-list", "advisor").json()
        far = httpx.get(f"{base}/api/v1/students/{api.far_student}", headers=headers)
        assert far.status_code == 404

        # Sixteen users connect at once and each keeps their connection open after a
        # request: both processes hold some (all in one would happen by chance once in
        # 32,768 runs; with one shared socket, the first process to wake takes them all).
        users = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            for user in users:
                user.sendall(b"GET /health HTTP/1.1\r\nHost: ews\r\n\r\n")
            assert all(u.recv(65536).startswith(b"HTTP/1.1 200") for u in users)
            holding = [connections_held(w, port) for w in workers_of(server)]
        finally:
            for user in users:
                user.close()
        assert sum(holding) == 16
        assert min(holding) > 0, f"connections per worker: {holding}"

        gone = workers_of(server)[0]
        gone.kill()
        gone.wait(timeout=10)
        wait_for_workers(server, port, 2)
        assert gone.pid not in {w.pid for w in workers_of(server)}
        again = [httpx.get(f"{base}/api/v1/risk-list", headers=headers) for _ in range(6)]
        assert {a.status_code for a in again} == {200}

        # A second server on the port is refused: it would otherwise join the group of
        # sockets and take half the connections. Also with every worker gone, until they
        # are started again: the serving process holds the port itself.
        _assert_serve_refused(api, port)
        killed = workers_of(server)
        for worker in killed:
            worker.kill()
        psutil.wait_procs(killed, timeout=10)
        with socket.socket() as check:  # a second server's check
            check.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError, match="in use"):
                check.bind(("127.0.0.1", port))
        wait_for_workers(server, port, 2)
        assert httpx.get(f"{base}/api/v1/risk-list", headers=headers).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    # Each worker logs its requests (a spawned worker once logged nothing at INFO).
    log = server.stderr.read().decode() if server.stderr else ""
    assert len(re.findall(r" ews\.api GET /api/v1/risk-list 200 ", log)) == 13


def test_ews_serve_says_when_its_port_is_taken(api: Api) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        _assert_serve_refused(api, taken.getsockname()[1])


def _assert_serve_refused(api: Api, port: int) -> None:
    """``ews serve`` on ``port`` stops at once with a message naming it."""
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("ews")),
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=_serve_env(api),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stdout + done.stderr


def test_behind_a_trusted_proxy_each_user_has_their_own_sign_in_limit(
    synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    """`ews serve` behind a TLS proxy: with the proxy's address in EWS_TRUSTED_PROXIES the
    address it forwards is each user's; otherwise every user is the proxy, and twenty
    failed sign-ins from anyone lock everyone out for a minute. The proxy here is
    127.0.0.2; requests from 127.0.0.1 come through one that is not trusted."""
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("ews")), "serve", "--port", str(port)],
        env=os.environ
        | {
            "EWS_DATABASE_URL": str(engine.url),
            "EWS_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "EWS_SECRETS_FILE": str(tmp_path / "secrets.json"),
            "EWS_SCHEDULER": "false",
            "EWS_TRUSTED_PROXIES": "127.0.0.2",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    refused = {}
    try:
        wait_for_workers(server, port, 1)
        for proxy in ("127.0.0.2", "127.0.0.1"):
            transport = httpx.HTTPTransport(local_address=proxy)
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=60
            ) as client:
                statuses = []
                for user in range(21):  # a school's staff, each mistyping once
                    forwarded = {"X-Forwarded-For": f"203.0.113.{user + 1}"}
                    csrf = csrf_of(client.get("/login", headers=forwarded).text)
                    answer = client.post(
                        "/login",
                        data={"csrf": csrf, "username": f"kru{user}", "password": "wrong"},
                        headers=forwarded,
                    )
                    statuses.append(answer.status_code)
            refused[proxy] = statuses.count(429)
    finally:
        server.terminate()
        server.wait(timeout=60)

    assert refused == {"127.0.0.2": 0, "127.0.0.1": 1}
