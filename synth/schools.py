"""Schools and colleges: kind, province, area, migrant share and home-visit capacity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.config import (
    PRIMARY_LEVELS,
    PROVINCES,
    SCHOOL_PREFIX,
    SECONDARY_LEVELS,
    VOCATIONAL_LEVELS,
    SynthConfig,
)


def make_schools(config: SynthConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = config.schools
    n_voc = max(1, round(n * 0.2))
    n_sec = max(1, round(n * 0.4))
    n_pri = max(1, n - n_voc - n_sec)
    kinds = ["primary"] * n_pri + ["secondary"] * n_sec + ["vocational"] * n_voc
    rows = []
    for i, kind in enumerate(kinds):
        rural = rng.random() < 0.55
        rows.append(
            {
                "school_id": f"{SCHOOL_PREFIX[kind]}{1000 + config.first_school + i}",
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
                "home_visit_capacity": int(rng.integers(4, 13)),
                "kind": kind,
                # Border provinces (ตาก, เชียงราย, สมุทรปราการ) teach many migrant children.
                "migrant_share": 0.15 if PROVINCES[i % len(PROVINCES)] in PROVINCES[:3] else 0.02,
                "weight": {"primary": 0.8, "secondary": 1.2, "vocational": 1.3}[kind],
            }
        )
    return pd.DataFrame(rows)


def levels_of(kind: str) -> tuple[str, ...]:
    return {
        "primary": PRIMARY_LEVELS,
        "secondary": SECONDARY_LEVELS,
        "vocational": VOCATIONAL_LEVELS,
    }[kind]
