"""A child is a person, not a code: one child's records across schools.

Each school numbers its own students, so a student is a school and its code together.
The same child at several schools (a move, the P6 → M1 or M3 → M4 transition, a return
after leaving) is linked by the keyed hash of their national ID or G code, never by a
name or a birth date: every record of a school's student carries the ``person_id`` of
the child. A student without an ID is a person of their own (``unlinked_person``).

The person key is derived from the ID's keyed hash by one more hash, so it links the
records of one child here without being the hash itself: the Parquet dataset may hold it,
and it matches nothing outside this service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from schooldata.contract import AT_SCHOOL

LINKED_PREFIX = "n:"
UNLINKED_PREFIX = "s:"
_KEY_COLUMNS = ["school_id", "student_id", "person_id"]


def linked_person(national_id_hash: str) -> str:
    """The person key of a child with a national ID or G code (its keyed hash given)."""
    digest = hashlib.sha256(f"ews-person:{national_id_hash}".encode()).hexdigest()
    return LINKED_PREFIX + digest[:24]


def unlinked_person(school_id: str, student_id: str) -> str:
    """The person key of a school's student without an ID: theirs alone."""
    return f"{UNLINKED_PREFIX}{school_id}:{student_id}"


def unlinked_persons(school_ids: np.ndarray, student_ids: np.ndarray) -> pd.Index:
    """``unlinked_person`` of many students at once."""
    # Joined by ":" as ``unlinked_person`` writes them: "s", the school, the code.
    keys = pc.binary_join_element_wise(
        UNLINKED_PREFIX.removesuffix(":"),
        pa.array(school_ids.astype(str), pa.string()),
        pa.array(student_ids.astype(str), pa.string()),
        ":",
    )
    persons: pd.Index = pd.Index(keys.to_numpy(zero_copy_only=False).astype(str))
    return persons


def person_ids(
    school_ids: pd.Series, student_ids: pd.Series, national_id_hashes: pd.Series
) -> pd.Series:
    """Each student's person key: linked by the ID's hash where there is one."""
    linked = {h: linked_person(h) for h in national_id_hashes.dropna().unique()}
    keys = national_id_hashes.map(linked)
    unlinked = keys.isna().to_numpy()
    if unlinked.any():
        own = [
            unlinked_person(str(school), str(student))
            for school, student in zip(
                school_ids.to_numpy()[unlinked], student_ids.to_numpy()[unlinked], strict=True
            )
        ]
        keys = keys.astype(object)
        keys.iloc[np.flatnonzero(unlinked)] = own
    return keys.astype(str)


def is_linked(person_ids: pd.Series) -> pd.Series:
    """Whether each person key comes from an ID (else the student stands alone)."""
    return person_ids.astype(str).str.startswith(LINKED_PREFIX)


def linking_counts(students: pd.DataFrame) -> dict[str, int]:
    """How many students have an ID to link by, how many of them are the same child as a
    student of another school, how many carry an ID that is not one child's
    (``shared_ids``: not linked by it), and how many cannot be linked (no ID).

    Args:
        students: every stored student's ``school_id``, ``student_id``, ``person_id`` and
            ``national_id_hash``.
    """
    linked = is_linked(students["person_id"])
    schools = students.loc[linked].groupby("person_id")["school_id"].nunique()
    shared = students["person_id"].map(schools).fillna(0) > 1
    with_id = students["national_id_hash"].notna()
    return {
        "with_id": int(linked.sum()),
        "linked_across_schools": int(shared.sum()),
        "shared_id": int((with_id & ~linked).sum()),
        "without_id": int((~with_id).sum()),
    }


SHARED_COLUMNS = [
    "school_id",
    "national_id_hash",
    "academic_year",
    "term",
    "student_ids",
    "elsewhere",
]
# Marked at school (present or late) at two schools on this many of the same days, the
# students carrying one ID are two children: a child is at one school on a day. A move
# nobody recorded as an exit leaves a day or two marked at both: that stays one child.
DAYS_AT_TWO_SCHOOLS = 3


