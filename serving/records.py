"""Reads and writes behind the API and the web pages: one implementation, scoped by role.

Every function takes the calling user and refuses, as :class:`NotVisible`, anything
outside their scope exactly as it refuses what does not exist. Every read of a student's
record is written to the audit log.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa
from pydantic import TypeAdapter

from core import clock
from features.build import features_as_of
from features.catalog import catalog
from features.sources import Sources
from riskmodel.benefit import VisitBenefit
from riskmodel.ranking import DEFAULT_CAPACITY, VISIT_WINDOW
from schooldata import audit
from schooldata.actions import in_force, keep_last_actions
from schooldata.contract import INTERVENTION_OUTCOMES, INTERVENTION_TYPES
from schooldata.db import (
    among_students,
    among_students_parameter,
    keyed_insert,
    reading,
    students_parameters,
)
from schooldata.tables import ORIGIN_SERVICE, TABLES, plan_orders
from schooldata.validate import BE_OFFSET
from serving import store
from serving.access import (
    StudentKey,
    current_placement,
    in_scope,
    record_denial,
    record_reads,
    visible_students,
)
from serving.accounts import Caller, User
from serving.schemas import (
    BenefitVisit,
    Contribution,
    HistoryPoint,
    HomeVisitPlan,
    Intervention,
    LastIntervention,
    ListedStudent,
    Reason,
    RiskList,
    Score,
    StudentDetail,
    StudentScore,
)
from serving.school_path import returns_here, returns_of, schools_before
from serving.scoring import Scorer

FOLLOW_RETURNED_TERMS = 2  # the default of EWS_FOLLOW_RETURNED_TERMS


class NotVisible(LookupError):
    """Missing, or outside the caller's scope: the two are never told apart."""


class NoWeeklyRun(LookupError):
    """Nothing has been scored yet."""


class InvalidInput(ValueError):
    """A value the caller sent is not acceptable; the message says why."""


class KeySentAgain(InvalidInput):
    """A request key (the API's Idempotency-Key, a page form's) already made another
    record, or its record was withdrawn."""


class ChangedSince(InvalidInput):
    """What a change was made on (a form, a file, an API client's ``version``) was
    changed by someone else after it was given out: the change is not made."""


class TooLarge(ValueError):
    """A request asks for more work than one request may."""


def names_of(connection: sa.Connection, keys: Sequence[StudentKey]) -> dict[StudentKey, str | None]:
    """Students' names (given and family), for the pages that may show them."""
    students = TABLES["students"]
    wanted = set(keys)
    rows = connection.execute(
        sa.select(
            students.c.school_id,
            students.c.student_id,
            students.c.given_name,
            students.c.family_name,
        ).where(among_students(connection, students.c.school_id, students.c.student_id, wanted))
    )
    return {
        StudentKey(r.school_id, r.student_id): full_name(r.given_name, r.family_name) for r in rows
    }


def full_name(given: str | None, family: str | None) -> str | None:
    if given and family:
        return f"{given} {family}"
    return given or family or None


def _last_interventions(
    connection: sa.Connection, keys: Sequence[StudentKey]
) -> dict[StudentKey, LastIntervention]:
    dialect = connection.dialect.name
    rows = connection.execute(_last_query(dialect), students_parameters(dialect, keys))
    return {
        StudentKey(r.school_id, r.student_id): LastIntervention.model_construct(
            date=r.date, type=r.type, outcome=r.outcome
        )
        for r in rows
    }


@functools.cache
def _last_query(dialect: str) -> sa.Select[Any]:
    """The help recorded for some students (``students_parameters``) and in force, oldest
    first (built once a dialect: every list asks it)."""
    table = TABLES["interventions"]
    return (
        sa.select(
            table.c.school_id, table.c.student_id, table.c.date, table.c.type, table.c.outcome
        )
        .where(
            among_students_parameter(dialect, table.c.school_id, table.c.student_id)
            & in_force(table)
        )
        .order_by(table.c.date, table.c.intervention_id)
    )


