"""Server-rendered pages for advisors and care committees (Thai first, English available).

Sign-in takes the same staff token as the API and keeps a signed session cookie
(HttpOnly, SameSite=strict, 8 hours). Every form carries a per-session CSRF token. The
pages use the same queries, scopes and audit log as the API.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.concurrency import run_in_threadpool

from schooldata import audit
from schooldata.contract import INTERVENTION_OUTCOMES, INTERVENTION_TYPES
from serving import area, cases, charts, followups, i18n, records, reports, translate, uploads
from serving.access import student_key
from serving.accounts import (
    EMAIL,
    ROLES,
    AccountError,
    TooManyAttempts,
    User,
    authenticate,
    check_password,
    create_user,
    end_session,
    find_by_username,
    list_users,
    messages_of,
    revoke,
    schools_of_province,
    set_messages,
    set_password,
    start_session,
    temporary_password,
    unassigned_classrooms,
)
from serving.deps import (
    SESSION_KEY,
    AppState,
    RouteDep,
    StateDep,
    WebUser,
    client_of,
    route_of,
    web_user_of,
)
from serving.export import csv_bytes, list_frame
from serving.model_store import RULE_TOP
from serving.operations import operations
from serving.sso import OAuthError

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parents[1] / "templates"))
# Dates, classrooms and grade levels as the page's language writes them (30 มี.ค. 2569, ม.5/2).
templates.env.filters["day"] = pass_context(lambda c, v: i18n.day(v, c.get("lang", "th")))
templates.env.filters["room"] = pass_context(lambda c, v: i18n.classroom(v, c.get("lang", "th")))
templates.env.filters["grade"] = pass_context(lambda c, v: i18n.grade(v, c.get("lang", "th")))
# A ratio or figure with two decimals; an infinite one (nobody in the reference) as ∞.
templates.env.filters["figure"] = lambda v: "–" if v is None else i18n.figure(v)
LANG_COOKIE = "lang"
# What the student page shows "at a glance", from the model's inputs of the latest run.
GLANCE = (
    ("absence_rate_term", "absence_term", "{:.0%}"),
    ("absent_days_20d", "absence_20", "{:.0f}"),
    ("gpa_last_term", "gpa", "{:.2f}"),
    ("failed_subjects_last_term", "failed", "{:.0f}"),
    ("coursework_missing_28d", "missing_work", "{:.0f}"),
)


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "th")
    return chosen if chosen in i18n.LANGUAGES else "th"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, submitted: str) -> None:
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(str(expected), submitted):
        raise HTTPException(403, "the form has expired: reload the page and try again")


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    lang = language(request)
    # A check's message (a form error, a refused file) in the page's language.
    for key in ("error", "text"):
        if isinstance(context.get(key), str):
            context[key] = translate.in_language(context[key], lang)
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": csrf_token(request),
            **page_words(lang, context.get("scorer_kind")),
            **context,
        },
        status_code=status_code,
    )


def page_words(lang: str, scorer_kind: str | None = None) -> dict[str, Any]:
    """What every template says in words: the page's language, its labels and the words
    for tiers, changes, help, roles and the list's scorer."""
    words = i18n.words(lang)
    rule = scorer_kind == "abc_rule"
    return {
        "lang": lang,
        "t": words,
        "tier_word": lambda k: i18n.pick(i18n.TIERS, k, lang),
        "change_word": lambda k: i18n.pick(i18n.CHANGES, k, lang),
        "intervention_word": lambda k: i18n.pick(i18n.INTERVENTIONS, k, lang),
        "outcome_word": lambda k: i18n.pick(i18n.OUTCOMES, k, lang),
        "role_word": lambda k: i18n.pick(i18n.ROLES, k, lang),
        "scorer_word": lambda kind, version: i18n.scorer_label(kind, version, lang),
        "say": lambda message: translate.in_language(message, lang),
        "metric_word": lambda k: i18n.pick(i18n.METRICS, k, lang),
        "scorer_column": lambda k: i18n.pick(i18n.SCORER_COLUMNS, k, lang),
        "decision_word": lambda k: i18n.pick(i18n.DECISIONS, k, lang),
        "shape_word": lambda k: i18n.pick(i18n.SHAPES, k, lang),
        "group_word": lambda a, g: translate.group_word(a, g, lang),
        "fairness_flag": lambda f: translate.fairness_flag(f, lang),
        "feature_word": lambda f: i18n.feature_name(f, lang),
        "phase_word": lambda p: i18n.phase(p, lang),
        "lower_is_better": i18n.LOWER_IS_BETTER,
        # The rule's "risk" is the share of its three flags, not a probability.
        "risk_figure": lambda risk: (
            words["abc_flags"].format(int(risk * RULE_TOP + 1e-9)) if rule else i18n.percent(risk)
        ),
    }


