"""What to simulate, what comes out, and the fixed facts of the simulated school system."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from schooldata.contract import GRADE_LEVELS

PRIMARY_LEVELS = ("K1", "K2", "K3", "P1", "P2", "P3", "P4", "P5", "P6")
SECONDARY_LEVELS = ("M1", "M2", "M3", "M4", "M5", "M6")
VOCATIONAL_LEVELS = ("V1", "V2", "V3", "H1", "H2")
Array = npt.NDArray[Any]
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
    # Multiplies every action's simulated effect: 0 makes help useless (the effect
    # estimates must then find nothing).
    help_effect: float = 1.0
    # Schools whose records will be written as they keep them (``write_directory``'s
    # ``school_files``): their rows carry no injected defect, since a class register has
    # no row for a misspelt status or an impossible date, so the defects announced are
    # exactly those ingest meets.
    school_files: int = 0


@dataclass
class SynthResult:
    frames: dict[str, pd.DataFrame]
    defects: dict[str, int] = field(default_factory=dict)  # rows ingest must reject
    blanked: dict[str, int] = field(default_factory=dict)  # optional values it must blank
    # Students carrying one ID by mistake, by how ("filled down", "at two schools"), kept
    # and linked by it to nobody.
    not_linked: dict[str, int] = field(default_factory=dict)
    # Truth kept for checks; never written among the source files.
    dropouts: pd.DataFrame = field(default_factory=pd.DataFrame)
    effects: pd.DataFrame = field(default_factory=pd.DataFrame)  # every action's true effect
    visits: pd.DataFrame = field(default_factory=pd.DataFrame)  # a visit's effect, everyone


def sigmoid(x: Array) -> Array:
    result: Array = 1.0 / (1.0 + np.exp(-x))
    return result
