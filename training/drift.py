"""Feature distributions: recorded at training, compared with today's (``ews drift``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskmodel.bundle import ModelBundle


def term_phase(rows: pd.DataFrame) -> pd.Series:
    """0 for the first six weeks of a term, 1 for the next six, 2 after: features such as
    term-to-date rates and days since screening follow the term's rhythm."""
    weeks = (rows["as_of"] - rows["term_start"]).dt.days // 7
    return (weeks // 6).clip(upper=2).astype(int)


def feature_distribution(rows: pd.DataFrame, features: list[str]) -> dict[str, Any]:
    """Decile edges and shares of each feature on the training rows, per phase of term."""
    phases = term_phase(rows)
    out: dict[str, Any] = {}
    for feature in features:
        out[feature] = {}
        for phase in sorted(phases.unique()):
            values = rows.loc[phases == phase, feature].to_numpy(dtype=float)
            present = values[~np.isnan(values)]
            edges = (
                np.unique(np.quantile(present, np.linspace(0, 1, 11)))
                if len(present)
                else np.array([])
            )
            out[feature][str(phase)] = {
                "edges": [float(e) for e in edges],
                "shares": bin_shares(present, edges),
                "missing_share": float(np.isnan(values).mean()) if len(values) else 1.0,
            }
    return out


def bin_shares(values: np.ndarray, edges: np.ndarray | list[float]) -> list[float]:
    """Shares of values in the bins cut by the inner edges (open-ended outer bins)."""
    edges = np.asarray(edges, dtype=float)
    if len(values) == 0 or len(edges) < 2:
        return []
    index = np.searchsorted(edges[1:-1], values, side="right")
    counts = np.bincount(index, minlength=len(edges) - 1)
    return [float(c) for c in counts / counts.sum()]


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
