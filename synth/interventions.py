"""What schools do for students, and what it does for them: the simulator's truth.

Early in each term the school acts for students it can see struggling (and visits a few
others' homes as routine). The action it chooses follows what it sees: a poor family is
referred to the equity fund, a weak student tutored, a troubled one counselled, most
visited at home. An action done (not "not at home" or "refused") lowers the student's
log-odds of leaving this term by its effect, which depends on the student:

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
own hazard) is kept as truth for checks (``SynthResult.effects``).
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
    risk: Array,
    strain: Array,
    absence: Array,
    advisor: Array,
    start: date,
) -> tuple[Array, pd.DataFrame]:
    """Choose and record this term's actions.

    Returns:
        Each student's change in log-odds of leaving (0 for those not helped), and the
        actions taken (for ``keep_truth`` once the hazard is known).
    """
    rng = world.rng
    a = world.attrs
    k = len(idx)
    struggling = (risk + strain > 1.6) & (rng.random(k) < 0.45)
    routine = ~struggling & (rng.random(k) < ROUTINE_VISITS)
    chosen = struggling | routine
    weights = np.tile([0.4, 0.2, 0.15, 0.1, 0.1, 0.05], (k, 1))
    weights[:, 4] += 0.5 * (a["poverty"][idx] > 0.8)  # the equity fund for the poor
    weights[:, 3] += 0.4 * (a["ability"][idx] < -0.5)  # tutoring for the weak
    weights[:, 2] += 0.3 * (strain > 1)  # counselling for the troubled
    weights[:, 5] += 0.2 * (a["caregiver_risk"][idx] >= 0.8)  # outside help
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
    dates = [start + timedelta(days=int(d)) for d in day[chosen]]
    world.records["interventions"].append(
        pd.DataFrame(
            {
                "student_id": idx[chosen],
                "date": dates,
                "type": kinds[chosen],
                "outcome": outcome[chosen],
                "staff_id": advisor[chosen],
            }
        )
    )
    acted = pd.DataFrame(
        {
            "row": np.flatnonzero(chosen),
            "student_id": idx[chosen],
            "date": dates,
            "type": kinds[chosen],
            "outcome": outcome[chosen],
            "effect_logit": effect[chosen],
        }
    )
    return np.asarray(effect), acted


def keep_truth(world: World, acted: pd.DataFrame, logit: Array) -> None:
    """Each action's true effect on its student's chance of leaving this term: the chance
    with the help minus the chance without it, from the student's own hazard."""
    rows = acted.pop("row").to_numpy()
    effect = acted["effect_logit"].to_numpy()
    acted["effect_on_chance"] = sigmoid(logit[rows]) - sigmoid(logit[rows] - effect)
    world.acted.append(acted)
