"""``ews train``: build the matrix, split by time, fit, compare, audit, track and register.

``train`` reads as the steps it takes; each step is a function below it.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.settings import Settings
from features.catalog import catalog
from features.partitions import plan_partitions
from features.sources import Sources
from riskmodel.bundle import ModelBundle
from riskmodel.registry import BUNDLE_ARTIFACT_PATH, CHALLENGER
from riskmodel.treeshap import FastTreeShap
from training import report
from training.baselines import ABCRule, logistic_regression
from training.config import TrainConfig
from training.distributed import fit_model_on_dask, partitioned_training_matrix
from training.drift import feature_distribution
from training.evaluate import evaluate, metrics_table
from training.fairness import fairness_audit, flags
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.model import FittedModel, fit_model, raw_scores
from training.split import TemporalSplit, temporal_split
from training.tracking import configure_tracking

SHAP_SAMPLE_ROWS = 5000
SCORERS = ("model", "abc_rule", "logistic")


@dataclass
class TrainResult:
    run_id: str
    version: str
    split: TemporalSplit
    rows: dict[str, int]
    metrics: pd.DataFrame
    fairness: pd.DataFrame
    fairness_flags: list[str]
    seconds: float
    peak_memory_gb: float


@dataclass
class HeldOut:
    """The test period's outcomes and every scorer's scores on it."""

    labels: np.ndarray
    probabilities: dict[str, np.ndarray]  # calibrated, for Brier and calibration
    ranking: dict[str, np.ndarray]  # what lists are ranked by
    meta: pd.DataFrame  # as_of and school_id of each row
    metrics: pd.DataFrame
    audit: pd.DataFrame
    flags: list[str]


@dataclass
class RunRecord:
    """Everything one training run logs to MLflow."""

    config: TrainConfig
    split: TemporalSplit
    rows: dict[str, int]
    features: list[str]
    fitted: FittedModel
    trainer: str
    test: HeldOut
    bundle: ModelBundle
    contributions: np.ndarray  # exact SHAP values of a sample of test rows
    explain_us: float


def model_inputs(config: TrainConfig) -> list[str]:
    """Catalog features that are model inputs; protected ones only when configured."""
    return [
        feature_id
        for feature_id, spec in catalog().items()
        if (spec.model_input or (spec.sensitive and config.features.use_sensitive))
    ]


def train(
    settings: Settings,
    config: TrainConfig,
    engine: sa.Engine,
    on_progress: Callable[[str], None] = lambda _message: None,
    client: Any = None,
) -> TrainResult:
    """Run one training: the whole of SPEC section 5 for one model version.

    With a Dask ``client`` (or a Parquet dataset in the settings) the matrix is built
    partition by partition by school; with a client LightGBM trains on its workers
    (``training.distributed``). Everything after the fit is the same.
    """
    started = time.perf_counter()
    matrix = training_matrix(settings, config, engine, client, on_progress)
    split = temporal_split(matrix, config.split.train_until, config.split.test_from)
    train_rows, valid_rows, test_rows = matrix[split.train], matrix[split.valid], matrix[split.test]
    rows = {"train": len(train_rows), "valid": len(valid_rows), "test": len(test_rows)}
    features = model_inputs(config)

    on_progress("training LightGBM" + (" on Dask" if client is not None else ""))
    fitted, trainer = fit(train_rows, valid_rows, features, config, client)
    on_progress("fitting the baselines and evaluating on the test period")
    test = evaluate_on_test_period(fitted, train_rows, valid_rows, test_rows, features, config)
    bundle = make_bundle(fitted, train_rows, valid_rows, features, config, split, test)
    contributions, explain_us = explanation_cost(fitted.booster, test_rows[features])

    on_progress("logging to MLflow")
    record = RunRecord(
        config, split, rows, features, fitted, trainer, test, bundle, contributions, explain_us
    )
    run_id, version = track_and_register(settings, record)
    # ru_maxrss is in kilobytes on Linux.
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return TrainResult(
        run_id,
        version,
        split,
        rows,
        test.metrics,
        test.audit,
        test.flags,
        time.perf_counter() - started,
        peak_gb,
    )


def training_matrix(
    settings: Settings,
    config: TrainConfig,
    engine: sa.Engine,
    client: Any,
    on_progress: Callable[[str], None],
) -> pd.DataFrame:
    """(student, Monday) rows with features and labels, whole or partition by partition."""
    rules = LabelRules(config.labels.horizon_days, config.labels.m3_transition_counts)
    if client is not None or settings.dataset_path is not None:
        on_progress("building the training matrix, partition by partition")
        partitions = plan_partitions(
            engine.url.render_as_string(hide_password=False), settings.dataset_path
        )
        matrix = partitioned_training_matrix(partitions, rules, client)
    else:
        on_progress("reading sources")
        sources = Sources.from_database(engine)
        on_progress("building the training matrix")
        matrix = build_training_matrix(sources, rules)
    if config.split.first_as_of is not None:
        first = pd.Timestamp(config.split.first_as_of)
        matrix = matrix[matrix["as_of"] >= first].reset_index(drop=True)
    return matrix


def fit(
    train_rows: pd.DataFrame,
    valid_rows: pd.DataFrame,
    features: list[str],
    config: TrainConfig,
    client: Any,
) -> tuple[FittedModel, str]:
    """LightGBM here, or on the Dask client's workers; returns the model and who trained it."""
    if client is None:
        return fit_model(train_rows, valid_rows, features, config.model), "lightgbm"
    fitted = fit_model_on_dask(train_rows, valid_rows, features, config.model, client)
    return fitted, f"lightgbm.dask ({len(client.scheduler_info()['workers'])} workers)"


