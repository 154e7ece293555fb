"""Term boundaries from the ``calendar`` source, with the Thai default where it is silent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import sqlalchemy as sa

TERM_COLUMNS = ["academic_year", "term", "start_date", "end_date"]


def thai_default_term(academic_year: int, term: int) -> tuple[date, date]:
    """Term 1: 16 May - 10 October; term 2: 1 November - 31 March (academic year in BE)."""
    year = academic_year - 543
    if term == 1:
        return date(year, 5, 16), date(year, 10, 10)
    return date(year, 11, 1), date(year + 1, 3, 31)


def thai_term_of(day: date) -> tuple[int, int]:
    """The academic year (Buddhist Era) and term of a date by the Thai default calendar;
    the break before a term counts as that term (May 1-15: term 1, October 11 - 31: 2)."""
    if day.month >= 5:
        return day.year + 543, 1 if day.month < 10 or (day.month == 10 and day.day <= 10) else 2
    return day.year + 542, 2


def term_on(connection: sa.Connection, school_id: str, day: date) -> tuple[int, int] | None:
    """The (academic year, term) of a school that ``day`` falls in (None: a break), as
    ``Calendar.terms_for`` gives it: the school's own row for a term, else the
    all-schools row, else the Thai default. A few rows read, for a page's request."""
    import sqlalchemy as sa

    from schooldata.tables import TABLES

    calendar = TABLES["calendar"]
    years = (day.year + 542, day.year + 543)  # a day falls in one of these (BE)
    rows = connection.execute(
        sa.select(
            calendar.c.school_id,
            calendar.c.academic_year,
            calendar.c.term,
            calendar.c.start_date,
            calendar.c.end_date,
        ).where(
            sa.func.coalesce(calendar.c.school_id, "").in_(["", school_id])
            & calendar.c.academic_year.in_(years)
        )
    ).all()
    terms: dict[tuple[int, int], tuple[date, date]] = {
        (y, t): thai_default_term(y, t) for y in years for t in (1, 2)
    }
    # The all-schools rows over the default, then the school's own over both.
    for own in (False, True):
        for school, year, term, start, end in rows:
            if bool(school) == own:
                terms[(int(year), int(term))] = (
                    pd.Timestamp(start).date(),
                    pd.Timestamp(end).date(),
                )
    return next((key for key, (start, end) in terms.items() if start <= day <= end), None)


@dataclass(frozen=True)
class Calendar:
    """Terms per school: a school's own rows override the all-schools rows and the default."""

    table: pd.DataFrame  # school_id ('' = every school), academic_year, term, start_date, end_date

    @classmethod
    def build(cls, calendar: pd.DataFrame | None, academic_years: Iterable[int]) -> Calendar:
        defaults = pd.DataFrame(
            [
                {"school_id": "", "academic_year": y, "term": t, "start_date": s, "end_date": e}
                for y in sorted({int(y) for y in academic_years})
                for t in (1, 2)
                for s, e in [thai_default_term(y, t)]
            ],
            columns=["school_id", *TERM_COLUMNS],
        )
        defaults[["start_date", "end_date"]] = defaults[["start_date", "end_date"]].apply(
            pd.to_datetime
        )
        given = (
            calendar.assign(
                school_id=calendar["school_id"].fillna(""),
                # Dates as read from a database are datetime.date: compare as timestamps.
                start_date=pd.to_datetime(calendar["start_date"]),
                end_date=pd.to_datetime(calendar["end_date"]),
            )
            if calendar is not None
            else defaults.iloc[:0]
        )
        table = pd.concat([given, defaults], ignore_index=True)
        table = table.drop_duplicates(["school_id", "academic_year", "term"], keep="first")
        table = table.astype({"academic_year": int, "term": int})
        return cls(table.sort_values(["school_id", "start_date"]).reset_index(drop=True))

    @classmethod
    def stored(cls, engine: sa.Engine, academic_years: Iterable[int] | None = None) -> Calendar:
        """The database's calendar for ``academic_years`` (else every year someone is
        enrolled in), with the Thai default where it is silent."""
        from schooldata.db import read_table

        if academic_years is None:
            enrolled = read_table(engine, "enrollments", columns=["academic_year"])
            academic_years = enrolled["academic_year"].unique()
        return cls.build(read_table(engine, "calendar"), academic_years)

    def terms_for(self, school_ids: Iterable[str]) -> pd.DataFrame:
        """One row per (school, academic_year, term) for the given schools."""
        schools = pd.DataFrame({"school_id": sorted(set(school_ids))})
        if schools.empty:
            return self.table.iloc[:0]
        every = self.table[self.table["school_id"] == ""].drop(columns="school_id")
        own = self.table.merge(schools, on="school_id")
        # A school's own row for a term replaces the all-schools row.
        merged = pd.concat([own, schools.merge(every, how="cross")], ignore_index=True)
        merged = merged.drop_duplicates(["school_id", "academic_year", "term"], keep="first")
        return merged.sort_values(["school_id", "start_date"], kind="stable")

    def locate(self, school_ids: pd.Series, dates: pd.Series) -> pd.DataFrame:
        """The term containing each date at each school (NaN between terms).

        Returns:
            A frame aligned with ``dates``: academic_year, term, start_date, end_date.
        """
        query = pd.DataFrame(
            {
                "school_id": school_ids.to_numpy(),
                "day": np.asarray(pd.to_datetime(dates), dtype="datetime64[ns]"),
            }
        )
        query["_order"] = np.arange(len(query))
        terms = self.terms_for(query["school_id"].unique())
        terms = terms.assign(start_date=np.asarray(terms["start_date"], dtype="datetime64[ns]"))
        found = pd.merge_asof(
            query.sort_values("day"),
            terms.sort_values("start_date"),
            left_on="day",
            right_on="start_date",
            by="school_id",
            direction="backward",
        ).sort_values("_order")
        outside = found["day"] > found["end_date"]
        found.loc[outside, TERM_COLUMNS] = np.nan
        return found[TERM_COLUMNS].reset_index(drop=True).set_axis(dates.index)

    def mondays(self, start: date | None = None, end: date | None = None) -> pd.DatetimeIndex:
        """Every Monday inside some term (of any school), optionally within [start, end]."""
        days: set[pd.Timestamp] = set()
        for start_date, end_date in zip(
            self.table["start_date"], self.table["end_date"], strict=True
        ):
            days.update(pd.date_range(start_date, end_date, freq="W-MON"))
        index = pd.DatetimeIndex(sorted(days))
        if start is not None:
            index = index[index >= pd.Timestamp(start)]
        if end is not None:
            index = index[index <= pd.Timestamp(end)]
        return index


def newest_attendance_day(engine: sa.Engine) -> date | None:
    """The last day any school's attendance reaches in the database (None: no attendance)."""
    import sqlalchemy as sa

    from schooldata.tables import TABLES

    with engine.connect() as connection:
        newest = connection.execute(sa.select(sa.func.max(TABLES["attendance"].c.date))).scalar()
    return None if newest is None else pd.Timestamp(newest).date()
