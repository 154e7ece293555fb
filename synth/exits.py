"""Exit records: dropouts with a DMC reason, migrant moves, transfers and deaths."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from synth.config import OLDER_REASON_WEIGHTS, PRIMARY_LEVELS, REASON_WEIGHTS, Array
from synth.world import Cohort, World


def record_exits(
    world: World, cohort: Cohort, drops: Array, moves: Array, *, transfers: Array, deaths: Array
) -> None:
    """An exit record for every recorded departure, a few days after the last day attended."""
    idx, leave_day, days, levels = cohort.idx, cohort.leave_day, cohort.days, cohort.levels
    disabled, migrant = world.attrs["disabled"][idx], world.attrs["migrant"][idx]
    rng = world.rng
    for j in np.flatnonzero(drops | moves | transfers | deaths):
        exit_date = days[min(leave_day[j], len(days) - 1)].date() + timedelta(
            days=int(rng.integers(3, 20))
        )
        row: dict[str, object] = {"student_id": idx[j], "exit_date": exit_date}
        if transfers[j]:
            row |= {
                "exit_type": "transfer",
                "destination_school_id": f"X{rng.integers(10000, 99999)}",
            }
        elif deaths[j]:
            row |= {"exit_type": "deceased"}
        else:
            if moves[j] or (migrant[j] and rng.random() < 0.5):
                reason = 2
            elif disabled[j] and rng.random() < 0.6:
                reason = 8
            else:
                weights = (
                    REASON_WEIGHTS
                    if levels[j] in PRIMARY_LEVELS + ("M1", "M2", "M3")
                    else OLDER_REASON_WEIGHTS
                )
                codes = list(weights)
                p = np.array([weights[c] for c in codes], dtype=float)
                reason = int(rng.choice(codes, p=p / p.sum()))
            row |= {"exit_type": "dropout", "reason_code": reason}
        world.exit_rows.append(row)