def evaluate_on_test_period(
    fitted: FittedModel,
    train_rows: pd.DataFrame,
    valid_rows: pd.DataFrame,
    test_rows: pd.DataFrame,
    features: list[str],
    config: TrainConfig,
) -> HeldOut:
    """The model and both baselines (fitted on the same split) scored on the test period."""
    abc = ABCRule().fit(valid_rows, valid_rows["label"])
    logistic = logistic_regression(config.model.seed).fit(train_rows[features], train_rows["label"])
    labels = test_rows["label"].to_numpy()
    model_raw = raw_scores(fitted.booster, test_rows, features)
    probabilities = {
        "model": fitted.calibration.apply(model_raw),
        "abc_rule": abc.predict_proba(test_rows),
        "logistic": logistic.predict_proba(test_rows[features])[:, 1],
    }
    ranking = {
        "model": model_raw,
        "abc_rule": abc.score(test_rows),
        "logistic": probabilities["logistic"],
    }
    meta = test_rows[["as_of", "school_id"]]
    results = {
        name: evaluate(
            labels, probabilities[name], ranking[name], meta, config.evaluation.top_shares
        )
        for name in SCORERS
    }
    audit = fairness_audit(test_rows, labels, model_raw, config.fairness)
    return HeldOut(
        labels, probabilities, ranking, meta, metrics_table(results), audit, flags(audit)
    )


def make_bundle(
    fitted: FittedModel,
    train_rows: pd.DataFrame,
    valid_rows: pd.DataFrame,
    features: list[str],
    config: TrainConfig,
    split: TemporalSplit,
    test: HeldOut,
) -> ModelBundle:
    """What serving loads: the booster, its calibration, catalog and metadata."""
    valid_risk = fitted.calibration.apply(raw_scores(fitted.booster, valid_rows, features))
    return ModelBundle(
        booster=fitted.booster,
        features=features,
        calibration=fitted.calibration,
        catalog={f: dataclasses.asdict(spec) for f, spec in catalog().items()},
        metadata={
            "horizon_days": config.labels.horizon_days,
            "split": split.describe(),
            "tier_thresholds": {
                "high": float(np.quantile(valid_risk, 0.90)),
                "watch": float(np.quantile(valid_risk, 0.75)),
            },
            "test_metrics": {k: float(v) for k, v in test.metrics["model"].items()},
            "fairness_flags": test.flags,
            # Training medians: serving gives a reason only on the risky side of them.
            "medians": {
                f: float(m) for f in features if np.isfinite(m := float(train_rows[f].median()))
            },
        },
        distribution=feature_distribution(train_rows, features),
    )


