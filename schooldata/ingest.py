"""Load a data directory into the operational database.

Every file is read and validated before anything is written; then all good rows of all
accepted files are upserted on their natural keys in one transaction, so a load that dies
midway leaves the database as it was. Bad rows, and optional values blanked with a
warning, go to one rejects CSV per source.

A data directory holds one file per source, and may hold single schools' files in
``schools/<school_id>/`` (the Excel workbooks some schools keep). A load for one school's
data officer is *scoped*: rows that name another school or its students are rejected.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from schooldata import audit
from schooldata.actions import keep_last_actions
from schooldata.contract import (
    AT_SCHOOL,
    CLASSROOM_GROUP,
    REQUIRED_SOURCES,
    SCHOOLS,
    SOURCES,
    Source,
)
from schooldata.dataset import DatasetReader, home_schools, write_dataset
from schooldata.db import insert_columns, keyed_insert, read_table, upgrade
from schooldata.identity import (
    SHARED_COLUMNS,
    TRANSITION_GRADES,
    UNLINKED_PREFIX,
    DaysOf,
    chunks,
    in_a_term_at_two_schools,
    keys_apart,
    linking_counts,
    person_ids,
    present_days,
    rows_of_students,
    settle_shared_ids,
    shared_ids,
    store_returns,
    unlinked_persons,
)
from schooldata.loads import forget, keep_before
from schooldata.missing import Surge, follow_new_keys, last_case_id, store_missing, surges
from schooldata.national_id import hash_national_id
from schooldata.national_id import is_accepted as national_id_is_accepted
from schooldata.spreadsheet import write_csv
from schooldata.tables import APPEND_ONLY, ORIGIN_IMPORT, TABLES, stored_column_name
from schooldata.validate import (
    BLANKED,
    CORRECTED,
    NOT_LINKED,
    REJECT_COLUMNS,
    REJECTED,
    FileRefused,
    ParsedSource,
    files_holding_too,
    folder_files,
    masked_national_id,
    parse_source,
    read_raw,
)

CHUNK_ROWS = 50_000
ZEROS_PUT_BACK = "leading zeros put back: the sheet stored the school's code as a number"
CLASS_LIST_HINT = (
    "; a class list may stand for it: the students file naming each student's class and, "
    "above its header, the term (รายชื่อนักเรียนชั้น ม.1/1 ภาคเรียนที่ 1 ปีการศึกษา 2568)"
)
EXITS_HINT = (
    "; if nobody has left yet, a file of its header only says so (รหัสนักเรียน,วันที่ออก,ประเภทการออก)"
)
_LINK_COLUMNS = ["school_id", "student_id", "person_id", "national_id_hash"]
_TERM_COLUMNS = ["school_id", "student_id", "academic_year", "term"]
_DAY_COLUMNS = ["school_id", "student_id", "date"]
# The files that say who a school's students are, and in which terms.
_ROLLS = ("students", "enrollments")
# With a Parquet dataset, the database keeps what the service's pages and accounts read.
DATABASE_SOURCES = ("schools", "calendar", "students", "enrollments", "exits", "interventions")


@dataclass
class SourceReport:
    """What happened to one source file."""

    source: str
    file: str
    rows_read: int = 0
    rows_loaded: int = 0
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    refused: str | None = None
    # The file's columns holding values nobody reads (a header the contract does not
    # know): named in the report, so that no value is lost unseen.
    unread: tuple[str, ...] = ()
    # What the loaded rows are of: their terms (academic year, term) and first and last
    # day, so that a file of the wrong term or year is seen before it loads.
    terms: tuple[tuple[int, int], ...] = ()
    dates: tuple[dt.date, dt.date] | None = None

    @property
    def rows_rejected(self) -> int:
        if self.refused:
            return 0
        return int(self.rejects.loc[self.rejects["action"] == REJECTED, "line"].nunique())

    @property
    def values_blanked(self) -> int:
        """Optional values that were bad: blanked, reported, and their rows kept."""
        return 0 if self.refused else int((self.rejects["action"] == BLANKED).sum())


@dataclass
class IngestReport:
    """The outcome of one load."""

    sources: list[SourceReport]
    seconds: float = 0.0
    write_seconds: float = 0.0
    # After the load, every stored student: how many have an ID to link by, how many of
    # those are one child with another school's student, how many have no ID.
    linking: dict[str, int] | None = None
    # Children to look for whose case this load opened (``schooldata.missing``).
    missing_opened: int = 0
    # Schools' terms of which the load made a large share of the children ones to find.
    missing_surges: list[Surge] = field(default_factory=list)
    # A school's upload, kept to be undone (``schooldata.loads``); None for other loads.
    load_id: int | None = None
    # The directory's data files no source read (``validate.folder_files``), each and why.
    not_read: list[tuple[str, str]] = field(default_factory=list)

    @property
    def refused(self) -> list[SourceReport]:
        return [s for s in self.sources if s.refused]

    @property
    def exit_code(self) -> int:
        return 2 if self.refused else 0

    def unread(self) -> dict[str, tuple[str, ...]]:
        """Each file's columns that no source read (a class list is read twice, named once)."""
        return {s.file: s.unread for s in self.sources if s.unread}

    def rejects_by_reason(self) -> pd.DataFrame:
        """Rows rejected and values blanked, counted by source, column and reason."""
        frames = [
            s.rejects.assign(source=s.source, file=s.file) for s in self.sources if not s.refused
        ]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["source", "column", "reason", "action", "rows"])
        rejects = pd.concat(frames)
        counts = rejects.groupby(
            ["source", "column", "reason", "action"], as_index=False, dropna=False
        ).agg(rows=("line", "size"))
        return counts.sort_values("rows", ascending=False)