def not_found(request: Request, user: User | None) -> HTMLResponse:
    words = i18n.words(language(request))
    return render(
        request, "message.html", user, 404, heading=words["not_found"], text=words["not_found_text"]
    )


def error_page(request: Request, status: int, error: Exception) -> HTMLResponse:
    """A domain error on a page: not found, nothing scored yet, or a bad value."""
    words = i18n.words(language(request))
    if isinstance(error, records.NoWeeklyRun):
        return render(
            request, "message.html", None, status, heading=words["list"], text=words["no_run"]
        )
    if status == 404:
        return not_found(request, None)
    return render(
        request, "message.html", None, status, heading=words["not_found"], text=str(error)
    )


# Where each role starts.
HOME = {
    "advisor": "/list",
    "committee": "/list",
    "data_officer": "/upload",
    "area": "/area",
    "analyst": "/model",
    "admin": "/admin",
}


@router.get("/", response_class=RedirectResponse)
def home(user: WebUser) -> RedirectResponse:
    return RedirectResponse(HOME.get(user.role, "/list"), status_code=303)


# Pages of one role or a few: anyone else is answered 404, as if the page did not exist.
AdminUser = Annotated[User, web_user_of("admin")]
AnalystUser = Annotated[User, web_user_of("analyst")]
AreaUser = Annotated[User, web_user_of(*area.AREA_ROLES)]
UploadUser = Annotated[User, web_user_of(*uploads.UPLOAD_ROLES)]

AREA_PAGE = 50  # schools on a page of the area's table; the totals count every school


