"""Benchmark: this code's weekly run against an earlier commit's, alternated round by round.

Run with ``python -m benchmarks.before_after --before <commit>`` (issue 38's target is
``--before 534591a``, the code before local codes). It

1. checks the earlier commit out in a temporary git worktree (and, with ``--patch``, a
   second one with that patch applied: the earlier code changed in one respect, such as
   its process tunings switched off with ``benchmarks/patches/534591a-untuned.patch``);
2. lets each code base build its own dataset and champion with its own benchmark
   functions (``benchmarks.dask_run.stream_dataset``, ``benchmarks.common``'s
   ``synthetic_database`` and ``trained_champion``): the data contract and the model
   change between commits, so neither side can read the other's. A patched copy uses
   its commit's. Kept in ``--work-dir`` and reused;
3. runs the weekly run on the pool (``benchmarks.dask_run --mode pool``, as ``ews score``
   runs on a dataset; ``--mode one`` partition after partition in one process, ``--mode
   dask`` on a local Dask cluster, ``--mode database`` in one process from the
   operational database of 12,000 students, as ``ews score`` runs by default) of each
   side in turn, ``--rounds`` times after one run each that is not counted, so that a
   busy moment of the machine costs every side; with ``--env``, this code once more with
   those environment variables (an allocator setting, say);
4. prints each round, then per enrolled student (the two synthetic data sets enrol a few
   more or fewer children) the median of this code against each earlier side, and of the
   patched earlier code against the earlier code as it was, with the range over rounds,
   and each stage's median.

The last line is ``now_vs_before=<median ratio>``, then the same for each further pair of
a side of this code and an earlier one (``now_vs_before_<patch name>``, ``now_env_vs_...``);
a ratio above 1 means this code is slower.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
# A Monday in the last term of the synthetic years (``benchmarks.dask_run``'s own date).
AS_OF = "2026-03-23"
PREPARE = """
import sys, tempfile
from pathlib import Path
from benchmarks.common import synthetic_database, trained_champion
from benchmarks.dask_run import stream_dataset
work, students = Path(sys.argv[1]), int(sys.argv[2])
stream_dataset(work / "dataset", students, 1)
engine = synthetic_database(work, 12_000)
with tempfile.TemporaryDirectory(prefix="before-after-") as store:
    _, bundle, _ = trained_champion(engine, Path(store))
    bundle.save(work / "bundle")
