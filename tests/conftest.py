"""Shared fixtures: small, hand-written data directories and a fresh database per test."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

from core.settings import Settings
from schooldata.db import make_engine
from schooldata.national_id import check_digit

ID_KEY = "test-id-hash-key"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding a slow test run first, the others in their usual order. `make test`
    hands whole files to its processes in this order (pytest-xdist's ``--dist loadfile
    --no-loadscope-reorder``): a long file handed out last keeps one process busy alone
    while the others have finished."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


def kept_last_actions(engine: sa.Engine) -> dict[tuple[str, str], date]:
    """Each student's last action as ``last_actions`` keeps it, once it is checked to be
    the latest date of the student's records of help in force (``schooldata.actions``)."""
    from schooldata.actions import in_force
    from schooldata.tables import TABLES, last_actions

    interventions = TABLES["interventions"]
    with engine.connect() as connection:
        kept = {(s, c): d for s, c, d in connection.execute(sa.select(last_actions)).all()}
        records = connection.execute(
            sa.select(
                interventions.c.school_id,
                interventions.c.student_id,
                sa.func.max(interventions.c.date),
            )
            .where(in_force(interventions))
            .group_by(interventions.c.school_id, interventions.c.student_id)
        ).all()
    assert kept == {(s, c): d for s, c, d in records}
    return kept


def stored_list(connection: sa.Connection, run_id: int, as_of: date, tiers: dict[str, str]) -> None:
    """A stored weekly list, tiers by student code ("B:b1" for school B's, else school
    A's), with the columns a run's rows must have (``score_runs``, ``student_scores``)."""
    from datetime import datetime

    from schooldata.tables import score_runs, student_scores

    connection.execute(
        sa.insert(score_runs).values(
            run_id=run_id,
            as_of=as_of,
            model_version=str(run_id),
            created_at=datetime(2025, 6, 1),
            students=len(tiers),
        )
    )
    for rank, (key, tier) in enumerate(tiers.items(), 1):
        school, code = key.split(":") if ":" in key else ("A", key)
        connection.execute(
            sa.insert(student_scores).values(
                run_id=run_id,
                school_id=school,
                student_id=code,
                risk=0.5,
                raw_score=0.0,
                base_value=0.0,
                tier=tier,
                rank_in_school=rank,
                rank_in_advisor=rank,
                contributions="[]",
                reasons="[]",
                change="same",
            )
        )


def scratch_settings(database_url: str, store: Path, **overrides: Any) -> Settings:
    """Settings of a database and a fresh MLflow tracking store and registry in ``store``;
    the service's own scheduler is off unless a test turns it on."""
    return Settings(
        database_url=database_url,
        mlflow_tracking_uri=f"sqlite:///{store / 'mlflow.db'}",
        mlflow_artifact_root=store / "artifacts",
        **({"scheduler": False} | overrides),
    )


def unavailable(message: str) -> None:
    """A tool the tests need is missing: skip here, but fail under CI, where make installs it."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def plumbing_config() -> Any:
    """The default training with its choice made beforehand (the medium shape, 100 trees),
    for tests that need a trained model but test what is done with it, not how it is
    chosen: a few seconds a training instead of a search over shapes and trees."""
    from training.config import TrainConfig

    config = TrainConfig.load()
    config.model.trees = 100
    config.model.shapes = [s for s in config.model.shapes if s.name == "medium"]
    return config


# Property tests whose examples load files: slow, the same ones on every run.
LOAD_EXAMPLES = settings(
    deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def thai_id(stem: str) -> str:
    """A checksum-valid 13-digit national ID from 12 digits."""
    return stem + str(check_digit(stem))


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return make_engine(f"sqlite:///{tmp_path / 'ews.db'}")


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write ``data/NAME.csv`` from lines of text, in the given encoding."""

    def write(name: str, lines: list[str], encoding: str = "utf-8", folder: str = "data") -> Path:
        directory = tmp_path / folder
        directory.mkdir(exist_ok=True)
        path = directory / f"{name}.csv"
        path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
        return directory

    return write


@pytest.fixture
def base_directory(write_csv: Callable[..., Path]) -> Path:
    """Two schools, three students, their enrolments and no exits."""
    write_csv(
        "schools",
        [
            "school_id,name,affiliation,area,home_visit_capacity",
            "S1,โรงเรียนบ้านหนึ่ง,OBEC,rural,5",
            "S2,วิทยาลัยสอง,OVEC,urban,8",
        ],
    )
    write_csv(
        "students",
        [
            "student_id,school_id,given_name,family_name,national_id,sex,birth_date,nationality,disability",
            f"A1,S1,สมชาย,ใจดี,{thai_id('110170020345')},M,2012-03-01,TH,none",
            f"A2,S1,สมหญิง,ทองคำ,{thai_id('310170020346')},F,2011-07-15,TH,none",
            "A3,S2,Aung,Min,,M,2008-01-20,MM,none",
        ],
    )
    write_csv(
        "enrollments",
        [
            "student_id,academic_year,term,school_id,grade_level,classroom,advisor_id,snapshot_date",
            "A1,2568,1,S1,P6,P6/1,T1,2025-06-10",
            "A2,2568,1,S1,P5,P5/1,T2,2025-06-10",
            "A3,2568,1,S2,V1,V1/1,T9,2025-06-10",
        ],
    )
    return write_csv("exits", ["student_id,exit_date,exit_type,reason_code,destination_school_id"])


SMALL_SYNTH = {"schools": 6, "students": 900, "years": 2, "seed": 3, "defect_rate": 0.0}


@pytest.fixture(scope="session")
def synthetic_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small clean synthetic data directory (6 schools, 900 students, 2 years)."""
    from synth import SynthConfig, generate, write_directory

    directory = tmp_path_factory.mktemp("synthetic") / "data"
    write_directory(generate(SynthConfig(**SMALL_SYNTH)), directory)
    return directory


@pytest.fixture(scope="session")
def synthetic_engine(
    synthetic_directory: Path, tmp_path_factory: pytest.TempPathFactory
) -> sa.Engine:
    """The small synthetic directory, ingested into its own SQLite database."""
    from schooldata.ingest import ingest_directory

    folder = tmp_path_factory.mktemp("synthetic-db")
    engine = make_engine(f"sqlite:///{folder / 'ews.db'}")
    ingest_directory(synthetic_directory, engine, ID_KEY, folder / "rejects")
    return engine


@pytest.fixture(scope="session")
def synthetic_sources(synthetic_engine: sa.Engine):  # type: ignore[no-untyped-def]
    from features.sources import Sources

    return Sources.from_database(synthetic_engine)


@pytest.fixture(scope="session")
def dask_cluster_client():  # type: ignore[no-untyped-def]
    """A local Dask cluster of two worker processes, one thread each, which import the
    feature code as they start."""
    from core.cluster import local_cluster

    with local_cluster(2, preload=["features.build"]) as client:
        yield client


def record_staff_visit(
    engine: sa.Engine, student_id: str, day: date, outcome: str | None = None
) -> None:
    """A home visit of school S1's student recorded by a member of staff (user 7), as
    the pages record one: not imported, so never a load's to change, and the student's
    last action kept with it."""
    from schooldata.actions import keep_last_actions
    from schooldata.tables import ORIGIN_SERVICE, TABLES

    with engine.begin() as connection:
        connection.execute(
            sa.insert(TABLES["interventions"]).values(
                student_id=student_id,
                school_id="S1",
                date=day,
                type="home_visit",
                outcome=outcome,
                origin=ORIGIN_SERVICE,
                recorded_by=7,
            )
        )
        keep_last_actions(connection, student=("S1", student_id))
