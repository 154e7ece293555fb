"""A pytest plugin that runs tests across Bangkok's midnight (17:00 UTC), where a test
that takes "today" from the clock and compares it with a day the service stamped can
fail: CI once did, at 23:59 in Bangkok.

The suite starts at 23:50 in Bangkok; just before each test whose name contains
``EWS_MIDNIGHT_TEST``, the clock jumps to 00:00:05 of the next day and ticks on. Rows
written by the tests before it are of the day before, as they would be. Run a test with
those that write before it, for example::

    EWS_MIDNIGHT_TEST=who_saw PYTHONPATH=. .venv/bin/pytest -p devtools.midnight \\
        tests/serving/test_api.py tests/serving/test_security.py

With ``EWS_MIDNIGHT_LEAD=<seconds>`` the jump lands that long before 00:00 instead, so
that midnight falls within the test: for one that reads the day twice. How long the
lead must be depends on the test and the machine (the overdue-review test's code before
8adb3bb failed at 1.3 and 1.6 s on an idle machine, at 1.6 s alone on a busy one).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

BEFORE = datetime(2026, 11, 30, 16, 50, tzinfo=UTC)  # 23:50 in Bangkok
MIDNIGHT = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 00:00 on 1 December in Bangkok
AFTER = MIDNIGHT + timedelta(seconds=5)

_travel: Any = None


def _go(moment: datetime) -> None:
    global _travel
    if _travel is not None:
        _travel.stop()
    _travel = time_machine.travel(moment, tick=True)
    _travel.start()


def pytest_configure(config: pytest.Config) -> None:
    if "EWS_MIDNIGHT_TEST" not in os.environ:
        raise pytest.UsageError("devtools.midnight: set EWS_MIDNIGHT_TEST to a test's name")
    _go(BEFORE)


def pytest_runtest_call(item: pytest.Item) -> None:
    if os.environ["EWS_MIDNIGHT_TEST"] in item.name:
        lead = os.environ.get("EWS_MIDNIGHT_LEAD")
        _go(AFTER if lead is None else MIDNIGHT - timedelta(seconds=float(lead)))
