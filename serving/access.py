"""Need-to-know scopes, and the audit of every read of a student's record.

A student is a school and its own code (``StudentKey``): two schools may number
different children alike. An advisor sees only the students they advise now: their
school and their advisor code together. A committee member sees their school's
students. A student who left (a transfer exit after their last enrolment, or the same
child enrolled at another school later) is in nobody's scope at the old school: it sees
nothing new about the child. An analyst sees
the model and aggregate data, an admin accounts: no student. A student outside the
caller's scope is reported exactly like a student that does not exist.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import pandas as pd
import sqlalchemy as sa

from schooldata import audit
from schooldata.calendar import Calendar
from schooldata.db import among_parameter, among_students_parameter, reading, students_parameters
from schooldata.tables import TABLES
from serving.accounts import Caller, User

Placement = tuple[str, str | None]  # school, advisor code


class StudentKey(NamedTuple):
    """A school's student: the school and its own code (two schools may share codes)."""

    school_id: str
    student_id: str


def student_key(user: User, student_id: str, school_id: str | None = None) -> StudentKey:
    """The student a caller names by code: at the school given, else at the caller's own
    (a caller of no school names a student of none: nobody, as the scope check says)."""
    return StudentKey(school_id or user.school_id or "", student_id)


def current_placement(
    bind: sa.Engine | sa.Connection, students: Sequence[StudentKey]
) -> dict[StudentKey, Placement]:
    """Each student's school and advisor from their latest enrolment there, unless they
    left that school since: by a transfer exit, or by being enrolled at another school
    later (the same child, linked across schools). ``bind``: a page's connection, or the
    engine."""
    if isinstance(bind, sa.Engine):
        with reading(bind) as connection:
            return current_placement(connection, students)
    wanted = sorted(set(map(StudentKey._make, students)))
    placement: dict[StudentKey, Placement] = {}
    starts: dict[StudentKey, tuple[int, int]] = {}
    person: dict[StudentKey, str] = {}
    transferred: dict[StudentKey, Any] = {}  # each student's latest transfer exit, if any
    dialect = bind.dialect.name
    query = _placement_query(dialect)
    for start in range(0, len(wanted), 5000):
        rows = bind.execute(query, students_parameters(dialect, wanted[start : start + 5000]))
        for student, school, advisor, year, term, child, transfer in rows:
            key = StudentKey(school, student)
            placement[key] = (school, advisor)
            starts[key] = (year, term)
            person[key] = child
            if transfer is not None:
                transferred[key] = transfer
    # Enrolled at another school in a later term: the child moved (recorded or not).
    latest = _latest_elsewhere(bind, set(person.values()))
    for key, child in person.items():
        school, when = latest.get(child, (None, None))
        if when is not None and school != key.school_id and when > starts[key]:
            placement.pop(key, None)
    if transferred:
        began = _term_starts(
            bind.engine, {s: (placement[s][0], *starts[s]) for s in transferred if s in placement}
        )
        for key, exit_date in transferred.items():
            # Left by transfer once the latest enrolment began: no longer at that school.
            term_start = began.get(key)
            if term_start is not None and pd.Timestamp(exit_date) >= term_start:
                placement.pop(key, None)
    return placement


def _latest_elsewhere(
    connection: sa.Connection, persons: set[str]
) -> dict[str, tuple[str, tuple[int, int]]]:
    """Each child's latest enrolment (school, (year, term)) at any school."""
    latest: dict[str, tuple[str, tuple[int, int]]] = {}
    ids = sorted(persons)
    query = _persons_query(connection.dialect.name)
    for start in range(0, len(ids), 5000):
        for child, school, year, term in connection.execute(
            query, {"persons": ids[start : start + 5000]}
        ):
            when = (int(year), int(term))
            if child not in latest or when > latest[child][1]:
                latest[child] = (school, when)
    return latest


@functools.cache
def _persons_query(dialect: str) -> sa.Select[Any]:
    """The enrolments of every school's student of the children ``:persons``."""
    enrollments, students = TABLES["enrollments"], TABLES["students"]
    return (
        sa.select(
            students.c.person_id,
            enrollments.c.school_id,
            enrollments.c.academic_year,
            enrollments.c.term,
        )
        .select_from(
            enrollments.join(
                students,
                (students.c.school_id == enrollments.c.school_id)
                & (students.c.student_id == enrollments.c.student_id),
            )
        )
        .where(among_parameter(dialect, students.c.person_id, "persons"))
    )


