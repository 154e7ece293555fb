"""How fresh each school's records are on a date, and which schools are stale.

A school whose attendance stops well before the as-of date has not stopped teaching: its
upload is late. Scoring it would read the missing days as a run of days nobody was seen
(``days_since_last_present`` grows by a week for every pupil every week), so the weekly
run leaves it out and its pages say since when its data is missing.

Stale means: more than ``stale_after`` school days (Monday to Friday, inside the term,
before the as-of date) have passed since the school's newest attendance record. A school
that has never sent attendance is not stale: its attendance features are missing, not
wrong, and the model treats them as missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.build import population
from features.sources import Sources
from schooldata.pairs import PairIndex

COLUMNS = [
    "school_id",
    "enrolled",
    "newest_attendance",
    "newest_coursework",
    "newest_screening",
    "school_days_missing",
    "stale",
]


def _newest(
    frame: pd.DataFrame | None, column: str, enrolled: pd.DataFrame, as_of: pd.Timestamp
) -> pd.Series:
    if frame is None or frame.empty:
        return pd.Series(dtype="datetime64[ns]")
    # Each record's student (a school and its code: the school's own records, not those a
    # child brought from another school), their newest date, then each enrolled student's
    # school.
    index = PairIndex.of(enrolled)
    student = index.rows(frame)
    dates = frame[column].to_numpy()
    kept = (student >= 0) & (dates <= as_of.to_datetime64())  # never NaT
    ticks = np.full(len(enrolled), np.iinfo(np.int64).min)  # NaT: no record
    np.maximum.at(ticks, student[kept], dates[kept].view(np.int64))
    each = ticks.view(dates.dtype)[index.rows(enrolled)]
    return pd.Series(each, index=enrolled["school_id"].to_numpy()).groupby(level=0).max()


def school_days_between(after: pd.Timestamp, before: pd.Timestamp) -> int:
    """Weekdays strictly after ``after`` and strictly before ``before``."""
    if before <= after + pd.Timedelta(days=1):
        return 0
    start = (after + pd.Timedelta(days=1)).date()
    return int(np.busday_count(start, before.date()))


def school_freshness(
    sources: Sources,
    as_of: pd.Timestamp,
    stale_after: int,
    enrolled: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per school with students enrolled on ``as_of`` (the weekly run's
    population: no exit in the term so far); see the module.

    Args:
        sources: the sources.
        as_of: the date.
        stale_after: school days without attendance after which a school is stale.
        enrolled: the population on the date (``features.build.population``), when the
            caller has it already (the feature rows hold it).
    """
    if enrolled is None:
        enrolled = population(sources, [as_of])
    enrolled = enrolled[["student_id", "school_id", "term_start"]]
    if enrolled.empty:
        return pd.DataFrame(columns=COLUMNS)
    schools = enrolled.groupby("school_id").agg(
        enrolled=("student_id", "size"), term_start=("term_start", "min")
    )
    schools["newest_attendance"] = _newest(sources.attendance, "date", enrolled, as_of)
    schools["newest_coursework"] = _newest(sources.assessments, "date", enrolled, as_of)
    schools["newest_screening"] = _newest(sources.screenings, "screening_date", enrolled, as_of)
    missing: list[int | None] = []
    for newest, term_start in zip(schools["newest_attendance"], schools["term_start"], strict=True):
        if pd.isna(newest):
            missing.append(None)  # never sent attendance: not stale, features missing
            continue
        # Days before the term started are holidays, not missing days.
        since = max(pd.Timestamp(newest), pd.Timestamp(term_start) - pd.Timedelta(days=1))
        missing.append(school_days_between(since, as_of))
    schools["school_days_missing"] = pd.array(missing, dtype="Int64")
    schools["stale"] = (schools["school_days_missing"] > stale_after).fillna(False).astype(bool)
    return schools.reset_index()[COLUMNS]
