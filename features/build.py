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
from features.asof import latest_at, recoded
from features.school_context import school_dropout_rate_past_years, school_year_counts
from features.sources import KNOWN_ON, Sources

FeatureFunction = Callable[[pd.DataFrame], pd.Series]
POPULATION_COLUMNS = [
    "student_id",
    "as_of",
    "school_id",
    "advisor_id",
    "classroom",
    "grade_level",
    "academic_year",
    "term",
    "term_start",
    "term_end",
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


def feature_ids() -> list[str]:
    """Every feature id, in the order of the feature frame."""
    ids = [f.__name__ for family in FAMILIES for f in family.features]
    return ids + list(CONTEXT_FEATURES)


def population(sources: Sources, as_of_dates: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Students enrolled in a term containing each date, with no exit in that term up to it.

    An exit ends an enrolment spell: a student who left and enrolled again later is back
    in the population from the term they re-enrolled in.
    """
    enrolled = sources.enrollments
    frames = []
    for day in sorted({pd.Timestamp(d) for d in as_of_dates}):
        current = enrolled[(enrolled["term_start"] <= day) & (enrolled["term_end"] >= day)]
        frames.append(current.assign(as_of=day))
    if not frames:
        return pd.DataFrame(columns=POPULATION_COLUMNS)
    pairs = pd.concat(frames, ignore_index=True)
    # Read as categories (a dataset): as text here, where rows are sorted and handed on.
    text = [
        c
        for c in POPULATION_COLUMNS
        if c in pairs and isinstance(pairs[c].dtype, pd.CategoricalDtype)
    ]
    if text:
        pairs = pairs.astype(dict.fromkeys(text, "str"))
    exits = sources.exits[["student_id", "exit_date"]]
    # The latest exit on or before the as-of date; excluded when it falls in this term.
    last_exit = latest_at(exits, "exit_date", pairs["student_id"], pairs["as_of"])["exit_date"]
    left = last_exit.notna() & (last_exit >= pairs["term_start"])
    pairs = pairs.loc[~left.to_numpy()]
    pairs = pairs.sort_values(["as_of", "school_id", "student_id"], kind="stable").reset_index(
        drop=True
    )
    return pairs.reindex(columns=POPULATION_COLUMNS)


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
                columns[feature.__name__] = feature(state).astype(float)
    counts = sources.school_years
    if counts is None:
        counts = school_year_counts(sources.enrollments, sources.exits)
    columns["school_dropout_rate_past_years"] = school_dropout_rate_past_years(queries, counts)
    return pd.DataFrame(columns, index=queries.index)[feature_ids()]


def _by_number(sources: Sources, queries: pd.DataFrame) -> tuple[Sources, pd.DataFrame]:
    """The queried students' records, each student a number instead of an ID string.

    Every family groups, sorts and joins records by student; on numbers that work is a
    fraction of what it is on strings. Records of students not queried are left out (no
    feature reads another student's records; the school context has its own counts).
    """
    ids = pa.array(queries["student_id"].unique(), pa.string())
    changes: dict[str, Any] = {}
    for name in ("students", *KNOWN_ON):
        frame = getattr(sources, name)
        if frame is not None and "student_id" in frame:
            number = _numbers(frame["student_id"], ids)
            kept = frame[number >= 0].assign(student_id=number[number >= 0])
            changes[name] = _coded(kept)
    numbered = _coded(queries.assign(student_id=_numbers(queries["student_id"], ids)))
    return replace(sources, **changes), numbered


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
    sources: Sources, as_of: pd.Timestamp, student_ids: Sequence[str] | None = None
) -> pd.DataFrame:
    """Population and features at one date, computed from scratch on what was known then.

    Args:
        sources: the validated sources.
        as_of: the date.
        student_ids: only these students (all enrolled students by default).
    """
    day = pd.Timestamp(as_of)
    known = sources.known_on(day)
    queries = population(known, [day])
    if student_ids is not None:
        queries = queries[queries["student_id"].isin(list(student_ids))].reset_index(drop=True)
    return pd.concat([queries, build_features(known, queries)], axis=1)


def features_for_dates(sources: Sources, dates: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Population and features for many dates in one pass (same values as per date)."""
    queries = population(sources, dates)
    return pd.concat([queries, build_features(sources, queries)], axis=1)
