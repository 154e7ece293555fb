"""The stored form of a student's contributions, this format and the one before it."""

from __future__ import annotations

import json

import numpy as np

from serving.store import contribution_list, contributions_text, read_contributions


def test_contributions_round_trip_and_older_runs_still_read() -> None:
    features = ["absent_days_20d", "gpa_last_term", "sdq_total"]
    inputs = np.array([9.0, np.nan, 0.1 + 0.2])
    shap = np.array([0.25, -1 / 3, 1e-17])

    stored = contributions_text(features, inputs, shap)
    shown = contribution_list(features, inputs, shap)

    # Every value comes back exactly; an unknown input is null, never zero.
    assert read_contributions(stored) == shown
    assert shown[1] == {"feature": "gpa_last_term", "value": None, "shap": -1 / 3}
    assert shown[2]["value"] == 0.1 + 0.2
    # A run stored before this format (a list of objects) reads the same.
    assert read_contributions(json.dumps(shown)) == shown
