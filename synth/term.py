"""One term: enrolment, early help for visible strugglers, who leaves and when, and the
term's records (attendance, coursework and grades, screenings, exits)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from schooldata.calendar import thai_default_term
from schooldata.contract import GRADE_LEVELS
from synth.attendance import simulate_attendance
from synth.causes import term_causes
from synth.config import sigmoid
from synth.exits import record_exits
from synth.interventions import act, keep_truth, keep_visit_truth
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

    causes = term_causes(world, idx, levels, risk, strain=strain, n_days=n_days)
    # Help early in term for students the school can see struggling (synth.interventions).
    effect, acted = act(
        world,
        idx,
        strain,
        causes.absence,
        advisor=advisor,
        start=start,
        term_days=(end - start).days,
    )
    keep_visit_truth(
        world, idx, year, term, logit=causes.logit, strain=strain, absence=causes.absence
    )
    logit = causes.logit + effect
    keep_truth(world, acted, logit, causes.logit)
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
    # After a family event, attendance collapses within two or three weeks.
    collapse = drops & causes.family_event
    onset[collapse] = causes.event_day[collapse]
    leave_day[collapse] = np.minimum(
        n_days, causes.event_day[collapse] + rng.integers(8, 18, collapse.sum())
    )
    warned |= collapse

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
        causes.event_day,
    )
    # Some children change school within the system; half of those moves nobody records
    # (the old school only sees a child who did not come back).
    internal = transfers & (rng.random(k) < 0.3)
    silent = internal & (rng.random(k) < 0.5)
    record_exits(
        world, cohort, drops & ~unrecorded, moves, transfers=transfers & ~silent, deaths=deaths
    )
    for i in idx[drops | moves]:
        world.truth.append({"student_id": i, "kind": "dropout", "year": year, "term": term})
    for i, recorded in zip(idx[drops], ~unrecorded[drops], strict=True):
        world.left_school[int(i)] = (year, term, bool(recorded))

    attendance_rate = simulate_attendance(world, cohort)
    simulate_learning(world, cohort, attendance_rate)
    screen_students(world, cohort)

    # A family event weighs on the terms after it too.
    a["strain"][idx[causes.family_event]] += 1.0
    left = drops | moves | transfers | deaths
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
