"""The out-of-band HTTP listener used by the SSRF / RFI check."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from shaobing.web.callback import MAX_PER_TOKEN, HttpCallback, callback_from_options
from shaobing.web.checks.base import canary


def _fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=5)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers={"User-Agent": "target-app/1.0"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def listener() -> Iterator[HttpCallback]:
    with HttpCallback("127.0.0.1", 0) as running:
        yield running


def test_records_requests_per_token_and_serves_the_marker(listener: HttpCallback) -> None:
    token, other = canary(), canary()
    url = listener.url(token)
    assert url.startswith(f"http://127.0.0.1:{listener.port}/{token}/")
    status, body = _fetch(url + "?x=1")
    assert status == 200
    assert body.decode() == listener.body_for(token)
    marker = listener.body_for(token).strip()
    assert token not in marker and marker not in url
    assert listener.body_for(token) == listener.body_for(token) != listener.body_for(other)
    _fetch(f"http://127.0.0.1:{listener.port}/{token}/again", "POST", b"a=1")
    received = listener.wait(token, 1)
    assert len(received) == 2
    assert received[0].startswith(f"GET /{token}/sb.txt?x=1 HTTP/1.1\r\n")
    assert "User-Agent: target-app/1.0" in received[0]
    assert received[1].startswith("POST ") and received[1].endswith("\r\n\r\na=1")
    assert [r.client for r in listener.received(token)] == ["127.0.0.1", "127.0.0.1"]
    assert listener.wait(other, 0) == []


def test_other_paths_are_not_recorded(listener: HttpCallback) -> None:
    for path in ("/", "/favicon.ico", "/ab/x", "/UPPER-case!/x"):
        status, _ = _fetch(f"http://127.0.0.1:{listener.port}{path}")
        assert status == 404
    assert listener.wait("favicon", 0) == []


def test_wait_returns_early_and_times_out(listener: HttpCallback) -> None:
    token = canary()
    timer = threading.Timer(0.2, _fetch, args=(listener.url(token),))
    started = time.monotonic()
    timer.start()
    received = listener.wait(token, 10)
    elapsed = time.monotonic() - started
    timer.join()
    assert len(received) == 1 and elapsed < 5
    started = time.monotonic()
    assert listener.wait(canary(), 0.3) == []
    assert 0.25 <= time.monotonic() - started < 3


def test_concurrent_requests_and_waiters(listener: HttpCallback) -> None:
    tokens = [canary() for _ in range(8)]
    results: dict[str, list[str]] = {}

    def waiter(token: str) -> None:
        results[token] = listener.wait(token, 10)

    waiters = [threading.Thread(target=waiter, args=(t,)) for t in tokens]
    for thread in waiters:
        thread.start()
    senders = [
        threading.Thread(target=_fetch, args=(listener.url(t),)) for t in tokens for _ in range(3)
    ]
    for thread in senders:
        thread.start()
    for thread in senders + waiters:
        thread.join(10)
    assert all(results[t] for t in tokens)
    assert all(len(listener.wait(t, 0)) == 3 for t in tokens)


def test_requests_kept_per_token_are_capped(listener: HttpCallback) -> None:
    token = canary()
    for _ in range(MAX_PER_TOKEN + 3):
        _fetch(listener.url(token))
    assert len(listener.wait(token, 0)) == MAX_PER_TOKEN


def test_options_build_and_advertise() -> None:
    assert callback_from_options({}) is None
    assert callback_from_options({"callback_host": ""}) is None
    built = callback_from_options({"callback_host": "127.0.0.1", "callback_advertise": "10.0.0.5"})
    assert built is not None
    try:
        assert built.url("sbabc123") == f"http://10.0.0.5:{built.port}/sbabc123/sb.txt"
        status, _ = _fetch(f"http://127.0.0.1:{built.port}/sbabc123/x")
        assert status == 200 and built.wait("sbabc123", 1)
    finally:
        built.close()
    fixed = HttpCallback("127.0.0.1", 0, advertise="scanner.example:8443")
    try:
        assert fixed.url("sbabc123") == "http://scanner.example:8443/sbabc123/sb.txt"
    finally:
        fixed.close()
    for bad in (
        {"callback_host": 5},
        {"callback_host": "127.0.0.1", "callback_port": 70000},
        {"callback_host": "127.0.0.1", "callback_port": True},
        {"callback_host": "127.0.0.1", "callback_advertise": " "},
    ):
        with pytest.raises(ValueError, match="回连"):
            callback_from_options(bad)


def test_close_releases_the_port() -> None:
    first = HttpCallback("127.0.0.1", 0).start()
    port = first.port
    first.close()
    again = HttpCallback("127.0.0.1", port).start()
    try:
        assert _fetch(again.url("sbabc123"))[0] == 200
    finally:
        again.close()
