"""The simulated population: every student's lasting attributes, and the records written so far.

Students are rows of arrays in ``attrs`` (grown as cohorts enter); the records of each
source accumulate in ``records`` as frames, and the truth kept for checks in ``truth``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import cast

import numpy as np
import pandas as pd

from schooldata.contract import SOURCES_BY_NAME
from synth.config import LEVEL_INDEX, Array, SynthConfig
from synth.schools import make_schools


@dataclass
class Cohort:
    """The students on the roll in one term, and when (if at all) each stops attending."""

    year: int
    term: int
    start: date
    end: date
    days: pd.DatetimeIndex  # the term's school days
    idx: Array  # the students' rows in ``World.attrs``
    risk: Array  # lasting background risk
    strain: Array  # this term's strain
    levels: Array  # grade level names
    school_ids: Array
    advisor: Array
    leave_day: Array  # index of the first school day not attended (len(days): stays)
    onset: Array  # first school day of the disengagement before leaving
    warned: Array  # True: leaves after weeks of disengagement; False: suddenly
    event_day: Array  # school day of a family event (len(days): none this term)

    @property
    def vocational(self) -> Array:
        names = self.levels.astype(str)
        result: Array = np.char.startswith(names, "V") | np.char.startswith(names, "H")
        return result


class World:
    """The simulation's state, shared by the steps that simulate each kind of record."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        # The committee's follow-ups draw from their own stream, so that simulating them
        # leaves every other draw of a seed's world as it was.
        self.follow_up_rng = np.random.default_rng(config.seed + 7)
        self.schools = make_schools(config, self.rng)
        capacity = config.students
        self.n = 0
        # Student attributes, grown as cohorts enter.
        self.attrs: dict[str, Array] = {
            k: np.zeros(capacity * 2, dtype=t)
            for k, t in {
                "school": np.int32,
                "level": np.int32,
                "active": bool,
                "risk": float,
                "strain": float,
                "ability": float,
                "migrant": bool,
                "disabled": bool,
                "sex": np.int8,
                "birth_year": np.int32,
                "room": np.int32,
                "intervened_until": np.int32,
                "poverty": float,
                "caregiver_risk": float,
                "distance": float,
                # What the school's own records last showed (synth.interventions.act):
                # last term's absence share and GPA, the last screening's worst group,
                # and the household survey's poverty and caregiver.
                "seen_absence": float,
                "seen_gpa": float,
                "seen_screening": np.int8,
                "seen_poor": bool,
                "seen_no_parents": bool,
            }.items()
        }
        self.records: dict[str, list[pd.DataFrame]] = {name: [] for name in SOURCES_BY_NAME}
        self.exit_rows: list[dict[str, object]] = []
        self.truth: list[dict[str, object]] = []
        # Every action taken and its true effect (synth.interventions.keep_truth).
        self.acted: list[pd.DataFrame] = []
        # Every student-term's chance of leaving without help and a home visit's effect.
        self.visit_truth: list[pd.DataFrame] = []
        self.leaving_next: Array = np.zeros(0, dtype=np.int64)  # non-continuation this year-end
        # Children who dropped out (or were lost at a transition) and may come back.
        # Children who dropped out (or were lost at a transition) and may come back: when
        # they left (academic year, term) and whether their school recorded it.
        self.left_school: dict[int, tuple[int, int, bool]] = {}
        self.lost_at_transition: set[int] = set()

    def add_students(self, school: int, levels: list[str], academic_year: int) -> Array:
        k = len(levels)
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        idx = np.arange(self.n, self.n + k)
        if idx[-1] >= len(self.attrs["school"]):
            for key, values in self.attrs.items():
                self.attrs[key] = np.concatenate([values, np.zeros_like(values)])
        self.n += k
        rng = self.rng
        a = self.attrs
        migrant_share = cast(float, self.schools.at[school, "migrant_share"])
        rural = self.schools.at[school, "area"] == "rural"
        a["school"][idx] = school
        a["level"][idx] = [LEVEL_INDEX[lv] for lv in levels]
        a["active"][idx] = True
        a["migrant"][idx] = rng.random(k) < migrant_share
        a["disabled"][idx] = rng.random(k) < 0.02
        a["sex"][idx] = np.where(rng.random(k) < 0.002, 2, rng.integers(0, 2, k))
        a["poverty"][idx] = rng.normal(0.4 if rural else -0.2, 1.0, k) + 0.6 * a["migrant"][idx]
        a["caregiver_risk"][idx] = rng.choice(
            [0.0, 0.3, 0.3, 0.9, 0.7, 0.8, 1.6], k, p=[0.55, 0.15, 0.05, 0.18, 0.05, 0.01, 0.01]
        )
        a["distance"][idx] = rng.lognormal(1.6 if rural else 1.0, 0.7, k)
        a["ability"][idx] = rng.normal(0, 1, k)
        a["risk"][idx] = (
            0.55 * a["poverty"][idx]
            + 0.5 * a["caregiver_risk"][idx]
            - 0.35 * a["ability"][idx]
            + 0.15 * np.log1p(a["distance"][idx])
            + 0.4 * a["disabled"][idx]
            + rng.normal(0, 0.5, k)
        )
        a["strain"][idx] = rng.normal(0, 0.6, k)
        a["seen_gpa"][idx] = 2.5  # nothing on record yet: nothing seen
        # Typical age for the level, and some over-age children (repeated years).
        typical = np.array(
            [3 + LEVEL_INDEX[lv] if lv[0] in "KPM" else 15 + LEVEL_INDEX[lv] - 15 for lv in levels]
        )
        over_age = (rng.random(k) < 0.04 + 0.05 * (a["risk"][idx] > 1)).astype(int)
        a["birth_year"][idx] = (academic_year - 543) - typical - over_age
        return idx

    def person_numbers(self, idx: Array) -> Array:
        """Children's numbers across batches generated one after another."""
        numbers: Array = np.asarray(idx, dtype=np.int64) + self.config.first_student
        return numbers
