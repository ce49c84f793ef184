"""The console's FastAPI application: API routers, pages, static files, error handling."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from shaobing import __version__
from shaobing.auth.permissions import PermissionDenied
from shaobing.auth.policy import AuthContext
from shaobing.baseline.retest_hook import register_baseline_retest
from shaobing.core.db import get_engine
from shaobing.core.errors import ConflictError, NotFoundError, ShaobingError
from shaobing.core.i18n import t
from shaobing.scan.retest import register_network_retest
from shaobing.server.api.routes import api_router
from shaobing.server.bodylimit import BodyLimit
from shaobing.server.certlogin import Challenges
from shaobing.server.context import SAFE_METHODS, NotAuthenticated, PasswordChangeRequired
from shaobing.server.pages.render import render_error
from shaobing.server.pages.routes import pages_router
from shaobing.server.phantom import PhantomFailures
from shaobing.server.queries.snapshots import SnapshotCache
from shaobing.server.ratelimit import LoginLimiter
from shaobing.server.security import CsrfRefused, SecurityHeaders
from shaobing.web.retest import register_web_retest

STATIC_DIR = Path(__file__).parent / "static"
log = logging.getLogger("shaobing.server")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, message: str, **extra: object) -> Response:
    if _is_api(request):
        return JSONResponse({"error": message, **extra}, status_code=status)
    return render_error(request, status, message)


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return t("server.invalid_input", field=where or "-", problem=first.get("msg", ""))


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _unauthenticated(request: Request, exc: NotAuthenticated) -> Response:
        if _is_api(request):
            return JSONResponse({"error": exc.message, "reason": exc.reason}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def _must_change(request: Request, exc: PasswordChangeRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"error": exc.message, "reason": "password_change"}, 403)
        return RedirectResponse("/password", status_code=303)

    @app.exception_handler(PermissionDenied)
    async def _denied(request: Request, exc: PermissionDenied) -> Response:
        return _error(request, 403, exc.message)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        return _error(request, 403, exc.message)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
        return _error(request, 404, exc.message)

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> Response:
        return _error(request, 409, exc.message)

    @app.exception_handler(ShaobingError)
    async def _bad_request(request: Request, exc: ShaobingError) -> Response:
        return _error(request, 400, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, _validation_message(exc))

    @app.exception_handler(404)
    async def _no_route(request: Request, exc: Exception) -> Response:
        return _error(request, 404, t("server.no_such_page", path=request.url.path))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The details go to the server log, never to the browser.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, t("server.internal_error"))


def _quote(path: str) -> str:
    return quote(path, safe="/")


def create_app(
    engine: Engine | None = None,
    *,
    auth: AuthContext | None = None,
    limiter: LoginLimiter | None = None,
    https: bool = False,
) -> FastAPI:
    """The console application over ``engine`` (default: the configured database)."""
    app = FastAPI(
        title="哨兵 Shaobing API",
        version=__version__,
        description=t("server.openapi_description"),
        # Swagger UI would load scripts from a CDN; the spec itself is served instead.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    # Retests from the console run the same checks as ``shaobing retest``.
    register_network_retest()
    register_web_retest()
    register_baseline_retest()
    app.state.engine = engine or get_engine()
    app.state.auth = auth or AuthContext()
    app.state.limiter = limiter or LoginLimiter()
    app.state.phantom = PhantomFailures()
    app.state.challenges = Challenges()
    app.state.snapshots = SnapshotCache()

    @app.middleware("http")
    async def _stale_after_writes(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        if request.method not in SAFE_METHODS and response.status_code < 400:
            app.state.snapshots.invalidate()
        return response

    app.state.https = https
    app.add_middleware(SecurityHeaders, https=https)
    app.add_middleware(BodyLimit)
    _install_handlers(app)
    app.include_router(api_router, prefix="/api/v1")
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
