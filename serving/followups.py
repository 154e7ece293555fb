"""What a school follows of its children across schools: the children who came back
after leaving (followed for some terms whatever their risk), and a moved child's records
at the schools they were at before, which the area office may let the new school see.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from features.attendance import ABSENT
from features.grades import NUMERIC_GRADES
from schooldata import audit
from schooldata.calendar import term_on
from schooldata.db import among, among_students, keyed_insert, reading
from schooldata.identity import person_of
from schooldata.tables import TABLES, history_grants, student_returns, student_scores
from serving import store
from serving.access import StudentKey, record_reads, visible_students
from serving.accounts import Caller, User
from serving.records import (
    FOLLOW_RETURNED_TERMS,
    InvalidInput,
    NotVisible,
    interventions_at,
    names_of,
    require_student,
)
from serving.schemas import ListedElsewhere, ReturnedStudent
from serving.school_path import schools_before


def returned_followups(
    engine: sa.Engine,
    caller: Caller,
    *,
    follow_terms: int = FOLLOW_RETURNED_TERMS,
) -> list[ReturnedStudent]:
    """The caller's children who came back to school after leaving, within the last
    ``follow_terms`` terms, with this week's risk where they have one: followed whatever
    their risk. Returns nothing to a caller who sees no student."""
    if not caller.user.sees_students or not caller.user.school_id:
        return []
    enrolled = TABLES["enrollments"]
    with reading(engine) as connection:
        latest = connection.execute(
            sa.select(sa.func.max(enrolled.c.academic_year * 2 + enrolled.c.term)).where(
                enrolled.c.school_id == caller.user.school_id
            )
        ).scalar()
        if latest is None:
            return []
        found = connection.execute(
            sa.select(student_returns)
            .where(
                (student_returns.c.school_id == caller.user.school_id)
                & (
                    student_returns.c.academic_year * 2 + student_returns.c.term
                    > int(latest) - follow_terms
                )
            )
            .order_by(student_returns.c.returned_on.desc())
        ).all()
        latest_return: dict[StudentKey, Any] = {}
        for r in found:
            latest_return.setdefault(StudentKey(r.school_id, r.student_id), r)
        if not latest_return:  # nobody came back: nothing more to read (or record)
            return []
        keys = visible_students(connection, caller.user, list(latest_return))
        names = names_of(connection, keys)
        run = store.latest_run(connection)
        scored: dict[StudentKey, Any] = {}
        classes = _classrooms(connection, keys)
        if run is not None and keys:
            scored = {
                StudentKey(r.school_id, r.student_id): r
                for r in connection.execute(
                    sa.select(
                        student_scores.c.school_id,
                        student_scores.c.student_id,
                        student_scores.c.risk,
                        student_scores.c.tier,
                    ).where(
                        (student_scores.c.run_id == run.run_id)
                        & among_students(
                            connection,
                            student_scores.c.school_id,
                            student_scores.c.student_id,
                            keys,
                        )
                    )
                )
            }
    record_reads(engine, caller, keys)
    return [
        ReturnedStudent(
            school_id=key.school_id,
            student_id=key.student_id,
            name=names.get(key),
            classroom=classes.get(key),
            returned_on=latest_return[key].returned_on,
            left_on=latest_return[key].left_on,
            from_other_school=latest_return[key].left_school_id != key.school_id,
            left_again_on=latest_return[key].left_again_on,
            risk=scored[key].risk if key in scored else None,
            tier=scored[key].tier if key in scored else None,
        )
        for key in keys
    ]


def listed_elsewhere(engine: sa.Engine, caller: Caller) -> list[ListedElsewhere]:
    """The caller's students enrolled in the term of this week's list whom the list
    places at another school: the same child (by their ID) is enrolled there too, and
    was marked at school there this term and not yet here (the weekly population keeps a
    child enrolled at two schools where they were last at school). Either the child
    moved and this school has not marked them yet, or one of the two schools gave them
    another child's ID. Nothing of the other school is told. Returns nothing to a caller
    who sees no student."""
    school = caller.user.school_id
    if not caller.user.sees_students or not school:
        return []
    with reading(engine) as connection:
        run = store.latest_run(connection)
        if run is None:
            return []
        current = term_on(connection, school, run.as_of)
        if current is None:
            return []
        year, term = current
        missing = _not_on_list(connection, run.run_id, school, year, term)
        elsewhere = _on_list_elsewhere(connection, run.run_id, school, set(missing.values()))
        rows = [r for r, child in missing.items() if child in elsewhere]
        keys = visible_students(connection, caller.user, [StudentKey(school, r[0]) for r in rows])
        names = names_of(connection, keys)
    record_reads(engine, caller, keys)
    classes = {StudentKey(school, code): classroom for code, classroom in rows}
    return [
        ListedElsewhere(
            school_id=k.school_id,
            student_id=k.student_id,
            name=names.get(k),
            classroom=classes.get(k),
        )
        for k in keys
    ]


# Each helper below reads by an index and compares here: a planner that misjudges one
# statement joining them compares every pair (PostgreSQL took 92 ms for a school of 1,000
# in ``make bench-pages``).


def _not_on_list(
    connection: sa.Connection, run_id: int, school: str, year: int, term: int
) -> dict[tuple[str, str | None], str]:
    """The school's students enrolled in the term who are not on the run's list: each
    (code, classroom) in classroom order, with their child (``person_id``)."""
    enrolled, students = TABLES["enrollments"], TABLES["students"]
    listed = set(
        connection.execute(
            sa.select(student_scores.c.student_id).where(
                (student_scores.c.run_id == run_id) & (student_scores.c.school_id == school)
            )
        ).scalars()
    )
    term_rows = connection.execute(
        sa.select(enrolled.c.student_id, enrolled.c.classroom).where(
            (enrolled.c.school_id == school)
            & (enrolled.c.academic_year == year)
            & (enrolled.c.term == term)
        )
    ).all()
    missing = sorted(
        ((str(code), room) for code, room in term_rows if code not in listed),
        key=lambda row: (row[1] or "", row[0]),
    )
    if not missing:
        return {}
    child = dict(
        connection.execute(
            sa.select(students.c.student_id, students.c.person_id).where(
                (students.c.school_id == school)
                & among(connection, students.c.student_id, [code for code, _ in missing])
            )
        ).all()
    )
    return {row: str(child[row[0]]) for row in missing if row[0] in child}


def _on_list_elsewhere(
    connection: sa.Connection, run_id: int, school: str, persons: set[str]
) -> set[str]:
    """Which of these children the run's list has as a student of another school."""
    if not persons:
        return set()
    students = TABLES["students"]
    others = connection.execute(
        sa.select(students.c.school_id, students.c.student_id, students.c.person_id).where(
            (students.c.school_id != school)
            & among(connection, students.c.person_id, sorted(persons))
        )
    ).all()
    if not others:
        return set()
    statement = sa.select(student_scores.c.school_id, student_scores.c.student_id).where(
        (student_scores.c.run_id == run_id)
        & among_students(
            connection,
            student_scores.c.school_id,
            student_scores.c.student_id,
            ((o.school_id, o.student_id) for o in others),
        )
    )
    listed = {(str(school_id), str(code)) for school_id, code in connection.execute(statement)}
    return {o.person_id for o in others if (o.school_id, o.student_id) in listed}


