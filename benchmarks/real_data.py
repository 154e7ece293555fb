"""Benchmark: the model on real student records nobody here wrote (``make bench-real``).

Two public data sets, each converted into a data directory of the contract, ingested
into a scratch database and trained on exactly as ``ews train`` does:

- **OULAD** (``../shared/datasets/oulad``, ``benchmarks/oulad.py``): modules are
  schools; judged at weeks 2 to 12 of the test presentation;
- **UCI dropout** (``../shared/datasets/uci_dropout``, ``benchmarks/uci_dropout.py``):
  courses are schools and the rows four entry cohorts; trained on the first three and
  judged on the fourth, the new intake, in its first term before any grade (weeks 2, 4,
  6) and in its second term after the first grades (weeks 2, 4).

At each checkpoint it compares the ranking within each school of the project's
registered scorer (its evaluation model: it learned only from outcomes known before the
test period), a plain gradient-boosting model trained in the same run on the same rows
and inputs (scikit-learn's ``HistGradientBoostingClassifier`` with its defaults), the
logistic regression and the ABC rule; the project minus the plain model with a 95%
interval over students. Then **found in time**: the weekly home-visit plans of the whole
test period replayed, each school visiting its capacity a week (the high tier's share
where unknown) and leaving out whom it visited in the last 30 days, and of the students
who left, the share visited 4 and 8 weeks ahead and the median lead, for every model.
It also stores weekly lists with the served model and prints their spread.

Then **day one** (``benchmarks/student_performance.py``): the UCI student performance
tables (``../shared/datasets/student_performance``), one school year of two secondary
schools, where no model can learn (``ews train`` refuses) and the ABC rule ranks; the
rule's stored list judged against who failed the year.

The last line is ``worst_gap_vs_plain=<the lowest project-minus-plain AUC of any
checkpoint of either set> found_8w=<share of both sets' leavers found 8+ weeks ahead,
project> found_8w_plain=<the same, plain GBM>`` (``--data`` chooses what runs: ``all``
by default). Nothing here is used by the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from benchmarks import oulad, student_performance, uci_dropout
from benchmarks.common import scratch_settings
from core.settings import Settings
from features.sources import Sources
from riskmodel.bundle import ModelBundle
from riskmodel.registry import CHALLENGER, fetch_bundle
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from schooldata.tables import student_scores
from serving.scoring import Scorer, weekly_run
from training.baselines import ABCRule, logistic_regression
from training.config import Shape, TrainConfig
from training.evaluate import (
    FoundInTime,
    Interval,
    StudentResamples,
    capacity_places,
    flag_places,
    found_difference,
    found_in_time,
    leads,
)
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.model import CURVE_STEP, fit_booster, lightgbm_params, raw_scores
from training.search import Selection, fewest_near_best
from training.split import TemporalPlan, plan_from_config
from training.train import model_inputs, train

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PROJECT = "project's registered scorer"
PLAIN = "plain GBM, same information"


@dataclass(frozen=True)
class RealData:
    """A public data set as the benchmark runs it."""

    name: str
    source: Path
    needs: str  # a file of the set, to tell whether it is here
    convert: Callable[[Path, Path], dict[str, int]]
    checkpoints: tuple[tuple[int | None, int], ...]  # (term or None: any, week of it)
    test_from: date | None = None  # None: the test period ``ews train`` chooses
    new_intake: date | None = None  # judge only students whose first term starts here
    horizon_days: int | None = None  # None: ``ews train``'s default


DATA = {
    "oulad": RealData(
        "OULAD",
        SHARED / "oulad",
        "studentInfo.csv",
        oulad.convert,
        tuple((None, week) for week in (2, 4, 6, 8, 10, 12)),
    ),
    "uci": RealData(
        "UCI dropout",
        SHARED / "uci_dropout",
        "data.csv",
        uci_dropout.convert,
        ((1, 2), (1, 4), (1, 6), (2, 2), (2, 4)),
        test_from=uci_dropout.term_dates(uci_dropout.LAST_YEAR - 2, 1)[0].date(),
        new_intake=uci_dropout.term_dates(uci_dropout.LAST_YEAR - 2, 1)[0].date(),
        horizon_days=uci_dropout.HORIZON_DAYS,
    ),
}


def split_rows(
    matrix: pd.DataFrame, plan: TemporalPlan, data: RealData
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows observed before the test period, and the test period's judged rows (only
    the new intake's where the set is judged on it)."""
    train_rows, test_rows = matrix[plan.train], matrix[plan.test].reset_index(drop=True)
    if data.new_intake is not None:
        first_term = matrix.groupby("person_id", observed=True)["term_start"].min()
        entered = test_rows["person_id"].map(first_term)
        test_rows = test_rows[(entered >= pd.Timestamp(data.new_intake)).to_numpy()]
        test_rows = test_rows.reset_index(drop=True)
        print(f"judged: the new intake, {test_rows['person_id'].nunique():,} students")
    return train_rows, test_rows