@router.get("/area", response_class=HTMLResponse)
def area_page(
    route: RouteDep,
    request: Request,
    state: StateDep,
    user: AreaUser,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> HTMLResponse:
    """An area office's schools (an analyst: every school), counts only: the totals, then
    the schools most in need first (stale data, then the most students at high risk),
    a page at a time."""
    summary = area.area_summary(
        state.engine,
        user,
        endpoint=route,
        follow_terms=state.settings.follow_returned_terms,
        with_trends=False,
    )
    if summary is None:
        words = i18n.words(language(request))
        return render(request, "message.html", user, heading=words["area"], text=words["no_run"])
    ordered = sorted(summary.schools, key=lambda s: (not s.stale, -s.high, -s.watch, s.school_id))
    shown = ordered[(page - 1) * AREA_PAGE : page * AREA_PAGE]
    return render(
        request,
        "area.html",
        user,
        summary=summary,
        schools=shown,
        totals=area.totals(summary.schools),
        page=page,
        more=page * AREA_PAGE < len(ordered),
        trends=area.school_trends(state.engine, user, [s.school_id for s in shown]),
        trend_chart=charts.trend,
        requests=followups.history_requests(state.engine, user),
    )


@router.post("/area/history")
def decide_history(
    route: RouteDep,
    request: Request,
    state: StateDep,
    user: WebUser,
    csrf: Annotated[str, Form()],
    school_id: Annotated[str, Form(max_length=64)],
    student_id: Annotated[str, Form(max_length=64)],
    decision: Annotated[str, Form(pattern="^(grant|decline)$")],
) -> Response:
    """An area office lets a school see a moved child's earlier records, or declines."""
    check_csrf(request, csrf)
    followups.decide_history(
        state.engine,
        user,
        student_key(user, student_id, school_id),
        decision == "grant",
        endpoint=route,
    )
    return RedirectResponse("/area", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep) -> HTMLResponse:
    return render(request, "login.html", None, sso=state.sso is not None)


@router.post("/login", response_class=HTMLResponse)
def login(
    route: RouteDep,
    request: Request,
    state: StateDep,
    csrf: Annotated[str, Form()],
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    token: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Sign in with a username and password (or, for integrations, an access token)."""
    check_csrf(request, csrf)
    words = i18n.words(language(request))
    client = client_of(request)
    account = username.strip().lower() or None
    try:
        state.limiter.check(client, account)
    except TooManyAttempts:
        return render(request, "login.html", None, 429, error=words["too_many"])
    if account:
        user = check_password(state.engine, account, password)
    else:
        user = authenticate(state.engine, token.strip()) if token.strip() else None
    if user is None:
        state.limiter.failed(client, account)
        # Who tried (the username, never the password or token) and from where.
        detail = f"username {account[:60]}; client {client}" if account else f"client {client}"
        audit.record(state.engine, [audit.Entry("sign_in_failed", route, detail=detail)])
        return render(request, "login.html", None, 401, error=words["bad_sign_in"])
    request.session.clear()
    request.session[SESSION_KEY] = start_session(state.engine, user)
    request.session["csrf"] = secrets.token_urlsafe(24)
    audit.record(state.engine, [audit.Entry("sign_in", route, user.user_id)])
    return RedirectResponse("/password" if user.must_change_password else "/", status_code=303)


@router.get("/login/sso")
async def sso_start(request: Request, state: StateDep) -> Response:
    """Single sign-on: off the service's hands to the school's identity provider."""
    if state.sso is None:
        return not_found(request, None)
    return await state.sso.redirect(request, str(request.url_for("sso_callback")))  # type: ignore[no-any-return]


@router.get("/login/sso/callback", name="sso_callback")
async def sso_callback(request: Request, state: StateDep, route: RouteDep) -> Response:
    """The provider's answer: sign in the account whose username it vouches for."""
    if state.sso is None:
        return not_found(request, None)
    words = i18n.words(language(request))
    client = client_of(request)
    try:
        state.limiter.check(client)
        username = await state.sso.username(request)
    except TooManyAttempts:
        return render(request, "login.html", None, 429, error=words["too_many"], sso=True)
    except OAuthError as error:
        await run_in_threadpool(
            audit.record,
            state.engine,
            [audit.Entry("sign_in_failed", route, detail=f"sso: {error.error}"[:200])],
        )
        return render(request, "login.html", None, 401, error=words["bad_sign_in"], sso=True)
    user = await run_in_threadpool(find_by_username, state.engine, username) if username else None
    if user is None:
        state.limiter.failed(client)
        detail = f"sso: no account {username[:60]!r}" if username else "sso: no username claim"
        await run_in_threadpool(
            audit.record,
            state.engine,
            [audit.Entry("sign_in_failed", route, detail=f"{detail}; client {client}")],
        )
        return render(request, "login.html", None, 403, error=words["sso_unknown"], sso=True)
    request.session.clear()
    request.session[SESSION_KEY] = await run_in_threadpool(start_session, state.engine, user)
    request.session["csrf"] = secrets.token_urlsafe(24)
    await run_in_threadpool(
        audit.record,
        state.engine,
        [audit.Entry("sign_in", route, user.user_id, detail="sso")],
    )
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
def logout(request: Request, state: StateDep, csrf: Annotated[str, Form()]) -> RedirectResponse:
    check_csrf(request, csrf)
    session_id = request.session.get(SESSION_KEY)
    if session_id:
        end_session(state.engine, str(session_id))  # a copied cookie stops working too
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, user: WebUser) -> HTMLResponse:
    return render(request, "password.html", user)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, state: StateDep, user: WebUser) -> HTMLResponse:
    """One's own account: the weekly message (address, on or off) and the password."""
    return _account(request, state, user)


