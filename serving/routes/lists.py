"""The advisor's and committee's pages: the week's list, a student's page, recording
what was done, and the committee's home-visit plan."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core import clock
from schooldata.contract import INTERVENTION_OUTCOMES, INTERVENTION_TYPES
from serving import cases, charts, followups, i18n, records
from serving.access import student_key
from serving.accounts import Caller
from serving.deps import (
    AppState,
    StateDep,
    WebCaller,
)
from serving.export import csv_bytes, list_frame
from serving.once import first_time, sent
from serving.routes.pages import (
    CommitteeCaller,
    FormKey,
    StudentCaller,
    attachment,
    check_csrf,
    language,
    local_target,
    not_found,
    render,
    take_word,
)
from serving.schemas import RecordId

router = APIRouter(include_in_schema=False)


def _page_key(once: str) -> str | None:
    """The form's key as a request key of its own kind (an API client's keys are theirs)."""
    return f"page:{once}" if once else None


GLANCE = (
    ("absence_rate_term", "absence_term", "{:.0%}"),
    ("absent_days_20d", "absence_20", "{:.0f}"),
    ("gpa_last_term", "gpa", "{:.2f}"),
    ("failed_subjects_last_term", "failed", "{:.0f}"),
    ("coursework_missing_28d", "missing_work", "{:.0f}"),
)


PAGE_SIZE = 100  # a school's list on a page; the download holds all of it
# The list's choice of tier: one of them, or every tier ("").
TierChoice = Annotated[str, Query(pattern="^(high|watch|low)?$")]


@router.get("/list", response_class=HTMLResponse)
def risk_list_page(
    request: Request,
    state: StateDep,
    caller: WebCaller,
    classroom: str | None = None,
    tier: TierChoice = "",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> HTMLResponse:
    words = i18n.words(language(request))
    if not caller.user.sees_students:
        return render(
            request,
            "message.html",
            caller.user,
            heading=words["list"],
            text=words["no_student_data"],
        )
    try:
        shown = records.list_page(
            state.engine,
            caller,
            tiers=[tier] if tier else None,
            classroom=classroom or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
    except records.NoWeeklyRun:
        return render(
            request, "message.html", caller.user, heading=words["list"], text=words["no_run"]
        )
    # A full page may have a next one (reading one more would audit a student unseen).
    more = len(shown.listing.students) == PAGE_SIZE
    returned = (
        followups.returned_followups(
            state.engine, caller, follow_terms=state.settings.follow_returned_terms
        )
        if page == 1
        else []
    )
    return render(
        request,
        "list.html",
        caller.user,
        returned=returned,
        school=shown.school,
        listing=shown.listing,
        scorer_kind=shown.listing.scorer,
        scorer_version=shown.listing.model_version,
        classrooms=shown.classrooms,
        classroom=classroom,
        tier=tier,
        page=page,
        more=more,
    )


@router.get("/list.csv")
def risk_list_csv(
    request: Request,
    state: StateDep,
    caller: StudentCaller,
    classroom: str | None = None,
    tier: TierChoice = "",
) -> Response:
    listing = records.risk_list(
        state.engine,
        caller,
        tiers=[tier] if tier else None,
        limit=None,  # the whole list, however large the school
        classroom=classroom or None,
        action="download",
    )
    rank_by = "rank_in_advisor" if caller.user.role == "advisor" else "rank_in_school"
    return attachment(
        csv_bytes(list_frame(listing, rank_by, language(request))),
        f"risk-list-{listing.as_of}.csv",
    )


@router.get("/students/{student_id}", response_class=HTMLResponse)
def student_page(
    request: Request,
    student_id: str,
    state: StateDep,
    caller: WebCaller,
    recorded: RecordId | None = None,
    undone: int = 0,
) -> HTMLResponse:
    return _student_page(
        request,
        student_id,
        state,
        caller,
        recorded=recorded,
        undone=bool(undone),
        case_error=take_word(request, f"/students/{quote(student_id)}"),
    )


def _student_page(
    request: Request,
    student_id: str,
    state: AppState,
    caller: Caller,
    error: str | None = None,
    status_code: int = 200,
    recorded: int | None = None,
    undone: bool = False,
    case_error: str | None = None,
) -> HTMLResponse:
    """The student page, with what was wrong in the form just sent if anything. The words
    of an error come from the service, never from the address: a link must not put words
    of its own on the service's page."""
    if not caller.user.school_id:
        return not_found(request, caller.user)
    key = student_key(caller.user, student_id)
    detail, interventions = records.student_page(state.engine, caller, key)
    student_cases = cases.cases_of(state.engine, caller, key)
    lang = language(request)
    words = i18n.words(lang)
    earlier = followups.earlier_records(state.engine, student_key(caller.user, student_id))
    values = {c.feature: c.value for c in detail.contributions}
    glance = [
        (key, label, fmt.format(values[key]) if values.get(key) is not None else "–")
        for key, label, fmt in GLANCE
    ]
    return render(
        request,
        "student.html",
        caller.user,
        status_code,
        detail=detail,
        scorer_kind=detail.scorer,
        scorer_version=detail.model_version,
        interventions=interventions,
        glance=glance,
        history_chart=charts.risk_history(
            detail.history,
            lang,
            marks=[(i.date, i18n.pick(i18n.INTERVENTIONS, i.type, lang)) for i in interventions]
            + [(c.opened_on, words["plan_began"]) for c in student_cases],
        ),
        contributions_chart=charts.contributions(
            detail.contributions,
            state.scorer.catalog,
            lang,
            context_label=i18n.words(lang)["context_factors"],
        ),
        intervention_types=INTERVENTION_TYPES,
        outcomes=INTERVENTION_OUTCOMES,
        today=clock.today(),
        error=error,
        earlier=earlier,
        recorded=records.undoable(state.engine, caller.user, recorded),
        undone=undone,
        undo_minutes=records.UNDO_MINUTES,
        back=f"/students/{quote(student_id)}",
        cases=student_cases,
        case_staff=cases.staff_of(state.engine, key.school_id),
        planned_default=cases.planned_for(
            detail.latest.suggested_step_th if detail.latest else None
        ),
        plan_text_default=(detail.latest.suggested_step_th or "") if detail.latest else "",
        case_outcomes=cases.CASE_OUTCOMES,
        restricted_kinds=cases.RESTRICTED,
        review_default=(clock.today() + timedelta(days=cases.REVIEW_EVERY_DAYS)).isoformat(),
        case_error=case_error,
    )


