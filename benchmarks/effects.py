"""Benchmark: intervention effects against the simulator's truth, and a term's home-visit
plans replayed in risk order and in benefit order (``make bench-effects``).

1. Generates the default synthetic data (with ``truth/``), ingests it, and runs
   ``ews effects`` on it (into a scratch MLflow store): how many effect intervals hold
   the simulated effect.
2. Replays the last term: the effects and the benefit model are estimated again from
   the terms before it only, and a risk model of the same kind (the same LightGBM
   settings, on the same rows, with every dropout as its label) is trained beside it.
   Every school then plans its home visits each week for eight weeks, ``DEFAULT_CAPACITY``
   a week, never the same student twice in the term, once by risk and once by benefit.
   A planned visit is made four times in five (the simulator's share "done"); what it
   prevents is the simulator's own figure for that student and term.

With ``--small-sets N`` it instead estimates the effects on N small data sets (8 schools,
4,000 students, no defects, seeds 1 to N, as the effects tests generate), where an
estimator's lean shows across seeds rather than within one: each set's home-visit
estimate beside the simulated truth, and the average difference, last line
``small_sets=<N> visit_minus_truth=<mean> covered=<k>/<N>``.

The replay runs on the default data and on ``--areas`` education areas' data
(``--area-students`` in ``--area-schools`` each, seeds after ``--seed``): a few hundred
visits a term cannot show whom a visit helps more, an area's records may, and the
benefit order then counts it (``riskmodel.benefit``). An area whose records support no
benefit order plans by risk alone, as its committees would. The last line is
``covered=<k>/<n> prevented_per_visit_benefit=<x> prevented_per_visit_risk=<y>``: the
intervals of the default data, the visits of all the areas' replays together.
Nothing here is used by the tests.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from benchmarks.common import scratch_settings
from features.sources import Sources
from riskmodel.ranking import DEFAULT_CAPACITY
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from synth import SynthConfig, generate, write_directory
from synth.interventions import OUTCOME_SHARES
from training.config import TrainConfig
from training.effects import (
    VISIT,
    VISIT_GROUPS,
    chance_of,
    classifier,
    measure_effects,
    some_weeks,
    study,
)
from training.labels import LabelRules
from training.matrix import build_training_matrix
from training.train import model_inputs

HORIZON_DAYS = 180
PLAN_WEEKS = range(1, 9)  # the term's second to ninth Mondays
DONE = OUTCOME_SHARES[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--students", type=int, default=12_000)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--areas", type=int, default=3)
    parser.add_argument("--area-students", type=int, default=60_000)
    parser.add_argument("--area-schools", type=int, default=100)
    parser.add_argument("--small-sets", type=int, default=0, metavar="N")
    args = parser.parse_args()
    if args.small_sets:
        with tempfile.TemporaryDirectory() as scratch:
            small_sets(args.work_dir or Path(scratch), args.small_sets)
        return
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work_dir or Path(scratch)
        started = time.perf_counter()
        covered, estimated = effects(work / "default", args.students, args.schools, args.seed)
        replay(work / "default", args.seed)
        benefit, risk = Tally(), Tally()
        for seed in range(args.seed + 1, args.seed + 1 + args.areas):
            area = work / f"area-{seed}"
            _dataset(area, args.area_students, args.area_schools, seed)
            by_benefit, by_risk = replay(area, seed)
            benefit.add(*(by_benefit or by_risk))  # no benefit order: the risk order alone
            risk.add(*by_risk)
            # An area's data is a few gigabytes: only what a rerun would need is kept.
            if args.work_dir is None:
                shutil.rmtree(area)
        print(
            f"{args.areas} areas: {benefit.per_visit:.4f} prevented per visit by benefit, "
            f"{risk.per_visit:.4f} by risk (in {time.perf_counter() - started:.0f} s)"
        )
        print(
            f"covered={covered}/{estimated} prevented_per_visit_benefit={benefit.per_visit:.4f} "
            f"prevented_per_visit_risk={risk.per_visit:.4f}"
        )


@dataclass
class Tally:
    """Dropouts prevented and visits planned, over replays."""

    prevented: float = 0.0
    visits: int = 0

    def add(self, per_visit: float, visits: int) -> None:
        self.prevented += per_visit * visits
        self.visits += visits

    @property
    def per_visit(self) -> float:
        return self.prevented / self.visits if self.visits else math.nan


def _dataset(
    work: Path, students: int, schools: int, seed: int, defect_rate: float | None = None
) -> sa.Engine:
    """The synthetic data with its truth in ``work``, generated and ingested once."""
    data = work / "data"
    engine = make_engine(f"sqlite:///{work / 'ews.db'}")
    if not (data / "truth" / "visits.csv").exists():
        config = SynthConfig(schools=schools, students=students, seed=seed)
        if defect_rate is not None:
            config = replace(config, defect_rate=defect_rate)
        write_directory(generate(config), data)
        ingest_directory(data, engine, "benchmark-key", work / "rejects")
    print(f"\nsynthetic data: {students:,} students, {schools} schools, seed {seed}")
    return engine


def effects(work: Path, students: int, schools: int, seed: int) -> tuple[int, int]:
    """``ews effects`` with the truth: intervals that hold the simulated effect, of all."""
    engine = _dataset(work, students, schools, seed)
    settings = scratch_settings(engine, work / "mlflow")
    truth = work / "data" / "truth" / "effects.csv"
    report = measure_effects(settings, engine, HORIZON_DAYS, truth)
    print(report.table().drop(columns=["why"]).to_string(index=False))
    estimated = [e for e in report.effects if e.low is not None and e.type in report.simulated]
    covered = sum(e.covers(report.simulated[e.type]) for e in estimated)
    print(f"{covered} of {len(estimated)} intervals hold the simulated effect")
    print(report.benefit_why)
    return covered, len(estimated)


def small_sets(work: Path, count: int) -> None:
    """The home visit's estimate against the simulated truth on ``count`` small data sets."""
    differences, covered = [], 0
    for seed in range(1, count + 1):
        engine = _dataset(work / f"small-{seed}", 4_000, 8, seed, defect_rate=0)
        sources = Sources.from_database(engine)
        matrix = build_training_matrix(sources, LabelRules(HORIZON_DAYS))
        report = study(sources, matrix, HORIZON_DAYS, work / f"small-{seed}/data/truth/effects.csv")
        visit = next(e for e in report.effects if e.type == VISIT)
        if visit.effect is None or visit.low is None or visit.high is None:
            print(f"  home visit: not estimated ({visit.why})")
            continue
        truth = report.simulated[VISIT]
        differences.append(visit.effect - truth)
        covered += visit.covers(truth)
        print(
            f"  home visit: {visit.effect:+.4f} [{visit.low:+.4f}, {visit.high:+.4f}], "
            f"simulated {truth:+.4f}, difference {visit.effect - truth:+.4f}"
        )
    mean = statistics.fmean(differences) if differences else math.nan
    print(f"small_sets={count} visit_minus_truth={mean:+.4f} covered={covered}/{len(differences)}")


