"""Synthetic Thai school data in the data contract's format (``ews synth``).

A term-by-term simulation of students in OBEC primary and secondary schools and OVEC
colleges. Each student has a lasting background risk (poverty, caregiver, distance,
ability) and a term-to-term "strain" that drifts (AR(1)); both raise absence, lower
grades, flag screenings and raise the chance of leaving. Most dropouts are preceded by a
ramp of absences and missing work over the weeks before they go; migrant children mostly
leave by moving, with little warning. P6 and M3 are transitions between schools, where
some children are lost. Interventions (home visits, referrals) lower the hazard somewhat.
A small share of rows carries realistic defects so ingest's rejection path runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import GRADE_LEVELS, SCREENING_DOMAINS, SOURCES_BY_NAME

PRIMARY_LEVELS = ("K1", "K2", "K3", "P1", "P2", "P3", "P4", "P5", "P6")
SECONDARY_LEVELS = ("M1", "M2", "M3", "M4", "M5", "M6")
VOCATIONAL_LEVELS = ("V1", "V2", "V3", "H1", "H2")
LEVEL_INDEX = {level: i for i, level in enumerate(GRADE_LEVELS)}
# Per-term dropout log-odds at zero background risk, by level.
BASE_LOGIT = {
    **dict.fromkeys(("K1", "K2", "K3"), -8.5),
    **dict.fromkeys(("P1", "P2", "P3", "P4", "P5", "P6"), -6.9),
    **dict.fromkeys(("M1", "M2", "M3"), -5.8),
    **dict.fromkeys(("M4", "M5", "M6"), -5.1),
    **dict.fromkeys(("V1", "V2", "V3"), -3.9),
    **dict.fromkeys(("H1", "H2"), -4.4),
}
# DMC reasons (seed 002 counts), drawn for dropouts that are not migrant moves or disability.
REASON_WEIGHTS = {1: 347, 2: 60, 3: 40, 4: 19, 5: 10, 7: 6, 99: 20}
OLDER_REASON_WEIGHTS = {**REASON_WEIGHTS, 11: 120, 12: 60}
PROVINCES = ("สมุทรปราการ", "ตาก", "เชียงราย", "ขอนแก่น", "นครราชสีมา", "สงขลา", "อุบลราชธานี")
GIVEN_NAMES = (
    "สมชาย",
    "สมหญิง",
    "กิตติ",
    "อรุณี",
    "ธนพล",
    "พิมพ์ชนก",
    "วรเชษฐ์",
    "ณัฐธิดา",
    "ชยพล",
    "ปวีณา",
    "Aung",
    "Mya",
    "Sokha",
    "Kham",
)
FAMILY_NAMES = ("ใจดี", "ทองคำ", "ศรีสุข", "บุญมา", "แก้วมณี", "สุขสวัสดิ์", "วงศ์ไทย", "พรหมมา")
SCHOOL_PREFIX = {"primary": "P", "secondary": "S", "vocational": "C"}
SUBJECTS = ("TH", "MA", "SC", "SO", "EN", "PE", "AR", "CA")
CORE_SUBJECTS = ("TH", "MA", "SC", "EN")
DISABILITY_TYPES = ("learning", "intellectual", "visual", "hearing", "physical", "autism")


@dataclass
class SynthConfig:
    """What to generate. ``students`` counts every student seen over the years."""

    schools: int = 20
    students: int = 12_000
    years: int = 3
    first_year: int = 2566  # Buddhist Era
    seed: int = 0
    defect_rate: float = 0.002
    # Numbering starts here, so that batches generated one after another (to stream a
    # large population) never share a school or student ID.
    first_school: int = 0
    first_student: int = 0


@dataclass
class SynthResult:
    frames: dict[str, pd.DataFrame]
    defects: dict[str, int] = field(default_factory=dict)
    # Truth kept for checks; never written to the data directory.
    dropouts: pd.DataFrame = field(default_factory=pd.DataFrame)


def thai_term_dates(academic_year: int, term: int) -> tuple[date, date]:
    """The Thai default calendar: term 1 16 May - 10 Oct, term 2 1 Nov - 31 Mar."""
    year = academic_year - 543
    if term == 1:
        return date(year, 5, 16), date(year, 10, 10)
    return date(year, 11, 1), date(year + 1, 3, 31)


def valid_national_id(rng: np.random.Generator) -> str:
    digits = [int(rng.integers(1, 9))] + [int(d) for d in rng.integers(0, 10, 11)]
    check = (11 - sum(d * w for d, w in zip(digits, range(13, 1, -1), strict=True)) % 11) % 10
    return "".join(map(str, digits)) + str(check)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _be_slash(dates: pd.Series) -> pd.Series:
    """Format dates as Thai Excel writes them: dd/mm/yyyy in the Buddhist Era."""
    d = pd.to_datetime(dates)
    return d.dt.strftime("%d/%m/") + (d.dt.year + 543).astype(str)


class _Simulation:
    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.schools = self._make_schools()
        capacity = config.students
        self.n = 0
        # Student attributes, grown as cohorts enter.
        self.attrs: dict[str, np.ndarray] = {
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
            }.items()
        }
        self.records: dict[str, list[pd.DataFrame]] = {name: [] for name in SOURCES_BY_NAME}
        self.exit_rows: list[dict[str, object]] = []
        self.truth: list[dict[str, object]] = []
        self.leaving_next: np.ndarray = np.zeros(
            0, dtype=np.int64
        )  # non-continuation this year-end

    # ---------------------------------------------------------------- schools
    def _make_schools(self) -> pd.DataFrame:
        n = self.config.schools
        n_voc = max(1, round(n * 0.2))
        n_sec = max(1, round(n * 0.4))
        n_pri = max(1, n - n_voc - n_sec)
        kinds = ["primary"] * n_pri + ["secondary"] * n_sec + ["vocational"] * n_voc
        rows = []
        for i, kind in enumerate(kinds):
            rural = self.rng.random() < 0.55
            rows.append(
                {
                    "school_id": f"{SCHOOL_PREFIX[kind]}{1000 + self.config.first_school + i}",
                    "name": {
                        "primary": "โรงเรียนบ้าน",
                        "secondary": "โรงเรียน",
                        "vocational": "วิทยาลัยเทคนิค",
                    }[kind]
                    + PROVINCES[i % len(PROVINCES)]
                    + str(i),
                    "province": PROVINCES[i % len(PROVINCES)],
                    "affiliation": "OVEC" if kind == "vocational" else "OBEC",
                    "area": "rural" if rural else "urban",
                    "home_visit_capacity": int(self.rng.integers(4, 13)),
                    "kind": kind,
                    # Border provinces (ตาก, เชียงราย, สมุทรปราการ) teach many migrant children.
                    "migrant_share": 0.15
                    if PROVINCES[i % len(PROVINCES)] in PROVINCES[:3]
                    else 0.02,
                    "weight": {"primary": 0.8, "secondary": 1.2, "vocational": 1.3}[kind],
                }
            )
        return pd.DataFrame(rows)

    def _levels_of(self, kind: str) -> tuple[str, ...]:
        return {
            "primary": PRIMARY_LEVELS,
            "secondary": SECONDARY_LEVELS,
            "vocational": VOCATIONAL_LEVELS,
        }[kind]

    # --------------------------------------------------------------- students
    def _add_students(self, school: int, levels: list[str], academic_year: int) -> np.ndarray:
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
        migrant_share = self.schools.loc[school, "migrant_share"]
        rural = self.schools.loc[school, "area"] == "rural"
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
        # Typical age for the level, and some over-age children (repeated years).
        typical = np.array(
            [3 + LEVEL_INDEX[lv] if lv[0] in "KPM" else 15 + LEVEL_INDEX[lv] - 15 for lv in levels]
        )
        over_age = (rng.random(k) < 0.04 + 0.05 * (a["risk"][idx] > 1)).astype(int)
        a["birth_year"][idx] = (academic_year - 543) - typical - over_age
        return idx

    def _student_frame(self) -> pd.DataFrame:
        rng = self.rng
        a = {k: v[: self.n] for k, v in self.attrs.items()}
        n = self.n
        no_id = a["migrant"] & (rng.random(n) < 0.6)
        ids = [None if no_id[i] else valid_national_id(rng) for i in range(n)]
        migrant_nat = rng.choice(["MM", "KH", "LA", "XX"], n, p=[0.6, 0.2, 0.15, 0.05])
        # Born after mid-May counts toward the next year's cohort: age at 16 May is typical.
        birth = [
            date(int(y) - int(m >= 6), int(m), int(d))
            for y, m, d in zip(
                a["birth_year"], rng.integers(1, 13, n), rng.integers(1, 29, n), strict=True
            )
        ]
        return pd.DataFrame(
            {
                "student_id": self._student_ids(np.arange(n)),
                "school_id": self.schools["school_id"].to_numpy()[a["school"]],
                "given_name": rng.choice(GIVEN_NAMES, n),
                "family_name": rng.choice(FAMILY_NAMES, n),
                "national_id": ids,
                "sex": np.array(["M", "F", "X"])[a["sex"]],
                "birth_date": pd.to_datetime(birth).strftime("%Y-%m-%d"),
                "nationality": np.where(a["migrant"], migrant_nat, "TH"),
                "disability": np.where(a["disabled"], rng.choice(DISABILITY_TYPES, n), "none"),
            }
        )

    def _student_ids(self, idx: np.ndarray) -> np.ndarray:
        return np.char.add("ST", np.char.zfill((idx + self.config.first_student).astype(str), 6))

    # ------------------------------------------------------------------ years
    def run(self) -> SynthResult:
        config = self.config
        years = [config.first_year + i for i in range(config.years)]
        entrants_per_year = self._initial_population(years[0])
        for year in years:
            if year != years[0]:
                self._new_year(year, entrants_per_year)
            self._assign_rooms(year)
            for term in (1, 2):
                self._run_term(year, term)
            self._end_of_year(year)
        return self._finish(years)

    def _initial_population(self, year: int) -> int:
        weights = self.schools["weight"].to_numpy()
        initial = int(self.config.students * (0.82 if self.config.years > 1 else 1.0))
        per_school = self.rng.multinomial(initial, weights / weights.sum())
        for school, count in enumerate(per_school):
            levels = list(self._levels_of(self.schools.loc[school, "kind"]))
            # Fewer students in ปวส. than ปวช.; otherwise even across levels.
            p = np.array([0.6 if lv.startswith("H") else 1.0 for lv in levels])
            self._add_students(school, list(self.rng.choice(levels, count, p=p / p.sum())), year)
        remaining = self.config.students - self.n
        return max(0, remaining // max(1, self.config.years - 1))

    def _new_year(self, year: int, entrants: int) -> None:
        """Bring in the new cohorts from outside the system."""
        rng = self.rng
        # Entrants from outside the system go to each school's entry levels.
        weights = self.schools["weight"].to_numpy()
        per_school = rng.multinomial(entrants, weights / weights.sum())
        for school, count in enumerate(per_school):
            kind = self.schools.loc[school, "kind"]
            entry = {
                "primary": ["K1", "P1"],
                "secondary": ["M1", "M4"],
                "vocational": ["V1", "H1"],
            }[kind]
            self._add_students(school, list(rng.choice(entry, count, p=[0.8, 0.2])), year)

    def _assign_rooms(self, year: int) -> None:
        a = self.attrs
        active = np.flatnonzero(a["active"][: self.n])
        order = self.rng.permutation(active)
        key = a["school"][order] * 100 + a["level"][order]
        sorted_order = order[np.argsort(key, kind="stable")]
        key_sorted = a["school"][sorted_order] * 100 + a["level"][sorted_order]
        position = np.arange(len(sorted_order)) - np.searchsorted(key_sorted, key_sorted)
        a["room"][sorted_order] = position // 35 + 1

    def _end_of_year(self, year: int) -> None:
        """Graduations, P6/M3 transitions (some children lost), promotion, repetition."""
        a = self.attrs
        rng = self.rng
        n = self.n
        # Non-continuation dropouts of term 2 leave now, with no exit record.
        a["active"][self.leaving_next] = False
        self.leaving_next = np.zeros(0, dtype=np.int64)
        active = a["active"][:n].copy()
        level = a["level"][:n].copy()
        _, end = thai_term_dates(year, 2)
        grad_date = end
        final = {
            LEVEL_INDEX["P6"],
            LEVEL_INDEX["M3"],
            LEVEL_INDEX["M6"],
            LEVEL_INDEX["V3"],
            LEVEL_INDEX["H2"],
        }
        graduating = active & np.isin(level, list(final))
        repeat = active & ~graduating & (rng.random(n) < 0.01 + 0.03 * (a["ability"][:n] < -1.2))
        for i in np.flatnonzero(graduating):
            self.exit_rows.append(
                {"student_id": i, "exit_date": grad_date, "exit_type": "graduated"}
            )
        # Transitions: P6 → M1 at a secondary school; M3 → M4 here, or V1 at a college.
        lost_p = _sigmoid(
            -4.0 + 0.9 * a["risk"][:n] + 0.5 * a["strain"][:n] + 0.8 * a["migrant"][:n]
        )
        lost = (
            graduating
            & np.isin(level, [LEVEL_INDEX["P6"], LEVEL_INDEX["M3"]])
            & (rng.random(n) < lost_p)
        )
        for i in np.flatnonzero(lost):
            self.truth.append({"student_id": i, "kind": "failed_transition", "year": year})
        secondary = np.flatnonzero(self.schools["kind"] == "secondary")
        colleges = np.flatnonzero(self.schools["kind"] == "vocational")
        moving_on = graduating & ~lost
        p6 = moving_on & (level == LEVEL_INDEX["P6"])
        m3 = moving_on & (level == LEVEL_INDEX["M3"])
        if len(secondary):
            a["school"][:n][p6] = rng.choice(secondary, p6.sum())
            a["level"][:n][p6] = LEVEL_INDEX["M1"]
        else:
            a["active"][:n][p6] = False
        to_college = m3 & (rng.random(n) < 0.3) if len(colleges) else np.zeros(n, bool)
        if to_college.any():
            a["school"][:n][to_college] = rng.choice(colleges, to_college.sum())
            a["level"][:n][to_college] = LEVEL_INDEX["V1"]
        a["level"][:n][m3 & ~to_college] = LEVEL_INDEX["M4"]
        done = graduating & ~np.isin(level, [LEVEL_INDEX["P6"], LEVEL_INDEX["M3"]])
        a["active"][:n][done | lost] = False
        promote = active & ~graduating & ~repeat
        a["level"][:n][promote] += 1
        # K3 → P1 and V3 → (graduated) are handled above; H2 likewise.
        if np.any(a["level"][:n][promote] >= len(GRADE_LEVELS)):
            raise RuntimeError("a student was promoted past the last grade level")

    # ------------------------------------------------------------------- term
    def _run_term(self, year: int, term: int) -> None:
        a = self.attrs
        rng = self.rng
        n = self.n
        start, end = thai_term_dates(year, term)
        days = pd.bdate_range(start, end)
        n_days = len(days)
        idx = np.flatnonzero(a["active"][:n])
        k = len(idx)
        a["strain"][idx] = 0.6 * a["strain"][idx] + rng.normal(0, 0.8, k)
        risk = a["risk"][idx]
        strain = a["strain"][idx]
        levels = np.array(GRADE_LEVELS)[a["level"][idx]]
        school_ids = self.schools["school_id"].to_numpy()[a["school"][idx]]
        vocational = np.char.startswith(levels.astype(str), ("V")) | np.char.startswith(
            levels.astype(str), "H"
        )

        advisor = np.char.add(
            np.char.add(school_ids.astype(str), "-T"),
            np.char.zfill((a["level"][idx] * 10 + a["room"][idx]).astype(str), 3),
        )
        snapshot = date(start.year, 6, 10) if term == 1 else date(start.year, 11, 10)
        self.records["enrollments"].append(
            pd.DataFrame(
                {
                    "student_id": idx,
                    "academic_year": year,
                    "term": term,
                    "school_id": school_ids,
                    "grade_level": levels,
                    "classroom": np.char.add(
                        np.char.add(levels.astype(str), "/"), a["room"][idx].astype(str)
                    ),
                    "advisor_id": advisor,
                    "snapshot_date": snapshot,
                }
            )
        )

        # Interventions early in term for students the school could already see struggling.
        visible = (risk + strain > 1.6) & (rng.random(k) < 0.45)
        intervention_day = rng.integers(15, 45, k)
        self._interventions(
            idx[visible],
            [start + timedelta(days=int(d)) for d in intervention_day[visible]],
            advisor[visible],
            risk[visible],
        )
        helped = visible

        base = np.array([BASE_LOGIT[lv] for lv in levels])
        male_older = (a["sex"][idx] == 0) & ~np.isin(levels, PRIMARY_LEVELS)
        logit = base + 0.85 * risk + 0.6 * strain + 0.25 * male_older - 0.45 * helped
        drops = rng.random(k) < _sigmoid(logit)
        moves = a["migrant"][idx] & (
            rng.random(k) < 0.035
        )  # migrant families move, with little warning
        transfers = ~drops & ~moves & (rng.random(k) < 0.012)
        deaths = ~drops & ~moves & ~transfers & (rng.random(k) < 0.00005)

        leave_day = np.full(k, n_days, dtype=np.int64)  # index of the first day not attended
        leave_day[drops | moves | transfers | deaths] = rng.integers(
            15, n_days - 3, (drops | moves | transfers | deaths).sum()
        )
        # A quarter of dropouts are never recorded: they just do not come back next term.
        unrecorded = drops & (rng.random(k) < 0.25)
        leave_day[unrecorded] = n_days
        # Most dropouts disengage over weeks first; moves and a third of others are sudden.
        warned = drops & (rng.random(k) < 0.75)
        onset = np.maximum(0, leave_day - rng.integers(20, 80, k))
        onset[unrecorded] = np.maximum(0, n_days - rng.integers(20, 60, unrecorded.sum()))

        self._record_exits(
            idx,
            drops & ~unrecorded,
            moves,
            transfers,
            deaths,
            leave_day,
            days,
            levels,
            a["disabled"][idx],
            a["migrant"][idx],
        )
        for i in idx[drops | moves]:
            self.truth.append({"student_id": i, "kind": "dropout", "year": year, "term": term})

        attendance_rate = self._attendance(
            idx, days, leave_day, onset, warned, risk, strain, school_ids
        )
        self._coursework_and_grades(
            idx, year, term, days, leave_day, onset, warned, risk, strain, attendance_rate, end
        )
        self._screenings(
            idx, start, leave_day, onset, warned, risk, strain, advisor, vocational, days
        )

        left = drops | moves | transfers | deaths
        internal = transfers & (rng.random(k) < 0.3)
        same_kind = self.schools["kind"].to_numpy()[a["school"][idx]]
        for j in np.flatnonzero(internal):
            choices = np.flatnonzero(self.schools["kind"].to_numpy() == same_kind[j])
            a["school"][idx[j]] = rng.choice(choices)
        a["active"][idx[left & ~internal & ~unrecorded]] = False
        # Unrecorded dropouts finish the term on the roll and are gone at the next count.
        if term == 1:
            a["active"][idx[unrecorded]] = False
        else:
            self.leaving_next = np.concatenate([self.leaving_next, idx[unrecorded]])

    def _record_exits(
        self, idx, drops, moves, transfers, deaths, leave_day, days, levels, disabled, migrant
    ):  # type: ignore[no-untyped-def]
        rng = self.rng
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
            self.exit_rows.append(row)

    def _interventions(self, idx, dates, advisor, risk):  # type: ignore[no-untyped-def]
        if len(idx) == 0:
            return
        rng = self.rng
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
        self.records["interventions"].append(
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

    def _attendance(
        self, idx, days, leave_day, onset, warned, risk, strain, school_ids
    ) -> np.ndarray:  # type: ignore[no-untyped-def]
        rng = self.rng
        k, n_days = len(idx), len(days)
        base = _sigmoid(-3.5 + 0.45 * risk + 0.5 * strain)
        status = np.zeros((k, n_days), dtype=np.int8)  # 0 present 1 absent 2 late 3 sick 4 personal
        absent_prev = np.zeros(k, dtype=bool)
        day_index = np.arange(n_days)
        ramp_len = np.maximum(1, leave_day - onset)
        for d in day_index:
            ramp = np.clip((d - onset) / ramp_len, 0, 1) * warned
            p = base + (0.75 - base) * ramp**1.3
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
        thai_school = np.isin(school_ids[rows], self._thai_status_schools())
        self.records["attendance"].append(
            pd.DataFrame(
                {
                    "student_id": idx[rows],
                    "date": days[cols].strftime("%Y-%m-%d"),
                    "status": np.where(thai_school, thai_words[codes], words[codes]),
                }
            )
        )
        attended = np.where(on_roll, np.isin(status, (0, 2)), 0).sum(axis=1)
        return attended / np.maximum(1, on_roll.sum(axis=1))

    def _thai_status_schools(self) -> np.ndarray:
        return self.schools["school_id"].to_numpy()[::3]

    def _coursework_and_grades(
        self,
        idx,
        year,
        term,
        days,
        leave_day,
        onset,
        warned,
        risk,
        strain,  # type: ignore[no-untyped-def]
        attendance_rate,
        term_end,
    ):
        rng = self.rng
        k, n_days = len(idx), len(days)
        ability = self.attrs["ability"][idx]
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
                missing = rng.random(k) < 0.04 + 0.03 * (risk > 1) + 0.5 * ramp
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
        self.records["assessments"].append(pd.concat(parts, ignore_index=True))

        finished = leave_day >= n_days
        recorded = (term_end + timedelta(days=14)).isoformat()
        rows = []
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
        grades = pd.concat(rows, ignore_index=True)
        self.records["grades"].append(grades[np.tile(finished, len(SUBJECTS) + 1)])

        if term == 1:
            self._household(idx, days[0].date(), risk)

    def _household(self, idx, term_start: date, risk) -> None:  # type: ignore[no-untyped-def]
        rng = self.rng
        a = self.attrs
        kinds = self.schools["kind"].to_numpy()[a["school"][idx]]
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
        distance = np.round(a["distance"][sel], 1)
        survey_day = [term_start + timedelta(days=int(d)) for d in rng.integers(20, 60, k)]
        self.records["household"].append(
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
                    "housing": np.where(
                        poverty > 1.2, "poor", np.where(poverty > 0, "fair", "good")
                    ),
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

    def _screenings(
        self, idx, start, leave_day, onset, warned, risk, strain, advisor, vocational, days
    ):  # type: ignore[no-untyped-def]
        rng = self.rng
        k = len(idx)
        day = np.minimum(rng.integers(18, 35, k), len(days) - 1)
        on_roll = day < leave_day
        ramp = np.clip((day - onset) / np.maximum(1, leave_day - onset), 0, 1) * warned
        a = self.attrs
        pressure = {
            "learning": -0.4 * a["ability"][idx] + 0.3 * strain,
            "health": 0.2 * risk,
            "economic": 0.9 * a["poverty"][idx],
            "protection": 0.3 * a["caregiver_risk"][idx] + 0.2 * strain,
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
        sdq = np.clip(
            np.round(9 + 2.5 * strain + 1.5 * risk + 5 * ramp + rng.normal(0, 3.5, k)), 0, 40
        )
        split = rng.dirichlet(np.ones(4), k)
        sub = np.minimum(10, np.floor(split * sdq[:, None])).astype(int)
        columns |= {
            "sdq_total": sdq.astype(int),
            "sdq_emotional": sub[:, 0],
            "sdq_conduct": sub[:, 1],
            "sdq_hyperactivity": sub[:, 2],
            "sdq_peer": sub[:, 3],
            "sdq_prosocial": np.clip(
                np.round(7 - 0.5 * strain + rng.normal(0, 1.5, k)), 0, 10
            ).astype(int),
            "overall": worst,
        }
        frame = pd.DataFrame(columns)
        english = np.array(["normal", "at_risk", "problem"])
        groups = np.array(["ไว้ใจ", "ห่วงใย", "ใกล้ชิด"])
        for domain in (*SCREENING_DOMAINS, "overall"):
            levels_of = frame[domain].to_numpy()
            frame[domain] = np.where(vocational, groups[levels_of], english[levels_of])
        self.records["screenings"].append(frame[on_roll])

    # ----------------------------------------------------------------- finish
    def _finish(self, years: list[int]) -> SynthResult:
        frames: dict[str, pd.DataFrame] = {}
        schools = self.schools.drop(columns=["kind", "migrant_share", "weight"])
        frames["schools"] = schools
        frames["calendar"] = pd.DataFrame(
            [
                {
                    "school_id": "",
                    "academic_year": y,
                    "term": t,
                    "start_date": thai_term_dates(y, t)[0].isoformat(),
                    "end_date": thai_term_dates(y, t)[1].isoformat(),
                }
                for y in years
                for t in (1, 2)
            ]
        )
        frames["students"] = self._student_frame()
        for name in (
            "enrollments",
            "attendance",
            "grades",
            "assessments",
            "household",
            "screenings",
            "interventions",
        ):
            frame = (
                pd.concat(self.records[name], ignore_index=True)
                if self.records[name]
                else pd.DataFrame()
            )
            if len(frame):
                frame["student_id"] = self._student_ids(frame["student_id"].to_numpy())
            frames[name] = frame
        exits = pd.DataFrame(self.exit_rows)
        exits["student_id"] = self._student_ids(exits["student_id"].to_numpy())
        exits["reason_code"] = exits.get("reason_code", pd.Series(dtype=float)).astype("Int64")
        frames["exits"] = exits.reindex(columns=SOURCES_BY_NAME["exits"].column_names)
        # Thai Excel exports: Buddhist-Era dd/mm/yyyy in the household and intervention files.
        frames["household"]["survey_date"] = _be_slash(frames["household"]["survey_date"])
        frames["interventions"]["date"] = _be_slash(frames["interventions"]["date"])
        frames["interventions"] = frames["interventions"].drop_duplicates(
            ["student_id", "date", "type"]
        )
        truth = pd.DataFrame(self.truth)
        if len(truth):
            truth["student_id"] = self._student_ids(truth["student_id"].to_numpy())
        for name, frame in frames.items():
            frames[name] = frame.reindex(columns=SOURCES_BY_NAME[name].column_names)
        return SynthResult(frames, dropouts=truth)


def _inject_defects(result: SynthResult, rate: float, rng: np.random.Generator) -> None:
    """Realistic defects: typos, impossible values, unknown ids, blank required cells.

    Each defect makes its row invalid under the contract, so ingest must reject exactly
    these rows. Missing optional values are added too; those are not defects.
    """
    if rate <= 0:
        return
    f = result.frames

    def pick(frame: pd.DataFrame, share: float = 1.0) -> np.ndarray:
        count = rng.binomial(len(frame), rate * share)
        return (
            rng.choice(frame.index.to_numpy(), count, replace=False) if count else np.zeros(0, int)
        )

    # Missing optional values: not defects, the pipeline must live with them.
    household = f["household"]
    household.loc[pick(household, 20), "monthly_income"] = np.nan
    household.loc[pick(household, 10), "distance_km"] = np.nan
    defects_by_frame = {
        "attendance": (("status", "presnt"), ("date", "31/02/2567"), ("student_id", None)),
        "grades": (("grade", "5"),),
        "assessments": (("score", "-3"),),
        "household": (("monthly_income", "ไม่ทราบ"),),
        "screenings": (("sdq_total", "45"),),
        "enrollments": (("advisor_id", ""),),
    }
    for frame_name, defects in defects_by_frame.items():
        frame = f[frame_name]
        # Distinct rows per defect, so each bad row carries exactly one defect.
        rows = pick(frame)
        for (column, bad_value), part in zip(
            defects, np.array_split(rows, len(defects)), strict=True
        ):
            if frame[column].dtype != object:
                frame[column] = frame[column].astype(object)
            # Unknown students: ids nobody enrolled, one each so they do not collide.
            frame.loc[part, column] = (
                bad_value if bad_value is not None else [f"XX{i:06d}" for i in range(len(part))]
            )
            result.defects[f"{frame_name}.{column}"] = len(part)
    students = f["students"]
    with_id = students.index[students["national_id"].notna()].to_numpy()
    broken = rng.choice(with_id, min(len(with_id), max(1, int(len(with_id) * rate))), replace=False)
    students.loc[broken, "national_id"] = [
        s[:-1] + str((int(s[-1]) + 1) % 10) for s in students.loc[broken, "national_id"]
    ]
    result.defects["students.national_id"] = len(broken)


def generate(config: SynthConfig) -> SynthResult:
    """Simulate the schools and return the contract's source frames."""
    result = _Simulation(config).run()
    _inject_defects(result, config.defect_rate, np.random.default_rng(config.seed + 1))
    return result