@router.post("/students/{student_id}/history-request")
def request_history(
    request: Request,
    student_id: str,
    state: StateDep,
    caller: WebCaller,
    csrf: Annotated[str, Form()],
) -> Response:
    """Ask the area office to see the child's records from the schools they were at."""
    check_csrf(request, csrf)
    followups.request_history(
        state.engine,
        caller,
        student_key(caller.user, student_id),
    )
    return RedirectResponse(f"/students/{quote(student_id)}", status_code=303)


@router.post("/students/{student_id}/interventions")
def record_from_page(
    request: Request,
    student_id: str,
    state: StateDep,
    caller: WebCaller,
    csrf: Annotated[str, Form()],
    type: Annotated[str, Form()],  # noqa: A002
    outcome: Annotated[str | None, Form()] = None,
    day: Annotated[date | None, Form(alias="date")] = None,
    once: FormKey = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        recorded, _made = records.record_intervention(
            state.engine,
            caller,
            student_key(caller.user, student_id),
            day,
            kind=type,
            outcome=outcome or None,
            request_key=_page_key(once),
        )
    except records.KeySentAgain:
        said = i18n.words(language(request))["form_sent_again"]
        return _student_page(request, student_id, state, caller, said, 409)
    except records.InvalidInput as error:
        return _student_page(request, student_id, state, caller, str(error), 422)
    return RedirectResponse(
        f"/students/{quote(student_id)}?recorded={recorded.intervention_id}", status_code=303
    )


@router.post("/interventions/{intervention_id}/undo")
def undo_record(
    request: Request,
    intervention_id: RecordId,
    state: StateDep,
    caller: WebCaller,
    csrf: Annotated[str, Form()],
    back: Annotated[str, Form(max_length=200)] = "/list",
    once: FormKey = "",
) -> Response:
    """Withdraw one's own record made in the last few minutes (a wrong click); the form
    sent again (a double click, the page left open) withdraws nothing more."""
    check_csrf(request, csrf)
    sending = sent(caller.user.user_id, once, intervention_id)
    try:
        records.withdraw_intervention(
            state.engine, caller, intervention_id, lambda c: first_time(c, sending)
        )
    except records.NotVisible:
        return not_found(request, caller.user)
    target = local_target(back)
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}undone=1", status_code=303)


