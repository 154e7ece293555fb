"""Benchmark: the training matrix in one pass vs recomputing every weekly date from scratch.

Run with ``make bench-matrix``. Prints both timings, the speed-up, the row count and the
largest difference between the two matrices (which must be 0).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.common import synthetic_database
from features.sources import Sources
from training.labels import LabelRules
from training.matrix import build_training_matrix, naive_training_matrix, weekly_as_of_dates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=12_000)
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench"))
    parser.add_argument(
        "--dates", type=int, default=0, help="only the first N weekly dates (0: all)"
    )
    args = parser.parse_args()

    engine = synthetic_database(args.work_dir, args.students)
    started = time.perf_counter()
    sources = Sources.from_database(engine)
    print(f"read sources: {time.perf_counter() - started:.1f} s")
    dates = weekly_as_of_dates(sources)
    if args.dates:
        dates = dates[: args.dates]
    rules = LabelRules()

    started = time.perf_counter()
    fast = build_training_matrix(sources, rules, dates)
    fast_s = time.perf_counter() - started
    print(f"one pass: {len(dates)} weekly dates, {len(fast):,} rows in {fast_s:.1f} s")

    started = time.perf_counter()
    naive = naive_training_matrix(sources, rules, dates)
    naive_s = time.perf_counter() - started
    print(f"per date from scratch: {naive_s:.1f} s")

    numeric = fast.select_dtypes("number").columns
    same_missing = bool((fast[numeric].isna() == naive[numeric].isna()).all().all())
    difference = float(np.nanmax(np.abs(fast[numeric].to_numpy() - naive[numeric].to_numpy())))
    other = [c for c in fast.columns if c not in numeric]
    same_other = fast[other].astype(str).equals(naive[other].astype(str))
    mature = fast[fast["mature"]]
    print(f"mature rows {len(mature):,}, positive share {mature['label'].mean():.4f}")
    print(f"same missing values: {same_missing}; same non-numeric columns: {same_other}")
    print(
        f"matrix_rows={len(fast)} fast_s={fast_s:.1f} naive_s={naive_s:.1f} "
        f"speedup={naive_s / fast_s:.1f} max_abs_diff={difference:.3g}"
    )


if __name__ == "__main__":
    main()
