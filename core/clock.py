"""The schools' clock: Thailand's time (Asia/Bangkok, UTC+7 all year).

Moments are stored in UTC. A day a person means (today, the date of a home visit, a
review due, a file's date) is Bangkok's: a server's clock is usually UTC, on which a
teacher's morning before 07:00 is still yesterday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")


def today() -> date:
    """Today in the schools."""
    return datetime.now(BANGKOK).date()


def utc_now() -> datetime:
    """This moment as stored: UTC, without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)
