"""Training by partition and on Dask: the same matrix, a model as good, registered alike."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
import sqlalchemy as sa

from core.settings import Settings
from features.sources import Sources
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from schooldata.partitions import plan_partitions
from synth import SynthConfig, generate, write_directory
from tests.conftest import ID_KEY, scratch_settings
from training.config import TrainConfig
from training.distributed import partitioned_training_matrix
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.train import train


def _settings(tmp_path_factory: pytest.TempPathFactory, engine: sa.Engine) -> Settings:
    return scratch_settings(engine.url.render_as_string(), tmp_path_factory.mktemp("mlflow"))


def test_the_partitioned_matrix_equals_the_whole_one(
    synthetic_engine: sa.Engine, synthetic_sources: Sources
) -> None:
    rules = LabelRules(180, True)
    tasks = plan_partitions(synthetic_engine.url.render_as_string(), None, schools_per_task=2)

    partitioned = partitioned_training_matrix(tasks, rules)

    whole = build_training_matrix(synthetic_sources, rules)
    assert len(whole) > 1000
    pd.testing.assert_frame_equal(partitioned, whole)


@pytest.fixture(scope="module")
def medium_engine(tmp_path_factory: pytest.TempPathFactory) -> sa.Engine:
    """Enough students for a stable test ROC-AUC (the small set has ~250 positive rows in
    its test period, where two fits of the same model differ by more than 0.01)."""
    folder = tmp_path_factory.mktemp("medium")
    config = SynthConfig(schools=8, students=5000, years=3, seed=11, defect_rate=0.0)
    write_directory(generate(config), folder / "data")
    engine = make_engine(f"sqlite:///{folder / 'ews.db'}")
    ingest_directory(folder / "data", engine, ID_KEY, folder / "rejects")
    return engine


@pytest.mark.slow
def test_dask_training_is_as_good_and_registered_like_a_single_machine_run(
    medium_engine: sa.Engine,
    tmp_path_factory: pytest.TempPathFactory,
    dask_cluster_client,  # type: ignore[no-untyped-def]
) -> None:
    # One shape and a fixed number of trees, so that both runs compare what Dask changes
    # (the rows split across workers, bins from each worker's rows, histograms summed
    # over the network), not which shape the folds chose.
    config = TrainConfig.load()
    config.model.trees = 150
    config.model.shapes = [s for s in config.model.shapes if s.name == "medium"]
    single = train(_settings(tmp_path_factory, medium_engine), config, medium_engine)
    settings = _settings(tmp_path_factory, medium_engine)

    distributed = train(settings, config, medium_engine, client=dask_cluster_client)

    single_auc = single.metrics.loc["roc_auc", "model"]
    dask_auc = distributed.metrics.loc["roc_auc", "model"]
    assert single_auc > 0.65
    pr_auc = single.metrics.loc["pr_auc"]  # enough students for the comparison to mean something
    assert pr_auc["model"] > pr_auc["logistic"] > pr_auc["abc_rule"]
    assert abs(dask_auc - single_auc) <= 0.01, (single_auc, dask_auc)
    assert distributed.rows == single.rows
    client = mlflow.MlflowClient(settings.mlflow_tracking_uri)
    version = client.get_model_version_by_alias(settings.model_name, "challenger")
    assert str(version.version) == distributed.version
    run = client.get_run(distributed.run_id)
    assert run.data.params["model.trainer"] == "lightgbm.dask (2 workers)"
    assert {"serving", "model_card.md", "fairness.csv"} <= {
        a.path for a in client.list_artifacts(distributed.run_id)
    }
