"""The school year: cohorts entering, classrooms, terms, and the year-end transitions.

P6 and M3 are transitions between schools, where some children are lost; the rest are
promoted, repeat a year or graduate.
"""

from __future__ import annotations

import numpy as np

from schooldata.calendar import thai_default_term
from schooldata.contract import GRADE_LEVELS
from synth.config import LEVEL_INDEX, SynthResult, sigmoid
from synth.output import finish
from synth.schools import levels_of
from synth.term import run_term
from synth.world import World


def simulate(world: World) -> SynthResult:
    config = world.config
    years = [config.first_year + i for i in range(config.years)]
    entrants_per_year = initial_population(world, years[0])
    for year in years:
        if year != years[0]:
            bring_back(world, year)
            new_year(world, year, entrants_per_year)
        assign_rooms(world, year)
        for term in (1, 2):
            run_term(world, year, term)
        end_of_year(world, year)
    return finish(world, years)


def initial_population(world: World, year: int) -> int:
    weights = world.schools["weight"].to_numpy()
    initial = int(world.config.students * (0.82 if world.config.years > 1 else 1.0))
    per_school = world.rng.multinomial(initial, weights / weights.sum())
    for school, count in enumerate(per_school):
        levels = list(levels_of(str(world.schools.at[school, "kind"])))
        # Fewer students in ปวส. than ปวช.; otherwise even across levels.
        p = np.array([0.6 if lv.startswith("H") else 1.0 for lv in levels])
        world.add_students(school, list(world.rng.choice(levels, count, p=p / p.sum())), year)
    remaining = world.config.students - world.n
    return max(0, remaining // max(1, world.config.years - 1))


def new_year(world: World, year: int, entrants: int) -> None:
    """Bring in the new cohorts from outside the system."""
    rng = world.rng
    # Entrants from outside the system go to each school's entry levels.
    weights = world.schools["weight"].to_numpy()
    per_school = rng.multinomial(entrants, weights / weights.sum())
    for school, count in enumerate(per_school):
        kind = str(world.schools.at[school, "kind"])
        entry = {
            "primary": ["K1", "P1"],
            "secondary": ["M1", "M4"],
            "vocational": ["V1", "H1"],
        }[kind]
        world.add_students(school, list(rng.choice(entry, count, p=[0.8, 0.2])), year)


def bring_back(world: World, year: int) -> None:
    """Some children who left school come back at the start of a year (the
    "พาน้องกลับมาเรียน" work): to their old school when it teaches their level, else to
    another that does, in the grade they left (a failed transition, in the next one).
    They come back carrying what made them leave, and are likelier to leave again. A
    child whose leaving nobody recorded was on the roll to the end of their last term:
    they come back only after a term or more away."""
    a, rng = world.attrs, world.rng
    gone = np.array(
        [
            i
            for i, (left_year, left_term, recorded) in sorted(world.left_school.items())
            if recorded or (left_year, left_term) < (year - 1, 2)
        ],
        dtype=np.int64,
    )
    back = gone[rng.random(len(gone)) < 0.15]
    kinds = world.schools["kind"].to_numpy()
    for i in back:
        level = str(GRADE_LEVELS[a["level"][i]])
        level = (
            {"P6": "M1", "M3": "M4"}.get(level, level) if i in world.lost_at_transition else level
        )
        offering = [s for s in range(len(kinds)) if level in levels_of(str(kinds[s]))]
        if not offering:
            continue
        school = a["school"][i] if a["school"][i] in offering else rng.choice(offering)
        a["school"][i] = school
        a["level"][i] = LEVEL_INDEX[level]
        a["active"][i] = True
        a["strain"][i] += 1.0
        world.left_school.pop(int(i), None)
        world.lost_at_transition.discard(int(i))


def assign_rooms(world: World, year: int) -> None:
    a = world.attrs
    active = np.flatnonzero(a["active"][: world.n])
    order = world.rng.permutation(active)
    key = a["school"][order] * 100 + a["level"][order]
    sorted_order = order[np.argsort(key, kind="stable")]
    key_sorted = a["school"][sorted_order] * 100 + a["level"][sorted_order]
    position = np.arange(len(sorted_order)) - np.searchsorted(key_sorted, key_sorted)
    a["room"][sorted_order] = position // 35 + 1


def end_of_year(world: World, year: int) -> None:
    """Graduations, P6/M3 transitions (some children lost), promotion, repetition."""
    a = world.attrs
    rng = world.rng
    n = world.n
    # Non-continuation dropouts of term 2 leave now, with no exit record.
    a["active"][world.leaving_next] = False
    world.leaving_next = np.zeros(0, dtype=np.int64)
    active = a["active"][:n].copy()
    level = a["level"][:n].copy()
    _, end = thai_default_term(year, 2)
    grad_date = end
    final = {
        LEVEL_INDEX["P6"],
        LEVEL_INDEX["M3"],
        LEVEL_INDEX["M6"],
        LEVEL_INDEX["V3"],
        LEVEL_INDEX["H2"],
    }
    graduating = active & np.isin(level, list(final))
    repeat = active & ~graduating & (rng.random(n) < 0.01 + 0.03 * (a["ability"][:n] < -1.2))
    for i in np.flatnonzero(graduating):
        world.exit_rows.append({"student_id": i, "exit_date": grad_date, "exit_type": "graduated"})
    # Transitions: P6 → M1 at a secondary school; M3 → M4 here, or V1 at a college.
    # Weak results and a poor family together make the move to a new school the hardest.
    struggling_and_poor = (a["ability"][:n] < -0.5) & (a["poverty"][:n] > 0.5)
    lost_p = sigmoid(
        -4.0
        + 0.9 * a["risk"][:n]
        + 0.5 * a["strain"][:n]
        + 0.8 * a["migrant"][:n]
        + 0.9 * struggling_and_poor
    )
    lost = (
        graduating
        & np.isin(level, [LEVEL_INDEX["P6"], LEVEL_INDEX["M3"]])
        & (rng.random(n) < lost_p)
    )
    for i in np.flatnonzero(lost):
        world.truth.append({"student_id": i, "kind": "failed_transition", "year": year})
        world.left_school[int(i)] = (year, 2, True)  # graduated: on record
        world.lost_at_transition.add(int(i))
    secondary = np.flatnonzero(world.schools["kind"] == "secondary")
    colleges = np.flatnonzero(world.schools["kind"] == "vocational")
    moving_on = graduating & ~lost
    p6 = moving_on & (level == LEVEL_INDEX["P6"])
    m3 = moving_on & (level == LEVEL_INDEX["M3"])
    if len(secondary):
        a["school"][:n][p6] = rng.choice(secondary, p6.sum())
        a["level"][:n][p6] = LEVEL_INDEX["M1"]
    else:
        a["active"][:n][p6] = False
    to_college = m3 & (rng.random(n) < 0.3) if len(colleges) else np.zeros(n, bool)
    if to_college.any():
        a["school"][:n][to_college] = rng.choice(colleges, to_college.sum())
        a["level"][:n][to_college] = LEVEL_INDEX["V1"]
    a["level"][:n][m3 & ~to_college] = LEVEL_INDEX["M4"]
    done = graduating & ~np.isin(level, [LEVEL_INDEX["P6"], LEVEL_INDEX["M3"]])
    a["active"][:n][done | lost] = False
    promote = active & ~graduating & ~repeat
    a["level"][:n][promote] += 1
    # K3 → P1 and V3 → (graduated) are handled above; H2 likewise.
    if np.any(a["level"][:n][promote] >= len(GRADE_LEVELS)):
        raise RuntimeError("a student was promoted past the last grade level")
