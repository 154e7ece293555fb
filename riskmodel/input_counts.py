"""This week's model inputs against the training reference (the weekly run, ``ews drift``).

The reference (``training.drift``) holds, per feature, term and week of term, the decile
edges of the training rows' values, the count in each bin and the share missing. A week
is compared with the same week of the same term a year before: the reference pools the
week and its neighbours, because a term starting a weekday later moves the first piece
of coursework across a Monday. When the share of values missing today is one the
reference also shows in those weeks (coursework not yet set, say), only the recorded
values are compared. Features that move with the calendar rather than the students (days
since something, the school's past-years rate) are not compared, and term-to-date figures
are compared from a term's third week, when they rest on more than a day or two. Values
recorded for too few students to compare (``MIN_VALUES``) are not judged, nor is the
week a term ends, which the reference holds only in part (its last day, after the
graduates had left: a population the same week a year later need not be).

Counting is separate from comparing: ``input_counts`` of several partitions add up to
the counts of the whole run, so a run on Dask compares exactly what a run in one process
would. The population stability index (PSI) over the reference's deciles is "moved" above
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
NEIGHBOURS = 1  # weeks on each side pooled into a week's reference
MOVED = 0.25  # population stability index: above this the feature has moved
WATCH = 0.10
# Recorded values a comparison of values needs on each side: with fewer, the PSI of two
# samples of the same distribution is itself about bins/n (0.2 for 45 values in ten
# bins), so a feature recorded for a few students (say, the previous school's GPA of
# those who moved) is not judged that week.
MIN_VALUES = 200
COUNT_COLUMNS = ["feature", "term", "week", "rows", "missing", "counts"]
REPORT_COLUMNS = ["feature", "phase", "psi", "missing_then", "missing_now", "status"]


def term_week(rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each row's term number and week within its term (0: the first week)."""
    weeks = ((rows["as_of"] - rows["term_start"]).dt.days // 7).astype(int)
    return rows["term"].astype(int), weeks


def bin_counts(values: np.ndarray, edges: np.ndarray | list[float]) -> list[int]:
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


def input_counts(
    bundle: ModelBundle, rows: pd.DataFrame, raw_scores: np.ndarray | None = None
) -> pd.DataFrame:
    """Per model input (and the model's score), term and week of term: rows, missing
    values and the count in each of the reference's bins. Counts of parts add up.

    ``raw_scores``: the model's raw score of each row, when the caller has it already.
    """
    if rows.empty or not bundle.distribution:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    if SCORE in bundle.distribution:
        score = bundle.raw_score(rows) if raw_scores is None else raw_scores
        rows = rows.assign(**{SCORE: score})
    terms, weeks = term_week(rows)
    groups = rows.groupby([terms, weeks]).groups.items()  # the same for every input
    records = []
    for feature, by_term in bundle.distribution.items():
        if feature not in rows.columns:
            continue
        for key, index in groups:
            term, week = cast(tuple[int, int], key)
            if feature.endswith("_term") and int(week) < TERM_TO_DATE_FROM_WEEK:
                continue
            reference = _reference_week(by_term.get(str(term), {}), int(week))
            if reference is None:
                continue
            values = rows.loc[index, feature].to_numpy(dtype=float)
            present = values[~np.isnan(values)]
            records.append(
                {
                    "feature": feature,
                    "term": int(term),
                    "week": int(week),
                    "rows": len(values),
                    "missing": len(values) - len(present),
                    "counts": bin_counts(present, reference[0]["edges"]),
                }
            )
    return pd.DataFrame(records, columns=COUNT_COLUMNS)


def compare(bundle: ModelBundle, counts: pd.DataFrame) -> pd.DataFrame:
    """PSI per input, term and week against the reference's same weeks, largest first."""
    if counts.empty:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    records = []
    for (feature, term, week), part in counts.groupby(["feature", "term", "week"]):
        reference = _reference_week(
            bundle.distribution[str(feature)].get(str(term), {}), cast(int, week)
        )
        if reference is None:
            continue
        chosen, missing_low, missing_high = reference
        total, missing = int(part["rows"].sum()), int(part["missing"].sum())
        now = np.sum(np.array(part["counts"].tolist(), dtype=float), axis=0)
        then = np.asarray(chosen["counts"], dtype=float)
        missing_now = missing / total if total else 0.0
        missing_then = float(chosen["missing_share"])
        if missing_low - 0.05 <= missing_now <= missing_high + 0.05:
            # A share missing the reference also shows in these weeks: compare values.
            if min(now.sum(), then.sum()) < MIN_VALUES:
                continue
            psi = population_stability(then / then.sum(), now / now.sum())
        else:
            psi = population_stability(
                np.array([*(then / max(then.sum(), 1) * (1 - missing_then)), missing_then]),
                np.array([*(now / max(now.sum(), 1) * (1 - missing_now)), missing_now]),
            )
        records.append(
            {
                "feature": feature,
                "phase": f"term {term}, week {int(cast(int, week)) + 1}",
                "psi": psi,
                "missing_then": missing_then,
                "missing_now": missing_now,
                "status": "moved" if psi > MOVED else "watch" if psi > WATCH else "stable",
            }
        )
    if not records:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    return pd.DataFrame(records).sort_values("psi", ascending=False).reset_index(drop=True)


def drift_report(bundle: ModelBundle, rows: pd.DataFrame) -> pd.DataFrame:
    """PSI per model input and for the model's score, largest first."""
    return compare(bundle, input_counts(bundle, rows))


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
    # A term's ending week (its own, though it recorded no values, or the nearest): its
    # population is not this one's.
    if weeks.get(str(week), {}).get("partial") or weeks[str(with_values[0])].get("partial"):
        return None
    return weeks[str(with_values[0])], min(shares), max(shares)
