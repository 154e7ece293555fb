"""``ews train``: build the matrix, choose on folds, test, guard, refit, track and register.

``train`` reads as the steps it takes; each step is a function below it (or a module:
``split``, ``search``, ``guards``, ``fairness``). docs/model.md in short: temporal
folds choose the settings; a model fitted only on outcomes known before the test period
is measured there against two baselines fitted and calibrated the same way; a model
that cannot rank is flagged; the registered model is refit on every mature row.
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score

from core.settings import Settings
from features.catalog import catalog, catalog_entries
from features.sources import Sources
from riskmodel.bundle import HeldOutModel, ModelBundle, SeasonalCalibration, TierPolicy
from riskmodel.bundle import raw_scores as raw_scores_of
from riskmodel.explain import Explainer
from riskmodel.linear import LinearModel
from riskmodel.registry import BUNDLE_ARTIFACT_PATH, CHALLENGER, DIGEST_TAG, bundle_digest
from riskmodel.rules import RULE_INPUTS, ABCRule
from riskmodel.treeshap import FastTreeShap
from schooldata.db import upgrade
from schooldata.identity import read_with_persons
from schooldata.partitions import SCHOOLS_PER_TASK, plan_partitions
from training import model_card
from training.baselines import logistic_regression
from training.config import TierConfig, TrainConfig
from training.distributed import dask_fitter, partitioned_training_matrix
from training.drift import feature_distribution, reference_rows
from training.evaluate import (
    Interval,
    StudentResamples,
    calibration_check,
    capacity_places,
    evaluate,
    flag_places,
    found_in_time,
    metrics_table,
    precision_interval,
    rank_auc,
)
from training.fairness import Audit, fairness_audit
from training.guards import Evidence, problems
from training.labels import LinkingEffect, label_rules
from training.matrix import build_training_matrix
from training.model import (
    Fitter,
    fit_booster,
    lightgbm_params,
    raw_scores,
    seasonal_calibration,
)
from training.search import Selection, fold_leads, select
from training.split import SplitError, TemporalPlan, plan_from_config
from training.tracking import configure_tracking

SHAP_SAMPLE_ROWS = 5000
SCORERS = ("model", "abc_rule", "logistic")
BASELINES = ("abc_rule", "logistic")
# The kind of champion each scorer of the comparison becomes (``ModelBundle.kind``).
KIND_OF = {"model": "lightgbm", "logistic": "logistic", "abc_rule": "abc_rule"}
SCORER_OF = {kind: scorer for scorer, kind in KIND_OF.items()}


@dataclass
class HeldOut:
    """The test period's outcomes and every scorer's scores on it."""

    rows: pd.DataFrame
    labels: np.ndarray
    probabilities: dict[str, np.ndarray]  # calibrated, for Brier and calibration
    ranking: dict[str, np.ndarray]  # what lists are ranked by
    metrics: pd.DataFrame
    intervals: dict[str, Interval]  # bootstrap over students
    calibration: pd.DataFrame  # expected against observed, by decile and flagged
    audit: Audit
    flags: list[str]

    @property
    def meta(self) -> pd.DataFrame:
        return self.rows[["as_of", "school_id", "capacity"]]


@dataclass(kw_only=True)
class TrainResult:
    run_id: str
    version: str
    plan: TemporalPlan
    selection: Selection
    rows: dict[str, int]
    metrics: pd.DataFrame
    intervals: dict[str, Interval]
    calibration: pd.DataFrame
    fairness: Audit
    fairness_flags: list[str]
    problems: list[str]
    seconds: float
    peak_memory_gb: float
    notes: list[str] = field(default_factory=list)


@dataclass
class RunRecord:
    """Everything one training run logs to MLflow."""

    config: TrainConfig
    plan: TemporalPlan
    selection: Selection
    rows: dict[str, int]
    features: list[str]
    trainer: str
    test: HeldOut
    problems: list[str]
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
    """Run one training (docs/model.md, "Training, evaluation and promotion") for one
    model version.

    With a Dask ``client`` (or a Parquet dataset in the settings) the matrix is built
    partition by partition by school; with a client LightGBM trains on its workers
    (``training.distributed``). Everything else is the same.
    """
    started = time.perf_counter()
    matrix = training_matrix(settings, config, engine, client, on_progress)
    plan = plan_from_config(matrix, config)
    plan.notes.append(str(LinkingEffect.of(matrix)))
    features = model_inputs(config)
    fitter, trainer = _fitter(client, config.model.seed)

    on_progress(f"choosing the model on {len(plan.folds)} rolling-origin folds")
    selection = select(matrix, plan, features, config, fitter)
    on_progress("fitting on the outcomes known before the test period, and the baselines")
    evaluation, logistic = _fit_before_test(
        matrix, plan, selection, features, config=config, fitter=fitter
    )
    test = evaluate_on_test_period(
        matrix[plan.test],
        selection,
        evaluation,
        logistic,
        features=features,
        config=config,
        interventions=read_with_persons(engine, "interventions", columns=["date", "type"]),
    )
    guard_problems = problems(_evidence(selection, test, "model", config.tiers), config.guards)
    kind, notes = choose_kind(selection, test, guard_problems, config)
    plan.notes.extend(notes)
    if kind != "lightgbm":
        guard_problems = problems(
            _evidence(selection, test, SCORER_OF[kind], config.tiers), config.guards
        )

    on_progress("refitting on every mature row")
    if kind == "lightgbm":
        bundle = make_bundle(
            matrix,
            plan,
            selection,
            evaluation,
            test=test,
            features=features,
            config=config,
            fitter=fitter,
        )
    else:
        bundle = baseline_bundle(
            kind,
            matrix,
            plan,
            selection,
            logistic=logistic,
            test=test,
            features=features,
            config=config,
        )
    bundle.metadata["guard_problems"] = guard_problems
    contributions, explain_us = explanation_cost(bundle, test.rows[bundle.features])

    on_progress("logging to MLflow")
    rows = {
        "train": int(plan.train.sum()),
        "test": int(plan.test.sum()),
        "refit": int(plan.refit.sum()),
        **{f"fold_{i + 1}": int(f.train.sum()) for i, f in enumerate(plan.folds)},
    }
    record = RunRecord(
        config,
        plan,
        selection,
        rows,
        features,
        trainer,
        test,
        guard_problems,
        bundle,
        contributions,
        explain_us,
    )
    run_id, version = track_and_register(settings, record)
    # ru_maxrss is in kilobytes on Linux.
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return TrainResult(
        run_id=run_id,
        version=version,
        plan=plan,
        selection=selection,
        rows=rows,
        metrics=test.metrics,
        intervals=test.intervals,
        calibration=test.calibration,
        fairness=test.audit,
        fairness_flags=test.flags,
        problems=guard_problems,
        seconds=time.perf_counter() - started,
        peak_memory_gb=peak_gb,
        notes=plan.notes,
    )


def training_matrix(
    settings: Settings,
    config: TrainConfig,
    engine: sa.Engine,
    client: Any,
    on_progress: Callable[[str], None],
) -> pd.DataFrame:
    """(student, Monday) rows with features and labels, whole or partition by partition."""
    upgrade(engine)  # a database written by an older version reads like a new one
    rules = label_rules(engine, config.labels.horizon_days, config.labels.m3_transition_counts)
    if client is not None or settings.dataset_path is not None:
        on_progress("building the training matrix, partition by partition")
        # A row per student and as-of date: tasks of a few schools (SCHOOLS_PER_TASK).
        partitions = plan_partitions(
            engine.url.render_as_string(hide_password=False),
            settings.dataset_path,
            schools_per_task=SCHOOLS_PER_TASK,
        )
        matrix = partitioned_training_matrix(partitions, rules, client)
    else:
        on_progress("reading sources")
        sources = Sources.from_database(engine)
        if sources.enrollments is None or sources.enrollments.empty:
            raise SplitError(
                "no enrolments in the database: nothing to learn from (load the schools' "
                "files with `ews ingest` first)"
            )
        on_progress("building the training matrix")
        matrix = build_training_matrix(sources, rules)
    if config.split.first_as_of is not None:
        first = pd.Timestamp(config.split.first_as_of)
        matrix = matrix[matrix["as_of"] >= first].reset_index(drop=True)
    return matrix


def _fitter(client: Any, seed: int) -> tuple[Fitter, str]:
    if client is None:
        return fit_booster, "lightgbm"
    workers = len(client.scheduler_info()["workers"])
    return dask_fitter(client, seed), f"lightgbm.dask ({workers} workers)"


@dataclass(frozen=True)
class Fitted:
    """One fit of the chosen configuration and its out-of-sample calibration."""

    booster: lgb.Booster
    calibration: SeasonalCalibration


def _fit_before_test(
    matrix: pd.DataFrame,
    plan: TemporalPlan,
    selection: Selection,
    features: list[str],
    *,
    config: TrainConfig,
    fitter: Fitter,
) -> tuple[Fitted, Any]:
    """The evaluation model and the logistic baseline, on rows observed before the test.

    Both are calibrated on the folds' out-of-sample scores of the test period's season.
    """
    rows = matrix[plan.train]
    params = lightgbm_params(features, config.model, selection.shape, len(rows))
    booster = fitter(rows, features, params, selection.trees)
    logistic = logistic_regression(config.model.seed).fit(rows[features], rows["label"])
    return Fitted(booster, _calibration(selection.out_of_fold, "model")), logistic


def _calibration(scored: pd.DataFrame, scorer: str) -> SeasonalCalibration:
    return seasonal_calibration(
        scored[scorer].to_numpy(dtype=float),
        scored["label"].to_numpy(dtype=float),
        scored["term"].to_numpy(),
    )


def evaluate_on_test_period(
    rows: pd.DataFrame,
    selection: Selection,
    evaluation: Fitted,
    logistic: Any,
    *,
    features: list[str],
    config: TrainConfig,
    interventions: pd.DataFrame | None = None,
) -> HeldOut:
    """The evaluation model and both baselines on the test period, with intervals."""
    labels = rows["label"].to_numpy()
    terms = rows["term"].to_numpy()
    ranking = {
        "model": raw_scores(evaluation.booster, rows, features),
        "abc_rule": ABCRule().score(rows),
        "logistic": np.asarray(logistic.decision_function(rows[features])),
    }
    probabilities = {
        "model": evaluation.calibration.apply(ranking["model"], terms),
        **{
            name: _calibration(selection.out_of_fold, name).apply(ranking[name], terms)
            for name in BASELINES
        },
    }
    meta = rows[["as_of", "school_id", "capacity"]]
    share = config.tiers.high_share
    results = {
        name: evaluate(
            labels,
            probabilities[name],
            ranking[name],
            rows,
            top_shares=config.evaluation.top_shares,
            capacity_share=share,
        )
        for name in SCORERS
    }
    places = capacity_places(meta, share)
    flagged = {
        name: flag_places(ranking[name], meta[["as_of", "school_id"]], places, rows=rows)
        for name in SCORERS
    }
    intervals = _intervals(rows, labels, ranking, flagged, config.guards.bootstrap)
    # Found in time: the test period's weekly home-visit plans, each school at its capacity.
    for name in SCORERS:
        found = found_in_time(
            rows.assign(label=labels), ranking[name], places, resamples=config.guards.bootstrap
        )
        results[name] |= {
            "found_4w": found.found_4w.estimate,
            "found_8w": found.found_8w.estimate,
            "median_lead_weeks": found.median_lead_weeks,
        }
        intervals[f"{name}.found_8w"] = found.found_8w
    audit = fairness_audit(
        rows, labels, ranking["model"], config.fairness, interventions, places=places
    )
    return HeldOut(
        rows,
        labels,
        probabilities,
        ranking,
        metrics_table(results),
        intervals,
        calibration_check(labels, probabilities["model"], flagged["model"]),
        audit,
        audit.flags,
    )


def _intervals(
    rows: pd.DataFrame,
    labels: np.ndarray,
    ranking: dict[str, np.ndarray],
    flagged: dict[str, np.ndarray],
    resamples: int,
) -> dict[str, Interval]:
    """Within-school precision at capacity of every scorer, the model's lead over each
    baseline, and the model's ROC-AUC: each with an interval over students."""
    draws = StudentResamples.draw(rows["person_id"].to_numpy(), resamples)
    intervals = {
        f"{name}.precision_at_capacity_school": precision_interval(labels, flagged[name], draws)
        for name in SCORERS
    }
    hits = {name: (labels * flagged[name]).astype(float) for name in SCORERS}
    precision = {name: draws.ratio(hits[name], flagged[name].astype(float)) for name in SCORERS}
    for baseline in BASELINES:
        estimate = (
            intervals["model.precision_at_capacity_school"].estimate
            - intervals[f"{baseline}.precision_at_capacity_school"].estimate
        )
        intervals[f"model_minus_{baseline}.precision_at_capacity_school"] = Interval.of(
            estimate, precision["model"] - precision[baseline]
        )
    if 0 < labels.sum() < len(labels):
        auc = draws.statistic(_auc(labels, ranking["model"]), limit=min(resamples, 100))
        intervals["model.roc_auc"] = Interval.of(
            float(roc_auc_score(labels, ranking["model"])), auc
        )
    return intervals


