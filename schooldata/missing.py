"""Children to look for: the worklist of Zero Dropout's finding side (seeds 003 and 004).

OBEC found the children to look for by comparing each term's enrolment count with the
next and by following the transition grades. The same here, by child (``person_id``, so
a move to another school is never a missing child): every child enrolled in a term and
enrolled nowhere in the next, once their school's next term is loaded, and every P6 or M3
pupil of a year's second term enrolled nowhere the next year, becomes a case of their
last school (enrolled at two schools in the term, the one that last marked them at
school), unless an exit explains it (a transfer, a death, a graduation from a final
grade; a P6 or M3 graduation is a transition: the child must enrol again). A child found
enrolled anywhere later closes their case by themselves: ``enrolled_elsewhere`` at
another school, ``returned`` at the same one. Cases are worked out again for the
children of every load, and what staff recorded (status, owner, reason, agency) is kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import clock
from schooldata.identity import (
    ChildrenRecords,
    DaysOf,
    children_records,
    chunks,
    present_days,
    superseded,
)

# What staff set while a case is open, in the order a case moves through them.
OPEN_STATUSES = ("not_followed", "following", "found_returning", "found_referred")
# What staff set to end a case: found studying at a school outside these records (a
# transfer), or looked for and not found (forwarded to the ministry and its partners).
STAFF_CLOSED = ("found_enrolled", "not_found")
STAFF_STATUSES = (*OPEN_STATUSES, *STAFF_CLOSED)
# What only the records set: enrolled again at another school or the same one, an exit
# recorded since that explains the absence, or the child's enrolment of the very term
# they were looked for in, at the same school, sent later (a school sending its term
# room by room): never missing.
DATA_CLOSED = ("enrolled_elsewhere", "returned", "explained", "not_missing")
# Closed cases of nobody to find: not counted among the children to find at all.
NOBODY_TO_FIND = ("explained", "not_missing")
STATUSES = (*STAFF_STATUSES, *DATA_CLOSED)
# The area office follows these by name with the ministry and its partner agencies.
REFERRED_OUTSIDE = ("found_referred", "not_found")
# Found back in school, here or elsewhere (``found_returning``: on their way back).
BACK_IN_SCHOOL = ("found_returning", "returned", "enrolled_elsewhere", "found_enrolled")
FOUND = (*BACK_IN_SCHOOL, "found_referred")
# What a settled case says of the child's leaving, for the labels: a move is no dropout.
TRANSFERS = ("enrolled_elsewhere", "found_enrolled")
CONFIRMED_DROPOUTS = ("not_found", "found_referred")
# The help a found child needs (seed 002 asks for it by province).
HELP = (
    "money",
    "transport",
    "learning",
    "health",
    "family",
    "documents",
    "flexible_schooling",
    "work_skills",
    "other",
)
TRANSITION_GRADES = ("P6", "M3")
# Where a transition leads: P6 to M1, M3 to M4 or the first vocational year.
NEXT_GRADES = {"P6": ("M1",), "M3": ("M4", "V1")}
# A last grade of a course: finishing it in a second term is no reason to look for anyone.
FINAL_GRADES = ("M6", "V3", "H2")
EXPLAINED_EXITS = ("transfer", "deceased")
CASE_COLUMNS = [
    "person_id",
    "school_id",
    "student_id",
    "kind",
    "grade_level",
    "last_year",
    "last_term",
    "expected_year",
    "expected_term",
    "opened_on",
    "resolved",  # None, or the closed status the records give the case
    "found_school_id",
    "found_on",
]


def _transitions_counted(
    loaded: set[tuple[str, int]], taught: set[tuple[str, int, str]]
) -> Callable[[str, int], bool]:
    """Whether the new year (``ordinal``) of a transition from ``grade`` is counted: every
    school that taught a next grade in the year before has sent its enrolments."""

    @functools.cache
    def ready(grade: str, ordinal: int) -> bool:  # a handful of (grade, year) pairs a load
        year_before = (ordinal - 2, ordinal - 1)
        takers = {s for s, o, g in taught if o in year_before and g in NEXT_GRADES[grade]}
        return all((school, ordinal) in loaded for school in takers)

    return ready


def missing_children(
    enrollments: pd.DataFrame,
    exits: pd.DataFrame,
    terms: pd.DataFrame,
    loaded: set[tuple[str, int]] | None = None,
    taught: set[tuple[str, int, str]] | None = None,
) -> pd.DataFrame:
    """Every case the records make, open or already closed by a later enrolment.

    Args:
        enrollments: ``school_id, student_id, person_id, academic_year, term,
            grade_level`` of the children concerned (every school they were at), and
            ``last_marked`` where a child was enrolled at two schools in a term
            (``with_last_marked``).
        exits: ``person_id, exit_date, exit_type`` of the same children.
        terms: ``academic_year, term, start_date`` (the calendar every school keeps).
        loaded: the (school, term as ``academic_year * 2 + term``) whose enrolments are
            loaded (default: those of ``enrollments``): a school's children are looked
            for in a term only once the school has sent that term's enrolments.
        taught: the (school, term, grade) of every school's enrolments of the grades a
            transition leads to (``NEXT_GRADES``): a P6 or M3 graduate is looked for
            once every school that taught the next grade the year before has sent the
            new year, not when the first school (their own primary school) has.

    Returns:
        ``CASE_COLUMNS``, a row per child and term they were not at school.
    """
    if enrollments.empty:
        return pd.DataFrame(columns=CASE_COLUMNS)
    start = {
        int(y) * 2 + int(t): pd.Timestamp(d).date()
        for y, t, d in terms[["academic_year", "term", "start_date"]].itertuples(index=False)
    }
    spells = enrollments.assign(
        ordinal=enrollments["academic_year"].astype(int) * 2 + enrollments["term"].astype(int)
    )
    # A child enrolled at two schools in one term: at the school that last marked them at
    # school in it (``last_marked``), else the one whose code sorts last.
    order = [
        "person_id",
        "ordinal",
        *(["last_marked"] if "last_marked" in spells else []),
        "school_id",
    ]
    spells = spells.sort_values(order, kind="stable", na_position="first")
    spells = spells.drop_duplicates(["person_id", "ordinal"], keep="last").reset_index(drop=True)
    if loaded is None:
        loaded = set(zip(spells["school_id"], spells["ordinal"], strict=True))
    loaded_anywhere = {ordinal for _, ordinal in loaded}
    ready = _transitions_counted(loaded, taught or set())
    following = spells.groupby("person_id", sort=False)["ordinal"].shift(-1)
    gap = following.isna() | (following > spells["ordinal"] + 1)
    level = spells["grade_level"].astype(str)
    second_term = spells["term"].astype(int) == 2
    transition = level.isin(TRANSITION_GRADES) & second_term
    finished = level.isin(FINAL_GRADES) & second_term
    # A school's next term is loaded; a transition's child may enrol at any school, so
    # every school that takes the next grade has sent the new year.
    counted = np.array(
        [
            (school, ordinal + 1) in loaded
            if not t
            else ordinal + 1 in loaded_anywhere and ready(level, ordinal + 1)
            for school, ordinal, t, level in zip(
                spells["school_id"], spells["ordinal"], transition, level, strict=True
            )
        ],
        dtype=bool,
    )
    candidates = spells[(gap & ~finished).to_numpy() & counted]
    if candidates.empty:
        return pd.DataFrame(columns=CASE_COLUMNS)
    # The records of the children with a gap only: a frame per child costs.
    gapped = set(candidates["person_id"])
    dated = exits.loc[exits["person_id"].isin(gapped).to_numpy()]
    dated = dated.assign(exit_date=pd.to_datetime(dated["exit_date"]))
    exits_of = dict(tuple(dated.groupby("person_id", sort=False)))
    theirs_only = spells.loc[spells["person_id"].isin(gapped).to_numpy()]
    spells_of = dict(tuple(theirs_only.groupby("person_id", sort=False)))
    rows = []
    for row in candidates.itertuples(index=False):
        ordinal = int(row.ordinal)
        kind = "transition" if row.grade_level in TRANSITION_GRADES and row.term == 2 else "left"
        theirs = exits_of.get(row.person_id)
        explained = False
        if theirs is not None:
            since = theirs[theirs["exit_date"] >= pd.Timestamp(start.get(ordinal, date.min))]
            explained = bool(since["exit_type"].isin(EXPLAINED_EXITS).any()) or (
                kind == "left" and bool((since["exit_type"] == "graduated").any())
            )
        later = spells_of[row.person_id]
        later = later[later["ordinal"] > ordinal + 1]
        resolved, found_school, found_on = None, None, None
        if len(later):
            back = later.iloc[0]
            found_school = str(back["school_id"])
            found_on = start.get(int(back["ordinal"]))
            resolved = "returned" if found_school == row.school_id else "enrolled_elsewhere"
        elif explained:
            continue  # an exit explains the absence: nobody to look for
        expected_year, expected_term = year_and_term(ordinal + 1)
        rows.append(
            {
                "person_id": row.person_id,
                "school_id": row.school_id,
                "student_id": row.student_id,
                "kind": kind,
                "grade_level": row.grade_level,
                "last_year": int(row.academic_year),
                "last_term": int(row.term),
                "expected_year": expected_year,
                "expected_term": expected_term,
                "opened_on": start.get(ordinal + 1),
                "resolved": resolved,
                "found_school_id": found_school,
                "found_on": found_on,
            }
        )
    return pd.DataFrame(rows, columns=CASE_COLUMNS)


def year_and_term(ordinal: int) -> tuple[int, int]:
    """A term's academic year and number from ``academic_year * 2 + term``."""
    return (ordinal - 1) // 2, 2 - ordinal % 2


