"""The FastAPI application: ``create_app(settings)`` builds it; the model loads once at start-up."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings
from schooldata.db import make_engine, upgrade
from serving import queries
from serving.deps import AppState, SignInRequired
from serving.model_store import load_champion
from serving.scoring import Scorer

log = logging.getLogger("ews.api")

SESSION_SECONDS = 8 * 3600  # a working day, not weeks
# What the callers did wrong, as HTTP: anything not visible is 404, exactly like a
# student that does not exist.
DOMAIN_ERRORS: dict[type[Exception], int] = {
    queries.NotVisible: 404,
    queries.NoWeeklyRun: 404,
    queries.InvalidInput: 422,
    queries.TooLarge: 413,
}


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

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret.get_secret_value(),
        session_cookie="ews_session",
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=settings.environment == "production",
    )
    app.add_middleware(RequestLog)

    from serving.routes import api, web

    app.include_router(api.router)
    app.include_router(web.router)

    async def domain_error(request: Request, error: Exception) -> Response:
        status = next(code for kind, code in DOMAIN_ERRORS.items() if isinstance(error, kind))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(error)}, status_code=status)
        return web.error_page(request, status, error)

    for kind in DOMAIN_ERRORS:
        app.add_exception_handler(kind, domain_error)

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, error: SignInRequired) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error(
            "unexpected %s on %s",
            type(error).__name__,
            getattr(request.scope.get("route"), "path", "?"),
        )
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app


class RequestLog:
    """Logs method, route template, status and time of each request: never the path, which
    carries student ids. Plain ASGI: an ``@app.middleware`` wrapper costs more than a score."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            log.info(
                "%s %s %s %.1fms",
                scope["method"],
                template,
                status,
                (time.perf_counter() - started) * 1000,
            )
