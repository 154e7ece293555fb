"""The schools' clock: Thailand's time (Asia/Bangkok, UTC+7 all year).

Moments are stored in UTC. A day a person means (today, the date of a home visit, a
review due, a file's date) is Bangkok's: a server's clock is usually UTC, on which a
teacher's morning before 07:00 is still yesterday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")


def today() -> date:
    """Today in the schools."""
    return datetime.now(BANGKOK).date()


def utc_now() -> datetime:
    """This moment as stored: UTC, without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


def local(moment: datetime) -> datetime:
    """A stored moment (UTC, with or without its zone) on the schools' clock."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(BANGKOK)


def day_of(moment: datetime) -> date:
    """The schools' day of a stored moment: 06:30 on a Monday in Bangkok is Sunday in UTC."""
    return local(moment).date()


def start_of(day: date) -> datetime:
    """The start of a schools' day as moments are stored (UTC, without a zone)."""
    return datetime.combine(day, time(), tzinfo=BANGKOK).astimezone(UTC).replace(tzinfo=None)