def tier_policy(risk: np.ndarray, base_rate: float, config: TierConfig) -> TierPolicy:
    """Tiers by share of each school, above floors of ``min_lift`` (watch) and
    ``high_lift`` (high) times the base rate (``lifted``); global cut-offs (for a score
    outside a list) at the same shares of out-of-sample risk."""
    return TierPolicy(
        high_share=config.high_share,
        watch_share=config.watch_share,
        floor=lifted(base_rate, config.min_lift),
        high_risk=float(np.quantile(risk, 1 - config.high_share)),
        watch_risk=float(np.quantile(risk, 1 - config.watch_share)),
        high_floor=lifted(base_rate, config.high_lift),
    )


def lifted(base_rate: float, lift: float) -> float:
    """The risk whose odds are ``lift`` times the base rate's odds: about ``lift`` times a
    rare base rate (2% and 3: 5.8%), and still a risk some students reach where leaving
    is common (a third leaving and 3: 60%, where three times the rate would be 100%)."""
    if not 0 < base_rate < 1:
        return base_rate
    odds = lift * base_rate / (1 - base_rate)
    return odds / (1 + odds)


def _evidence(selection: Selection, test: HeldOut, scorer: str, tiers: TierConfig) -> Evidence:
    """What the guards judge of one scorer: validation folds when there are purged ones,
    else the test period."""
    oof = selection.out_of_fold
    if selection.tuned:
        labels = oof["label"].to_numpy()
        score = oof[scorer].to_numpy(dtype=float)
        draws = StudentResamples.draw(oof["person_id"].to_numpy(), 100)
        auc = Interval.of(float(roc_auc_score(labels, score)), draws.statistic(_auc(labels, score)))
        means = selection.fold_scores.groupby("scorer")[["found_8w", "pr_auc"]].mean()
        source = "validation folds"
    else:
        nan = float("nan")
        labels, score = test.labels, test.ranking[scorer]
        auc = test.intervals.get(f"{scorer}.roc_auc", Interval(nan, nan, nan))
        if scorer != "model" and 0 < labels.sum() < len(labels):
            draws = StudentResamples.draw(test.rows["person_id"].to_numpy(), 100)
            auc = Interval.of(
                float(roc_auc_score(labels, score)), draws.statistic(_auc(labels, score))
            )
        means = test.metrics.loc[["found_8w", "pr_auc"]].T
        source = "test period"
    oof_risk = _calibration(oof, scorer).apply(
        oof[scorer].to_numpy(dtype=float), oof["term"].to_numpy()
    )
    policy = tier_policy(oof_risk, float(oof["label"].mean()), tiers)
    risk = test.probabilities[scorer]
    return Evidence(
        trees=selection.trees if scorer == "model" else None,
        ranking={str(k): float(v) for k, v in means["found_8w"].items()},
        average_precision={str(k): float(v) for k, v in means["pr_auc"].items()},
        leads=fold_leads(_by_fold(oof), tiers.high_share, list(SCORERS))
        if selection.tuned
        else None,
        ranking_source=source,
        auc=auc,
        test_risk=risk,
        single_score_high_share=float((policy.by_risk(risk) == "high").mean()),
        scorer=scorer,
    )