def write_directory(result: SynthResult, out: Path) -> None:
    """Write one CSV per source, as schools send them (one file in Windows-874)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in result.frames.items():
        # Thai Excel on Windows saves CSV as Windows-874; the college screening export does.
        encoding = {"screenings": "cp874", "students": "utf-8-sig"}.get(name, "utf-8")
        frame.to_csv(out / f"{name}.csv", index=False, encoding=encoding)


def dropout_rates_by_level(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Annual dropout rate by level band, as the DMC would count it.

    A student enrolled in a year counts as a dropout of that year when they have a dropout
    exit in it, or vanish from the next enrolment with no transfer, graduation or death.
    """
    enrol = frames["enrollments"][["student_id", "academic_year", "term", "grade_level"]].copy()
    enrol["academic_year"] = pd.to_numeric(enrol["academic_year"], errors="coerce")
    enrol = enrol.dropna(subset=["academic_year"])
    first_term = enrol.sort_values(["academic_year", "term"]).drop_duplicates(
        ["student_id", "academic_year"]
    )
    exits = frames["exits"].copy()
    exits["exit_date"] = pd.to_datetime(exits["exit_date"], errors="coerce")
    exits["academic_year"] = exits["exit_date"].dt.year + 543 - (exits["exit_date"].dt.month < 5)
    years = sorted(first_term["academic_year"].unique())
    rows = []
    for year in years[:-1]:  # the last year has no next enrolment to check against
        cohort = first_term[first_term["academic_year"] == year]
        in_next = set(enrol.loc[enrol["academic_year"] == year + 1, "student_id"])
        year_exits = exits[exits["academic_year"] == year]
        # Graduating from P6 or M3 and enrolling nowhere is a failed transition, a dropout.
        transition = set(cohort.loc[cohort["grade_level"].isin(["P6", "M3"]), "student_id"])
        explained = set(year_exits.loc[year_exits["exit_type"] != "dropout", "student_id"])
        explained -= transition & set(
            year_exits.loc[year_exits["exit_type"] == "graduated", "student_id"]
        )
        dropped = set(year_exits.loc[year_exits["exit_type"] == "dropout", "student_id"])
        gone = set(cohort["student_id"]) - in_next - explained
        cohort = cohort.assign(dropout=cohort["student_id"].isin(dropped | gone))
        rows.append(cohort)
    table = pd.concat(rows)
    band = (
        table["grade_level"]
        .str[0]
        .map(
            {"K": "pre-primary", "P": "primary", "V": "vocational (ปวช.)", "H": "vocational (ปวส.)"}
        )
    )
    upper = table["grade_level"].isin(["M4", "M5", "M6"])
    band = band.fillna(
        pd.Series(np.where(upper, "upper secondary", "lower secondary"), index=band.index)
    )
    order = [
        "pre-primary",
        "primary",
        "lower secondary",
        "upper secondary",
        "vocational (ปวช.)",
        "vocational (ปวส.)",
    ]
    summary = table.assign(level=band).groupby("level")["dropout"].agg(["size", "sum", "mean"])
    summary = summary.reindex([o for o in order if o in summary.index])
    summary["sum"] = summary["sum"].astype(int)
    return summary.rename(
        columns={"size": "student_years", "sum": "dropouts", "mean": "annual_rate"}
    )
