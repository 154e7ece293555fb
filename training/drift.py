"""Feature distributions: recorded at training, compared with today's (``ews drift``).

The reference is the most recent mature year of training rows (not the data's first
year, when every history is still empty), plus the model's own score on them. A week is
compared with the same weeks of the same term a year before: the reference pools the
week and its neighbours, because a term starting a weekday later moves the first piece
of coursework across a Monday. When the share of missing values today is one the
reference also shows in those weeks (coursework not yet set, say), only the recorded
values are compared. Features that move with the calendar rather than the students (days
since something, the school's past-years rate) are left out, and term-to-date figures
are compared from a term's third week, when they rest on more than a day or two.

The population stability index (PSI) over the reference's deciles is "moved" above
``MOVED`` and "watch" above ``WATCH``: on stationary synthetic data no feature reaches
"moved", and a real shift does (tests/training/test_drift.py).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from riskmodel.bundle import ModelBundle

SCORE = "model score"
# Features that move with the calendar, not with the students: days since an event grow
# every week, and the school's past dropout rate pools one more year each year.
CALENDAR_FEATURES = frozenset(
    {
        "days_since_last_present",
        "days_since_screening",
        "days_since_home_visit",
        "household_survey_age_days",
        "school_dropout_rate_past_years",
    }
)
# Term-to-date figures rest on a day or two in a term's first weeks (a term starting on a
# Friday has one more day by Monday than one starting on a Saturday): compared from then.
TERM_TO_DATE_FROM_WEEK = 2
REFERENCE_DAYS = 365
NEIGHBOURS = 1  # weeks on each side pooled into a week's reference
MOVED = 0.25  # population stability index: above this the feature has moved
WATCH = 0.10


def term_week(rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each row's term number and week within its term (0: the first week)."""
    weeks = ((rows["as_of"] - rows["term_start"]).dt.days // 7).astype(int)
    return rows["term"].astype(int), weeks


def reference_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The most recent year of the given (mature) rows, without the data's first academic
    year when a later one exists: in the first year every history (last term's grades, the
    previous screening) is still empty, which later years never look like."""
    start = rows["as_of"].max() - pd.Timedelta(days=REFERENCE_DAYS)
    recent = rows["as_of"] > start
    first_year = rows["academic_year"] == rows["academic_year"].min()
    if (recent & ~first_year).any():
        recent &= ~first_year
    chosen: pd.DataFrame = rows[recent]
    return chosen


def feature_distribution(
    rows: pd.DataFrame, features: list[str], scores: np.ndarray | None = None
) -> dict[str, Any]:
    """Per feature, term and week of term: decile edges of that week's values, the count of
    values in each bin, and the share missing. Calendar features are left out."""
    if scores is not None:
        rows = rows.assign(**{SCORE: scores})
        features = [*features, SCORE]
    terms, weeks = term_week(rows)
    out: dict[str, Any] = {}
    for feature in features:
        if feature in CALENDAR_FEATURES:
            continue
        out[feature] = {}
        for term in sorted(terms.unique()):
            in_term = (terms == term).to_numpy()
            by_week = {}
            for week in sorted(weeks[in_term].unique()):
                week_values = rows.loc[in_term & (weeks == week).to_numpy(), feature]
                present = week_values.dropna().to_numpy(dtype=float)
                edges = decile_edges(present)
                by_week[str(int(week))] = {
                    "rows": len(week_values),
                    "edges": [float(e) for e in edges],
                    "counts": _counts(present, edges),
                    "missing_share": float(week_values.isna().mean()),
                }
            out[feature][str(int(term))] = by_week
    return out


def decile_edges(values: np.ndarray) -> np.ndarray:
    """Decile edges moved to the middle of the gap between observed values.

    Many features are counts or ratios of counts (2 of 51 days against 2 of 52): an edge
    on an observed value would put a week's small shift on the other side of it. Values
    within 1% of the feature's range of each other count as one.
    """
    if len(values) == 0:
        return np.array([])
    scale = float(np.abs(values).max()) or 1.0
    step = scale / 100
    distinct = np.unique(np.round(values / step) * step)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, 11)))
    inner = []
    for edge in edges[1:-1]:
        above = np.searchsorted(distinct, edge, side="right")
        if 0 < above < len(distinct):
            inner.append((distinct[above - 1] + distinct[above]) / 2)
    return np.unique(np.array([edges[0], *inner, edges[-1]]))


def _counts(values: np.ndarray, edges: np.ndarray | list[float]) -> list[int]:
    """How many values fall in each bin cut by the inner edges (open-ended outer bins)."""
    edges = np.asarray(edges, dtype=float)
    if len(edges) < 2:
        return []
    index = np.searchsorted(edges[1:-1], values, side="right")
    return [int(c) for c in np.bincount(index, minlength=len(edges) - 1)]


def population_stability(expected: np.ndarray, actual: np.ndarray, floor: float = 1e-4) -> float:
    """PSI between two share vectors over the same bins."""
    e = np.clip(np.asarray(expected, dtype=float), floor, None)
    a = np.clip(np.asarray(actual, dtype=float), floor, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_report(bundle: ModelBundle, rows: pd.DataFrame) -> pd.DataFrame:
    """PSI per model input and for the model's score against the reference's same weeks
    of the same term, largest first."""
    if SCORE in bundle.distribution:
        rows = rows.assign(**{SCORE: bundle.raw_score(rows)})
    terms, weeks = term_week(rows)
    records = []
    for feature, by_term in bundle.distribution.items():
        if feature not in rows.columns:
            continue
        for key, index in rows.groupby([terms, weeks]).groups.items():
            term, week = cast(tuple[int, int], key)
            if feature.endswith("_term") and int(week) < TERM_TO_DATE_FROM_WEEK:
                continue
            reference = _reference_week(by_term.get(str(term), {}), int(week))
            if reference is None:
                continue
            chosen, missing_low, missing_high = reference
            values = rows.loc[index, feature].to_numpy(dtype=float)
            missing_now = float(np.isnan(values).mean())
            missing_then = float(chosen["missing_share"])
            counts = np.asarray(chosen["counts"], dtype=float)
            now = np.array(_counts(values[~np.isnan(values)], chosen["edges"]), dtype=float)
            if missing_low - 0.05 <= missing_now <= missing_high + 0.05:
                # A share missing the reference also shows in these weeks: compare values.
                if now.sum() == 0 or counts.sum() == 0:
                    continue
                psi = population_stability(counts / counts.sum(), now / now.sum())
            else:
                then = counts / max(counts.sum(), 1) * (1 - missing_then)
                current = now / max(now.sum(), 1) * (1 - missing_now)
                psi = population_stability(
                    np.array([*then, missing_then]), np.array([*current, missing_now])
                )
            records.append(
                {
                    "feature": feature,
                    "phase": f"term {term}, week {int(week) + 1}",
                    "psi": psi,
                    "missing_then": missing_then,
                    "missing_now": missing_now,
                    "status": "moved" if psi > MOVED else "watch" if psi > WATCH else "stable",
                }
            )
    columns = ["feature", "phase", "psi", "missing_then", "missing_now", "status"]
    if not records:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(records).sort_values("psi", ascending=False).reset_index(drop=True)


def _reference_week(weeks: dict[str, Any], week: int) -> tuple[dict[str, Any], float, float] | None:
    """The reference's same week (or, when it recorded no values, its nearest neighbour
    that did), with the range of missing shares around it. None: no week near."""
    near = [w for w in range(week - NEIGHBOURS, week + NEIGHBOURS + 1) if str(w) in weeks]
    if not near:
        last = max((int(w) for w in weeks), default=-1)
        if last < 0 or week <= last:
            return None
        near = [last]  # a week past the reference's last: its last
    shares = [float(weeks[str(w)]["missing_share"]) for w in near]
    with_values = [w for w in sorted(near, key=lambda w: abs(w - week)) if weeks[str(w)]["counts"]]
    if not with_values:
        return None
    return weeks[str(with_values[0])], min(shares), max(shares)
