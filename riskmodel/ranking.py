"""The order of a weekly list: by score, then by what a student shows now.

One rule for the lists the service stores (``serving.scoring``) and for the lists that
training replays to judge a scorer (``training.evaluate``): a committee visits the first
students of its list, so a model is judged on the students its list puts first, ties
included.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

# Students with the same score are ranked by what they show now: the one absent more in
# the last 20 school days first, then the one whose last day present is longer ago (a
# missing value last), then by code. A new intake's first scores, and the rule's counts,
# tie many students. A child who was at school once but has no record in the last school
# days (``features.attendance.RECENT_WITHIN_SCHOOL_DAYS``: the register went on without
# them) has no rate over them; they come first, as if absent every one of those days.
TIE_BREAK = ("absence_rate_20d", "days_since_last_present")
# A committee's weekly home-visit plan leaves out the students visited this long before,
# and so does training's replay of the plans (``training.evaluate.visit_plans``).
VISIT_WINDOW = timedelta(days=30)
# The weekly home visits of a committee that has not said how many it can make: its plan's
# length, and the replay of its plans (``training.outcomes``).
DEFAULT_CAPACITY = 5


def tie_break_values(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ``TIE_BREAK`` features of feature rows (missing where a row has none), the
    recent absence rate of a child not recorded lately at 1 (see ``TIE_BREAK``)."""
    values = {
        name: rows[name].to_numpy(dtype=float) if name in rows else np.full(len(rows), np.nan)
        for name in TIE_BREAK
    }
    rate, since = values["absence_rate_20d"], values["days_since_last_present"]
    values["absence_rate_20d"] = np.where(np.isnan(rate) & ~np.isnan(since), 1.0, rate)
    return values


def list_order(scores: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    """Positions of ``rows`` in list order.

    Args:
        scores: each row's score; the higher comes first (a missing score last).
        rows: the rows' ``TIE_BREAK`` features and ``student_id`` (the school's code),
            where they have them: among equal scores, the higher features first (missing
            last), then the lower code.

    Returns:
        Row positions, first on the list first.
    """
    # np.lexsort sorts by its last key first; +inf puts a missing value last.
    keys: list[np.ndarray] = [np.asarray(rows["student_id"]).astype(str)]
    for values in reversed(list(tie_break_values(rows).values())):
        keys.append(np.where(np.isnan(values), np.inf, -values))
    score = np.asarray(scores, dtype=float)
    keys.append(np.where(np.isnan(score), np.inf, -score))
    return np.lexsort(keys)
