"""School context: each school's dropout rate in academic years before the as-of year.

The rate is built from per-(school, year) counts. Counts over disjoint sets of students
add up, so a run partitioned by school computes them per partition, sums them, and gives
every partition the same totals (a student's history may lie at another school).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.asof import shared_pair_codes

COUNT_COLUMNS = ["school_id", "academic_year", "students", "dropouts"]
# What the counts read of each source.
ENROLLMENT_COLUMNS = ["student_id", "academic_year", "school_id"]
EXIT_COLUMNS = ["school_id", "student_id", "exit_date", "exit_type"]


def school_year_counts(enrollments: pd.DataFrame, exits: pd.DataFrame) -> pd.DataFrame:
    """Enrolled students and their dropout exits (a school's own) per school and
    academic year.

    Args:
        enrollments: ``ENROLLMENT_COLUMNS`` (others are not read).
        exits: ``EXIT_COLUMNS``.
    """
    enrolled = enrollments.drop_duplicates(["school_id", "student_id", "academic_year"])[
        ["student_id", "academic_year", "school_id"]
    ]
    dropouts = exits[(exits["exit_type"] == "dropout") & exits["exit_date"].notna()]
    exit_year = academic_years(dropouts["exit_date"])
    # (school's student, academic year) as one integer on both sides: a dropout that year.
    students, leavers = shared_pair_codes(enrolled, dropouts)
    enrolled_years = enrolled["academic_year"].to_numpy(dtype=np.int64)
    dropout_years = exit_year.to_numpy(dtype=np.int64)
    span = int(max(enrolled_years.max(initial=0), dropout_years.max(initial=0))) + 1
    dropped = np.isin(students * span + enrolled_years, leavers * span + dropout_years)
    left = enrolled.assign(dropped=np.where(dropped, 1.0, np.nan))
    counts = left.groupby(["school_id", "academic_year"], as_index=False).agg(
        students=("student_id", "size"), dropouts=("dropped", "sum")
    )
    return counts.astype({"students": "int64", "dropouts": "float64"})[COUNT_COLUMNS]


def academic_years(dates: pd.Series) -> pd.Series:
    """The Thai academic year (Buddhist era, from May) of each date."""
    years: pd.Series = dates.dt.year + 543 - (dates.dt.month < 5).astype(int)
    return years


def add_counts(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The totals of counts computed over disjoint sets of students."""
    if not parts:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    total = pd.concat(parts, ignore_index=True)
    return total.groupby(["school_id", "academic_year"], as_index=False)[
        ["students", "dropouts"]
    ].sum()[COUNT_COLUMNS]


def school_dropout_rate_past_years(queries: pd.DataFrame, counts: pd.DataFrame) -> pd.Series:
    """Dropout exits per enrolled student-year at the school, pooled over earlier years only.

    Args:
        queries: school_id, academic_year of each query.
        counts: ``school_year_counts`` over every student (all partitions).
    """
    per_year = counts.sort_values(["school_id", "academic_year"]).copy()
    per_year["cum_students"] = per_year.groupby("school_id")["students"].cumsum()
    per_year["cum_dropouts"] = per_year.groupby("school_id")["dropouts"].cumsum()
    # The rate seen in year Y pools every year before Y.
    per_year["academic_year"] += 1
    found = queries[["school_id", "academic_year"]].merge(
        per_year[["school_id", "academic_year", "cum_students", "cum_dropouts"]],
        on=["school_id", "academic_year"],
        how="left",
    )
    rate = found["cum_dropouts"] / found["cum_students"]
    return pd.Series(rate.to_numpy(), index=queries.index, dtype=float)