def ingest_directory(
    directory: Path,
    engine: sa.Engine,
    id_hash_key: str,
    rejects_dir: Path | None,
    *,
    on_progress: Callable[[str], None] = lambda _message: None,
    dataset: Path | None = None,
    schools: frozenset[str] | None = None,
    dry_run: bool = False,
    by: int | None = None,
) -> IngestReport:
    """Validate and load every source file found in ``directory``.

    Args:
        directory: a data directory following the data contract (single schools' files
            may sit in ``schools/<school_id>/``).
        engine: the operational database (migrated here if needed).
        id_hash_key: key of the national-ID hash.
        rejects_dir: where one rejects CSV per source is written (None: not written).
        on_progress: called with a short message as each step starts.
        dataset: also append every accepted record to this Parquet dataset (partitioned by
            home school); the database then takes only the sources the service itself
            reads (``DATABASE_SOURCES``), not years of daily records.
        schools: a load for these schools only (an upload by a school's data officer):
            rows naming any other school, or a student of one, are rejected.
        dry_run: validate and report, write nothing (the upload page's preview).
        by: the user whose upload this is (kept with what it replaced, to undo it).

    Returns:
        The per-file report; ``exit_code`` is 2 when any file was refused whole.
    """
    started = time.perf_counter()
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory {directory} does not exist")
    upgrade(engine)
    known = _Known.read(engine, schools)
    folders = [directory, *_school_folders(directory)]
    files = {folder: folder_files(folder) for folder in folders}
    brought = {s.name for s in SOURCES for folder in folders if files[folder].of[s.name]}
    # The required files are a first load's: later loads bring what changed (a week's
    # attendance), and an exits table may stay empty for a new school nobody has left. A
    # load of the schools alone (and the calendar) adds them before their first files.
    first_load = not known.students and not (brought and brought <= {"schools", "calendar"})

    reports: list[SourceReport] = []
    accepted: list[tuple[Source, pd.DataFrame]] = []
    # Each accepted file's report and the schools of its rows (for what the write finds).
    reported: list[tuple[SourceReport, set[str]]] = []
    # The school a folder's files belong to: its own, or the one school of a scoped load.
    only = next(iter(schools)) if schools is not None and len(schools) == 1 else None
    school_of = {folder: folder.name for folder in folders[1:]} | {directory: only}
    for source in SOURCES:
        paths = [
            (p, folder)
            for folder in folders
            for p in (files[folder].of[source.name] or files_holding_too(files[folder], source))
        ]
        if not paths:
            if source.name in REQUIRED_SOURCES and first_load:
                hint = {"enrollments": CLASS_LIST_HINT, "exits": EXITS_HINT}
                missing = "required file is missing" + hint.get(source.name, "")
                reports.append(SourceReport(source.name, f"{source.name}.csv", refused=missing))
            continue
        for path, folder in paths:
            shown = str(path.relative_to(directory))
            on_progress(f"reading {shown}")
            report = SourceReport(source.name, shown)
            reports.append(report)
            try:
                raw, lines = read_raw(path, source, school_of[folder])
            except FileRefused as refusal:
                report.refused = refusal.reason
                report.rejects = pd.DataFrame(
                    [
                        {
                            "file": shown,
                            "line": "",
                            "column": "",
                            "value": "",
                            "reason": refusal.reason,
                            "action": REJECTED,
                        }
                    ]
                )
                continue
            report.unread = tuple(raw.attrs.get("unread", ()))
            unmatched = pd.DataFrame(columns=REJECT_COLUMNS)
            if "national_ids" in raw.attrs:
                raw, lines, unmatched = _found_by_national_id(
                    raw, lines, shown, known, key=id_hash_key, engine=engine
                )
            parsed = _with_schools(parse_source(raw, lines, source, shown), known)
            rows, reference_rejects = _check_references(parsed, known)
            report.rows_read = parsed.rows_read + len(unmatched)
            report.rejects = (
                pd.concat([unmatched, parsed.rejects, reference_rejects], ignore_index=True)
                .sort_values(["line", "column"], kind="stable")
                .reset_index(drop=True)
            )
            report.rows_loaded = len(rows)
            report.terms, report.dates = _covered(rows, source)
            rows = _with_stored(rows, source, parsed.given, engine)
            if source.name == "students":
                known.add_students(rows)
                rows = _with_person(_hash_ids(rows, source, id_hash_key), engine)
                known.add_ids(rows)
            if source.name == "schools":
                known.schools |= set(rows["school_id"])
            if source.name == "enrollments":
                rows = _group_by_classroom(rows)
            accepted.append((source, rows))
            if "school_id" in rows:
                reported.append((report, set(rows["school_id"].astype(str))))

    write_started = time.perf_counter()
    missing_opened = 0
    missing_surges: list[Surge] = []
    load_id = None
    written = pd.DataFrame(columns=_LINK_COLUMNS[:3])  # the keys written to the dataset
    # Days at school tell two children given one ID apart (``identity.shared_ids``).
    marked = _schools_of([a for a in accepted if a[0].name in (*_ROLLS, "attendance")])
    if dry_run:
        _report_shared(_shared_before_writing(accepted, engine, dataset), reported)
    else:
        if dataset is not None:
            on_progress("writing to the dataset")
            frames = {
                name: pd.concat([r for s, r in accepted if s.name == name], ignore_index=True)
                for name in dict.fromkeys(s.name for s, _ in accepted)
            }
            present = _at_school(frames["attendance"]) if "attendance" in frames else None
            if "students" in frames:
                # Stored in the dataset as written: IDs shared in this load set apart here
                # (and those set apart before kept apart: ``_with_person``). Where the
                # database then settles otherwise, the student is written again below.
                students = frames["students"]
                enrolled = frames.get("enrollments", pd.DataFrame(columns=_TERM_COLUMNS))
                shared = shared_ids(students, enrolled, present)
                apart = keys_apart(students, shared).str.startswith(UNLINKED_PREFIX)
                own = unlinked_persons(
                    students["school_id"].to_numpy(), students["student_id"].to_numpy()
                )
                frames["students"] = students.assign(
                    person_id=np.where(apart.to_numpy(), own, students["person_id"].to_numpy())
                )
                written = frames["students"][_LINK_COLUMNS[:3]]
            write_dataset(frames, dataset, home_schools(dataset, frames.get("students")))
            accepted = [(s, rows) for s, rows in accepted if s.name in DATABASE_SOURCES]
        on_progress("writing to the database")
        with engine.begin() as connection:
            if only is not None:
                # Not what it appends to a dataset, which keeps what it is given.
                undoable = accepted if dataset is None else []
                load_id = _kept_for_undo(connection, only, undoable, by, reports)
            else:
                forget(connection, _schools_of(accepted))
            for source, rows in accepted:
                _upsert(connection, source, rows)
            touched = _students_of(accepted, ("students", "enrollments", "exits"))
            days = present_days if dataset is None else _days_in(dataset)
            shared, changed = settle_shared_ids(connection, marked, days)
            _report_shared(shared, reported)
            rekeyed = set(changed["person_id"]) | set(changed["now"])
            if touched or rekeyed:
                on_progress("finding the children who came back to school, and those to find")
                persons = _persons_of(connection, touched) | rekeyed | follow_new_keys(connection)
                store_returns(connection, persons)
                # A child missing from a new term's count is in no file of this load.
                persons |= _enrolled_the_term_before(connection, accepted)
                before = last_case_id(connection)
                missing_opened = store_missing(connection, persons, days)
                missing_surges = surges(connection, after=before)
            # Last: its lock is held until the commit.
            helped = [(s, rows) for s, rows in accepted if s.name == "interventions"]
            keep_last_actions(connection, schools=_schools_of(helped))
        if dataset is not None:
            _write_settled_keys(engine, dataset, accepted, written, changed)
    write_seconds = time.perf_counter() - write_started

    if rejects_dir is not None:
        _write_rejects(reports, rejects_dir)
    linking = (
        None if dry_run else linking_counts(read_table(engine, "students", columns=_LINK_COLUMNS))
    )
    return IngestReport(
        reports,
        time.perf_counter() - started,
        write_seconds,
        linking,
        missing_opened,
        missing_surges,
        load_id,
        [
            (f"{path.relative_to(directory)}{'/' if path.is_dir() else ''}", reason)
            for folder in folders
            for path, reason in files[folder].not_read
        ],
    )