@functools.cache
def _placement_query(dialect: str) -> sa.Select[Any]:
    """The enrolments of some students (``students_parameters``), oldest first,
    each with the student's child and latest transfer exit (built once a dialect: a list
    asks it on every request)."""
    enrollments, exits, students = TABLES["enrollments"], TABLES["exits"], TABLES["students"]
    latest_transfer = (
        sa.select(sa.func.max(exits.c.exit_date))
        .where(
            (exits.c.school_id == enrollments.c.school_id)
            & (exits.c.student_id == enrollments.c.student_id)
            & (exits.c.exit_type == "transfer")
        )
        .scalar_subquery()
    )
    return (
        sa.select(
            enrollments.c.student_id,
            enrollments.c.school_id,
            enrollments.c.advisor_id,
            enrollments.c.academic_year,
            enrollments.c.term,
            students.c.person_id,
            latest_transfer,
        )
        .select_from(
            enrollments.join(
                students,
                (students.c.school_id == enrollments.c.school_id)
                & (students.c.student_id == enrollments.c.student_id),
            )
        )
        .where(among_students_parameter(dialect, enrollments.c.school_id, enrollments.c.student_id))
        .order_by(enrollments.c.academic_year, enrollments.c.term)
    )


def _term_starts(
    engine: sa.Engine, terms: dict[StudentKey, tuple[str, int, int]]
) -> dict[StudentKey, pd.Timestamp]:
    """The first day of each student's (school, year, term), from the calendar."""
    years = {year for _, year, _ in terms.values()}
    calendar = Calendar.stored(engine, years)
    table = calendar.terms_for({school for school, _, _ in terms.values()})
    first = {
        (str(school), int(year), int(term)): pd.Timestamp(start)
        for school, year, term, start in zip(
            table["school_id"],
            table["academic_year"],
            table["term"],
            table["start_date"],
            strict=True,
        )
    }
    return {s: first[key] for s, key in terms.items() if key in first}


def in_scope(user: User, school_id: str, advisor_id: str | None) -> bool:
    if user.role == "advisor":
        return (
            advisor_id is not None and advisor_id == user.staff_id and school_id == user.school_id
        )
    if user.role == "committee":
        return school_id == user.school_id
    return False


def visible_students(
    bind: sa.Engine | sa.Connection, user: User, students: Sequence[StudentKey]
) -> list[StudentKey]:
    """The given students this user may see now (unknown ones are simply absent)."""
    if not user.sees_students:
        return []
    keys = [StudentKey._make(s) for s in students]
    placement = current_placement(bind, keys)
    return [s for s in keys if s in placement and in_scope(user, *placement[s])]


def reads(
    caller: Caller, students: Sequence[StudentKey], *, action: str = "read"
) -> list[audit.Entry]:
    """Audit entries of a user reading (or downloading) these students' records."""
    return [
        audit.Entry(action, caller.route, caller.user.user_id, s.student_id, school_id=s.school_id)
        for s in students
    ]


def record_reads(
    engine: sa.Engine,
    caller: Caller,
    students: Sequence[StudentKey],
    *,
    action: str = "read",
) -> None:
    """Append who read which student's record, when, and where."""
    audit.record(engine, reads(caller, students, action=action))


def record_write(engine: sa.Engine, caller: Caller, student: StudentKey, *, detail: str) -> None:
    """Append that a user changed something of this student's (what, in ``detail``)."""
    audit.record(
        engine,
        [
            audit.Entry(
                "write",
                caller.route,
                caller.user.user_id,
                student.student_id,
                detail=detail,
                school_id=student.school_id,
            )
        ],
    )


def record_denial(engine: sa.Engine, caller: Caller, student: StudentKey | None) -> None:
    """A request for a record outside the caller's scope (or that does not exist)."""
    audit.record(
        engine,
        [
            audit.Entry(
                "denied",
                caller.route,
                caller.user.user_id,
                student.student_id[:64] if student else None,
                school_id=student.school_id[:64] if student else None,
            )
        ],
    )
