"""From a flag to a followed case: a plan with an owner and a review date for a flagged
student, the steps taken (the student's interventions while the case is open), reviews,
notes (a protection or health note read only by its author and the committee chair),
what nobody has acted on, and whether the lists are used.

A case is opened by the student's advisor or a committee member of the school, from the
list, the student page or the home-visit plan; one case per student is open at a time,
and closed cases are kept. Every read of a case and of a restricted note, and every
change, is audited.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core import clock
from schooldata import audit
from schooldata.actions import in_force
from schooldata.contract import INTERVENTION_TYPES
from schooldata.db import reading
from schooldata.tables import (
    TABLES,
    case_events,
    case_notes,
    first_flags,
    last_actions,
    lists_opened,
    score_runs,
    student_scores,
    support_cases,
    users,
)
from serving.access import StudentKey, record_reads, record_write
from serving.accounts import Caller, User
from serving.once import Sent, first_time
from serving.records import InvalidInput, NotVisible, names_of, require_student
from serving.store import ON_A_LIST

REVIEW_EVERY_DAYS = 14
PLAN_WEEKS = 6
RESTRICTED = ("protection", "health")
CASE_OUTCOMES = ("back_on_track", "improving", "no_change", "referred", "left_school", "moved")


# The planned step a case starts from: the intervention the suggested step asks for.
STEP_ACTIONS = {
    "attendance": "phone_call",
    "poverty": "scholarship_referral",
    "grades": "tutoring",
    "screening": "counselling",
    "emotional": "counselling",
    "protection": "external_referral",
    "family": "parent_meeting",
    "new_school": "parent_meeting",
}


def planned_for(suggested_step_th: str | None) -> str:
    """The intervention type of a suggested step (its Thai text, as lists store it)."""
    from serving.reasons import STEPS

    for theme, (thai, _) in STEPS.items():
        if thai == suggested_step_th and theme in STEP_ACTIONS:
            return STEP_ACTIONS[theme]
    return "home_visit"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class Note:
    note_id: int
    author: str
    written_at: datetime
    text: str
    restricted: str | None
    in_brief: bool


@dataclass
class Case:
    """A student's case as the caller may read it."""

    case_id: int
    school_id: str
    student_id: str
    opened_on: date
    opened_by: str
    owner_user_id: int
    owner: str
    planned: str
    plan_text: str | None
    review_every_days: int
    ends_on: date
    next_review: date | None
    closed_on: date | None
    outcome: str | None
    events: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)  # interventions while open
    weeks: list[dict[str, Any]] = field(default_factory=list)  # risk and absence by week

    @property
    def open(self) -> bool:
        return self.closed_on is None

    def days_late(self, today: date) -> int | None:
        """How many days past its date the next review is (0: due today), or None when it
        is not due yet or the case is closed."""
        if not self.open or self.next_review is None or self.next_review > today:
            return None
        return (today - self.next_review).days


def _event(connection: sa.Connection, case_id: int, user: User, kind: str, detail: str) -> None:
    connection.execute(
        sa.insert(case_events).values(
            case_id=case_id, at=_now(), user_id=user.user_id, kind=kind, detail=detail
        )
    )


def _school_staff(connection: sa.Connection, school_id: str) -> dict[int, str]:
    rows = connection.execute(
        sa.select(users.c.user_id, users.c.name).where(
            (users.c.school_id == school_id)
            & users.c.active
            & users.c.role.in_(("advisor", "committee"))
        )
    ).all()
    return {int(r.user_id): str(r.name) for r in rows}


def staff_of(engine: sa.Engine, school_id: str) -> list[tuple[int, str]]:
    """Who may own a school's cases: its active advisors and committee members."""
    with reading(engine) as connection:
        return sorted(_school_staff(connection, school_id).items(), key=lambda p: p[1])


