"""``ews train``: build the matrix, split by time, fit, compare, audit, track and register."""

from __future__ import annotations

import dataclasses
import json
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from training.evaluate import evaluate, metrics_table
from training.fairness import fairness_audit, flags
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.model import fit_model, raw_scores
from training.split import TemporalSplit, temporal_split
from training.tracking import configure_tracking

SHAP_SAMPLE_ROWS = 5000


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
        matrix = matrix[matrix["as_of"] >= pd.Timestamp(config.split.first_as_of)].reset_index(
            drop=True
        )
    split = temporal_split(matrix, config.split.train_until, config.split.test_from)
    train_rows, valid_rows, test_rows = matrix[split.train], matrix[split.valid], matrix[split.test]
    rows = {"train": len(train_rows), "valid": len(valid_rows), "test": len(test_rows)}
    features = model_inputs(config)

    if client is None:
        on_progress("training LightGBM")
        fitted = fit_model(train_rows, valid_rows, features, config.model)
        trainer = "lightgbm"
    else:
        on_progress("training LightGBM on Dask")
        fitted = fit_model_on_dask(train_rows, valid_rows, features, config.model, client)
        trainer = f"lightgbm.dask ({len(client.scheduler_info()['workers'])} workers)"
    on_progress("fitting the baselines")
    abc = ABCRule().fit(valid_rows, valid_rows["label"])
    logistic = logistic_regression(config.model.seed).fit(train_rows[features], train_rows["label"])

    on_progress("evaluating on the test period")
    labels = test_rows["label"].to_numpy()
    model_raw = raw_scores(fitted.booster, test_rows, features)
    scores = {
        "model": fitted.calibration.apply(model_raw),
        "abc_rule": abc.predict_proba(test_rows),
        "logistic": logistic.predict_proba(test_rows[features])[:, 1],
    }
    ranking = {"model": model_raw, "abc_rule": abc.score(test_rows), "logistic": scores["logistic"]}
    meta = test_rows[["as_of", "school_id"]]
    results = {
        name: evaluate(labels, scores[name], ranking[name], meta, config.evaluation.top_shares)
        for name in scores
    }
    metrics = metrics_table(results)
    audit = fairness_audit(test_rows, labels, model_raw, config.fairness)
    audit_flags = flags(audit)

    valid_risk = fitted.calibration.apply(raw_scores(fitted.booster, valid_rows, features))
    bundle = ModelBundle(
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
            "test_metrics": {k: float(v) for k, v in results["model"].items()},
            "fairness_flags": audit_flags,
            # Training medians: serving gives a reason only on the risky side of them.
            "medians": {
                f: float(m) for f in features if np.isfinite(m := float(train_rows[f].median()))
            },
        },
        distribution=feature_distribution(train_rows, features),
    )
    sample = test_rows[features].sample(min(SHAP_SAMPLE_ROWS, len(test_rows)), random_state=0)
    # The cost of an exact explanation with the service's explainer, logged beside quality.
    explainer = FastTreeShap(fitted.booster)
    matrix = sample.to_numpy(dtype=float)
    explainer.shap_values(matrix[:2])  # compiled once per process; not part of the cost
    explain_started = time.perf_counter()
    contributions = explainer.shap_values(matrix)
    explain_us = (time.perf_counter() - explain_started) / len(sample) * 1e6

    on_progress("logging to MLflow")
    configure_tracking(settings)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        with mlflow.start_run(run_name=f"train {split.test_from.date()}") as run:
            run_id = run.info.run_id
            _log_run(
                work,
                config,
                split,
                rows,
                features,
                metrics,
                audit,
                audit_flags,
                bundle,
                labels,
                scores,
                ranking,
                meta,
                contributions,
                explain_us,
                run_id,
                fitted.best_iteration,
                trainer,
            )
            info = mlflow.lightgbm.log_model(
                fitted.booster,
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
        "precision_at_10": f"{results['model']['precision_at_10']:.6f}",
        "fairness_flags": json.dumps(audit_flags, ensure_ascii=False),
    }.items():
        client.set_model_version_tag(settings.model_name, version, key, value)
    # ru_maxrss is in kilobytes on Linux.
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return TrainResult(
        run_id,
        version,
        split,
        rows,
        metrics,
        audit,
        audit_flags,
        time.perf_counter() - started,
        peak_gb,
    )