def _listed(
    connection: sa.Connection, rows: Sequence[Any], follow_terms: int = FOLLOW_RETURNED_TERMS
) -> list[ListedStudent]:
    """Stored rows (``store.run_rows``, ``store.student_rows``: with names) as listed
    students, with the last help given.

    The rows are handed to pydantic's validator as plain values in one call, their stored
    reasons parsed by orjson: building two hundred models one by one in Python cost more
    than the rest of a list request's Python.
    """
    if not rows:
        return []
    keys = [StudentKey(r.school_id, r.student_id) for r in rows]
    last = _last_interventions(connection, keys)
    back = returns_of(connection, keys, follow_terms)
    names = rows[0]._fields
    stored = [names.index(f) for f in _STORED_FIELDS]  # by position: a name costs more
    given, family, reasons = (names.index(f) for f in ("given_name", "family_name", "reasons"))
    listed = []
    for r in rows:
        student = dict(zip(_STORED_FIELDS, [r[i] for i in stored], strict=True))
        student["name"] = full_name(r[given], r[family])
        student["reasons"] = orjson.loads(r[reasons])
        key = StudentKey(student["school_id"], student["student_id"])
        student["last_intervention"] = last.get(key)
        if key in back:
            student["returned_on"], student["left_on"] = back[key].returned_on, back[key].left_on
        listed.append(student)
    return _LISTED.validate_python(listed)


_LISTED = TypeAdapter(list[ListedStudent])
# A listed student's fields stored as they are shown (the rest are looked up or parsed).
_STORED_FIELDS = [
    f
    for f in ListedStudent.model_fields
    if f not in ("name", "reasons", "last_intervention", "returned_on", "left_on")
]


def require_student(engine: sa.Engine, caller: Caller, student: StudentKey) -> None:
    """Refuse, and audit the attempt, unless the student is in the caller's scope now
    (checked once a request: ``Caller.in_scope``)."""
    if student in caller.in_scope:
        return
    placement = current_placement(engine, [student]).get(student)
    if placement is None or not in_scope(caller.user, *placement):
        record_denial(engine, caller, student)
        raise NotVisible("student not found")
    caller.in_scope.add(student)


def _in_scope_now(connection: sa.Connection, user: User, rows: Sequence[Any]) -> list[Any]:
    """Stored rows of students still in the caller's scope (not moved to another school or
    advisor since the run)."""
    keys = [StudentKey(r.school_id, r.student_id) for r in rows]
    visible = set(visible_students(connection, user, keys))
    return [r for r, key in zip(rows, keys, strict=True) if key in visible]


def _keys(students: Sequence[ListedStudent]) -> list[StudentKey]:
    return [StudentKey(s.school_id, s.student_id) for s in students]


NO_RUN_YET = (
    "no weekly run yet: the list is made at the next weekly run once enrolments and "
    "attendance are loaded (or run `ews score --as-of DATE`)"
)


def _run_or_fail(connection: sa.Connection, as_of: date | None) -> Any:
    run = store.latest_run(connection, as_of)
    if run is not None:
        return run
    first = store.first_run_date(connection) if as_of is not None else None
    if first is not None:  # asked for a date before the service's first week
        raise NoWeeklyRun(f"no weekly run on or before {as_of}: the first was on {first}")
    raise NoWeeklyRun(NO_RUN_YET)


def risk_list(
    engine: sa.Engine,
    caller: Caller,
    *,
    school_id: str | None = None,
    advisor_id: str | None = None,
    as_of: date | None = None,
    tiers: Sequence[str] | None = None,
    limit: int | None = 200,
    classroom: str | None = None,
    action: str = "read",
    offset: int = 0,
) -> RiskList:
    """The week's ranked list for a school or an advisor, within the caller's scope:
    ``limit`` students (None: all) from the ``offset``-th on.

    Only the students shown are recorded as read (``action``: read, or download).
    """
    advisor_id, school_id = _list_scope(caller.user, advisor_id, school_id)
    with reading(engine) as connection:
        run = _run_or_fail(connection, as_of)
        students = _scoped_list(
            connection,
            caller.user,
            run,
            school_id,
            advisor_id=advisor_id,
            tiers=tiers,
            classroom=classroom,
            limit=limit,
            offset=offset,
        )
    record_reads(engine, caller, _keys(students), action=action)
    return RiskList(
        as_of=run.as_of,
        model_version=run.model_version,
        scorer=run.scorer or "lightgbm",
        students=students,
    )


