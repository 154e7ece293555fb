"""Training by partition and on Dask: the same matrix, a model as good, registered alike."""

from __future__ import annotations

import lightgbm as lgb
import mlflow
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score

from core.settings import Settings
from features.sources import Sources
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from schooldata.partitions import plan_partitions
from synth import SynthConfig, generate, write_directory
from tests.conftest import ID_KEY, scratch_settings
from training.config import TrainConfig
from training.distributed import fit_booster_on_dask, partitioned_training_matrix
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.model import fit_booster, lightgbm_params, raw_scores
from training.split import plan_from_config
from training.train import model_inputs, train, training_matrix


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
    # One shape and a fixed number of trees, so that the fits compare what Dask changes
    # (the rows split across workers, bins from each worker's rows, histograms summed
    # over the network), not which shape the folds chose.
    config = TrainConfig.load()
    config.model.trees = 150
    config.model.shapes = [s for s in config.model.shapes if s.name == "medium"]
    settings = _settings(tmp_path_factory, medium_engine)
    # The single machine's peer: the evaluation model fitted here, on the same rows.
    matrix = training_matrix(settings, config, medium_engine, None, lambda _message: None)
    plan = plan_from_config(matrix, config)
    features = model_inputs(config)
    rows, test = matrix[plan.train], matrix[plan.test]
    params = lightgbm_params(features, config.model, config.model.shapes[0], len(rows))

    distributed = train(settings, config, medium_engine, client=dask_cluster_client)

    def test_auc(booster: lgb.Booster) -> float:
        return float(roc_auc_score(test["label"], raw_scores(booster, test, features)))

    single_auc = test_auc(fit_booster(rows, features, params, 150))
    on_dask = fit_booster_on_dask(
        rows, features, params, 150, client=dask_cluster_client, seed=config.model.seed
    )
    assert single_auc > 0.65
    assert abs(test_auc(on_dask) - single_auc) <= 0.01, (single_auc, test_auc(on_dask))
    # The whole run on Dask: the same rows, a model as good, the comparison meaningful.
    assert distributed.metrics.loc["roc_auc", "model"] >= single_auc - 0.01
    pr_auc = distributed.metrics.loc["pr_auc"]
    assert pr_auc["model"] > pr_auc["logistic"] > pr_auc["abc_rule"]
    assert distributed.rows == {
        "train": len(rows),
        "test": len(test),
        "refit": int(plan.refit.sum()),
        **{f"fold_{i + 1}": int(f.train.sum()) for i, f in enumerate(plan.folds)},
    }
    client = mlflow.MlflowClient(settings.mlflow_tracking_uri)
    version = client.get_model_version_by_alias(settings.model_name, "challenger")
    assert str(version.version) == distributed.version
    run = client.get_run(distributed.run_id)
    assert run.data.params["model.trainer"] == "lightgbm.dask (2 workers)"
    assert {"serving", "model_card.md", "fairness.csv"} <= {
        a.path for a in client.list_artifacts(distributed.run_id)
    }