def open_case(
    engine: sa.Engine,
    caller: Caller,
    student: StudentKey,
    *,
    planned: str,
    owner_user_id: int | None = None,
    plan_text: str | None = None,
    first_review: date | None = None,
    review_every_days: int = REVIEW_EVERY_DAYS,
    plan_weeks: int = PLAN_WEEKS,
    once: Sent | None = None,
) -> int:
    """Open the student's case (one open case per student); returns its id. ``once``:
    the page form's sending (``serving.once``): sent again, the case it opened."""
    require_student(engine, caller, student)
    if planned not in INTERVENTION_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(INTERVENTION_TYPES)}")
    if not 1 <= review_every_days <= 60:
        raise InvalidInput("reviews come every 1 to 60 days")
    if not 1 <= plan_weeks <= 52:
        raise InvalidInput("a plan lasts 1 to 52 weeks")
    today = clock.today()
    first_review = first_review or today + timedelta(days=review_every_days)
    if first_review < today:
        raise InvalidInput("the review date is in the past")
    case = {
        "school_id": student.school_id,
        "student_id": student.student_id,
        "opened_by": caller.user.user_id,
        "opened_on": today,
        "owner_user_id": owner_user_id or caller.user.user_id,
        "planned": planned,
        "plan_text": (plan_text or "").strip()[:2000] or None,
        "review_every_days": review_every_days,
        "ends_on": today + timedelta(weeks=plan_weeks),
        "next_review": first_review,
    }
    try:
        with engine.begin() as connection:
            if not first_time(connection, once):
                return _latest_id(connection, student)
            case_id = _insert_case(connection, caller.user, student, case)
    except sa.exc.IntegrityError as error:  # another opened it at the same moment
        raise InvalidInput("this student already has an open case") from error
    record_write(engine, caller, student, detail=f"case {case_id} opened")
    return case_id


def _insert_case(
    connection: sa.Connection, user: User, student: StudentKey, case: dict[str, Any]
) -> int:
    if case["owner_user_id"] not in _school_staff(connection, student.school_id):
        raise InvalidInput("the owner must be an advisor or committee member of the school")
    if _open_id(connection, student) is not None:
        raise InvalidInput("this student already has an open case")
    inserted = connection.execute(sa.insert(support_cases).values(**case))
    case_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
    _event(connection, case_id, user, "opened", case["planned"])
    return case_id


def _open_id(connection: sa.Connection, student: StudentKey) -> int | None:
    found = connection.execute(
        sa.select(support_cases.c.case_id).where(
            (support_cases.c.school_id == student.school_id)
            & (support_cases.c.student_id == student.student_id)
            & support_cases.c.closed_on.is_(None)
        )
    ).scalar()
    return None if found is None else int(found)


def _latest_id(connection: sa.Connection, student: StudentKey) -> int:
    return int(
        connection.execute(
            sa.select(sa.func.max(support_cases.c.case_id)).where(
                (support_cases.c.school_id == student.school_id)
                & (support_cases.c.student_id == student.student_id)
            )
        ).scalar_one()
    )


def _case_row(connection: sa.Connection, case_id: int) -> Any:
    return connection.execute(
        sa.select(support_cases).where(support_cases.c.case_id == case_id)
    ).first()


def _checked(engine: sa.Engine, caller: Caller, case_id: int) -> Any:
    """The case's row when its student is in the caller's scope; NotVisible otherwise."""
    with reading(engine) as connection:
        row = _case_row(connection, case_id)
    if row is None:
        raise NotVisible("no such case")
    require_student(engine, caller, StudentKey(row.school_id, row.student_id))
    return row


def review(
    engine: sa.Engine,
    caller: Caller,
    case_id: int,
    *,
    note: str | None = None,
    next_review: date | None = None,
    once: Sent | None = None,
) -> None:
    """Record a review: the next one comes ``review_every_days`` later (or when given).
    ``once``: the page form's sending; sent again, nothing more is recorded."""
    row = _checked(engine, caller, case_id)
    today = clock.today()
    following = next_review or today + timedelta(days=int(row.review_every_days))
    if following < today:
        raise InvalidInput("the review date is in the past")
    with engine.begin() as connection:
        if not first_time(connection, once):
            return
        _still_open(
            connection,
            sa.update(support_cases)
            .where(support_cases.c.case_id == case_id)
            .values(next_review=following),
        )
        _event(connection, case_id, caller.user, "review", (note or "").strip()[:2000])
    record_write(
        engine,
        caller,
        StudentKey(row.school_id, row.student_id),
        detail=f"case {case_id} reviewed",
    )


