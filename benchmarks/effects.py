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

The last line is ``covered=<k>/<n> prevented_per_visit_benefit=<x>
prevented_per_visit_risk=<y>``. Nothing here is used by the tests.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import scratch_settings
from features.sources import Sources
from riskmodel.benefit import VisitBenefit
from schooldata.db import make_engine
from schooldata.ingest import ingest_directory
from serving.queries import DEFAULT_CAPACITY
from synth import SynthConfig, generate, write_directory
from synth.interventions import OUTCOME_SHARES
from training.effects import chance_of, classifier, measure_effects, some_weeks, study
from training.labels import LabelRules
from training.matrix import build_training_matrix

HORIZON_DAYS = 180
PLAN_WEEKS = range(1, 9)  # the term's second to ninth Mondays
DONE = OUTCOME_SHARES[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--students", type=int, default=12_000)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        run(args.work_dir or Path(scratch), args.students, args.schools, args.seed)


def run(work: Path, students: int, schools: int, seed: int) -> None:
    started = time.perf_counter()
    data = work / "data"
    engine = make_engine(f"sqlite:///{work / 'ews.db'}")
    if not (data / "truth" / "visits.csv").exists():
        config = SynthConfig(schools=schools, students=students, seed=seed)
        write_directory(generate(config), data)
        ingest_directory(data, engine, "benchmark-key", work / "rejects")
    print(f"synthetic data: {students:,} students, {schools} schools, seed {seed}")
    settings = scratch_settings(engine, work / "mlflow")
    report = measure_effects(settings, engine, HORIZON_DAYS, data / "truth" / "effects.csv")
    print(report.table().drop(columns=["why"]).to_string(index=False))
    estimated = [e for e in report.effects if e.low is not None and e.type in report.simulated]
    covered = sum(e.covers(report.simulated[e.type]) for e in estimated)
    print(f"{covered} of {len(estimated)} intervals hold the simulated effect")
    print(report.benefit_why)

    sources = Sources.from_database(engine)
    matrix = build_training_matrix(sources, LabelRules(HORIZON_DAYS))
    truth = pd.read_csv(data / "truth" / "visits.csv")
    terms = sorted(set(zip(matrix["academic_year"], matrix["term"], strict=True)))
    replay = terms[-1]
    key = list(zip(matrix["academic_year"], matrix["term"], strict=True))
    before = matrix[[k < replay for k in key]]
    earlier = study(sources, before, HORIZON_DAYS, seed=seed)
    print(f"replaying {replay[0]} term {replay[1]}: {earlier.benefit_why}")
    if earlier.benefit is None:
        print(
            f"covered={covered}/{len(estimated)} prevented_per_visit_benefit=nan "
            f"prevented_per_visit_risk=nan"
        )
        return
    risk_model = _risk_model(before, earlier.benefit.features, seed)
    term = matrix[[k == replay for k in key]].merge(
        truth, on=["student_id", "academic_year", "term"], how="inner"
    )
    by_risk = replay_term(term, lambda rows: _risk(risk_model, rows, earlier.benefit))
    by_benefit = replay_term(term, lambda rows: _benefit(earlier.benefit, rows))
    # What perfect foresight would do: the true chance of leaving, the true benefit.
    chance = replay_term(term, lambda rows: rows["chance_without_help"].to_numpy())
    oracle = replay_term(term, lambda rows: -rows["visit_effect_on_chance"].to_numpy())
    print(
        f"replayed {len(term['student_id'].unique()):,} students, "
        f"{by_risk[1]} visits by risk, {by_benefit[1]} by benefit; ordered by the true "
        f"chance of leaving {chance[0]:.4f} a visit, by the true benefit {oracle[0]:.4f} "
        f"(in {time.perf_counter() - started:.0f} s)"
    )
    print(
        f"covered={covered}/{len(estimated)} prevented_per_visit_benefit={by_benefit[0]:.4f} "
        f"prevented_per_visit_risk={by_risk[0]:.4f}"
    )


def replay_term(term: pd.DataFrame, order) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Prevented dropouts per planned visit, and the visits planned, over the plan weeks."""
    mondays = sorted(term["as_of"].unique())
    visited: set[str] = set()
    prevented, visits = 0.0, 0
    for week in [mondays[i] for i in PLAN_WEEKS if i < len(mondays)]:
        rows = term[(term["as_of"] == week) & ~term["student_id"].isin(visited)]
        score = order(rows)
        for _school, group in rows.assign(score=score).groupby("school_id"):
            chosen = group.nlargest(DEFAULT_CAPACITY, "score")
            visited |= set(chosen["student_id"])
            prevented += float(-chosen["visit_effect_on_chance"].sum()) * DONE
            visits += len(chosen)
    return prevented / max(1, visits), visits


def _risk_model(before: pd.DataFrame, features: list[str], seed: int):  # type: ignore[no-untyped-def]
    learn = some_weeks(before[before["mature"].astype(bool)])
    return classifier(learn[features].to_numpy(dtype=float), learn["label"].to_numpy(), seed)


def _risk(model, rows: pd.DataFrame, benefit: VisitBenefit) -> np.ndarray:  # type: ignore[no-untyped-def]
    return chance_of(model, rows[benefit.features].to_numpy(dtype=float))


def _benefit(benefit: VisitBenefit, rows: pd.DataFrame) -> np.ndarray:
    return benefit.benefit(benefit.addressable(rows[benefit.features].to_numpy(dtype=float)))


if __name__ == "__main__":
    main()
