"""Feature rows for (student, as-of date) pairs, from records dated on or before each date.

``population`` says who is scored at a date; ``build_features`` computes every feature
family for many (student, as-of) pairs in one pass per source; ``features_as_of`` is the
from-scratch computation for one date (records after it are removed first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features import attendance, coursework, demographics, grades, history, household, screening
from features.asof import as_ns, latest_at, recoded, shared_pair_codes
from features.school_context import school_dropout_rate_past_years, school_year_counts
from features.sources import KNOWN_ON, Sources
from schooldata.contract import AT_SCHOOL

FeatureFunction = Callable[[pd.DataFrame], pd.Series]
POPULATION_COLUMNS = [
    "student_id",
    "as_of",
    "school_id",
    "person_id",
    "advisor_id",
    "classroom",
    "grade_level",
    "academic_year",
    "term",
    "term_start",
    "term_end",
    # The first day of the student's first term at this school, and its grade level.
    "entered_on",
    "entry_grade",
]


@dataclass(frozen=True)
class Family:
    """A feature family: the source it reads, its state builder, and its features."""

    name: str
    source: str | None
    features: Sequence[FeatureFunction]


FAMILIES: tuple[Family, ...] = (
    Family("attendance", "attendance", attendance.FEATURES),
    Family("grades", "grades", grades.FEATURES),
    Family("coursework", "assessments", coursework.FEATURES),
    Family("household", "household", household.FEATURES),
    Family("screening", "screenings", screening.FEATURES),
    Family("history", None, history.FEATURES),
    Family("demographics", None, demographics.FEATURES),
)
CONTEXT_FEATURES = ("school_dropout_rate_past_years",)
FEATURE_DECIMALS = 9


def feature_ids() -> list[str]:
    """Every feature id, in the order of the feature frame."""
    ids = [f.__name__ for family in FAMILIES for f in family.features]
    return ids + list(CONTEXT_FEATURES)


def population(sources: Sources, as_of_dates: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Students enrolled in a term containing each date, with no exit in that term up to it.

    A student is a school and its code; ``person_id`` is their child. An exit ends an
    enrolment spell at its school: a student who left and enrolled again later is back in
    the population from the term they re-enrolled in. A child enrolled at two schools on
    a day (a move nobody recorded as an exit, or a class list naming a child by another
    child's ID) is a student of the school that last marked them at school by that day;
    marked at neither, of the school that registered them last.
    """
    enrolled = sources.enrollments
    frames = []
    for day in sorted({pd.Timestamp(d) for d in as_of_dates}):
        current = enrolled[(enrolled["term_start"] <= day) & (enrolled["term_end"] >= day)]
        frames.append(current.assign(as_of=day))
    if not frames:
        return pd.DataFrame(columns=POPULATION_COLUMNS)
    pairs = pd.concat(frames, ignore_index=True)
    exits, students = shared_pair_codes(sources.exits, pairs)
    # The latest exit on or before the as-of date; excluded when it falls in this term.
    last_exit = latest_at(
        pd.DataFrame({"student_id": exits, "exit_date": sources.exits["exit_date"].to_numpy()}),
        "exit_date",
        pd.Series(students, index=pairs.index),
        pairs["as_of"],
    )["exit_date"]
    left = last_exit.notna() & (last_exit >= pairs["term_start"])
    pairs = pairs.loc[~left.to_numpy()]
    pairs = _with_entry(pairs, enrolled, _first_years(sources))
    # Read as categories (a dataset): as text here, where rows are sorted and handed on.
    # The person keys only group a child's rows, which their categories do as well.
    pairs = _as_text(pairs, [c for c in POPULATION_COLUMNS if c != "person_id"])
    if pairs.duplicated(["as_of", "person_id"]).any():  # rare: sorted only then
        registered = [c for c in ("term_start", "snapshot_date") if c in pairs]
        pairs = pairs.assign(_marked=_last_marked(sources.attendance, pairs))
        order = ["as_of", "person_id", "_marked", *registered, "school_id"]
        pairs = pairs.sort_values(order, kind="stable")
        pairs = pairs.drop_duplicates(["as_of", "person_id"], keep="last").drop(columns="_marked")
    pairs = _as_text(pairs, ["person_id"])
    pairs = pairs.sort_values(["as_of", "school_id", "student_id"], kind="stable").reset_index(
        drop=True
    )
    return pairs.reindex(columns=POPULATION_COLUMNS)


