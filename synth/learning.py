"""Coursework through the term and grades at its end (with ร, มส and activity marks)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from synth.config import CORE_SUBJECTS, SUBJECTS, Array
from synth.household import survey_households
from synth.world import Cohort, World


def simulate_learning(world: World, cohort: Cohort, attendance_rate: Array) -> None:
    """Coursework through the term, grades at its end, and term 1's household survey."""
    idx, year, term, days = cohort.idx, cohort.year, cohort.term, cohort.days
    leave_day, onset, warned = cohort.leave_day, cohort.onset, cohort.warned
    risk, strain, term_end = cohort.risk, cohort.strain, cohort.end
    rng = world.rng
    k, n_days = len(idx), len(days)
    ability = world.attrs["ability"][idx]
    # Four pieces of coursework per core subject, spread over the term.
    parts = []
    for s_i, subject in enumerate(CORE_SUBJECTS):
        for piece, frac in enumerate((0.2, 0.4, 0.6, 0.85)):
            d = min(n_days - 1, int(frac * n_days) + s_i)
            on_roll = d < leave_day
            ramp = np.clip((d - onset) / np.maximum(1, leave_day - onset), 0, 1) * warned
            share = np.clip(
                0.62
                + 0.12 * ability
                - 0.05 * risk
                - 0.05 * strain
                - 0.3 * ramp
                + rng.normal(0, 0.1, k),
                0,
                1,
            )
            after_event = d >= cohort.event_day
            missing = rng.random(k) < 0.04 + 0.03 * (risk > 1) + 0.5 * ramp + 0.2 * after_event
            max_score = 20.0 if piece < 3 else 30.0
            sel = on_roll
            parts.append(
                pd.DataFrame(
                    {
                        "student_id": idx[sel],
                        "subject_code": f"{subject}{year % 100}{term}",
                        "date": days[d].strftime("%Y-%m-%d"),
                        "score": np.where(missing, np.nan, np.round(share * max_score, 1))[sel],
                        "max_score": max_score,
                        "submitted": np.where(missing, "false", "true")[sel],
                    }
                )
            )
    world.records["assessments"].append(pd.concat(parts, ignore_index=True))

    finished = leave_day >= n_days
    recorded = (term_end + timedelta(days=14)).isoformat()
    rows = []
    numeric = []
    for subject in SUBJECTS:
        score = (
            2.6
            + 0.65 * ability
            - 0.2 * risk
            - 0.25 * strain
            - 1.2 * warned * (onset < n_days)
            + rng.normal(0, 0.5, k)
        )
        grade = np.clip(np.round(score * 2) / 2, 0, 4) + 0.0  # no "-0"
        grade[grade == 0.5] = 0.0  # Thai grading has no 0.5
        numeric.append(grade)
        text = np.array([f"{g:g}" for g in grade], dtype=object)
        text[(attendance_rate < 0.8) & (rng.random(k) < 0.7)] = "มส"
        text[(grade < 1) & (rng.random(k) < 0.3)] = "ร"
        rows.append(
            pd.DataFrame(
                {
                    "student_id": idx,
                    "academic_year": year,
                    "term": term,
                    "subject_code": f"{subject}{year % 100}{term}",
                    "credits": 1.0 if subject in CORE_SUBJECTS else 0.5,
                    "grade": text,
                    "recorded_date": recorded,
                }
            )
        )
    activity = np.where((rng.random(k) < 0.05 + 0.2 * warned), "มผ", "ผ")
    rows.append(
        pd.DataFrame(
            {
                "student_id": idx,
                "academic_year": year,
                "term": term,
                "subject_code": f"ACT{year % 100}{term}",
                "credits": 0.0,
                "grade": activity,
                "recorded_date": recorded,
            }
        )
    )
    world.attrs["seen_gpa"][idx[finished]] = np.mean(numeric, axis=0)[finished]
    grades = pd.concat(rows, ignore_index=True)
    world.records["grades"].append(grades[np.tile(finished, len(SUBJECTS) + 1)])

    if term == 1:
        survey_households(world, idx, days[0].date(), risk)
