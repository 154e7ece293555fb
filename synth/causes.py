"""Why students leave: the causes of a term's dropout hazard, which interact as real ones do.

The causes (each an assumption about Thai schools, taken from DOMAIN.md and the seed
documents, never tuned to make a model look good):

- **Background and strain.** A lasting background risk (poverty, caregiver, ability,
  distance, disability) and a term-to-term strain raise the hazard, as before.
- **Poverty and distance together.** A poor family far from school (more than 8 km)
  faces the cost of getting there every day; either alone matters far less.
- **A family event.** A few students each term (twice as many in poor families) meet a
  family event (a parent's job or health lost, a death) on some day of the term: their
  attendance collapses within two or three weeks and many leave soon after, with little
  sign before the event.
- **The 80% line.** A secondary or vocational student whose absence runs above a fifth
  of school days cannot sit exams (มส) and is far more likely to give up.
- **Level.** Vocational and upper-secondary students leave more often; older boys more
  than girls.
- **Help.** An intervention lowers the hazard of the students whose cause it addresses
  (``synth.interventions``).

Migrant families' moves and failed P6/M3 transitions are separate events
(``synth.term`` and ``synth.years``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.config import BASE_LOGIT, PRIMARY_LEVELS, Array, sigmoid
from synth.world import World

POOR_AND_FAR = 0.9  # log-odds when poverty > 0.8 and distance > 8 km
FAMILY_EVENT_RATE = 0.025  # a term; doubled for poor families
FAMILY_EVENT = 2.8  # log-odds of leaving after a family event this term
BELOW_80_PERCENT = 1.1  # log-odds for secondary and vocational students over the line
OLDER_BOYS = 0.25


@dataclass(frozen=True)
class TermCauses:
    """Each student's causes this term, before any help."""

    logit: Array  # log-odds of dropping out this term
    absence: Array  # the student's usual chance of being absent on a day this term
    family_event: Array  # True: a family event this term
    event_day: Array  # its school day (the term's length where there is none)


def term_causes(
    world: World, idx: Array, levels: Array, risk: Array, *, strain: Array, n_days: int
) -> TermCauses:
    """The hazard of leaving this term and its parts, for the students ``idx``."""
    a = world.attrs
    rng = world.rng
    k = len(idx)
    poverty, distance = a["poverty"][idx], a["distance"][idx]
    absence = sigmoid(-3.5 + 0.45 * risk + 0.5 * strain)
    event = rng.random(k) < FAMILY_EVENT_RATE * (1 + (poverty > 1))
    event_day = np.where(event, rng.integers(5, max(6, n_days - 15), k), n_days)
    older = ~np.isin(levels, PRIMARY_LEVELS)
    male_older = (a["sex"][idx] == 0) & older
    below_line = older & (absence > 0.2)
    logit = (
        np.array([BASE_LOGIT[lv] for lv in levels])
        + 0.7 * risk
        + 0.5 * strain
        + OLDER_BOYS * male_older
        + POOR_AND_FAR * ((poverty > 0.8) & (distance > 8))
        + BELOW_80_PERCENT * below_line
        + FAMILY_EVENT * event
    )
    return TermCauses(logit, absence, event, event_day)