def term_phase(rows: pd.DataFrame) -> pd.Series:
    """0 for the first six weeks of a term, 1 for the next six, 2 after: features such as
    term-to-date rates and days since screening follow the term's rhythm."""
    weeks = (rows["as_of"] - rows["term_start"]).dt.days // 7
    return np.minimum(weeks // 6, 2).astype(int)


def feature_distribution(rows: pd.DataFrame, features: list[str]) -> dict[str, Any]:
    """Decile edges and shares of each feature on the training rows, per phase of term."""
    phases = term_phase(rows)
    out: dict[str, Any] = {}
    for feature in features:
        out[feature] = {}
        for phase in sorted(phases.unique()):
            values = rows.loc[phases == phase, feature].to_numpy(dtype=float)
            present = values[~np.isnan(values)]
            edges = (
                np.unique(np.quantile(present, np.linspace(0, 1, 11)))
                if len(present)
                else np.array([])
            )
            out[feature][str(phase)] = {
                "edges": [float(e) for e in edges],
                "shares": bin_shares(present, edges),
                "missing_share": float(np.isnan(values).mean()) if len(values) else 1.0,
            }
    return out


def bin_shares(values: np.ndarray, edges: np.ndarray | list[float]) -> list[float]:
    """Shares of values in the bins cut by the inner edges (open-ended outer bins)."""
    edges = np.asarray(edges, dtype=float)
    if len(values) == 0 or len(edges) < 2:
        return []
    index = np.searchsorted(edges[1:-1], values, side="right")
    counts = np.bincount(index, minlength=len(edges) - 1)
    return [float(c) for c in counts / counts.sum()]


def _log_run(
    work: Path,
    config: TrainConfig,
    split: TemporalSplit,
    rows: dict[str, int],
    features: list[str],
    metrics: pd.DataFrame,
    audit: pd.DataFrame,
    audit_flags: list[str],
    bundle: ModelBundle,
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    ranking: dict[str, np.ndarray],
    meta: pd.DataFrame,
    contributions: np.ndarray,
    explain_us: float,
    run_id: str,
    best_iteration: int,
    trainer: str,
) -> None:
    params: dict[str, Any] = {
        f"{section}.{k}": v
        for section, values in config.model_dump().items()
        for k, v in values.items()
    }
    params |= {f"split.{k}": v for k, v in split.describe().items()}
    params |= {f"rows.{k}": v for k, v in rows.items()}
    params |= {
        "features.count": len(features),
        "model.best_iteration": best_iteration,
        "model.trainer": trainer,
    }
    mlflow.log_params({k: str(v) for k, v in params.items()})
    flat = {
        f"{scorer}.{metric}": float(value)
        for scorer, column in metrics.items()
        for metric, value in column.items()
        if np.isfinite(value)
    }
    flat |= {"fairness.flags": float(len(audit_flags)), "explain.us_per_student": explain_us}
    mlflow.log_metrics(flat)
    mlflow.set_tags(
        {
            "fairness_flags": json.dumps(audit_flags, ensure_ascii=False),
            "model_name": "dropout-risk",
        }
    )

    (work / "features.json").write_text(json.dumps(features, indent=1), encoding="utf-8")
    metrics.to_csv(work / "metrics.csv")
    audit.to_csv(work / "fairness.csv", index=False)
    (work / "fairness.md").write_text(
        report.markdown_table(audit.set_index("attribute")), encoding="utf-8"
    )
    plots = work / "plots"
    plots.mkdir()
    report.plot_precision_recall(labels, ranking, plots / "precision_recall.png")
    report.plot_calibration(labels, scores, plots / "calibration.png")
    report.plot_precision_at_k(labels, ranking, meta, plots / "precision_at_k.png")
    report.plot_shap_summary(contributions, features, plots / "shap_summary.png")
    card = report.model_card(
        {
            "run_id": run_id,
            "horizon_days": config.labels.horizon_days,
            "split": split.describe(),
            "rows": rows,
            "features": features,
            "use_sensitive": config.features.use_sensitive,
            "metrics": metrics,
            "fairness": audit,
            "fairness_flags": audit_flags,
            "explain_us_per_student": explain_us,
        }
    )
    (work / "model_card.md").write_text(card, encoding="utf-8")
    for name in ("features.json", "metrics.csv", "fairness.csv", "fairness.md", "model_card.md"):
        mlflow.log_artifact(str(work / name))
    mlflow.log_artifacts(str(plots), artifact_path="plots")
    bundle_dir = bundle.save(work / BUNDLE_ARTIFACT_PATH)
    mlflow.log_artifacts(str(bundle_dir), artifact_path=BUNDLE_ARTIFACT_PATH)