@dataclass(frozen=True)
class ListPage:
    """What the list page shows: a page of the caller's list, the classrooms to filter
    by, and the school's freshness in the same run."""

    listing: RiskList
    classrooms: list[str]
    school: dict[str, Any] | None


def list_page(
    engine: sa.Engine,
    caller: Caller,
    *,
    tiers: Sequence[str] | None,
    classroom: str | None,
    limit: int,
    offset: int,
) -> ListPage:
    """The caller's latest list (as ``risk_list``) with what the page shows beside it,
    read in one connection from one run (the page used three of each)."""
    advisor_id, school_id = _list_scope(caller.user, None, None)
    with reading(engine) as connection:
        run = _run_or_fail(connection, None)
        students = _scoped_list(
            connection,
            caller.user,
            run,
            school_id,
            advisor_id=advisor_id,
            tiers=tiers,
            classroom=classroom,
            limit=limit,
            offset=offset,
        )
        rooms, school = [], None
        if school_id is not None:
            rooms = store.run_classrooms(connection, run.run_id, school_id, advisor_id)
            school = store.run_school(connection, run.run_id, school_id)
    record_reads(engine, caller, _keys(students))
    listing = RiskList(
        as_of=run.as_of,
        model_version=run.model_version,
        scorer=run.scorer or "lightgbm",
        students=students,
    )
    return ListPage(listing, rooms, school)


def _list_scope(
    user: User, advisor_id: str | None, school_id: str | None
) -> tuple[str | None, str | None]:
    """The advisor and the school whose list the caller may read (else ``NotVisible``)."""
    if not user.sees_students:
        raise NotVisible("no such list")
    if user.role == "advisor":
        if advisor_id not in (None, user.staff_id) or school_id not in (None, user.school_id):
            raise NotVisible("no such list")
        return user.staff_id, user.school_id
    if user.role == "committee":
        if school_id not in (None, user.school_id):
            raise NotVisible("no such list")
        return advisor_id, user.school_id
    return advisor_id, school_id


def _scoped_list(
    connection: sa.Connection,
    user: User,
    run: Any,
    school_id: str | None,
    *,
    advisor_id: str | None,
    tiers: Sequence[str] | None,
    classroom: str | None,
    limit: int | None,
    offset: int,
) -> list[ListedStudent]:
    """A run's rows in the caller's order, of students still in the caller's scope."""
    rows = store.run_rows(
        connection,
        run.run_id,
        school_id=school_id,
        advisor_id=advisor_id,
        tiers=tiers,
        classroom=classroom,
        rank_by="rank_in_advisor" if user.role == "advisor" else "rank_in_school",
        limit=limit,
        offset=offset,
    )
    return _listed(connection, _in_scope_now(connection, user, rows))


def full_list(
    engine: sa.Engine, as_of: date, school_id: str | None = None, actor: str = "cli"
) -> RiskList:
    """Every student of the latest run on or before ``as_of`` (operators: ``ews export``),
    recorded in the audit log as exported by ``actor``.

    Raises:
        NoWeeklyRun: no run on or before the date.
    """
    with reading(engine) as connection:
        run = store.latest_run(connection, as_of)
        if run is None:
            raise NoWeeklyRun(
                f"no weekly run on or before {as_of}: run `ews score --as-of {as_of}` first"
            )
        students = _listed(connection, store.run_rows(connection, run.run_id, school_id=school_id))
    audit.record(
        engine,
        [
            audit.Entry(
                "export", "ews export", None, s.student_id, actor=actor, school_id=s.school_id
            )
            for s in students
        ],
    )
    return RiskList(
        as_of=run.as_of,
        model_version=run.model_version,
        scorer=run.scorer or "lightgbm",
        students=students,
    )


