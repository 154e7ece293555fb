"""Runs partitioned by school: the same feature code per partition, on Dask or in turn.

A partition is a group of home schools (see ``features.dataset``). Its sources come from
the operational database or from a Parquet dataset; a task carries only where to read
and which schools, so it can run on any Dask worker. Without a Dask client the same
tasks run one after another in this process, which bounds memory by the partition.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from features.dataset import DatabaseReader, DatasetReader, SourceReader, partitions
from features.db import make_engine, read_table
from features.school_context import add_counts, school_year_counts
from features.settings import Settings
from features.sources import Sources

T = TypeVar("T")
SCHOOLS_PER_TASK = 8


@dataclass(frozen=True)
class Partition:
    """Where one partition's sources are: a database URL or a dataset, and its schools.

    With both, records come from the dataset except interventions, which come from the
    database (the web pages record them there).
    """

    schools: tuple[str, ...]
    database_url: str | None = None
    dataset: Path | None = None

    def reader(self) -> SourceReader:
        if self.dataset is not None:
            database = DatabaseReader(make_engine(self.database_url)) if self.database_url else None
            return DatasetReader(self.dataset, self.schools, database)
        if self.database_url is None:
            raise ValueError("a partition needs a database URL or a dataset path")
        return DatabaseReader(make_engine(self.database_url), self.schools)

    def sources(self, counts: pd.DataFrame | None = None) -> Sources:
        """All of the partition's sources (for training)."""
        return replace(Sources.from_reader(self.reader()), school_years=counts)

    def weekly_sources(self, as_of: pd.Timestamp, counts: pd.DataFrame) -> Sources:
        """What the weekly run at ``as_of`` needs, with the school counts of every partition."""
        return replace(Sources.for_weekly_run(self.reader(), as_of), school_years=counts)

    def school_counts(self) -> pd.DataFrame:
        reader = self.reader()
        return school_year_counts(reader.read("enrollments"), reader.read("exits"))


def plan_partitions(
    database_url: str | None, dataset: Path | None, schools_per_task: int = SCHOOLS_PER_TASK
) -> list[Partition]:
    """Group the home schools into tasks of ``schools_per_task`` schools each."""
    if dataset is not None:
        schools = partitions(dataset)
    elif database_url is not None:
        students = read_table(make_engine(database_url), "students", columns=["school_id"])
        schools = sorted(students["school_id"].unique())
    else:
        raise ValueError("a partitioned run needs a database URL or a dataset path")
    if not schools:
        raise ValueError("no school has any student")
    return [
        Partition(tuple(schools[i : i + schools_per_task]), database_url, dataset)
        for i in range(0, len(schools), schools_per_task)
    ]


def run_tasks(
    function: Callable[..., T], tasks: Sequence[Any], client: Any = None, **shared: Any
) -> list[T]:
    """``function(task, **shared)`` for every task, on Dask workers or here in turn.

    Shared arguments (a model, the school counts) are sent to the workers once.
    """
    if client is None:
        return [function(task, **shared) for task in tasks]
    from distributed import as_completed

    scattered = {k: client.scatter(v, broadcast=True) for k, v in shared.items()}
    futures = client.map(function, tasks, pure=False, **scattered)
    position = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    # Fetch each result as it is done and let go of it, so a worker holds one
    # partition's results at a time rather than all of them until the end.
    for future in as_completed(futures):
        results[position[future.key]] = future.result()
        future.release()
    del futures
    return results


def global_school_counts(tasks: Sequence[Partition], client: Any = None) -> pd.DataFrame:
    """Per-(school, year) counts summed over every partition (students are disjoint)."""
    return add_counts(run_tasks(_counts, tasks, client))


def _counts(task: Partition) -> pd.DataFrame:
    return task.school_counts()


def features_by_partition(
    tasks: Sequence[Partition], as_of: pd.Timestamp, client: Any = None
) -> pd.DataFrame:
    """Feature rows of every enrolled student at ``as_of``, partition by partition."""
    counts = global_school_counts(tasks, client)
    parts = run_tasks(_features_of, tasks, client, as_of=as_of, counts=counts)
    rows = pd.concat([p for p in parts if len(p)], ignore_index=True) if parts else pd.DataFrame()
    if rows.empty:
        return rows
    return rows.sort_values(["as_of", "school_id", "student_id"], kind="stable").reset_index(
        drop=True
    )


def _features_of(task: Partition, as_of: pd.Timestamp, counts: pd.DataFrame) -> pd.DataFrame:
    from features.build import features_as_of

    return features_as_of(task.weekly_sources(as_of, counts), as_of)


@contextlib.contextmanager
def dask_client(settings: Settings) -> Iterator[Any]:
    """A Dask client when ``EWS_DASK_ADDRESS`` is set (``local``: a local cluster), else None."""
    if not settings.dask_address:
        yield None
        return
    from distributed import Client, LocalCluster

    if settings.dask_address == "local":
        with (
            LocalCluster(
                n_workers=settings.dask_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        with Client(settings.dask_address) as client:
            yield client