def checkpoints(test_rows: pd.DataFrame, data: RealData) -> list[tuple[str, np.ndarray]]:
    """Each checkpoint of the set that has rows: its name and which rows are at it."""
    week = ((test_rows["as_of"] - test_rows["term_start"]).dt.days // 7).to_numpy()
    term = test_rows["term"].to_numpy()
    found = []
    for which, checkpoint in data.checkpoints:
        at = (week == checkpoint) & ((term == which) if which is not None else True)
        if at.any():
            name = f"week {checkpoint}" if which is None else f"term {which} week {checkpoint}"
            found.append((name, at))
    return found


def plain_scores(
    train_rows: pd.DataFrame, test_rows: pd.DataFrame, features: list[str]
) -> np.ndarray:
    """The plain GBM's test scores: scikit-learn's ``HistGradientBoostingClassifier`` with
    its defaults, on every column that holds a value in training (a column empty in every
    training row carries nothing, and scikit-learn's binning refuses one)."""
    present = [f for f in features if train_rows[f].notna().any()]
    plain = HistGradientBoostingClassifier(random_state=0).fit(
        train_rows[present], train_rows["label"]
    )
    scores: np.ndarray = plain.predict_proba(test_rows[present])[:, 1]
    return scores


def within_school_auc(rows: pd.DataFrame, score: np.ndarray) -> float:
    """ROC-AUC within each school, averaged with each school's leavers as weights."""
    return within_school(rows, score, roc_auc_score)


def within_school(
    rows: pd.DataFrame, score: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float]
) -> float:
    """``metric`` of the labels and scores within each school, averaged with each school's
    leavers as weights (a school where nobody or everybody left has none)."""
    total, weight = 0.0, 0.0
    for _, index in rows.groupby("school_id").groups.items():
        labels = rows.loc[index, "label"].to_numpy()
        if 0 < labels.sum() < len(labels):
            positions = rows.index.get_indexer(index)
            total += metric(labels, score[positions]) * labels.sum()
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


@dataclass(frozen=True)
class Outcome:
    """What one data set gave: the worst checkpoint and found in time by model."""

    worst_gap: float
    found: dict[str, FoundInTime]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data",
        choices=[*DATA, "both", "day-one", "all"],
        default="all",
        help="both: OULAD and UCI; day-one: the student performance tables' rule list; all",
    )
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench-real"))
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also fit what was tried (variant_scores) beside the project",
    )
    args = parser.parse_args()
    chosen = {"both": list(DATA), "all": list(DATA), "day-one": []}.get(args.data, [args.data])
    day_one = args.data in ("day-one", "all")
    missing = [
        (data.name, data.source)
        for data in [DATA[key] for key in chosen]
        if not (data.source / data.needs).exists()
    ]
    if day_one and not (student_performance.SOURCE / "student-mat.csv").exists():
        missing.append(("student performance tables", student_performance.SOURCE))
    if missing:
        for name, source in missing:
            print(f"No {name} in {source} (see ../shared/datasets/README.md).")
        sys.exit(2)
    outcomes = {key: run(DATA[key], args.work_dir / key, args.variants) for key in chosen}
    if day_one:
        print(f"\n===== Student performance ({student_performance.SOURCE}): day one =====")
        student_performance.day_one(student_performance.SOURCE, args.work_dir / "day-one")
    if not outcomes:
        return
    worst = min(outcome.worst_gap for outcome in outcomes.values())
    shares = {}
    for model in (PROJECT, PLAIN):
        left = sum(o.found[model].left for o in outcomes.values())
        found = sum(
            o.found[model].found_8w.estimate * o.found[model].left for o in outcomes.values()
        )
        shares[model] = found / left if left else float("nan")
    print(
        f"worst_gap_vs_plain={worst:+.4f} found_8w={shares[PROJECT]:.4f} "
        f"found_8w_plain={shares[PLAIN]:.4f}"
    )


