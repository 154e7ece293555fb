"""Benchmark: exact explanations, ours against shap.TreeExplainer and LightGBM's pred_contrib,
then the weekly run end to end (features, score, explain, store).

Run with ``make bench-explain``. The model is trained on the synthetic data with the
default configuration (the champion's shape). The weekly run scores every student
enrolled on the date in a population streamed into a Parquet dataset (the input at
scale, see ``benchmarks.dask_run``), as ``ews score`` runs it on a dataset: on one
process per core; 160,000 generated students give just over 100,000 enrolled ones. The last line is
``explain_speedup_vs_shap=<x> max_abs_diff=<x> weekly_run_100k_s=<n> weekly_vs_shap=<x>``,
the last the whole weekly run's time over what ``shap.TreeExplainer`` alone takes to
explain the same students in the same run.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import timedelta
from pathlib import Path

import lightgbm as lgb
import numba
import numpy as np
import pandas as pd
import shap
import sqlalchemy as sa

from benchmarks.common import single_row_rates, synthetic_database, trained_champion
from benchmarks.dask_run import run_in_fresh_process, stream_dataset
from features.sources import Sources
from riskmodel.treeshap import FastTreeShap
from schooldata.calendar import thai_default_term
from schooldata.db import make_engine
from schooldata.tables import student_scores
from serving.store import read_contributions, run_features
from synth import SynthConfig
from training.promote import held_out_rows

BATCH = 10_000


def rows_per_second(function, rows: np.ndarray, repeats: int = 1) -> float:  # type: ignore[no-untyped-def]
    function(rows[:10])  # warm up (compilation, threads)
    started = time.perf_counter()
    for _ in range(repeats):
        function(rows)
    return repeats * len(rows) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--train-students", type=int, default=12_000, help="students the model is trained on"
    )
    parser.add_argument(
        "--students",
        type=int,
        default=160_000,
        help="students generated for the weekly run (about 64%% are enrolled on the date)",
    )
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench"))
    args = parser.parse_args()

    engine = synthetic_database(args.work_dir, args.train_students)
    settings, bundle, version = trained_champion(engine, args.work_dir / "mlflow-explain")
    booster: lgb.Booster = bundle.model
    rows = bundle.matrix(
        held_out_rows(Sources.from_database(engine), bundle).sample(BATCH, random_state=0)
    )
    print(
        f"model v{version}: {booster.num_trees()} trees, {len(bundle.features)} inputs; "
        f"batch of {len(rows):,} test-period students"
    )

    fast = FastTreeShap(booster)
    explainer = shap.TreeExplainer(booster)
    ours = fast.shap_values(rows)
    reference = np.asarray(explainer.shap_values(rows))
    difference = float(
        max(
            np.abs(ours - reference).max(),
            abs(fast.expected_value - float(np.ravel(explainer.expected_value)[0])),
        )
    )

    results = {}
    for threads in (1, 2):
        numba.set_num_threads(threads)

        # Per call: LightGBM's reset_parameter crashes on a booster loaded from text.
        def contrib(x: np.ndarray, threads: int = threads) -> np.ndarray:
            return np.asarray(booster.predict(x, pred_contrib=True, num_threads=threads))

        # shap.TreeExplainer runs its own TreeSHAP with its own threading.
        scorers = {
            "shap.TreeExplainer": explainer.shap_values,
            "lightgbm pred_contrib": contrib,
            "ours": fast.shap_values,
        }
        results[threads] = {
            name: rows_per_second(function, rows) for name, function in scorers.items()
        }
        singles = single_row_rates(scorers, rows)
        for name in scorers:
            print(
                f"{threads} thread{'s' if threads > 1 else ''}  {name:>22}: "
                f"batch {results[threads][name]:>10,.0f} rows/s   "
                f"single rows {singles[name]:>8,.0f} rows/s"
            )
    speedup = results[2]["ours"] / results[2]["shap.TreeExplainer"]
    print(
        f"max |ours - shap| = {difference:.2e}; "
        f"batch speed-up against shap.TreeExplainer, 2 threads: {speedup:.2f}x"
    )

    dataset = args.work_dir / f"dataset-{args.students}"
    stream_dataset(dataset, args.students, processes=2)
    weekly_db = args.work_dir / "weekly.db"
    config = SynthConfig()
    _, term_end = thai_default_term(config.first_year + config.years - 1, 2)
    as_of = pd.Timestamp(term_end - timedelta(days=term_end.weekday() + 7))
    # As ``ews score`` runs on a dataset, in a process of its own whose workers import
    # what ``ews score``'s do (not this benchmark's shap and MLflow): one per core.
    run = run_in_fresh_process(
        "pool",
        dataset,
        str(as_of.date()),
        os.cpu_count() or 1,
        weekly_db,
        bundle.save(args.work_dir / "mlflow-explain" / "weekly-run-bundle"),
    )
    total = run["seconds"]
    stages = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in run["stages"].items())
    print(
        f"weekly run as of {as_of.date()} for {run['students']:,} enrolled "
        f"of {args.students:,} students, {os.cpu_count() or 1} processes: {total:.1f} s "
        f"({stages})"
    )
    # The same students' inputs, as the run stored them with their contributions, then
    # stock SHAP alone on them: what the whole run (features, scores, explanations,
    # reasons and the store) is measured against.
    inputs = _stored_inputs(weekly_db, run["run_id"], bundle.features)
    started = time.perf_counter()
    explainer.shap_values(inputs)
    shap_alone = time.perf_counter() - started
    print(
        f"shap.TreeExplainer alone on the same {len(inputs):,} students: {shap_alone:.1f} s; "
        f"the whole weekly run took {total / shap_alone:.2f}x that"
    )
    # Named by the enrolled students scored, in whole hundreds of thousands when reached.
    label = (
        f"{run['students'] // 100_000 * 100}k"
        if run["students"] >= 100_000
        else (f"{run['students'] // 1000}k")
    )
    print(
        f"explain_speedup_vs_shap={speedup:.2f} max_abs_diff={difference:.2e} "
        f"weekly_run_{label}_s={total:.0f} weekly_vs_shap={total / shap_alone:.2f}"
    )


def _stored_inputs(database: Path, run_id: int, features: list[str]) -> np.ndarray:
    """Every scored student's model inputs, read back from the run's stored contributions."""
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        names = run_features(connection, run_id)
        stored = connection.execute(
            sa.select(student_scores.c.contributions).where(student_scores.c.run_id == run_id)
        ).scalars()
        rows = []
        for text in stored:
            values = {c["feature"]: c["value"] for c in read_contributions(text, names)}
            rows.append([np.nan if values[f] is None else values[f] for f in features])
    engine.dispose()
    return np.array(rows, dtype=float)


if __name__ == "__main__":
    main()