@router.post("/account/messages", response_class=HTMLResponse)
def account_messages(
    request: Request,
    state: StateDep,
    user: WebUser,
    csrf: Annotated[str, Form()],
    email: Annotated[str, Form(max_length=254)] = "",
    notify: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    check_csrf(request, csrf)
    words = i18n.words(language(request))
    try:
        set_messages(state.engine, user.user_id, email, notify == "on", f"user:{user.user_id}")
    except AccountError:
        return _account(request, state, user, 422, error=words["email_invalid"], email=email)
    return _account(request, state, user, notice=words["saved"])


def _account(
    request: Request,
    state: AppState,
    user: User,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    email: str | None = None,
) -> HTMLResponse:
    stored, notify = messages_of(state.engine, user.user_id)
    return render(
        request,
        "account.html",
        user,
        status_code,
        email=stored if email is None else email,
        notify=notify,
        error=error,
        notice=notice,
        gets_messages=user.role in ("advisor", "committee"),
    )


@router.post("/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    state: StateDep,
    user: WebUser,
    csrf: Annotated[str, Form()],
    current: Annotated[str, Form(max_length=500)],
    new: Annotated[str, Form(max_length=500)],
    again: Annotated[str, Form(max_length=500)],
) -> Response:
    """Set one's own password (required at the first sign-in and after a reset)."""
    check_csrf(request, csrf)
    words = i18n.words(language(request))
    if not user.username or check_password(state.engine, user.username, current) is None:
        return render(request, "password.html", user, 400, error=words["bad_current"])
    if new != again:
        return render(request, "password.html", user, 400, error=words["passwords_differ"])
    if new == current:
        return render(request, "password.html", user, 400, error=words["password_same"])
    try:
        set_password(state.engine, user.user_id, new, f"user:{user.user_id}", must_change=False)
    except AccountError:
        return render(request, "password.html", user, 400, error=words["password_short"])
    return RedirectResponse("/", status_code=303)


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/list") -> RedirectResponse:  # noqa: A002
    target = next if next.startswith("/") and not next.startswith("//") else "/list"
    response = RedirectResponse(target, status_code=303)
    if code in i18n.LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 24 * 3600, httponly=True, samesite="strict"
        )
    return response


PAGE_SIZE = 100  # a school's list on a page; the download holds all of it