def _last_marked(attendance: pd.DataFrame | None, pairs: pd.DataFrame) -> np.ndarray:
    """For each row of a child enrolled at two schools on its date, the last day of the
    term by then their school marked them at school, as a number (the smallest where
    never, as for every other row: only such a child's rows are compared). Days of an
    earlier term do not count: the weekly run reads attendance from the term's start."""
    never = np.full(len(pairs), np.iinfo(np.int64).min)
    if attendance is None or attendance.empty:
        return never
    twice = np.flatnonzero(pairs.duplicated(["as_of", "person_id"], keep=False).to_numpy())
    asked = pairs.iloc[twice]
    marked = attendance.loc[attendance["status"].isin(AT_SCHOOL).to_numpy()]
    days, students = shared_pair_codes(marked, asked)
    kept = np.isin(days, students[students >= 0])
    last = latest_at(
        pd.DataFrame({"student_id": days[kept], "date": marked["date"].to_numpy()[kept]}),
        "date",
        pd.Series(students, index=asked.index),
        asked["as_of"],
    )["date"]
    this_term = last.notna().to_numpy() & (as_ns(last) >= as_ns(asked["term_start"]))
    never[twice] = np.where(this_term, as_ns(last).view(np.int64), never[twice])
    return never


def _as_text(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """These columns as text where they are categories."""
    text = [c for c in columns if c in frame and isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(text, "str")) if text else frame


def _first_years(sources: Sources) -> pd.Series:
    """Each school's first academic year in the records: from the counts of every
    partition when this is one, so that a partition sees the whole school's."""
    counts = sources.school_years
    years = counts if counts is not None else sources.enrollments
    return years.groupby("school_id", observed=True)["academic_year"].min().astype(int)


def _with_entry(
    pairs: pd.DataFrame, enrolled: pd.DataFrame, first_years: pd.Series
) -> pd.DataFrame:
    """Each row with when its student entered the school (their first term there) and at
    which grade level: known by the date, since that term began before it.

    A first term in the school's first year of records is not always an entry: the
    records may start with the child already there. It is one when the child was
    enrolled elsewhere before, or when it is the first grade of a level (P1, M1, M4…),
    where children enter; otherwise when they entered is unknown (blank), not that year.
    """
    spells, rows = shared_pair_codes(enrolled, pairs)
    order = np.lexsort((as_ns(enrolled["term_start"]), spells))
    starts = np.ones(len(order), dtype=bool)  # each spell's first term (none: no rows)
    starts[1:] = spells[order][1:] != spells[order][:-1]
    first = order[starts]
    row = pd.Index(spells[first]).get_indexer(rows)
    start = as_ns(enrolled["term_start"])[first]
    grade = pd.Series(enrolled["grade_level"].to_numpy()[first]).astype(str)
    school = pd.Series(enrolled["school_id"].to_numpy()[first]).astype(str)
    records_begin = school.map(first_years.set_axis(first_years.index.astype(str)))
    # Each child's first term anywhere (the weekly run reads other children's enrolments
    # too, for the school context, without a person key: they are not grouped).
    person, _ = pd.factorize(enrolled["person_id"])
    child_first = pd.Series(as_ns(enrolled["term_start"])).groupby(person).transform("min")
    known = (
        (enrolled["academic_year"].to_numpy()[first].astype(int) > records_begin.to_numpy())
        | grade.isin(history.ENTRY_GRADES).to_numpy()
        | (child_first.to_numpy()[first] < start)
    )
    at = np.maximum(row, 0)
    found = (row >= 0) & known[at]
    return pairs.assign(
        entered_on=np.where(found, start[at], np.datetime64("NaT")),
        entry_grade=grade.iloc[at].where(found).to_numpy(),
    )


def build_features(sources: Sources, queries: pd.DataFrame) -> pd.DataFrame:
    """Every feature for each (student, as-of) query, one pass per source.

    Args:
        sources: the validated sources (records after an as-of date are never read for it).
        queries: population rows (``POPULATION_COLUMNS``).

    Returns:
        A float frame aligned with ``queries``, one column per feature id; a missing
        source gives NaN, never zero.
    """
    columns: dict[str, pd.Series] = {}
    coded, students = _by_number(sources, queries)
    for family in FAMILIES:
        state = _family_state(family, coded, students)
        for feature in family.features:
            if state is None:
                columns[feature.__name__] = pd.Series(np.nan, index=queries.index)
            else:
                # To nine decimals: a ratio of sums over a window carries rounding noise
                # that depends on how far back the records were read (1e-15), which a
                # tree's split can fall between; rounded, every way of reading the same
                # records gives the same value, and the same risk.
                columns[feature.__name__] = feature(state).astype(float).round(FEATURE_DECIMALS)
    counts = sources.school_years
    if counts is None:
        counts = school_year_counts(sources.enrollments, sources.exits)
    columns["school_dropout_rate_past_years"] = school_dropout_rate_past_years(
        queries, counts
    ).round(FEATURE_DECIMALS)
    return pd.DataFrame(columns, index=queries.index)[feature_ids()]


def _by_number(sources: Sources, queries: pd.DataFrame) -> tuple[Sources, pd.DataFrame]:
    """The queried children's records, at every school they were at, each child a number
    in ``student_id`` instead of a school's code.

    Every family groups, sorts and joins records by child; on numbers that work is a
    fraction of what it is on strings. Records of children not queried are left out (no
    feature reads another child's records; the school context has its own counts). A
    child's students at several schools become one row of ``students``: each value from
    the first of them (by school, then code) that has it.
    """
    ids = pa.array(queries["person_id"].unique(), pa.string())
    changes: dict[str, Any] = {}
    for name in ("students", *KNOWN_ON):
        frame = getattr(sources, name)
        if frame is not None and "person_id" in frame:
            number = _numbers(frame["person_id"], ids)
            mine = number >= 0
            kept = frame.drop(columns=["person_id"])
            if not mine.all():
                kept, number = kept[mine], number[mine]
            if name == "students":
                kept = _one_row_a_child(kept, number)
            else:
                kept = kept.assign(student_id=number)
            changes[name] = _coded(kept)
    numbered = _coded(queries.assign(student_id=_numbers(queries["person_id"], ids)))
    return replace(sources, **changes), numbered


def _one_row_a_child(students: pd.DataFrame, number: np.ndarray) -> pd.DataFrame:
    """Students numbered by child, one row a child: each column's first value in order of
    school and code (a child's record at one school may lack what another holds)."""
    ordered = students.assign(_child=number).sort_values(
        ["_child", "school_id", "student_id"], kind="stable"
    )
    if not ordered["_child"].duplicated().any():
        return ordered.drop(columns=["student_id"]).rename(columns={"_child": "student_id"})
    first = ordered.drop(columns=["student_id"]).groupby("_child", sort=True).first()
    return first.rename_axis("student_id").reset_index()


def _numbers(values: pd.Series, ids: pa.Array) -> np.ndarray:
    """Each value's position in ``ids`` (-1: not there)."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # each category looked up once
        return recoded(values, _numbers(pd.Series(values.cat.categories), ids))
    text = values if pd.api.types.is_string_dtype(values) else values.astype(str)
    found = pc.index_in(pa.array(text, pa.string()), value_set=ids).fill_null(-1)
    return np.asarray(found, dtype=np.int64)


def _coded(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categories: sorting and joining move small integer codes."""
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c])]
    return frame.astype(dict.fromkeys(text, "category")) if text else frame


