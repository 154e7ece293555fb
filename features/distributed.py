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


class PartitionError(ValueError):
    """A partitioned run cannot start: no dataset or database to read, or nobody in it."""


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
        if not (dataset / "students").is_dir():
            raise PartitionError(
                f"{dataset} is not a dataset written by 'ews ingest --dataset' "
                "(it has no students/ folder); check EWS_DATASET_PATH"
            )
        schools = partitions(dataset)
    elif database_url is not None:
        students = read_table(make_engine(database_url), "students", columns=["school_id"])
        schools = sorted(students["school_id"].unique())
    else:
        raise PartitionError("a partitioned run needs a database URL or a dataset path")
    if not schools:
        raise PartitionError("no school has any student")
    return [
        Partition(tuple(schools[i : i + schools_per_task]), database_url, dataset)
        for i in range(0, len(schools), schools_per_task)
    ]


def run_tasks(
    function: Callable[..., T],
    tasks: Sequence[Any],
    client: Any = None,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    **shared: Any,
) -> list[T]:
    """``function(task, **shared)`` for every task, on Dask workers or here in turn.

    Shared arguments (a model, the school counts) are sent to the workers once;
    ``on_progress(done, total)`` is called as each task finishes.
    """
    results: list[Any] = [None] * len(tasks)
    for i, result in each_result(function, tasks, client, on_progress, **shared):
        results[i] = result
    return results


def each_result(
    function: Callable[..., T],
    tasks: Sequence[Any],
    client: Any = None,
    on_progress: Callable[[int, int], None] = lambda _done, _total: None,
    **shared: Any,
) -> Iterator[tuple[int, T]]:
    """Like ``run_tasks``, but yields ``(task index, result)`` as each task finishes, so
    the caller can keep one result at a time (in completion order on Dask)."""
    if client is None:
        for i, task in enumerate(tasks):
            result = function(task, **shared)
            on_progress(i + 1, len(tasks))
            yield i, result
        return
    from distributed import as_completed

    scattered = {k: client.scatter(v, broadcast=True) for k, v in shared.items()}
    futures = client.map(function, tasks, pure=False, **scattered)
    position = {future.key: i for i, future in enumerate(futures)}
    # Fetch each result as it is done and let go of it, so a worker holds one
    # partition's results at a time rather than all of them until the end.
    for done, future in enumerate(as_completed(futures), start=1):
        result = future.result()
        future.release()
        on_progress(done, len(tasks))
        yield position[future.key], result


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
    parts = [
        p for p in run_tasks(_features_of, tasks, client, as_of=as_of, counts=counts) if len(p)
    ]
    if not parts:
        return pd.DataFrame()
    rows = pd.concat(parts, ignore_index=True)
    return rows.sort_values(["as_of", "school_id", "student_id"], kind="stable").reset_index(
        drop=True
    )


def _features_of(task: Partition, as_of: pd.Timestamp, counts: pd.DataFrame) -> pd.DataFrame:
    from features.build import features_as_of

    return features_as_of(task.weekly_sources(as_of, counts), as_of)


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A client of a local Dask cluster of ``workers`` processes, one thread each."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def dask_client(settings: Settings) -> Iterator[Any]:
    """A Dask client when ``EWS_DASK_ADDRESS`` is set (``local``: a local cluster), else None.

    Raises:
        ConnectionError: the scheduler cannot be reached.
    """
    if not settings.dask_address:
        yield None
    elif settings.dask_address == "local":
        with local_cluster(settings.dask_workers) as client:
            yield client
    else:
        from distributed import Client

        try:
            client = Client(settings.dask_address, timeout=30)
        except OSError as error:
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {settings.dask_address} "
                f"(EWS_DASK_ADDRESS): {error}"
            ) from None
        with client:
            yield client