def _by_fold(out_of_fold: pd.DataFrame) -> list[pd.DataFrame]:
    """The out-of-fold rows, a frame per fold, in fold order."""
    return [rows for _, rows in out_of_fold.groupby("fold", sort=True)]


def choose_kind(
    selection: Selection, test: HeldOut, model_problems: list[str], config: TrainConfig
) -> tuple[str, list[str]]:
    """Which scorer becomes this run's registered version: the LightGBM model unless a
    baseline ranks better by the guards' own measure (``Evidence.better``: who finds more
    of the students who left 8+ weeks ahead on the validation folds, where the leavers
    tell them apart, else average precision) and the LightGBM model failed a guard. A
    model level with a baseline is not worth its opacity; a school still gets the best
    sound scorer there is. Returns the kind and what to note."""
    evidence = _evidence(selection, test, "model", config.tiers)
    ranking = evidence.ranking
    if not model_problems or not ranking or not config.model.baselines_may_serve:
        return "lightgbm", []
    best = evidence.best(list(ranking))
    nan = float("nan")
    if best == "model":
        return "lightgbm", []
    precision = evidence.average_precision
    return KIND_OF[best], [
        f"The {best.replace('_', ' ')} ranked students best on the {evidence.ranking_source} "
        f"(found {ranking[best]:.1%} of the students who left 8+ weeks ahead, LightGBM "
        f"{ranking.get('model', nan):.1%}; average precision {precision.get(best, nan):.4f}, "
        f"LightGBM {precision.get('model', nan):.4f}) and the LightGBM model failed a guard: "
        f"this version is the {best.replace('_', ' ')}, with exact explanations of its own."
    ]


