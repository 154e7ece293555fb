"""A child's path across schools, as a school sees it: when they came back after leaving,
and which schools they were at before (``schooldata.identity`` links them). Only
enrolment terms are read of the other schools; their records stay theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from schooldata.db import among_students
from schooldata.identity import person_of
from schooldata.tables import TABLES, student_returns
from serving.access import StudentKey
from serving.schemas import ReturnedStudent


def returns_of(
    connection: sa.Connection, keys: Sequence[StudentKey], follow_terms: int
) -> dict[StudentKey, Any]:
    """The latest return of each of these students still within the follow-up terms: in
    one of the last ``follow_terms`` terms their school has enrolments for."""
    if not keys:
        return {}
    enrolled = TABLES["enrollments"]
    latest = (
        sa.select(sa.func.max(enrolled.c.academic_year * 2 + enrolled.c.term))
        .where(enrolled.c.school_id == student_returns.c.school_id)
        .scalar_subquery()
    )
    rows = connection.execute(
        sa.select(student_returns)
        .where(
            among_students(
                connection, student_returns.c.school_id, student_returns.c.student_id, keys
            )
            & (student_returns.c.academic_year * 2 + student_returns.c.term > latest - follow_terms)
        )
        .order_by(student_returns.c.returned_on)
    ).all()
    return {StudentKey(r.school_id, r.student_id): r for r in rows}


def returns_here(connection: sa.Connection, student: StudentKey) -> list[ReturnedStudent]:
    """Every time the student came back to this school, oldest first."""
    rows = connection.execute(
        sa.select(student_returns)
        .where(
            (student_returns.c.school_id == student.school_id)
            & (student_returns.c.student_id == student.student_id)
        )
        .order_by(student_returns.c.returned_on)
    ).all()
    return [
        ReturnedStudent(
            school_id=r.school_id,
            student_id=r.student_id,
            name=None,
            classroom=None,
            returned_on=r.returned_on,
            left_on=r.left_on,
            from_other_school=r.left_school_id != r.school_id,
            left_again_on=r.left_again_on,
            risk=None,
            tier=None,
        )
        for r in rows
    ]


def schools_before(connection: sa.Connection, student: StudentKey) -> list[str]:
    """The names (or IDs) of the other schools the child was a student of before their
    first term here: where their history comes from. No record of those schools is read
    here beyond their enrolment terms."""
    students, enrolled, schools = TABLES["students"], TABLES["enrollments"], TABLES["schools"]
    me = person_of(student.school_id, student.student_id)
    terms = connection.execute(
        sa.select(
            enrolled.c.school_id,
            sa.func.min(enrolled.c.academic_year * 2 + enrolled.c.term).label("first"),
            schools.c.name,
        )
        .select_from(
            enrolled.join(
                students,
                (students.c.school_id == enrolled.c.school_id)
                & (students.c.student_id == enrolled.c.student_id),
            ).outerjoin(schools, schools.c.school_id == enrolled.c.school_id)
        )
        .where(students.c.person_id == me)
        .group_by(enrolled.c.school_id, schools.c.name)
        .order_by(sa.text("first"))
    ).all()
    here = next((t.first for t in terms if t.school_id == student.school_id), None)
    return [
        t.name or t.school_id
        for t in terms
        if t.school_id != student.school_id and (here is None or t.first < here)
    ]