class SchoolRefused(ValueError):
    """A school typed by hand that cannot be added: each problem with its column."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{c}: {r}" if c else r for c, r in problems))
        self.problems = problems


def add_school(engine: sa.Engine, values: dict[str, str], entry: audit.Entry) -> None:
    """One school typed by hand (the admin's page, before any file of it): checked as a
    row of a schools file is, and added with its audit entry.

    Raises:
        SchoolRefused: a value is wrong (each named, with its column), or the school is
            in the data already (a page never overwrites what a file loaded).
    """
    upgrade(engine)
    typed = {c: str(values.get(c) or "").strip() for c in SCHOOLS.column_names}
    parsed = parse_source(pd.DataFrame([typed]), np.array([1]), SCHOOLS, "form")
    if len(parsed.rejects):
        raise SchoolRefused(
            [(str(r["column"]), str(r["reason"])) for r in parsed.rejects.to_dict("records")]
        )
    if typed["school_id"] in _existing_ids(engine, "schools", "school_id"):
        raise SchoolRefused([("", f"the school {typed['school_id']!r} is in the data already")])
    with engine.begin() as connection:
        _upsert(connection, SCHOOLS, parsed.rows)
        audit.append(connection, [entry])


def _kept_for_undo(
    connection: sa.Connection,
    school: str,
    accepted: list[tuple[Source, pd.DataFrame]],
    by: int | None,
    reports: list[SourceReport],
) -> int:
    """A school's upload keeps what it replaces, to be undone (``schooldata.loads``). Not
    the school's own row: its committee sets the visit capacity there, and an undo never
    puts an old one back."""
    written: dict[str, list[pd.DataFrame]] = {}
    for source, rows in accepted:
        if len(rows) and source.name != "schools":
            written.setdefault(source.name, []).append(rows)
    return keep_before(connection, school, written, by, _loaded(reports))


def _loaded(reports: list[SourceReport]) -> str:
    """What a load wrote, in counts only (no name, no value from the files)."""
    return "; ".join(f"{r.source}: {r.rows_loaded}" for r in reports if not r.refused)


def _schools_of(accepted: list[tuple[Source, pd.DataFrame]]) -> set[str]:
    return {
        str(s) for _, rows in accepted if len(rows) for s in rows["school_id"].dropna().unique()
    }


def _students_of(
    accepted: list[tuple[Source, pd.DataFrame]], names: tuple[str, ...]
) -> dict[str, list[str]]:
    """The students of the loaded rows of these sources: each school's codes (schools
    number their students alike, so a code alone is a student of nearly every school)."""
    codes: dict[str, set[str]] = defaultdict(set)
    for source, rows in accepted:
        if source.name in names and len(rows):
            for school, theirs in rows.groupby(rows["school_id"].astype(str))["student_id"]:
                codes[str(school)] |= set(theirs.astype(str))
    return {school: sorted(theirs) for school, theirs in sorted(codes.items())}


def _shared_before_writing(
    accepted: list[tuple[Source, pd.DataFrame]], engine: sa.Engine, dataset: Path | None
) -> pd.DataFrame:
    """The IDs that are not one child's (``identity.shared_ids``) as the load would leave
    the records: its students, enrolments and days at school over the stored ones of its
    schools and of the students of other schools carrying the same IDs. For the preview,
    which writes nothing; a load works them out from what it wrote
    (``identity.settle_shared_ids``)."""
    names = (*_ROLLS, "attendance")
    loaded = {name: [r for s, r in accepted if s.name == name and len(r)] for name in names}
    if not any(loaded.values()):
        return pd.DataFrame(columns=SHARED_COLUMNS)
    key = ["school_id", "student_id"]
    schools = sorted(_schools_of([a for a in accepted if a[0].name in names]))
    students, enrolled = TABLES["students"], TABLES["enrollments"]
    with engine.connect() as connection:

        def read(table: sa.Table, columns: list[str], *where: Any) -> pd.DataFrame:
            query = sa.select(*[table.c[c] for c in columns]).where(*where)
            return pd.DataFrame(connection.execute(query).all(), columns=columns)

        own = read(students, _LINK_COLUMNS, students.c.school_id.in_(schools))
        own = pd.concat(
            [own, *[r[_LINK_COLUMNS] for r in loaded["students"]]], ignore_index=True
        ).drop_duplicates(key, keep="last")
        hashes = sorted(set(own["national_id_hash"].dropna()))
        others = [
            read(
                students,
                _LINK_COLUMNS,
                students.c.national_id_hash.in_(chunk or []),
                students.c.school_id.not_in(schools),
            )
            for chunk in chunks(hashes)
        ]
        everyone = pd.concat([own, *others], ignore_index=True)
        terms = rows_of_students(connection, enrolled, everyone, _TERM_COLUMNS)
        terms = pd.concat(
            [terms, *[r[_TERM_COLUMNS] for r in loaded["enrollments"]]], ignore_index=True
        ).drop_duplicates(_TERM_COLUMNS)
        terms = terms.merge(everyone[key], on=key)
        marked = present_days if dataset is None else _days_in(dataset)
        days = marked(connection, in_a_term_at_two_schools(everyone, terms))
    brought = [_at_school(r) for r in loaded["attendance"]]
    return shared_ids(everyone, terms, pd.concat([days, *brought], ignore_index=True))


def _write_settled_keys(
    engine: sa.Engine,
    dataset: Path,
    accepted: list[tuple[Source, pd.DataFrame]],
    written: pd.DataFrame,
    changed: pd.DataFrame,
) -> None:
    """Write again to the dataset the students whose key the database settled otherwise
    than the dataset holds (``identity.settle_shared_ids``): this load's, and other
    loads' students set apart or linked again by it. Each keeps their partition."""
    settled = pd.concat(
        [r[_LINK_COLUMNS[:3]] for s, r in accepted if s.name == "students"]
        + [changed.assign(person_id=changed["now"])[_LINK_COLUMNS[:3]]],
        ignore_index=True,
    ).drop_duplicates(["school_id", "student_id"], keep="last")
    held = pd.concat([changed[_LINK_COLUMNS[:3]], written], ignore_index=True).drop_duplicates(
        ["school_id", "student_id"], keep="last"
    )
    compared = settled.merge(held, on=["school_id", "student_id"], suffixes=("", "_held"))
    again = compared.loc[compared["person_id"] != compared["person_id_held"]]
    if again.empty:
        return
    with engine.connect() as connection:
        rows = rows_of_students(connection, TABLES["students"], again)
    write_dataset({"students": rows}, dataset, home_schools(dataset, rows))