def with_last_marked(
    connection: sa.Connection, enrollments: pd.DataFrame, days: DaysOf = present_days
) -> pd.DataFrame:
    """The enrolments with, where a child was enrolled at two schools in one term, the
    last day of the term each school marked them at school (``last_marked``; NaT where
    none, and for every other child).

    Args:
        enrollments: ``children_records``' (with each term's start and end).
        days: the days some students were marked at school (``present_days``: the
            database's attendance; a Parquet dataset's is read by the load's own).
    """
    twice = enrollments.duplicated(["person_id", "academic_year", "term"], keep=False)
    term = ["school_id", "student_id", "academic_year", "term"]
    if not twice.any():
        return enrollments.assign(last_marked=pd.Series(pd.NaT, index=enrollments.index))
    theirs = enrollments.loc[twice.to_numpy(), [*term, "term_start", "term_end"]]
    marked = days(connection, theirs[["school_id", "student_id"]].drop_duplicates())
    inside = theirs.merge(marked, on=["school_id", "student_id"])
    inside = inside.loc[
        (inside["date"] >= pd.to_datetime(inside["term_start"]))
        & (inside["date"] <= pd.to_datetime(inside["term_end"]))
    ]
    last = inside.groupby(term)["date"].max().rename("last_marked").reset_index()
    return enrollments.merge(last, on=term, how="left")


