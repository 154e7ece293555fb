"""Benchmark: the model on real student records nobody here wrote (``make bench-real``).

Converts the public OULAD tables (``../shared/datasets/oulad``; see
``benchmarks/oulad.py`` for how each table becomes the data contract) into a data
directory, ingests it into a scratch database, and trains exactly as ``ews train``
does. Then, at several weeks of the test presentation, it compares the ranking within
each school (module) of:

- the project's evaluation model (it learned only from outcomes known before the test
  period, as its reported metrics do);
- a plain gradient-boosting model trained in the same run on the same rows and the same
  inputs (scikit-learn's ``HistGradientBoostingClassifier`` with its defaults);
- both baselines (the ABC rule and logistic regression).

It also stores weekly lists with the served model at those weeks, as ``ews score``
would, and checks that their risks are spread out and the high tier stays within its
share. Nothing here is used by the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from benchmarks.common import scratch_settings
from benchmarks.oulad import convert
from core.settings import Settings
from features.sources import Sources
from riskmodel.bundle import ModelBundle
from riskmodel.registry import CHALLENGER, fetch_bundle
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from schooldata.tables import student_scores
from serving.scoring import Scorer, weekly_run
from training.baselines import ABCRule, logistic_regression
from training.config import TrainConfig
from training.evaluate import Interval, StudentResamples, capacity_places, flag_places
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.split import plan_from_config
from training.train import model_inputs, train

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "oulad"
CHECKPOINTS = (2, 4, 6, 8, 10, 12)  # weeks into the test presentation


def within_school_auc(rows: pd.DataFrame, score: np.ndarray) -> float:
    """ROC-AUC within each school, averaged with each school's leavers as weights."""
    total, weight = 0.0, 0.0
    for _, index in rows.groupby("school_id").groups.items():
        labels = rows.loc[index, "label"].to_numpy()
        if 0 < labels.sum() < len(labels):
            positions = rows.index.get_indexer(index)
            total += roc_auc_score(labels, score[positions]) * labels.sum()
            weight += labels.sum()
    return total / weight if weight else float("nan")