def _days_in(dataset: Path) -> DaysOf:
    """``identity.present_days`` that also reads a dataset's attendance: of these
    students' partitions only, never the whole country's."""

    def days(connection: sa.Connection, students: pd.DataFrame) -> pd.DataFrame:
        kept = present_days(connection, students)
        if students.empty:
            return kept
        pairs = students[["school_id", "student_id"]].astype(str).drop_duplicates()
        homes = home_schools(dataset, None).reindex(pd.MultiIndex.from_frame(pairs)).dropna()
        reader = DatasetReader(dataset, tuple(sorted(set(homes.astype(str)))))
        marked = reader.read(
            "attendance",
            [*_DAY_COLUMNS, "status"],
            student_ids=sorted(set(pairs["student_id"])),
        )
        marked = marked.astype({"school_id": str, "student_id": str}).merge(pairs)
        return pd.concat([kept, _at_school(marked)], ignore_index=True)

    return days


def _at_school(attendance: pd.DataFrame) -> pd.DataFrame:
    """The days of these attendance records their students were marked at school."""
    return attendance.loc[attendance["status"].isin(AT_SCHOOL).to_numpy(), _DAY_COLUMNS]


def _report_shared(shared: pd.DataFrame, reported: list[tuple[SourceReport, set[str]]]) -> None:
    """Each ID that is not one child's (``identity.shared_ids``) as a problem of the
    load's students file of the school (else its enrolments, else its attendance, whose
    days told): the codes, kept, and not linked by the ID until it is corrected. The other
    school of an ID carried at two is never named, nor its student."""
    for school, rows in shared.groupby("school_id"):
        report = next(
            (
                r
                for name in (*_ROLLS, "attendance")
                for r, schools in reported
                if r.source == name and str(school) in schools
            ),
            None,
        )
        if report is None:
            continue  # the load wrote none of its records: reported by the load that did
        for (held, elsewhere), terms in rows.groupby(["student_ids", "elsewhere"])[
            ["academic_year", "term"]
        ]:
            codes = [str(code) for code in held]  # type: ignore[attr-defined]
            term = terms.sort_values(["academic_year", "term"]).iloc[-1]
            when = f"{int(term['term'])}/{int(term['academic_year'])}"
            if elsewhere:
                reason = (
                    "this national ID is also given to a student of another school, and both "
                    f"were marked at school on the same days of term {when}: it cannot be one "
                    "child's, so neither is linked by it until it is corrected (check it "
                    "against the child's ID card or house registration; the area office "
                    "sees both schools)"
                )
            else:
                reason = (
                    f"one national ID for {len(codes)} students of the school enrolled in term "
                    f"{when}: it cannot be one child's, so none of them is linked by it until "
                    "it is corrected"
                )
            problem = {
                "file": report.file,
                "line": "",
                "column": "national_id",
                "value": ", ".join(codes),
                "reason": reason,
                "action": NOT_LINKED,
            }
            report.rejects = pd.concat([report.rejects, pd.DataFrame([problem])], ignore_index=True)