@router.get("/list", response_class=HTMLResponse)
def risk_list_page(
    route: RouteDep,
    request: Request,
    state: StateDep,
    user: WebUser,
    classroom: str | None = None,
    tier: str | None = None,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> HTMLResponse:
    words = i18n.words(language(request))
    if not user.sees_students:
        return render(
            request, "message.html", user, heading=words["list"], text=words["no_student_data"]
        )
    try:
        shown = records.list_page(
            state.engine,
            user,
            endpoint=route,
            tiers=[tier] if tier else None,
            classroom=classroom or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
    except records.NoWeeklyRun:
        return render(request, "message.html", user, heading=words["list"], text=words["no_run"])
    # A full page may have a next one (reading one more would audit a student unseen).
    more = len(shown.listing.students) == PAGE_SIZE
    returned = (
        followups.returned_followups(
            state.engine, user, endpoint=route, follow_terms=state.settings.follow_returned_terms
        )
        if page == 1
        else []
    )
    return render(
        request,
        "list.html",
        user,
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
    route: RouteDep,
    request: Request,
    state: StateDep,
    user: WebUser,
    classroom: str | None = None,
    tier: str | None = None,
) -> Response:
    if not user.sees_students:
        return not_found(request, user)
    listing = records.risk_list(
        state.engine,
        user,
        endpoint=route,
        tiers=[tier] if tier else None,
        limit=5000,
        classroom=classroom or None,
        action="download",
    )
    rank_by = "rank_in_advisor" if user.role == "advisor" else "rank_in_school"
    name = quote(f"risk-list-{listing.as_of}.csv")
    return Response(
        csv_bytes(list_frame(listing, rank_by, language(request))),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


@router.get("/students/{student_id}", response_class=HTMLResponse)
def student_page(
    request: Request,
    student_id: str,
    state: StateDep,
    user: WebUser,
    error: str | None = None,
    recorded: int | None = None,
    undone: int = 0,
    case_error: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    if not user.school_id:
        return not_found(request, user)
    key = student_key(user, student_id)
    route = route_of(request)  # also when another route shows the page again
    detail, interventions = records.student_page(state.engine, user, key, endpoint=route)
    student_cases = cases.cases_of(state.engine, user, key, endpoint=route)
    lang = language(request)
    words = i18n.words(lang)
    earlier = followups.earlier_records(state.engine, student_key(user, student_id))
    values = {c.feature: c.value for c in detail.contributions}
    glance = [
        (key, label, fmt.format(values[key]) if values.get(key) is not None else "–")
        for key, label, fmt in GLANCE
    ]
    return render(
        request,
        "student.html",
        user,
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
        today=date.today().isoformat(),
        error=error,
        earlier=earlier,
        recorded=records.undoable(state.engine, user, recorded),
        undone=bool(undone),
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
        review_default=(date.today() + timedelta(days=cases.REVIEW_EVERY_DAYS)).isoformat(),
        case_error=case_error,
    )


@router.post("/students/{student_id}/history-request")
def request_history(
    route: RouteDep,
    request: Request,
    student_id: str,
    state: StateDep,
    user: WebUser,
    csrf: Annotated[str, Form()],
) -> Response:
    """Ask the area office to see the child's records from the schools they were at."""
    check_csrf(request, csrf)
    followups.request_history(
        state.engine,
        user,
        student_key(user, student_id),
        endpoint=route,
    )
    return RedirectResponse(f"/students/{quote(student_id)}", status_code=303)


@router.post("/students/{student_id}/interventions")
def record_from_page(
    route: RouteDep,
    request: Request,
    student_id: str,
    state: StateDep,
    user: WebUser,
    csrf: Annotated[str, Form()],
    type: Annotated[str, Form()],  # noqa: A002
    outcome: Annotated[str | None, Form()] = None,
    day: Annotated[date | None, Form(alias="date")] = None,
) -> Response:
    check_csrf(request, csrf)
    try:
        recorded = records.record_intervention(
            state.engine,
            user,
            student_key(user, student_id),
            day,
            kind=type,
            outcome=outcome or None,
            endpoint=route,
        )
    except records.InvalidInput as error:
        return student_page(request, student_id, state, user, error=str(error))
    return RedirectResponse(
        f"/students/{quote(student_id)}?recorded={recorded.intervention_id}", status_code=303
    )


@router.post("/interventions/{intervention_id}/undo")
def undo_record(
    request: Request,
    intervention_id: int,
    state: StateDep,
    user: WebUser,
    csrf: Annotated[str, Form()],
    back: Annotated[str, Form(max_length=200)] = "/list",
) -> Response:
    """Withdraw one's own record made in the last few minutes (a wrong click)."""
    check_csrf(request, csrf)
    try:
        records.withdraw_intervention(
            state.engine, user, intervention_id, endpoint=route_of(request)
        )
    except records.NotVisible:
        return not_found(request, user)
    target = back if back.startswith("/") and not back.startswith("//") else "/list"
    return RedirectResponse(f"{target}{'&' if '?' in target else '?'}undone=1", status_code=303)


@router.get("/plan", response_class=HTMLResponse)
def plan_page(
    request: Request, state: StateDep, user: WebUser, recorded: int | None = None, undone: int = 0
) -> HTMLResponse:
    return _plan(request, state, user, recorded=recorded, undone=bool(undone))


def _plan(
    request: Request,
    state: AppState,
    user: User,
    error: str | None = None,
    status_code: int = 200,
    recorded: int | None = None,
    undone: bool = False,
) -> HTMLResponse:
    if user.role != "committee" or user.school_id is None:
        return not_found(request, user)
    try:
        plan, school = records.home_visit_plan(
            state.engine,
            user,
            user.school_id,
            endpoint=route_of(request),
            benefit=state.visit_benefit(),
        )
    except records.NoWeeklyRun:
        words = i18n.words(language(request))
        return render(request, "message.html", user, heading=words["plan"], text=words["no_run"])
    return render(
        request,
        "plan.html",
        user,
        status_code,
        school=school,
        plan=plan,
        scorer_kind=plan.scorer,
        scorer_version=plan.model_version,
        outcomes=INTERVENTION_OUTCOMES,
        error=error,
        recorded=records.undoable(state.engine, user, recorded),
        undone=undone,
        undo_minutes=records.UNDO_MINUTES,
        back="/plan",
    )


@router.post("/plan/capacity")
def plan_capacity(
    request: Request,
    state: StateDep,
    user: WebUser,
    csrf: Annotated[str, Form()],
    capacity: Annotated[str, Form()],
) -> Response:
    check_csrf(request, csrf)
    try:
        visits = int(capacity.strip())
    except ValueError:
        return _plan(
            request, state, user, f"capacity must be a whole number, not {capacity!r}", 422
        )
    try:
        records.set_school_capacity(state.engine, user, user.school_id or "", visits)
    except records.InvalidInput as error:
        return _plan(request, state, user, str(error), 422)
    return RedirectResponse("/plan", status_code=303)


@router.post("/plan/visits")
def plan_visit(
    route: RouteDep,
    request: Request,
    state: StateDep,
    user: WebUser,
    csrf: Annotated[str, Form()],
    student_id: Annotated[str, Form()],
    outcome: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    if not outcome:
        words = i18n.words(language(request))
        return _plan(request, state, user, words["choose_outcome"].strip("— "), 422)
    try:
        recorded = records.record_intervention(
            state.engine,
            user,
            student_key(user, student_id),
            None,
            kind="home_visit",
            outcome=outcome,
            endpoint=route,
        )
    except records.InvalidInput as error:
        return _plan(request, state, user, str(error), 422)
    return RedirectResponse(f"/plan?recorded={recorded.intervention_id}", status_code=303)


# ------------------------------------------------------------------- the analyst's pages


@router.get("/model", response_class=HTMLResponse)
def model_page(
    request: Request,
    state: StateDep,
    user: AnalystUser,
    benefit_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Champion and challenger side by side, fairness, drift, effects and promotions, and
    the per-school switch of the benefit order; no student."""
    if state.reports is None:
        return not_found(request, user)
    report = state.reports.report()
    fairness = (
        state.reports.fairness(report.champion.run_id) if report.champion is not None else None
    )
    effects, effects_made = state.reports.effects()
    benefit, benefit_why = state.reports.visit_benefit(fresh=True)
    return render(
        request,
        "model.html",
        user,
        status_code,
        report=report,
        effects=effects.to_dict("records"),
        effects_made=effects_made,
        benefit=benefit,
        benefit_why=benefit_why,
        benefit_error=benefit_error,
        order_schools=reports.plan_order_schools(state.engine),
        versions=[v for v in (report.champion, report.challenger) if v is not None],
        fairness=fairness.to_dict("records") if fairness is not None else [],
        drift=reports.latest_drift(state.engine),
        plots=PLOT_TITLES,
        drift_word=lambda k: i18n.pick(i18n.DRIFT, k, language(request)),
        fairness_word=lambda k: i18n.pick(i18n.FAIRNESS, k, language(request)),
    )


@router.post("/model/benefit-order")
def benefit_order(
    route: RouteDep,
    request: Request,
    state: StateDep,
    user: AnalystUser,
    csrf: Annotated[str, Form()],
    school_id: Annotated[str, Form()],
    on: Annotated[str, Form()],
) -> Response:
    """An analyst turns a school's benefit order on or off."""
    check_csrf(request, csrf)
    if state.reports is None:
        return not_found(request, user)
    available = state.visit_benefit() is not None
    try:
        records.set_benefit_order(
            state.engine,
            user,
            school_id,
            on == "true",
            available=available,
            endpoint=route,
        )
    except records.InvalidInput as error:
        return model_page(request, state, user, str(error), 422)
    return RedirectResponse("/model", status_code=303)


PLOT_TITLES = {
    "calibration.png": ("การปรับเทียบความน่าจะเป็น", "Calibration"),
    "precision_at_k.png": ("ความแม่นยำของลำดับแรก", "Precision at the top"),
}


@router.get("/model/plots/{version}/{name}")
def model_plot(
    request: Request, version: str, name: str, state: StateDep, user: AnalystUser
) -> Response:
    """A plot of the champion's or the challenger's training run."""
    if state.reports is None:
        return not_found(request, user)
    report = state.reports.report()
    runs = {v.version: v.run_id for v in (report.champion, report.challenger) if v is not None}
    path = None
    if version in runs and name.endswith(".png"):
        # The plot in the page's language, when the run made one.
        if language(request) == "th":
            path = state.reports.file(runs[version], name.replace(".png", ".th.png"))
        path = path or state.reports.file(runs[version], name)
    if path is None:
        return not_found(request, user)
    return Response(
        path.read_bytes(), media_type="image/png", headers={"Cache-Control": "private, max-age=600"}
    )


@router.get("/outcomes", response_class=HTMLResponse)
def outcomes_page(request: Request, state: StateDep, user: WebUser) -> HTMLResponse:
    """Past lists against what happened: a committee its school, an analyst every school."""
    found = reports.outcomes(state.engine, user)
    if found is None:
        return not_found(request, user)
    return render(request, "outcomes.html", user, outcomes=found)


# ------------------------------------------------------------------------- the admin's page


def _admin(
    request: Request,
    state: AppState,
    user: User,
    status_code: int = 200,
    notice: str | None = None,
    secret: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin.html",
        user,
        status_code,
        accounts=list_users(state.engine),
        classrooms=unassigned_classrooms(state.engine),
        roles=ROLES,
        notice=notice,
        secret=secret,
        error=error,
        form=form,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, state: StateDep, user: AdminUser) -> HTMLResponse:
    """Accounts: create, reset a password, deactivate. No secret is ever shown twice."""
    return _admin(request, state, user)


@router.get("/admin/operations", response_class=HTMLResponse)
def operations_page(request: Request, state: StateDep, user: AdminUser) -> HTMLResponse:
    """The weekly runs: last and next, how long they take, skipped schools, failures with
    their error ids, messages and the scorer in use."""
    return render(request, "operations.html", user, ops=operations(state.settings, state.engine))


@router.post("/admin/accounts", response_class=HTMLResponse)
def admin_create(
    request: Request,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()],
    role: Annotated[str, Form(max_length=40)],
    name: Annotated[str, Form(max_length=200)],
    username: Annotated[str, Form(max_length=40)],
    school_id: Annotated[str, Form(max_length=64)] = "",
    staff_id: Annotated[str, Form(max_length=64)] = "",
    schools: Annotated[str, Form(max_length=4000)] = "",
    province: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    chair: Annotated[str, Form(max_length=5)] = "",
) -> HTMLResponse:
    check_csrf(request, csrf)
    words = i18n.words(language(request))
    actor = f"user:{user.user_id}"
    # What was typed comes back with an error, so nothing has to be typed again.
    typed = {
        "role": role,
        "name": name,
        "username": username,
        "school_id": school_id,
        "staff_id": staff_id,
        "schools": schools,
        "province": province,
        "email": email,
        "chair": chair,
    }
    if email.strip() and not EMAIL.match(email.strip()):
        return _admin(request, state, user, 422, error=words["email_invalid"], form=typed)
    try:
        followed = [s.strip() for s in schools.split(",") if s.strip()]
        if province.strip():
            followed += schools_of_province(state.engine, province)
        created, _token = create_user(  # the token is not shown: people sign in by password
            state.engine,
            role,
            name.strip(),
            staff_id=staff_id.strip() or None,
            school_id=school_id.strip() or None,
            username=username.strip().lower(),
            schools=followed,
            actor=actor,
            chair=bool(chair),
        )
        temporary = temporary_password()
        set_password(state.engine, created.user_id, temporary, actor, must_change=True)
        if email.strip():
            set_messages(state.engine, created.user_id, email, True, actor)
    except AccountError as error:
        return _admin(request, state, user, 422, error=str(error), form=typed)
    return _admin(
        request,
        state,
        user,
        notice=words["temporary_for"].format(created.username),
        secret=temporary,
    )


@router.post("/admin/accounts/{account_id}/reset", response_class=HTMLResponse)
def admin_reset(
    request: Request,
    account_id: int,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()],
) -> HTMLResponse:
    check_csrf(request, csrf)
    words = i18n.words(language(request))
    temporary = temporary_password()
    try:
        set_password(state.engine, account_id, temporary, f"user:{user.user_id}", must_change=True)
    except AccountError as error:
        return _admin(request, state, user, 404, error=str(error))
    named = next((a for a in list_users(state.engine) if a["user_id"] == account_id), None)
    label = (named or {}).get("username") or str(account_id)
    return _admin(
        request, state, user, notice=words["temporary_for"].format(label), secret=temporary
    )


@router.post("/admin/accounts/{account_id}/deactivate", response_class=HTMLResponse)
def admin_deactivate(
    request: Request,
    account_id: int,
    state: StateDep,
    user: AdminUser,
    csrf: Annotated[str, Form()],
) -> HTMLResponse:
    check_csrf(request, csrf)
    if account_id == user.user_id:
        return _admin(request, state, user, 422, error="you cannot deactivate your own account")
    words = i18n.words(language(request))
    try:
        revoke(state.engine, account_id, f"user:{user.user_id}")
    except AccountError as error:
        return _admin(request, state, user, 404, error=str(error))
    return _admin(request, state, user, notice=words["deactivated"].format(account_id))


# ---------------------------------------------------------------- a school's data officer


def _upload(
    request: Request,
    user: User,
    status_code: int = 200,
    staged: uploads.Staged | None = None,
    loaded: uploads.Staged | None = None,
    error: str | None = None,
) -> HTMLResponse:
    shown = staged or loaded
    lang = language(request)
    rejects = []
    if shown is not None:
        # Files by the names the person chose (stored under their source's name).
        chosen = {f.source: f.name for f in shown.files}
        for report in shown.report.sources:
            for row in (
                report.rejects.astype(object).where(report.rejects.notna(), "").to_dict("records")
            ):
                stored = str(row["file"])
                source = stored.split(":")[0].rsplit(".", 1)[0]
                row["file"] = chosen.get(source, stored) + stored[len(stored.split(":")[0]) :]
                row["reason"] = translate.in_language(row["reason"], lang)
                row["column"] = translate.column_word(row["column"], lang)
                rejects.append(row)
    return render(
        request,
        "upload.html",
        user,
        status_code,
        staged=staged,
        loaded=loaded,
        rejects=rejects,
        error=error,
        source_word=lambda k: i18n.pick(i18n.SOURCES, k, language(request)),
    )


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, user: UploadUser) -> HTMLResponse:
    """Upload the school's own files (CSV or Excel), check them, then load them."""
    return _upload(request, user)


@router.post("/upload", response_class=HTMLResponse)
def upload_files(
    request: Request,
    state: StateDep,
    user: UploadUser,
    csrf: Annotated[str, Form()],
    files: Annotated[list[UploadFile], File()],
) -> HTMLResponse:
    """Stage the files and show what a load would do; nothing is written yet."""
    check_csrf(request, csrf)
    received = [(f.filename or "file", f.file.read()) for f in files]
    try:
        staged = uploads.stage(state.settings, state.engine, user, received)
    except uploads.UploadError as error:
        _audit_upload(request, state, user, "upload_refused", str(error))
        return _upload(request, user, 422, error=str(error))
    _audit_upload(request, state, user, "upload_checked", _summary(staged))
    return _upload(request, user, staged=staged)


@router.post("/upload/{token}/confirm", response_class=HTMLResponse)
def upload_confirm(
    request: Request, state: StateDep, user: UploadUser, token: str, csrf: Annotated[str, Form()]
) -> HTMLResponse:
    """Load a checked upload in one transaction."""
    check_csrf(request, csrf)
    try:
        loaded = uploads.confirm(state.settings, state.engine, user, token)
    except uploads.UploadError as error:
        return _upload(request, user, 404, error=str(error))
    _audit_upload(request, state, user, "upload_loaded", _summary(loaded))
    # The school's list of this week is made again with the new records, in the background.
    if state.runner is not None and user.school_id:
        state.runner.rerun_school(user.school_id)
    return _upload(request, user, loaded=loaded)


@router.post("/upload/{token}/cancel", response_class=HTMLResponse)
def upload_cancel(
    request: Request, state: StateDep, user: UploadUser, token: str, csrf: Annotated[str, Form()]
) -> HTMLResponse:
    check_csrf(request, csrf)
    try:
        uploads.cancel(state.settings, user, token)
    except uploads.UploadError as error:
        return _upload(request, user, 404, error=str(error))
    _audit_upload(request, state, user, "upload_cancelled", "")
    return _upload(request, user)


def _summary(staged: uploads.Staged) -> str:
    """What an upload held, in counts only (no name, no value from the files)."""
    return "; ".join(
        f"{s.source}: read {s.rows_read}, loaded {s.rows_loaded}, rejected {s.rows_rejected}, "
        f"blanked {s.values_blanked}" + (" (refused)" if s.refused else "")
        for s in staged.report.sources
    )[:1000]


def _audit_upload(request: Request, state: AppState, user: User, action: str, detail: str) -> None:
    entry = audit.Entry(action, route_of(request), user.user_id, detail=detail)
    audit.record(state.engine, [entry])
