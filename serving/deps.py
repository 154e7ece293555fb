"""Typed dependencies: every route declares the state it reads and who is calling.

``StateDep`` is the application's state (settings, database, loaded model);
``CurrentUser`` is the bearer-token caller of the JSON API; ``WebUser`` the signed-in
user of a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.settings import Settings
from schooldata.tables import users
from serving.access import User, authenticate
from serving.scoring import Scorer


@dataclass
class AppState:
    """What every request may read: built once at start-up."""

    settings: Settings
    engine: sa.Engine
    scorer: Scorer


class SignInRequired(Exception):
    """A page needs a signed-in user; the app answers with a redirect to /login."""


async def get_state(request: Request) -> AppState:
    # Async so that FastAPI does not send this attribute read to the thread pool.
    state: AppState = request.app.state.ews
    return state


StateDep = Annotated[AppState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="A staff token from `ews users create`.")


def current_user(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller of a JSON route, by bearer token."""
    if credentials is None:
        raise HTTPException(
            401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    user = authenticate(state.engine, credentials.credentials)
    if user is None:
        raise HTTPException(401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"})
    return user


def web_user(request: Request, state: StateDep) -> User:
    """The signed-in user of a page, from the session cookie."""
    user_id = request.session.get("user_id")
    if user_id is None:
        raise SignInRequired
    with state.engine.connect() as connection:
        row = connection.execute(
            sa.select(users).where((users.c.user_id == user_id) & users.c.active)
        ).first()
    if row is None:
        request.session.clear()
        raise SignInRequired
    return User(row.user_id, row.name, row.role, row.staff_id, row.school_id)


CurrentUser = Annotated[User, Depends(current_user)]
WebUser = Annotated[User, Depends(web_user)]