def _persons_of(connection: sa.Connection, codes: dict[str, list[str]]) -> set[str]:
    """The children of these schools' students (``_students_of``)."""
    students = pd.DataFrame(
        [(school, code) for school, theirs in codes.items() for code in theirs],
        columns=["school_id", "student_id"],
    )
    found = rows_of_students(connection, TABLES["students"], students, ["person_id"])
    return set(found["person_id"])


def _enrolled_the_term_before(
    connection: sa.Connection, accepted: list[tuple[Source, pd.DataFrame]]
) -> set[str]:
    """The children this load's count may find missing: those enrolled at its schools in
    the term before each term it brings enrolments of, and before a year's first term,
    every P6 or M3 pupil of any school (a transition is looked for once every school
    taking the next grade has sent the new year: this load may be the last of them).
    Another school's other children are looked for when that school sends its term."""
    terms: dict[int, set[str]] = defaultdict(set)
    for source, rows in accepted:
        if source.name == "enrollments" and len(rows):
            brought = rows["academic_year"].astype(int) * 2 + rows["term"].astype(int)
            for term, school in zip(brought, rows["school_id"].astype(str), strict=True):
                terms[int(term) - 1].add(school)
    if not terms:
        return set()
    enrolled, students = TABLES["enrollments"], TABLES["students"]
    term_of = enrolled.c.academic_year * 2 + enrolled.c.term
    # A year's second term is even (``academic_year * 2 + 2``): the term before a first.
    ends_a_year = sorted(t for t in terms if t % 2 == 0)
    asked = [(term_of == t) & enrolled.c.school_id.in_(sorted(s)) for t, s in terms.items()]
    if ends_a_year:
        asked.append(term_of.in_(ends_a_year) & enrolled.c.grade_level.in_(TRANSITION_GRADES))
    return set(
        connection.execute(
            sa.select(students.c.person_id)
            .distinct()
            .select_from(
                enrolled.join(
                    students,
                    (students.c.school_id == enrolled.c.school_id)
                    & (students.c.student_id == enrolled.c.student_id),
                )
            )
            .where(sa.or_(*asked))
        ).scalars()
    )


def _school_folders(directory: Path) -> list[Path]:
    """Single schools' folders (``schools/<school_id>/``), in name order."""
    folder = directory / "schools"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _group_by_classroom(rows: pd.DataFrame) -> pd.DataFrame:
    """Students whose enrolment names no advisor are listed under their classroom.

    A DMC enrolment export has no advisor column; its students get the advisor code
    ``class:GRADE/ROOM``, which an admin gives to the classroom's advisor account.
    """
    missing = rows["advisor_id"].isna()
    if not missing.any():
        return rows
    room = rows["classroom"].fillna("").astype(str)
    room = room.str.split("/").str[-1].where(room != "", "-")
    group = CLASSROOM_GROUP + rows["grade_level"].astype(str) + "/" + room
    return rows.assign(advisor_id=rows["advisor_id"].where(~missing, group))


@dataclass
class _Known:
    """Students (a school and its code) and schools known so far; with a scope, the
    schools a load is for."""

    students: set[tuple[str, str]]
    schools: set[str]
    scope: frozenset[str] | None = None
    # Each code's schools: a record without a school names the one school using its code.
    codes: dict[str, set[str]] = field(default_factory=dict)
    # Number-only codes by their number (zeros stripped): (school, number) → the codes,
    # and number → (school, code) pairs.
    numbers: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    numbers_anywhere: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # The students of this load by their ID's keyed hash (those stored are read as asked).
    ids: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def read(cls, engine: sa.Engine, scope: frozenset[str] | None) -> _Known:
        students = TABLES["students"]
        with engine.connect() as connection:
            pairs = connection.execute(sa.select(students.c.school_id, students.c.student_id))
            known = cls(
                {(str(school), str(code)) for school, code in pairs},
                _existing_ids(engine, "schools", "school_id"),
                scope,
            )
        for school, code in known.students:
            known._index(school, code)
        return known

    def add_students(self, rows: pd.DataFrame) -> None:
        for school, code in zip(rows["school_id"], rows["student_id"], strict=True):
            self.students.add((school, code))
            self._index(school, code)

    def add_ids(self, rows: pd.DataFrame) -> None:
        for school, code, hashed in zip(
            rows["school_id"], rows["student_id"], rows["national_id_hash"], strict=True
        ):
            if isinstance(hashed, str):
                self.ids.setdefault(hashed, set()).add((school, code))

    def holders(self, hashes: set[str], engine: sa.Engine) -> dict[str, set[tuple[str, str]]]:
        """The students (a school and its code) with each of these ID hashes, in the
        load's schools when it has a scope."""
        students = TABLES["students"]
        found: dict[str, set[tuple[str, str]]] = {h: set(self.ids.get(h, ())) for h in hashes}
        wanted = sorted(hashes)
        with engine.connect() as connection:
            for start in range(0, len(wanted), 5000):
                stored = connection.execute(
                    sa.select(
                        students.c.national_id_hash, students.c.school_id, students.c.student_id
                    ).where(students.c.national_id_hash.in_(wanted[start : start + 5000]))
                )
                for hashed, school, code in stored:
                    found[hashed].add((str(school), str(code)))
        return {
            h: {p for p in pairs if self.scope is None or p[0] in self.scope}
            for h, pairs in found.items()
        }

    def _index(self, school: str, code: str) -> None:
        self.codes.setdefault(code, set()).add(school)
        if code.isdigit():
            number = code.lstrip("0")
            self.numbers.setdefault((school, number), set()).add(code)
            self.numbers_anywhere.setdefault(number, set()).add((school, code))


