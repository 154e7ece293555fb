"""Day one: a database with only ews ingest done, no model anywhere. The service starts,
accounts are made and files uploaded, and the weekly run ranks by the ABC rule, labelled
as such on the pages, in the export and in the API."""

from __future__ import annotations

import logging
import re
import socket
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from core.settings import Settings
from ews.cli import app as cli
from features.catalog import catalog_entries
from riskmodel.bundle import Calibration, ModelBundle, SeasonalCalibration, TierPolicy
from riskmodel.linear import LinearModel
from riskmodel.registry import BUNDLE_ARTIFACT_PATH, CHAMPION, DIGEST_TAG, bundle_digest
from riskmodel.rules import RULE_VERSION
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from schooldata.tables import score_runs, student_scores
from serving.accounts import (
    accounts_for_classrooms,
    create_user,
    find_by_username,
    find_user,
    set_password,
    unassigned_classrooms,
)
from serving.app import create_app
from serving.model_store import load_scorer_bundle
from serving.scoring import Scorer, weekly_run
from tests.conftest import ID_KEY, plumbing_config, scratch_settings
from tests.serving.conftest import WEEKS, copy_without_runs, csrf_of, serving, sign_in_client
from training.promote import promote
from training.tracking import configure_tracking
from training.train import train

PASSWORD = "day-one-password-1"


