"""JSON endpoints under /api/v1 (and /health)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, status

from features.build import features_as_of
from features.catalog import value_range
from features.contract import INTERVENTION_TYPES
from features.db import TABLES, score_runs, student_scores
from features.sources import Sources
from serving.access import User, current_placement, in_scope, record_reads, visible_students
from serving.app import AppState, CurrentUser, StateDep
from serving.schemas import (
    Contribution,
    FeatureRowsRequest,
    FeatureScoreResponse,
    Health,
    HistoryPoint,
    HomeVisitPlan,
    Intervention,
    InterventionIn,
    LastIntervention,
    ListedStudent,
    ModelInfo,
    Reason,
    RiskList,
    ScoreRequest,
    ScoreResponse,
    StudentDetail,
    StudentScore,
)

router = APIRouter()
NOT_FOUND = "student not found"
OUTCOMES = ("done", "not_home", "refused", "moved", "other")
VISIT_WINDOW = timedelta(days=30)


@router.get("/health", response_model=Health, tags=["service"])
def health(state: StateDep) -> Health:
    """Service status and the champion version."""
    return Health(status="ok", champion_version=state.scorer.version)


@router.get("/api/v1/model", response_model=ModelInfo, tags=["model"])
def model_info(state: StateDep, user: CurrentUser) -> ModelInfo:
    """The champion: version, inputs, training window, test metrics and fairness flags."""
    metadata = state.scorer.bundle.metadata
    return ModelInfo(
        version=state.scorer.version,
        features=state.scorer.features,
        horizon_days=int(metadata["horizon_days"]),
        training_window={k: str(v) for k, v in metadata["split"].items()},
        test_metrics={
            k: float(v) for k, v in metadata["test_metrics"].items() if math.isfinite(float(v))
        },
        fairness_flags=list(metadata["fairness_flags"]),
    )


def _score_models(scored: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "risk": float(r.risk),
            "tier": str(r.tier),
            "raw_score": float(r.raw_score),
            "base_value": float(r.base_value),
            "contributions": [Contribution(**c) for c in r.contributions],
            "reasons": [
                Reason(feature=x["feature"], text_th=x["text_th"], text_en=x["text_en"])
                for x in r.reasons
            ],
            "suggested_step_th": _text(r.suggested_step_th),
            "suggested_step_en": _text(r.suggested_step_en),
        }
        for r in scored.itertuples()
    ]


def _text(value: object) -> str | None:
    """pandas stores a missing string as NaN; the API says null."""
    return value if isinstance(value, str) else None


@router.post("/api/v1/score", response_model=ScoreResponse, tags=["scoring"])
def score_students(request: ScoreRequest, state: StateDep, user: CurrentUser) -> ScoreResponse:
    """Score students by id as of a date (default today), computed now from the stored data."""
    ids = list(dict.fromkeys(request.student_ids))
    visible = set(visible_students(state.engine, user, ids))
    missing = [s for s in ids if s not in visible]
    if missing:
        raise HTTPException(404, f"{NOT_FOUND}: {', '.join(missing[:20])}")
    as_of = pd.Timestamp(request.as_of or date.today())
    rows = features_as_of(Sources.from_database(state.engine, ids), as_of, ids)
    not_enrolled = [s for s in ids if s not in set(rows["student_id"])]
    if not_enrolled:
        raise HTTPException(
            422, f"not enrolled in a term containing {as_of.date()}: {', '.join(not_enrolled[:20])}"
        )
    record_reads(state.engine, user, ids, "POST /api/v1/score")
    rows = (
        rows.set_index("student_id", drop=False).loc[ids].reset_index(drop=True)
    )  # the order asked for
    scored = state.scorer.score(rows)
    results = [
        StudentScore(student_id=student, **fields)
        for student, fields in zip(rows["student_id"], _score_models(scored), strict=True)
    ]
    return ScoreResponse(model_version=state.scorer.version, results=results)


@router.post("/api/v1/score/features", response_model=FeatureScoreResponse, tags=["scoring"])
async def score_features(
    request: FeatureRowsRequest, state: StateDep, user: CurrentUser
) -> dict[str, Any]:
    """Score rows of feature values (integrations, what-if questions); no student data is read."""
    # Async on purpose: the work is well under a millisecond, less than a thread hop costs.
    limit = state.settings.max_batch_rows
    if len(request.rows) > limit:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"at most {limit} rows per request; got {len(request.rows)}",
        )
    scorer = state.scorer
    catalog = scorer.catalog
    column = {f: i for i, f in enumerate(scorer.features)}
    matrix = np.full((len(request.rows), len(scorer.features)), np.nan)
    problems = []
    for number, row in enumerate(request.rows):
        for feature, value in row.items():
            spec = catalog.get(feature)
            if spec is None:
                problems.append(f"row {number}: unknown feature {feature!r}")
                continue
            if value is None:
                continue
            low, high = value_range(spec)
            if not math.isfinite(value) or not low <= value <= high:
                problems.append(f"row {number}: {feature}={value} is outside {low:g} to {high:g}")
            elif feature in column:
                matrix[number, column[feature]] = value
    if problems:
        raise HTTPException(422, "; ".join(problems[:20]))
    values = [{k: (math.nan if v is None else v) for k, v in row.items()} for row in request.rows]
    results = scorer.explain_rows(matrix, values)
    for result in results:
        result["reasons"] = [
            {k: r[k] for k in ("feature", "text_th", "text_en")} for r in result["reasons"]
        ]
    return {"model_version": scorer.version, "results": results}


def _latest_run(connection: sa.Connection, as_of: date | None) -> Any:
    query = (
        sa.select(score_runs)
        .order_by(score_runs.c.as_of.desc(), score_runs.c.run_id.desc())
        .limit(1)
    )
    if as_of is not None:
        query = query.where(score_runs.c.as_of <= as_of)
    return connection.execute(query).first()


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


def _no_run() -> HTTPException:
    return HTTPException(404, "no weekly run yet: run `ews score --as-of DATE`")


@router.get("/api/v1/risk-list", response_model=RiskList, tags=["lists"])
def risk_list(
    state: StateDep,
    user: CurrentUser,
    school_id: str | None = None,
    advisor_id: str | None = None,
    as_of: date | None = None,
    tier: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> RiskList:
    """The week's ranked list for a school or an advisor, within the caller's scope."""
    if not user.sees_students:
        raise HTTPException(404, "no such list")
    if user.role == "advisor":
        if advisor_id not in (None, user.staff_id):
            raise HTTPException(404, "no such list")
        advisor_id = user.staff_id
    if user.role == "committee":
        if school_id not in (None, user.school_id):
            raise HTTPException(404, "no such list")
        school_id = user.school_id
    with state.engine.connect() as connection:
        run = _latest_run(connection, as_of)
        if run is None:
            raise _no_run()
        query = sa.select(student_scores).where(student_scores.c.run_id == run.run_id)
        if school_id is not None:
            query = query.where(student_scores.c.school_id == school_id)
        if advisor_id is not None:
            query = query.where(student_scores.c.advisor_id == advisor_id)
        if tier:
            query = query.where(student_scores.c.tier.in_(tier))
        rank = (
            student_scores.c.rank_in_advisor
            if user.role == "advisor"
            else student_scores.c.rank_in_school
        )
        rows = connection.execute(query.order_by(rank).limit(limit)).all()
        students = _listed(connection, rows)
    record_reads(state.engine, user, [s.student_id for s in students], "GET /api/v1/risk-list")
    return RiskList(as_of=run.as_of, model_version=run.model_version, students=students)


def _require_student(state: AppState, user: User, student_id: str) -> None:
    placement = current_placement(state.engine, [student_id]).get(student_id)
    if placement is None or not in_scope(user, *placement):
        raise HTTPException(404, NOT_FOUND)


@router.get("/api/v1/students/{student_id}", response_model=StudentDetail, tags=["students"])
def student(student_id: str, state: StateDep, user: CurrentUser) -> StudentDetail:
    """A student's latest risk, reasons, contributions and risk history."""
    _require_student(state, user, student_id)
    with state.engine.connect() as connection:
        rows = connection.execute(
            sa.select(student_scores, score_runs.c.as_of)
            .join(score_runs, score_runs.c.run_id == student_scores.c.run_id)
            .where(student_scores.c.student_id == student_id)
            .order_by(score_runs.c.as_of, score_runs.c.run_id)
        ).all()
        latest = _listed(connection, rows[-1:])
        names = _names(connection, [student_id])
    record_reads(state.engine, user, [student_id], "GET /api/v1/students/{id}")
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


