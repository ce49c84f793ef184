"""The template engine's fast paths give exactly what the general paths give.

Connection sharing between the templates of one check, the buffered response-head parser,
the per-origin endpoint cache, the flat-marker renderer and the one-draw random text.
"""

from __future__ import annotations

import io
import random
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shaobing.core.errors import ValidationError
from shaobing.scan.checks import Safety, ServiceTarget
from shaobing.scan.plugins import templates as plugin
from shaobing.scan.template_library import LibraryTemplate
from shaobing.templates.dsl import random_text, render_markers
from shaobing.templates.dsl.interpolate import MAX_NESTING, _resolve
from shaobing.templates.httpclient import (
    ConnectionPool,
    Endpoint,
    HttpError,
    PooledContext,
    _read_response,
)
from shaobing.templates.runner import run_template
from tests.templates.conftest import MockHttp, context_for, write_template

TEMPLATE = """\
id: {id}
info:
  name: 测试
  author: tester
  severity: info
  metadata:
    safety: passive
http:
  - method: GET
    path:
      - "{{{{BaseURL}}}}/{id}"
    matchers:
      - type: status
        status: [200]
"""


def _templates(tmp_path: Path, count: int) -> list[LibraryTemplate]:
    items = []
    for number in range(count):
        template = write_template(tmp_path, TEMPLATE.format(id=f"t{number}"), f"t{number}.yaml")
        items.append(LibraryTemplate(template, Safety.PASSIVE))
    return items


def test_pooled_context_shares_connections_between_runs(
    tmp_path: Path, http_target: MockHttp
) -> None:
    http_target.routes["*"] = (200, {}, b"ok")
    pool = ConnectionPool()
    ctx = PooledContext(context_for(http_target.url), pool)
    for item in _templates(tmp_path, 3):
        assert len(run_template(item.template, http_target.url, ctx)) == 1
    pool.close()
    assert http_target.paths() == ["/t0", "/t1", "/t2"]
    assert http_target.connections == 1


def test_template_check_runs_share_connections_and_skip_unrunnable(
    tmp_path: Path, http_target: MockHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_target.routes["*"] = (200, {}, b"ok")
    items = _templates(tmp_path, 3)

    class Check(plugin.PassiveTemplates):
        def selected_templates(self, options: dict[str, Any]) -> list[LibraryTemplate]:
            return items

    real = run_template

    def run(template: Any, url: str, ctx: Any) -> Any:
        if template.id == "t1":  # e.g. needs an out-of-band domain that is not configured
            raise ValidationError("not runnable here")
        return real(template, url, ctx)

    monkeypatch.setattr(plugin, "run_template", run)
    target = ServiceTarget(address="127.0.0.1", port=http_target.port, service="http")
    found = list(Check().run(target, context_for(http_target.url)))
    assert [o.identity for o in found] == ["t0", "t2"]
    assert http_target.paths() == ["/t0", "/t2"]
    assert http_target.connections == 1


def _slow_head(data: bytes) -> Any:
    # A reader that hands out one byte at a time never holds a whole head: the
    # line-by-line path runs.
    class Trickle(io.RawIOBase):
        def __init__(self) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if not self.data:
                return 0
            buffer[0] = self.data[0]
            self.data = self.data[1:]
            return 1

    return io.BufferedReader(Trickle(), buffer_size=1)


def _outcome(reader: Any) -> Any:
    try:
        r = _read_response(reader, "GET", 1 << 20)
    except HttpError as exc:
        return ("error", str(exc))
    return (r.status, r.reason, r.version, r.headers, r.head, r.body, r.keep_alive)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 404 Not Found\nA: b\n\nbody",
        b"HTTP/1.1 200 OK\r\nA: b\r\r\nNo-colon line\r\nContent-Length: 1\r\n\r\nxy",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No Content\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 200\r\n\n",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 250 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"",
    ],
)
def test_buffered_head_parser_matches_the_line_parser(data: bytes) -> None:
    fast = io.BufferedReader(io.BytesIO(data), buffer_size=1 << 17)
    assert _outcome(fast) == _outcome(_slow_head(data))


def test_endpoint_cache_matches_urlsplit() -> None:
    pieces = ["http", "HTTPS", "ftp", "://", ":", "/", "?", "#", "[", "]", "::1", "10.0.0.1"]
    pieces += ["host", ":80", ":0", ":99999", ":x", "@", "user", " ", "\t", "\n", "é", "%"]
    rng = random.Random(5)
    for _ in range(20000):
        url = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        try:
            slow: Any = Endpoint._parse(url)
        except HttpError as exc:
            slow = str(exc)
        try:
            fast: Any = Endpoint.from_url(url)
        except HttpError as exc:
            fast = str(exc)
        assert fast == slow, url


def _scan_render(text: str, variables: dict[str, Any]) -> tuple[str, set[str]]:
    # The general marker scan alone (as before the flat-marker path existed).
    missing: set[str] = set()
    stack: list[list[str]] = [[]]
    i = 0
    while i < len(text):
        if text.startswith("{{", i) and len(stack) <= MAX_NESTING:
            stack.append([])
            i += 2
        elif text.startswith("}}", i) and len(stack) > 1:
            content = "".join(stack.pop())
            stack[-1].append(_resolve(content, variables, missing))
            i += 2
        else:
            stack[-1].append(text[i])
            i += 1
    while len(stack) > 1:
        unclosed = "".join(stack.pop())
        stack[-1].append("{{" + unclosed)
    return "".join(stack[0]), missing


def test_flat_marker_rendering_matches_the_scan() -> None:
    pieces = ["{", "}", "{{", "}}", "a", "b", "zz", " ", "md5('a')", "to_upper(a)", "(", "'"]
    variables: dict[str, Any] = {"a": "A", "b": 2}
    rng = random.Random(7)
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        assert render_markers(text, variables) == _scan_render(text, variables), text
    body = textwrap.dedent("""\
        POST /{{a}} HTTP/1.1
        Host: {{Hostname}}

        x={{md5(a)}}&y={{b}}""")
    assert render_markers(body, variables) == _scan_render(body, variables)


def test_random_text_is_uniform_over_the_charset() -> None:
    assert random_text("abc", 0) == ""
    drawn = Counter(random_text("abc", 30000))
    assert set(drawn) == {"a", "b", "c"}
    assert all(9000 < count < 11000 for count in drawn.values())
    assert len(random_text("x" * 300, 7)) == 7