def close_case(
    engine: sa.Engine, caller: Caller, case_id: int, outcome: str, once: Sent | None = None
) -> None:
    """Close the case with its outcome (kept in the student's history). ``once``: the
    page form's sending; sent again, the case stays closed as the first closed it."""
    row = _checked(engine, caller, case_id)
    if outcome not in CASE_OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(CASE_OUTCOMES)}")
    with engine.begin() as connection:
        if not first_time(connection, once):
            return
        _still_open(
            connection,
            sa.update(support_cases)
            .where(support_cases.c.case_id == case_id)
            .values(
                closed_on=clock.today(),
                closed_by=caller.user.user_id,
                outcome=outcome,
                next_review=None,
            ),
        )
        _event(connection, case_id, caller.user, "closed", outcome)
    record_write(
        engine,
        caller,
        StudentKey(row.school_id, row.student_id),
        detail=f"case {case_id} closed",
    )


def _still_open(connection: sa.Connection, change: sa.Update) -> None:
    """Make a change to a case that is open (checked in the change itself, so that of two
    people closing one case at once, the second is told).

    Raises:
        InvalidInput: the case is closed.
    """
    if not connection.execute(change.where(support_cases.c.closed_on.is_(None))).rowcount:
        raise InvalidInput("this case is closed")


def add_note(
    engine: sa.Engine,
    caller: Caller,
    case_id: int,
    text: str,
    *,
    restricted: str | None = None,
    in_brief: bool = False,
    once: Sent | None = None,
) -> None:
    """A note on the case; a protection or health note is restricted. ``once``: the page
    form's sending; sent again, the note is not written twice."""
    row = _checked(engine, caller, case_id)
    if not text.strip():
        raise InvalidInput("the note is empty")
    if restricted is not None and restricted not in RESTRICTED:
        raise InvalidInput(f"a restricted note is one of: {', '.join(RESTRICTED)}")
    with engine.begin() as connection:
        if not first_time(connection, once):
            return
        connection.execute(
            sa.insert(case_notes).values(
                case_id=case_id,
                author_user_id=caller.user.user_id,
                written_at=_now(),
                text=text.strip()[:4000],
                restricted=restricted,
                in_brief=in_brief,
            )
        )
    record_write(
        engine,
        caller,
        StudentKey(row.school_id, row.student_id),
        detail=f"case {case_id} note",
    )


def may_read(note_author: int, restricted: str | None, user: User) -> bool:
    """A restricted note: its author and the school's committee chair; others: everyone
    who sees the student."""
    if restricted is None:
        return True
    return note_author == user.user_id or (user.role == "committee" and user.chair)


def cases_of(
    engine: sa.Engine, caller: Caller, student: StudentKey, *, with_weeks: bool = True
) -> list[Case]:
    """The student's cases, the open one first, with what the caller may read of them
    (audited; restricted notes read are audited as such)."""
    require_student(engine, caller, student)
    with reading(engine) as connection:
        rows = connection.execute(
            sa.select(support_cases)
            .where(
                (support_cases.c.school_id == student.school_id)
                & (support_cases.c.student_id == student.student_id)
            )
            .order_by(support_cases.c.closed_on.is_not(None), support_cases.c.opened_on.desc())
        ).all()
        if not rows:
            return []
        names = {
            int(r.user_id): str(r.name)
            for r in connection.execute(sa.select(users.c.user_id, users.c.name))
        }
        found = [_case(connection, row, names, caller.user) for row in rows]
        if with_weeks:
            weeks = _weeks(connection, student)
            for case in found:
                case.weeks = _around(weeks, case)
    restricted = [n for c in found for n in c.notes if n.restricted]
    entries = audit.Entry  # one entry a restricted note read, naming the note
    audit.record(
        engine,
        [
            entries(
                "read_restricted",
                caller.route,
                caller.user.user_id,
                student.student_id,
                detail=f"note {n.note_id}",
                school_id=student.school_id,
            )
            for n in restricted
        ],
    )
    return found


