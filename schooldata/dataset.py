"""The sources at national scale: a Parquet dataset partitioned by school, read lazily.

Layout: ``<root>/<source>/home_school=<school_id>/<batch>.parquet`` for every source
about students, ``<root>/<source>/<batch>.parquet`` for schools and the calendar. A
child's records, at every school they were at, go to the partition of their home school
(the school of their first records here; ``schooldata.identity`` links a child's
students across schools), so one partition holds whole histories and the features of
its students need nothing from another partition, except the per-school dropout counts
(``school_context``), which are summed over partitions. A child whose ID reaches a school
only after their records were written elsewhere has records in two partitions: a run
keeps those partitions in one task (``home_links``).

A batch never overwrites another: files are named by the time they were written, read
in that order, and a later record replaces an earlier one with the same natural key,
as an upsert into the database would. Names and national-ID hashes are never written.

Readers give the same typed frames as ``schooldata.db.read_table`` (student IDs and
codes as categories of the same strings), so the feature code does not know where its
sources came from.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import sqlalchemy as sa

from schooldata.contract import SOURCES
from schooldata.db import read_table, typed_frame
from schooldata.pairs import PairIndex
from schooldata.tables import TABLES

PARTITION = "home_school"
# The only student columns features read: names and ID hashes stay in the operational
# database and are never written to the dataset (the person key is not the ID's hash).
STUDENT_COLUMNS = [
    "school_id",
    "student_id",
    "person_id",
    "sex",
    "birth_date",
    "nationality",
    "disability",
]
KEYS = {source.name: list(source.key) for source in SOURCES}
# Sources the service also writes to the operational database.
SERVICE_WRITES = ("interventions",)
# The text columns of records about students (their IDs, codes, school and advisor IDs,
# answers) read as dictionaries: a student filter tests each distinct ID once, not each
# of a school's millions of attendance rows, and they reach pandas as categories
# (strings once per row group, integer codes per row), which is what the features make
# of text anyway (``features.build``). Schools and the calendar are read as text.
FORMATS = {
    name: ds.ParquetFileFormat(
        read_options=ds.ParquetReadOptions(
            dictionary_columns={c.name for c in table.c if isinstance(c.type, sa.String)}
            if "student_id" in table.c
            else set()
        )
    )
    for name, table in TABLES.items()
}
# Daily records are read from a date on (``Sources.for_weekly_run``): written in that
# date's order, in row groups small enough that the old ones can be skipped whole.
DATED = {"attendance": "date", "assessments": "date"}
ROW_GROUP_ROWS = 32_768
PARTITIONING = ds.partitioning(pa.schema([(PARTITION, pa.string())]), flavor="hive")


class SourceReader(Protocol):
    """Reads one source as typed columns, optionally for some students, from a date
    (``since``) or before one (``until``): (date column, date).

    ``student_ids`` are codes (every school's student with one of them comes);
    ``students`` are schools' students (``school_id``, ``student_id``): only theirs, and
    when they carry their child's ``person_id``, each record comes with it (as categories).
    """

    def read(
        self,
        name: str,
        columns: Sequence[str] | None = None,
        *,
        student_ids: Sequence[str] | None = None,
        since: tuple[str, date] | None = None,
        until: tuple[str, date] | None = None,
        students: pd.DataFrame | None = None,
    ) -> pd.DataFrame: ...

    def holds(self, name: str) -> bool:
        """Whether any record of the source is stored (some school sent it): a read of some
        students that finds none of theirs is then of a source they have no record in,
        not of one missing."""
        ...


@dataclass(frozen=True)
class DatabaseReader:
    """The operational database, whole or restricted to the students of some schools."""

    engine: sa.Engine
    schools: tuple[str, ...] | None = None

    @cached_property
    def partition_students(self) -> pd.DataFrame | None:
        """The partition's students (read once): every school's student (``school_id``,
        ``student_id``) who is a child whose home school (``database_homes``) is one of the
        partition's; None for the whole database."""
        if self.schools is None:
            return None
        students = read_table(self.engine, "students", columns=HOME_COLUMNS)
        home = database_homes(students)
        mine: pd.DataFrame = students.loc[home.isin(self.schools).to_numpy(), STUDENT_KEY]
        return mine.reset_index(drop=True)

    def read(
        self,
        name: str,
        columns: Sequence[str] | None = None,
        *,
        student_ids: Sequence[str] | None = None,
        since: tuple[str, date] | None = None,
        until: tuple[str, date] | None = None,
        students: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        partition = self.partition_students
        asked = partition if students is None else students
        if asked is None or "student_id" not in TABLES[name].c:
            return read_table(
                self.engine,
                name,
                columns=columns,
                student_ids=student_ids,
                since=since,
                until=until,
            )
        # Asked by student (school and code); of the students asked, the partition's.
        if student_ids is not None:
            asked = asked[asked["student_id"].astype(str).isin(set(student_ids)).to_numpy()]
        wanted = None if columns is None else list(dict.fromkeys([*columns, *STUDENT_KEY]))
        frame = read_table(
            self.engine, name, columns=wanted, students=asked, since=since, until=until
        )
        if students is None:
            return frame[list(columns or frame.columns)]
        if partition is not None:
            frame = only_students(frame, partition)
        frame = only_students(frame, students)
        return frame[_with_child(list(columns or frame.columns), frame)]

    def holds(self, name: str) -> bool:
        table = TABLES[name]
        with self.engine.connect() as connection:
            first = connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1))
            return first.first() is not None