def _covered(
    rows: pd.DataFrame, source: Source
) -> tuple[tuple[tuple[int, int], ...], tuple[dt.date, dt.date] | None]:
    """The terms and the first and last day of a file's loaded rows."""
    terms: tuple[tuple[int, int], ...] = ()
    if {"academic_year", "term"} <= set(rows.columns) and source.name != "calendar":
        pairs = rows[["academic_year", "term"]].dropna().drop_duplicates()
        terms = tuple(sorted((int(y), int(t)) for y, t in pairs.itertuples(index=False)))
    dated = next((c for c in source.key if source.column(c).kind == "date"), None)
    days = pd.to_datetime(rows[dated]).dropna() if dated else pd.Series(dtype="datetime64[ns]")
    return terms, (days.min().date(), days.max().date()) if len(days) else None


def _unmatched_because(hashed: str | None, students: set[tuple[str, str]]) -> str:
    """Why a row naming its child by ID reaches no one student ('' when it does)."""
    if len(students) == 1:
        return ""
    if hashed is None:
        return "no student code, nor a valid national ID or G code"
    if not students:
        return "no student has this national ID or G code"
    if len({school for school, _ in students}) == 1:
        return (
            "several students of the school have this national ID or G code; give the "
            "student code, or correct their IDs in the students file"
        )
    return "students of several schools have this national ID or G code; give the school"


def _found_by_national_id(
    raw: pd.DataFrame, lines: np.ndarray, file: str, known: _Known, *, key: str, engine: sa.Engine
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """A file naming its children by national ID or G code only: each row is the student
    with that ID (at the row's school when it names one). A row whose ID no student has,
    or students of several schools do, is rejected, its ID masked."""
    ids: pd.Series = raw.attrs["national_ids"]
    valid = national_id_is_accepted(ids).to_numpy(dtype=bool)
    hashes = [hash_national_id(v, key) if ok else None for v, ok in zip(ids, valid, strict=True)]
    holders = known.holders({h for h in hashes if h is not None}, engine)
    named_school = raw["school_id"].fillna("").astype(str).str.strip()
    schools, codes, reasons = [], [], []
    for hashed, school in zip(hashes, named_school, strict=True):
        pairs = {p for p in holders.get(hashed or "", ()) if not school or p[0] == school}
        found = next(iter(pairs)) if len(pairs) == 1 else ("", "")
        schools.append(found[0])
        codes.append(found[1])
        reasons.append(_unmatched_because(hashed, pairs))
    found_rows = np.array([not r for r in reasons], dtype=bool)
    rejected = pd.DataFrame(
        {
            "file": file,
            "line": np.asarray(lines)[~found_rows],
            "column": "national_id",
            "value": [masked_national_id(v) for v in ids[~found_rows]],
            "reason": [r for r in reasons if r],
            "action": REJECTED,
        },
        columns=REJECT_COLUMNS,
    )
    attrs = {k: v for k, v in raw.attrs.items() if k != "national_ids"}
    named = raw.assign(school_id=schools, student_id=codes)[found_rows].reset_index(drop=True)
    named.attrs = attrs
    return named, np.asarray(lines)[found_rows], rejected


def _existing_ids(engine: sa.Engine, table: str, column: str) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(TABLES[table].c[column])).scalars())


def _with_schools(parsed: ParsedSource, known: _Known) -> ParsedSource:
    """A record that names no school belongs to the one school whose student has its code
    (a file of several schools, without the school column); a code that several schools
    use is ambiguous and its row is rejected, and a record that comes out the same as an
    earlier line of the file too."""
    source, rows = parsed.source, parsed.rows
    if source.student_ref is None or not rows["school_id"].isna().any():
        return parsed
    blank = rows["school_id"].isna().to_numpy()
    found = [
        next(iter(schools)) if len(schools := known.codes.get(code, set())) == 1 else None
        for code in rows.loc[blank, source.student_ref]
    ]
    filled = rows["school_id"].to_numpy(dtype=object, copy=True)
    filled[blank] = found
    rows = rows.assign(school_id=filled)
    shared = blank & rows["school_id"].isna().to_numpy()
    shared &= (
        rows[source.student_ref].map(lambda c: len(known.codes.get(c, ())) > 1).to_numpy(dtype=bool)
    )
    duplicate = rows.duplicated(list(source.key), keep="first").to_numpy() & ~shared
    duplicate &= rows["school_id"].notna().to_numpy()
    rejects = [parsed.rejects]
    for failing, column, reason in (
        (
            shared,
            source.student_ref,
            "student code used at more than one school: give the school_id column, or load a"
            " school's own files from a folder schools/<school_id>/",
        ),
        (duplicate, source.student_ref, "duplicate key: same as an earlier line"),
    ):
        if failing.any():
            rejects.append(_rejected(parsed, failing, column, rows[column], reason))
    kept = ~(shared | duplicate)
    return ParsedSource(
        source,
        parsed.file,
        rows.loc[kept].reset_index(drop=True),
        pd.concat(rejects, ignore_index=True),
        parsed.rows_read,
        parsed.lines[kept],
        parsed.given,
    )


def _rejected(
    parsed: ParsedSource,
    failing: np.ndarray,
    column: str,
    values: pd.Series,
    reason: str,
    *,
    action: str = REJECTED,
) -> pd.DataFrame:
    """The rejects report's rows for the failing rows of one column."""
    return pd.DataFrame(
        {
            "file": parsed.file,
            "line": parsed.lines[failing],
            "column": column,
            "value": values[failing].astype(str).to_numpy(),
            "reason": reason,
            "action": action,
        }
    )


