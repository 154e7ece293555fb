"""Reads and writes behind the API and the web pages: one implementation, scoped by role.

Every function takes the calling user and refuses, as :class:`NotVisible`, anything
outside their scope exactly as it refuses what does not exist. Every read of a student's
record is written to the audit log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from features.build import features_as_of
from features.sources import Sources
from schooldata.contract import INTERVENTION_OUTCOMES, INTERVENTION_TYPES
from schooldata.tables import TABLES
from serving import store
from serving.access import User, current_placement, in_scope, record_reads, visible_students
from serving.schemas import (
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
from serving.scoring import Scorer

VISIT_WINDOW = timedelta(days=30)
DEFAULT_CAPACITY = 5


class NotVisible(LookupError):
    """Missing, or outside the caller's scope: the two are never told apart."""


class NoWeeklyRun(LookupError):
    """Nothing has been scored yet."""


class InvalidInput(ValueError):
    """A value the caller sent is not acceptable; the message says why."""


class TooLarge(ValueError):
    """A request asks for more work than one request may."""


def _names(connection: sa.Connection, ids: list[str]) -> dict[str, str | None]:
    students = TABLES["students"]
    rows = connection.execute(
        sa.select(students.c.student_id, students.c.given_name, students.c.family_name).where(
            students.c.student_id.in_(ids)
        )
    )
    return {
        r.student_id: " ".join(p for p in (r.given_name, r.family_name) if p) or None for r in rows
    }


def _last_interventions(connection: sa.Connection, ids: list[str]) -> dict[str, LastIntervention]:
    table = TABLES["interventions"]
    rows = connection.execute(
        sa.select(table.c.student_id, table.c.date, table.c.type, table.c.outcome)
        .where(table.c.student_id.in_(ids))
        .order_by(table.c.date)
    )
    return {
        r.student_id: LastIntervention(date=r.date, type=r.type, outcome=r.outcome) for r in rows
    }


def _listed(connection: sa.Connection, rows: Sequence[Any]) -> list[ListedStudent]:
    ids = [r.student_id for r in rows]
    names = _names(connection, ids)
    last = _last_interventions(connection, ids)
    return [
        ListedStudent(
            student_id=r.student_id,
            name=names.get(r.student_id),
            school_id=r.school_id,
            advisor_id=r.advisor_id,
            classroom=r.classroom,
            grade_level=r.grade_level,
            rank_in_school=r.rank_in_school,
            rank_in_advisor=r.rank_in_advisor,
            risk=r.risk,
            risk_vs_school=r.risk_vs_school,
            tier=r.tier,
            reasons=[
                Reason(feature=x["feature"], text_th=x["text_th"], text_en=x["text_en"])
                for x in json.loads(r.reasons)
            ],
            suggested_step_th=r.suggested_step_th,
            suggested_step_en=r.suggested_step_en,
            change=r.change,
            last_intervention=last.get(r.student_id),
        )
        for r in rows
    ]


def require_student(engine: sa.Engine, user: User, student_id: str) -> None:
    placement = current_placement(engine, [student_id]).get(student_id)
    if placement is None or not in_scope(user, *placement):
        raise NotVisible("student not found")


def _run_or_fail(connection: sa.Connection, as_of: date | None) -> Any:
    run = store.latest_run(connection, as_of)
    if run is None:
        raise NoWeeklyRun("no weekly run yet: run `ews score --as-of DATE`")
    return run


def risk_list(
    engine: sa.Engine,
    user: User,
    endpoint: str,
    school_id: str | None = None,
    advisor_id: str | None = None,
    as_of: date | None = None,
    tiers: Sequence[str] | None = None,
    limit: int = 200,
    classroom: str | None = None,
) -> RiskList:
    """The week's ranked list for a school or an advisor, within the caller's scope."""
    if not user.sees_students:
        raise NotVisible("no such list")
    if user.role == "advisor":
        if advisor_id not in (None, user.staff_id):
            raise NotVisible("no such list")
        advisor_id = user.staff_id
    if user.role == "committee":
        if school_id not in (None, user.school_id):
            raise NotVisible("no such list")
        school_id = user.school_id
    with engine.connect() as connection:
        run = _run_or_fail(connection, as_of)
        rows = store.run_rows(
            connection,
            run.run_id,
            school_id,
            advisor_id,
            tiers,
            classroom,
            rank_by="rank_in_advisor" if user.role == "advisor" else "rank_in_school",
            limit=limit,
        )
        students = _listed(connection, rows)
    record_reads(engine, user, [s.student_id for s in students], endpoint)
    return RiskList(as_of=run.as_of, model_version=run.model_version, students=students)


def full_list(engine: sa.Engine, as_of: date, school_id: str | None = None) -> RiskList:
    """Every student of the latest run on or before ``as_of`` (operators: ``ews export``).

    Raises:
        NoWeeklyRun: no run on or before the date.
    """
    with engine.connect() as connection:
        run = store.latest_run(connection, as_of)
        if run is None:
            raise NoWeeklyRun(
                f"no weekly run on or before {as_of}: run `ews score --as-of {as_of}` first"
            )
        students = _listed(connection, store.run_rows(connection, run.run_id, school_id))
    return RiskList(as_of=run.as_of, model_version=run.model_version, students=students)


