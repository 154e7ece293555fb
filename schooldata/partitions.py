"""Runs partitioned by school: which schools each task holds, and where it reads them.

A partition is a group of home schools (see ``schooldata.dataset``). Its records come from
the operational database or from a Parquet dataset; a task carries only where to read
and which schools, so it can run on any Dask worker or pool process. What a partition's
records become (sources, features, school counts) is in ``features.partitions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from schooldata.dataset import (
    HOME_COLUMNS,
    DatabaseReader,
    DatasetReader,
    SourceReader,
    database_homes,
    home_links,
    students_by_school,
)
from schooldata.db import make_engine, read_table


class PartitionError(ValueError):
    """A partitioned run cannot start: no dataset or database to read, or nobody in it."""


# A task of the weekly run: about this many students (with their histories) in one worker
# at a time, about 1.3 GB (``Settings.students_per_task``, the same default). Per student,
# a task of 20,000 costs two thirds of one of 2,500: reading, sorting and joining cost per
# task and per call as well as per row.
STUDENTS_PER_TASK = 25_000
# Training builds a row per student and as-of date: tasks of a few schools.
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
    # About how many students its schools hold (from the dataset's file footers or the
    # database): runs start the largest partitions first.
    students: int = 0

    def reader(self) -> SourceReader:
        if self.dataset is not None:
            database = DatabaseReader(make_engine(self.database_url)) if self.database_url else None
            return DatasetReader(self.dataset, self.schools, database)
        if self.database_url is None:
            raise ValueError("a partition needs a database URL or a dataset path")
        return DatabaseReader(make_engine(self.database_url), self.schools)


def plan_partitions(
    database_url: str | None,
    dataset: Path | None,
    schools_per_task: int | None = None,
    students_per_task: int = STUDENTS_PER_TASK,
    workers: int = 1,
) -> list[Partition]:
    """Group the home schools into tasks: schools in ID order until a task holds about
    ``students_per_task`` students (a larger school is a task of its own), or
    ``schools_per_task`` schools each when that is given. Home schools whose partitions
    share a child (``schooldata.dataset.home_links``) are one unit: never split.

    For a run on ``workers`` processes, the tasks by size are as many as the size gives,
    rounded up to a multiple of the workers, and as even as consecutive schools allow
    (``_balanced``): the workers then finish together instead of one working alone on the
    last task while the others wait.
    """
    if dataset is not None:
        if not (dataset / "students").is_dir():
            raise PartitionError(
                f"{dataset} is not a dataset written by 'ews ingest --dataset' "
                "(it has no students/ folder); check EWS_DATASET_PATH"
            )
        sizes = students_by_school(dataset)
        linked = home_links(dataset)
    elif database_url is not None:
        students = read_table(make_engine(database_url), "students", columns=HOME_COLUMNS)
        sizes = database_homes(students).value_counts().sort_index()
        linked = []
    else:
        raise PartitionError("a partitioned run needs a database URL or a dataset path")
    if sizes.empty:
        raise PartitionError("no school has any student")
    sizes.index = sizes.index.map(str)
    units, members = _units(sizes, linked)
    names = list(units.index)
    if schools_per_task is not None:
        groups = [names[i : i + schools_per_task] for i in range(0, len(names), schools_per_task)]
    else:
        groups = _balanced(units, students_per_task, workers)
    tasks = []
    for group in groups:
        schools = [school for unit in group for school in members[unit]]
        tasks.append(Partition(tuple(schools), database_url, dataset, int(sizes[schools].sum())))
    return tasks


def _units(sizes: pd.Series, linked: list[set[str]]) -> tuple[pd.Series, dict[str, list[str]]]:
    """Schools as units of a plan: each on its own, except the linked ones, which make
    one unit in the place of their first school. Returns the units' sizes (in order) and
    each unit's schools."""
    unit_of = {school: school for school in sizes.index}
    for group in linked:
        schools = sorted(s for s in group if s in unit_of)
        for school in schools:
            unit_of[school] = schools[0]
    members: dict[str, list[str]] = {}
    for school in sizes.index:
        members.setdefault(unit_of[school], []).append(school)
    units = pd.Series({unit: int(sizes[schools].sum()) for unit, schools in members.items()})
    return units, members


def largest_first(tasks: Sequence[Partition], sizes: Sequence[int] | None = None) -> list[int]:
    """The tasks' positions, largest partition first (ties in their order): on a few
    workers, a large partition started last would leave the others idle at the end.

    ``sizes``, when given, are the tasks' sizes instead of the students their files hold
    (say, the students enrolled this year: ``enrolled_in_year``)."""
    size = [t.students for t in tasks] if sizes is None else list(sizes)
    return sorted(range(len(tasks)), key=lambda i: -size[i])


def _balanced(sizes: pd.Series, students_per_task: int, workers: int) -> list[list[str]]:
    """``_by_students`` with the smallest size (at most ``students_per_task``) that gives
    no more groups than the size does, rounded up to a multiple of ``workers``."""
    groups = _by_students(sizes, students_per_task)
    if workers <= 1:  # tasks run in turn: nobody waits
        return groups
    wanted = -(-len(groups) // workers) * workers
    # Fewer groups never come of a larger size: the smallest size giving at most
    # ``wanted`` groups, by bisection, makes the largest group as small as it can be.
    low, high = int(sizes.max()), max(students_per_task, int(sizes.max()))
    while low < high:
        middle = (low + high) // 2
        if len(_by_students(sizes, middle)) <= wanted:
            high = middle
        else:
            low = middle + 1
    return _by_students(sizes, high)


def _by_students(sizes: pd.Series, students_per_task: int) -> list[list[str]]:
    """Consecutive schools, a task closed before a school would take it past the size."""
    groups: list[list[str]] = []
    current: list[str] = []
    held = 0
    for school, students in sizes.items():
        if current and held + int(students) > students_per_task:
            groups.append(current)
            current, held = [], 0
        current.append(str(school))
        held += int(students)
    return [*groups, current] if current else groups