@dataclass(frozen=True)
class DatasetReader:
    """A Parquet dataset, whole or restricted to some home-school partitions.

    With ``database``, the records the service itself writes (interventions recorded in
    the web pages) are read from the operational database, which holds every one.
    """

    root: Path
    schools: tuple[str, ...] | None = None
    database: DatabaseReader | None = None

    def read(
        self,
        name: str,
        columns: Sequence[str] | None = None,
        *,
        student_ids: Sequence[str] | None = None,
        since: tuple[str, date] | None = None,
        until: tuple[str, date] | None = None,
        students: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        if name in SERVICE_WRITES and self.database is not None:
            if self.schools is not None and students is None:
                # The partition's students, wherever they now study.
                students = DatasetReader(self.root, self.schools).read("students", STUDENT_KEY)
            return self.database.read(
                name,
                columns,
                student_ids=student_ids,
                since=since,
                until=until,
                students=students,
            )
        table = TABLES[name]
        wanted = list(columns) if columns else [c.name for c in table.c]
        folder = self.root / name
        if not folder.is_dir():
            files: list[Path] = []
        elif self.schools is not None and "student_id" in table.c:
            # Only this partition's folders are listed, never the whole country's.
            files = [
                f
                for school in self.schools
                for f in (folder / f"{PARTITION}={school}").glob("*.parquet")
            ]
        else:
            files = list(folder.rglob("*.parquet"))
        # Batches in the order written (the name starts with the time).
        files.sort(key=lambda f: f.name)
        if not files:
            empty = typed_frame(pd.DataFrame({c: [] for c in wanted}), table)[wanted]
            if students is None or "student_id" not in table.c:
                return empty
            return _about(empty, students, np.empty(0, dtype=np.int64))
        dataset = ds.dataset(
            [str(f) for f in files],
            format=FORMATS[name],
            partitioning=PARTITIONING,
            partition_base_dir=str(folder),
        )
        condition = None
        if self.schools is not None and "student_id" in table.c:
            condition = ds.field(PARTITION).isin(list(self.schools))
        if since is not None:
            test = ds.field(since[0]) >= pa.scalar(pd.Timestamp(since[1]), pa.timestamp("s"))
            condition = test if condition is None else condition & test
        if until is not None:
            test = ds.field(until[0]) < pa.scalar(pd.Timestamp(until[1]), pa.timestamp("s"))
            condition = test if condition is None else condition & test
        key = KEYS[name]
        read_columns = [c for c in dict.fromkeys(wanted + key) if c in dataset.schema.names]
        # Files are listed in the order written: a later record replaces an earlier one.
        arrow = dataset.to_table(columns=read_columns, filter=condition)
        # By code only when asked: the students' (school, code) pairs keep exactly theirs,
        # and their codes alone would keep almost every row (schools number their
        # students alike).
        if student_ids is not None:
            arrow = arrow.filter(_among(arrow.column("student_id"), student_ids))
        row = None
        if students is not None and "student_id" in table.c:
            row = PairIndex.of(students).arrow_rows(arrow)
            mine = row >= 0
            arrow, row = arrow.filter(pa.array(mine)), row[mine]
        # IDs and codes stay categories: what the features do with them (group, join,
        # compare) then works on small integer codes, never on millions of strings.
        frame = _frame(arrow)
        if row is not None and students is not None:
            frame = _about(frame, students, row)
        # A student's records all lie in their home school's folder: only a folder with
        # several batches can hold a record and its replacement.
        folders = {f.parent for f in files}
        if len(files) > len(folders) and set(key) <= set(frame.columns):
            frame = frame.drop_duplicates(key, keep="last").reset_index(drop=True)
        return typed_frame(frame, table)[_with_child([c for c in wanted if c in frame], frame)]

    def holds(self, name: str) -> bool:
        if name in SERVICE_WRITES and self.database is not None:
            return self.database.holds(name)
        return next((self.root / name).rglob("*.parquet"), None) is not None


def _frame(arrow: pa.Table) -> pd.DataFrame:
    """A table as ``to_pandas`` gives it, its dictionary columns as categories made here:
    Arrow's conversion checks each column's united dictionary for repeated values once
    more, through a copy as Python strings (twice the time of the rest of the read for a
    term of attendance), and a dictionary Arrow has united holds each value once."""
    fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if fastpath is None or arrow.num_rows == 0:  # another pandas, or nothing to convert
        whole: pd.DataFrame = arrow.to_pandas()
        return whole
    coded = {}
    for name, column in zip(arrow.column_names, arrow.columns, strict=True):
        if not pa.types.is_dictionary(column.type):
            continue
        column = column.unify_dictionaries()
        indices = pa.chunked_array([c.indices for c in column.chunks], column.type.index_type)
        codes = pc.fill_null(indices, -1).to_numpy()  # a missing value: code -1
        categories = pd.Index(column.chunk(0).dictionary.to_pandas())
        dtype = fastpath(categories, False)
        coded[name] = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    frame: pd.DataFrame = arrow.drop_columns(list(coded)).to_pandas()
    for name, values in coded.items():
        frame[name] = values
    ordered: pd.DataFrame = frame[arrow.column_names]
    return ordered


def _among(ids: pa.ChunkedArray, wanted: Sequence[str]) -> pa.ChunkedArray:
    """Which rows belong to the wanted students: each distinct ID is tested once, against
    one set of the wanted (a chunk's dictionary holds its file's students)."""
    wanted_ids = pa.array(list(wanted), pa.string())
    if not pa.types.is_dictionary(ids.type) or ids.num_chunks == 0:
        return pc.is_in(ids, value_set=wanted_ids)
    # The chunks' dictionaries one after another, tested in one pass.
    every = pc.is_in(
        pa.concat_arrays([c.dictionary.cast(pa.string()) for c in ids.chunks]),
        value_set=wanted_ids,
    )
    masks, start = [], 0
    for chunk in ids.chunks:
        size = len(chunk.dictionary)
        masks.append(pc.take(every.slice(start, size), chunk.indices))
        start += size
    return pa.chunked_array(masks, pa.bool_())


def students_by_school(root: Path) -> pd.Series:
    """How many students each home school's partition holds, in school order, from the
    files' footers (a student sent again in a later batch counts twice: an estimate)."""
    folder = root / "students"
    prefix = f"{PARTITION}="
    sizes = {
        school: sum(
            pq.read_metadata(f).num_rows for f in (folder / f"{prefix}{school}").glob("*.parquet")
        )
        for school in partitions(root)
    }
    return pd.Series(sizes, dtype="int64")


def partitions(root: Path) -> list[str]:
    """The home schools of a dataset (its partitions)."""
    folder = root / "students"
    prefix = f"{PARTITION}="
    return sorted(p.name[len(prefix) :] for p in folder.glob(f"{prefix}*") if p.is_dir())


def write_dataset(frames: Mapping[str, pd.DataFrame], root: Path, home: pd.Series) -> int:
    """Append validated sources to the dataset as one batch.

    Args:
        frames: validated rows by source name (dates as ``datetime64``).
        root: the dataset folder (created if needed).
        home: each student's home school, indexed by (school_id, student_id) (every
            student of a student-keyed frame must be there).

    Returns:
        The number of files written.
    """
    batch = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    written = 0
    for name, frame in frames.items():
        if frame is None or frame.empty:
            continue
        table = TABLES[name]
        allowed = STUDENT_COLUMNS if name == "students" else [c.name for c in table.c]
        keep = [c for c in allowed if c in frame]
        rows = typed_frame(frame[keep].copy(), table)
        folder = root / name
        if "student_id" not in table.c:
            folder.mkdir(parents=True, exist_ok=True)
            _write_file(
                pa.Table.from_pandas(rows, preserve_index=False), folder / f"{batch}.parquet"
            )
            written += 1
            continue
        # Each row's home school, by its position among the home schools.
        homes, schools = pd.factorize(home.to_numpy(), sort=True)
        at = PairIndex.of(home.index.to_frame(index=False)).rows(rows)
        school = np.where(at >= 0, homes[at], -1)
        if (school < 0).any():
            missing = int((school < 0).sum())
            raise ValueError(f"{name}: {missing} rows name a student with no home school")
        dated = DATED.get(name)
        for school_id, part in rows.groupby(schools[school], sort=True):
            target = folder / f"{PARTITION}={school_id}"
            target.mkdir(parents=True, exist_ok=True)
            if dated is not None:
                # In date order, row group by row group: a read of recent weeks skips the
                # groups of earlier years by their statistics instead of decoding them.
                part = part.sort_values(dated, kind="stable")
            arrow = pa.Table.from_pandas(part.reset_index(drop=True), preserve_index=False)
            _write_file(arrow, target / f"{batch}.parquet")
            written += 1
    return written


def _write_file(table: pa.Table, path: Path) -> None:
    """Write then rename: a reader (or a crash) never sees half a file."""
    partial = path.with_suffix(".partial")
    pq.write_table(table, partial, row_group_size=ROW_GROUP_ROWS)
    partial.replace(path)


def home_schools(root: Path, students: pd.DataFrame | None) -> pd.Series:
    """Home school by student, indexed by (school_id, student_id): the partition a
    student already has; else their child's, where another school's student is the same
    child; else the school of the child's first student in ``students``.

    A child keeps their first partition when they move, so their records never split.
    """
    known = _partition_of_students(root)
    homes = [known[["school_id", "student_id", PARTITION]]]
    if students is not None and not students.empty:
        pairs = pd.MultiIndex.from_frame(students[["school_id", "student_id"]])
        new = students.loc[
            ~pairs.isin(pd.MultiIndex.from_frame(known[["school_id", "student_id"]]))
        ]
        person_home = known.drop_duplicates("person_id").set_index("person_id")[PARTITION]
        first_school = new.drop_duplicates("person_id").set_index("person_id")["school_id"]
        # As objects: a partition the known ones lack (all missing: floats) takes the text.
        home = (
            new["person_id"]
            .map(person_home)
            .astype(object)
            .fillna(new["person_id"].map(first_school).astype(object))
        )
        homes.append(new[["school_id", "student_id"]].assign(**{PARTITION: home.to_numpy()}))
    every = pd.concat(homes, ignore_index=True).drop_duplicates(
        ["school_id", "student_id"], keep="first"
    )
    return pd.Series(
        every[PARTITION].to_numpy(),
        index=pd.MultiIndex.from_frame(every[["school_id", "student_id"]]),
    )


def home_links(root: Path) -> list[set[str]]:
    """Home schools that must be read together: where a child's students lie in more than
    one partition (their ID came after their records were written), each group of
    partitions they join; partitions on their own are not listed."""
    known = _partition_of_students(root)
    spread = known.groupby("person_id")[PARTITION].nunique()
    shared = known[known["person_id"].isin(spread[spread > 1].index)]
    groups: list[set[str]] = []
    for _, homes in shared.groupby("person_id")[PARTITION]:
        joined = set(homes.astype(str))
        for group in [g for g in groups if g & joined]:
            joined |= group
            groups.remove(group)
        groups.append(joined)
    return groups


def _partition_of_students(root: Path) -> pd.DataFrame:
    """Every stored student's school, code, person and partition."""
    columns = ["school_id", "student_id", "person_id", PARTITION]
    folder = root / "students"
    if not folder.is_dir() or not any(folder.rglob("*.parquet")):
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    dataset = ds.dataset(str(folder), format="parquet", partitioning=PARTITIONING)
    table: pd.DataFrame = dataset.to_table(columns=columns).to_pandas()
    return table.astype(dict.fromkeys(columns, "str"))


HOME_COLUMNS = ["school_id", "student_id", "person_id"]
STUDENT_KEY = ["school_id", "student_id"]


def only_students(frame: pd.DataFrame, students: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` about these schools' students (both by ``STUDENT_KEY``), each
    with its child (``_about``) where the students have theirs."""
    row = PairIndex.of(students).rows(frame)
    mine = row >= 0
    return _about(frame[mine].reset_index(drop=True), students, row[mine])


def _about(frame: pd.DataFrame, students: pd.DataFrame, row: np.ndarray) -> pd.DataFrame:
    """Records of some students (``row``: each one's row of ``students``) with their
    students' ``person_id`` as categories, when ``students`` has it and the records lack
    it: the features group a child's records by it at every school they were at."""
    if "person_id" not in students or "person_id" in frame:
        return frame
    person, persons = pd.factorize(students["person_id"].astype(str))
    child = pd.Categorical.from_codes(person[row], categories=pd.Index(persons), validate=False)
    return frame.assign(person_id=child)


def _with_child(columns: list[str], frame: pd.DataFrame) -> list[str]:
    """The columns asked for, and ``person_id`` when ``_about`` added it."""
    return (
        columns + ["person_id"] if "person_id" in frame and "person_id" not in columns else columns
    )


def database_homes(students: pd.DataFrame) -> pd.Series:
    """Each student's home school in a run partitioned over the operational database:
    the first (in ID order) of the schools their child was a student of, so a child's
    students at every school fall in one partition."""
    first = students.groupby("person_id")["school_id"].transform("min")
    return pd.Series(first.to_numpy(), index=students.index)


def school_homes(engine: sa.Engine, school_id: str) -> tuple[str, ...]:
    """The home schools (``database_homes``) of every child who is a student of
    ``school_id``: a ``DatabaseReader`` over them holds the school's students with all
    their records at other schools."""
    students = TABLES["students"]
    with engine.connect() as connection:
        persons = sa.select(students.c.person_id).where(students.c.school_id == school_id)
        homes = connection.execute(
            sa.select(sa.func.min(students.c.school_id))
            .where(students.c.person_id.in_(persons))
            .group_by(students.c.person_id)
        ).scalars()
        return tuple(sorted(set(homes) | {school_id}))
