"""Features by partition (on Dask) equal the whole computation; counts add up."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from features.build import features_as_of
from features.distributed import features_by_partition, plan_partitions
from features.school_context import add_counts, school_year_counts
from features.sources import Sources

AS_OF = pd.Timestamp("2025-03-10")


def test_features_by_partition_on_dask_equal_the_whole_computation(
    synthetic_engine: sa.Engine,
    synthetic_sources: Sources,
    dask_cluster_client,  # type: ignore[no-untyped-def]
) -> None:
    tasks = plan_partitions(synthetic_engine.url.render_as_string(), None, schools_per_task=1)
    assert len(tasks) == 6

    by_partition = features_by_partition(tasks, AS_OF, dask_cluster_client)

    whole = features_as_of(synthetic_sources, AS_OF)
    assert len(whole) > 100
    pd.testing.assert_frame_equal(by_partition, whole)


def test_school_counts_over_disjoint_students_add_up(synthetic_sources: Sources) -> None:
    enrollments, exits = synthetic_sources.enrollments, synthetic_sources.exits
    students = sorted(enrollments["student_id"].unique())
    halves = [set(students[::2]), set(students[1::2])]
    parts = [
        school_year_counts(
            enrollments[enrollments["student_id"].isin(half)],
            exits[exits["student_id"].isin(half)],
        )
        for half in halves
    ]

    pd.testing.assert_frame_equal(
        add_counts(parts), school_year_counts(enrollments, exits), check_dtype=False
    )
