"""The search's choice of shape: average precision, unless the folds' lists tell shapes apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.evaluate import finds_more
from training.search import _by_headline

LEFT = 400


def _leads(found: np.ndarray) -> pd.Series:
    """Leads of LEFT leavers: 10 weeks ahead where found, else never flagged before."""
    return pd.Series(np.where(found, 10.0, 0.0))


def test_a_shape_whose_lists_find_more_leavers_in_time_replaces_the_simplest() -> None:
    rng = np.random.default_rng(1)
    shared = rng.random(LEFT) < 0.15
    simplest = shared.copy()
    deeper = shared.copy()
    # The deeper shape's lists find 45 leavers the simplest's miss, and miss 10 it finds.
    missed = np.flatnonzero(~shared)
    deeper[missed[:45]] = True
    simplest[missed[45:55]] = True
    lead = {"shallow": _leads(simplest), "medium": _leads(simplest), "deep": _leads(deeper)}
    found = {name: float((weeks >= 8).mean()) for name, weeks in lead.items()}

    shape, reason = _by_headline("shallow", lead, found)

    assert shape == "deep"
    assert f"{found['deep']:.1%}" in reason
    assert f"{found['shallow']:.1%}" in reason
    assert finds_more(lead["shallow"].to_numpy(), lead["deep"].to_numpy()) is False


def test_lists_the_leavers_cannot_tell_apart_leave_the_choice_to_average_precision() -> None:
    rng = np.random.default_rng(2)
    shared = rng.random(LEFT) < 0.15
    deeper = shared.copy()
    # Eight more found and three fewer: no evidence either way.
    missed, hit = np.flatnonzero(~shared), np.flatnonzero(shared)
    deeper[missed[:8]] = True
    deeper[hit[:3]] = False
    lead = {"shallow": _leads(shared), "deep": _leads(deeper)}
    found = {name: float((weeks >= 8).mean()) for name, weeks in lead.items()}

    assert finds_more(lead["deep"].to_numpy(), lead["shallow"].to_numpy()) is None
    shape, reason = _by_headline("shallow", lead, found)
    assert shape == "shallow"
    assert "average precision" in reason


def test_a_lead_shorter_than_eight_weeks_is_not_found_in_time() -> None:
    # 30 leavers flagged 6 weeks ahead by one list and 9 weeks ahead by the other.
    early, late = np.full(30, 9.0), np.full(30, 6.0)
    assert finds_more(early, late) is True
    assert finds_more(late, early) is False
    assert finds_more(late, early, weeks=4) is None