def _family_state(family: Family, sources: Sources, queries: pd.DataFrame) -> pd.DataFrame | None:
    if family.name == "history":
        return history.history_state(
            queries, sources.students, sources.enrollments, sources.exits, sources.interventions
        )
    if family.name == "demographics":
        return demographics.demographics_state(sources.students, queries)
    frame = getattr(sources, family.source or "")
    if frame is None:
        return None
    builders = {
        "attendance": attendance.attendance_state,
        "grades": grades.grades_state,
        "coursework": coursework.coursework_state,
        "household": household.household_state,
        "screening": screening.screening_state,
    }
    return builders[family.name](frame, queries)


def features_as_of(
    sources: Sources, as_of: pd.Timestamp, students: Sequence[tuple[str, str]] | None = None
) -> pd.DataFrame:
    """Population and features at one date, computed from scratch on what was known then.

    Args:
        sources: the validated sources.
        as_of: the date.
        students: only these (school, code) students (all enrolled students by default).
    """
    day = pd.Timestamp(as_of)
    known = sources.known_on(day)
    queries = population(known, [day])
    if students is not None:
        wanted = pd.MultiIndex.from_tuples(list(students), names=["school_id", "student_id"])
        asked = pd.MultiIndex.from_frame(queries[["school_id", "student_id"]]).isin(wanted)
        queries = queries[asked].reset_index(drop=True)
    return pd.concat([queries, build_features(known, queries)], axis=1)


def features_for_dates(sources: Sources, dates: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Population and features for many dates in one pass (same values as per date)."""
    queries = population(sources, dates)
    return pd.concat([queries, build_features(sources, queries)], axis=1)