@router.get(
    "/api/v1/schools/{school_id}/home-visit-plan", response_model=HomeVisitPlan, tags=["lists"]
)
def home_visit_plan(
    school_id: str,
    state: StateDep,
    user: CurrentUser,
    capacity: Annotated[int | None, Query(ge=0, le=500)] = None,
    as_of: date | None = None,
) -> HomeVisitPlan:
    """This week's home visits: the highest-risk students not visited in the last 30 days."""
    if user.role != "committee" or user.school_id != school_id:
        raise HTTPException(404, "no such school")
    schools = TABLES["schools"]
    interventions = TABLES["interventions"]
    with state.engine.connect() as connection:
        run = _latest_run(connection, as_of)
        if run is None:
            raise _no_run()
        if capacity is None:
            setting = connection.execute(
                sa.select(schools.c.home_visit_capacity).where(schools.c.school_id == school_id)
            ).scalar()
            capacity = int(setting) if setting is not None else 5
        since = run.as_of - VISIT_WINDOW
        visited = sa.select(interventions.c.student_id).where(
            (interventions.c.type == "home_visit")
            & (interventions.c.date > since)
            & (interventions.c.date <= max(run.as_of, date.today()))
        )
        rows = connection.execute(
            sa.select(student_scores)
            .where(
                (student_scores.c.run_id == run.run_id)
                & (student_scores.c.school_id == school_id)
                & student_scores.c.student_id.not_in(visited)
            )
            .order_by(student_scores.c.rank_in_school)
            .limit(capacity)
        ).all()
        students = _listed(connection, rows)
    record_reads(
        state.engine,
        user,
        [s.student_id for s in students],
        "GET /api/v1/schools/{id}/home-visit-plan",
    )
    return HomeVisitPlan(school_id=school_id, as_of=run.as_of, capacity=capacity, students=students)