def score_students(
    engine: sa.Engine,
    scorer: Scorer,
    caller: Caller,
    students: Sequence[StudentKey],
    *,
    as_of: date,
) -> list[StudentScore]:
    """Score students as of a date, computed now from the stored data (a child's records
    at every school they were at), with the same calibration as the weekly run."""
    keys = list(dict.fromkeys(StudentKey._make(s) for s in students))
    visible = set(visible_students(engine, caller.user, keys))
    hidden = [s for s in keys if s not in visible]
    if hidden:
        for student in hidden[:20]:
            record_denial(engine, caller, student)
        raise NotVisible("student not found")
    day = pd.Timestamp(as_of)
    rows = features_as_of(Sources.for_students(engine, keys), day, keys)
    enrolled = set(zip(rows["school_id"], rows["student_id"], strict=True))
    not_enrolled = [s for s in keys if tuple(s) not in enrolled]
    if not_enrolled:
        raise InvalidInput(
            f"{len(not_enrolled)} of the {len(keys)} students asked for are not enrolled in "
            f"a term containing {day.date()}: give as_of, a date in a term they are enrolled in"
        )
    record_reads(engine, caller, keys)
    rows = rows.set_index(["school_id", "student_id"], drop=False).loc[keys].reset_index(drop=True)
    results = scorer.explain_rows(
        scorer.bundle.matrix(rows), rows.to_dict("records"), rows["term"].to_numpy()
    )
    return [
        StudentScore(school_id=key.school_id, student_id=key.student_id, **_public(result))
        for key, result in zip(keys, results, strict=True)
    ]


def score_feature_rows(
    scorer: Scorer, rows: list[dict[str, float | None]], max_rows: int
) -> list[Score]:
    """Score rows of feature values (checked by the request model); no student data is read.

    Raises:
        TooLarge: more than ``max_rows`` rows.
    """
    if len(rows) > max_rows:
        raise TooLarge(f"at most {max_rows} rows per request; got {len(rows)}")
    column = {f: i for i, f in enumerate(scorer.features)}
    matrix = np.full((len(rows), len(scorer.features)), np.nan)
    for number, row in enumerate(rows):
        for feature, value in row.items():
            if value is not None and feature in column:
                matrix[number, column[feature]] = value
    values = [{k: (math.nan if v is None else v) for k, v in row.items()} for row in rows]
    return [Score(**_public(r)) for r in scorer.explain_rows(matrix, values)]


def _public(result: dict[str, Any]) -> dict[str, Any]:
    """A scorer result as the API shows it: reasons without their internal weights."""
    return result | {
        "reasons": [{k: r[k] for k in ("feature", "text_th", "text_en")} for r in result["reasons"]]
    }


def student_detail(engine: sa.Engine, caller: Caller, student: StudentKey) -> StudentDetail:
    """A student's latest risk, reasons, contributions and risk history."""
    require_student(engine, caller, student)
    with reading(engine) as connection:
        detail = _detail(connection, student)
    record_reads(engine, caller, [student])
    return detail


def student_page(
    engine: sa.Engine, caller: Caller, student: StudentKey
) -> tuple[StudentDetail, list[Intervention]]:
    """``student_detail`` and ``interventions_of`` together, as the student's page shows
    them: one scope check, one connection, one read recorded."""
    require_student(engine, caller, student)
    with reading(engine) as connection:
        detail = _detail(connection, student)
        interventions = interventions_at(connection, student)
    record_reads(engine, caller, [student])
    return detail, interventions


def _detail(connection: sa.Connection, student: StudentKey) -> StudentDetail:
    # One result a week: the run its list was made from (the week's latest run).
    weekly = {r.as_of: r for r in store.student_rows(connection, student)}
    rows = list(weekly.values())
    latest = _listed(connection, rows[-1:])
    contributions = (
        [
            Contribution(**c)
            for c in store.read_contributions(
                rows[-1].contributions,
                store.feature_names(rows[-1].run_features),
            )
        ]
        if rows
        else []
    )
    history = [
        HistoryPoint(as_of=r.as_of, risk=r.risk, tier=r.tier, rank_in_school=r.rank_in_school)
        for r in rows
    ]
    return StudentDetail(
        school_id=student.school_id,
        student_id=student.student_id,
        returns=returns_here(connection, student),
        schools_before=schools_before(connection, student),
        name=latest[0].name if latest else names_of(connection, [student]).get(student),
        latest=latest[0] if latest else None,
        model_version=rows[-1].model_version if rows else None,
        scorer=(rows[-1].scorer or "lightgbm") if rows else "lightgbm",
        contributions=contributions,
        history=history,
    )


