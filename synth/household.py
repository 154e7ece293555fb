"""Household poverty surveys (the equity fund's proxy means test) early in term 1."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from synth.config import Array
from synth.world import World


def survey_households(world: World, idx: Array, term_start: date, risk: Array) -> None:
    """A poverty survey for most students a few weeks into term 1 (colleges survey fewer)."""
    rng = world.rng
    a = world.attrs
    kinds = world.schools["kind"].to_numpy()[a["school"][idx]]
    surveyed = (kinds != "vocational") | (rng.random(len(idx)) < 0.6)
    sel = idx[surveyed]
    k = len(sel)
    poverty = a["poverty"][sel]
    size = rng.integers(2, 9, k)
    per_person = np.exp(8.3 - 0.55 * poverty + rng.normal(0, 0.25, k))
    income = np.round(per_person * size, -2)
    welfare = (per_person < 3000) & (rng.random(k) < 0.7)
    equity = np.where(
        per_person < 1500, "extremely_poor", np.where(per_person < 3000, "poor", "none")
    )
    caregivers = np.array(
        ["both_parents", "mother", "father", "grandparents", "relatives", "other", "none"]
    )
    cg_risk = a["caregiver_risk"][sel]
    caregiver = caregivers[
        np.select(
            [
                cg_risk == 0.0,
                cg_risk == 0.3,
                cg_risk == 0.9,
                cg_risk == 0.7,
                cg_risk == 0.8,
                cg_risk == 1.6,
            ],
            [0, rng.choice([1, 2], k, p=[0.75, 0.25]), 3, 4, 5, 6],
            0,
        )
    ]
    a["seen_poor"][sel] = per_person < 3000
    a["seen_no_parents"][sel] = cg_risk >= 0.7  # grandparents, relatives, others or nobody
    distance = np.round(a["distance"][sel], 1)
    survey_day = [term_start + timedelta(days=int(d)) for d in rng.integers(20, 60, k)]
    world.records["household"].append(
        pd.DataFrame(
            {
                "student_id": sel,
                "survey_date": survey_day,
                "household_size": size,
                "monthly_income": income,
                "caregiver": caregiver,
                "dependants_elderly": rng.poisson(0.4 + 0.2 * (poverty > 1), k),
                "dependants_disabled": rng.poisson(0.05 + 0.1 * (poverty > 1), k),
                "dependants_unemployed": rng.poisson(0.2 + 0.3 * (poverty > 1), k),
                "housing": np.where(poverty > 1.2, "poor", np.where(poverty > 0, "fair", "good")),
                "owns_land": np.where(rng.random(k) < 0.4, "true", "false"),
                "has_electricity": np.where(rng.random(k) < 0.97, "true", "false"),
                "welfare_card": np.where(welfare, "true", "false"),
                "equity_status": equity,
                "distance_km": distance,
                "travel_minutes": np.round(distance * rng.uniform(2, 6, k) + 5),
            }
        )
    )
    del risk