def advisors_following_returned(
    connection: sa.Connection, run: Any, *, follow_terms: int = FOLLOW_RETURNED_TERMS
) -> list[tuple[str, str | None, int]]:
    """The (school, advisor) pairs of a run's list who follow children who came back to
    school in about the last ``follow_terms`` terms (half a year each), and how many each,
    most first."""
    since = run.as_of - timedelta(days=182 * follow_terms)
    rows = connection.execute(
        sa.select(student_scores.c.school_id, student_scores.c.advisor_id, sa.func.count())
        .join(
            student_returns,
            (student_returns.c.school_id == student_scores.c.school_id)
            & (student_returns.c.student_id == student_scores.c.student_id),
        )
        .where((student_scores.c.run_id == run.run_id) & (student_returns.c.returned_on >= since))
        .group_by(student_scores.c.school_id, student_scores.c.advisor_id)
        .order_by(sa.func.count().desc(), student_scores.c.school_id)
    ).all()
    return [(str(school), advisor, int(count)) for school, advisor, count in rows]


def _classrooms(connection: sa.Connection, keys: Sequence[StudentKey]) -> dict[StudentKey, str]:
    """Each student's classroom in their latest enrolment."""
    enrolled = TABLES["enrollments"]
    rows = connection.execute(
        sa.select(enrolled.c.school_id, enrolled.c.student_id, enrolled.c.classroom)
        .where(among_students(connection, enrolled.c.school_id, enrolled.c.student_id, keys))
        .order_by(enrolled.c.academic_year, enrolled.c.term)
    ).all()
    return {StudentKey(r.school_id, r.student_id): r.classroom for r in rows if r.classroom}