def shared_ids(
    students: pd.DataFrame, enrollments: pd.DataFrame, present: pd.DataFrame | None = None
) -> pd.DataFrame:
    """IDs that cannot be one child's: carried by two or more students of one school
    enrolled in the same term (a column of IDs filled down in Excel, one child registered
    twice), or by students of two schools enrolled in the same term and marked at school
    on the same days (``DAYS_AT_TWO_SCHOOLS``: a brother's ID, a typing slip that passes
    the check digit). A school numbering its students anew gives one child two codes, but
    never in the same term; a child who moves keeps the days at each school apart: each
    stays one child.

    Args:
        students: ``school_id, student_id, national_id_hash``.
        enrollments: ``school_id, student_id, academic_year, term``.
        present: the days these students were marked at school (``school_id,
            student_id, date``; ``present_days``); None: one school's students only.

    Returns:
        One row per ID, school and term it is shared in, with the school's students'
        codes (``student_ids``, sorted) and whether a student of another school carries
        it (``elsewhere``).
    """
    key = ["school_id", "national_id_hash"]
    carried = students.dropna(subset=["national_id_hash"])
    carried = carried.loc[carried.groupby(key)["student_id"].transform("nunique") > 1]
    terms = carried[[*key, "student_id"]].merge(
        enrollments[["school_id", "student_id", "academic_year", "term"]].drop_duplicates(),
        on=["school_id", "student_id"],
    )
    together = (
        terms.groupby([*key, "academic_year", "term"])["student_id"]
        .unique()
        .map(lambda codes: tuple(sorted(codes)))
    )
    together = together[together.map(len) > 1]
    within = together.rename("student_ids").reset_index().assign(elsewhere=False)
    if present is None:
        return within.reindex(columns=SHARED_COLUMNS)
    across = _at_two_schools(students, enrollments, present)
    return pd.concat(
        [frame for frame in (within, across) if len(frame)] or [within], ignore_index=True
    ).reindex(columns=SHARED_COLUMNS)


def in_a_term_at_two_schools(students: pd.DataFrame, enrollments: pd.DataFrame) -> pd.DataFrame:
    """The students carrying an ID that students of another school carry in a term they
    are enrolled in too, with those terms: whose days at school tell whether they are one
    child (``shared_ids``)."""
    carried = students.dropna(subset=["national_id_hash"])
    carried = carried.loc[
        carried.groupby("national_id_hash")["school_id"].transform("nunique").to_numpy() > 1
    ]
    terms = carried[["school_id", "student_id", "national_id_hash"]].merge(
        enrollments[["school_id", "student_id", "academic_year", "term"]].drop_duplicates(),
        on=["school_id", "student_id"],
    )
    schools = terms.groupby(["national_id_hash", "academic_year", "term"])["school_id"]
    return terms.loc[schools.transform("nunique").to_numpy() > 1].reset_index(drop=True)


def _at_two_schools(
    students: pd.DataFrame, enrollments: pd.DataFrame, present: pd.DataFrame
) -> pd.DataFrame:
    """``shared_ids``' IDs carried at two schools: marked at both on the same days.

    What the days say now decides, never what they once said: a student set apart
    because of the days of another school's student whose ID was corrected since, or of
    attendance undone as a wrong upload, is one child with the ID's other students again
    (as loading the same files afresh would make them)."""
    terms = in_a_term_at_two_schools(students, enrollments)
    if terms.empty:
        return pd.DataFrame(columns=SHARED_COLUMNS)
    pairs = terms[["school_id", "student_id", "national_id_hash"]].drop_duplicates()
    days = pairs.merge(
        present[["school_id", "student_id", "date"]].drop_duplicates(),
        on=["school_id", "student_id"],
    )
    schools = days.groupby(["national_id_hash", "date"])["school_id"].nunique()
    both = (schools > 1).groupby(level="national_id_hash").sum()
    found = set(both.index[both.to_numpy() >= DAYS_AT_TWO_SCHOOLS])
    held = terms.loc[terms["national_id_hash"].isin(found)]
    codes = (
        held.groupby(["school_id", "national_id_hash", "academic_year", "term"])["student_id"]
        .unique()
        .map(lambda theirs: tuple(sorted(theirs)))
    )
    return codes.rename("student_ids").reset_index().assign(elsewhere=True)


# The days some students (``school_id, student_id``) were marked at school: from the
# database (``present_days``), or a load's reading of a Parquet dataset's as well.
DaysOf = Callable[[sa.Connection, pd.DataFrame], pd.DataFrame]


