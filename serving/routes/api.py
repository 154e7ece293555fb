"""JSON endpoints under /api/v1 (and /health)."""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, status

from features.build import features_as_of
from features.catalog import value_range
from features.sources import Sources
from serving import queries
from serving.access import record_reads, visible_students
from serving.app import CurrentUser, StateDep
from serving.schemas import (
    Contribution,
    FeatureRowsRequest,
    FeatureScoreResponse,
    Health,
    HomeVisitPlan,
    Intervention,
    InterventionIn,
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


def _http(error: LookupError | ValueError) -> HTTPException:
    """Domain errors as HTTP: anything not visible is 404, bad input 422."""
    if isinstance(error, queries.InvalidInput):
        return HTTPException(422, str(error))
    return HTTPException(404, str(error))


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
    try:
        return queries.risk_list(
            state.engine, user, "GET /api/v1/risk-list", school_id, advisor_id, as_of, tier, limit
        )
    except LookupError as error:
        raise _http(error) from None


@router.get("/api/v1/students/{student_id}", response_model=StudentDetail, tags=["students"])
def student(student_id: str, state: StateDep, user: CurrentUser) -> StudentDetail:
    """A student's latest risk, reasons, contributions and risk history."""
    try:
        return queries.student_detail(state.engine, user, student_id, "GET /api/v1/students/{id}")
    except LookupError as error:
        raise _http(error) from None


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
    try:
        return queries.home_visit_plan(
            state.engine,
            user,
            school_id,
            "GET /api/v1/schools/{id}/home-visit-plan",
            capacity,
            as_of,
        )
    except LookupError as error:
        raise _http(error) from None


@router.post(
    "/api/v1/interventions", response_model=Intervention, status_code=201, tags=["interventions"]
)
def record_intervention(body: InterventionIn, state: StateDep, user: CurrentUser) -> Intervention:
    """Record what was done for a student (home visit, referral, ...)."""
    try:
        return queries.record_intervention(
            state.engine,
            user,
            body.student_id,
            body.date,
            body.type,
            body.outcome,
            "POST /api/v1/interventions",
        )
    except (LookupError, ValueError) as error:
        raise _http(error) from None


@router.get(
    "/api/v1/students/{student_id}/interventions",
    response_model=list[Intervention],
    tags=["interventions"],
)
def student_interventions(
    student_id: str, state: StateDep, user: CurrentUser
) -> list[Intervention]:
    """Everything recorded for a student, newest first."""
    try:
        return queries.interventions_of(
            state.engine, user, student_id, "GET /api/v1/students/{id}/interventions"
        )
    except LookupError as error:
        raise _http(error) from None