@router.post(
    "/api/v1/interventions", response_model=Intervention, status_code=201, tags=["interventions"]
)
def record_intervention(body: InterventionIn, state: StateDep, user: CurrentUser) -> Intervention:
    """Record what was done for a student (home visit, referral, ...)."""
    _require_student(state, user, body.student_id)
    if body.type not in INTERVENTION_TYPES:
        raise HTTPException(422, f"type must be one of {', '.join(INTERVENTION_TYPES)}")
    if body.outcome is not None and body.outcome not in OUTCOMES:
        raise HTTPException(422, f"outcome must be one of {', '.join(OUTCOMES)}")
    day = body.date or date.today()
    if day > date.today():
        raise HTTPException(422, "date is in the future")
    record = {
        "student_id": body.student_id,
        "date": day,
        "type": body.type,
        "outcome": body.outcome,
        "staff_id": user.staff_id,
    }
    table = TABLES["interventions"]
    with state.engine.begin() as connection:
        connection.execute(
            sa.delete(table).where(
                (table.c.student_id == body.student_id)
                & (table.c.date == day)
                & (table.c.type == body.type)
            )
        )
        connection.execute(sa.insert(table).values(**record))
    record_reads(state.engine, user, [body.student_id], "POST /api/v1/interventions")
    return Intervention(**record)


@router.get(
    "/api/v1/students/{student_id}/interventions",
    response_model=list[Intervention],
    tags=["interventions"],
)
def student_interventions(
    student_id: str, state: StateDep, user: CurrentUser
) -> list[Intervention]:
    """Everything recorded for a student, newest first."""
    _require_student(state, user, student_id)
    table = TABLES["interventions"]
    with state.engine.connect() as connection:
        rows = connection.execute(
            sa.select(table).where(table.c.student_id == student_id).order_by(table.c.date.desc())
        ).all()
    record_reads(state.engine, user, [student_id], "GET /api/v1/students/{id}/interventions")
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