def _lead(
    rows: pd.DataFrame, project: np.ndarray, plain: np.ndarray
) -> Callable[[np.ndarray], float]:
    """The project's within-school AUC minus the plain model's, on resampled rows."""

    def statistic(index: np.ndarray) -> float:
        drawn = rows.iloc[index].reset_index(drop=True)
        return within_school_auc(drawn, project[index]) - within_school_auc(drawn, plain[index])

    return statistic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench-real"))
    args = parser.parse_args()
    if not (args.source / "studentInfo.csv").exists():
        print(
            f"No OULAD tables in {args.source}. Download the Open University Learning "
            "Analytics dataset (https://analyse.kmi.open.ac.uk/open_dataset, CC BY 4.0) "
            "and unpack courses.csv, assessments.csv, studentInfo.csv, "
            "studentRegistration.csv and studentAssessment.csv there, or pass --source."
        )
        sys.exit(2)

    started = time.perf_counter()
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    counts = convert(args.source, work / "data")
    print("converted:", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    db = work / "ews.db"
    db.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    ingest_directory(work / "data", engine, "bench-real-key", work / "rejects")
    store = Path(tempfile.mkdtemp(prefix="bench-real-mlflow-"))
    settings = scratch_settings(engine, store)
    config = TrainConfig.load()
    result = train(settings, config, engine)
    print(f"trained in {time.perf_counter() - started:.0f} s: {result.plan.describe()}")
    print(f"chosen: {result.selection.shape.name} shape, {result.selection.trees} trees")
    for note in result.notes:
        print(f"NOTE: {note}")
    for problem in result.problems:
        print(f"GUARD: {problem}")
    compare(engine, settings, config)


PROJECT = "project's registered scorer"


def compare(engine: sa.Engine, settings: Settings, config: TrainConfig) -> None:
    """The four rankings at each checkpoint, and the stored lists' spread and tiers."""
    bundle, version = fetch_bundle(
        settings.model_name, CHALLENGER, Path(tempfile.mkdtemp()) / "bundle"
    )
    sources = Sources.from_database(engine)
    matrix = build_training_matrix(sources, LabelRules(config.labels.horizon_days))
    plan = plan_from_config(matrix, config)
    features = model_inputs(config)
    train_rows, test_rows = matrix[plan.train], matrix[plan.test].reset_index(drop=True)
    # A column that is empty in every training row carries nothing (and scikit-learn's
    # binning refuses one): the plain model gets every column that holds a value.
    present = [f for f in features if train_rows[f].notna().any()]
    plain = HistGradientBoostingClassifier(random_state=0).fit(
        train_rows[present], train_rows["label"]
    )
    logistic = logistic_regression(config.model.seed).fit(train_rows[features], train_rows["label"])
    assert bundle.evaluation is not None
    print(f"registered: {bundle.kind} (the project's scorer below)")
    scores = {
        PROJECT: bundle.raw_score(test_rows, bundle.evaluation.model),
        "plain GBM, same information": plain.predict_proba(test_rows[present])[:, 1],
        "logistic regression": logistic.decision_function(test_rows[features]),
        "ABC rule": ABCRule().score(test_rows),
    }
    week = (test_rows["as_of"] - test_rows["term_start"]).dt.days // 7
    records = []
    for checkpoint in CHECKPOINTS:
        at = (week == checkpoint).to_numpy()
        if not at.any():
            continue
        rows = test_rows[at].reset_index(drop=True)
        places = capacity_places(rows, config.tiers.high_share)
        record: dict[str, object] = {
            "week": checkpoint,
            "students": len(rows),
            "left": int(rows["label"].sum()),
        }
        project, plain_score = (
            scores[PROJECT][at],
            scores["plain GBM, same information"][at],
        )
        draws = StudentResamples.draw(rows["person_id"].to_numpy(), 100)
        lead = draws.statistic(_lead(rows, project, plain_score))
        record["lead"] = Interval.of(
            within_school_auc(rows, project) - within_school_auc(rows, plain_score), lead
        )
        for name, score in scores.items():
            flagged = flag_places(score[at], rows[["as_of", "school_id"]], places)
            record[f"{name}: AUC"] = within_school_auc(rows, score[at])
            record[f"{name}: precision"] = float(rows["label"][flagged].mean())
        records.append(record)
    table = pd.DataFrame(records).set_index("week")
    auc = table[[c for c in table.columns if c.endswith("AUC")]].astype(float)
    precision = table[[c for c in table.columns if c.endswith("precision")]].astype(float)
    pd.set_option("display.width", 200)
    print("\nWithin-school ROC-AUC at each week of the test presentation (out of sample)")
    print(auc.rename(columns=lambda c: c.removesuffix(": AUC")).round(4).to_string())
    print(f"\nWithin-school precision at the top {config.tiers.high_share:.0%} of each module")
    print(precision.rename(columns=lambda c: c.removesuffix(": precision")).round(4).to_string())
    leads = table["lead"]
    from_week_four = leads[leads.index >= 4]
    print("\nProject minus plain GBM, within-school AUC (95% interval over students):")
    for week_number, interval in from_week_four.items():
        print(f"  week {week_number}: {interval}")
    not_worse = all(interval.high >= 0 for interval in from_week_four)
    lists(engine, bundle, str(version.version), test_rows, config)
    mean_lead = float(np.mean([interval.estimate for interval in from_week_four]))
    print(
        f"weeks_compared={len(table)} not_worse_than_plain_from_week_4={not_worse} "
        f"mean_lead_from_week_4={mean_lead:+.4f}"
    )


def lists(
    engine: sa.Engine,
    bundle: ModelBundle,
    version: str,
    test_rows: pd.DataFrame,
    config: TrainConfig,
) -> None:
    """Weekly lists as ``ews score`` stores them, with the served model."""
    scorer = Scorer(bundle, version)
    starts = test_rows.groupby("as_of")["term_start"].min()
    print("\nStored weekly lists (served model)")
    for day in sorted(test_rows["as_of"].unique()):
        weeks_in = (pd.Timestamp(day) - starts[day]).days // 7
        if weeks_in not in CHECKPOINTS:
            continue
        report = weekly_run(engine, scorer, pd.Timestamp(day))
        with engine.connect() as connection:
            stored = pd.DataFrame(
                connection.execute(
                    sa.select(student_scores.c.risk, student_scores.c.tier).where(
                        student_scores.c.run_id == report.run_id
                    )
                ).all()
            )
        print(
            f"  {pd.Timestamp(day).date()} (week {weeks_in}): {report.students:,} students, "
            f"{stored['risk'].round(6).nunique():,} distinct risks "
            f"(from {stored['risk'].min():.3f} to {stored['risk'].max():.3f}), "
            f"high tier {(stored['tier'] == 'high').mean():.1%} "
            f"(at most {config.tiers.high_share:.0%} of each school)"
        )


if __name__ == "__main__":
    main()