def store_missing(
    connection: sa.Connection, persons: Iterable[str] | None = None, days: DaysOf = present_days
) -> int:
    """Work out the cases of these children (every child when None) again and bring the
    stored worklist in line: a new case opens as ``not_followed`` (or closed, when a later
    enrolment already found the child); a case whose child is found enrolled closes by
    itself; a case the records no longer make (a late enrolment or exit file) closes as
    ``explained`` or as the enrolment found. What staff recorded is kept. ``days``: as
    ``with_last_marked``.

    Returns the number of cases opened.
    """
    from schooldata.tables import TABLES, missing_cases

    wanted = None if persons is None else sorted(set(persons))
    records = children_records(connection, wanted)
    if records is None:
        return 0
    enrolled = TABLES["enrollments"]
    # Every school's terms loaded so far, whoever's children this load is about, and the
    # grades a transition leads to that each school taught.
    held = [
        (str(school), int(year) * 2 + int(term), str(grade))
        for school, year, term, grade in connection.execute(
            sa.select(
                enrolled.c.school_id,
                enrolled.c.academic_year,
                enrolled.c.term,
                enrolled.c.grade_level,
            ).distinct()
        )
    ]
    loaded = {(school, ordinal) for school, ordinal, _ in held}
    next_grades = {g for grades in NEXT_GRADES.values() for g in grades}
    taught = {row for row in held if row[2] in next_grades}
    enrollments = with_last_marked(connection, records.enrollments, days)
    computed = missing_children(enrollments, records.exits, records.terms, loaded, taught)
    stored = _stored(connection, wanted)
    key = ["person_id", "expected_year", "expected_term"]
    merged = computed.merge(stored, on=key, how="outer", indicator=True)
    merged = merged.astype(object).where(merged.notna(), None)
    today = clock.today()
    opened = 0
    for record in merged.to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        if row["_merge"] == "left_only":
            connection.execute(sa.insert(missing_cases).values(**_new_case(row, today)))
            opened += 1
        elif row["status"] in DATA_CLOSED:
            continue
        elif row["_merge"] == "right_only":
            # Not missing after all: enrolled that term (a later file), or explained.
            status, school, found_on = _found_since(records, row)
            _close(
                connection,
                int(row["case_id"]),
                status,
                school,
                found_on=found_on,
                closed_on=found_on or today,
            )
        elif row["resolved"] is not None:
            found_on = _date(row["found_on"]) or today
            _close(
                connection,
                int(row["case_id"]),
                row["resolved"],
                row["found_school_id"],
                found_on=found_on,
                closed_on=found_on,
            )
    return opened