def _case(connection: sa.Connection, row: Any, names: dict[int, str], user: User) -> Case:
    events = connection.execute(
        sa.select(case_events)
        .where(case_events.c.case_id == row.case_id)
        .order_by(case_events.c.at)
    ).all()
    notes = connection.execute(
        sa.select(case_notes)
        .where(case_notes.c.case_id == row.case_id)
        .order_by(case_notes.c.written_at)
    ).all()
    interventions = TABLES["interventions"]
    steps = connection.execute(
        sa.select(interventions.c.date, interventions.c.type, interventions.c.outcome)
        .where(
            (interventions.c.school_id == row.school_id)
            & (interventions.c.student_id == row.student_id)
            & (interventions.c.date >= row.opened_on)
            & (interventions.c.date <= (row.closed_on or clock.today()))
            & in_force(interventions)
        )
        .order_by(interventions.c.date)
    ).all()
    return Case(
        case_id=int(row.case_id),
        school_id=row.school_id,
        student_id=row.student_id,
        opened_on=row.opened_on,
        opened_by=names.get(int(row.opened_by), "?"),
        owner_user_id=int(row.owner_user_id),
        owner=names.get(int(row.owner_user_id), "?"),
        planned=row.planned,
        plan_text=row.plan_text,
        review_every_days=int(row.review_every_days),
        ends_on=row.ends_on,
        next_review=row.next_review,
        closed_on=row.closed_on,
        outcome=row.outcome,
        events=[
            {"at": e.at, "who": names.get(int(e.user_id), "?"), "kind": e.kind, "detail": e.detail}
            for e in events
        ],
        notes=[
            Note(
                int(n.note_id),
                names.get(int(n.author_user_id), "?"),
                n.written_at,
                n.text,
                n.restricted,
                bool(n.in_brief),
            )
            for n in notes
            if may_read(int(n.author_user_id), n.restricted, user)
        ],
        steps=[{"date": s.date, "type": s.type, "outcome": s.outcome} for s in steps],
    )


def _weeks(connection: sa.Connection, student: StudentKey) -> list[dict[str, Any]]:
    """The student's risk and term absence on each week's list (the newest run a week)."""
    newest = (
        sa.select(score_runs.c.as_of, sa.func.max(score_runs.c.run_id).label("run_id"))
        .group_by(score_runs.c.as_of)
        .subquery()
    )
    rows = connection.execute(
        sa.select(newest.c.as_of, student_scores.c.risk, student_scores.c.tier)
        .select_from(newest.join(student_scores, student_scores.c.run_id == newest.c.run_id))
        .where(
            (student_scores.c.school_id == student.school_id)
            & (student_scores.c.student_id == student.student_id)
        )
        .order_by(newest.c.as_of)
    ).all()
    absence = _absence_by_week(connection, student, [r.as_of for r in rows])
    return [
        {"as_of": r.as_of, "risk": float(r.risk), "tier": r.tier, "absence": absence.get(r.as_of)}
        for r in rows
    ]


def _absence_by_week(
    connection: sa.Connection, student: StudentKey, weeks: Sequence[date]
) -> dict[date, float]:
    """The share of school days absent in the four weeks before each date."""
    if not weeks:
        return {}
    attendance = TABLES["attendance"]
    first = min(weeks) - timedelta(days=28)
    marks = connection.execute(
        sa.select(attendance.c.date, attendance.c.status).where(
            (attendance.c.school_id == student.school_id)
            & (attendance.c.student_id == student.student_id)
            & (attendance.c.date >= first)
            & (attendance.c.date < max(weeks))
        )
    ).all()
    found = {}
    for week in weeks:
        window = [m.status for m in marks if week - timedelta(days=28) <= m.date < week]
        if window:
            found[week] = sum(s == "absent" for s in window) / len(window)
    return found


