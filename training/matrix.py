"""The training matrix: (student, Monday) rows with features, labels and audit columns.

A row is a school's student (``school_id``, ``student_id``) on a date; ``person_id`` is
their child, whose rows at several schools the evaluation counts as one child.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from features.asof import latest_at
from features.build import POPULATION_COLUMNS, build_features, features_as_of, population
from features.sources import Sources
from training.labels import LabelRules, label, unlinked_labels

AUDIT_COLUMNS = ["sex", "nationality", "disability", "equity_status"]


def weekly_as_of_dates(
    sources: Sources, start: date | None = None, end: date | None = None
) -> pd.DatetimeIndex:
    """Every Monday inside a term of the data (optionally within [start, end])."""
    first = sources.enrollments["term_start"].min()
    last = sources.enrollments["term_end"].max()
    mondays = sources.calendar.mondays(start, end)
    return pd.DatetimeIndex(mondays[(mondays >= first) & (mondays <= last)])


def build_training_matrix(
    sources: Sources, rules: LabelRules, dates: pd.DatetimeIndex | None = None
) -> pd.DataFrame:
    """Features for every weekly as-of date in one pass per source, with labels.

    Values are identical to computing each date from scratch (``naive_training_matrix``).
    """
    dates = weekly_as_of_dates(sources) if dates is None else dates
    queries = population(sources, dates)
    features = build_features(sources, queries)
    return _assemble(sources, queries, features, rules)


def naive_training_matrix(
    sources: Sources, rules: LabelRules, dates: pd.DatetimeIndex | None = None
) -> pd.DataFrame:
    """The reference: recompute every date from scratch on what was known then (slow)."""
    dates = weekly_as_of_dates(sources) if dates is None else dates
    rows = [features_as_of(sources, day) for day in dates]
    frame = pd.concat(rows, ignore_index=True)
    queries = frame[POPULATION_COLUMNS]
    features = frame.drop(columns=queries.columns)
    return _assemble(sources, queries, features, rules)


def _assemble(
    sources: Sources, queries: pd.DataFrame, features: pd.DataFrame, rules: LabelRules
) -> pd.DataFrame:
    audit = audit_columns(sources, queries)
    labels = label(sources, queries, rules)
    # What the labels would be without following children across schools (training
    # reports how many linking changed).
    labels["label_unlinked"] = unlinked_labels(sources, queries, rules)
    capacity = school_capacity(sources, queries)
    matrix = pd.concat([queries, audit, capacity, features, labels], axis=1)
    return matrix.sort_values(["as_of", "school_id", "student_id"], kind="stable").reset_index(
        drop=True
    )


def school_capacity(sources: Sources, queries: pd.DataFrame) -> pd.Series:
    """Each row's school's weekly home-visit capacity (NaN where the school gave none)."""
    if sources.schools is None or "home_visit_capacity" not in sources.schools:
        return pd.Series(np.nan, index=queries.index, name="capacity")
    capacity = sources.schools.set_index("school_id")["home_visit_capacity"].astype(float)
    return queries["school_id"].map(capacity).astype(float).rename("capacity")


def audit_columns(sources: Sources, queries: pd.DataFrame) -> pd.DataFrame:
    """Groups for the fairness audit: sex, nationality, disability, equity status as of the
    date (the child's latest survey, at any school)."""
    key = ["school_id", "student_id"]
    students = (
        queries[key]
        .astype(str)
        .merge(
            sources.students[[*key, "sex", "nationality", "disability"]].astype(
                dict.fromkeys(key, str)
            ),
            on=key,
            how="left",
        )
    )
    audit = students.drop(columns=key).set_axis(queries.index)
    if sources.household is not None:
        surveys = sources.household[["person_id", "survey_date", "equity_status"]]
        found = latest_at(
            surveys.rename(columns={"person_id": "student_id"}),
            "survey_date",
            queries["person_id"],
            queries["as_of"],
        )
        audit["equity_status"] = found["equity_status"].to_numpy()
    else:
        audit["equity_status"] = pd.NA
    return audit[AUDIT_COLUMNS]
