"""The student page's risk chart: its axis is a probability's."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from serving.charts import risk_history
from serving.schemas import HistoryPoint


def _history(*risks: float) -> list[HistoryPoint]:
    start = date(2025, 6, 2)
    return [
        HistoryPoint(as_of=start + timedelta(weeks=n), risk=r, tier="high", rank_in_school=1)
        for n, r in enumerate(risks)
    ]


@pytest.mark.parametrize(
    ("risks", "axis_top"),
    [((0.05, 0.88), "100%"), ((0.99, 0.97), "100%"), ((0.5, 0.6), "69%"), ((0.01, 0.02), "20%")],
)
def test_the_risk_axis_leaves_room_above_the_highest_week_and_never_passes_100(
    risks: tuple[float, ...], axis_top: str
) -> None:
    svg = str(risk_history(_history(*risks), "en"))
    labels = re.findall(r'class="axis">([^<]+)<', svg)
    assert labels[:2] == [axis_top, "0%"]
    # Every week's dot is inside the chart (its top is at y=8).
    assert min(float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg)) >= 8