def _capacity(connection: sa.Connection, school_id: str) -> int:
    setting = connection.execute(_CAPACITY, {"school": school_id}).scalar()
    return int(setting) if setting is not None else DEFAULT_CAPACITY


_CAPACITY = sa.select(TABLES["schools"].c.home_visit_capacity).where(
    TABLES["schools"].c.school_id == sa.bindparam("school")
)


def set_school_capacity(engine: sa.Engine, caller: Caller, school_id: str, capacity: int) -> None:
    """A committee member changes their school's weekly home-visit capacity (audited: who,
    when, from what to what; it decides which children are visited)."""
    if caller.user.role != "committee" or caller.user.school_id != school_id:
        raise NotVisible("no such school")
    if not 0 <= capacity <= 500:
        raise InvalidInput("capacity must be between 0 and 500 visits a week")
    schools = TABLES["schools"]
    with engine.begin() as connection:
        before = connection.execute(
            sa.select(schools.c.home_visit_capacity).where(schools.c.school_id == school_id)
        ).first()
        # One statement: two members setting it at once both write, neither breaks the key.
        connection.execute(
            keyed_insert(connection, schools)
            .values(school_id=school_id, home_visit_capacity=capacity)
            .on_conflict_do_update(
                index_elements=[schools.c.school_id], set_={"home_visit_capacity": capacity}
            )
        )
        was = "none" if before is None or before[0] is None else before[0]
        audit.append(
            connection,
            [
                audit.Entry(
                    "write",
                    caller.route,
                    caller.user.user_id,
                    detail=f"home-visit capacity {was} to {capacity} a week",
                    school_id=school_id,
                )
            ],
        )


def home_visit_plan(
    engine: sa.Engine,
    caller: Caller,
    school_id: str,
    *,
    capacity: int | None = None,
    as_of: date | None = None,
    benefit: VisitBenefit | None = None,
) -> tuple[HomeVisitPlan, dict[str, Any] | None]:
    """This week's home visits: the highest-risk students not visited in the last 30 days,
    and beside them, where an analyst turned it on for the school, the students a visit
    is expected to help most (``benefit``: the newest model of ``ews effects``); with the
    school's freshness in the same run (``store.run_school``), which the page shows."""
    if caller.user.role != "committee" or caller.user.school_id != school_id:
        raise NotVisible("no such school")
    interventions = TABLES["interventions"]
    with reading(engine) as connection:
        if capacity is None:
            capacity = _capacity(connection, school_id)
        run = _run_or_fail(connection, as_of)
        since = run.as_of - VISIT_WINDOW
        visited = sa.select(interventions.c.student_id).where(
            in_force(interventions)
            & (interventions.c.school_id == school_id)
            & (interventions.c.type == "home_visit")
            & (interventions.c.date > since)
            & (interventions.c.date <= max(run.as_of, clock.today()))
        )
        rows = store.run_rows(
            connection, run.run_id, school_id=school_id, limit=capacity + 50, excluding=visited
        )
        students = _listed(connection, _in_scope_now(connection, caller.user, rows)[:capacity])
        by_benefit = None
        if benefit is not None and school_id in store.benefit_order_schools(connection):
            everyone = store.run_rows(
                connection, run.run_id, school_id=school_id, excluding=visited, contributions=True
            )
            by_benefit = _by_benefit(
                connection, benefit, _in_scope_now(connection, caller.user, everyone), capacity
            )
        school = store.run_school(connection, run.run_id, school_id)
    shown = _keys(students) + _keys(by_benefit or [])
    record_reads(engine, caller, list(dict.fromkeys(shown)))
    plan = HomeVisitPlan(
        school_id=school_id,
        as_of=run.as_of,
        model_version=run.model_version,
        scorer=run.scorer or "lightgbm",
        capacity=capacity,
        students=students,
        by_benefit=by_benefit,
        benefit_effect=benefit.effect if by_benefit is not None and benefit else None,
    )
    return plan, school