def test_without_any_model_the_service_starts_and_ranks_by_the_labelled_abc_rule(
    synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    settings = scratch_settings(str(engine.url), tmp_path, scheduler=False)
    school, advisor = (
        pd.read_sql("SELECT school_id, advisor_id FROM enrollments LIMIT 1", engine)
        .iloc[0]
        .tolist()
    )
    province = pd.read_sql(
        sa.text("SELECT province FROM schools WHERE school_id = :s"), engine, params={"s": school}
    )["province"].iloc[0]
    admin, _ = create_user(engine, "admin", "ผู้ดูแล", username="first-admin")
    set_password(engine, admin.user_id, PASSWORD, "tests", must_change=False)

    with serving(create_app(settings)) as url:
        health = httpx.get(url + "/health").json()
        assert health["scorer"] == "abc_rule"
        with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
            sign_in_client(client, "first-admin", PASSWORD)
            made = {}
            for role, extra in (
                ("advisor", {"school_id": school, "staff_id": advisor}),
                ("data_officer", {"school_id": school}),
                ("analyst", {}),
                ("area", {"province": province}),
            ):
                page = client.get("/admin")
                assert page.status_code == 200
                answer = client.post(
                    "/admin/accounts",
                    data={
                        "csrf": csrf_of(page.text),
                        "role": role,
                        "name": role,
                        "username": f"day1-{role}".replace("_", "-"),
                        **extra,
                    },
                )
                assert answer.status_code == 200, answer.text[:500]
                made[role] = f"day1-{role}".replace("_", "-")
        accounts = pd.read_sql("SELECT user_id, username FROM users", engine)
        for username in made.values():
            user_id = int(accounts.loc[accounts["username"] == username, "user_id"].iloc[0])
            set_password(engine, user_id, PASSWORD, "tests", must_change=False)

        with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
            sign_in_client(client, "first-admin", PASSWORD)
            area = find_user(
                engine, int(accounts["user_id"][accounts["username"] == made["area"]].iloc[0])
            )
            assert area is not None
            assert school in area.schools
            assert f"จังหวัด {province}: " in client.get("/admin").text
            operations = client.get("/admin/operations")
            assert operations.status_code == 200
            assert "ยังไม่มีรายชื่อ" in operations.text  # no list yet, said plainly
        with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
            sign_in_client(client, made["advisor"], PASSWORD)
            account = client.get("/account")
            bad = client.post(
                "/account/messages",
                data={"csrf": csrf_of(account.text), "email": "not-an-address", "notify": "on"},
            )
            assert bad.status_code == 422
            good = client.post(
                "/account/messages",
                data={"csrf": csrf_of(account.text), "email": "kru@school.example"},
            )
            assert good.status_code == 200
        stored = pd.read_sql(
            sa.text("SELECT email, notify FROM users WHERE username = :u"),
            engine,
            params={"u": made["advisor"]},
        )
        assert stored.values.tolist() == [["kru@school.example", 0]]  # turned off

        pages = {}
        for role, path in (
            ("data_officer", "/upload"),
            ("analyst", "/model"),
            ("advisor", "/list"),
        ):
            with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
                sign_in_client(client, made[role], PASSWORD)
                pages[role] = client.get(path)
        assert pages["data_officer"].status_code == 200
        assert pages["analyst"].status_code == 200
        assert pages["advisor"].status_code == 200
        assert (
            "No weekly run yet" in pages["advisor"].text
            or "ยังไม่มีผลการประเมิน" in pages["advisor"].text
        )

        bundle, version = load_scorer_bundle(settings, tmp_path / "model")
        assert bundle.kind == "abc_rule"
        weekly_run(engine, Scorer(bundle, version), pd.Timestamp(WEEKS[1]))
        with engine.connect() as connection:
            assert connection.execute(sa.select(score_runs.c.scorer)).scalar() == "abc_rule"
            ranked = pd.DataFrame(
                connection.execute(
                    sa.select(student_scores.c.raw_score, student_scores.c.rank_in_school).where(
                        student_scores.c.school_id == school
                    )
                ).all()
            ).sort_values("rank_in_school")
        assert ranked["raw_score"].is_monotonic_decreasing  # the rule's count orders the list
        assert ranked["raw_score"].max() >= 1

        with httpx.Client(
            base_url=url, follow_redirects=True, timeout=60, cookies={"lang": "en"}
        ) as client:
            sign_in_client(client, made["advisor"], PASSWORD)
            listed = client.get("/list")
            assert "ABC rule" in listed.text
            assert "warning signs" in listed.text
            csv = client.get("/list.csv").content.decode("utf-8-sig")
            assert "scored_by" in csv.splitlines()[0]
            assert "ABC rule" in csv.splitlines()[1]
            student = re.search(r'href="/students/([^"?]+)"', listed.text).group(1)  # type: ignore[union-attr]
            detail = client.get(f"/students/{student}")
            assert detail.status_code == 200
            assert "ABC rule" in detail.text


def _register_champion(settings: Settings, bundle: ModelBundle, folder: Path) -> str:
    """Register ``bundle`` as the champion the way training and promotion do (its files
    under the run's serving folder, the manifest's hash on the version)."""
    client = configure_tracking(settings)
    bundle.save(folder)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), BUNDLE_ARTIFACT_PATH)
    client.create_registered_model(settings.model_name)
    version = client.create_model_version(
        settings.model_name,
        source=f"{run.info.artifact_uri}/{BUNDLE_ARTIFACT_PATH}",
        run_id=run.info.run_id,
    ).version
    client.set_model_version_tag(settings.model_name, version, DIGEST_TAG, bundle_digest(folder))
    client.set_registered_model_alias(settings.model_name, CHAMPION, version)
    return str(version)