def _around(weeks: list[dict[str, Any]], case: Case) -> list[dict[str, Any]]:
    """The six weekly lists before the case opened and those since (to its end), each
    marked as before or since the plan began."""
    end = case.closed_on or date.max
    before = [w for w in weeks if w["as_of"] < case.opened_on][-6:]
    since = [w for w in weeks if case.opened_on <= w["as_of"] <= end]
    return [{**w, "since": False} for w in before] + [{**w, "since": True} for w in since]


@dataclass
class NeedsAction:
    """What a school's staff have to do: flagged students nobody acted on lately,
    reviews due or overdue, and the open cases by owner."""

    as_of: date | None
    untouched_days: int
    untouched: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    by_owner: list[tuple[str, int]]


def needs_action(engine: sa.Engine, caller: Caller, untouched_days: int) -> NeedsAction:
    """The caller's flagged students with no action in ``untouched_days`` days (or ever),
    reviews due or overdue, and open cases by owner (an advisor's own students, a
    committee's school)."""
    if not caller.user.sees_students or not caller.user.school_id:
        return NeedsAction(None, untouched_days, [], [], [])
    from serving.access import visible_students
    from serving.store import latest_run

    today = clock.today()
    with reading(engine) as connection:
        run = latest_run(connection)
        flagged: list[Any] = []
        if run is not None:
            query = sa.select(
                student_scores.c.school_id,
                student_scores.c.student_id,
                student_scores.c.tier,
                student_scores.c.risk,
                student_scores.c.rank_in_school,
            ).where(
                (student_scores.c.run_id == run.run_id)
                & (student_scores.c.school_id == caller.user.school_id)
                & ON_A_LIST
            )
            if caller.user.role == "advisor":
                query = query.where(student_scores.c.advisor_id == caller.user.staff_id)
            flagged = list(connection.execute(query.order_by(student_scores.c.rank_in_school)))
        last = _last_actions(connection, caller.user.school_id)
        open_rows = connection.execute(
            sa.select(support_cases, users.c.name.label("owner"))
            .select_from(
                support_cases.join(users, users.c.user_id == support_cases.c.owner_user_id)
            )
            .where(
                (support_cases.c.school_id == caller.user.school_id)
                & support_cases.c.closed_on.is_(None)
            )
        ).all()
        keys = [StudentKey(r.school_id, r.student_id) for r in [*flagged, *open_rows]]
        visible = set(visible_students(connection, caller.user, keys))
        names = names_of(connection, list(visible))
    cutoff = today - timedelta(days=untouched_days)
    untouched = []
    for r in flagged:
        key = StudentKey(r.school_id, r.student_id)
        when = last.get(r.student_id)
        if key in visible and (when is None or when < cutoff):
            untouched.append(
                {
                    "student_id": r.student_id,
                    "name": names.get(key),
                    "tier": r.tier,
                    "risk": float(r.risk),
                    "last_action": when,
                    "days": None if when is None else (today - when).days,
                }
            )
    reviews: list[dict[str, Any]] = []
    owners: dict[str, int] = {}
    for r in open_rows:
        key = StudentKey(r.school_id, r.student_id)
        if key not in visible:
            continue
        owners[r.owner] = owners.get(r.owner, 0) + 1
        if r.next_review is not None and r.next_review <= today:
            reviews.append(
                {
                    "case_id": int(r.case_id),
                    "student_id": r.student_id,
                    "name": names.get(key),
                    "owner": r.owner,
                    "next_review": r.next_review,
                    "overdue": r.next_review < today,
                    "days_late": (today - r.next_review).days,
                }
            )
    record_reads(engine, caller, sorted(visible))
    reviews.sort(key=lambda x: (-x["days_late"], x["student_id"]))
    return NeedsAction(
        run.as_of if run is not None else None,
        untouched_days,
        untouched,
        reviews,
        sorted(owners.items(), key=lambda p: (-p[1], p[0])),
    )