def _check_references(parsed: ParsedSource, known: _Known) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reject good rows that name a student or school nobody has loaded, or, in a load
    scoped to some schools, another school.

    A student is a school and its own code together: a row names the student of its
    school. School references are checked only once any school is known: a data
    directory with only the required sources has no schools file to check against. A
    code a sheet stripped of its leading zeros is read as the school's code first.
    """
    rows = parsed.rows
    source = parsed.source
    code = source.student_ref or ("student_id" if source.name == "students" else None)
    new = np.zeros(len(rows), dtype=bool)
    corrected = np.zeros(len(rows), dtype=bool)
    given_codes = rows[code] if code else None
    if code:
        new = _not_known(rows, code, known)
        rows, corrected = _codes_as_kept(rows, code, known, new)
        new &= ~corrected
    unknown = np.zeros(len(rows), dtype=bool)
    parts = []
    checks: list[tuple[str, pd.Series, str]] = []
    if corrected.any():
        clash = rows.duplicated(list(source.key), keep=False).to_numpy() & corrected
        checks.append((code or "", pd.Series(clash), "duplicate key: same as an earlier line"))
    school_columns = [*source.school_refs, *(("school_id",) if source.name == "schools" else ())]
    for column in school_columns:
        values = rows[column]
        if known.schools and source.name != "schools":
            checks.append((column, values.notna() & ~values.isin(known.schools), "unknown school"))
        if known.scope is not None:
            outside = ~values.isin(known.scope)
            checks.append(
                (
                    column,
                    outside,
                    "another school's row: this load is for " + ", ".join(sorted(known.scope)),
                )
            )
    if source.student_ref:
        checks.append((source.student_ref, pd.Series(new), "unknown student of the school"))
    for column, failing, reason in checks:
        missing_np = failing.to_numpy(dtype=bool) & ~unknown
        if missing_np.any():
            parts.append(_rejected(parsed, missing_np, column, rows[column], reason))
        unknown |= missing_np
    if code and given_codes is not None and (corrected & ~unknown).any():
        parts.append(
            _rejected(
                parsed, corrected & ~unknown, code, given_codes, ZEROS_PUT_BACK, action=CORRECTED
            )
        )
    rejects = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=REJECT_COLUMNS)
    return rows.loc[~unknown].reset_index(drop=True), rejects


def _not_known(rows: pd.DataFrame, code: str, known: _Known) -> np.ndarray:
    """Which rows name a student (their school and code) nobody has loaded. Each pair is
    looked up once: a term's attendance names each student on every day, and a Python
    value for each of its rows took a gigabyte for five million days."""
    pair = rows.groupby(["school_id", code], sort=False, dropna=False).ngroup().to_numpy()
    _, first = np.unique(pair, return_index=True)  # each pair's first row, in pair order
    distinct = rows[["school_id", code]].iloc[first]
    named = zip(distinct["school_id"].tolist(), distinct[code].tolist(), strict=True)
    unknown = np.fromiter((p not in known.students for p in named), bool, len(distinct))
    return unknown[pair]


def _codes_as_kept(
    rows: pd.DataFrame, code: str, known: _Known, unknown: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """Codes a sheet stripped of their leading zeros, read as the school keeps them.

    A school's code 05123 typed into a sheet without text format is the number 5123. A
    number-only code that is not the school's (or, without a school, nobody's) is read as
    the school's code it becomes with zeros put back, when exactly one code does; two
    (0777 and 777) are never guessed between. Returns the rows and which were corrected.
    """
    fixes: dict[int, tuple[str, str]] = {}
    at = np.flatnonzero(unknown)  # their values only: a term's days are millions
    given_codes, given_schools = rows[code].iloc[at].tolist(), rows["school_id"].iloc[at].tolist()
    for i, given, school in zip(at, given_codes, given_schools, strict=True):
        if not (isinstance(given, str) and given.isdigit()):
            continue
        if isinstance(school, str):
            options = {
                (school, kept) for kept in known.numbers.get((school, given.lstrip("0")), ())
            }
        elif given in known.codes:
            continue  # a code several schools use: the school column decides, not zeros
        else:
            options = known.numbers_anywhere.get(given.lstrip("0"), set())
        if len(options) == 1:
            (fixes[int(i)],) = options
    corrected = np.zeros(len(rows), dtype=bool)
    if not fixes:
        return rows, corrected
    where = np.fromiter(fixes, np.int64, len(fixes))
    corrected[where] = True
    schools, codes = rows["school_id"].copy(), rows[code].copy()
    schools.iloc[where] = [school for school, _ in fixes.values()]
    codes.iloc[where] = [kept for _, kept in fixes.values()]
    return rows.assign(school_id=schools, **{code: codes}), corrected


def _with_stored(
    rows: pd.DataFrame, source: Source, given: tuple[str, ...], engine: sa.Engine
) -> pd.DataFrame:
    """A file without some of a source's columns (a students list with no birth dates)
    leaves what is stored in them as it is: each row takes the stored values of the
    columns its file lacks. National IDs are kept by their hash (``_with_person``)."""
    missing = [
        c
        for c in source.column_names
        if c not in given and c not in source.key and source.column(c).kind != "national_id"
    ]
    if not missing or rows.empty or source.name in APPEND_ONLY:
        return rows
    # Of the file's students only (school and code), if it is about students.
    students = rows[["school_id", "student_id"]] if "student_id" in rows else None
    stored = read_table(engine, source.name, columns=[*source.key, *missing], students=students)
    if stored.empty:
        return rows
    key = list(source.key)
    found = rows[key].merge(stored, on=key, how="left")
    return rows.assign(**{c: rows[c].where(rows[c].notna(), found[c].to_numpy()) for c in missing})


def _hash_ids(rows: pd.DataFrame, source: Source, key: str) -> pd.DataFrame:
    hashed = rows["national_id"].map(
        lambda v: hash_national_id(v, key) if isinstance(v, str) else None
    )
    return rows.drop(columns=["national_id"]).assign(national_id_hash=hashed)


def _with_person(rows: pd.DataFrame, engine: sa.Engine) -> pd.DataFrame:
    """Each student's person key. A file without the student's ID (or with a value that
    had to be blanked) keeps the ID an earlier load stored: it never unlinks a child. A
    student set apart while carrying the same ID (``identity.shared_ids``) stays apart
    here: the load works out again whether they must (``identity.settle_shared_ids``)."""
    with engine.connect() as connection:
        stored = rows_of_students(
            connection, TABLES["students"], rows[["school_id", "student_id"]], _LINK_COLUMNS
        )
    earlier = (
        rows[["school_id", "student_id"]]
        .astype(str)
        .merge(stored, on=["school_id", "student_id"], how="left")
    )
    hashes = rows["national_id_hash"].where(
        rows["national_id_hash"].notna().to_numpy(), earlier["national_id_hash"].to_numpy()
    )
    keys = person_ids(rows["school_id"], rows["student_id"], hashes).to_numpy()
    apart = (
        earlier["person_id"].astype(str).str.startswith(UNLINKED_PREFIX).to_numpy()
        & earlier["national_id_hash"].notna().to_numpy()
        & (earlier["national_id_hash"].to_numpy() == hashes.to_numpy())
    )
    return rows.assign(
        national_id_hash=hashes, person_id=np.where(apart, earlier["person_id"].to_numpy(), keys)
    )


def _driver_values(
    rows: pd.DataFrame, table: sa.Table, dialect: str, names: list[str]
) -> list[np.ndarray]:
    """Each named column as driver-ready Python values (None for missing)."""
    columns = []
    for column in (table.c[name] for name in names):
        values = rows[column.name]
        if isinstance(column.type, sa.Date):
            # SQLite stores dates as ISO text, exactly as SQLAlchemy's Date type does.
            text = values.dt.strftime("%Y-%m-%d") if dialect == "sqlite" else values.dt.date
            out = text.astype(object).where(values.notna(), None).to_numpy()
        elif isinstance(column.type, sa.Integer | sa.Boolean):
            kind = int if isinstance(column.type, sa.Integer) else bool
            out = np.array(
                [None if pd.isna(v) else kind(v) for v in values.astype(object)], dtype=object
            )
        else:
            out = values.astype(object).where(values.notna(), None).to_numpy()
        columns.append(out)
    return columns


def _upsert(connection: sa.Connection, source: Source, rows: pd.DataFrame) -> None:
    """Insert or update rows on the source's natural key.

    Rows go to the driver as plain tuples, the statement compiled once: per-row statement
    compilation would cost more than the database write. On PostgreSQL they are copied
    into a temporary table and upserted from it in one statement a chunk (``COPY``, as
    appends are): row-by-row upserts cost it four times SQLite's write.
    """
    if rows.empty:
        return
    table = TABLES[source.name]
    if source.name == "calendar":
        rows = rows.assign(school_id=rows["school_id"].fillna(""))
    rows = rows.rename(
        columns={c: stored_column_name(source, c) for c in source.column_names if c in rows}
    )
    dialect = connection.dialect.name
    key = list(source.key)
    names = [c.name for c in table.c if c.name in rows.columns]
    where: sa.TextClause | None = None
    if source.name in APPEND_ONLY:
        # A school's file is upserted on its natural key among imported records only;
        # the service's own records are never touched by a load.
        rows = rows.assign(origin=ORIGIN_IMPORT)
        names.append("origin")
        where = sa.text(f"origin = '{ORIGIN_IMPORT}'")  # a constant, compiled inline
    if dialect == "postgresql":
        chunks = _driver_rows(rows, table, dialect, names)
        _upsert_by_copy(connection, table, names, key, where=where, chunks=chunks)
        return
    if dialect != "sqlite":
        raise RuntimeError(f"upsert is not implemented for the {dialect} dialect")
    statement = keyed_insert(connection, table).values({name: sa.bindparam(name) for name in names})
    compiled = statement.on_conflict_do_update(
        index_elements=key,
        index_where=where,
        set_={name: statement.excluded[name] for name in names if name not in key},
    ).compile(dialect=connection.dialect)
    order = list(compiled.positiontup or [])  # its ``?`` parameters
    for chunk in _driver_rows(rows, table, dialect, order):
        connection.exec_driver_sql(compiled.string, chunk)


def _driver_rows(
    rows: pd.DataFrame, table: sa.Table, dialect: str, names: list[str]
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows as tuples of driver-ready values in the order of ``names``, a chunk at a
    time: a whole load's values as Python objects would hold several times its frame."""
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows.iloc[start : start + CHUNK_ROWS]
        yield list(zip(*_driver_values(chunk, table, dialect, names), strict=True))


