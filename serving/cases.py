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
from riskmodel.bundle import FLAGGED
from schooldata import audit
from schooldata.contract import INTERVENTION_TYPES
from schooldata.db import reading
from schooldata.tables import (
    TABLES,
    audit_log,
    case_events,
    case_notes,
    run_schools,
    score_runs,
    student_scores,
    support_cases,
    users,
)
from serving.access import StudentKey, record_reads, record_write
from serving.accounts import Caller, User
from serving.records import InvalidInput, NotVisible, names_of, require_student

REVIEW_EVERY_DAYS = 14
PLAN_WEEKS = 6
RESTRICTED = ("protection", "health")
CASE_OUTCOMES = ("back_on_track", "improving", "no_change", "referred", "left_school", "moved")
# A row of a flagged student, its tiers written into the statement as the partial index
# ix_student_scores_flagged states them: SQLite reads a partial index only for a
# condition it can compare, not a bound value (1.2 s, not 16 ms, on the demo's data).
ON_A_LIST = student_scores.c.tier.in_(
    sa.bindparam("flagged", list(FLAGGED), expanding=True, literal_execute=True)
)
# The routes that show a list (a list "opened" is a person reading one on a day).
LIST_ROUTES = ("GET /list", "GET /api/v1/risk-list")


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
) -> int:
    """Open the student's case (one open case per student); returns its id."""
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
    with engine.begin() as connection:
        staff = _school_staff(connection, student.school_id)
        owner = owner_user_id or caller.user.user_id
        if owner not in staff:
            raise InvalidInput("the owner must be an advisor or committee member of the school")
        if _open_id(connection, student) is not None:
            raise InvalidInput("this student already has an open case")
        case_id = int(
            connection.execute(
                sa.insert(support_cases).values(
                    school_id=student.school_id,
                    student_id=student.student_id,
                    opened_by=caller.user.user_id,
                    opened_on=today,
                    owner_user_id=owner,
                    planned=planned,
                    plan_text=(plan_text or "").strip()[:2000] or None,
                    review_every_days=review_every_days,
                    ends_on=today + timedelta(weeks=plan_weeks),
                    next_review=first_review,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        _event(connection, case_id, caller.user, "opened", planned)
    record_write(engine, caller, student, detail=f"case {case_id} opened")
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
) -> None:
    """Record a review: the next one comes ``review_every_days`` later (or when given)."""
    row = _checked(engine, caller, case_id)
    if row.closed_on is not None:
        raise InvalidInput("this case is closed")
    today = clock.today()
    following = next_review or today + timedelta(days=int(row.review_every_days))
    if following < today:
        raise InvalidInput("the review date is in the past")
    with engine.begin() as connection:
        connection.execute(
            sa.update(support_cases)
            .where(support_cases.c.case_id == case_id)
            .values(next_review=following)
        )
        _event(connection, case_id, caller.user, "review", (note or "").strip()[:2000])
    record_write(
        engine,
        caller,
        StudentKey(row.school_id, row.student_id),
        detail=f"case {case_id} reviewed",
    )


def close_case(engine: sa.Engine, caller: Caller, case_id: int, outcome: str) -> None:
    """Close the case with its outcome (kept in the student's history)."""
    row = _checked(engine, caller, case_id)
    if outcome not in CASE_OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(CASE_OUTCOMES)}")
    if row.closed_on is not None:
        raise InvalidInput("this case is closed")
    with engine.begin() as connection:
        connection.execute(
            sa.update(support_cases)
            .where(support_cases.c.case_id == case_id)
            .values(
                closed_on=clock.today(),
                closed_by=caller.user.user_id,
                outcome=outcome,
                next_review=None,
            )
        )
        _event(connection, case_id, caller.user, "closed", outcome)
    record_write(
        engine,
        caller,
        StudentKey(row.school_id, row.student_id),
        detail=f"case {case_id} closed",
    )


def add_note(
    engine: sa.Engine,
    caller: Caller,
    case_id: int,
    text: str,
    *,
    restricted: str | None = None,
    in_brief: bool = False,
) -> None:
    """A note on the case; a protection or health note is restricted."""
    row = _checked(engine, caller, case_id)
    if not text.strip():
        raise InvalidInput("the note is empty")
    if restricted is not None and restricted not in RESTRICTED:
        raise InvalidInput(f"a restricted note is one of: {', '.join(RESTRICTED)}")
    with engine.begin() as connection:
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
            & interventions.c.intervention_id.not_in(
                sa.select(interventions.c.corrects).where(interventions.c.corrects.is_not(None))
            )
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
    interventions = TABLES["interventions"]
    rows = connection.execute(
        sa.select(interventions.c.student_id, sa.func.max(interventions.c.date))
        .where(interventions.c.school_id == school_id)
        .group_by(interventions.c.student_id)
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
    interventions = TABLES["interventions"]
    with reading(engine) as connection:
        run = latest_run(connection)
        if run is None:
            return {}
        # The latest list's flagged students: each read below is of them alone, not of
        # every school's records in every week (a country's grow by a million a week).
        now = _flagged_in(run.run_id, schools)
        flagged = connection.execute(sa.select(now.c.school_id, now.c.student_id)).all()
        last = {
            (s, c): d
            for s, c, d in connection.execute(
                sa.select(
                    interventions.c.school_id,
                    interventions.c.student_id,
                    sa.func.max(interventions.c.date),
                )
                .join(now, _same_student(interventions, now))
                .group_by(interventions.c.school_id, interventions.c.student_id)
            )
        }
        first_flag = {
            (s, c): d
            for s, c, d in connection.execute(
                sa.select(
                    student_scores.c.school_id,
                    student_scores.c.student_id,
                    sa.func.min(score_runs.c.as_of),
                )
                .select_from(
                    student_scores.join(score_runs, score_runs.c.run_id == student_scores.c.run_id)
                )
                .join(now, _same_student(student_scores, now))
                .where(ON_A_LIST)
                .group_by(student_scores.c.school_id, student_scores.c.student_id)
            )
        }
    cutoff = today - timedelta(days=untouched_days)
    found: dict[str, dict[str, Any]] = {}
    for school, code in flagged:
        entry = found.setdefault(school, {"flagged": 0, "untouched": 0, "days": []})
        entry["flagged"] += 1
        when = last.get((school, code))
        if when is None or when < cutoff:
            entry["untouched"] += 1
            since = when or first_flag.get((school, code)) or run.as_of
            entry["days"].append((today - since).days)
    for entry in found.values():
        days = entry.pop("days")
        entry["median_days"] = statistics.median(days) if days else None
    return found


def _flagged_in(run_id: int, schools: Sequence[str] | None) -> sa.Subquery:
    """The students a run flagged (of these schools)."""
    query = sa.select(student_scores.c.school_id, student_scores.c.student_id).where(
        (student_scores.c.run_id == run_id) & ON_A_LIST
    )
    if schools is not None:
        query = query.where(student_scores.c.school_id.in_(list(schools)))
    return query.subquery("flagged")


def _same_student(table: sa.Table, other: sa.Subquery) -> sa.ColumnElement[bool]:
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
        query = sa.select(
            student_scores.c.run_id, student_scores.c.school_id, student_scores.c.student_id
        ).where(student_scores.c.run_id.in_([r.run_id for r in runs]) & ON_A_LIST)
        if schools is not None:
            query = query.where(student_scores.c.school_id.in_(list(schools)))
        flagged = connection.execute(query).all()
        actions: dict[tuple[str, str], list[date]] = {}
        acted = (
            sa.select(interventions.c.school_id, interventions.c.student_id, interventions.c.date)
            .where(interventions.c.date >= runs[0].as_of)
            .where(
                interventions.c.intervention_id.not_in(
                    sa.select(interventions.c.corrects).where(interventions.c.corrects.is_not(None))
                )
            )
            .order_by(interventions.c.date)
        )
        if schools is not None:
            acted = acted.where(interventions.c.school_id.in_(list(schools)))
        for school, code, day in connection.execute(acted):
            actions.setdefault((school, code), []).append(day)
        # The lists read in these weeks, school by school (a row for each student shown,
        # the same moment for all of one reading): by index ix_audit_log_list_reads, each
        # listed school's readings since the first week, not the whole log.
        listed = sa.select(run_schools.c.school_id).where(
            run_schools.c.run_id.in_([r.run_id for r in runs])
        )
        if schools is not None:
            listed = listed.where(run_schools.c.school_id.in_(list(schools)))
        opened = (
            sa.select(audit_log.c.school_id, audit_log.c.user_id, audit_log.c.at)
            .where(
                (audit_log.c.action == "read")
                & audit_log.c.endpoint.in_(LIST_ROUTES)
                & audit_log.c.school_id.in_(listed)
                & (audit_log.c.at >= clock.start_of(runs[0].as_of))
            )
            .distinct()
        )
        read = connection.execute(opened).all()
    reads: dict[str, set[tuple[int, date]]] = {}
    for school, user_id, at in read:
        if school is not None and user_id is not None:
            reads.setdefault(school, set()).add((int(user_id), clock.day_of(at)))
    as_of = {int(r.run_id): r.as_of for r in runs}
    by_week: dict[tuple[str, date], list[int | None]] = {}
    for run_id, school, code in flagged:
        week = as_of[int(run_id)]
        later = [d for d in actions.get((school, code), []) if d >= week]
        by_week.setdefault((school, week), []).append((later[0] - week).days if later else None)
    found = []
    for (school, week), delays in sorted(by_week.items()):
        delays_acted = [d for d in delays if d is not None]
        found.append(
            WeekUsage(
                school_id=school,
                as_of=week,
                lists_opened=sum(
                    week <= day < week + timedelta(days=7) for _, day in reads.get(school, set())
                ),
                flagged=len(delays),
                acted_7=sum(d <= 7 for d in delays_acted),
                acted_14=sum(d <= 14 for d in delays_acted),
                median_days=statistics.median(delays_acted) if delays_acted else None,
            )
        )
    return found
