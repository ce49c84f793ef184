"""HTTP Basic and Tomcat manager adapters against nginx and against fake web servers."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable

import pytest

from shaobing.core.errors import ValidationError
from shaobing.scan.checks import ServiceTarget
from shaobing.scan.credentials.base import Authenticator
from shaobing.scan.credentials.http_basic import (
    HttpBasicAuthenticator,
    TomcatManagerAuthenticator,
)
from shaobing.scan.credentials.runner import CredentialReport, StopReason, run_credentials
from tests.scan.credentials.conftest import WEAK
from tests.scan.credentials.context import RecordingContext
from tests.services.fake import Handler, drain, greeter
from tests.services.nginx import NginxServer

WRONG = ["123456", "admin", "password", "qwe123!@#", "1qaz@WSX", "P@ssw0rd"]


def _run(
    auth: Authenticator,
    port: int,
    pairs: list[tuple[str | None, str]],
    *,
    tls: bool = False,
    **kw: object,
) -> CredentialReport:
    ctx = kw.pop("ctx", None) or RecordingContext(timeout=2.0)
    kw.setdefault("max_attempts_per_account", None)
    target = ServiceTarget("127.0.0.1", port, service="http", tls=tls)
    return run_credentials(auth, target, ctx, pairs, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_basic_auth_weak_found_strong_not(nginx: NginxServer, tls: bool) -> None:
    pairs: list[tuple[str | None, str]] = [
        (u, p) for p in [*WRONG, WEAK] for u in ("webweak", "webstrong")
    ]
    ctx = RecordingContext(timeout=2.0)
    port = nginx.tls_port if tls else nginx.port
    report = _run(
        HttpBasicAuthenticator(["/protected/"]), port, pairs, tls=tls, ctx=ctx, parallelism=2
    )
    assert [(f.username, f.password) for f in report.found] == [("webweak", WEAK)]
    assert report.found[0].detail == "HTTP 200 /protected/"
    assert report.errors == 0 and report.failures == len(pairs) - 1
    # Keep-alive: one probe connection plus one per worker (and one after the success).
    assert len(ctx.connections) <= 4


def test_unprotected_path_is_no_auth(nginx: NginxServer) -> None:
    ctx = RecordingContext(timeout=2.0)
    pairs: list[tuple[str | None, str]] = [("admin", p) for p in WRONG]
    report = _run(HttpBasicAuthenticator(), nginx.port, pairs, ctx=ctx, parallelism=4)
    assert report.no_auth and report.detail == "HTTP 200 / without credentials"
    assert report.found == []
    assert len(ctx.connections) == 1  # the probe; no session connects to an open page


def test_missing_path_is_unavailable(nginx: NginxServer) -> None:
    report = _run(HttpBasicAuthenticator(["/nothing-here"]), nginx.port, [("a", "b")] * 1)
    assert report.stop_reason is StopReason.UNAVAILABLE and "404" in report.detail


def test_tomcat_manager_roles_and_403(nginx: NginxServer) -> None:
    pairs: list[tuple[str | None, str]] = [
        ("tomcat", "s3cret"),
        ("tomcat", "tomcat"),
        ("norole", "x"),
        ("norole", WEAK),
        ("mgrstrong", "tomcat"),
        ("mgrstrong", WEAK),
    ]
    report = _run(TomcatManagerAuthenticator(), nginx.port, pairs, parallelism=2)
    found = {f.username: f.detail for f in report.found}
    assert found == {"tomcat": "HTTP 200 /manager/html", "norole": "HTTP 403 /manager/html"}


def test_paths_are_validated() -> None:
    with pytest.raises(ValidationError, match="path"):
        HttpBasicAuthenticator(["no-slash"])
    with pytest.raises(ValidationError, match="path"):
        HttpBasicAuthenticator(["/a b"])


# --- fake web servers ----------------------------------------------------------------------


def _http(status: str, headers: str = "", body: bytes = b"", *, close: bool = False) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}{extra}\r\n"
    return head.encode() + body


def _web(answer: Callable[[bytes], bytes]) -> Handler:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(3)
        buffer = b""
        while not stop.is_set():
            while b"\r\n\r\n" not in buffer:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buffer += chunk
            request, buffer = buffer.split(b"\r\n\r\n", 1)
            conn.sendall(answer(request))

    return handle


def _auth(request: bytes) -> str | None:
    for line in request.split(b"\r\n"):
        if line.lower().startswith(b"authorization: basic "):
            return base64.b64decode(line.split(b" ")[2]).decode()
    return None


CHALLENGE = 'WWW-Authenticate: Basic realm="Tomcat Manager Application"\r\n'


def test_open_tomcat_manager_is_no_auth(serve: Callable[[Handler], int]) -> None:
    page = b"<html><title>/manager</title><h1>Tomcat Web Application Manager</h1></html>"
    port = serve(_web(lambda r: _http("200 OK", body=page)))
    report = _run(TomcatManagerAuthenticator(), port, [("tomcat", "tomcat")])
    assert report.no_auth and "/manager/html" in report.detail


def test_catch_all_page_is_not_an_open_manager(serve: Callable[[Handler], int]) -> None:
    port = serve(_web(lambda r: _http("200 OK", body=b"<html>single page app</html>")))
    report = _run(TomcatManagerAuthenticator(), port, [("tomcat", "tomcat")])
    assert report.stop_reason is StopReason.UNAVAILABLE and report.found == []


def test_digest_only_challenge_is_unavailable(serve: Callable[[Handler], int]) -> None:
    headers = 'WWW-Authenticate: Digest realm="x", nonce="abc"\r\n'
    port = serve(_web(lambda r: _http("401 Unauthorized", headers)))
    report = _run(HttpBasicAuthenticator(), port, [("admin", "admin")])
    assert report.stop_reason is StopReason.UNAVAILABLE and "401" in report.detail


def test_chunked_bodies_close_and_rate_limits(serve: Callable[[Handler], int]) -> None:
    seen: list[str | None] = []

    def answer(request: bytes) -> bytes:
        credentials = _auth(request)
        seen.append(credentials)
        if credentials is None:
            return _http("401 Unauthorized", CHALLENGE)
        if credentials == "admin:slow" and seen.count(credentials) == 1:
            return _http("429 Too Many Requests")
        if credentials == "admin:good":
            body = b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
        return _http("401 Unauthorized", CHALLENGE, b"denied", close=len(seen) % 2 == 0)

    port = serve(_web(answer))
    pairs: list[tuple[str | None, str]] = [("admin", p) for p in ["a", "b", "c", "slow", "good"]]
    report = _run(
        TomcatManagerAuthenticator(["/x"]), port, pairs, parallelism=1, lockout_backoff=0.05
    )
    assert [f.password for f in report.found] == ["good"]
    assert report.lockouts == 1 and report.errors == 0
    assert seen[0] is None  # the unauthenticated probe comes first


def test_server_accepting_anything_accepts_the_canary_too(
    serve: Callable[[Handler], int],
) -> None:
    port = serve(
        _web(lambda r: _http("200 OK") if _auth(r) else _http("401 Unauthorized", CHALLENGE))
    )
    report = _run(HttpBasicAuthenticator(), port, [("random-x", "random-y")])
    assert [f.username for f in report.found] == ["random-x"]


def _reset(conn: socket.socket, stop: threading.Event) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


@pytest.mark.parametrize(
    "handler",
    [
        drain,
        _reset,
        greeter(b"SSH-2.0-OpenSSH_9.2\r\n"),
        greeter(bytes(range(256)) * 300),
        greeter(b"HTTP/1.1 401 Unauthorized\r\n" + b"X-Junk: " + b"a" * 100000),
    ],
    ids=["silent", "reset", "ssh-banner", "garbage", "endless-headers"],
)
def test_broken_peers_give_errors_not_hangs(
    serve: Callable[[Handler], int], handler: Handler
) -> None:
    port = serve(handler)
    started = time.monotonic()
    report = _run(
        HttpBasicAuthenticator(),
        port,
        [("admin", p) for p in WRONG],
        ctx=RecordingContext(timeout=0.3),
        parallelism=2,
        max_consecutive_errors=3,
    )
    assert time.monotonic() - started < 5
    assert report.found == [] and report.failures == 0 and report.errors > 0
    assert report.stop_reason in (StopReason.ERRORS, StopReason.UNREACHABLE)


def test_default_candidates_find_a_protected_admin_area(serve: Callable[[Handler], int]) -> None:
    """With no paths configured, common admin paths are probed and a 401 realm is guessed."""
    token = base64.b64encode(b"admin:" + WEAK.encode()).decode()

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(2.0)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        path = data.split(b" ", 2)[1]
        if path != b"/backend/":
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        elif token.encode() in data:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        else:
            conn.sendall(
                b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="ops"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )

    port = serve(handle)
    pairs: list[tuple[str | None, str]] = [("admin", p) for p in [*WRONG, WEAK]]
    report = _run(HttpBasicAuthenticator(), port, pairs, parallelism=2)
    assert [(f.username, f.password) for f in report.found] == [("admin", WEAK)]