def _auc(labels: np.ndarray, score: np.ndarray) -> Callable[[np.ndarray], float]:
    def statistic(index: np.ndarray) -> float:
        return rank_auc(labels[index], score[index])

    return statistic


def make_bundle(
    matrix: pd.DataFrame,
    plan: TemporalPlan,
    selection: Selection,
    evaluation: Fitted,
    *,
    test: HeldOut,
    features: list[str],
    config: TrainConfig,
    fitter: Fitter,
) -> ModelBundle:
    """What serving loads: the model refit on every mature row, calibrated on every
    out-of-sample score (folds and test), with its tiers and the evaluation model."""
    rows = matrix[plan.refit]
    params = lightgbm_params(features, config.model, selection.shape, len(rows))
    booster = fitter(rows, features, params, selection.trees)
    scored = pd.concat(
        [
            selection.out_of_fold[["model", "label", "term"]],
            pd.DataFrame(
                {"model": test.ranking["model"], "label": test.labels, "term": test.rows["term"]}
            ),
        ],
        ignore_index=True,
    )
    calibration = _calibration(scored, "model")
    risk = calibration.apply(scored["model"].to_numpy(dtype=float), scored["term"].to_numpy())
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    return ModelBundle(
        model=booster,
        features=features,
        calibration=calibration,
        catalog=catalog_entries(),
        tiers=tier_policy(risk, float(scored["label"].mean()), config.tiers),
        metadata={
            "horizon_days": config.labels.horizon_days,
            "split": plan.describe(),
            "observed_until": str((plan.refit_until + horizon).date()),
            "shape": selection.shape.model_dump(),
            "trees": selection.trees,
            "tuned_on_folds": selection.tuned,
            "test_metrics": {k: float(v) for k, v in test.metrics["model"].items()},
            "fairness_flags": test.flags,
            # Training medians: serving gives a reason only on the risky side of them.
            "medians": {f: float(m) for f in features if np.isfinite(m := float(rows[f].median()))},
        },
        distribution=feature_distribution(
            reference := reference_rows(rows), features, raw_scores(booster, reference, features)
        ),
        evaluation=HeldOutModel(
            evaluation.booster, evaluation.calibration, str(plan.test_from.date())
        ),
    )


