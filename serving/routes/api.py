"""JSON endpoints under /api/v1 (and /health).

Routes only translate HTTP to ``serving.records``; the app turns the queries' errors into
404 (not visible), 413 (too large) and 422 (bad input) in one place.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from core import clock
from serving import area, followups, records, worklist
from serving.access import student_key
from serving.deps import ApiCaller, CurrentUser, StateDep
from serving.schemas import (
    AreaSummary,
    FeatureRowsRequest,
    FeatureScoreResponse,
    Health,
    HomeVisitPlan,
    Intervention,
    InterventionIn,
    ListedElsewhere,
    MissingCase,
    MissingCaseUpdate,
    MissingCounts,
    ModelInfo,
    RecordId,
    ReturnedStudent,
    RiskList,
    ScoreRequest,
    ScoreResponse,
    StudentDetail,
    Tier,
)

router = APIRouter()


@router.get("/health", response_model=Health, tags=["service"])
def health(state: StateDep) -> Health:
    """Service status and the champion version."""
    return Health(status="ok", champion_version=state.scorer.version, scorer=state.scorer.kind)


@router.get("/api/v1/model", response_model=ModelInfo, tags=["model"])
def model_info(state: StateDep, user: CurrentUser) -> ModelInfo:
    """The champion: version, inputs, training window, test metrics and fairness flags."""
    metadata = state.scorer.bundle.metadata
    horizon = metadata.get("horizon_days")
    return ModelInfo(
        version=state.scorer.version,
        scorer=state.scorer.kind,
        features=state.scorer.features,
        horizon_days=None if horizon is None else int(horizon),
        training_window={k: str(v) for k, v in metadata.get("split", {}).items()},
        test_metrics={
            k: float(v)
            for k, v in metadata.get("test_metrics", {}).items()
            if v is not None and math.isfinite(float(v))
        },
        fairness_flags=list(metadata.get("fairness_flags", [])),
    )


@router.post("/api/v1/score", response_model=ScoreResponse, tags=["scoring"])
def score_students(
    request: ScoreRequest,
    state: StateDep,
    caller: ApiCaller,
) -> ScoreResponse:
    """Score students by id as of a date (default today), computed now from the stored data."""
    results = records.score_students(
        state.engine,
        state.scorer,
        caller,
        [student_key(caller.user, code, request.school_id) for code in request.student_ids],
        as_of=request.as_of or clock.today(),
    )
    return ScoreResponse(
        model_version=state.scorer.version, scorer=state.scorer.kind, results=results
    )


@router.post("/api/v1/score/features", response_model=FeatureScoreResponse, tags=["scoring"])
async def score_features(
    request: FeatureRowsRequest, state: StateDep, user: CurrentUser
) -> FeatureScoreResponse:
    """Score rows of feature values (integrations, what-if questions); no student data is read."""
    # Async on purpose: the work is well under a millisecond, less than a thread hop costs.
    results = records.score_feature_rows(state.scorer, request.rows, state.settings.max_batch_rows)
    return FeatureScoreResponse(
        model_version=state.scorer.version, scorer=state.scorer.kind, results=results
    )


@router.get("/api/v1/risk-list", response_model=RiskList, tags=["lists"])
def risk_list(
    state: StateDep,
    caller: ApiCaller,
    school_id: str | None = None,
    advisor_id: str | None = None,
    as_of: date | None = None,
    tier: Annotated[list[Tier] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="Students to skip, in rank order.")
    ] = 0,
) -> RiskList:
    """The week's ranked list for a school or an advisor, within the caller's scope:
    ``limit`` students from the ``offset``-th on (a large college, page by page)."""
    return records.risk_list(
        state.engine,
        caller,
        school_id=school_id,
        advisor_id=advisor_id,
        as_of=as_of,
        tiers=tier,
        limit=limit,
        offset=offset,
    )


@router.get("/api/v1/returned", response_model=list[ReturnedStudent], tags=["lists"])
def returned_children(
    state: StateDep,
    caller: ApiCaller,
) -> list[ReturnedStudent]:
    """The caller's children who came back to school after leaving, followed for
    ``EWS_FOLLOW_RETURNED_TERMS`` terms whatever their risk (an advisor's own, a
    committee's school)."""
    return followups.returned_followups(
        state.engine, caller, follow_terms=state.settings.follow_returned_terms
    )


@router.get("/api/v1/listed-elsewhere", response_model=list[ListedElsewhere], tags=["lists"])
def listed_elsewhere(
    state: StateDep,
    caller: ApiCaller,
) -> list[ListedElsewhere]:
    """The caller's students enrolled this term whom this week's list places at another
    school (the same child by their ID, marked at school there and not yet here): moved
    here, or given another child's ID."""
    return followups.listed_elsewhere(state.engine, caller)


@router.get("/api/v1/area", response_model=AreaSummary, tags=["area"])
def area_figures(
    state: StateDep,
    caller: ApiCaller,
) -> AreaSummary:
    """An area office's schools this week: counts by tier, change, action, referrals, stale
    data and trend; names only of cases referred outside the school. Analysts: every
    school, no name."""
    summary = area.area_summary(
        state.engine,
        caller,
        follow_terms=state.settings.follow_returned_terms,
    )
    if summary is None:
        raise records.NoWeeklyRun(records.NO_RUN_YET)
    return summary


@router.get("/api/v1/students/{student_id}", response_model=StudentDetail, tags=["students"])
def student(
    student_id: str,
    state: StateDep,
    caller: ApiCaller,
    school_id: str | None = None,
) -> StudentDetail:
    """A student's latest risk, reasons, contributions and risk history (the student's
    code at ``school_id``, by default the caller's school)."""
    return records.student_detail(
        state.engine,
        caller,
        student_key(caller.user, student_id, school_id),
    )


@router.get(
    "/api/v1/schools/{school_id}/home-visit-plan", response_model=HomeVisitPlan, tags=["lists"]
)
def home_visit_plan(
    school_id: str,
    state: StateDep,
    caller: ApiCaller,
    capacity: Annotated[int | None, Query(ge=0, le=500)] = None,
    as_of: date | None = None,
) -> HomeVisitPlan:
    """This week's home visits: the highest-risk students not visited in the last 30 days;
    beside them, where an analyst turned it on for the school, the same number in order of
    a visit's expected benefit (``by_benefit``)."""
    plan, _school = records.home_visit_plan(
        state.engine,
        caller,
        school_id,
        capacity=capacity,
        as_of=as_of,
        benefit=state.visit_benefit(),
    )
    return plan


@router.post(
    "/api/v1/interventions", response_model=Intervention, status_code=201, tags=["interventions"]
)
def record_intervention(
    body: InterventionIn,
    state: StateDep,
    caller: ApiCaller,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=100,
            description="A key of the sender's own for this record (a UUID): the same "
            "request sent again with it, after an answer that did not arrive, returns the "
            "record it made (200) instead of making a second.",
        ),
    ] = None,
) -> Intervention:
    """Record what was done for a student (home visit, referral, ...)."""
    record, made = records.record_intervention(
        state.engine,
        caller,
        student_key(caller.user, body.student_id, body.school_id),
        body.date,
        kind=body.type,
        outcome=body.outcome,
        corrects=body.corrects,
        request_key=idempotency_key,
    )
    if not made:
        response.status_code = 200
    return record