def test_a_school_nobody_has_loaded_is_added_on_the_admin_page_and_sends_its_first_files(
    tmp_path: Path,
) -> None:
    """A new install has no data: its admin could not make the school's accounts ("no
    school in the data") until someone loaded a schools file with ews ingest, which the
    README did not say. The admin adds the school on the page, checked as a schools
    file's row is; its data officer then sends the first class list."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    settings = scratch_settings(str(engine.url), tmp_path, upload_dir=tmp_path / "uploads")
    admin, _ = create_user(engine, "admin", "ผู้ดูแล", username="first-admin")
    set_password(engine, admin.user_id, PASSWORD, "tests", must_change=False)
    officer = {"role": "data_officer", "name": "ครูข้อมูล", "username": "officer-1"}

    with serving(create_app(settings)) as url:
        with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
            sign_in_client(client, "first-admin", PASSWORD)
            page = client.get("/admin")
            refused = client.post(
                "/admin/accounts",
                data={"csrf": csrf_of(page.text), **officer, "school_id": "1057010001"},
            )
            assert refused.status_code == 422
            assert "เพิ่มสถานศึกษา" in refused.text  # says where to add it
            wrong = client.post(
                "/admin/schools",
                data={
                    "csrf": csrf_of(page.text),
                    "school_id": "1057010001",
                    "name": "โรงเรียนบ้านใหม่",
                    "affiliation": "กระทรวงอะไรก็ไม่รู้",
                },
            )
            assert wrong.status_code == 422
            assert "สังกัด" in wrong.text  # names the field that is wrong
            added = client.post(
                "/admin/schools",
                data={
                    "csrf": csrf_of(page.text),
                    "school_id": "1057010001",
                    "name": "โรงเรียนบ้านใหม่",
                    "province": "เชียงราย",
                    "affiliation": "สพฐ.",
                    "area": "ชนบท",
                },
            )
            assert added.status_code == 200, added.text[:500]
            again = client.post(
                "/admin/schools",
                data={"csrf": csrf_of(page.text), "school_id": "1057010001", "name": "ซ้ำ"},
            )
            assert again.status_code == 422  # never overwritten from the page
            made = client.post(
                "/admin/accounts",
                data={"csrf": csrf_of(page.text), **officer, "school_id": "1057010001"},
            )
            assert made.status_code == 200, made.text[:500]
        school = pd.read_sql("SELECT * FROM schools", engine)
        assert school[["school_id", "name", "province", "affiliation", "area"]].values.tolist() == [
            ["1057010001", "โรงเรียนบ้านใหม่", "เชียงราย", "OBEC", "rural"]
        ]
        actions = pd.read_sql("SELECT action, user_id FROM audit_log", engine)
        assert ("school_added", admin.user_id) in set(actions.itertuples(index=False, name=None))

        user_id = int(
            pd.read_sql("SELECT user_id FROM users WHERE username = 'officer-1'", engine).iloc[0, 0]
        )
        set_password(engine, user_id, PASSWORD, "tests", must_change=False)
        class_list = tmp_path / "รายชื่อนักเรียน.csv"
        class_list.write_text(
            "รายชื่อนักเรียนชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568\n"
            "เลขที่,เลขประจำตัว,ชื่อ - สกุล\n1,00001,ด.ช.ก้อง ภพ\n2,00002,ด.ญ.ฝน ดี\n"
        )
        exits = tmp_path / "การออกจากสถานศึกษา.csv"
        exits.write_text("รหัสนักเรียน,วันที่ออก,ประเภทการออก\n")
        with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
            sign_in_client(client, "officer-1", PASSWORD)
            page = client.get("/upload")
            # No list yet, and what makes the first one, where the files are sent.
            assert 'class="card muted no-list">ยังไม่มีผลการประเมินรายสัปดาห์' in page.text
            checked = client.post(
                "/upload",
                data={"csrf": csrf_of(page.text)},
                files=[
                    ("files", (f.name, f.read_bytes(), "text/csv")) for f in (class_list, exits)
                ],
            )
            assert checked.status_code == 200, checked.text[:500]
            confirm = re.search(r'action="(/upload/[^"]+/confirm)"', checked.text)
            assert confirm is not None, checked.text[:2000]
            loaded = client.post(confirm[1], data={"csrf": csrf_of(checked.text)})
            assert loaded.status_code == 200
    enrolled = pd.read_sql("SELECT school_id, student_id, grade_level FROM enrollments", engine)
    assert enrolled.values.tolist() == [
        ["1057010001", "00001", "M1"],
        ["1057010001", "00002", "M1"],
    ]

    # Every classroom's advisor in one step (before: a form a classroom, thirty for a
    # school of thirty rooms), each sign-in name and temporary password shown once.
    with serving(create_app(settings)) as url:
        with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
            sign_in_client(client, "first-admin", PASSWORD)
            page = client.get("/admin")
            assert "class:M1/1" in page.text  # nobody advises it yet
            sheet = client.post("/admin/classrooms", data={"csrf": csrf_of(page.text)})
            assert sheet.status_code == 200
            issued = re.findall(
                r"<td[^>]*><code>([^<]+)</code></td><td[^>]*><code class=\"secret\">([^<]+)</code>",
                sheet.text,
            )
        assert [name for name, _ in issued] == ["1057010001-m1-1"]
        with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
            sign_in_client(client, "1057010001-m1-1", issued[0][1])
            assert "/password" in str(client.get("/list").url)  # a new password first
        teacher = find_by_username(engine, "1057010001-m1-1")
        assert teacher is not None
        assert teacher.name == "ครูประจำชั้น ม.1/1"  # named by the room until renamed
        set_password(engine, teacher.user_id, PASSWORD, "tests", must_change=False)
        with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
            sign_in_client(client, "1057010001-m1-1", PASSWORD)
            account = client.get("/account")
            empty = client.post("/account/name", data={"csrf": csrf_of(account.text), "name": " "})
            assert empty.status_code == 422
            assert "กรุณากรอกชื่อ" in empty.text
            named = client.post(
                "/account/name", data={"csrf": csrf_of(account.text), "name": "ครูสมศรี  ใจดี"}
            )
            assert named.status_code == 200
            assert 'value="ครูสมศรี ใจดี"' in named.text  # the teacher gives their own name
    advisor = pd.read_sql(
        "SELECT name, role, school_id, staff_id FROM users WHERE username = '1057010001-m1-1'",
        engine,
    )
    assert advisor.values.tolist() == [["ครูสมศรี ใจดี", "advisor", "1057010001", "class:M1/1"]]
    assert unassigned_classrooms(engine) == []


def test_two_sendings_of_the_classroom_sheet_at_once_give_each_classroom_one_account(
    tmp_path: Path,
) -> None:
    """Two sendings of "an advisor for every classroom" at once (two tabs, or a double
    click where the page's script is off): the second failed on the first's sign-in
    names, "the username is taken" or an IntegrityError, either one a 500. Now each
    classroom gets one account, and the two sheets together hold each once."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from schooldata.db import upgrade
    from schooldata.tables import TABLES

    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    upgrade(engine)
    rooms = [f"M{grade}/{room}" for grade in (1, 2, 3) for room in range(1, 6)]
    with engine.begin() as connection:
        connection.execute(sa.insert(TABLES["schools"]), [{"school_id": "1057010001"}])
        connection.execute(
            sa.insert(TABLES["enrollments"]),
            [
                {
                    "school_id": "1057010001",
                    "student_id": f"{n:05d}",
                    "academic_year": 2568,
                    "term": 1,
                    "grade_level": room.split("/")[0],
                    "advisor_id": f"class:{room}",
                }
                for n, room in enumerate(rooms)
            ],
        )
    both = Barrier(2)

    def issue(_: int) -> list[dict[str, str]]:
        both.wait()
        return accounts_for_classrooms(engine, lambda group: group, "tests")

    with ThreadPoolExecutor(2) as pool:
        sheets = list(pool.map(issue, (1, 2)))  # re-raises either one's error

    issued = sorted(a["group"] for sheet in sheets for a in sheet)
    assert issued == sorted(f"class:{room}" for room in rooms)
    advisors = pd.read_sql("SELECT staff_id FROM users WHERE role = 'advisor'", engine)
    assert sorted(advisors["staff_id"]) == issued
    assert unassigned_classrooms(engine) == []


def test_a_champion_an_upgrade_cannot_feed_gives_way_to_the_rule_loudly(
    synthetic_engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After an upgrade that renamed one input and changed another's unit, the champion
    trained by the earlier version cannot rank: the weekly run uses the labelled rule
    and says why, rather than failing every week until someone retrains."""
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    settings = scratch_settings(str(engine.url), tmp_path)
    then = catalog_entries()
    kept, renamed, remeasured = "gpa_last_term", "absence_rate_before_rename", "absence_rate_term"
    then[renamed] = then[remeasured] | {"id": renamed}
    then[remeasured] = then[remeasured] | {"unit": "percent"}
    inputs = [kept, renamed, remeasured]
    earlier = ModelBundle(
        model=LinearModel(
            inputs, np.zeros(3), [], np.zeros(3), np.ones(3), np.array([-1.0, 1.0, 1.0]), -2.0
        ),
        features=inputs,
        calibration=SeasonalCalibration(Calibration([-10.0, 10.0], [0.0, 1.0])),
        catalog=then,
        tiers=TierPolicy(0.05, 0.15, 0.1, 0.3, 0.1, 0.3),
        metadata={"kind": "logistic", "observed_until": "2023-01-01"},
    )
    version = _register_champion(settings, earlier, tmp_path / "earlier")

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="serving.model_store"):
        bundle, served = load_scorer_bundle(settings, tmp_path / "model")
    why = f"champion version {version} needs inputs this version of the service no longer"
    assert (bundle.kind, served) == ("abc_rule", RULE_VERSION)
    assert bundle.metadata["why"].startswith(why)
    assert f"({renamed}, {remeasured})" in bundle.metadata["why"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [bundle.metadata["why"]]
    report = weekly_run(engine, Scorer(bundle, served), pd.Timestamp(WEEKS[0]))
    assert report.students > 0
    with engine.connect() as connection:
        assert connection.execute(sa.select(score_runs.c.scorer)).scalar() == "abc_rule"
    with serving(create_app(settings)) as url:
        assert httpx.get(url + "/health").json()["scorer"] == "abc_rule"

    env = {
        "EWS_DATABASE_URL": str(engine.url),
        "EWS_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "EWS_MLFLOW_ARTIFACT_ROOT": str(settings.mlflow_artifact_root),
        "EWS_SECRETS_FILE": str(tmp_path / "secrets.json"),
    }
    scored = CliRunner().invoke(cli, ["score", "--as-of", WEEKS[1], "--no-messages"], env=env)
    assert scored.exit_code == 0, scored.output
    assert why in " ".join(scored.output.split())
    drift = CliRunner().invoke(cli, ["drift", "--as-of", WEEKS[1]], env=env)
    assert drift.exit_code == 2
    assert "train and promote a model with this version" in " ".join(drift.output.split())

    # The analyst retrains with the new version: the challenger replaces the champion
    # it cannot be compared with, and the next run is the model's again.
    train(settings, plumbing_config(), engine)
    decision = promote(settings, engine)
    assert decision.promoted, decision.reasons
    assert any(f"({renamed}, {remeasured})" in reason for reason in decision.reasons)
    bundle, served = load_scorer_bundle(settings, tmp_path / "retrained")
    assert bundle.kind != "abc_rule"
    assert served != version
    # A small world: no week holds enough students to compare, and the analyst is told
    # so rather than shown an empty table.
    drift = CliRunner().invoke(cli, ["drift", "--as-of", WEEKS[1]], env=env)
    assert drift.exit_code == 0, drift.output
    assert f"Nothing to compare as of {WEEKS[1]}" in " ".join(drift.output.split())


def _school_load(folder: Path, school: str, province: str, student: str) -> Path:
    """A school's first files: itself (with its province), one student and no exit."""
    folder.mkdir(parents=True)
    (folder / "schools.csv").write_text(
        f"รหัสสถานศึกษา,ชื่อสถานศึกษา,จังหวัด\n{school},โรงเรียน {school},{province}\n"
    )
    (folder / "students.csv").write_text(f"school_id,student_id\n{school},{student}\n")
    (folder / "enrollments.csv").write_text(
        f"school_id,student_id,academic_year,term,grade_level\n{school},{student},2568,1,M1\n"
    )
    (folder / "exits.csv").write_text("school_id,student_id,exit_date,exit_type\n")
    return folder


def test_a_provinces_area_office_follows_its_schools_as_they_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An area office's account is made on day one, when few of its schools have sent
    anything: a school of its province that loads later is followed too."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ews.db'}")
    ingest_directory(_school_load(tmp_path / "s1", "S1", "ลำปาง", "A1"), engine, ID_KEY, None)
    ingest_directory(_school_load(tmp_path / "s9", "S9", "แพร่", "C1"), engine, ID_KEY, None)
    monkeypatch.setenv("EWS_DATABASE_URL", str(engine.url))

    made = CliRunner().invoke(
        cli, ["users", "create", "--role", "area", "--name", "สพม.ลำปาง", "--province", "ลำปาง"]
    )
    assert made.exit_code == 0, made.output
    area = int(pd.read_sql("SELECT max(user_id) AS id FROM users", engine)["id"].iloc[0])
    assert _followed(engine, area) == ("S1",)

    # A week later the province's second school sends its first files, its province
    # written as a school writes it.
    ingest_directory(_school_load(tmp_path / "s2", "S2", "จ.ลำปาง", "B1"), engine, ID_KEY, None)
    ingest_directory(_school_load(tmp_path / "s4", "S4", "จังหวัดลำปาง", "E1"), engine, ID_KEY, None)

    assert _followed(engine, area) == ("S1", "S2", "S4")
    # A province none of whose schools has sent anything yet: followed as they come.
    early = CliRunner().invoke(
        cli, ["users", "create", "--role", "area", "--name", "สพป.น่าน", "--province", "น่าน"]
    )
    assert early.exit_code == 0, early.output
    assert "No school of the province น่าน has sent its files yet" in early.output
    ingest_directory(_school_load(tmp_path / "s3", "S3", "น่าน", "D1"), engine, ID_KEY, None)
    assert _followed(engine, area + 1) == ("S3",)


def _followed(engine: sa.Engine, user_id: int) -> tuple[str, ...]:
    user = find_user(engine, user_id)
    assert user is not None
    return user.schools


def test_the_demo_says_at_once_when_its_port_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new user's make demo with port 8000 taken (an earlier demo still running) ran
    its minutes of work, then failed to serve with the server's bind error."""
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["demo", "--port", str(port), "--data-dir", str(tmp_path / "synth")]
        )

    assert result.exit_code == 2
    assert f"Port {port} on 127.0.0.1 is in use" in result.output
    assert f"ews demo --port {port + 1}" in result.output
    assert not (tmp_path / "synth").exists()  # nothing was made first


