"""``ews drift``: how far today's features moved from the champion's training distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskmodel.bundle import ModelBundle
from training.train import bin_shares, term_phase

MOVED = 0.25  # population stability index: above this the feature has moved
WATCH = 0.10


def population_stability(expected: list[float], actual: list[float], floor: float = 1e-4) -> float:
    """PSI between two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, dtype=float), floor, None)
    a = np.clip(np.asarray(actual, dtype=float), floor, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_report(bundle: ModelBundle, rows: pd.DataFrame) -> pd.DataFrame:
    """PSI per model input (deciles plus a missing bin) against training rows of the same
    phase of term, largest first."""
    phases = term_phase(rows)
    records = []
    for feature, by_phase in bundle.distribution.items():
        if feature not in rows.columns:
            continue
        for phase in sorted(phases.unique()):
            stats = by_phase.get(str(phase))
            if not stats or not stats["edges"]:
                continue
            values = rows.loc[phases == phase, feature].to_numpy(dtype=float)
            present = values[~np.isnan(values)]
            missing_now = float(np.isnan(values).mean()) if len(values) else 1.0
            missing_then = float(stats["missing_share"])
            shares = bin_shares(present, stats["edges"]) or [0.0] * len(stats["shares"])
            now = np.asarray(shares) * (1 - missing_now)
            then = np.asarray(stats["shares"]) * (1 - missing_then)
            psi = population_stability([*then, missing_then], [*now, missing_now])
            records.append(
                {
                    "feature": feature,
                    "phase": int(phase),
                    "psi": psi,
                    "missing_then": missing_then,
                    "missing_now": missing_now,
                    "status": "moved" if psi > MOVED else "watch" if psi > WATCH else "stable",
                }
            )
    return pd.DataFrame(records).sort_values("psi", ascending=False).reset_index(drop=True)