@router.get(
    "/api/v1/students/{student_id}/interventions",
    response_model=list[Intervention],
    tags=["interventions"],
)
def student_interventions(
    student_id: str,
    state: StateDep,
    caller: ApiCaller,
    school_id: str | None = None,
) -> list[Intervention]:
    """Everything recorded for a student at their school, newest first."""
    return records.interventions_of(
        state.engine,
        caller,
        student_key(caller.user, student_id, school_id),
    )


@router.get("/api/v1/missing-cases", response_model=list[MissingCase], tags=["missing"])
def missing_cases(state: StateDep, caller: ApiCaller, open_only: bool = False) -> list[MissingCase]:
    """The children to look for that the caller may see by name: a committee its school's,
    an advisor those they advised, an area office those referred outside or not found."""
    found = worklist.cases(state.engine, caller, open_only=open_only)
    return [_missing_case(c) for c in found]


@router.get("/api/v1/missing-cases/counts", response_model=list[MissingCounts], tags=["missing"])
def missing_counts(state: StateDep, user: CurrentUser) -> list[MissingCounts]:
    """Cases by school, status and age of the open ones (no names): a committee's school,
    an area office's schools, every school for an analyst."""
    return [
        MissingCounts(
            school_id=c.school_id,
            name=c.name,
            to_find=c.to_find,
            statuses=c.statuses,
            open_by_age=c.open_by_age,
        )
        for c in worklist.counts(state.engine, user)
    ]


@router.post("/api/v1/missing-cases/{case_id}", response_model=MissingCase, tags=["missing"])
def update_missing_case(
    case_id: RecordId, update: MissingCaseUpdate, state: StateDep, caller: ApiCaller
) -> MissingCase:
    """Record what was found of a child to look for (audited)."""
    change = worklist.CaseChange(
        status=update.status,
        owner_user_id=update.owner_user_id,
        reason_code=update.reason_code,
        help_needed=tuple(update.help_needed),
        agency=update.agency,
        found_school_id=update.found_school_id,
        found_on=update.found_on,
        seen=update.version,
    )
    return _missing_case(worklist.update_case(state.engine, caller, case_id, change))


def _missing_case(case: worklist.Case) -> MissingCase:
    fields = {name: getattr(case, name) for name in MissingCase.model_fields}
    return MissingCase(**fields)
