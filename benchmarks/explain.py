"""Benchmark: exact explanations, ours against shap.TreeExplainer and LightGBM's pred_contrib,
then the weekly run end to end (features, score, explain, store).

Run with ``make bench-explain``. The model is trained on the synthetic data with the
default configuration (the champion's shape). The last line is
``explain_speedup_vs_shap=<x> max_abs_diff=<x> weekly_run_100k_s=<n>``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numba
import numpy as np
import pandas as pd
import shap

from benchmarks.common import synthetic_database, trained_champion
from features.sources import Sources
from features.treeshap import FastTreeShap
from serving.scoring import Scorer, weekly_run
from training.promote import test_period_rows

BATCH = 10_000
SINGLE = 300


def rows_per_second(function, rows: np.ndarray, repeats: int = 1) -> float:  # type: ignore[no-untyped-def]
    function(rows[:10])  # warm up (compilation, threads)
    started = time.perf_counter()
    for _ in range(repeats):
        function(rows)
    return repeats * len(rows) / (time.perf_counter() - started)


def single_rows_per_second(function, rows: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    function(rows[:1])
    started = time.perf_counter()
    for i in range(SINGLE):
        function(rows[i : i + 1])
    return SINGLE / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--train-students", type=int, default=12_000, help="students the model is trained on"
    )
    parser.add_argument("--students", type=int, default=100_000, help="students in the weekly run")
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench"))
    args = parser.parse_args()

    engine = synthetic_database(args.work_dir, args.train_students)
    settings, bundle, version = trained_champion(
        engine, Path(tempfile.mkdtemp(prefix="bench-explain-"))
    )
    booster: lgb.Booster = bundle.booster
    rows = bundle.matrix(
        test_period_rows(Sources.from_database(engine), bundle).sample(BATCH, random_state=0)
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
        singles = {
            name: single_rows_per_second(function, rows) for name, function in scorers.items()
        }
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

    weekly_engine = synthetic_database(
        args.work_dir, args.students, schools=max(20, args.students // 600)
    )
    newest = pd.read_sql("select max(date) as d from attendance", weekly_engine)["d"].iloc[0]
    as_of = pd.Timestamp(newest) - pd.Timedelta(days=pd.Timestamp(newest).dayofweek)
    started = time.perf_counter()
    report = weekly_run(weekly_engine, Scorer(bundle, str(version)), as_of)
    total = time.perf_counter() - started
    stages = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in report.seconds.items())
    print(
        f"weekly run as of {as_of.date()} for {report.students:,} enrolled "
        f"of {args.students:,} students: {total:.1f} s ({stages})"
    )
    print(
        f"explain_speedup_vs_shap={speedup:.2f} max_abs_diff={difference:.2e} "
        f"weekly_run_{args.students // 1000}k_s={total:.0f}"
    )


if __name__ == "__main__":
    main()