def test_before_any_file_is_loaded_each_command_says_to_load_the_files_first(
    tmp_path: Path,
) -> None:
    """A new install, its database made and nothing loaded: each command a user tries
    first says what is missing and exits with an error, never a traceback."""
    env = {
        "EWS_DATABASE_URL": f"sqlite:///{tmp_path / 'ews.db'}",
        "EWS_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "EWS_MLFLOW_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "EWS_SECRETS_FILE": str(tmp_path / "secrets.json"),
    }
    runner = CliRunner()
    told = {
        command: runner.invoke(cli, command.split(), env=env)
        for command in (
            "train",
            "features --as-of 2025-03-10",
            "score --as-of 2025-03-10",
            "missing",
            "missing --school S1",
        )
    }

    for command, result in told.items():
        assert result.exception is None or isinstance(result.exception, SystemExit), command
        assert "Traceback" not in result.output, command
    text = {command: " ".join(result.output.split()) for command, result in told.items()}
    assert told["train"].exit_code == 2
    assert "no enrolments in the database" in text["train"]
    assert "ews ingest" in text["train"]
    assert told["features --as-of 2025-03-10"].exit_code == 1
    assert (
        "No student is enrolled in a term containing 2025-03-10"
        in text["features --as-of 2025-03-10"]
    )
    assert told["score --as-of 2025-03-10"].exit_code == 2
    assert (
        "nothing to score until the schools' files are loaded" in text["score --as-of 2025-03-10"]
    )
    assert "No enrolment is loaded: load the schools' files first" in text["missing"]
    assert "No enrolment is loaded for S1" in text["missing --school S1"]