def _last_actions(connection: sa.Connection, school_id: str) -> dict[str, date]:
    rows = connection.execute(
        sa.select(last_actions.c.student_id, last_actions.c.day).where(
            last_actions.c.school_id == school_id
        )
    ).all()
    return {str(s): d for s, d in rows}


def untouched_by_school(
    engine: sa.Engine, schools: Sequence[str] | None, untouched_days: int
) -> dict[str, dict[str, Any]]:
    """Per school, on the latest list: flagged students, those with no action in
    ``untouched_days`` days, and the median days since their last action (never acted
    on: since they were first flagged). Counts only."""
    from serving.store import latest_run

    today = clock.today()
    with reading(engine) as connection:
        run = latest_run(connection)
        if run is None:
            return {}
        # The latest list's flagged students: each read below is of them alone, not of
        # every school's records in every week (a country's grow by a million a week).
        now = _flagged_in(run.run_id, schools)
        # Since when each flagged student nobody acted on in ``untouched_days`` days has
        # waited: their last action, else their first week on a list.
        cutoff = today - timedelta(days=untouched_days)
        waiting = (
            sa.select(
                now.c.school_id,
                sa.func.coalesce(last_actions.c.day, first_flags.c.as_of, run.as_of).label("since"),
            )
            .outerjoin(last_actions, _same_student(last_actions, now))
            .outerjoin(first_flags, _same_student(first_flags, now))
            .where(last_actions.c.day.is_(None) | (last_actions.c.day < cutoff))
            .subquery("waiting")
        )
        flagged = connection.execute(
            sa.select(now.c.school_id, sa.func.count()).group_by(now.c.school_id)
        ).all()
        # Each school's untouched students and the one or two in the middle of their
        # wait, found by the database: a few rows a school, not a row a student.
        middle = connection.execute(_middle(waiting.c.school_id, waiting.c.since)).all()
    found = {
        school: {"flagged": students, "untouched": 0, "median_days": None}
        for school, students in flagged
    }
    waits: dict[str, list[int]] = {}
    for school, since, untouched in middle:
        found[school]["untouched"] = untouched
        waits.setdefault(school, []).append((today - since).days)
    for school, days in waits.items():
        found[school]["median_days"] = statistics.median(days)
    return found


