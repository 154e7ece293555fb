"""Daily attendance: a background absence rate, streaks, and the ramp before leaving."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.config import Array, sigmoid
from synth.world import Cohort, World


def simulate_attendance(world: World, cohort: Cohort) -> Array:
    """Record every school day of the term; returns each student's share of days attended."""
    idx, days, leave_day, onset = cohort.idx, cohort.days, cohort.leave_day, cohort.onset
    warned, risk, strain, school_ids = cohort.warned, cohort.risk, cohort.strain, cohort.school_ids
    rng = world.rng
    k, n_days = len(idx), len(days)
    base = sigmoid(-3.5 + 0.45 * risk + 0.5 * strain)
    status = np.zeros((k, n_days), dtype=np.int8)  # 0 present 1 absent 2 late 3 sick 4 personal
    absent_prev = np.zeros(k, dtype=bool)
    day_index = np.arange(n_days)
    ramp_len = np.maximum(1, leave_day - onset)
    for d in day_index:
        ramp = np.clip((d - onset) / ramp_len, 0, 1) * warned
        p = base + (0.75 - base) * ramp**1.3 + 0.2 * (d >= cohort.event_day)
        p = np.where(absent_prev, np.maximum(p, 0.35 + 0.5 * ramp), p)
        absent = rng.random(k) < p
        kind = rng.random(k)
        unexplained_share = 0.35 + 0.55 * ramp
        status[:, d] = np.where(
            absent,
            np.where(
                kind < unexplained_share,
                1,
                np.where(kind < unexplained_share + 0.4 * (1 - unexplained_share), 3, 4),
            ),
            np.where(rng.random(k) < 0.03 + 0.04 * (risk > 1) + 0.1 * ramp, 2, 0),
        )
        absent_prev = absent
    on_roll = day_index[None, :] < leave_day[:, None]
    rows, cols = np.nonzero(on_roll)
    codes = status[rows, cols]
    words = np.array(["present", "absent", "late", "sick_leave", "personal_leave"])
    thai_words = np.array(["มา", "ขาด", "สาย", "ลาป่วย", "ลากิจ"])
    # Some schools' systems export the Thai status words.
    thai_school = np.isin(school_ids[rows], thai_status_schools(world))
    world.records["attendance"].append(
        pd.DataFrame(
            {
                "student_id": idx[rows],
                "date": days[cols].strftime("%Y-%m-%d"),
                "status": np.where(thai_school, thai_words[codes], words[codes]),
            }
        )
    )
    attended = np.where(on_roll, np.isin(status, (0, 2)), 0).sum(axis=1)
    rate: Array = attended / np.maximum(1, on_roll.sum(axis=1))
    world.attrs["seen_absence"][idx] = 1 - rate
    return rate


def thai_status_schools(world: World) -> Array:
    return world.schools["school_id"].to_numpy()[::3]