def follow_new_keys(connection: sa.Connection) -> set[str]:
    """Cases and returns follow their child when the child's key changes (their ID came
    after them, was corrected, or is found shared by mistake): a case is the same case,
    with what staff recorded on it, under the new key. Where the new key already has a
    case for the same term (one opened before this rule), the two become one: the one
    staff worked on (else the older) is kept, with the notes of both.

    Returns the old and new keys, whose cases and returns are to be worked out again."""
    from schooldata.tables import missing_case_notes, missing_cases, student_returns

    keys: set[str] = set()
    for case in superseded(connection, missing_cases):
        keys |= {case["person_id"], case["now"]}
        other = (
            connection.execute(
                sa.select(missing_cases).where(
                    missing_cases.c.person_id == case["now"],
                    missing_cases.c.expected_year == case["expected_year"],
                    missing_cases.c.expected_term == case["expected_term"],
                )
            )
            .mappings()
            .first()
        )
        kept = case["case_id"]
        if other is not None:
            both = sorted(
                [dict(other), case], key=lambda c: (not _worked(connection, c), c["case_id"])
            )
            kept, dropped = both[0]["case_id"], both[1]["case_id"]
            connection.execute(
                sa.update(missing_case_notes)
                .where(missing_case_notes.c.case_id == dropped)
                .values(case_id=kept)
            )
            connection.execute(sa.delete(missing_cases).where(missing_cases.c.case_id == dropped))
        connection.execute(
            sa.update(missing_cases)
            .where(missing_cases.c.case_id == kept)
            .values(person_id=case["now"])
        )
    for returned in superseded(connection, student_returns):
        keys |= {returned["person_id"], returned["now"]}
    return keys


def _worked(connection: sa.Connection, case: dict[str, Any]) -> bool:
    """Whether staff recorded anything on a case: a status, an owner, a note."""
    from schooldata.tables import missing_case_notes as notes

    if case["status"] in STAFF_STATUSES and case["status"] != "not_followed":
        return True
    if case["owner_user_id"] is not None:
        return True
    return bool(
        connection.execute(
            sa.select(sa.func.count()).where(notes.c.case_id == case["case_id"])
        ).scalar_one()
    )


# A load that leaves at least this many of a term's children, and this share of them,
# enrolled nowhere mid-way has more likely lost their codes (a school numbering its
# students anew, one room's list sent as the whole school's) than lost the children.
SURGE_CHILDREN = 10
SURGE_SHARE = 0.2


@dataclass(frozen=True)
class Surge:
    """A school of whose term's children one load opened a large share of cases."""

    school_id: str
    year: int
    term: int
    opened: int
    enrolled: int

    def warning(self) -> str:
        return (
            f"{self.school_id}: {self.opened} of the {self.enrolled} children of term "
            f"{self.term}/{self.year} are enrolled nowhere now and became children to find. "
            "If the school gave its students new codes, send the students file with each "
            "child's national ID (the same ID is the same child, and their cases close by "
            "themselves); if a file holds only part of the school, send the rest, or undo "
            "the upload"
        )


def last_case_id(connection: sa.Connection) -> int:
    """The newest case's id (0 for none): the cases a load opens come after it."""
    from schooldata.tables import missing_cases

    return int(connection.execute(sa.select(sa.func.max(missing_cases.c.case_id))).scalar() or 0)


def surges(connection: sa.Connection, after: int) -> list[Surge]:
    """The schools' terms of which the cases opened after case ``after`` hold at least
    ``SURGE_CHILDREN`` children and ``SURGE_SHARE`` of the term's count, leaving mid-way
    (a transition grade's leavers are many by nature, and not counted here)."""
    from schooldata.tables import TABLES, missing_cases

    cases = missing_cases
    opened = connection.execute(
        sa.select(cases.c.school_id, cases.c.last_year, cases.c.last_term, sa.func.count())
        .where(cases.c.case_id > after, cases.c.kind == "left", cases.c.closed_on.is_(None))
        .group_by(cases.c.school_id, cases.c.last_year, cases.c.last_term)
        .having(sa.func.count() >= SURGE_CHILDREN)
    ).all()
    enrollments = TABLES["enrollments"]
    found = []
    for school, year, term, count in opened:
        enrolled = connection.execute(
            sa.select(sa.func.count()).where(
                enrollments.c.school_id == school,
                enrollments.c.academic_year == year,
                enrollments.c.term == term,
            )
        ).scalar_one()
        if count >= SURGE_SHARE * enrolled:
            found.append(Surge(str(school), int(year), int(term), int(count), int(enrolled)))
    return found


