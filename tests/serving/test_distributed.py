"""The weekly run partitioned by school, on a Dask cluster, on this machine's processes or in
turn, equals the whole run."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ews.cli import app as cli
from features.partitions import features_by_partition
from schooldata.dataset import DatasetReader, partitions, students_by_school
from schooldata.db import make_engine, read_table
from schooldata.ingest import ingest_directory
from schooldata.partitions import plan_partitions
from schooldata.tables import TABLES
from serving import scoring
from serving.scoring import score_rows, weekly_run
from tests.conftest import ID_KEY
from tests.serving.conftest import (
    WEEKS,
    Api,
    assert_same_run,
    copy_without_runs,
    stored_run,
    stored_schools,
)

ROOT = Path(__file__).resolve().parents[2]


def _ingest_with_dataset(directory: Path, folder: Path) -> tuple[sa.Engine, Path]:
    """Ingest a data directory with ``--dataset``: a fresh database and its dataset."""
    engine = make_engine(f"sqlite:///{folder / 'ews.db'}")
    dataset = folder / "dataset"
    ingest_directory(directory, engine, ID_KEY, folder / "rejects", dataset=dataset)
    return engine, dataset


def test_partitions_in_turn_equal_the_whole_run(
    api: Api, synthetic_engine: sa.Engine, whole_run: pd.DataFrame, tmp_path: Path
) -> None:
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    tasks = plan_partitions(engine.url.render_as_string(), None, schools_per_task=2)
    assert len(tasks) >= 3  # the six schools really are split

    progress: list[tuple[int, int]] = []
    report = weekly_run(
        engine,
        api.scorer,
        pd.Timestamp(WEEKS[-1]),
        on_progress=lambda done, total: progress.append((done, total)),
        partitions=tasks,
    )

    assert report.students == len(whole_run)
    # Each partition scored, then each explained as the run stores it.
    assert progress == [(i, 2 * len(tasks)) for i in range(1, 2 * len(tasks) + 1)]
    assert_same_run(stored_run(engine), whole_run)


def test_a_failure_while_explaining_keeps_the_weeks_stored_run(
    api: Api,
    synthetic_engine: sa.Engine,
    whole_run: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The store writes each partition's explanations as they come: a partition that fails
    # then must leave the run stored before, not some of the new one.
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    tasks = plan_partitions(engine.url.render_as_string(), None, schools_per_task=2)
    weekly_run(engine, api.scorer, pd.Timestamp(WEEKS[-1]), partitions=tasks)
    explained: list[int] = []

    def fails_on_the_second(scorer: Any, rows: pd.DataFrame, **chunks: Any) -> pd.DataFrame:
        explained.append(len(rows))
        if len(explained) == 2:
            raise MemoryError("out of memory explaining")
        return score_rows(scorer, rows, **chunks)

    monkeypatch.setattr(scoring, "score_rows", fails_on_the_second)
    with pytest.raises(MemoryError):
        weekly_run(engine, api.scorer, pd.Timestamp(WEEKS[-1]), partitions=tasks)

    assert len(explained) == 2  # the first partition's results were written, then undone
    assert_same_run(stored_run(engine), whole_run)


def test_a_run_one_school_a_task_stores_the_schools_of_the_whole_run(
    api: Api, synthetic_engine: sa.Engine, whole_engine: sa.Engine, tmp_path: Path
) -> None:
    # A student who moved is scored with the partition of their first school: each
    # school's counts gather students from several tasks.
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    tasks = plan_partitions(engine.url.render_as_string(), None, schools_per_task=1)

    weekly_run(engine, api.scorer, pd.Timestamp(WEEKS[-1]), partitions=tasks)

    schools = stored_schools(engine)
    assert (schools["scored"] <= schools["enrolled"]).all()
    pd.testing.assert_frame_equal(schools, stored_schools(whole_engine))


def test_dask_run_from_the_database_equals_the_whole_run(
    api: Api,
    synthetic_engine: sa.Engine,
    whole_run: pd.DataFrame,
    dask_cluster_client,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    engine = copy_without_runs(synthetic_engine, tmp_path / "ews.db")
    tasks = plan_partitions(engine.url.render_as_string(), None, schools_per_task=1)

    weekly_run(
        engine, api.scorer, pd.Timestamp(WEEKS[-1]), partitions=tasks, client=dask_cluster_client
    )

    assert_same_run(stored_run(engine), whole_run)
    # Both workers did some of the work.
    assert len(dask_cluster_client.scheduler_info()["workers"]) == 2


def test_dask_run_from_a_parquet_dataset_equals_the_whole_run(
    api: Api,
    synthetic_engine: sa.Engine,
    whole_run: pd.DataFrame,
    dask_cluster_client,  # type: ignore[no-untyped-def]
    synthetic_directory: Path,
    tmp_path: Path,
) -> None:
    engine, dataset = _ingest_with_dataset(synthetic_directory, tmp_path)
    # The database took only what the service reads; the daily records are in the dataset.
    assert read_table(engine, "attendance").empty
    assert len(partitions(dataset)) == 6
    everything = DatasetReader(dataset).read("attendance")
    assert len(everything) == len(read_table(synthetic_engine, "attendance"))
    # No name or national-ID hash is ever written to the dataset.
    for file in dataset.rglob("*.parquet"):
        assert not {"given_name", "family_name", "national_id_hash"} & set(
            pq.read_schema(file).names
        )

    # Planned by students from the files' footers: every student counted once, by school.
    students = DatasetReader(dataset).read("students", columns=["student_id"])
    sizes = students_by_school(dataset)
    assert list(sizes.index) == partitions(dataset)
    assert sizes.sum() == len(students)
    by_students = plan_partitions(None, dataset, students_per_task=2 * int(sizes.max()))
    assert [s for t in by_students for s in t.schools] == partitions(dataset)
    assert 1 < len(by_students) < 6

    tasks = plan_partitions(engine.url.render_as_string(), dataset, schools_per_task=2)
    weekly_run(
        engine, api.scorer, pd.Timestamp(WEEKS[-1]), partitions=tasks, client=dask_cluster_client
    )

    assert_same_run(stored_run(engine), whole_run)


def test_ews_score_on_a_dataset_runs_on_this_machines_processes_and_equals_the_whole_run(
    api: Api, whole_run: pd.DataFrame, synthetic_directory: Path, tmp_path: Path
) -> None:
    engine, dataset = _ingest_with_dataset(synthetic_directory, tmp_path)
    settings = api.settings
    env = {
        "EWS_DATABASE_URL": str(engine.url),
        "EWS_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "EWS_MLFLOW_ARTIFACT_ROOT": str(settings.mlflow_artifact_root),
        "EWS_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "EWS_DATASET_PATH": str(dataset),
        "EWS_PROCESSES": "2",
        "EWS_STUDENTS_PER_TASK": "1000",  # several tasks of a few schools
    }

    result = CliRunner().invoke(cli, ["score", "--as-of", WEEKS[-1]], env=env)

    assert result.exit_code == 0, result.output
    assert f"{len(whole_run):,} students of 6 schools" in result.output
    assert_same_run(stored_run(engine), whole_run)


def test_a_run_from_a_dataset_alone_is_stored_in_a_database_that_holds_none_of_its_records(
    api: Api, whole_run: pd.DataFrame, synthetic_directory: Path, tmp_path: Path
) -> None:
    # Partitions of a dataset read nothing of the database the run is stored in (the
    # benchmarks' runs): what is loaded is the dataset's, not that database's. The check
    # 427ae73 added looked in that database, and such a run said nothing was loaded.
    _, dataset = _ingest_with_dataset(synthetic_directory, tmp_path)
    store = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    tasks = plan_partitions(None, dataset, schools_per_task=2)

    report = weekly_run(store, api.scorer, pd.Timestamp(WEEKS[-1]), partitions=tasks)

    assert read_table(store, "enrollments").empty
    assert report.students == len(whole_run)
    assert_same_run(stored_run(store), whole_run)


def test_loading_the_same_directory_twice_into_a_dataset_changes_nothing(
    synthetic_directory: Path, tmp_path: Path
) -> None:
    engine, dataset = _ingest_with_dataset(synthetic_directory, tmp_path)
    once = DatasetReader(dataset).read("grades")
    ingest_directory(synthetic_directory, engine, ID_KEY, tmp_path / "rejects", dataset=dataset)
    twice = DatasetReader(dataset).read("grades")

    pd.testing.assert_frame_equal(once, twice)


def test_a_visit_recorded_in_the_service_reaches_a_run_from_the_dataset(
    synthetic_directory: Path, tmp_path: Path
) -> None:
    engine, dataset = _ingest_with_dataset(synthetic_directory, tmp_path)
    tasks = plan_partitions(engine.url.render_as_string(), dataset, schools_per_task=3)
    day = pd.Timestamp(WEEKS[-1])
    before = features_by_partition(tasks, day).set_index(["school_id", "student_id"])
    student = before.index[0]

    # As the web pages do: the record goes to the operational database only.
    with engine.begin() as connection:
        connection.execute(
            sa.insert(TABLES["interventions"]).values(
                school_id=student[0],
                student_id=student[1],
                date=(day - pd.Timedelta(days=3)).date(),
                type="home_visit",
            )
        )
    after = features_by_partition(tasks, day).set_index(["school_id", "student_id"])

    assert after.loc[student, "days_since_home_visit"] == 3
    assert after.loc[student, "interventions_90d"] == before.loc[student, "interventions_90d"] + 1


def test_a_scorer_sent_to_workers_scores_the_same_without_lightgbm(
    api: Api, synthetic_engine: sa.Engine
) -> None:
    """Workers explain with the tables built from the trees: the scorer they receive
    leaves the boosters behind, so unpickling it never imports LightGBM (a second of each
    worker's start), nor do they import what only migrations and settings need (Alembic,
    pydantic). It scores exactly as the one here, whose reason texts kept from earlier
    batches are the ones the worker renders afresh."""
    from serving.scoring import score_rows

    tasks = plan_partitions(synthetic_engine.url.render_as_string(), None, schools_per_task=2)
    rows = features_by_partition(tasks[:1], pd.Timestamp(WEEKS[-1]))
    here = score_rows(api.scorer, rows)
    program = (
        "import pickle, sys\n"
        "scorer, rows = pickle.loads(sys.stdin.buffer.read())\n"
        "from serving.scoring import score_rows\n"
        "scored = score_rows(scorer, rows)\n"
        "heavy = ('lightgbm', 'sklearn', 'alembic', 'pydantic')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "try:\n"
        "    scorer.bundle.model.predict\n"
        "    left = 'the booster travelled'\n"
        "except Exception as error:\n"
        "    left = str(error)\n"
        "sys.stdout.buffer.write(pickle.dumps((scored, loaded, left)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        input=pickle.dumps((api.scorer, rows)),
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    there, loaded, left = pickle.loads(done.stdout)  # noqa: S301 (our own child's output)

    assert loaded == []
    assert "sent without its LightGBM trees" in left
    pd.testing.assert_frame_equal(there, here)
    # The scorer here keeps its trees.
    assert api.scorer.bundle.model.num_trees() > 0
