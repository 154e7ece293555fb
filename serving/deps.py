"""Typed dependencies: every route declares the state it reads and who is calling.

``StateDep`` is the application's state (settings, database, loaded model, limits);
``CurrentUser`` is the bearer-token caller of the JSON API; ``WebUser`` the signed-in
user of a page, from a server-side session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.settings import Settings
from riskmodel.benefit import VisitBenefit
from schooldata import audit
from serving.accounts import (
    Caller,
    Limiter,
    TooManyAttempts,
    User,
    authenticate,
    session_user,
    token_expired,
)
from serving.model_page import ModelReports
from serving.schedule import WeekRunner
from serving.scoring import Scorer
from serving.sso import SingleSignOn

SESSION_KEY = "sid"


@dataclass
class AppState:
    """What every request may read: built once at start-up."""

    settings: Settings
    engine: sa.Engine
    scorer: Scorer
    limiter: Limiter = field(default_factory=Limiter)
    reports: ModelReports | None = None  # the analyst's pages read MLflow through it
    sso: SingleSignOn | None = None  # single sign-on, when configured
    runner: WeekRunner | None = None  # the week's scheduler (off: EWS_SCHEDULER=false)

    def visit_benefit(self) -> VisitBenefit | None:
        """The newest home-visit benefit model of ``ews effects``, if there is one."""
        return self.reports.visit_benefit()[0] if self.reports is not None else None


class SignInRequired(Exception):
    """A page needs a signed-in user; the app answers with a redirect to /login."""


class PasswordChangeRequired(Exception):
    """The user signed in with a new or reset password: they must set their own first."""


async def get_state(request: Request) -> AppState:
    # Async so that FastAPI does not send this attribute read to the thread pool.
    state: AppState = request.app.state.ews
    return state


StateDep = Annotated[AppState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="A staff token from `ews users create`.")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def route_of(request: Request) -> str:
    """The route template, never the path (paths carry student ids)."""
    return f"{request.method} {getattr(request.scope.get('route'), 'path', 'unmatched')}"


# The route a handler serves, as the audit log names it ("GET /students/{student_id}").
RouteDep = Annotated[str, Depends(route_of)]


async def current_user(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller of a JSON route, by bearer token; bad tokens are limited and audited.

    The token is looked up in the database on every request (revocation is immediate).
    A SQLite file answers in a fraction of a millisecond: asked on the event loop, without
    the thread hand-off that would cost more than the query; a database server is waited
    for on a worker thread.
    """
    client = client_of(request)
    if credentials is None:
        raise HTTPException(
            401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    if state.engine.dialect.name == "sqlite":
        user = authenticate(state.engine, credentials.credentials)
    else:
        user = await run_in_threadpool(authenticate, state.engine, credentials.credentials)
    if user is None:
        try:
            state.limiter.token_refused(client)
        except TooManyAttempts as error:
            raise HTTPException(429, str(error), headers={"Retry-After": "60"}) from None
        # The attempted token is never stored, only that a token was refused (on a thread:
        # the audit's commit may wait for other writers).
        await run_in_threadpool(
            audit.record,
            state.engine,
            [audit.Entry("token_refused", route_of(request), detail=f"client {client}")],
        )
        expired = await run_in_threadpool(token_expired, state.engine, credentials.credentials)
        said = (
            "the token has expired: an admin gives a new one (ews users rotate)"
            if expired
            else "the token is not valid"
        )
        raise HTTPException(401, said, headers={"WWW-Authenticate": "Bearer"})
    return user


def web_user(request: Request, state: StateDep) -> User:
    """The signed-in user of a page, from a live server-side session."""
    session_id = request.session.get(SESSION_KEY)
    user = session_user(state.engine, str(session_id)) if session_id else None
    if user is None:
        request.session.clear()
        raise SignInRequired
    if user.must_change_password and request.url.path != "/password":
        raise PasswordChangeRequired
    return user


def signed_in_user(request: Request) -> User | None:
    """The signed-in user of a page whose route never asked (an error page's header), or
    None; never raises and never ends the session."""
    session_id = request.session.get(SESSION_KEY)
    user = session_user(request.app.state.ews.engine, str(session_id)) if session_id else None
    return None if user is None or user.must_change_password else user


CurrentUser = Annotated[User, Depends(current_user)]
WebUser = Annotated[User, Depends(web_user)]


def api_caller(request: Request, user: CurrentUser) -> Caller:
    return Caller(user, route_of(request))


def web_caller(request: Request, user: WebUser) -> Caller:
    return Caller(user, route_of(request))


# Who calls, and by which route: what records, cases and the audit log take.
ApiCaller = Annotated[Caller, Depends(api_caller)]
WebCaller = Annotated[Caller, Depends(web_caller)]


class OutsideRole(Exception):
    """A page of another role: answered 404 with the signed-in user's own navigation, as
    if the page did not exist."""

    def __init__(self, user: User) -> None:
        super().__init__("not found")
        self.user = user


def web_user_of(*roles: str) -> Any:
    """A dependency: the signed-in user of a page, who must have one of ``roles``."""

    def signed_in(user: WebUser) -> User:
        if user.role not in roles:
            raise OutsideRole(user)
        return user

    return Depends(signed_in)


def web_caller_of(*roles: str) -> Any:
    """A dependency: the caller of a page (``WebCaller``), who must have one of ``roles``."""

    def signed_in(request: Request, user: WebUser) -> Caller:
        if user.role not in roles:
            raise OutsideRole(user)
        return Caller(user, route_of(request))

    return Depends(signed_in)