def present_days(connection: sa.Connection, students: pd.DataFrame) -> pd.DataFrame:
    """The days these students (``school_id, student_id``) were marked at school in the
    database's attendance (``AT_SCHOOL``)."""
    from schooldata.tables import TABLES

    attendance = TABLES["attendance"]
    days = rows_of_students(
        connection,
        attendance,
        students,
        ["school_id", "student_id", "date"],
        attendance.c.status.in_(AT_SCHOOL),
    )
    return days.assign(date=pd.to_datetime(days["date"]))


def keys_apart(students: pd.DataFrame, shared: pd.DataFrame) -> pd.Series:
    """Each student's person key (``person_ids``), a student of their own where their ID
    is shared (``shared_ids``)."""
    keys = person_ids(students["school_id"], students["student_id"], students["national_id_hash"])
    if shared.empty:
        return keys
    held = shared[["school_id", "student_ids"]].explode("student_ids")
    apart = pd.MultiIndex.from_frame(students[["school_id", "student_id"]]).isin(
        pd.MultiIndex.from_arrays([held["school_id"], held["student_ids"]])
    )
    return keys.where(
        ~apart,
        unlinked_persons(students["school_id"].to_numpy(), students["student_id"].to_numpy()),
    )


def settle_shared_ids(
    connection: sa.Connection,
    schools: Iterable[str],
    days: DaysOf | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Set the person key of these schools' students with an ID that is not one child's
    (``shared_ids``: another student of their school carries it, or a student of another
    school marked at school on the same days) apart, and link again those whose ID is
    theirs alone now (it was corrected): every student's key as ``keys_apart`` gives it.

    Args:
        days: the days some students were marked at school (``present_days``, which
            reads the database's attendance, unless given: a Parquet dataset's).

    Returns:
        The shared IDs (``shared_ids``), and the students whose key changed
        (``school_id, student_id``, the key before, ``person_id``, and now, ``now``).
    """
    from schooldata.tables import TABLES

    students, enrolled = TABLES["students"], TABLES["enrollments"]
    wanted = sorted(set(schools))
    unchanged = pd.DataFrame(columns=[*_KEY_COLUMNS, "now"])
    if not wanted:
        return pd.DataFrame(columns=SHARED_COLUMNS), unchanged
    columns = ["school_id", "student_id", "national_id_hash", "person_id"]
    held = students.c.national_id_hash.is_not(None)
    twice = (
        sa.select(students.c.school_id, students.c.national_id_hash)
        .where(held, students.c.school_id.in_(wanted))
        .group_by(students.c.school_id, students.c.national_id_hash)
        .having(sa.func.count() > 1)
        .subquery()
    )
    theirs = sa.select(students.c.national_id_hash).where(held, students.c.school_id.in_(wanted))
    elsewhere = (
        sa.select(students.c.national_id_hash)
        .where(students.c.national_id_hash.in_(theirs))
        .group_by(students.c.national_id_hash)
        .having(sa.func.count(sa.distinct(students.c.school_id)) > 1)
    )
    candidates = pd.DataFrame(
        connection.execute(
            sa.select(*[students.c[c] for c in columns]).where(
                held,
                sa.or_(
                    # Anywhere: a student set apart with one at another school is linked
                    # again when that school corrects its ID.
                    students.c.person_id.startswith(UNLINKED_PREFIX),
                    sa.tuple_(students.c.school_id, students.c.national_id_hash).in_(
                        sa.select(twice.c.school_id, twice.c.national_id_hash)
                    ),
                    students.c.national_id_hash.in_(elsewhere),
                ),
            )
        ).all(),
        columns=columns,
    )
    if candidates.empty:
        return pd.DataFrame(columns=SHARED_COLUMNS), unchanged
    terms = rows_of_students(
        connection, enrolled, candidates, ["school_id", "student_id", "academic_year", "term"]
    )
    asked = in_a_term_at_two_schools(candidates, terms)
    shared = shared_ids(candidates, terms, (days or present_days)(connection, asked))
    now = keys_apart(candidates, shared).to_numpy()
    changed = candidates.assign(now=now).loc[candidates["person_id"].to_numpy() != now]
    for row in changed.itertuples(index=False):
        connection.execute(
            sa.update(students)
            .where(students.c.school_id == row.school_id, students.c.student_id == row.student_id)
            .values(person_id=row.now)
        )
    return shared, changed[[*_KEY_COLUMNS, "now"]].reset_index(drop=True)


# Exits after which a child who is enrolled nowhere has not dropped out.
EXPLAINED_EXITS = ("transfer", "graduated", "deceased")
# Graduating from these is a transition: the child must enrol again the next year.
TRANSITION_GRADES = ("P6", "M3")
RETURN_COLUMNS = [
    "school_id",
    "student_id",
    "returned_on",
    "academic_year",
    "term",
    "person_id",
    "left_school_id",
    "left_on",
    "left_again_on",
]


def returns(enrollments: pd.DataFrame, exits: pd.DataFrame, last_term: int) -> pd.DataFrame:
    """Children who came back to school after leaving it: one row per return.

    A child returns when they are enrolled again after a term or more enrolled nowhere,
    having left without a transfer, a final graduation or a death (a dropout, recorded or
    not, or a P6 or M3 graduate who did not go on); or when they are enrolled again at the
    school that recorded them as a dropout. (Enrolled at another school right after a
    recorded dropout, the child moved: ``features`` and the labels call that a transfer.)

    Args:
        enrollments: ``school_id, student_id, person_id, academic_year, term,
            grade_level, term_start, term_end`` of the children concerned.
        exits: ``school_id, student_id, person_id, exit_date, exit_type``.
        last_term: the latest term of the whole data (``academic_year * 2 + term``):
            a child not enrolled in it, who left without a reason, has left again.

    Returns:
        ``RETURN_COLUMNS``: where and when each return was, where and when the child
        left before it, and when they left again (NaT: still at school).
    """
    if enrollments.empty:
        return pd.DataFrame(columns=RETURN_COLUMNS)
    spells = enrollments.assign(
        ordinal=enrollments["academic_year"].astype(int) * 2 + enrollments["term"].astype(int),
        term_start=pd.to_datetime(enrollments["term_start"]),
        term_end=pd.to_datetime(enrollments["term_end"]),
    ).sort_values(["person_id", "ordinal", "term_start"], kind="stable")
    spells = spells.reset_index(drop=True)
    exits = exits.assign(exit_date=pd.to_datetime(exits["exit_date"]))
    previous = spells.groupby("person_id", sort=False).shift(1)
    gap = (spells["ordinal"] - previous["ordinal"]).to_numpy() > 1
    dropped_once = spells["person_id"].isin(exits.loc[exits["exit_type"] == "dropout", "person_id"])
    # Only these can be returns: a term or more away, or a recorded dropout before.
    candidates = previous["ordinal"].notna().to_numpy() & (gap | dropped_once.to_numpy())
    # Their exits only: a frame per child costs.
    maybe = exits["person_id"].isin(set(spells["person_id"].to_numpy()[candidates]))
    by_person = dict(tuple(exits.loc[maybe.to_numpy()].groupby("person_id", sort=False)))
    spell_rows = spells.groupby("person_id", sort=False).indices
    none = exits.iloc[:0]
    rows = []
    for i in np.flatnonzero(candidates):
        spell, before = spells.iloc[i], previous.iloc[i]
        theirs = by_person.get(spell["person_id"], none)
        ended = theirs[
            (theirs["exit_date"] >= before["term_start"])
            & (theirs["exit_date"] < spell["term_start"])
        ]
        dropout = ended[ended["exit_type"] == "dropout"]
        explained = ended[ended["exit_type"].isin(EXPLAINED_EXITS)]
        transition = (explained["exit_type"] == "graduated").all() and before[
            "grade_level"
        ] in TRANSITION_GRADES
        if gap[i] and (explained.empty or transition):
            left_on = dropout["exit_date"].min() if len(dropout) else before["term_end"]
        elif len(dropout) and (dropout["school_id"] == spell["school_id"]).any():
            left_on = dropout["exit_date"].min()
        else:
            continue
        later = spells.iloc[[j for j in spell_rows[spell["person_id"]] if j >= i]]
        rows.append(
            {
                "school_id": spell["school_id"],
                "student_id": spell["student_id"],
                "returned_on": spell["term_start"],
                "academic_year": int(spell["academic_year"]),
                "term": int(spell["term"]),
                "person_id": spell["person_id"],
                "left_school_id": before["school_id"],
                "left_on": left_on,
                "left_again_on": _left_again(later, theirs, last_term),
            }
        )
    found = pd.DataFrame(rows, columns=RETURN_COLUMNS)
    return found.drop_duplicates(["school_id", "student_id", "returned_on"], keep="last")


def _left_again(later: pd.DataFrame, exits: pd.DataFrame, last_term: int) -> Any:
    """When a returned child left school again (NaT: not), from their enrolments since
    the return (``later``, in order) and their exits."""
    since = exits[exits["exit_date"] >= later["term_start"].iloc[0]]
    ordinals = later["ordinal"].to_numpy()
    breaks = np.flatnonzero(np.diff(ordinals) > 1)
    last = later.iloc[breaks[0]] if len(breaks) else later.iloc[-1]
    explained = since["exit_type"].isin(EXPLAINED_EXITS).any()
    gone = (len(breaks) > 0 or int(last["ordinal"]) < last_term) and not explained
    candidates = list(since.loc[since["exit_type"] == "dropout", "exit_date"])
    if gone:
        candidates.append(pd.Timestamp(last["term_end"]))
    return min(candidates) if candidates else pd.NaT


@dataclass(frozen=True)
class ChildrenRecords:
    """The stored enrolments (with their terms' dates) and exits of some children, at
    every school they were at, each row with its ``person_id``."""

    enrollments: pd.DataFrame
    exits: pd.DataFrame
    terms: pd.DataFrame  # academic_year, term, start_date: the calendar every school keeps
    latest: int  # the newest term enrolled anywhere, as ``academic_year * 2 + term``


def children_records(
    connection: sa.Connection, persons: Iterable[str] | None = None
) -> ChildrenRecords | None:
    """The records of these children (every child when None); None when there are none."""
    from schooldata.calendar import Calendar
    from schooldata.tables import TABLES

    students, enrolled, left = TABLES["students"], TABLES["enrollments"], TABLES["exits"]
    wanted = None if persons is None else sorted(set(persons))
    who = sa.select(students.c.school_id, students.c.student_id, students.c.person_id)
    frames = []
    for chunk in chunks(wanted):
        query = who if chunk is None else who.where(students.c.person_id.in_(chunk))
        frames.append(pd.DataFrame(connection.execute(query).all(), columns=_KEY_COLUMNS))
    people = pd.concat(frames, ignore_index=True)
    if people.empty:
        return None
    enrollments = _of(connection, enrolled, people, wanted is None)
    exits = _of(connection, left, people, wanted is None)
    years = sorted(
        int(y) for y in connection.execute(sa.select(enrolled.c.academic_year).distinct()).scalars()
    )
    calendar = pd.DataFrame(connection.execute(sa.select(TABLES["calendar"])).mappings().all())
    built = Calendar.build(calendar if len(calendar) else None, years)
    terms = built.terms_for(enrollments["school_id"].unique() if len(enrollments) else [])
    enrollments = enrollments.merge(
        terms.rename(columns={"start_date": "term_start", "end_date": "term_end"}),
        on=["school_id", "academic_year", "term"],
        how="left",
    )
    latest = connection.execute(
        sa.select(sa.func.max(enrolled.c.academic_year * 2 + enrolled.c.term))
    ).scalar()
    every = built.table
    return ChildrenRecords(
        enrollments=enrollments,
        exits=exits,
        terms=every.loc[every["school_id"] == "", ["academic_year", "term", "start_date"]],
        latest=int(latest or 0),
    )


def store_returns(connection: sa.Connection, persons: Iterable[str] | None = None) -> int:
    """Work out the returns of these children (every child when None) again from the
    stored enrolments and exits and replace theirs in ``student_returns``.

    Returns the number of returns stored for them.
    """
    from schooldata.tables import student_returns

    wanted = None if persons is None else sorted(set(persons))
    records = children_records(connection, wanted)
    if records is None:
        return 0
    found = returns(records.enrollments, records.exits, records.latest)
    delete = sa.delete(student_returns)
    for chunk in chunks(wanted):
        connection.execute(
            delete if chunk is None else delete.where(student_returns.c.person_id.in_(chunk))
        )
    if len(found):
        stored = found.assign(
            returned_on=pd.to_datetime(found["returned_on"]).dt.date,
            left_on=pd.to_datetime(found["left_on"]).dt.date,
            left_again_on=pd.to_datetime(found["left_again_on"]).dt.date,
        ).astype(object)
        stored = stored.where(stored.notna(), None)
        rows: list[dict[str, Any]] = [
            {str(k): v for k, v in record.items()} for record in stored.to_dict("records")
        ]
        connection.execute(sa.insert(student_returns), rows)
    return len(found)


def superseded(connection: sa.Connection, table: sa.Table) -> list[dict[str, Any]]:
    """The rows of a table kept by child (``student_returns``, ``missing_cases``) whose
    school's student is now another child's key: their ID came after them, was
    corrected, or is one another student of their school carries (``shared_ids``).
    Each row with the student's key now (``now``)."""
    from schooldata.tables import TABLES

    students = TABLES["students"]
    query = (
        sa.select(table, students.c.person_id.label("now"))
        .select_from(
            table.join(
                students,
                (students.c.school_id == table.c.school_id)
                & (students.c.student_id == table.c.student_id),
            )
        )
        .where(table.c.person_id != students.c.person_id)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def chunks(values: list[str] | None, size: int = 5000) -> Iterator[list[str] | None]:
    if values is None:
        yield None
        return
    for start in range(0, len(values), size):
        yield values[start : start + size]


def rows_of_students(
    connection: sa.Connection,
    table: sa.Table,
    students: pd.DataFrame,
    columns: list[str] | None = None,
    *where: Any,
) -> pd.DataFrame:
    """The rows of ``table`` (these columns, else all) about these students
    (``school_id, student_id``), asked school by school: schools number their students
    alike, so a code alone names a student of nearly every school."""
    names = columns or list(table.c.keys())
    frames = [pd.DataFrame(columns=names)]
    for school, codes in students.groupby("school_id")["student_id"]:
        for chunk in chunks(sorted(set(codes.astype(str)))):
            query = sa.select(*[table.c[c] for c in names]).where(
                table.c.school_id == str(school), table.c.student_id.in_(chunk or []), *where
            )
            frames.append(pd.DataFrame(connection.execute(query).all(), columns=names))
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)


def _of(
    connection: sa.Connection, table: sa.Table, people: pd.DataFrame, everyone: bool
) -> pd.DataFrame:
    """The rows of ``table`` of these schools' students, with each one's person."""
    if everyone:
        rows = pd.DataFrame(connection.execute(sa.select(table)).mappings().all())
    else:
        rows = rows_of_students(connection, table, people)
    if rows.empty:
        return pd.DataFrame(columns=[*table.c.keys(), "person_id"])
    return rows.merge(people, on=["school_id", "student_id"], how="inner")


def person_of(school_id: str, student_id: str) -> Any:
    """The person key of one school's student, as a scalar subquery (to join the child's
    students at other schools in the same statement)."""
    from schooldata.tables import TABLES

    students = TABLES["students"]
    return (
        sa.select(students.c.person_id)
        .where((students.c.school_id == school_id) & (students.c.student_id == student_id))
        .scalar_subquery()
    )


def read_with_persons(
    engine: sa.Engine, name: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """A table about students as ``schooldata.db.read_table`` reads it, with each row's
    ``person_id`` (rows whose student is unknown keep theirs alone)."""
    from schooldata.db import read_table

    wanted = None if columns is None else list(dict.fromkeys(["school_id", "student_id", *columns]))
    rows = read_table(engine, name, columns=wanted)
    people = read_table(engine, "students", columns=list(_KEY_COLUMNS))
    found = rows.astype({"school_id": str, "student_id": str}).merge(
        people.astype(str), on=["school_id", "student_id"], how="left"
    )
    alone = found["person_id"].isna()
    if alone.any():
        found.loc[alone, "person_id"] = [
            unlinked_person(school, code)
            for school, code in zip(
                found.loc[alone, "school_id"], found.loc[alone, "student_id"], strict=True
            )
        ]
    return found