def request_history(engine: sa.Engine, caller: Caller, student: StudentKey) -> None:
    """The student's school asks its area office to see the child's records from the
    schools they were at before (audited; nothing is shown until the area office grants
    it). A request waiting or granted already stays as it is (a second click, or two
    colleagues at once, write nothing more); a declined or revoked one is asked again."""
    require_student(engine, caller, student)
    with reading(engine) as connection:
        if not schools_before(connection, student):
            raise InvalidInput("this student was at no other school before")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    asked = {"requested_by": caller.user.user_id, "requested_at": now, "status": "requested"}
    with engine.begin() as connection:
        # One statement, so that two requests at once do not both insert (on PostgreSQL
        # the second broke the key: a 500); the row it returns says whether it wrote.
        written = connection.execute(
            keyed_insert(connection, history_grants)
            .values(school_id=student.school_id, student_id=student.student_id, **asked)
            .on_conflict_do_update(
                index_elements=[history_grants.c.school_id, history_grants.c.student_id],
                set_={**asked, "decided_by": None, "decided_at": None},
                where=history_grants.c.status.not_in(["requested", "granted"]),
            )
            .returning(history_grants.c.status)
        ).first()
        if written is None:
            return
        audit.append(
            connection,
            [
                audit.Entry(
                    "history_requested",
                    caller.route,
                    caller.user.user_id,
                    student.student_id,
                    school_id=student.school_id,
                )
            ],
        )


def history_requests(engine: sa.Engine, user: User) -> list[dict[str, Any]]:
    """The requests waiting for an area office, of the schools it follows: which school
    asks, when, and for a child from which schools (no name)."""
    if user.role != "area" or not user.schools:
        return []
    with reading(engine) as connection:
        rows = connection.execute(
            sa.select(history_grants)
            .where(
                (history_grants.c.status == "requested")
                & among(connection, history_grants.c.school_id, list(user.schools))
            )
            .order_by(history_grants.c.requested_at)
        ).all()
        return [
            {
                "school_id": r.school_id,
                "student_id": r.student_id,
                "requested_at": r.requested_at,
                "schools_before": schools_before(connection, StudentKey(r.school_id, r.student_id)),
            }
            for r in rows
        ]


def decide_history(engine: sa.Engine, caller: Caller, student: StudentKey, grant: bool) -> None:
    """An area office following the student's school grants or declines (or, granted,
    revokes: ``grant`` False) the school's view of the child's earlier records."""
    if caller.user.role != "area" or student.school_id not in caller.user.schools:
        raise NotVisible("no such request")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with engine.begin() as connection:
        found = connection.execute(
            sa.select(history_grants.c.status).where(_grant_of(student))
        ).first()
        if found is None:
            raise NotVisible("no such request")
        status = "granted" if grant else ("revoked" if found.status == "granted" else "declined")
        if status == found.status or (status == "declined" and found.status == "revoked"):
            return  # decided so already (a second click)
        # Only from the status read: of two decisions at once the second finds it changed.
        changed = connection.execute(
            sa.update(history_grants)
            .where(_grant_of(student) & (history_grants.c.status == found.status))
            .values(status=status, decided_by=caller.user.user_id, decided_at=now)
        ).rowcount
        if not changed:
            return
        audit.append(
            connection,
            [
                audit.Entry(
                    f"history_{status}",
                    caller.route,
                    caller.user.user_id,
                    student.student_id,
                    school_id=student.school_id,
                )
            ],
        )