def load(data: RealData, work: Path) -> sa.Engine:
    """Convert a data set into ``work`` and ingest it into a new database there."""
    work.mkdir(parents=True, exist_ok=True)
    counts = data.convert(data.source, work / "data")
    print("converted:", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    db = work / "ews.db"
    db.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    ingest_directory(work / "data", engine, "bench-real-key", work / "rejects")
    return engine


def config_of(data: RealData) -> TrainConfig:
    """``ews train``'s configuration with the data set's test period and horizon."""
    config = TrainConfig.load()
    if data.test_from is not None:
        config = config.model_copy(
            update={"split": config.split.model_copy(update={"test_from": data.test_from})}
        )
    if data.horizon_days is not None:
        labels = config.labels.model_copy(update={"horizon_days": data.horizon_days})
        config = config.model_copy(update={"labels": labels})
    return config


def run(data: RealData, work: Path, variants: bool = False) -> Outcome:
    """Convert, ingest and train on one data set, then compare."""
    print(f"\n===== {data.name} ({data.source}) =====")
    started = time.perf_counter()
    engine = load(data, work)
    settings = scratch_settings(engine, work / "mlflow")
    config = config_of(data)
    result = train(settings, config, engine)
    print(f"trained in {time.perf_counter() - started:.0f} s: {result.plan.describe()}")
    selection = result.selection
    print(f"chosen: {selection.shape.name} shape, {selection.trees} trees ({selection.reason})")
    for note in result.notes:
        print(f"NOTE: {note}")
    for problem in result.problems:
        print(f"GUARD: {problem}")
    return compare(engine, settings, config, data, variants=selection if variants else None)


def compare(
    engine: sa.Engine,
    settings: Settings,
    config: TrainConfig,
    data: RealData,
    *,
    variants: Selection | None = None,
) -> Outcome:
    """The four rankings at each checkpoint, found in time, and the stored lists; given
    the training run's selection as ``variants``, what was tried (``variant_scores``)
    beside them."""
    with tempfile.TemporaryDirectory() as folder:  # the bundle is read into memory
        bundle, version = fetch_bundle(settings.model_name, CHALLENGER, Path(folder))
    sources = Sources.from_database(engine)
    matrix = build_training_matrix(sources, LabelRules(config.labels.horizon_days))
    plan = plan_from_config(matrix, config)
    features = model_inputs(config)
    train_rows, test_rows = split_rows(matrix, plan, data)
    logistic = logistic_regression(config.model.seed).fit(train_rows[features], train_rows["label"])
    assert bundle.evaluation is not None
    print(f"registered: {bundle.kind} (the project's scorer below)")
    scores = {
        PROJECT: bundle.raw_score(test_rows, bundle.evaluation.model),
        PLAIN: plain_scores(train_rows, test_rows, features),
        "logistic regression": logistic.decision_function(test_rows[features]),
        "ABC rule": ABCRule().score(test_rows),
    }
    if variants is not None:
        scores |= variant_scores(train_rows, test_rows, features, config, variants)
    records = []
    for label, at in checkpoints(test_rows, data):
        rows = test_rows[at].reset_index(drop=True)
        places = capacity_places(rows, config.tiers.high_share)
        record: dict[str, object] = {
            "checkpoint": label,
            "students": len(rows),
            "left": int(rows["label"].sum()),
        }
        draws = StudentResamples.draw(rows["person_id"].to_numpy(), 100)
        project, plain_score = scores[PROJECT][at], scores[PLAIN][at]
        record["lead"] = Interval.of(
            within_school_auc(rows, project) - within_school_auc(rows, plain_score),
            draws.statistic(_lead(rows, project, plain_score)),
        )
        for name, score in scores.items():
            flagged = flag_places(score[at], rows[["as_of", "school_id"]], places, rows=rows)
            record[f"{name}: AUC"] = within_school_auc(rows, score[at])
            record[f"{name}: precision"] = float(rows["label"][flagged].mean())
        records.append(record)
    table = pd.DataFrame(records).set_index("checkpoint")
    auc = table[[c for c in table.columns if c.endswith("AUC")]].astype(float)
    precision = table[[c for c in table.columns if c.endswith("precision")]].astype(float)
    pd.set_option("display.width", 200)
    print("\nWithin-school ROC-AUC at each checkpoint of the test period (out of sample)")
    print(auc.rename(columns=lambda c: c.removesuffix(": AUC")).round(4).to_string())
    print(
        "\nWithin-school precision at each school's capacity (else the top "
        f"{config.tiers.high_share:.0%})"
    )
    print(precision.rename(columns=lambda c: c.removesuffix(": precision")).round(4).to_string())
    print("\nProject minus plain GBM, within-school AUC (95% interval over students):")
    for checkpoint, interval in table["lead"].items():
        print(f"  {checkpoint}: {interval}")
    places = capacity_places(test_rows, config.tiers.high_share)
    found = {name: found_in_time(test_rows, score, places) for name, score in scores.items()}
    print(
        "\nFound in time: weekly home-visit plans of the whole test period, each school at "
        "its capacity, leaving out whom it visited in the last 30 days"
    )
    for name, figures in found.items():
        print(f"  {name}: {figures}")
    by = {name: leads(test_rows, scores[name], places) for name in (PROJECT, PLAIN)}
    difference = found_difference(by[PROJECT], by[PLAIN], resamples=200)[2]
    print(
        f"Project minus plain GBM, found 8+ weeks ahead (95% interval over students): {difference}"
    )
    lists(engine, bundle, str(version.version), test_rows, config, data)
    worst = float(min(interval.estimate for interval in table["lead"]))
    print(f"{data.name}: checkpoints={len(table)} worst_gap_vs_plain={worst:+.4f}")
    return Outcome(worst, found)


# What was tried (docs/model.md, "What was tried against the plain GBM" and "Earlier
# warnings"): the project's LightGBM fitted on the same rows, changed one way at a time.
# Each is kept in the product only where both real sets support it.
TRENDS = ("coursework_trend_28d", "absence_trend_20d", "gpa_change_last_term", "sdq_total_change")
SOON_WEEKS = 8
SEEDS = (7, 11, 13, 17, 19)  # the averaged fits: the configured seed first


def variant_scores(
    train_rows: pd.DataFrame,
    test_rows: pd.DataFrame,
    features: list[str],
    config: TrainConfig,
    selection: Selection,
) -> dict[str, np.ndarray]:
    """Test scores of the project's LightGBM changed one way at a time.

    For earlier warnings, its default shape and trees: as fitted, without its directions,
    without its trend features, and ranking whoever leaves soonest first (labelled by
    leaving within ``SOON_WEEKS`` weeks, a short-horizon stand-in for a model of when).
    Against the plain GBM: each shape alone at the trees its folds gave it (the search
    keeps one), and at its folds' best number of trees where that is more (the search
    keeps the fewest near the best), the three shapes at their own trees averaged (the
    choice of shape left to no one fold), and the chosen shape and trees averaged over
    ``SEEDS`` (log-odds, so an explanation would stay exact).
    """
    rows = train_rows.assign(label=train_rows["label"].astype(int))

    def fitted(
        shape: Shape,
        trees: int,
        *,
        fit_rows: pd.DataFrame = rows,
        inputs: list[str] = features,
        seed: int = config.model.seed,
        **change: Any,
    ) -> np.ndarray:
        model = config.model.model_copy(update={"seed": seed})
        params = lightgbm_params(inputs, model, shape, len(fit_rows)) | change
        return raw_scores(fit_booster(fit_rows, inputs, params, trees), test_rows, inputs)

    medium = next(s for s in config.model.shapes if s.name == "medium")
    trees = config.model.default_trees
    soon = (pd.to_datetime(rows["event_date"]) - rows["as_of"]).dt.days
    scores = {
        "LightGBM as the project fits it": fitted(medium, trees),
        "LightGBM without directions": fitted(
            medium, trees, monotone_constraints=[0] * len(features)
        ),
        "LightGBM without trend features": fitted(
            medium, trees, inputs=[f for f in features if f not in TRENDS]
        ),
        f"LightGBM, leaving within {SOON_WEEKS} weeks": fitted(
            medium,
            trees,
            fit_rows=rows.assign(label=(rows["label"].eq(1) & soon.le(7 * SOON_WEEKS)).astype(int)),
        ),
    }
    if selection.tuned:
        shapes_averaged = []  # log-odds of each shape at its own fewest trees
        for shape in config.model.shapes:
            curve = selection.curves[shape.name]
            own = fewest_near_best(curve)
            scores[f"LightGBM, {shape.name} shape, {own} trees"] = fitted(shape, own)
            shapes_averaged.append(scores[f"LightGBM, {shape.name} shape, {own} trees"])
            best = (int(np.argmax(curve)) + 1) * CURVE_STEP
            if best != own:
                scores[f"LightGBM, {shape.name} shape, {best} trees (its curve's best)"] = fitted(
                    shape, best
                )
        scores["LightGBM, the shapes averaged"] = np.mean(shapes_averaged, axis=0)
    averaged = [fitted(selection.shape, selection.trees, seed=seed) for seed in SEEDS]
    scores[f"LightGBM as chosen, {len(SEEDS)} seeds averaged"] = np.mean(averaged, axis=0)
    return scores


def lists(
    engine: sa.Engine,
    bundle: ModelBundle,
    version: str,
    test_rows: pd.DataFrame,
    config: TrainConfig,
    data: RealData,
) -> None:
    """Weekly lists as ``ews score`` stores them, with the served model."""
    scorer = Scorer(bundle, version)
    starts = test_rows.groupby("as_of")["term_start"].min()
    print("\nStored weekly lists (served model)")
    for day in sorted(test_rows["as_of"].unique()):
        weeks_in = (pd.Timestamp(day) - starts[day]).days // 7
        if weeks_in not in {week for _, week in data.checkpoints}:
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