"""


# ``--mode database``: the weekly run as ``ews score`` runs it by default, in one process
# from the operational database, on the database each side built (``PREPARE``). Written
# with what both code bases have.
DATABASE_STUDENTS = 12_000  # the database ``PREPARE`` builds
DATABASE_RUN = """
import json, sys, time
from pathlib import Path
import pandas as pd
from riskmodel.bundle import ModelBundle
from schooldata.db import make_engine, upgrade
from serving.scoring import Scorer, weekly_run
db, bundle, as_of = sys.argv[1:4]
engine = make_engine(f"sqlite:///{db}")
upgrade(engine)
scorer = Scorer(ModelBundle.load(Path(bundle)), "1")
started = time.perf_counter()
report = weekly_run(engine, scorer, pd.Timestamp(as_of))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "students": report.students, "stages": report.seconds}))
"""


@dataclass
class Side:
    """One code base and the data it built."""

    name: str
    code: Path
    work: Path
    env: dict[str, str] = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)

    def prepare(self, students: int) -> None:
        built = (
            (self.work / "bundle").is_dir()
            and (self.work / "dataset" / "COMPLETE").exists()
            and (self.work / f"ews-{DATABASE_STUDENTS}.db").exists()
        )
        if built:
            print(f"{self.name}: reusing the dataset, database and champion in {self.work}")
            return
        print(f"{self.name}: building {students:,} students and a champion in {self.work}")
        self.work.mkdir(parents=True, exist_ok=True)
        self._python(["-c", PREPARE, str(self.work), str(students)])

    def run(self, mode: str, workers: int, scratch: Path) -> dict:
        db = scratch / f"{self.name}.db"
        db.unlink(missing_ok=True)
        if mode == "database":
            # Each run on a fresh copy of the side's database: no earlier run's rows.
            shutil.copyfile(self.work / f"ews-{DATABASE_STUDENTS}.db", db)
            arguments = ["-c", DATABASE_RUN, str(db), str(self.work / "bundle"), AS_OF]
            result: dict = json.loads(self._python(arguments).strip().splitlines()[-1])
            self.runs.append(result)
            return result
        output = self._python(
            [
                "-m",
                "benchmarks.dask_run",
                "--mode",
                mode,
                "--workers",
                str(workers),
                "--db",
                str(db),
                "--bundle",
                str(self.work / "bundle"),
                "--dataset",
                str(self.work / "dataset"),
                "--as-of",
                AS_OF,
            ]
        )
        result = json.loads(output.strip().splitlines()[-1])
        self.runs.append(result)
        return result

    def per_student(self) -> list[float]:
        """Each round's seconds per enrolled student."""
        return [r["seconds"] / r["students"] for r in self.runs]

    def _python(self, arguments: list[str]) -> str:
        env = os.environ | {"PYTHONPATH": str(self.code)} | self.env
        done = subprocess.run(
            [sys.executable, *arguments],
            cwd=self.code,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise SystemExit(f"{self.name} failed:\n{done.stderr[-3000:]}")
        return done.stdout


def worktree(commit: str, folder: Path, patch: Path | None = None) -> Path:
    """The commit checked out in ``folder`` (a detached git worktree), patched if asked."""
    _git("-C", str(HERE), "worktree", "add", "--detach", str(folder), commit)
    if patch is not None:
        _git("-C", str(folder), "apply", str(patch.resolve()))
    return folder


def _git(*arguments: str) -> None:
    """Run git; on failure stop with what git said (a commit this clone lacks, a patch
    that does not apply)."""
    done = subprocess.run(["git", *arguments], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"git {' '.join(arguments)} failed: {done.stderr.strip()}")


def _print_ratio(one: Side, other: Side) -> float:
    """Print, round by round, one side's seconds per enrolled student over the other's:
    the median and the range. Returns the median."""
    found = [a / b for a, b in zip(one.per_student(), other.per_student(), strict=True)]
    median = statistics.median(found)
    print(f"{one.name} / {other.name}: median {median:.3f} ({min(found):.3f}–{max(found):.3f})")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", required=True, help="the earlier commit")
    parser.add_argument("--patch", type=Path, help="also the earlier commit with this patch")
    parser.add_argument("--patch-name", default="patched", help="what the patch does, in a word")
    parser.add_argument("--env", help="also this code with these variables: 'A=1 B=2'")
    parser.add_argument("--students", type=int, default=160_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--mode",
        choices=["pool", "one", "dask", "database"],
        default="pool",
        help="as benchmarks.dask_run; database: in one process from the database (12,000 "
        "students), as ews score runs by default",
    )
    parser.add_argument("--work-dir", type=Path, default=Path("build/bench-before-after"))
    args = parser.parse_args()

    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    variables = {}
    for item in shlex.split(args.env or ""):
        name, equals, value = item.partition("=")
        if not name or not equals:
            parser.error(f"--env takes NAME=VALUE pairs; {item!r} is not one")
        variables[name] = value

    work = args.work_dir.resolve()
    sides: list[Side] = []
    with tempfile.TemporaryDirectory(prefix="before-after-") as folder:
        scratch = Path(folder)
        trees: list[Path] = []
        try:
            trees.append(worktree(args.before, scratch / "before"))
            sides.append(Side("before", trees[0], work / f"before-{args.before}"))
            if args.patch is not None:
                trees.append(worktree(args.before, scratch / "patched", args.patch))
                sides.append(Side(f"before-{args.patch_name}", trees[1], sides[0].work))
            sides.append(Side("now", HERE, work / "now"))
            if variables:
                sides.append(Side("now-env", HERE, work / "now", env=variables))
            for side in sides:
                side.prepare(args.students)
                # Not counted: the first run compiles the explainer's kernels into the
                # checkout's cache.
                side.run(args.mode, args.workers, scratch)
                side.runs.clear()
            for round_number in range(1, args.rounds + 1):
                line = [f"round {round_number}:"]
                for side in sides:
                    result = side.run(args.mode, args.workers, scratch)
                    line.append(f"{side.name} {result['seconds']:.2f} s")
                print(" ".join(line), flush=True)
        finally:
            for tree in trees:
                subprocess.run(
                    ["git", "-C", str(HERE), "worktree", "remove", "--force", str(tree)],
                    check=False,
                    capture_output=True,
                )
            # And any half-made one (a patch that failed to apply), once its folder is gone.
            shutil.rmtree(scratch / "patched", ignore_errors=True)
            subprocess.run(["git", "-C", str(HERE), "worktree", "prune"], check=False)
    report(sides)


def report(sides: list[Side]) -> None:
    """Medians per enrolled student: each side of this code against each earlier one, and
    by stage."""
    nows = [s for s in sides if s.name.startswith("now")]
    befores = [s for s in sides if s not in nows]
    print("\nper enrolled student, median over rounds:")
    for side in sides:
        seconds = statistics.median(side.per_student()) * 1e6
        print(f"  {side.name}: {seconds:.1f} µs ({side.runs[0]['students']:,} students enrolled)")
    last = []
    for now in nows:
        for before in befores:
            median = _print_ratio(now, before)
            last.append(f"{now.name}_vs_{before.name}={median:.3f}".replace("-", "_"))
    for other in befores[1:]:  # what the patch changes in the earlier code
        _print_ratio(other, befores[0])
    print("by stage, µs per enrolled student (median):")
    for stage in nows[0].runs[0]["stages"]:
        figures = []
        for side in sides:
            values = [r["stages"].get(stage) for r in side.runs]
            if all(v is not None for v in values):
                per = [v / r["students"] * 1e6 for v, r in zip(values, side.runs, strict=True)]
                figures.append(f"{side.name} {statistics.median(per):.1f}")
        print(f"  {stage}: " + ", ".join(figures))
    print(" ".join(last))


if __name__ == "__main__":
    main()
