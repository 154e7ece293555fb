"""One term: enrolment, early help for visible strugglers, who leaves and when, and the
term's records (attendance, coursework and grades, screenings, exits)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from schooldata.calendar import thai_default_term
from schooldata.contract import GRADE_LEVELS
from synth.attendance import simulate_attendance
from synth.config import BASE_LOGIT, PRIMARY_LEVELS, sigmoid
from synth.exits import record_exits
from synth.interventions import record_interventions
from synth.learning import simulate_learning
from synth.screening import screen_students
from synth.world import Cohort, World


def run_term(world: World, year: int, term: int) -> None:
    """Simulate one term of every student on the roll."""
    a = world.attrs
    rng = world.rng
    n = world.n
    start, end = thai_default_term(year, term)
    days = pd.bdate_range(start, end)
    n_days = len(days)
    idx = np.flatnonzero(a["active"][:n])
    k = len(idx)
    a["strain"][idx] = 0.6 * a["strain"][idx] + rng.normal(0, 0.8, k)
    risk = a["risk"][idx]
    strain = a["strain"][idx]
    levels = np.array(GRADE_LEVELS)[a["level"][idx]]
    school_ids = world.schools["school_id"].to_numpy()[a["school"][idx]]

    advisor = np.char.add(
        np.char.add(school_ids.astype(str), "-T"),
        np.char.zfill((a["level"][idx] * 10 + a["room"][idx]).astype(str), 3),
    )
    snapshot = date(start.year, 6, 10) if term == 1 else date(start.year, 11, 10)
    world.records["enrollments"].append(
        pd.DataFrame(
            {
                "student_id": idx,
                "academic_year": year,
                "term": term,
                "school_id": school_ids,
                "grade_level": levels,
                "classroom": np.char.add(
                    np.char.add(levels.astype(str), "/"), a["room"][idx].astype(str)
                ),
                "advisor_id": advisor,
                "snapshot_date": snapshot,
            }
        )
    )

    # Interventions early in term for students the school could already see struggling.
    visible = (risk + strain > 1.6) & (rng.random(k) < 0.45)
    intervention_day = rng.integers(15, 45, k)
    record_interventions(
        world,
        idx[visible],
        [start + timedelta(days=int(d)) for d in intervention_day[visible]],
        advisor[visible],
        risk[visible],
    )
    helped = visible

    base = np.array([BASE_LOGIT[lv] for lv in levels])
    male_older = (a["sex"][idx] == 0) & ~np.isin(levels, PRIMARY_LEVELS)
    logit = base + 0.85 * risk + 0.6 * strain + 0.25 * male_older - 0.45 * helped
    drops = rng.random(k) < sigmoid(logit)
    moves = a["migrant"][idx] & (
        rng.random(k) < 0.035
    )  # migrant families move, with little warning
    transfers = ~drops & ~moves & (rng.random(k) < 0.012)
    deaths = ~drops & ~moves & ~transfers & (rng.random(k) < 0.00005)

    leave_day = np.full(k, n_days, dtype=np.int64)  # index of the first day not attended
    leave_day[drops | moves | transfers | deaths] = rng.integers(
        15, n_days - 3, (drops | moves | transfers | deaths).sum()
    )
    # A quarter of dropouts are never recorded: they just do not come back next term.
    unrecorded = drops & (rng.random(k) < 0.25)
    leave_day[unrecorded] = n_days
    # Most dropouts disengage over weeks first; moves and a third of others are sudden.
    warned = drops & (rng.random(k) < 0.75)
    onset = np.maximum(0, leave_day - rng.integers(20, 80, k))
    onset[unrecorded] = np.maximum(0, n_days - rng.integers(20, 60, unrecorded.sum()))

    cohort = Cohort(
        year,
        term,
        start,
        end,
        days,
        idx,
        risk,
        strain,
        levels,
        school_ids,
        advisor,
        leave_day,
        onset,
        warned,
    )
    record_exits(world, cohort, drops & ~unrecorded, moves, transfers, deaths)
    for i in idx[drops | moves]:
        world.truth.append({"student_id": i, "kind": "dropout", "year": year, "term": term})

    attendance_rate = simulate_attendance(world, cohort)
    simulate_learning(world, cohort, attendance_rate)
    screen_students(world, cohort)

    left = drops | moves | transfers | deaths
    internal = transfers & (rng.random(k) < 0.3)
    same_kind = world.schools["kind"].to_numpy()[a["school"][idx]]
    for j in np.flatnonzero(internal):
        choices = np.flatnonzero(world.schools["kind"].to_numpy() == same_kind[j])
        a["school"][idx[j]] = rng.choice(choices)
    a["active"][idx[left & ~internal & ~unrecorded]] = False
    # Unrecorded dropouts finish the term on the roll and are gone at the next count.
    if term == 1:
        a["active"][idx[unrecorded]] = False
    else:
        world.leaving_next = np.concatenate([world.leaving_next, idx[unrecorded]])