def _by_benefit(
    connection: sa.Connection, benefit: VisitBenefit, rows: Sequence[Any], capacity: int
) -> list[BenefitVisit]:
    """The ``capacity`` students a visit is expected to help most, from their stored inputs."""
    features = store.run_features(connection, rows[0].run_id) if rows else None
    values = [
        {c["feature"]: c["value"] for c in store.read_contributions(r.contributions, features)}
        for r in rows
    ]
    found = benefit.estimate(values)
    chosen = sorted(range(len(rows)), key=lambda i: -found[i].benefit)[:capacity]
    listed = _listed(connection, [rows[i] for i in chosen])
    names = catalog()
    return [
        BenefitVisit(
            **student.model_dump(),
            visit_benefit=found[i].benefit,
            addressable=found[i].addressable,
            benefit_reasons=[
                Reason(feature=f, text_th=names[f].name_th, text_en=names[f].name_en)
                for f in found[i].drivers
                if f in names
            ],
        )
        for i, student in zip(chosen, listed, strict=True)
    ]


def set_benefit_order(
    engine: sa.Engine, caller: Caller, school_id: str, on: bool, *, available: bool
) -> None:
    """An analyst turns a school's benefit order on or off (audited, with who and when)."""
    if caller.user.role != "analyst":
        raise NotVisible("no such school")
    if on and not available:
        raise InvalidInput(
            "there is no benefit model to order by: `ews effects` makes one when the "
            "home-visit estimate is usable and shows that visits help"
        )
    schools = TABLES["schools"]
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with engine.begin() as connection:
        known = connection.execute(
            sa.select(schools.c.school_id).where(schools.c.school_id == school_id)
        ).first()
        if known is None:
            raise InvalidInput(f"no school {school_id!r}")
        # One statement: a double click's two sendings at once did not both insert (on
        # PostgreSQL the second broke the key: a 500).
        order = {"benefit_order": on, "set_by": caller.user.user_id, "set_at": now}
        connection.execute(
            keyed_insert(connection, plan_orders)
            .values(school_id=school_id, **order)
            .on_conflict_do_update(index_elements=[plan_orders.c.school_id], set_=order)
        )
        audit.append(
            connection,
            [
                audit.Entry(
                    "write",
                    caller.route,
                    caller.user.user_id,
                    detail=f"benefit order {'on' if on else 'off'} for {school_id}",
                )
            ],
        )


def record_intervention(
    engine: sa.Engine,
    caller: Caller,
    student: StudentKey,
    day: date | None,
    *,
    kind: str,
    outcome: str | None,
    corrects: int | None = None,
    request_key: str | None = None,
) -> tuple[Intervention, bool]:
    """Record what was done for a student, with its author, and the audit of it, in one
    transaction; and whether it was made now. Records are never overwritten: a correction
    is a new record that points to the one it corrects.

    With a ``request_key`` (the API's Idempotency-Key) a record is made once for each of
    the caller's keys: a request sent again after its answer was lost returns the record
    the first made, and False. A record sent without a date is the one it made whatever
    day it is sent again (its date was the day of the first).

    Raises:
        InvalidInput: the key was used for another record.
    """
    require_student(engine, caller, student)
    if kind not in INTERVENTION_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(INTERVENTION_TYPES)}")
    if outcome is not None and outcome not in INTERVENTION_OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(INTERVENTION_OUTCOMES)}")
    dated = day is not None
    day = day or clock.today()
    if day > clock.today():
        raise InvalidInput("date is in the future")
    _not_before_the_school_knew(engine, student, day)
    record = {
        "school_id": student.school_id,
        "student_id": student.student_id,
        "date": day,
        "type": kind,
        "outcome": outcome,
        "staff_id": caller.user.staff_id or f"user:{caller.user.user_id}",
        "origin": ORIGIN_SERVICE,
        "recorded_by": caller.user.user_id,
        "recorded_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
        "corrects": corrects,
        "request_key": request_key,
    }
    try:
        made = _insert_intervention(engine, caller, record)
    except sa.exc.IntegrityError:
        if request_key is None:
            raise
        made = None  # the same key sent twice at once: the other request made it
    if made is not None:
        return Intervention(intervention_id=made, **_public_record(record)), True
    earlier = _made_by_request(engine, caller, record, dated)
    return earlier, False


