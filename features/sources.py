"""The validated tables a feature computation reads, and their as-of filter."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from features.asof import positions_in, recoded, shared_pair_codes
from features.attendance import PRESENT, WINDOW_DAYS
from features.coursework import RECENT
from schooldata.calendar import Calendar
from schooldata.contract import SCREENING_DOMAINS, SOURCES
from schooldata.dataset import (
    HOME_COLUMNS,
    STUDENT_COLUMNS,
    STUDENT_KEY,
    DatabaseReader,
    SourceReader,
)
from schooldata.identity import unlinked_persons
from schooldata.pairs import PairIndex
from schooldata.tables import TABLES

# The date at which each record becomes known; records after the as-of date are unseen.
KNOWN_ON = {
    "enrollments": "term_start",
    "exits": "exit_date",
    "attendance": "date",
    "grades": "known_date",
    "assessments": "date",
    "household": "survey_date",
    "screenings": "screening_date",
    "interventions": "date",
}
GRADES_KNOWN_AFTER_TERM_END = pd.Timedelta(days=14)
# What the weekly run reads (see Sources.for_weekly_run), from the features' own windows:
# the attendance features look back at most two windows of school days, read from about
# three times as many calendar days; coursework differences start the day before the
# recent window.
WINDOW_RECORDS = 2 * WINDOW_DAYS
ATTENDANCE_LOOKBACK = pd.Timedelta(days=3 * WINDOW_RECORDS)
COURSEWORK_LOOKBACK = RECENT + pd.Timedelta(days=1)
# How far back before what was read the unsure students' attendance is read, step by step
# (then the rest of it): a season first, which covers two windows of school days and a term
# break (almost every unsure student of the benchmark's partitions), then a year.
UNSURE_LOOKBACKS = (pd.Timedelta(days=90), pd.Timedelta(days=365))
# The sources every use reads: who the students are, where and when they were enrolled,
# how they left, and the calendar that places a date in a term.
REQUIRED = ("students", "enrollments", "exits", "calendar")
# Records about a school's students: each gets the person key of its child.
ABOUT_STUDENTS = tuple(s.name for s in SOURCES if s.student_ref is not None)
# What the weekly run reads of each enrolled child in full, at every school they were at.
WHOLE_HISTORY = ("students", "grades", "household", "screenings", "interventions")
# The columns the weekly run reads of sources that hold more than the features use (the
# rest is for people: who recorded a visit, the SDQ's sub-scales, where a leaver went).
# The schools' names and areas are not read at all.
WEEKLY_COLUMNS: dict[str, list[str]] = {
    "students": STUDENT_COLUMNS,
    "enrollments": [
        "school_id",
        "student_id",
        "academic_year",
        "term",
        "grade_level",
        "classroom",
        "advisor_id",
        "snapshot_date",
    ],
    "exits": ["school_id", "student_id", "exit_date", "exit_type", "reason_code"],
    "screenings": [
        "school_id",
        "student_id",
        "screening_date",
        *SCREENING_DOMAINS,
        "sdq_total",
        "overall",
    ],
    "interventions": ["intervention_id", "school_id", "student_id", "date", "type", "corrects"],
}


@dataclass(frozen=True)
class Sources:
    """One frame per source; optional sources are ``None`` when absent or empty.

    A record about a student names the school and its code (``school_id``,
    ``student_id``); each also carries the ``person_id`` of the child (from ``students``:
    the same child at every school they were at), by which the features and labels
    follow a child across schools.
    """

    students: pd.DataFrame
    enrollments: pd.DataFrame
    exits: pd.DataFrame
    calendar: Calendar
    schools: pd.DataFrame | None = None
    attendance: pd.DataFrame | None = None
    grades: pd.DataFrame | None = None
    assessments: pd.DataFrame | None = None
    household: pd.DataFrame | None = None
    screenings: pd.DataFrame | None = None
    interventions: pd.DataFrame | None = None
    # Per-(school, year) counts over every student, when this is one partition of a run
    # partitioned by school (``school_context.school_year_counts``); else computed here.
    school_years: pd.DataFrame | None = None

    @classmethod
    def from_frames(
        cls, frames: dict[str, pd.DataFrame | None], sent: Collection[str] = ()
    ) -> Sources:
        """Assemble sources from typed frames (dates as datetime64). An empty frame is of
        a source never sent (as None), unless named in ``sent``: then it is of students
        with no record in it (no help in the last 90 days is 0 of it, not unknown)."""
        if frames["enrollments"] is None:
            raise ValueError("enrollments are required")
        frames = _with_persons(frames)
        present = {k: v for k, v in frames.items() if v is not None and (len(v) or k in sent)}
        enrollments = frames["enrollments"]
        assert enrollments is not None
        calendar = Calendar.build(present.get("calendar"), enrollments["academic_year"].unique())
        enrollments = _with_term_dates(enrollments, calendar)
        grades = present.get("grades")
        if grades is not None:
            grades = _with_known_date(grades, enrollments, calendar)
        exits = frames.get("exits")
        return cls(
            students=frames["students"] if frames["students"] is not None else pd.DataFrame(),
            enrollments=enrollments,
            exits=exits
            if exits is not None
            else pd.DataFrame(
                columns=[
                    "school_id",
                    "student_id",
                    "person_id",
                    "exit_date",
                    "exit_type",
                    "reason_code",
                ]
            ).astype({"exit_date": "datetime64[ns]"}),
            calendar=calendar,
            schools=present.get("schools"),
            attendance=present.get("attendance"),
            grades=grades,
            assessments=present.get("assessments"),
            household=present.get("household"),
            screenings=present.get("screenings"),
            interventions=_in_force(present.get("interventions")),
        )

    @classmethod
    def from_database(
        cls,
        engine: sa.Engine,
        student_ids: list[str] | None = None,
        *,
        only: Collection[str] | None = None,
    ) -> Sources:
        """Read every source from the operational database (no names, no ID hashes).

        With ``student_ids``, per-student records are read for those students only;
        enrolments and exits are always read whole (school context needs them). With
        ``only``, the sources named there and those every use needs (``REQUIRED``); the
        others are absent (None), as a source a school never sent.
        """
        return cls.from_reader(DatabaseReader(engine), student_ids, only=only)

    @classmethod
    def from_reader(
        cls,
        reader: SourceReader,
        student_ids: list[str] | None = None,
        *,
        only: Collection[str] | None = None,
        students: pd.DataFrame | None = None,
    ) -> Sources:
        """Read the sources from a database or dataset reader (see ``from_database``);
        with ``students`` (``school_id``, ``student_id``), the records of those schools'
        students only."""
        frames: dict[str, pd.DataFrame | None] = {}
        sent: set[str] = set()
        for name in TABLES:
            if only is not None and name not in only and name not in REQUIRED:
                frames[name] = None
                continue
            columns = STUDENT_COLUMNS if name == "students" else None
            if name in ("schools", "calendar", "enrollments", "exits"):
                frames[name] = reader.read(name, columns=columns)
                continue
            frames[name] = reader.read(
                name, columns=columns, student_ids=student_ids, students=students
            )
            # A source with none of these students' records is still one schools send.
            if (student_ids is not None or students is not None) and _empty(frames, name):
                sent.add(name)
        return cls.from_frames(frames, {n for n in sent if reader.holds(n)})

    @classmethod
    def for_weekly_run(cls, source: sa.Engine | SourceReader, as_of: pd.Timestamp) -> Sources:
        """What the features at ``as_of`` need, without reading years of daily records.

        Attendance is read from the earlier of the term start and 120 days back; any
        student whose window could hide something the features use (fewer than 40 school
        days in it, or no day present, so the streak or the last present day may lie
        before it) is read 90 days further back, then a year, and if still unsure, in
        full. Coursework is read from the earlier of the term start and 28 days back: its
        features are differences of sums from then on. Neither is read after ``as_of`` (a
        run of a past week never reads the days since). Of the other records, those of
        the students enrolled on the day, and of every source only the columns the features
        use (``WEEKLY_COLUMNS``); the schools' table not at all. The values equal those
        from the full read.

        Args:
            source: the operational database, or a reader of one partition or dataset.
            as_of: the date.
        """
        reader = DatabaseReader(source) if isinstance(source, sa.Engine) else source
        day = pd.Timestamp(as_of)
        frames: dict[str, pd.DataFrame | None] = {
            name: reader.read(name, columns=WEEKLY_COLUMNS.get(name))
            for name in ("calendar", "enrollments", "exits")
        }
        enrollments = frames["enrollments"]
        if enrollments is None or enrollments.empty:
            raise ValueError("no enrolments in the database")
        calendar = Calendar.build(frames.get("calendar"), enrollments["academic_year"].unique())
        terms = calendar.table[
            (calendar.table["start_date"] <= day) & (calendar.table["end_date"] >= day)
        ]
        term_start = pd.Timestamp(terms["start_date"].min()) if len(terms) else day
        attendance_from = min(term_start, day - ATTENDANCE_LOOKBACK).date()
        after = ("date", (day + pd.Timedelta(days=1)).date())  # the first day not read
        window = reader.read("attendance", since=("date", attendance_from), until=after)
        # Only students enrolled on the day are scored: each school's term on the day.
        schools = pd.Index(enrollments["school_id"].drop_duplicates().astype(str))
        located = calendar.locate(pd.Series(schools), pd.Series(day, index=range(len(schools))))
        school = positions_in(enrollments["school_id"], schools)
        current = (
            (school >= 0)
            & (
                located["academic_year"].to_numpy()[school]
                == enrollments["academic_year"].to_numpy()
            )
            & (located["term"].to_numpy()[school] == enrollments["term"].to_numpy())
        )
        # The children enrolled on the day, and every school's student who is one of them:
        # a child's history at the schools they were at before is theirs too.
        people = reader.read("students", columns=STUDENT_COLUMNS)
        here, known = shared_pair_codes(enrollments.loc[current], people)
        persons = set(people["person_id"].to_numpy()[np.isin(known, here)])
        theirs = people[people["person_id"].isin(persons).to_numpy()].reset_index(drop=True)
        lookup = PersonLookup.of(theirs)
        frames["students"] = lookup.about(theirs)
        # Every enrolment and exit is read (the school context counts them), and only
        # theirs are about a child scored: the others have no person key.
        for name in ("enrollments", "exits"):
            frames[name] = lookup.keyed(frames[name])
        # Of the other records, only theirs: no feature reads another child's (a third of
        # the grades, screenings and surveys are of children who have left). Their
        # attendance and coursework are read whole: almost all of it.
        for name in WHOLE_HISTORY[1:]:
            # Only these children's students' records, each with its child.
            frames[name] = reader.read(name, columns=WEEKLY_COLUMNS.get(name), students=theirs)
        # Their attendance only: no feature, and no school's freshness, reads another's.
        parts = [lookup.about(window)]
        tally = AttendanceTally.of(lookup.persons)
        unsure = tally.add(parts[0], day).short()
        # Further back for them, before what was read: a season, then a year (the files
        # are in date order, so each step reads only its row groups), then the rest for
        # whoever is still unsure.
        read_from: date | None = attendance_from
        for since in (*(attendance_from - back for back in UNSURE_LOOKBACKS), None):
            if not unsure:
                break
            older = reader.read(
                "attendance",
                since=None if since is None else ("date", since),
                until=None if read_from is None else ("date", read_from),
                students=theirs[theirs["person_id"].isin(unsure).to_numpy()],
            )
            parts.append(older)
            unsure &= tally.add(parts[-1], day).short()
            read_from = since
        frames["attendance"] = _stacked(parts) if len(parts) > 1 else parts[0]
        coursework_from = (min(term_start - pd.Timedelta(days=1), day - COURSEWORK_LOOKBACK)).date()
        frames["assessments"] = lookup.about(
            reader.read("assessments", since=("date", coursework_from), until=after)
        )
        # A source with none of theirs (in the window) is still one the schools send.
        sent = {n for n in (*WHOLE_HISTORY[1:], "attendance", "assessments") if _empty(frames, n)}
        return cls.from_frames(frames, {n for n in sent if reader.holds(n)})

    @classmethod
    def for_students(
        cls, source: sa.Engine | SourceReader, students: Sequence[tuple[str, str]]
    ) -> Sources:
        """Every record of the children of these schools' students (school, code), at
        every school they were at."""
        reader = DatabaseReader(source) if isinstance(source, sa.Engine) else source
        people = reader.read("students", columns=HOME_COLUMNS)
        wanted = pd.DataFrame(list(students), columns=["school_id", "student_id"], dtype="str")
        asked, known = shared_pair_codes(wanted, people)
        persons = set(people["person_id"].to_numpy()[np.isin(known, asked)])
        theirs = people.loc[people["person_id"].isin(persons).to_numpy(), STUDENT_KEY]
        return cls.from_reader(reader, students=theirs.reset_index(drop=True))

    def known_on(self, day: pd.Timestamp) -> Sources:
        """Only what was known on ``day``: records dated after it are dropped."""
        changes: dict[str, Any] = {}
        for f in fields(self):
            frame = getattr(self, f.name)
            column = KNOWN_ON.get(f.name)
            if column and frame is not None:
                known = (frame[column] <= day).to_numpy()
                if not known.all():  # else the frame as it is, not a copy
                    changes[f.name] = frame[known]
        return replace(self, **changes)


@dataclass(frozen=True)
class PersonLookup:
    """Which child each record is about: the (school, code) pairs of some schools'
    students (``schooldata.pairs.PairIndex``), and each one's person key."""

    students: pd.DataFrame  # school_id, student_id, person_id
    index: PairIndex
    persons: pd.Index  # the person keys, by number
    person_of_row: np.ndarray  # each student's person number, then -1 (no student)

    @classmethod
    def of(cls, students: pd.DataFrame) -> PersonLookup:
        """The lookup of these students (``school_id``, ``student_id``, ``person_id``; the
        last row of a pair counts)."""
        keys = students[["school_id", "student_id", "person_id"]].astype(str)
        keys = keys.drop_duplicates(["school_id", "student_id"], keep="last")
        keys = keys.reset_index(drop=True)
        person, persons = pd.factorize(keys["person_id"])
        return cls(keys, PairIndex.of(keys), pd.Index(persons), np.append(person, -1))

    def numbers(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's person number (-1: a student who is not one of these)."""
        found: np.ndarray = self.person_of_row[self.index.rows(frame)]  # row -1: the last
        return found

    def about(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` about these students, each with its ``person_id`` (as
        categories)."""
        number = self.numbers(frame)
        mine = number >= 0
        if not mine.all():  # else read for these students already: no copy of the rows
            frame, number = frame[mine], number[mine]
        return frame.reset_index(drop=True).assign(
            person_id=pd.Categorical.from_codes(number, categories=self.persons, validate=False)
        )

    def keyed(self, frame: pd.DataFrame | None) -> pd.DataFrame | None:
        """Every row of ``frame``, those about these students with their ``person_id``
        (as categories), the others with none."""
        if frame is None:
            return None
        return frame.assign(
            person_id=pd.Categorical.from_codes(
                self.numbers(frame), categories=self.persons, validate=False
            )
        )


@dataclass
class AttendanceTally:
    """Per child, the school days and the days present counted so far in the attendance
    read: whether what was read may not reach back far enough for the features."""

    persons: pd.Index  # the person keys counted, by number
    days: np.ndarray
    present: np.ndarray

    @classmethod
    def of(cls, persons: pd.Index) -> AttendanceTally:
        return cls(
            persons, np.zeros(len(persons), dtype=np.int64), np.zeros(len(persons), dtype=bool)
        )

    def add(self, part: pd.DataFrame, day: pd.Timestamp) -> AttendanceTally:
        """Count a part of the attendance up to ``day`` (each record with its
        ``person_id``, as categories, from ``PersonLookup.about``), in place."""
        number = recoded(
            part["person_id"], self.persons.get_indexer(part["person_id"].cat.categories)
        )
        counted = (number >= 0) & (part["date"] <= day).to_numpy()
        child = number[counted]
        self.days += np.bincount(child, minlength=len(self.persons))
        came = part["status"].isin(PRESENT).to_numpy()[counted]
        self.present |= np.bincount(child, came, len(self.persons)) > 0
        return self

    def short(self) -> set[str]:
        """The children with fewer than two windows of school days up to the day, or not
        one day present in them (the streak or the last present day may lie earlier)."""
        short = (self.days < WINDOW_RECORDS) | ~self.present
        return {str(p) for p in self.persons[short]}


def _with_persons(frames: dict[str, pd.DataFrame | None]) -> dict[str, pd.DataFrame | None]:
    """Every record about a student with the person key of its child (``person_id``, as
    categories): the key of the school's student in ``students``, else, for a record
    whose student is not among them, the key of that student alone. A frame that has
    its keys already (``PersonLookup.about`` and ``keyed``, as categories) keeps them."""
    students = frames.get("students")
    if students is None or "person_id" not in students:
        students = pd.DataFrame(columns=["school_id", "student_id", "person_id"], dtype="str")
    missing = [
        name
        for name in ABOUT_STUDENTS
        if frames.get(name) is not None
        and not isinstance(frames[name].get("person_id", pd.Series()).dtype, pd.CategoricalDtype)  # type: ignore[union-attr]
    ]
    if not missing:
        return frames
    lookup = PersonLookup.of(students)
    changed = dict(frames)
    for name in missing:
        frame = frames[name]
        assert frame is not None
        if frame.empty:
            changed[name] = frame.assign(person_id=pd.Series(dtype="str", index=frame.index))
            continue
        codes = lookup.numbers(frame).astype(np.int64)
        categories = lookup.persons
        records = np.full(len(frame), -1, dtype=np.int64)
        unknown = np.flatnonzero(codes < 0)
        if len(unknown):
            records[unknown], _ = shared_pair_codes(frame.iloc[unknown], frame.iloc[:0])
        alone = records >= 0  # a known school and code, not among the students
        if alone.any():  # each such student's own key, made once a student
            pairs, first, inverse = np.unique(
                records[alone], return_index=True, return_inverse=True
            )
            at = np.flatnonzero(alone)[first]
            own = unlinked_persons(
                frame["school_id"].to_numpy()[at], frame["student_id"].to_numpy()[at]
            )
            codes[alone] = len(categories) + inverse.ravel()
            categories = categories.append(own)
        changed[name] = frame.assign(
            person_id=pd.Categorical.from_codes(codes, categories=categories, validate=False)
        )
    return changed


def _term_keys(numbers: pd.Series | np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    """(a student's or school's number, academic year, term) as one integer."""
    year = frame["academic_year"].to_numpy(dtype=np.int64)
    term = frame["term"].to_numpy(dtype=np.int64)
    keys: np.ndarray = (np.asarray(numbers, dtype=np.int64) * 10_000 + year) * 10 + term
    return keys


def _stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames one after another; a column of categories stays one (their categories
    united), instead of becoming millions of strings."""
    first = frames[0]
    for column in first.columns:
        if all(isinstance(f[column].dtype, pd.CategoricalDtype) for f in frames):
            # United in order of appearance, as ``union_categoricals`` does, but a frame
            # whose categories are those already is not recoded: the window's millions of
            # rows, when the few read further back are of students it holds. The frames
            # after the first keep only the categories they use (a read of a few students
            # holds its files' whole dictionaries).
            frames = frames[:1] + [
                f.assign(**{column: f[column].cat.remove_unused_categories()}) for f in frames[1:]
            ]
            every = [f[column].cat.categories for f in frames]
            united = every[0].append(every[1:]).unique()
            frames = [
                f
                if f[column].cat.categories.equals(united)
                else f.assign(**{column: f[column].cat.set_categories(united)})
                for f in frames
            ]
    return pd.concat(frames, ignore_index=True)


def _empty(frames: dict[str, pd.DataFrame | None], name: str) -> bool:
    frame = frames.get(name)
    return frame is not None and frame.empty


def _in_force(interventions: pd.DataFrame | None) -> pd.DataFrame | None:
    """The records no later record corrects (a correction replaces what it points to)."""
    if interventions is None or "corrects" not in interventions:
        return interventions
    replaced = set(interventions["corrects"].dropna().astype(int))
    if not replaced:
        return interventions
    kept: pd.DataFrame = interventions[~interventions["intervention_id"].isin(replaced)]
    return kept


def _with_term_dates(enrollments: pd.DataFrame, calendar: Calendar) -> pd.DataFrame:
    """Each enrolment's term start and end at its school, from the calendar."""
    terms = calendar.terms_for(enrollments["school_id"].unique())
    # (school, year, term) as one integer: a lookup among the terms, not a join.
    schools = pd.Index(terms["school_id"].unique())
    row = pd.Index(_term_keys(positions_in(terms["school_id"], schools), terms)).get_indexer(
        _term_keys(positions_in(enrollments["school_id"], schools), enrollments)
    )
    found = row >= 0
    dates = {}
    for column, name in (("start_date", "term_start"), ("end_date", "term_end")):
        values = terms[column].to_numpy()[np.maximum(row, 0)]
        values[~found] = np.datetime64("NaT")
        dates[name] = values
    return enrollments.assign(**dates)


def _with_known_date(
    grades: pd.DataFrame, enrollments: pd.DataFrame, calendar: Calendar
) -> pd.DataFrame:
    """A grade is known from its recorded date, else two weeks after its term ends (at
    the student's school that term; the all-schools calendar without an enrolment)."""
    recorded = grades["recorded_date"] if "recorded_date" in grades else None
    missing = np.ones(len(grades), bool) if recorded is None else recorded.isna().to_numpy()
    if not missing.any():  # the term ends are looked up for the grades without a date only
        return grades.assign(known_date=recorded)
    undated = grades[missing]
    fallback = _term_end(undated, enrollments, calendar) + GRADES_KNOWN_AFTER_TERM_END
    if recorded is None:
        return grades.assign(known_date=fallback.to_numpy())
    known = recorded.copy()
    known[missing] = fallback.to_numpy()
    return grades.assign(known_date=known)


def _term_end(grades: pd.DataFrame, enrollments: pd.DataFrame, calendar: Calendar) -> pd.Series:
    """The end of each grade's term at its school (at every school's, when the calendar
    does not know the school)."""
    del enrollments  # a grade names its school: no enrolment needs looking up
    term = ["academic_year", "term"]
    schools = [str(s) for s in pd.unique(grades["school_id"].astype(str))]
    ends = calendar.terms_for([*schools, ""])[["school_id", *term, "end_date"]]
    keys = pd.Index(_term_keys(positions_in(ends["school_id"], pd.Index(schools)), ends))
    row = keys.get_indexer(_term_keys(positions_in(grades["school_id"], pd.Index(schools)), grades))
    end = ends["end_date"].to_numpy()[np.maximum(row, 0)]
    unknown = row < 0
    if unknown.any():
        every = ends.loc[ends["school_id"] == "", [*term, "end_date"]]
        end[unknown] = grades.loc[unknown, term].merge(every, how="left")["end_date"].to_numpy()
    return pd.Series(end)
