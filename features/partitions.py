"""A partition's sources, school counts and features, on Dask, a pool or in turn.

Which schools a partition holds and where it reads them is ``schooldata.partitions``;
here, what its records become. Without a Dask client or a pool the same tasks run one
after another in this process, which bounds memory by the partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from core.cluster import LocalPool, run_tasks
from features.school_context import (
    ENROLLMENT_COLUMNS,
    EXIT_COLUMNS,
    academic_years,
    add_counts,
    school_year_counts,
)
from features.sources import Sources
from schooldata.partitions import Partition, largest_first


def partition_sources(partition: Partition, counts: pd.DataFrame | None = None) -> Sources:
    """All of a partition's sources (for training), with every partition's school counts."""
    return replace(Sources.from_reader(partition.reader()), school_years=counts)


def weekly_sources(partition: Partition, as_of: pd.Timestamp, counts: pd.DataFrame) -> Sources:
    """What the weekly run at ``as_of`` needs of a partition, with the school counts of
    every partition."""
    return replace(Sources.for_weekly_run(partition.reader(), as_of), school_years=counts)


def school_counts(partition: Partition) -> pd.DataFrame:
    """A partition's per-(school, year) counts of students and leavers."""
    reader = partition.reader()
    return school_year_counts(
        reader.read("enrollments", columns=ENROLLMENT_COLUMNS),
        reader.read("exits", columns=EXIT_COLUMNS),
    )


def global_school_counts(tasks: Sequence[Partition], client: Any = None) -> pd.DataFrame:
    """Per-(school, year) counts summed over every partition (students are disjoint)."""
    return add_counts(partition_counts(tasks, client))


def partition_counts(tasks: Sequence[Partition], client: Any = None) -> list[pd.DataFrame]:
    """Each partition's per-(school, year) counts, in the tasks' order.

    While a local pool's workers are still starting (a run that started the pool, as
    ``ews score`` does), partitions are counted here, one after another, instead of
    waiting for them; the pool counts whatever is left once they have started.
    """
    here: list[pd.DataFrame] = []
    left = list(tasks)
    while left and isinstance(client, LocalPool) and client.starting:
        here.append(_counts(left.pop(0)))
    return here + run_tasks(_counts, left, client)


def enrolled_in_year(parts: Sequence[pd.DataFrame], as_of: pd.Timestamp) -> list[int]:
    """Each partition's students enrolled in the academic year of ``as_of``, from its
    counts: the students a weekly run scores, and so most of the partition's work (the
    students its files hold may be mostly past ones)."""
    year = int(academic_years(pd.Series([pd.Timestamp(as_of)])).iloc[0])
    return [int(part.loc[part["academic_year"] == year, "students"].sum()) for part in parts]


def _counts(task: Partition) -> pd.DataFrame:
    return school_counts(task)


def features_by_partition(
    tasks: Sequence[Partition], as_of: pd.Timestamp, client: Any = None
) -> pd.DataFrame:
    """Feature rows of every enrolled student at ``as_of``, partition by partition."""
    by_partition = partition_counts(tasks, client)
    counts = add_counts(by_partition)
    # Rows are sorted below.
    largest = [tasks[i] for i in largest_first(tasks, enrolled_in_year(by_partition, as_of))]
    parts = [
        p for p in run_tasks(_features_of, largest, client, as_of=as_of, counts=counts) if len(p)
    ]
    if not parts:
        return pd.DataFrame()
    rows = pd.concat(parts, ignore_index=True)
    return rows.sort_values(["as_of", "school_id", "student_id"], kind="stable").reset_index(
        drop=True
    )


def _features_of(task: Partition, as_of: pd.Timestamp, counts: pd.DataFrame) -> pd.DataFrame:
    from features.build import features_as_of

    return features_as_of(weekly_sources(task, as_of, counts), as_of)
