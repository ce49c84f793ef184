"""The out-of-band listener (a concrete :class:`~shaobing.web.checks.base.Callback`): a small
threaded HTTP server the *target* reaches when a parameter makes it fetch a URL (SSRF,
remote file inclusion).

It only listens: it never opens a connection of its own. Every request whose first path
segment is a token (letters and digits, as :func:`~shaobing.web.checks.base.canary` makes
them) is recorded under that token and answered with a body holding a marker derived
from the token and a per-listener secret — so the marker is in no URL the scanner sends
and a page that merely reflects the URL never shows it. :meth:`HttpCallback.wait` returns
as soon as a request for the token has arrived.

Production settings come from the scan options (``ScanState.options``):
``callback_host`` (address to bind, required to enable the listener), ``callback_port``
(0: any free port) and ``callback_advertise`` (``host[:port]``, IPv6 in brackets, that the
target can reach when it differs from the bound address — NAT, a container; default: the
bound address and port).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from shaobing.web.checks.base import Callback

# Organisation-defined limits: what a flood of requests to the listener may cost.
MAX_TOKENS = 10_000  # tokens remembered (oldest dropped beyond)
MAX_PER_TOKEN = 20  # requests kept per token (SSRF proof needs one)
MAX_BODY = 16 * 1024  # request body bytes read and kept
# Seconds a connection may stay idle before the handler gives up (a stalled client must
# not hold a thread for long).
HANDLER_TIMEOUT = 10.0
_TOKEN = re.compile(r"^[a-z0-9]{6,64}$")


@dataclass(frozen=True)
class Received:
    """One request the listener got."""

    token: str
    client: str
    text: str
    """Request line, headers and (cut) body, as received."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], listener: HttpCallback) -> None:
        self.listener = listener
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = HANDLER_TIMEOUT
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: requests are recorded, not logged to stderr."""

    def _serve(self) -> None:
        listener = self.server.listener
        token = self.path.lstrip("/").split("/", 1)[0].split("?", 1)[0].lower()
        if not _TOKEN.match(token):
            self._answer(404, b"not found\n")
            return
        length = self.headers.get("Content-Length") or "0"
        size = min(int(length), MAX_BODY) if length.isdigit() else 0
        body = self.rfile.read(size) if size else b""
        lines = [self.requestline, *(f"{k}: {v}" for k, v in self.headers.items())]
        text = "\r\n".join(lines) + "\r\n\r\n" + body.decode("utf-8", "replace")
        listener.record(Received(token, self.client_address[0], text))
        self._answer(200, listener.body_for(token).encode())

    def _answer(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_OPTIONS = do_PATCH = _serve  # noqa: N815


class HttpCallback(Callback):
    """An HTTP listener on ``host:port`` recording requests per token (thread-safe)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, advertise: str | None = None):
        self._secret = secrets.token_bytes(16)
        self._received: dict[str, list[Received]] = {}
        self._changed = threading.Condition()
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None
        bound = self._server.server_address
        self.port = int(bound[1])
        shown_host = f"[{host}]" if ":" in host else host
        if advertise is None:
            advertise = f"{shown_host}:{self.port}"
        elif ":" not in advertise.rsplit("]", 1)[-1]:
            advertise = f"{advertise}:{self.port}"
        self.advertise = advertise

    # ---------------------------------------------------------------- life cycle
    def start(self) -> Self:
        """Serve on a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- Callback
    def url(self, token: str) -> str:
        """``http://<advertised address>/<token>/sb.txt`` (a file-like path: include and
        fetch code that insists on an extension accepts it)."""
        return f"http://{self.advertise}/{token}/sb.txt"

    def body_for(self, token: str) -> str:
        """The text served under ``token``: a marker no URL contains."""
        digest = hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()
        return f"sbrfi{digest[:20]}\n"

    def wait(self, token: str, timeout: float) -> list[str]:
        """Requests received for ``token``, waiting up to ``timeout`` seconds for the
        first one (returns at once when one is already there)."""
        with self._changed:
            self._changed.wait_for(lambda: token in self._received, timeout=max(0.0, timeout))
            return [r.text for r in self._received.get(token, [])]

    # ---------------------------------------------------------------- records
    def record(self, received: Received) -> None:
        """Remember ``received`` and wake the waiters."""
        with self._changed:
            entries = self._received.setdefault(received.token, [])
            if len(entries) < MAX_PER_TOKEN:
                entries.append(received)
            while len(self._received) > MAX_TOKENS:
                del self._received[next(iter(self._received))]
            self._changed.notify_all()

    def received(self, token: str) -> list[Received]:
        """Requests recorded for ``token`` (with the client address), without waiting."""
        with self._changed:
            return list(self._received.get(token, []))


def callback_from_options(options: Mapping[str, object]) -> HttpCallback | None:
    """A started listener from the scan options ``callback_host``, ``callback_port`` and
    ``callback_advertise``; None when ``callback_host`` is not set. Raises ValueError (in
    Chinese) for an invalid setting and OSError when the address cannot be bound."""
    host = options.get("callback_host")
    if host is None or host == "":
        return None
    if not isinstance(host, str):
        raise ValueError(f"回连监听地址 callback_host 无效：{host!r}")
    port = options.get("callback_port", 0)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"回连监听端口 callback_port 无效：{port!r}（应为 0–65535）")
    advertise = options.get("callback_advertise")
    if advertise is not None and (not isinstance(advertise, str) or not advertise.strip()):
        raise ValueError(f"回连公布地址 callback_advertise 无效：{advertise!r}")
    return HttpCallback(host, port, advertise.strip() if advertise else None).start()


def route_address(target_host: str) -> str:
    """The local address this host uses to reach ``target_host`` (a UDP ``connect`` picks
    the route; no packet is sent)."""
    family = socket.AF_INET6 if ":" in target_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((target_host, 9))
        return str(probe.getsockname()[0])


def callback_for(
    target_host: str,
    options: Mapping[str, object],
    *,
    mode: str = "auto",
    port: int = 0,
    advertise: str | None = None,
) -> HttpCallback | None:
    """The listener of one scan: from the scan options when they name ``callback_host``,
    else by ``mode`` (the ``web_callback`` setting): ``off`` → None, ``auto`` → bound to
    the address that routes to the target, else bound to ``mode`` itself."""
    explicit = callback_from_options(options)
    if explicit is not None or mode == "off":
        return explicit
    host = route_address(target_host) if mode == "auto" else mode
    return HttpCallback(host, port, advertise).start()


__all__ = ["HttpCallback", "Received", "callback_for", "callback_from_options", "route_address"]
