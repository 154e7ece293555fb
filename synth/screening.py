"""Care-system screenings by the advisor: eight domains, SDQ scores, an overall group."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from schooldata.contract import SCREENING_DOMAINS
from synth.world import Cohort, World


def screen_students(world: World, cohort: Cohort) -> None:
    """One screening per student a few weeks into term, if they are still attending."""
    idx, start, days, advisor = cohort.idx, cohort.start, cohort.days, cohort.advisor
    leave_day, onset, warned = cohort.leave_day, cohort.onset, cohort.warned
    risk, strain, vocational = cohort.risk, cohort.strain, cohort.vocational
    rng = world.rng
    k = len(idx)
    day = np.minimum(rng.integers(18, 35, k), len(days) - 1)
    on_roll = day < leave_day
    ramp = np.clip((day - onset) / np.maximum(1, leave_day - onset), 0, 1) * warned
    a = world.attrs
    pressure = {
        "learning": -0.4 * a["ability"][idx] + 0.3 * strain,
        "health": 0.2 * risk,
        # A family event before the screening shows in its economic and protection domains.
        "economic": 0.9 * a["poverty"][idx] + 1.2 * (day >= cohort.event_day),
        "protection": 0.3 * a["caregiver_risk"][idx]
        + 0.2 * strain
        + 0.8 * (day >= cohort.event_day),
        "behaviour": 0.3 * strain + 0.2 * risk,
        "sexual": 0.2 * strain,
        "emotional": 0.35 * strain + 0.2 * risk,
        "internet": 0.2 * strain,
    }
    columns: dict[str, object] = {
        "student_id": idx,
        "screening_date": [start + timedelta(days=int(d * 7 / 5)) for d in day],
        "advisor_id": advisor,
    }
    worst = np.zeros(k, dtype=int)
    for domain in SCREENING_DOMAINS:
        z = pressure[domain] + 1.5 * ramp + rng.normal(0, 0.7, k)
        level = np.digitize(z, [1.1, 2.0])
        worst = np.maximum(worst, level)
        columns[domain] = level
    sdq = np.clip(np.round(9 + 2.5 * strain + 1.5 * risk + 5 * ramp + rng.normal(0, 3.5, k)), 0, 40)
    split = rng.dirichlet(np.ones(4), k)
    sub = np.minimum(10, np.floor(split * sdq[:, None])).astype(int)
    columns |= {
        "sdq_total": sdq.astype(int),
        "sdq_emotional": sub[:, 0],
        "sdq_conduct": sub[:, 1],
        "sdq_hyperactivity": sub[:, 2],
        "sdq_peer": sub[:, 3],
        "sdq_prosocial": np.clip(np.round(7 - 0.5 * strain + rng.normal(0, 1.5, k)), 0, 10).astype(
            int
        ),
        "overall": worst,
    }
    frame = pd.DataFrame(columns)
    english = np.array(["normal", "at_risk", "problem"])
    groups = np.array(["ไว้ใจ", "ห่วงใย", "ใกล้ชิด"])
    for domain in (*SCREENING_DOMAINS, "overall"):
        levels_of = frame[domain].to_numpy()
        frame[domain] = np.where(vocational, groups[levels_of], english[levels_of])
    world.records["screenings"].append(frame[on_roll])
    world.attrs["seen_screening"][idx[on_roll]] = worst[on_roll]
