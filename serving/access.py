"""Need-to-know scopes, and the audit of every read of a student's record.

An advisor sees only the students they advise now: their school and their advisor code
together (two schools may use the same code). A committee member sees their school's
students. A student who transferred out (a later enrolment elsewhere, or a transfer
exit after their last enrolment) is in nobody's scope at the old school. An analyst sees
the model and aggregate data, an admin accounts: no student. A student outside the
caller's scope is reported exactly like a student that does not exist.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from schooldata import audit
from schooldata.calendar import Calendar
from schooldata.db import among_parameter, read_table, reading
from schooldata.tables import TABLES
from serving.accounts import User

Placement = tuple[str, str | None]  # school, advisor code


def current_placement(
    bind: sa.Engine | sa.Connection, student_ids: Sequence[str]
) -> dict[str, Placement]:
    """Each student's school and advisor from their latest enrolment, unless they left
    that school by transfer since (``bind``: a page's connection, or the engine)."""
    if isinstance(bind, sa.Engine):
        with reading(bind) as connection:
            return current_placement(connection, student_ids)
    ids = list(student_ids)
    placement: dict[str, Placement] = {}
    starts: dict[str, tuple[int, int]] = {}
    transferred: dict[str, Any] = {}  # each student's latest transfer exit, if any
    query = _placement_query(bind.dialect.name)
    for start in range(0, len(ids), 5000):
        rows = bind.execute(query, {"ids": ids[start : start + 5000]})
        for student, school, advisor, year, term, transfer in rows:
            placement[student] = (school, advisor)
            starts[student] = (year, term)
            if transfer is not None:
                transferred[student] = transfer
    if transferred:
        began = _term_starts(
            bind.engine, {s: (placement[s][0], *starts[s]) for s in transferred if s in placement}
        )
        for student_id, exit_date in transferred.items():
            # Left by transfer once the latest enrolment began: no longer at that school.
            term_start = began.get(student_id)
            if term_start is not None and pd.Timestamp(exit_date) >= term_start:
                placement.pop(student_id, None)
    return placement


@functools.cache
def _placement_query(dialect: str) -> sa.Select[Any]:
    """The enrolments of the students ``:ids``, oldest first, each with the student's
    latest transfer exit (built once a dialect: a list asks it on every request)."""
    enrollments, exits = TABLES["enrollments"], TABLES["exits"]
    latest_transfer = (
        sa.select(sa.func.max(exits.c.exit_date))
        .where((exits.c.student_id == enrollments.c.student_id) & (exits.c.exit_type == "transfer"))
        .scalar_subquery()
    )
    return (
        sa.select(
            enrollments.c.student_id,
            enrollments.c.school_id,
            enrollments.c.advisor_id,
            enrollments.c.academic_year,
            enrollments.c.term,
            latest_transfer,
        )
        .where(among_parameter(dialect, enrollments.c.student_id, "ids"))
        .order_by(enrollments.c.academic_year, enrollments.c.term)
    )


def _term_starts(
    engine: sa.Engine, terms: dict[str, tuple[str, int, int]]
) -> dict[str, pd.Timestamp]:
    """The first day of each student's (school, year, term), from the calendar."""
    years = {year for _, year, _ in terms.values()}
    calendar = Calendar.build(read_table(engine, "calendar"), years)
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
    bind: sa.Engine | sa.Connection, user: User, student_ids: Sequence[str]
) -> list[str]:
    """The given students this user may see now (unknown ones are simply absent)."""
    if not user.sees_students:
        return []
    placement = current_placement(bind, student_ids)
    return [s for s in student_ids if s in placement and in_scope(user, *placement[s])]


def reads(
    user: User, student_ids: Sequence[str], endpoint: str, action: str = "read"
) -> list[audit.Entry]:
    """Audit entries of a user reading (or downloading) these students' records."""
    return [audit.Entry(action, endpoint, user.user_id, s) for s in student_ids]


def record_reads(
    engine: sa.Engine, user: User, student_ids: Sequence[str], endpoint: str, action: str = "read"
) -> None:
    """Append who read which student's record, when, and where."""
    audit.record(engine, reads(user, student_ids, endpoint, action))


def record_denial(
    engine: sa.Engine, user: User | None, student_id: str | None, endpoint: str
) -> None:
    """A request for a record outside the caller's scope (or that does not exist)."""
    audit.record(
        engine,
        [
            audit.Entry(
                "denied",
                endpoint,
                user.user_id if user else None,
                student_id[:64] if student_id else None,
            )
        ],
    )