def earlier_records(engine: sa.Engine, student: StudentKey) -> dict[str, Any]:
    """What the child's earlier schools recorded, where the area office granted it (the
    caller has checked the student is in the reader's scope): for
    each earlier school its terms (grade level and GPA), its attendance days and absences,
    and what it did for the child. Only ``status`` otherwise (where the request stands,
    None: never asked)."""
    with reading(engine) as connection:
        return _earlier(connection, student)


def _earlier(connection: sa.Connection, student: StudentKey) -> dict[str, Any]:
    status = connection.execute(
        sa.select(history_grants.c.status).where(_grant_of(student))
    ).scalar()
    if status != "granted":
        return {"status": status}
    students = TABLES["students"]
    me = person_of(student.school_id, student.student_id)
    earlier = connection.execute(
        sa.select(students.c.school_id, students.c.student_id).where(
            (students.c.person_id == me) & (students.c.school_id != student.school_id)
        )
    ).all()
    return {
        "status": status,
        "schools": [_records_at(connection, StudentKey(*e)) for e in earlier],
    }


def _records_at(connection: sa.Connection, student: StudentKey) -> dict[str, Any]:
    """One earlier school's summary of a child: terms with grade level and GPA, attendance
    days and absences, and the help it recorded."""
    tables = {name: TABLES[name] for name in ("enrollments", "attendance", "grades")}
    mine = {
        name: (table.c.school_id == student.school_id) & (table.c.student_id == student.student_id)
        for name, table in tables.items()
    }
    enrolled, attendance, grades = tables["enrollments"], tables["attendance"], tables["grades"]
    points: dict[tuple[int, int], list[float]] = {}
    for year, term, grade in connection.execute(
        sa.select(grades.c.academic_year, grades.c.term, grades.c.grade).where(mine["grades"])
    ):
        if grade in NUMERIC_GRADES:
            points.setdefault((int(year), int(term)), []).append(NUMERIC_GRADES[grade])
    terms = [
        {
            "academic_year": int(year),
            "term": int(term),
            "grade_level": level,
            "gpa": round(sum(p) / len(p), 2) if (p := points.get((int(year), int(term)))) else None,
        }
        for year, term, level in connection.execute(
            sa.select(enrolled.c.academic_year, enrolled.c.term, enrolled.c.grade_level)
            .where(mine["enrollments"])
            .order_by(enrolled.c.academic_year, enrolled.c.term)
        )
    ]
    marks: dict[str, int] = dict(
        connection.execute(
            sa.select(attendance.c.status, sa.func.count())
            .where(mine["attendance"])
            .group_by(attendance.c.status)
        ).all()
    )
    schools = TABLES["schools"]
    name = connection.execute(
        sa.select(schools.c.name).where(schools.c.school_id == student.school_id)
    ).scalar()
    return {
        "school_id": student.school_id,
        "name": name or student.school_id,
        "terms": terms,
        "attendance_days": int(sum(marks.values())),
        "absent_days": int(sum(n for k, n in marks.items() if k in ABSENT)),
        "interventions": [
            {"date": i.date, "type": i.type, "outcome": i.outcome}
            for i in interventions_at(connection, student)
            if not i.corrected
        ],
    }


def _grant_of(student: StudentKey) -> sa.ColumnElement[bool]:
    return (history_grants.c.school_id == student.school_id) & (
        history_grants.c.student_id == student.student_id
    )
