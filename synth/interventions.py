"""What schools do for students, and what it does for them: the simulator's truth.

Early in each term the school acts for students its records show struggling (and visits
a few others' homes as routine), and follows up half of them later in the term (a home
visit or a meeting with the parents, with half an action's effect; a child without
parents' care is sometimes referred outside instead, the care system's last step when the
school's own help is not enough). It sees only what it has recorded before the term:
last term's absence and grades, the last screening's group, the household survey's
poverty and caregiver; never a student's latent risk or strain. The action it chooses
follows what it sees: a poor family is referred to the equity fund, a weak student
tutored, one screened as a problem counselled, a child without parents referred outside,
most visited at home. (An estimate of the effects from the records can be right only if
nothing else decided who was helped; schools whose advisors act on what they never
record break that, which is why the estimates carry a sensitivity figure.) An action
done (not "not at home" or "refused") lowers the student's log-odds of leaving this term
by its effect, which depends on the student:

| action | effect on the log-odds of leaving | for whom |
|---|---|---|
| home visit | -0.7 | family or attendance trouble (caregiver risk ≥ 0.7 or usual absence > 15%) |
| home visit | -0.2 | anyone else |
| scholarship referral | -0.9 | a poor family (poverty > 0.8); none otherwise |
| tutoring | -0.8 | a weak student (ability < -0.5); -0.1 otherwise |
| counselling | -0.5 | high strain (> 1); -0.1 otherwise |
| parent meeting | -0.3 | anyone |
| external referral | -0.6 | a child without parents' care (caregiver risk ≥ 0.8); none otherwise |

Help never stops a migrant family's move or a family event later in the term. Each
action's effect on the chance of leaving (the difference it made, with the student's
own hazard) is kept as truth for checks (``SynthResult.effects``), and beside it the
effect of all the help that student had that term (what an estimate against students
given no help all term measures).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from synth.config import Array, sigmoid
from synth.world import World

TYPES = (
    "home_visit",
    "parent_meeting",
    "counselling",
    "tutoring",
    "scholarship_referral",
    "external_referral",
)
OUTCOMES = ("done", "not_home", "refused", "moved")
OUTCOME_SHARES = (0.8, 0.12, 0.05, 0.03)
ROUTINE_VISITS = 0.03  # share of other students visited at home as routine each term
FOLLOW_UP_SHARE = 0.5  # share of the students helped who are followed up later in the term
REFERRED_LATER = 0.3  # share of the follow-ups of a child without parents' care referred outside


def effects_for(world: World, idx: Array, kinds: Array, absence: Array, strain: Array) -> Array:
    """Each action's effect on its student's log-odds of leaving, if done (see the table)."""
    a = world.attrs
    poverty, ability, caregiver = a["poverty"][idx], a["ability"][idx], a["caregiver_risk"][idx]
    return np.select(
        [
            kinds == "home_visit",
            kinds == "scholarship_referral",
            kinds == "tutoring",
            kinds == "counselling",
            kinds == "parent_meeting",
            kinds == "external_referral",
        ],
        [
            np.where((caregiver >= 0.7) | (absence > 0.15), -0.7, -0.2),
            np.where(poverty > 0.8, -0.9, 0.0),
            np.where(ability < -0.5, -0.8, -0.1),
            np.where(strain > 1, -0.5, -0.1),
            np.full(len(idx), -0.3),
            np.where(caregiver >= 0.8, -0.6, 0.0),
        ],
        0.0,
    )


def act(
    world: World,
    idx: Array,
    strain: Array,
    absence: Array,
    *,
    advisor: Array,
    start: date,
    term_days: int = 140,
) -> tuple[Array, pd.DataFrame]:
    """Choose and record this term's actions.

    Returns:
        Each student's change in log-odds of leaving (0 for those not helped), and the
        actions taken (for ``keep_truth`` once the hazard is known).
    """
    rng = world.rng
    a = world.attrs
    k = len(idx)
    poor, no_parents = a["seen_poor"][idx], a["seen_no_parents"][idx]
    weak, screened = a["seen_gpa"][idx] < 1.5, a["seen_screening"][idx]
    concern = (
        1.5 * (a["seen_absence"][idx] > 0.1)
        + 0.8 * (screened >= 1)
        + 0.8 * (screened == 2)
        + 0.8 * poor
        + 0.6 * no_parents
        + 1.0 * weak
    )
    struggling = rng.random(k) < sigmoid(-5.0 + 1.2 * concern)
    routine = ~struggling & (rng.random(k) < ROUTINE_VISITS)
    chosen = struggling | routine
    weights = np.tile([0.4, 0.2, 0.15, 0.1, 0.1, 0.05], (k, 1))
    weights[:, 4] += 0.5 * poor  # the equity fund for the poor
    weights[:, 3] += 0.4 * weak  # tutoring for the weak
    weights[:, 2] += 0.3 * (screened == 2)  # counselling for the troubled
    weights[:, 5] += 0.2 * no_parents  # outside help
    weights /= weights.sum(axis=1, keepdims=True)
    pick = (rng.random(k)[:, None] > np.cumsum(weights, axis=1)).sum(axis=1)
    kinds = np.where(routine, "home_visit", np.array(TYPES)[np.minimum(pick, len(TYPES) - 1)])
    outcome = rng.choice(OUTCOMES, k, p=OUTCOME_SHARES)
    day = rng.integers(15, 45, k)
    effect = np.where(
        chosen & (outcome == "done"),
        effects_for(world, idx, kinds, absence, strain) * world.config.help_effect,
        0.0,
    )
    # The committee follows up half of those it helped later in the term (a home visit
    # or a meeting with the parents, as the care system's weekly reviews do), so action
    # goes on through the term, not only at its start; a child without parents' care is
    # sometimes referred outside then, when the school's own help was not enough.
    follow = world.follow_up_rng
    followed = struggling & (follow.random(k) < FOLLOW_UP_SHARE)
    draw = follow.random(k)
    later = np.select(
        [no_parents & (draw < REFERRED_LATER), draw < 0.7],
        ["external_referral", "home_visit"],
        "parent_meeting",
    )
    later_outcome = follow.choice(OUTCOMES, k, p=OUTCOME_SHARES)
    later_day = follow.integers(50, max(51, term_days - 7), k)
    later_effect = np.where(
        followed & (later_outcome == "done"),
        effects_for(world, idx, later, absence, strain) * world.config.help_effect * 0.5,
        0.0,
    )
    rows = np.concatenate([np.flatnonzero(chosen), np.flatnonzero(followed)])
    actions = pd.DataFrame(
        {
            "row": rows,
            "student_id": idx[rows],
            "date": [
                start + timedelta(days=int(d))
                for d in np.concatenate([day[chosen], later_day[followed]])
            ],
            "type": np.concatenate([kinds[chosen], later[followed]]),
            "outcome": np.concatenate([outcome[chosen], later_outcome[followed]]),
            "effect_logit": np.concatenate([effect[chosen], later_effect[followed]]),
        }
    )
    world.records["interventions"].append(
        actions[["student_id", "date", "type", "outcome"]].assign(staff_id=advisor[rows])
    )
    return np.asarray(effect + later_effect), actions


def keep_truth(world: World, acted: pd.DataFrame, logit: Array, without_help: Array) -> None:
    """Each action's true effect on its student's chance of leaving this term: the chance
    with the help minus the chance without it, from the student's own hazard
    (``effect_on_chance``); and the chance with all the help that student had this term
    minus the chance with none (``term_help_on_chance``, the same on each of its rows).
    ``logit`` is the log-odds with the help, ``without_help`` without any."""
    rows = acted.pop("row").to_numpy()
    effect = acted["effect_logit"].to_numpy()
    acted["effect_on_chance"] = sigmoid(logit[rows]) - sigmoid(logit[rows] - effect)
    acted["term_help_on_chance"] = sigmoid(logit[rows]) - sigmoid(without_help[rows])
    world.acted.append(acted)


def keep_visit_truth(
    world: World, idx: Array, year: int, term: int, *, logit: Array, strain: Array, absence: Array
) -> None:
    """What a home visit done this term would change for every student on the roll: the
    chance of leaving this term without any help and with a visit (a committee's plan,
    replayed, is judged on this; ``logit`` is the log-odds before any help)."""
    kinds = np.full(len(idx), "home_visit")
    visit = effects_for(world, idx, kinds, absence, strain) * world.config.help_effect
    world.visit_truth.append(
        pd.DataFrame(
            {
                "student_id": idx,
                "academic_year": year,
                "term": term,
                "chance_without_help": sigmoid(logit),
                "visit_effect_on_chance": sigmoid(logit + visit) - sigmoid(logit),
            }
        )
    )