def baseline_bundle(
    kind: str,
    matrix: pd.DataFrame,
    plan: TemporalPlan,
    selection: Selection,
    *,
    logistic: Any,
    test: HeldOut,
    features: list[str],
    config: TrainConfig,
) -> ModelBundle:
    """What serving loads when a baseline ranked best: the logistic regression refit on
    every mature row (its evaluation version is the one fitted before the test period),
    or the ABC rule (which learns nothing, so it is its own evaluation version); each
    calibrated on every out-of-sample score like the LightGBM model."""
    scorer = SCORER_OF[kind]
    rows = matrix[plan.refit]
    model: LinearModel | ABCRule
    if kind == "logistic":
        model = LinearModel.from_pipeline(
            logistic_regression(config.model.seed).fit(rows[features], rows["label"]), features
        )
        held_out: LinearModel | ABCRule = LinearModel.from_pipeline(logistic, features)
        inputs, evaluated_from = features, str(plan.test_from.date())
    else:
        model = held_out = ABCRule()
        inputs, evaluated_from = list(RULE_INPUTS), "0001-01-01"
    scored = pd.concat(
        [
            selection.out_of_fold[[scorer, "label", "term"]],
            pd.DataFrame(
                {scorer: test.ranking[scorer], "label": test.labels, "term": test.rows["term"]}
            ),
        ],
        ignore_index=True,
    )
    calibration = _calibration(scored, scorer)
    risk = calibration.apply(scored[scorer].to_numpy(dtype=float), scored["term"].to_numpy())
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    reference = reference_rows(rows)
    return ModelBundle(
        model=model,
        features=inputs,
        calibration=calibration,
        catalog=catalog_entries(),
        tiers=tier_policy(risk, float(scored["label"].mean()), config.tiers),
        metadata={
            "kind": kind,
            "horizon_days": config.labels.horizon_days,
            "split": plan.describe(),
            "observed_until": str((plan.refit_until + horizon).date())
            if kind == "logistic"
            else "",
            "test_metrics": {k: float(v) for k, v in test.metrics[scorer].items()},
            "fairness_flags": test.flags,
            "medians": {f: float(m) for f in inputs if np.isfinite(m := float(rows[f].median()))},
        },
        distribution=feature_distribution(
            reference, inputs, raw_scores_of(model, reference[inputs].to_numpy(dtype=float))
        ),
        evaluation=HeldOutModel(
            held_out, _calibration(selection.out_of_fold, scorer), evaluated_from
        ),
    )