@router.get("/plan", response_class=HTMLResponse)
def plan_page(
    request: Request,
    state: StateDep,
    caller: CommitteeCaller,
    recorded: RecordId | None = None,
    undone: int = 0,
) -> HTMLResponse:
    return _plan(request, state, caller, recorded=recorded, undone=bool(undone))


def _plan(
    request: Request,
    state: AppState,
    caller: Caller,
    error: str | None = None,
    status_code: int = 200,
    recorded: int | None = None,
    undone: bool = False,
) -> HTMLResponse:
    if caller.user.school_id is None:  # a committee's own school (its routes' role)
        return not_found(request, caller.user)
    try:
        plan, school = records.home_visit_plan(
            state.engine,
            caller,
            caller.user.school_id,
            benefit=state.visit_benefit(),
        )
    except records.NoWeeklyRun:
        words = i18n.words(language(request))
        return render(
            request, "message.html", caller.user, heading=words["plan"], text=words["no_run"]
        )
    return render(
        request,
        "plan.html",
        caller.user,
        status_code,
        school=school,
        plan=plan,
        scorer_kind=plan.scorer,
        scorer_version=plan.model_version,
        outcomes=INTERVENTION_OUTCOMES,
        error=error,
        recorded=records.undoable(state.engine, caller.user, recorded),
        undone=undone,
        undo_minutes=records.UNDO_MINUTES,
        back="/plan",
    )


@router.post("/plan/capacity")
def plan_capacity(
    request: Request,
    state: StateDep,
    caller: CommitteeCaller,
    csrf: Annotated[str, Form()],
    capacity: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    try:
        visits = int(capacity.strip())
    except ValueError:
        return _plan(
            request, state, caller, f"capacity must be a whole number, not {capacity!r}", 422
        )
    try:
        records.set_school_capacity(state.engine, caller, caller.user.school_id or "", visits)
    except records.InvalidInput as error:
        return _plan(request, state, caller, str(error), 422)
    return RedirectResponse("/plan", status_code=303)


@router.post("/plan/visits")
def plan_visit(
    request: Request,
    state: StateDep,
    caller: CommitteeCaller,
    csrf: Annotated[str, Form()],
    student_id: Annotated[str, Form()],
    outcome: Annotated[str, Form()] = "",
    once: FormKey = "",
) -> Response:
    check_csrf(request, csrf)
    if not outcome:
        words = i18n.words(language(request))
        return _plan(request, state, caller, words["choose_outcome"].strip("— "), 422)
    try:
        recorded, _made = records.record_intervention(
            state.engine,
            caller,
            student_key(caller.user, student_id),
            None,
            kind="home_visit",
            outcome=outcome,
            request_key=_page_key(once),
        )
    except records.KeySentAgain:
        return _plan(request, state, caller, i18n.words(language(request))["form_sent_again"], 409)
    except records.InvalidInput as error:
        return _plan(request, state, caller, str(error), 422)
    return RedirectResponse(f"/plan?recorded={recorded.intervention_id}", status_code=303)


# ------------------------------------------------------------------- the analyst's pages