def explanation_cost(booster: lgb.Booster, rows: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Exact SHAP values of a sample of rows with the service's explainer, and the
    microseconds per student it took (logged beside quality)."""
    sample = rows.sample(min(SHAP_SAMPLE_ROWS, len(rows)), random_state=0)
    explainer = FastTreeShap(booster)
    matrix = sample.to_numpy(dtype=float)
    explainer.shap_values(matrix[:2])  # compiled once per process; not part of the cost
    started = time.perf_counter()
    contributions = explainer.shap_values(matrix)
    return contributions, (time.perf_counter() - started) / len(sample) * 1e6


def track_and_register(settings: Settings, record: RunRecord) -> tuple[str, str]:
    """Log the run to MLflow, register the model and make it the challenger."""
    configure_tracking(settings)
    split = record.split
    with tempfile.TemporaryDirectory() as folder:
        with mlflow.start_run(run_name=f"train {split.test_from.date()}") as run:
            run_id = run.info.run_id
            _log_run(Path(folder), record, run_id)
            info = mlflow.lightgbm.log_model(
                record.fitted.booster,
                name="model",
                registered_model_name=settings.model_name,
                pip_requirements=[f"lightgbm=={lgb.__version__}"],
            )
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(settings.model_name, CHALLENGER, version)
    for key, value in {
        "test_from": str(split.test_from.date()),
        "test_until": str(split.test_until.date()),
        "precision_at_10": f"{cast(float, record.test.metrics.at['precision_at_10', 'model']):.6f}",
        "fairness_flags": json.dumps(record.test.flags, ensure_ascii=False),
    }.items():
        client.set_model_version_tag(settings.model_name, version, key, value)
    return run_id, version


def _log_run(work: Path, record: RunRecord, run_id: str) -> None:
    """Parameters, metrics, tables, plots, the model card and the serving bundle."""
    config, split, test = record.config, record.split, record.test
    params: dict[str, Any] = {
        f"{section}.{k}": v
        for section, values in config.model_dump().items()
        for k, v in values.items()
    }
    params |= {f"split.{k}": v for k, v in split.describe().items()}
    params |= {f"rows.{k}": v for k, v in record.rows.items()}
    params |= {
        "features.count": len(record.features),
        "model.best_iteration": record.fitted.best_iteration,
        "model.trainer": record.trainer,
    }
    mlflow.log_params({k: str(v) for k, v in params.items()})
    flat = {
        f"{scorer}.{metric}": float(value)
        for scorer, column in test.metrics.items()
        for metric, value in column.items()
        if np.isfinite(value)
    }
    flat |= {"fairness.flags": float(len(test.flags)), "explain.us_per_student": record.explain_us}
    mlflow.log_metrics(flat)
    mlflow.set_tags(
        {
            "fairness_flags": json.dumps(test.flags, ensure_ascii=False),
            "model_name": "dropout-risk",
        }
    )

    (work / "features.json").write_text(json.dumps(record.features, indent=1), encoding="utf-8")
    test.metrics.to_csv(work / "metrics.csv")
    test.audit.to_csv(work / "fairness.csv", index=False)
    (work / "fairness.md").write_text(
        report.markdown_table(test.audit.set_index("attribute")), encoding="utf-8"
    )
    plots = work / "plots"
    plots.mkdir()
    report.plot_precision_recall(test.labels, test.ranking, plots / "precision_recall.png")
    report.plot_calibration(test.labels, test.probabilities, plots / "calibration.png")
    report.plot_precision_at_k(test.labels, test.ranking, test.meta, plots / "precision_at_k.png")
    report.plot_shap_summary(record.contributions, record.features, plots / "shap_summary.png")
    card = report.model_card(
        {
            "run_id": run_id,
            "horizon_days": config.labels.horizon_days,
            "split": split.describe(),
            "rows": record.rows,
            "features": record.features,
            "use_sensitive": config.features.use_sensitive,
            "metrics": test.metrics,
            "fairness": test.audit,
            "fairness_flags": test.flags,
            "explain_us_per_student": record.explain_us,
        }
    )
    (work / "model_card.md").write_text(card, encoding="utf-8")
    for name in ("features.json", "metrics.csv", "fairness.csv", "fairness.md", "model_card.md"):
        mlflow.log_artifact(str(work / name))
    mlflow.log_artifacts(str(plots), artifact_path="plots")
    bundle_dir = record.bundle.save(work / BUNDLE_ARTIFACT_PATH)
    mlflow.log_artifacts(str(bundle_dir), artifact_path=BUNDLE_ARTIFACT_PATH)