def explanation_cost(bundle: ModelBundle, rows: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Exact contributions of a sample of rows with the service's explainer, and the
    microseconds per student it took (logged beside quality)."""
    sample = rows.sample(min(SHAP_SAMPLE_ROWS, len(rows)), random_state=0)
    matrix = sample[bundle.features].to_numpy(dtype=float)
    if bundle.kind != "lightgbm":
        started = time.perf_counter()
        contributions = Explainer(bundle).explain(matrix).contributions
        return contributions, (time.perf_counter() - started) / max(len(sample), 1) * 1e6
    explainer = FastTreeShap(cast(lgb.Booster, bundle.model))
    explainer.shap_values(matrix[:2])  # compiled once per process; not part of the cost
    started = time.perf_counter()
    contributions = explainer.shap_values(matrix)
    return contributions, (time.perf_counter() - started) / len(sample) * 1e6


def track_and_register(settings: Settings, record: RunRecord) -> tuple[str, str]:
    """Log the run to MLflow, register the model and make it the challenger."""
    configure_tracking(settings)
    plan = record.plan
    with tempfile.TemporaryDirectory() as folder:
        with mlflow.start_run(run_name=f"train {plan.test_from.date()}") as run:
            run_id = run.info.run_id
            digest = _log_run(Path(folder), record, run_id)
            if record.bundle.kind == "lightgbm":
                info = mlflow.lightgbm.log_model(
                    record.bundle.model,
                    name="model",
                    registered_model_name=settings.model_name,
                    pip_requirements=[f"lightgbm=={lgb.__version__}"],
                )
                version = str(info.registered_model_version)
            else:
                # Its numbers are JSON in the bundle: the registered version is the bundle.
                version = _register_bundle(settings.model_name, run)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(settings.model_name, CHALLENGER, version)
    scorer = SCORER_OF[record.bundle.kind]
    precision = cast(float, record.test.metrics.at["precision_at_capacity_school", scorer])
    for key, value in {
        "test_from": str(plan.test_from.date()),
        "test_until": str(plan.test_until.date()),
        "precision_at_capacity_school": f"{precision:.6f}",
        "fairness_flags": json.dumps(record.test.flags, ensure_ascii=False),
        "guard_problems": json.dumps(record.problems, ensure_ascii=False),
        "kind": record.bundle.kind,
        DIGEST_TAG: digest,
    }.items():
        client.set_model_version_tag(settings.model_name, version, key, value)
    return run_id, version


def _register_bundle(model_name: str, run: Any) -> str:
    """Register a run's serving bundle as a version of the model (no MLflow model
    flavour: a logistic regression's or the rule's numbers are JSON side files)."""
    client = mlflow.MlflowClient()
    try:
        client.get_registered_model(model_name)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(model_name)
    version = client.create_model_version(
        model_name,
        source=f"{run.info.artifact_uri}/{BUNDLE_ARTIFACT_PATH}",
        run_id=run.info.run_id,
    )
    return str(version.version)


def _flat(summary: pd.DataFrame) -> pd.DataFrame:
    flat = summary.copy()
    flat.columns = [" ".join(map(str, column)) for column in summary.columns.to_flat_index()]
    return flat


def _log_run(work: Path, record: RunRecord, run_id: str) -> str:
    """Parameters, metrics, tables, plots, the model card and the serving bundle; returns
    the bundle's digest, for the registry."""
    config, plan, test, selection = record.config, record.plan, record.test, record.selection
    params: dict[str, Any] = {
        f"{section}.{k}": v
        for section, values in config.model_dump().items()
        for k, v in values.items()
        if k != "shapes"
    }
    params |= {f"split.{k}": v for k, v in plan.describe().items()}
    params |= {f"rows.{k}": v for k, v in record.rows.items()}
    params |= {
        "features.count": len(record.features),
        "model.shape": selection.shape.name,
        "model.shapes": ", ".join(s.name for s in config.model.shapes),
        "model.chosen_trees": selection.trees,
        "model.tuned_on_folds": selection.tuned,
        "model.chosen_by": selection.reason,
        "model.trainer": record.trainer,
        "validation.folds": len(plan.folds),
    }
    mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})
    flat = {
        f"{scorer}.{metric}": float(value)
        for scorer, column in test.metrics.items()
        for metric, value in column.items()
        if np.isfinite(value)
    }
    for name, interval in test.intervals.items():
        flat |= {f"{name}.low": interval.low, f"{name}.high": interval.high}
    for scorer, scores in selection.fold_scores.groupby("scorer"):
        for metric in ("pr_auc", "roc_auc", "precision_at_capacity", "found_8w"):
            flat[f"folds.{scorer}.{metric}.mean"] = float(scores[metric].mean())
            flat[f"folds.{scorer}.{metric}.std"] = float(scores[metric].std())
    flat |= {f"search.{shape}.found_8w": share for shape, share in selection.found_by_shape.items()}
    flat |= {
        "fairness.flags": float(len(test.flags)),
        **{
            f"found_in_time.{row['attribute']}.{row['group']}.{share}": float(row[share])
            for _, row in test.audit.found_in_time.iterrows()
            for share in ("share_found_4w", "share_found_8w", "median_lead_weeks")
        },
        "guards.problems": float(len(record.problems)),
        "explain.us_per_student": record.explain_us,
    }
    mlflow.log_metrics({k: v for k, v in flat.items() if np.isfinite(v)})
    mlflow.set_tags(
        {
            "fairness_flags": json.dumps(test.flags, ensure_ascii=False),
            "guard_problems": json.dumps(record.problems, ensure_ascii=False),
            "notes": json.dumps(plan.notes, ensure_ascii=False),
            "model_name": "dropout-risk",
        }
    )

    (work / "features.json").write_text(json.dumps(record.features, indent=1), encoding="utf-8")
    test.metrics.to_csv(work / "metrics.csv")
    selection.fold_scores.to_csv(work / "folds.csv", index=False)
    test.calibration.to_csv(work / "calibration.csv", index=False)
    test.audit.groups.to_csv(work / "fairness.csv", index=False)
    test.audit.levels.to_csv(work / "fairness_levels.csv", index=False)
    test.audit.found_in_time.to_csv(work / "found_in_time.csv", index=False)
    (work / "fairness.md").write_text(model_card.fairness_markdown(test.audit), encoding="utf-8")
    plots = work / "plots"
    plots.mkdir()
    plot = model_card.in_languages
    plot(
        model_card.plot_precision_recall,
        test.labels,
        test.ranking,
        path=plots / "precision_recall.png",
    )
    plot(
        model_card.plot_calibration, test.labels, test.probabilities, path=plots / "calibration.png"
    )
    plot(
        model_card.plot_precision_at_k,
        test.labels,
        test.ranking,
        test.meta,
        path=plots / "precision_at_k.png",
    )
    plot(
        model_card.plot_shap_summary,
        record.contributions,
        record.features,
        path=plots / "shap_summary.png",
    )
    model_card.plot_search(selection.curves, selection.trees, plots / "search.png")
    card = model_card.model_card(
        {
            "run_id": run_id,
            "horizon_days": config.labels.horizon_days,
            "split": plan.describe(),
            "notes": plan.notes,
            "rows": record.rows,
            "features": record.features,
            "use_sensitive": config.features.use_sensitive,
            "shape": selection.shape.name,
            "trees": selection.trees,
            "chosen_by": selection.reason,
            "folds": _flat(selection.summary),
            "metrics": test.metrics,
            "intervals": test.intervals,
            "calibration": test.calibration,
            "problems": record.problems,
            "fairness": test.audit,
            "fairness_flags": test.flags,
            "explain_us_per_student": record.explain_us,
        }
    )
    (work / "model_card.md").write_text(card, encoding="utf-8")
    for name in (
        "features.json",
        "metrics.csv",
        "folds.csv",
        "calibration.csv",
        "fairness.csv",
        "fairness_levels.csv",
        "found_in_time.csv",
        "fairness.md",
        "model_card.md",
    ):
        mlflow.log_artifact(str(work / name))
    mlflow.log_artifacts(str(plots), artifact_path="plots")
    bundle_dir = record.bundle.save(work / BUNDLE_ARTIFACT_PATH)
    mlflow.log_artifacts(str(bundle_dir), artifact_path=BUNDLE_ARTIFACT_PATH)
    return bundle_digest(bundle_dir)