def replay(work: Path, seed: int) -> tuple[tuple[float, int] | None, tuple[float, int]]:
    """The last term of the data in ``work`` replayed: prevented dropouts per visit and
    visits, in benefit order (None when the records support none) and in risk order."""
    engine = make_engine(f"sqlite:///{work / 'ews.db'}")
    sources = Sources.from_database(engine)
    matrix = build_training_matrix(sources, LabelRules(HORIZON_DAYS))
    truth = pd.read_csv(work / "data" / "truth" / "visits.csv", dtype={"student_id": str})
    period = (matrix["academic_year"] * 10 + matrix["term"]).to_numpy()
    last = int(period.max())
    term = matrix[period == last].merge(
        truth, on=["school_id", "student_id", "academic_year", "term"], how="inner"
    )
    before = matrix[period < last]
    del matrix  # an area's matrix is gigabytes: only its two parts are kept
    earlier = study(sources, before, HORIZON_DAYS, work / "data" / "truth" / "effects.csv", seed)
    found = [e for e in earlier.effects if e.type in (VISIT, *VISIT_GROUPS) and e.low is not None]
    for e in found:
        simulated = earlier.simulated.get(e.type, math.nan)
        print(
            f"  {e.type}: {e.treated:,} visited, effect {e.effect:+.4f} "
            f"[{e.low:+.4f}, {e.high:+.4f}], simulated {simulated:+.4f}"
        )
    print(f"replaying {last // 10} term {last % 10}: {earlier.benefit_why}")
    benefit = earlier.benefit
    inputs = [
        f
        for f in model_inputs(TrainConfig.load())
        if f in before and pd.api.types.is_numeric_dtype(before[f])
    ]
    risk_model = _risk_model(before, inputs, seed)
    by_risk = replay_term(term, lambda rows: chance_of(risk_model, _inputs(rows, inputs)))
    if benefit is None:
        print(f"by risk alone: {by_risk[0]:.4f} prevented per visit, {by_risk[1]} visits")
        return None, by_risk
    by_benefit = replay_term(term, lambda rows: benefit.order(_inputs(rows, benefit.features)))
    # What perfect foresight would do: the true chance of leaving, the true benefit.
    chance = replay_term(term, lambda rows: rows["chance_without_help"].to_numpy())
    oracle = replay_term(term, lambda rows: -rows["visit_effect_on_chance"].to_numpy())
    print(
        f"replayed {term['person_id'].nunique():,} students, "
        f"{by_risk[1]} visits by risk, {by_benefit[1]} by benefit: prevented per visit "
        f"{by_benefit[0]:.4f} by benefit, {by_risk[0]:.4f} by risk; ordered by the true "
        f"chance of leaving {chance[0]:.4f}, by the true benefit {oracle[0]:.4f}"
    )
    return by_benefit, by_risk


def replay_term(term: pd.DataFrame, order) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Prevented dropouts per planned visit, and the visits planned, over the plan weeks."""
    mondays = sorted(term["as_of"].unique())
    visited: set[str] = set()
    prevented, visits = 0.0, 0
    for week in [mondays[i] for i in PLAN_WEEKS if i < len(mondays)]:
        rows = term[(term["as_of"] == week) & ~term["person_id"].isin(visited)]
        score = order(rows)
        for _school, group in rows.assign(score=score).groupby("school_id"):
            chosen = group.nlargest(DEFAULT_CAPACITY, "score")
            visited |= set(chosen["person_id"])
            prevented += float(-chosen["visit_effect_on_chance"].sum()) * DONE
            visits += len(chosen)
    return prevented / max(1, visits), visits


def _risk_model(before: pd.DataFrame, features: list[str], seed: int):  # type: ignore[no-untyped-def]
    learn = some_weeks(before[before["mature"].astype(bool)])
    return classifier(learn[features].to_numpy(dtype=float), learn["label"].to_numpy(), seed)


def _inputs(rows: pd.DataFrame, features: list[str]) -> np.ndarray:
    return rows[features].to_numpy(dtype=float)


if __name__ == "__main__":
    main()