def _middle(group: sa.ColumnElement[Any], value: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """For each ``group``: the row with the middle ``value``, or the two middle ones of an
    even count (their mean is the median), and how many rows the group has."""
    ranked = sa.select(
        group.label("group"),
        value.label("value"),
        sa.func.row_number().over(partition_by=group, order_by=value).label("k"),
        sa.func.count().over(partition_by=group).label("n"),
    ).subquery("ranked")
    twice = 2 * ranked.c.k
    return sa.select(ranked.c.group, ranked.c.value, ranked.c.n).where(
        (twice >= ranked.c.n) & (twice <= ranked.c.n + 2)
    )


def _median(counted: Sequence[tuple[int, int]]) -> float | None:
    """The median of values given with how many times each occurs (None if none)."""
    values = [value for value, times in counted for _ in range(times)]
    return statistics.median(values) if values else None


def _flagged_in(run_id: int, schools: Sequence[str] | None) -> sa.Subquery:
    """The students a run flagged (of these schools)."""
    query = sa.select(student_scores.c.school_id, student_scores.c.student_id).where(
        (student_scores.c.run_id == run_id) & ON_A_LIST
    )
    if schools is not None:
        query = query.where(student_scores.c.school_id.in_(list(schools)))
    return query.subquery("flagged")


def _same_student(table: sa.Table | sa.Subquery, other: sa.Subquery) -> sa.ColumnElement[bool]:
    return (table.c.school_id == other.c.school_id) & (table.c.student_id == other.c.student_id)


@dataclass(frozen=True)
class WeekUsage:
    """Whether a school's list of a week was used."""

    school_id: str
    as_of: date
    lists_opened: int  # people who opened a list, counted once a day
    flagged: int  # students flagged on that week's list
    acted_7: int  # of them, with a first action within 7 days of the list
    acted_14: int  # within 14 days
    median_days: float | None  # days from the list to the first action (those acted on)


def usage(
    engine: sa.Engine, schools: Sequence[str] | None = None, *, weeks: int | None = None
) -> list[WeekUsage]:
    """For each school and week's list (the last ``weeks`` weeks, or all): lists opened,
    flagged students with a first action within 7 and 14 days of it, and the median days
    to that action."""
    interventions = TABLES["interventions"]
    with reading(engine) as connection:
        runs = connection.execute(
            sa.select(score_runs.c.as_of, sa.func.max(score_runs.c.run_id).label("run_id"))
            .group_by(score_runs.c.as_of)
            .order_by(score_runs.c.as_of)
        ).all()
        if weeks is not None:
            runs = runs[-weeks:]
        if not runs:
            return []
        lists = (
            sa.select(score_runs.c.run_id, score_runs.c.as_of)
            .where(score_runs.c.run_id.in_([r.run_id for r in runs]))
            .subquery("lists")
        )
        flagged = (
            sa.select(student_scores.c.school_id, student_scores.c.student_id, lists.c.as_of)
            .join(lists, lists.c.run_id == student_scores.c.run_id)
            .where(ON_A_LIST)
        )
        acted = sa.select(
            interventions.c.school_id, interventions.c.student_id, interventions.c.date
        ).where((interventions.c.date >= runs[0].as_of) & in_force(interventions))
        if schools is not None:
            flagged = flagged.where(student_scores.c.school_id.in_(list(schools)))
            acted = acted.where(interventions.c.school_id.in_(list(schools)))
        listed, helped = flagged.subquery("listed"), acted.subquery("helped")
        # Each flagged student's first action on or after their week's list...
        first = (
            sa.select(listed.c.school_id, listed.c.as_of, sa.func.min(helped.c.date).label("day"))
            .outerjoin(helped, _same_student(helped, listed) & (helped.c.date >= listed.c.as_of))
            .group_by(listed.c.school_id, listed.c.student_id, listed.c.as_of)
            .subquery("first_action")
        )
        # ... counted by school, week and that day: a few rows a school, not a row a student.
        counted = connection.execute(
            sa.select(first.c.school_id, first.c.as_of, first.c.day, sa.func.count()).group_by(
                first.c.school_id, first.c.as_of, first.c.day
            )
        ).all()
        # The people who opened each school's list, by day, since the first week.
        opened = (
            sa.select(lists_opened.c.school_id, lists_opened.c.day, sa.func.count())
            .where(lists_opened.c.day >= runs[0].as_of)
            .group_by(lists_opened.c.school_id, lists_opened.c.day)
        )
        if schools is not None:
            opened = opened.where(lists_opened.c.school_id.in_(list(schools)))
        readers: dict[str, list[tuple[date, int]]] = {}
        for school, day, people in connection.execute(opened).all():
            readers.setdefault(school, []).append((day, people))
    by_week: dict[tuple[str, date], dict[int | None, int]] = {}
    for school, as_of, day, students in counted:
        delays = by_week.setdefault((school, as_of), {})
        delay = None if day is None else (day - as_of).days
        delays[delay] = delays.get(delay, 0) + students
    found = []
    for (school, week), delays in sorted(by_week.items()):
        acted_after = sorted((d, n) for d, n in delays.items() if d is not None)
        found.append(
            WeekUsage(
                school_id=school,
                as_of=week,
                lists_opened=sum(
                    people
                    for day, people in readers.get(school, [])
                    if week <= day < week + timedelta(days=7)
                ),
                flagged=sum(delays.values()),
                acted_7=sum(n for d, n in acted_after if d <= 7),
                acted_14=sum(n for d, n in acted_after if d <= 14),
                median_days=_median(acted_after),
            )
        )
    return found