def _not_before_the_school_knew(engine: sa.Engine, student: StudentKey, day: date) -> None:
    """Refuse a help dated before the year before the student's first school year at the
    school (a visit before intake is help; one in 1900 or in year 1 is a year typed wrong,
    and the student's page would show it so).

    Raises:
        InvalidInput: the date is that early.
    """
    enrollments = TABLES["enrollments"]
    with reading(engine) as connection:
        first = connection.execute(
            sa.select(sa.func.min(enrollments.c.academic_year)).where(
                (enrollments.c.school_id == student.school_id)
                & (enrollments.c.student_id == student.student_id)
            )
        ).scalar()
    if first is not None and day < date(int(first) - BE_OFFSET - 1, 1, 1):
        raise InvalidInput(
            f"date is before the student's first school year at this school ({int(first)}): "
            "is its year typed wrong?"
        )


def _insert_intervention(engine: sa.Engine, caller: Caller, record: dict[str, Any]) -> int | None:
    """Insert a record and its audit; None when the caller's request key already made one."""
    table = TABLES["interventions"]
    student = StudentKey(record["school_id"], record["student_id"])
    with engine.begin() as connection:
        if record["request_key"] is not None and _by_request(connection, caller, record):
            return None
        if record["corrects"] is not None:
            earlier = connection.execute(
                sa.select(table.c.school_id, table.c.student_id).where(
                    table.c.intervention_id == record["corrects"]
                )
            ).first()
            if earlier is None or StudentKey(*earlier) != student:
                raise InvalidInput("corrects must name an earlier record of the same student")
        new_id = connection.execute(sa.insert(table).values(**record)).inserted_primary_key[0]  # type: ignore[index]
        keep_last_actions(connection, student=student)
        audit.append(
            connection,
            [
                audit.Entry(
                    "write",
                    caller.route,
                    caller.user.user_id,
                    student.student_id,
                    detail=f"intervention {new_id}",
                    school_id=student.school_id,
                )
            ],
        )
    return int(new_id)


def _by_request(connection: sa.Connection, caller: Caller, record: dict[str, Any]) -> Any:
    table = TABLES["interventions"]
    return connection.execute(
        sa.select(table).where(
            (table.c.recorded_by == caller.user.user_id)
            & (table.c.request_key == record["request_key"])
        )
    ).first()


# What a record made again under the same request key must repeat.
_REQUESTED = ("school_id", "student_id", "date", "type", "outcome", "corrects")


def _made_by_request(
    engine: sa.Engine, caller: Caller, record: dict[str, Any], dated: bool
) -> Intervention:
    """The record the caller's request key made, if it is the one asked for now (audited
    as read: the answer shows it again). ``dated``: the request gave the record's date
    (else it took the day it was sent, and a retry on another day is the same record)."""
    asked = _REQUESTED if dated else tuple(name for name in _REQUESTED if name != "date")
    with engine.begin() as connection:
        earlier = _by_request(connection, caller, record)
        if earlier is None:  # withdrawn between the two requests: nothing to repeat
            raise KeySentAgain("the Idempotency-Key's record was withdrawn: send a new key")
        if any(getattr(earlier, name) != record[name] for name in asked):
            raise KeySentAgain(
                "the Idempotency-Key was used for another record: send a new key for a new one"
            )
        audit.append(
            connection,
            [
                audit.Entry(
                    "read",
                    caller.route,
                    caller.user.user_id,
                    earlier.student_id,
                    detail=f"intervention {earlier.intervention_id} (its request sent again)",
                    school_id=earlier.school_id,
                )
            ],
        )
    found = {name: getattr(earlier, name) for name in _public_record(record)}
    return Intervention(intervention_id=int(earlier.intervention_id), **found)


