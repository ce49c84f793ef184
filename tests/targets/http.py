"""A mock HTTP target: a threaded ``http.server`` on 127.0.0.1 with a route table.

Routes map a path to a :class:`Response` or to a handler ``Request -> Response``. The
lookup tries the full target (path and query), then the path alone, then ``"*"``; anything
else is a plain 404. Helpers build handlers that require a Basic, form or JSON login, that
answer per method, or that look at a request header.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.targets.served import ServedTarget


@dataclass(frozen=True)
class Response:
    """What a route answers. ``content_length`` advertises another length than the body's
    (a HEAD answer for a large file without sending it)."""

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_length: int | None = None

    @property
    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Request:
    """One request the mock received."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)

    def header(self, name: str) -> str:
        """The header ``name`` (case-insensitive), empty when absent."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")

    def form(self) -> dict[str, str]:
        """The body as an url-encoded form (first value of each field)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"))
        return {key: values[0] for key, values in parsed.items()}

    def json(self) -> Any:
        """The body as JSON (None when it is not)."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


Handler = Callable[[Request], Response]
Route = Response | Handler

NOT_FOUND = Response(
    404, "<html><body><h1>404 Not Found</h1></body></html>", {"Content-Type": "text/html"}
)
UNAUTHORISED = Response(
    401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="login"', "Content-Type": "text/plain"}
)


def basic_login(user: str, password: str, ok: Response, denied: Response = UNAUTHORISED) -> Handler:
    """Answer ``ok`` only with Basic credentials ``user:password``."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def handle(request: Request) -> Response:
        return ok if request.header("Authorization") == expected else denied

    return handle


def form_login(fields: Mapping[str, str], ok: Response, denied: Response) -> Handler:
    """Answer ``ok`` only to a POST whose url-encoded form holds every ``fields`` value."""

    def handle(request: Request) -> Response:
        form = request.form()
        good = request.method == "POST" and all(form.get(k) == v for k, v in fields.items())
        return ok if good else denied

    return handle


def json_login(fields: Mapping[str, str], ok: Response, denied: Response) -> Handler:
    """Answer ``ok`` only to a POST whose JSON object holds every ``fields`` value."""

    def handle(request: Request) -> Response:
        data = request.json()
        good = (
            request.method == "POST"
            and isinstance(data, dict)
            and all(data.get(k) == v for k, v in fields.items())
        )
        return ok if good else denied

    return handle


def by_method(routes: Mapping[str, Route], otherwise: Response | None = None) -> Handler:
    """Dispatch on the request method (``"GET"``, ``"TRACE"``, ...)."""

    def handle(request: Request) -> Response:
        route = routes.get(request.method)
        if route is None:
            return otherwise or Response(405, "Method Not Allowed")
        return route(request) if callable(route) else route

    return handle


def by_header(name: str, contains: str, ok: Route, otherwise: Route) -> Handler:
    """``ok`` when header ``name`` contains ``contains`` (case-insensitive), else
    ``otherwise``."""

    def handle(request: Request) -> Response:
        route = ok if contains.lower() in request.header(name).lower() else otherwise
        return route(request) if callable(route) else route

    return handle


def _handler_class(mock: MockHttpTarget) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Buffer the head and body into one write (flushed after each request): separate
        # small writes meet the client's delayed ACK and cost 40 ms per request.
        wbufsize = 64 * 1024

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, self.path, dict(self.headers.items()), body)
            mock.seen.append(request)
            response = mock.resolve(request)
            payload = response.payload
            self.send_response(response.status)
            names = {name.lower() for name in response.headers}
            for name, value in response.headers.items():
                self.send_header(name, value)
            if "content-length" not in names:
                length_value = response.content_length
                self.send_header(
                    "Content-Length", str(len(payload) if length_value is None else length_value)
                )
            self.end_headers()
            if self.command != "HEAD" and response.content_length is None:
                self.wfile.write(payload)
            elif self.command != "HEAD":
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_OPTIONS = do_TRACE = _serve  # noqa: N815

    return _Handler


class MockHttpTarget(ServedTarget):
    """A local HTTP server answering from ``routes``; records what it receives."""

    def __init__(self, routes: Mapping[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.seen: list[Request] = []
        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def resolve(self, request: Request) -> Response:
        """The response of the route matching ``request``."""
        route = self.routes.get(request.target)
        if route is None:
            route = self.routes.get(request.path, self.routes.get("*", NOT_FOUND))
        return route(request) if callable(route) else route
