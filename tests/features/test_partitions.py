"""Features by partition (on Dask) equal the whole computation; counts add up."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from core.cluster import local_pool
from ews.cli import app as cli
from features.build import features_as_of
from features.partitions import (
    enrolled_in_year,
    features_by_partition,
    global_school_counts,
    partition_counts,
)
from features.school_context import add_counts, school_year_counts
from features.sources import Sources
from schooldata.dataset import database_homes
from schooldata.partitions import PartitionError, largest_first, plan_partitions

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


def _home_sizes(sources: Sources) -> pd.Series:
    """Each home school's students: every school's students of the children it is home to."""
    return database_homes(sources.students).value_counts().sort_index()


def test_tasks_are_planned_by_students_each_school_once_in_order(
    synthetic_engine: sa.Engine, synthetic_sources: Sources
) -> None:
    sizes = _home_sizes(synthetic_sources)
    limit = int(sizes.max() * 2.5)  # room for two schools a task, never three

    tasks = plan_partitions(synthetic_engine.url.render_as_string(), None, students_per_task=limit)

    assert [s for task in tasks for s in task.schools] == list(sizes.index)
    held = [int(sizes[list(task.schools)].sum()) for task in tasks]
    assert all(h <= limit for h in held)
    # A task is closed only when the next school would not fit in it.
    first_of_next = [task.schools[0] for task in tasks[1:]]
    assert all(h + sizes[s] > limit for h, s in zip(held, first_of_next, strict=False))
    one_each = plan_partitions(synthetic_engine.url.render_as_string(), None, students_per_task=1)
    assert [t.schools for t in one_each] == [(s,) for s in sizes.index]
    # Each task knows its size; a run starts the largest first (ties in plan order).
    assert [t.students for t in one_each] == list(sizes)
    order = largest_first(one_each)
    assert sorted(order) == list(range(len(one_each)))
    assert [one_each[i].students for i in order] == sorted(sizes, reverse=True)


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


def test_a_folder_that_is_not_a_dataset_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "attendance").mkdir()

    with pytest.raises(PartitionError, match=r"not a dataset written by 'ews ingest --dataset'"):
        plan_partitions(None, tmp_path)

    result = CliRunner().invoke(
        cli, ["features", "--as-of", "2025-03-10"], env={"EWS_DATASET_PATH": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "EWS_DATASET_PATH" in result.output


def test_counts_are_made_here_while_a_pools_workers_are_still_starting(
    synthetic_engine: sa.Engine, synthetic_sources: Sources
) -> None:
    tasks = plan_partitions(synthetic_engine.url.render_as_string(), None, schools_per_task=2)
    whole = school_year_counts(synthetic_sources.enrollments, synthetic_sources.exits)
    # The workers take 5 s to import what they preload.
    with local_pool(2, preload=["tests.slow_start"]) as pool:
        assert pool is not None
        assert pool.starting
        here = global_school_counts(tasks, pool)
        assert pool.starting  # made here: no worker could have
        assert pool.warm_up is not None
        pool.warm_up.result()
        assert not pool.starting
        on_workers = global_school_counts(tasks, pool)
    pd.testing.assert_frame_equal(here, whole, check_dtype=False)
    pd.testing.assert_frame_equal(on_workers, whole, check_dtype=False)


def test_a_run_on_workers_plans_a_multiple_of_them_as_even_as_schools_allow(
    synthetic_engine: sa.Engine, synthetic_sources: Sources
) -> None:
    url = synthetic_engine.url.render_as_string()
    sizes = _home_sizes(synthetic_sources)
    # The smallest task size that gives three tasks in turn.
    limit = next(
        n
        for n in range(int(sizes.max()), int(sizes.sum()))
        if len(plan_partitions(url, None, students_per_task=n)) == 3
    )
    alone = plan_partitions(url, None, students_per_task=limit)

    tasks = plan_partitions(url, None, students_per_task=limit, workers=2)

    assert len(tasks) == 4
    assert [s for task in tasks for s in task.schools] == list(sizes.index)
    held = [task.students for task in tasks]
    assert max(held) <= max(t.students for t in alone) <= limit
    # No smaller task size gives as few tasks: the largest is as small as it can be.
    assert len(plan_partitions(url, None, students_per_task=max(held) - 1)) > 4


def test_partitions_are_sized_by_their_students_enrolled_in_the_year(
    synthetic_engine: sa.Engine, synthetic_sources: Sources
) -> None:
    tasks = plan_partitions(synthetic_engine.url.render_as_string(), None, schools_per_task=2)
    year = int(
        synthetic_sources.enrollments.loc[
            synthetic_sources.enrollments["term_start"] <= AS_OF, "academic_year"
        ].max()
    )
    enrolled = synthetic_sources.enrollments
    students = synthetic_sources.students
    home = pd.Series(
        database_homes(students).to_numpy(),
        index=pd.MultiIndex.from_frame(students[["school_id", "student_id"]]),
    )
    keys = pd.MultiIndex.from_frame(enrolled[["school_id", "student_id"]].astype(str))
    enrolled = enrolled.assign(home=home.reindex(keys).to_numpy())
    expected = [
        len(
            enrolled.loc[
                (enrolled["academic_year"] == year) & enrolled["home"].isin(task.schools),
                ["school_id", "student_id"],
            ].drop_duplicates()
        )
        for task in tasks
    ]

    sizes = enrolled_in_year(partition_counts(tasks), AS_OF)

    assert sizes == expected
    assert len(set(sizes)) > 1
    assert [sizes[i] for i in largest_first(tasks, sizes)] == sorted(sizes, reverse=True)
