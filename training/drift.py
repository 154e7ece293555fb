"""The training reference of the model's inputs, kept in the bundle for drift checks.

Per feature, term and week of term: decile edges of the training rows' values, the count
in each bin and the share missing, from the most recent mature year of training rows
(not the data's first year, when every history is still empty), plus the model's own
score on them. A week holding only part of its term's students (a term's last day, after
the graduates have left) is marked partial, and not judged. The comparison with a week's
inputs lives with the bundle (``riskmodel.input_counts``), so the weekly run and the
analyst's pages use it too.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from riskmodel.input_counts import CALENDAR_FEATURES, SCORE, bin_counts, term_week

REFERENCE_DAYS = 365
# A week of term holding fewer rows than this share of its term's usual week is partial:
# a term's last day, after the year's graduates have left, is a population without its
# final grades, which the same week a year later (the day before the end, say) still
# holds. Dropouts thin a term by a few in a hundred, never by a fifth.
WHOLE_WEEK_SHARE = 0.8


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
    # Each (term, week)'s rows, found once for every feature.
    by_cell = pd.Series(np.arange(len(rows))).groupby([terms.to_numpy(), weeks.to_numpy()])
    cells = cast(dict[tuple[int, int], np.ndarray], by_cell.indices)
    partial = _partial_weeks(cells)
    out: dict[str, Any] = {}
    for feature in features:
        if feature in CALENDAR_FEATURES:
            continue
        values = rows[feature].to_numpy(dtype=float, na_value=np.nan)
        out[feature] = {}
        for (term, week), positions in sorted(cells.items()):
            week_values = values[positions]
            missing = np.isnan(week_values)
            present = week_values[~missing]
            edges = decile_edges(present)
            out[feature].setdefault(str(int(term)), {})[str(int(week))] = {
                "rows": len(week_values),
                "edges": [float(e) for e in edges],
                "counts": bin_counts(present, edges),
                "missing_share": float(missing.mean()),
                "partial": (term, week) in partial,
            }
    return out


def _partial_weeks(cells: dict[tuple[int, int], np.ndarray]) -> set[tuple[int, int]]:
    """The (term, week) cells holding under ``WHOLE_WEEK_SHARE`` of their term's usual
    rows: the week a term ends, which the check does not judge (its population is not
    the same week's a year later)."""
    sizes = pd.Series({cell: len(rows) for cell, rows in cells.items()}, dtype=float)
    if sizes.empty:
        return set()
    usual = sizes.groupby(level=0).transform("median")
    return {cell for cell in cells if sizes[cell] < WHOLE_WEEK_SHARE * usual[cell]}


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
