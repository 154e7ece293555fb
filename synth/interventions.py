"""What schools do for students they can see struggling: home visits, meetings, referrals."""

from __future__ import annotations

from datetime import date

import pandas as pd

from synth.config import Array
from synth.world import World


def record_interventions(
    world: World, idx: Array, dates: list[date], advisor: Array, risk: Array
) -> None:
    """One action each for students the school can see struggling."""
    if len(idx) == 0:
        return
    rng = world.rng
    kinds = rng.choice(
        [
            "home_visit",
            "parent_meeting",
            "counselling",
            "tutoring",
            "scholarship_referral",
            "external_referral",
        ],
        len(idx),
        p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05],
    )
    outcome = rng.choice(
        ["done", "not_home", "refused", "moved"], len(idx), p=[0.8, 0.12, 0.05, 0.03]
    )
    world.records["interventions"].append(
        pd.DataFrame(
            {
                "student_id": idx,
                "date": dates,
                "type": kinds,
                "outcome": outcome,
                "staff_id": advisor,
            }
        )
    )
