"""The stored form of a student's contributions, this format and the one before it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from serving.store import contribution_list, contributions_text, read_contributions


def test_contributions_round_trip_and_older_runs_still_read() -> None:
    features = ["absent_days_20d", "gpa_last_term", "sdq_total"]
    inputs = np.array([9.0, np.nan, 0.1 + 0.2])
    shap = np.array([0.25, -1 / 3, 1e-17])

    stored = contributions_text(inputs, shap)
    shown = contribution_list(features, inputs, shap)

    # Every value comes back exactly, named by the run's features; an unknown input is
    # null, never zero. The names are not in the row.
    assert read_contributions(stored, features) == shown
    assert "gpa_last_term" not in stored
    assert shown[1] == {"feature": "gpa_last_term", "value": None, "shap": -1 / 3}
    assert shown[2]["value"] == 0.1 + 0.2
    with pytest.raises(ValueError, match="without their run's feature names"):
        read_contributions(stored, None)
    # Runs stored before this format read the same: names in each row, as a list of
    # objects or as one list per field.
    assert read_contributions(json.dumps(shown), None) == shown
    by_field = {"feature": features, "value": [9.0, None, 0.1 + 0.2], "shap": shap.tolist()}
    assert read_contributions(json.dumps(by_field), None) == shown
