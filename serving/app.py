"""The FastAPI application: ``create_app(settings)`` builds it; the model loads once at start-up."""

from __future__ import annotations

import asyncio
import gc
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from core.secrets import secret
from core.settings import Settings
from schooldata.db import make_engine, upgrade
from serving import area, records, uploads
from serving.accounts import TooManyAttempts
from serving.deps import AppState, OutsideRole, PasswordChangeRequired, SignInRequired
from serving.middleware import RequestGuard
from serving.model_page import ModelReports
from serving.model_store import load_scorer_bundle
from serving.schedule import WeekRunner
from serving.scoring import Scorer
from serving.sso import SingleSignOn

SESSION_SECONDS = 8 * 3600  # a working day, not weeks
# What the callers did wrong, as HTTP: anything not visible is 404, exactly like a
# student that does not exist.
DOMAIN_ERRORS: dict[type[Exception], int] = {
    records.NotVisible: 404,
    records.NoWeeklyRun: 404,
    records.ChangedSince: 409,  # before InvalidInput, of which it is one
    records.InvalidInput: 422,
    records.TooLarge: 413,
    area.NotAnAreaUser: 403,
}


def app_from_environment() -> FastAPI:
    """The service as configured by the environment (``ews serve --workers N``: each
    worker process builds its own, loading and checking the champion, or the ABC rule
    while there is none)."""
    return create_app(Settings())


log = logging.getLogger(__name__)
SWEEP_SECONDS = 300  # how often a worker removes the uploads whose hour is over


async def _forget_old_uploads(root: Path) -> None:
    """Staged uploads nobody confirmed go once their hour is over, whether or not anyone
    uploads again (they waited for the next upload: days, for a school's files)."""
    while True:
        try:
            await anyio.to_thread.run_sync(uploads.forget_old, root)
        except OSError as error:  # told, and tried again at the next sweep
            log.error("cannot remove expired uploads in %s: %s", root, error.strerror)
        await asyncio.sleep(SWEEP_SECONDS)


def create_app(settings: Settings, scorer: Scorer | None = None) -> FastAPI:
    """Build the service. The champion is fetched and verified at start-up unless given;
    with none registered yet, the ABC rule scores (``serving.model_store``).

    Raises (at start-up):
        ModelUnavailable: the champion's files fail their SHA-256 checks.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        upgrade(engine)
        loaded = scorer
        if loaded is None:
            # The bundle is read into memory: its downloaded files go at once, so a worker
            # that dies leaves no copy of the model behind.
            with tempfile.TemporaryDirectory(prefix="ews-model-") as folder:
                bundle, version = load_scorer_bundle(settings, Path(folder))
            loaded = Scorer(bundle, version)
        runner = WeekRunner(settings, engine) if settings.scheduler else None
        app.state.ews = AppState(
            settings,
            engine,
            loaded,
            reports=ModelReports(settings),
            sso=SingleSignOn.configured(settings),
            runner=runner,
        )
        if runner is not None:
            runner.start()
        sweeping = asyncio.create_task(_forget_old_uploads(settings.upload_dir))
        # What start-up loaded (the model, the libraries) lives as long as the server:
        # kept out of the cycle collector's sight, a full collection no longer walks
        # it, which otherwise stalls every request in flight for tens of milliseconds.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            sweeping.cancel()
            if runner is not None:
                runner.stop()
            engine.dispose()

    docs = settings.api_docs if settings.api_docs is not None else not settings.production
    title = "Dropout early-warning service"
    description = (
        "Risk scores with exact explanations, weekly lists and home-visit plans for Thai "
        "schools. How to get a token, what each role reaches and the errors: docs/api.md."
    )
    if docs:
        # Swagger UI's script and style from this server (FastAPI's own /docs loads them
        # from a CDN): a school's server may have no internet, and the page is blank then.
        app = FastAPIOffline(
            docs_url="/docs",
            redoc_url=None,
            title=title,
            description=description,
            version="1",
            lifespan=lifespan,
            static_url="/docs-assets",
        )
    else:
        app = FastAPI(
            title=title,
            description=description,
            version="1",
            lifespan=lifespan,
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
        )
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")

    app.add_middleware(
        SessionMiddleware,
        secret_key=secret(settings, "session_secret"),
        session_cookie="ews_session",
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=settings.production,
    )
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        https=settings.production,
        max_upload_bytes=settings.max_upload_bytes,
    )

    from serving.routes import (
        admin,
        api,
        area_pages,
        auth,
        cases,
        lists,
        missing,
        model_pages,
        pages,
        upload,
    )

    app.include_router(api.router)
    for group in (auth, lists, area_pages, model_pages, admin, upload, missing, cases):
        app.include_router(group.router)

    async def domain_error(request: Request, error: Exception) -> Response:
        status = next(code for kind, code in DOMAIN_ERRORS.items() if isinstance(error, kind))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(error)}, status_code=status)
        return await run_in_threadpool(pages.error_page, request, status, error)

    for kind in DOMAIN_ERRORS:
        app.add_exception_handler(kind, domain_error)

    @app.exception_handler(OutsideRole)
    async def outside_role(request: Request, error: OutsideRole) -> Response:
        return pages.not_found(request, error.user)

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, error: SignInRequired) -> RedirectResponse:
        pages.remember_the_page(request)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def change_password(request: Request, error: PasswordChangeRequired) -> RedirectResponse:
        return RedirectResponse("/password", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        # The API and the health check answer JSON; a page answers a page.
        if request.url.path.startswith(("/api/", "/static/")) or request.url.path == "/health":
            return await http_exception_handler(request, error)
        answer = await run_in_threadpool(
            pages.http_error_page, request, error.status_code, str(error.detail)
        )
        answer.headers.update(error.headers or {})
        return answer

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        # Where and why, never the value sent: it may be a child's id or megabytes long.
        if not request.url.path.startswith("/api/"):
            return await run_in_threadpool(pages.invalid_request, request, list(error.errors()))
        problems = [
            {"loc": [str(part)[:64] for part in e.get("loc", ())], "msg": str(e.get("msg"))[:300]}
            for e in error.errors()[:20]
        ]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(TooManyAttempts)
    async def too_many(request: Request, error: TooManyAttempts) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=429, headers={"Retry-After": "60"})

    return app