def _new_case(row: dict[str, Any], today: date) -> dict[str, Any]:
    closed = row["resolved"] is not None
    values = {
        name: row[name]
        for name in (
            "person_id",
            "school_id",
            "student_id",
            "kind",
            "grade_level",
            "opened_on",
        )
    }
    values |= {
        name: int(row[name])
        for name in ("last_year", "last_term", "expected_year", "expected_term")
    }
    if not closed:
        return values | {"status": "not_followed", "status_on": row["opened_on"]}
    found_on = _date(row["found_on"])
    return values | {
        "status": row["resolved"],
        "status_on": found_on or today,
        "found_school_id": row["found_school_id"],
        "found_on": found_on,
        "closed_on": found_on or today,
    }


def _found_since(
    records: ChildrenRecords, case: dict[str, Any]
) -> tuple[str, str | None, date | None]:
    """How a case the records no longer make ends: the child's first enrolment from the
    term they were looked for in (at their case's school: ``not_missing`` in that very
    term, ``returned`` later; elsewhere: ``enrolled_elsewhere``), else ``explained`` (an
    exit recorded since)."""
    enrollments = records.enrollments
    theirs = enrollments[enrollments["person_id"] == case["person_id"]]
    ordinal = theirs["academic_year"].astype(int) * 2 + theirs["term"].astype(int)
    since = theirs.assign(ordinal=ordinal)
    since = since[since["ordinal"] >= int(case["expected_year"]) * 2 + int(case["expected_term"])]
    if since.empty:
        return "explained", None, None
    first = since.sort_values("ordinal").iloc[0]
    if first["school_id"] != case["school_stored"]:
        return "enrolled_elsewhere", str(first["school_id"]), _date(first["term_start"])
    expected = int(case["expected_year"]) * 2 + int(case["expected_term"])
    status = "not_missing" if first["ordinal"] == expected else "returned"
    return status, str(first["school_id"]), _date(first["term_start"])


def _date(value: Any) -> date | None:
    if value is None or (not isinstance(value, date) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def _close(
    connection: sa.Connection,
    case_id: int,
    status: str,
    school: str | None,
    *,
    found_on: date | None,
    closed_on: date,
) -> None:
    from schooldata.tables import missing_cases as table

    connection.execute(
        sa.update(table)
        .where(table.c.case_id == case_id)
        .values(
            status=status,
            status_on=closed_on,
            found_school_id=school,
            found_on=found_on,
            closed_on=closed_on,
        )
    )


def _stored(connection: sa.Connection, persons: list[str] | None) -> pd.DataFrame:
    """The stored cases of these children: their keys, id, status and school."""
    from schooldata.tables import missing_cases as table

    columns = [
        "person_id",
        "expected_year",
        "expected_term",
        "case_id",
        "status",
        "school_stored",
    ]
    query = sa.select(
        table.c.person_id,
        table.c.expected_year,
        table.c.expected_term,
        table.c.case_id,
        table.c.status,
        table.c.school_id.label("school_stored"),
    )
    frames = [
        pd.DataFrame(
            connection.execute(
                query if chunk is None else query.where(table.c.person_id.in_(chunk))
            ).all(),
            columns=columns,
        )
        for chunk in chunks(persons)
    ]
    return pd.concat(frames, ignore_index=True)


def settled_findings(connection: sa.Connection) -> tuple[tuple[str, int, int, str], ...]:
    """What the worklist settled about each child who was not at school in a term, for
    the labels: ``(person_id, academic_year, term, "transfer" | "dropout")``. Found
    enrolled at another school (in these records or outside them) is a transfer; not
    found, or found and referred to an agency, is a confirmed dropout."""
    from schooldata.tables import missing_cases as table

    settled = (*TRANSFERS, *CONFIRMED_DROPOUTS)
    rows = connection.execute(
        sa.select(table.c.person_id, table.c.expected_year, table.c.expected_term, table.c.status)
        .where(table.c.status.in_(settled))
        .order_by(table.c.case_id)
    ).all()
    return tuple(
        (str(p), int(y), int(t), "transfer" if s in TRANSFERS else "dropout") for p, y, t, s in rows
    )
