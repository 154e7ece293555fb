"""Signing in and out (password or single sign-on), the password and account pages,
the language switch, and the home page of each role."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from schooldata import audit
from serving import i18n, translate
from serving.accounts import (
    AccountError,
    TooManyAttempts,
    User,
    authenticate,
    check_password,
    end_session,
    find_by_username,
    find_user,
    messages_of,
    set_messages,
    set_name,
    set_password,
    start_session,
)
from serving.deps import (
    SESSION_KEY,
    AppState,
    RouteDep,
    StateDep,
    WebUser,
    client_of,
)
from serving.messages import READERS
from serving.routes.pages import (
    HOME,
    LANG_COOKIE,
    check_csrf,
    language,
    local_target,
    not_found,
    page_after_sign_in,
    render,
    take_word,
)
from serving.sso import OAuthError

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=RedirectResponse)
def home(user: WebUser) -> RedirectResponse:
    return RedirectResponse(HOME.get(user.role, "/list"), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, state: StateDep) -> HTMLResponse:
    said = take_word(request, "/login")  # a form sent after the session ended
    return render(
        request, "login.html", None, sso=state.sso is not None, error=said, not_saved=bool(said)
    )


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
    going = page_after_sign_in(request)
    request.session.clear()
    request.session[SESSION_KEY] = start_session(state.engine, user)
    request.session["csrf"] = secrets.token_urlsafe(24)
    audit.record(state.engine, [audit.Entry("sign_in", route, user.user_id)])
    return RedirectResponse("/password" if user.must_change_password else going, status_code=303)


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
    going = page_after_sign_in(request)
    request.session.clear()
    request.session[SESSION_KEY] = await run_in_threadpool(start_session, state.engine, user)
    request.session["csrf"] = secrets.token_urlsafe(24)
    await run_in_threadpool(
        audit.record,
        state.engine,
        [audit.Entry("sign_in", route, user.user_id, detail="sso")],
    )
    return RedirectResponse(going, status_code=303)


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


@router.post("/account/name", response_class=HTMLResponse)
def account_name(
    request: Request,
    state: StateDep,
    user: WebUser,
    csrf: Annotated[str, Form()],
    name: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """One's own name as the pages show it (an advisor's account made for a classroom)."""
    check_csrf(request, csrf)
    lang = language(request)
    try:
        set_name(state.engine, user.user_id, name, f"user:{user.user_id}")
    except AccountError as error:
        return _account(request, state, user, 422, error=translate.in_language(str(error), lang))
    renamed = find_user(state.engine, user.user_id) or user
    return _account(request, state, renamed, notice=i18n.words(lang)["saved"])


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
        gets_messages=user.role in READERS,
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
    response = RedirectResponse(local_target(next), status_code=303)
    if code in i18n.LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 24 * 3600, httponly=True, samesite="strict"
        )
    return response
