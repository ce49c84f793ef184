"""Assemble the Starlette application: routes of every module, the site-wide middleware
(request counting, TRACE/OPTIONS of the old site, response headers) and the test-only
``/__test__/`` endpoints."""

from __future__ import annotations

import hmac
import json

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.targets.vulnapp import auth, execs, files, net, pages, sqli, xss
from tests.targets.vulnapp.config import AppConfig
from tests.targets.vulnapp.db import open_backends
from tests.targets.vulnapp.net import FETCH_USER_AGENT
from tests.targets.vulnapp.site import Site, layout, page

SECRET_HEADER = "X-Vulnapp-Secret"

#: Headers of every old-site response: versions disclosed, no security headers.
OLD_HEADERS = [(b"server", b"nginx/1.14.2"), (b"x-powered-by", b"PHP/5.6.40")]

#: Headers of every ``/v2`` response: no versions, the usual security headers. (HSTS only
#: means something over HTTPS, which this application does not serve.)
NEW_HEADERS = [
    (b"server", b"nginx"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'self'; "
        b"base-uri 'self'; form-action 'self'",
    ),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
]

OLD_ALLOW = b"GET, HEAD, POST, PUT, DELETE, TRACE, OPTIONS"


def is_v2(path: str) -> bool:
    """Whether ``path`` belongs to the new site."""
    return path == "/v2" or path.startswith("/v2/")


class SiteMiddleware:
    """Counts requests, answers TRACE and OPTIONS on the old site, adds the headers."""

    def __init__(self, app: ASGIApp, site: Site) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        test = path.startswith("/__test__/")
        if not test:
            agent = dict(scope["headers"]).get(b"user-agent", b"")
            internal = agent == FETCH_USER_AGENT.encode()
            self.site.state.count(method, path, internal=internal)
        extra = [(b"server", b"nginx")] if test else NEW_HEADERS if is_v2(path) else OLD_HEADERS
        if not test and not is_v2(path) and method in ("TRACE", "OPTIONS"):
            await self._answer_method(scope, send, method)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, add_headers)

    async def _answer_method(self, scope: Scope, send: Send, method: str) -> None:
        headers = [*OLD_HEADERS, (b"allow", OLD_ALLOW)]
        body = b""
        if method == "TRACE":
            target = scope["raw_path"] + (
                b"?" + scope["query_string"] if scope["query_string"] else b""
            )
            lines = [b"TRACE " + target + b" HTTP/" + scope["http_version"].encode()]
            lines += [name.title() + b": " + value for name, value in scope["headers"]]
            body = b"\r\n".join(lines) + b"\r\n\r\n"
            headers.append((b"content-type", b"message/http"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def test_routes(site: Site) -> list[Route]:
    """``/__test__/events`` and ``/__test__/reset``: 404 unless the secret header matches."""
    secret = site.config.test_secret

    def allowed(request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER, "")
        return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())

    async def events(request: Request) -> Response:
        if not allowed(request):
            return not_found_response(site, request)
        return Response(json.dumps(site.state.snapshot()), media_type="application/json")

    async def reset(request: Request) -> Response:
        if not allowed(request):
            return not_found_response(site, request)
        site.reset()
        return JSONResponse({"ok": True})

    return [
        Route("/__test__/events", events, methods=["GET"]),
        Route("/__test__/reset", reset, methods=["POST"]),
    ]


def not_found_response(site: Site, request: Request) -> Response:
    """A real 404 on the old site, a soft 404 (status 200) on the new one."""
    body = "<p>您访问的页面不存在或已被删除。</p><p><a href='/'>返回首页</a></p>"
    v2 = is_v2(request.url.path)
    return page(site, "页面不存在", body, v2=v2, status=200 if v2 else 404)


def build_app(config: AppConfig) -> Starlette:
    """The application for ``config`` (databases seeded, files planted)."""
    backends = open_backends(config)
    site = Site(config, backends)
    files.plant(site.vroot)
    routes: list[Route] = []
    for module in (sqli, xss, files, net, execs, auth, pages):
        routes += module.routes(site)
    routes += test_routes(site)

    async def soft_404(request: Request) -> Response:
        return not_found_response(site, request)

    routes.append(Route("/v2/{rest:path}", soft_404, methods=["GET"]))

    async def on_404(request: Request, exc: Exception) -> Response:
        return not_found_response(site, request)

    async def on_error(request: Request, exc: Exception) -> Response:
        text = layout(site, "系统错误", "<p>服务器内部错误。</p>", v2=is_v2(request.url.path))
        return Response(text, status_code=500, media_type="text/html")

    app = Starlette(
        routes=routes,
        middleware=[Middleware(SiteMiddleware, site=site)],
        exception_handlers={404: on_404, 500: on_error},
    )
    app.state.site = site
    return app
