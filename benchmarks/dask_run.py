"""Benchmark: the weekly run at national scale, on a local Dask cluster and in one process.

Run with ``make bench-dask``. It

1. streams ``--students`` synthetic students (1 million by default) into a Parquet
   dataset partitioned by school, batch by batch through the ingest path (``ews ingest
   --dataset``), so no more than a batch is ever in memory;
2. runs the weekly run on the dataset in one process (partition after partition) and
   on a local Dask cluster, each in a fresh process, and prints times and peak memory;
3. checks that both runs stored the same scores and explanations (to 1e-9);
4. trains the model on Dask and on one machine on the default synthetic data and
   prints the gap in test ROC-AUC;
5. extrapolates to 10 million students.

The last line is ``dask_equal=<true|false> auc_gap=<x> s_per_million=<n>
peak_gb_per_worker=<n>``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.cluster import local_cluster, local_pool
from devtools.processes import peak_gb
from schooldata.calendar import thai_default_term
from schooldata.db import make_engine, upgrade
from schooldata.tables import student_scores

if TYPE_CHECKING:
    from core.settings import Settings

# What this module imports at the top, every worker process imports again (a worker
# prepares the parent's main module): only what ``ews score``'s own workers import, so
# the runs measured start their workers as ``ews score`` does. The rest is imported where
# it is used.

BATCH_STUDENTS = 12_000
SCHOOLS_PER_BATCH = 20
NIGHT_HOURS = 8


def _make_batch(index: int, students: int, dataset: Path) -> tuple[int, float]:
    """Generate one batch of schools and students and ingest it into the dataset."""
    from schooldata.ingest import ingest_directory
    from synth import SynthConfig, generate, write_directory

    started = time.perf_counter()
    config = SynthConfig(
        schools=SCHOOLS_PER_BATCH,
        students=students,
        seed=1000 + index,
        defect_rate=0.0,
        first_school=index * SCHOOLS_PER_BATCH,
        first_student=index * BATCH_STUDENTS * 2,  # a batch's IDs never reach the next's
    )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        write_directory(generate(config), work / "data")
        # A throwaway database per batch: only the dataset is kept.
        engine = make_engine(f"sqlite:///{work / 'batch.db'}")
        report = ingest_directory(
            work / "data", engine, "bench-key", work / "rejects", dataset=dataset
        )
        engine.dispose()
    if report.exit_code:
        raise RuntimeError(f"batch {index} was refused")
    return index, time.perf_counter() - started


def stream_dataset(dataset: Path, students: int, processes: int) -> None:
    """Write ``students`` students in batches; reuse a complete dataset."""
    done = dataset / "COMPLETE"
    if done.exists():
        print(f"reusing the dataset in {dataset}")
        return
    shutil.rmtree(dataset, ignore_errors=True)
    dataset.mkdir(parents=True)
    batches = math.ceil(students / BATCH_STUDENTS)
    sizes = [min(BATCH_STUDENTS, students - i * BATCH_STUDENTS) for i in range(batches)]
    started = time.perf_counter()
    with ProcessPoolExecutor(processes) as pool:
        futures = [pool.submit(_make_batch, i, n, dataset) for i, n in enumerate(sizes)]
        for count, future in enumerate(futures, start=1):
            index, seconds = future.result()
            if count % 10 == 0 or count == batches:
                print(f"  batch {count}/{batches} written ({seconds:.0f} s for batch {index})")
    size = sum(f.stat().st_size for f in dataset.rglob("*.parquet")) / 1e6
    print(
        f"streamed {students:,} students in {batches} batches into {dataset}: "
        f"{time.perf_counter() - started:.0f} s, {size:,.0f} MB of Parquet"
    )
    done.write_text(str(students))


def run_mode(args: argparse.Namespace) -> None:
    """One weekly run in this fresh process; prints a JSON line with its figures."""
    from riskmodel.bundle import ModelBundle
    from schooldata.partitions import plan_partitions
    from serving.scoring import Scorer, weekly_run

    bundle = ModelBundle.load(args.bundle)
    scorer = Scorer(bundle, "1")
    engine = make_engine(f"sqlite:///{args.db}")
    # The operational database exists when the week's run starts (loading the files made
    # it): its tables are made here, and the run only checks they are current.
    upgrade(engine)
    # As ``ews score`` plans them: balanced over the run's workers.
    tasks = plan_partitions(None, args.dataset, workers=1 if args.mode == "one" else args.workers)
    as_of = pd.Timestamp(args.as_of)
    worker_peaks: list[float] = []
    startup = 0.0
    started = time.perf_counter()
    if args.mode == "dask":
        with local_cluster(args.workers, preload=["serving.scoring"]) as client:
            # A national cluster is already running when the week's run starts.
            startup = time.perf_counter() - started
            started = time.perf_counter()
            report = weekly_run(engine, scorer, as_of, partitions=tasks, client=client)
            worker_peaks = list(client.run(peak_gb).values())
    elif args.mode == "pool":
        # As ``ews score`` runs on a dataset: its processes start with the run.
        with local_pool(args.workers, preload=["serving.scoring"]) as pool:
            report = weekly_run(engine, scorer, as_of, partitions=tasks, client=pool)
    else:
        report = weekly_run(engine, scorer, as_of, partitions=tasks)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "run_id": report.run_id,
                "students": report.students,
                "stages": report.seconds,
                "peak_gb": peak_gb(),
                "startup_seconds": startup,
                "worker_peak_gb": worker_peaks,
                "partitions": len(tasks),
            }
        )
    )


def features_mode(args: argparse.Namespace, repeats: int = 3) -> None:
    """CPU time of reading and computing every partition's features, one after another in
    this process (the least of ``repeats`` passes): the features' own work, without the
    pool, the model or the store. Prints a JSON line."""
    from features.build import features_as_of
    from features.partitions import global_school_counts, weekly_sources
    from schooldata.partitions import plan_partitions

    tasks = plan_partitions(None, args.dataset, workers=args.workers)
    counts = global_school_counts(tasks)
    as_of = pd.Timestamp(args.as_of)
    reads, features = [], []
    for _ in range(repeats):
        read = built = 0.0
        for task in tasks:
            started = time.process_time()
            sources = weekly_sources(task, as_of, counts)
            read_done = time.process_time()
            features_as_of(sources, as_of)
            read, built = read + read_done - started, built + time.process_time() - read_done
        reads.append(read)
        features.append(built)
    print(json.dumps({"read_cpu_s": min(reads), "features_cpu_s": min(features)}))


def run_in_fresh_process(
    mode: str, dataset: Path, as_of: str, workers: int, db: Path, bundle: Path
) -> dict:
    """One weekly run (``run_mode``) in a process of its own: ``one`` partition after
    partition, ``pool`` on this machine's processes as ``ews score`` runs, ``dask`` on a
    local Dask cluster. Returns its JSON line."""
    db.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "benchmarks.dask_run",
        "--mode",
        mode,
        "--db",
        str(db),
        "--bundle",
        str(bundle),
        "--dataset",
        str(dataset),
        "--as-of",
        as_of,
        "--workers",
        str(workers),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict = json.loads(output.strip().splitlines()[-1])
    return result


def stored_scores(db: Path) -> pd.DataFrame:
    engine = make_engine(f"sqlite:///{db}")
    columns = [
        student_scores.c.school_id,
        student_scores.c.student_id,
        student_scores.c.risk,
        student_scores.c.raw_score,
        student_scores.c.base_value,
        student_scores.c.rank_in_school,
        student_scores.c.contributions,
    ]
    with engine.connect() as connection:
        rows = connection.execute(sa.select(*columns)).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in columns])
    return frame.set_index(["school_id", "student_id"])


def same_runs(one: pd.DataFrame, other: pd.DataFrame) -> tuple[bool, float]:
    """Equal students, ranks, scores and explanations to 1e-9; the largest difference."""
    if not one.index.sort_values().equals(other.index.sort_values()):
        return False, math.inf
    other = other.loc[one.index]
    scores = ["risk", "raw_score", "base_value"]
    difference = float(np.abs(one[scores].to_numpy() - other[scores].to_numpy()).max())
    ranks_equal = bool((one["rank_in_school"] == other["rank_in_school"]).all())
    # Identical JSON text means identical floats; only differing rows need parsing.
    differ = one["contributions"] != other["contributions"]
    pairs = zip(one.loc[differ, "contributions"], other.loc[differ, "contributions"], strict=True)
    for mine, theirs in pairs:  # both runs' contributions follow the same model's inputs
        a = np.array(json.loads(mine)["shap"])
        b = np.array(json.loads(theirs)["shap"])
        difference = max(difference, float(np.abs(a - b).max()) if len(a) == len(b) else math.inf)
    return ranks_equal and difference <= 1e-9, difference


def auc_gap(engine: sa.Engine, store: Path, workers: int) -> tuple[float, float, float]:
    """Test ROC-AUC of the model trained on one machine and on Dask, same data and config."""
    from benchmarks.common import scratch_settings
    from training.config import TrainConfig
    from training.train import train

    def settings(name: str) -> Settings:
        return scratch_settings(engine, store / name)

    config = TrainConfig.load()
    single = train(settings("single"), config, engine)
    with local_cluster(workers) as client:
        distributed = train(settings("dask"), config, engine, client=client)
    a = float(single.metrics.loc["roc_auc", "model"])
    b = float(distributed.metrics.loc["roc_auc", "model"])
    print(
        f"training on the default synthetic data: one machine {single.seconds:.0f} s, "
        f"test ROC-AUC {a:.4f}; Dask ({workers} workers) {distributed.seconds:.0f} s, {b:.4f}"
    )
    # For scale: the same single-machine training with another seed. Early stopping on a
    # flat validation curve moves the test AUC by itself; a gap smaller than this one is
    # noise, not Dask.
    config.model.seed += 1
    reseeded = float(train(settings("reseeded"), config, engine).metrics.loc["roc_auc", "model"])
    print(
        f"one machine with seed {config.model.seed}: {reseeded:.4f} "
        f"(gap between two seeds {abs(a - reseeded):.4f})"
    )
    return abs(a - b), a, b


def main() -> None:
    from benchmarks.common import synthetic_database, trained_champion
    from synth import SynthConfig

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train-students", type=int, default=12_000)
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench-dask"))
    parser.add_argument(
        "--mode", choices=["one", "pool", "dask", "features"], help=argparse.SUPPRESS
    )
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bundle", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dataset", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "features":
        features_mode(args)
        return
    if args.mode:
        run_mode(args)
        return

    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    args.dataset = work / f"dataset-{args.students}"
    stream_dataset(args.dataset, args.students, args.workers)

    engine = synthetic_database(work, args.train_students)
    store = work / "mlflow"
    _, bundle, _ = trained_champion(engine, store)
    bundle_dir = bundle.save(store / "bundle")
    # A Monday in the last term of the generated years.
    config = SynthConfig()
    _, term_end = thai_default_term(config.first_year + config.years - 1, 2)
    as_of = pd.Timestamp(term_end - timedelta(days=term_end.weekday() + 7))
    args.as_of = str(as_of.date())

    one = run_in_fresh_process(
        "one", args.dataset, args.as_of, args.workers, work / "one.db", bundle_dir
    )
    dask = run_in_fresh_process(
        "dask", args.dataset, args.as_of, args.workers, work / "dask.db", bundle_dir
    )
    for name, run in (("one process", one), (f"Dask, {args.workers} workers", dask)):
        stages = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in run["stages"].items())
        workers = (
            f", workers' peak {max(run['worker_peak_gb']):.2f} GB" if run["worker_peak_gb"] else ""
        )
        print(
            f"weekly run as of {args.as_of}, {name}: {run['students']:,} enrolled of "
            f"{args.students:,} students in {run['partitions']} partitions: "
            f"{run['seconds']:.0f} s ({stages}); peak {run['peak_gb']:.2f} GB{workers}"
            + (
                f"; cluster start-up {run['startup_seconds']:.0f} s"
                if run["startup_seconds"]
                else ""
            )
        )
    equal, difference = same_runs(stored_scores(work / "one.db"), stored_scores(work / "dask.db"))
    print(f"same scores and explanations: {equal} (largest difference {difference:.1e})")

    gap, _, _ = auc_gap(engine, store, args.workers)

    millions = args.students / 1e6
    per_million = dask["seconds"] / millions
    # A partitioned run stores each partition as its explanations come (one writer).
    store_share = dask["stages"]["explain_and_store"] / dask["seconds"]
    worker_peak = max(dask["worker_peak_gb"])
    # Work per million students on one worker (one core): wall time x workers.
    core_seconds = per_million * args.workers * 10
    machines = math.ceil(core_seconds / (NIGHT_HOURS * 3600) / args.workers)
    print(
        f"10 million students: about {per_million * 10 / 3600:.1f} h on this 2-core machine "
        f"({core_seconds / 3600:.1f} core-hours; explaining and storing {store_share:.0%} "
        f"of the time, one writer); overnight ({NIGHT_HOURS} h) needs {machines} machine(s) "
        f"of 2 cores with {worker_peak * args.workers:.1f} GB for workers, or fewer, larger "
        f"machines with {worker_peak:.1f} GB per core"
    )
    print(
        f"dask_equal={'true' if equal else 'false'} auc_gap={gap:.4f} "
        f"s_per_million={per_million:.0f} peak_gb_per_worker={worker_peak:.2f}"
    )


if __name__ == "__main__":
    main()