UNDO_MINUTES = 5  # an author may withdraw a record this long after making it


def withdraw_intervention(
    engine: sa.Engine,
    caller: Caller,
    intervention_id: int,
    first_time: Callable[[sa.Connection], bool] | None = None,
) -> Intervention | None:
    """Withdraw a record its author made by mistake (a click on the wrong student or
    outcome), within ``UNDO_MINUTES`` of making it and before anything corrects it. The
    record is removed and the withdrawal audited; past that, a record is corrected by a
    new one, never removed. ``first_time``: claims the page form's key in the write's
    transaction (``serving.once``); None, withdrawing nothing, when it was sent before.

    Raises:
        NotVisible: no such record of the caller's, or too late to withdraw it.
    """
    table = TABLES["interventions"]
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=UNDO_MINUTES)
    with engine.begin() as connection:
        if first_time is not None and not first_time(connection):
            return None
        row = (
            connection.execute(
                sa.select(table).where(
                    (table.c.intervention_id == intervention_id)
                    & (table.c.recorded_by == caller.user.user_id)
                    & (table.c.origin == ORIGIN_SERVICE)
                    & (table.c.recorded_at >= since)
                )
            )
            .mappings()
            .first()
        )
        corrected = connection.execute(
            sa.select(table.c.intervention_id).where(table.c.corrects == intervention_id)
        ).first()
        if row is None or corrected is not None:
            raise NotVisible("no record of yours to withdraw")
        connection.execute(sa.delete(table).where(table.c.intervention_id == intervention_id))
        keep_last_actions(connection, student=(row["school_id"], row["student_id"]))
        audit.append(
            connection,
            [
                audit.Entry(
                    "withdraw",
                    caller.route,
                    caller.user.user_id,
                    row["student_id"],
                    detail=f"intervention {intervention_id}",
                    school_id=row["school_id"],
                )
            ],
        )
    return Intervention(intervention_id=intervention_id, **_public_record(dict(row)))


def undoable(engine: sa.Engine, user: User, intervention_id: int | None) -> dict[str, Any] | None:
    """One's own record that may still be withdrawn (``withdraw_intervention``), with
    the student's name, for the notice that offers it; None otherwise."""
    if intervention_id is None:
        return None
    table, students = TABLES["interventions"], TABLES["students"]
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=UNDO_MINUTES)
    with reading(engine) as connection:
        row = (
            connection.execute(
                sa.select(table, students.c.given_name, students.c.family_name)
                .outerjoin(
                    students,
                    (students.c.school_id == table.c.school_id)
                    & (students.c.student_id == table.c.student_id),
                )
                .where(
                    (table.c.intervention_id == intervention_id)
                    & (table.c.recorded_by == user.user_id)
                    & (table.c.recorded_at >= since)
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    return dict(row) | {"name": full_name(row["given_name"], row["family_name"])}


def _public_record(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: record[k]
        for k in ("school_id", "student_id", "date", "type", "outcome", "staff_id", "corrects")
    }


def interventions_of(engine: sa.Engine, caller: Caller, student: StudentKey) -> list[Intervention]:
    """Everything recorded for a student at their school, newest first (corrected records
    included, each correction pointing to the record it replaces)."""
    require_student(engine, caller, student)
    with reading(engine) as connection:
        found = interventions_at(connection, student)
    record_reads(engine, caller, [student])
    return found


def interventions_at(connection: sa.Connection, student: StudentKey) -> list[Intervention]:
    table = TABLES["interventions"]
    rows = connection.execute(
        sa.select(table)
        .where(
            (table.c.school_id == student.school_id) & (table.c.student_id == student.student_id)
        )
        .order_by(table.c.date.desc(), table.c.intervention_id.desc())
    ).all()
    corrected = {r.corrects for r in rows if r.corrects is not None}
    return [
        Intervention(
            intervention_id=r.intervention_id,
            school_id=r.school_id,
            student_id=r.student_id,
            date=r.date,
            type=r.type,
            outcome=r.outcome,
            staff_id=r.staff_id,
            corrects=r.corrects,
            corrected=r.intervention_id in corrected,
        )
        for r in rows
    ]