def _upsert_by_copy(
    connection: sa.Connection,
    table: sa.Table,
    names: list[str],
    key: list[str],
    *,
    where: sa.TextClause | None,
    chunks: Iterator[list[tuple[Any, ...]]],
) -> None:
    """PostgreSQL's upsert: each chunk copied into a temporary table and inserted or
    updated from it in one statement (which may not update a row twice: a file's rows
    hold each key once, its second line rejected as a duplicate)."""
    stage = sa.Table(
        f"{table.name}_stage",
        sa.MetaData(),
        *(sa.Column(name, table.c[name].type) for name in names),
        prefixes=["TEMPORARY"],
    )
    stage.create(connection)
    statement = keyed_insert(connection, table).from_select(names, sa.select(*stage.c))
    upsert = statement.on_conflict_do_update(
        index_elements=key,
        index_where=where,
        set_={name: statement.excluded[name] for name in names if name not in key},
    )
    for chunk in chunks:
        insert_columns(connection, stage, names, chunk)
        connection.execute(upsert)
        connection.exec_driver_sql(f"TRUNCATE {stage.name}")
    stage.drop(connection)


def _write_rejects(reports: list[SourceReport], rejects_dir: Path) -> None:
    rejects_dir.mkdir(parents=True, exist_ok=True)
    for source in dict.fromkeys(r.source for r in reports):
        rejects = pd.concat(
            [r.rejects.reindex(columns=REJECT_COLUMNS) for r in reports if r.source == source],
            ignore_index=True,
        )
        # The values come from the school's file: escaped so that none runs in Excel.
        write_csv(rejects, rejects_dir / f"{source}.csv")
