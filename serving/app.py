"""The FastAPI application: ``create_app(settings)`` builds it; the model loads once at start-up."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from features.db import make_engine, upgrade
from features.settings import Settings
from serving.access import User, authenticate
from serving.model_store import load_champion
from serving.scoring import Scorer

log = logging.getLogger("ews.api")


@dataclass
class AppState:
    settings: Settings
    engine: sa.Engine
    scorer: Scorer


def create_app(settings: Settings, scorer: Scorer | None = None) -> FastAPI:
    """Build the service. The champion is fetched and verified at start-up unless given.

    Raises (at start-up):
        ModelUnavailable: there is no champion, or its files fail their SHA-256 checks.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        upgrade(engine)
        with tempfile.TemporaryDirectory(prefix="ews-model-") as folder:
            loaded = scorer
            if loaded is None:
                bundle, version = load_champion(settings, Path(folder))
                loaded = Scorer(bundle, version)
            app.state.ews = AppState(settings, engine, loaded)
            yield
        engine.dispose()

    app = FastAPI(
        title="Dropout early-warning service",
        description="Risk scores with exact explanations, weekly lists and home-visit plans "
        "for Thai schools.",
        version="1",
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def log_requests(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        # The route template, never the path: paths carry student ids.
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        log.info(
            "%s %s %s %.1fms",
            request.method,
            template,
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error(
            "unexpected %s on %s",
            type(error).__name__,
            getattr(request.scope.get("route"), "path", "?"),
        )
        return JSONResponse({"detail": "internal error"}, status_code=500)

    from serving.routes import api

    app.include_router(api.router)
    return app


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.ews
    return state


_bearer = HTTPBearer(auto_error=False, description="A staff token from `ews users create`.")


def current_user(
    state: Annotated[AppState, Depends(get_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise HTTPException(
            401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    user = authenticate(state.engine, credentials.credentials)
    if user is None:
        raise HTTPException(401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"})
    return user


StateDep = Annotated[AppState, Depends(get_state)]
CurrentUser = Annotated[User, Depends(current_user)]