def score_students(
    engine: sa.Engine,
    scorer: Scorer,
    user: User,
    student_ids: Sequence[str],
    as_of: date,
    endpoint: str,
) -> list[StudentScore]:
    """Score students by id as of a date, computed now from the stored data."""
    ids = list(dict.fromkeys(student_ids))
    visible = set(visible_students(engine, user, ids))
    if any(s not in visible for s in ids):
        raise NotVisible("student not found")
    day = pd.Timestamp(as_of)
    rows = features_as_of(Sources.from_database(engine, ids), day, ids)
    enrolled = set(rows["student_id"])
    not_enrolled = [s for s in ids if s not in enrolled]
    if not_enrolled:
        raise InvalidInput(
            f"{len(not_enrolled)} of the students are not enrolled in a term containing "
            f"{day.date()}"
        )
    record_reads(engine, user, ids, endpoint)
    rows = rows.set_index("student_id", drop=False).loc[ids].reset_index(drop=True)
    results = scorer.explain_rows(scorer.bundle.matrix(rows), rows.to_dict("records"))
    return [
        StudentScore(student_id=student, **_public(result))
        for student, result in zip(ids, results, strict=True)
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


def student_detail(engine: sa.Engine, user: User, student_id: str, endpoint: str) -> StudentDetail:
    """A student's latest risk, reasons, contributions and risk history."""
    require_student(engine, user, student_id)
    with engine.connect() as connection:
        rows = store.student_rows(connection, student_id)
        latest = _listed(connection, rows[-1:])
        names = _names(connection, [student_id])
    record_reads(engine, user, [student_id], endpoint)
    contributions = [Contribution(**c) for c in json.loads(rows[-1].contributions)] if rows else []
    history = [
        HistoryPoint(as_of=r.as_of, risk=r.risk, tier=r.tier, rank_in_school=r.rank_in_school)
        for r in rows
    ]
    return StudentDetail(
        student_id=student_id,
        name=names.get(student_id),
        latest=latest[0] if latest else None,
        contributions=contributions,
        history=history,
    )


def school_capacity(engine: sa.Engine, school_id: str) -> int:
    schools = TABLES["schools"]
    with engine.connect() as connection:
        setting = connection.execute(
            sa.select(schools.c.home_visit_capacity).where(schools.c.school_id == school_id)
        ).scalar()
    return int(setting) if setting is not None else DEFAULT_CAPACITY


def set_school_capacity(engine: sa.Engine, user: User, school_id: str, capacity: int) -> None:
    """A committee member changes their school's weekly home-visit capacity."""
    if user.role != "committee" or user.school_id != school_id:
        raise NotVisible("no such school")
    if not 0 <= capacity <= 500:
        raise InvalidInput("capacity must be between 0 and 500 visits a week")
    schools = TABLES["schools"]
    with engine.begin() as connection:
        updated = connection.execute(
            sa.update(schools)
            .where(schools.c.school_id == school_id)
            .values(home_visit_capacity=capacity)
        ).rowcount
        if not updated:
            connection.execute(
                sa.insert(schools).values(school_id=school_id, home_visit_capacity=capacity)
            )


def home_visit_plan(
    engine: sa.Engine,
    user: User,
    school_id: str,
    endpoint: str,
    capacity: int | None = None,
    as_of: date | None = None,
) -> HomeVisitPlan:
    """This week's home visits: the highest-risk students not visited in the last 30 days."""
    if user.role != "committee" or user.school_id != school_id:
        raise NotVisible("no such school")
    interventions = TABLES["interventions"]
    if capacity is None:
        capacity = school_capacity(engine, school_id)
    with engine.connect() as connection:
        run = _run_or_fail(connection, as_of)
        since = run.as_of - VISIT_WINDOW
        visited = sa.select(interventions.c.student_id).where(
            (interventions.c.type == "home_visit")
            & (interventions.c.date > since)
            & (interventions.c.date <= max(run.as_of, date.today()))
        )
        rows = store.run_rows(connection, run.run_id, school_id, limit=capacity, excluding=visited)
        students = _listed(connection, rows)
    record_reads(engine, user, [s.student_id for s in students], endpoint)
    return HomeVisitPlan(school_id=school_id, as_of=run.as_of, capacity=capacity, students=students)


def record_intervention(
    engine: sa.Engine,
    user: User,
    student_id: str,
    day: date | None,
    kind: str,
    outcome: str | None,
    endpoint: str,
) -> Intervention:
    """Record what was done for a student; the same day and type replaces the earlier record."""
    require_student(engine, user, student_id)
    if kind not in INTERVENTION_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(INTERVENTION_TYPES)}")
    if outcome is not None and outcome not in INTERVENTION_OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(INTERVENTION_OUTCOMES)}")
    day = day or date.today()
    if day > date.today():
        raise InvalidInput("date is in the future")
    record = {
        "student_id": student_id,
        "date": day,
        "type": kind,
        "outcome": outcome,
        "staff_id": user.staff_id,
    }
    table = TABLES["interventions"]
    with engine.begin() as connection:
        connection.execute(
            sa.delete(table).where(
                (table.c.student_id == student_id) & (table.c.date == day) & (table.c.type == kind)
            )
        )
        connection.execute(sa.insert(table).values(**record))
    record_reads(engine, user, [student_id], endpoint)
    return Intervention(**record)


def interventions_of(
    engine: sa.Engine, user: User, student_id: str, endpoint: str
) -> list[Intervention]:
    """Everything recorded for a student, newest first."""
    require_student(engine, user, student_id)
    table = TABLES["interventions"]
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table).where(table.c.student_id == student_id).order_by(table.c.date.desc())
        ).all()
    record_reads(engine, user, [student_id], endpoint)
    return [
        Intervention(
            student_id=r.student_id,
            date=r.date,
            type=r.type,
            outcome=r.outcome,
            staff_id=r.staff_id,
        )
        for r in rows
    ]
