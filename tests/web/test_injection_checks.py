"""The injection checks other than SQL injection (XSS reflected and stored, path
traversal, SSRF/RFI, open redirect, SSI, command injection, SSTI, CRLF) against mock
handlers on 127.0.0.1: each finds its vulnerable handler with the right class and
parameter, in every location the handler reads, and reports nothing on the look-alike
safe handlers and near misses. The vulnerable application's manifest entries are in
tests/web/test_injection_vulnapp.py."""

from __future__ import annotations

import html
import http.client
import json
import posixpath
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest

from shaobing.web.callback import HttpCallback
from shaobing.web.checks import cmdi, crlf, redirect, ssi, ssrf, ssti, traversal, xss
from shaobing.web.checks.base import PointCheck, ScanState, point_checks
from shaobing.web.issues import WebIssue, finding_input
from shaobing.web.request import FORM_TYPE, JSON_TYPE, WebRequest, parse_cookie_header
from tests.targets.http import MockHttpTarget, Request, Response, Route
from tests.web.helpers import make_state, probe_for

HTML = {"Content-Type": "text/html; charset=utf-8"}
esc = html.escape


def page(body: str, status: int = 200) -> Response:
    """An HTML page around ``body``."""
    return Response(
        status, f"<html><head><title>测试</title></head><body>{body}</body></html>", HTML
    )


def query(name: str, default: str = "") -> Callable[[Request], str]:
    """Reads query parameter ``name``."""
    return lambda request: request.query.get(name, [default])[0]


def reflect(
    read: Callable[[Request], str], render: Callable[[str], str]
) -> Callable[[Request], Response]:
    """A handler showing ``render(value)`` in a page."""
    return lambda request: page(render(read(request)))


def _cookie(request: Request, name: str) -> str:
    """Cookie ``name`` of ``request`` as a server parses it (split at ``;``)."""
    return dict(parse_cookie_header(request.header("Cookie"))).get(name, "")


def _js_url(value: str) -> str:
    """``value`` as a JSON string with ``/`` escaped (as many serialisers write it)."""
    return json.dumps(value).replace("/", "\\/")


def run(
    check: PointCheck, state: ScanState, request: WebRequest, label: str
) -> tuple[list[WebIssue], int]:
    """The check's issues on ``label`` of ``request`` and the requests it sent."""
    probe = probe_for(state, request, label)
    before = state.client.requests
    issues = list(check.test(probe)) if check.applies(probe) else []
    return issues, state.client.requests - before


def get(target: MockHttpTarget, path: str, **params: str) -> WebRequest:
    """A GET request with query ``params``."""
    return WebRequest("GET", f"{target.url}{path}?{urlencode(params)}")


def post_form(target: MockHttpTarget, path: str, **fields: str) -> WebRequest:
    """A url-encoded POST."""
    return WebRequest(
        "POST", target.url + path, (("Content-Type", FORM_TYPE),), urlencode(fields).encode()
    )


def post_json(target: MockHttpTarget, path: str, **fields: str) -> WebRequest:
    """A JSON POST."""
    return WebRequest(
        "POST", target.url + path, (("Content-Type", JSON_TYPE),), json.dumps(fields).encode()
    )


def test_every_injection_check_is_registered_as_active() -> None:
    ids = {c.id: c for c in point_checks()}
    for wanted, kinds in {
        "web.xss": {"xss-reflected", "xss-stored"},
        "web.path-traversal": {"path-traversal"},
        "web.ssrf": {"ssrf", "rfi"},
        "web.open-redirect": {"open-redirect"},
        "web.ssi": {"ssi"},
        "web.cmd-injection": {"cmd-injection"},
        "web.ssti": {"ssti"},
        "web.crlf": {"crlf"},
    }.items():
        assert set(ids[wanted].kinds) == kinds
        assert ids[wanted].safety.value == "active"


# =========================================================================== XSS


def _no_close(tag: str) -> Callable[[str], str]:
    """Raw inside ``tag`` but unable to close it (``</`` neutralised)."""
    return lambda value: f"<{tag}>{value.replace('</', '&lt;/')}</{tag}>"


def _js_string(value: str) -> str:
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def _safe_href(value: str) -> str:
    allowed = value.startswith(("http://", "https://", "/")) and not value.startswith("//")
    return f'<a href="{esc(value if allowed else "#")}">继续</a>'


XSS_ROUTES = {
    "/text": reflect(query("q"), lambda v: f"<p>您搜索的是：{v}</p>"),
    "/text-escaped": reflect(query("q"), lambda v: f"<p>您搜索的是：{esc(v)}</p>"),
    "/textarea": reflect(query("q"), _no_close("textarea")),
    "/textarea-raw": reflect(query("q"), lambda v: f"<textarea>{v}</textarea>"),
    "/title": reflect(query("q"), _no_close("title")),
    "/comment": reflect(query("q"), lambda v: f"<!-- 查询：{v.replace('-', '')} -->"),
    "/select": reflect(
        query("q"), lambda v: f"<select><option>{v.replace('</', '')}</option></select>"
    ),
    "/attr-escaped": reflect(query("q"), lambda v: f'<input name="q" value="{esc(v)}">'),
    "/attr-single": reflect(query("q"), lambda v: f"<input name='q' value='{v}'>"),
    "/attr-single-escaped": reflect(query("q"), lambda v: f"<input value='{esc(v)}'>"),
    "/script-safe": reflect(query("q"), lambda v: f"<script>var t = {_js_string(v)};</script>"),
    "/script-backslash": reflect(
        query("q"),
        lambda v: (
            "<script>var t = '"
            + v.replace("\\", "\\\\").replace("'", "\\'").replace("<", "\\x3c")
            + "';</script>"
        ),
    ),
    "/href-safe": reflect(query("url"), _safe_href),
    "/json-api": lambda r: Response(
        200,
        json.dumps({"q": query("q")(r)}, ensure_ascii=False),
        {"Content-Type": "application/json"},
    ),
    "/text-plain": lambda r: Response(
        200, f"<p>{query('q')(r)}</p>", {"Content-Type": "text/plain"}
    ),
    "/json-body": lambda r: page(f"<p>{(r.json() or {}).get('q', '')}</p>"),
    "/cookie": reflect(lambda r: _cookie(r, "theme"), lambda v: f"<p>主题：{v}</p>"),
    "/referer": reflect(lambda r: r.header("Referer"), lambda v: f"<p>来源：{v}</p>"),
    "/mixed": reflect(query("q"), lambda v: f"<p>{esc(v)}</p><input value='{v}'>"),
    "/moved": lambda r: Response(
        302, f"<a href='/x'>{query('q')(r)}</a>", {**HTML, "Location": "/x"}
    ),
}


@pytest.fixture(scope="module")
def xss_target() -> Iterator[MockHttpTarget]:
    with MockHttpTarget(XSS_ROUTES) as target:
        yield target


@pytest.mark.parametrize(
    ("path", "context"),
    [
        ("/text", "HTML 正文中"),
        ("/textarea-raw", "<textarea> 元素内"),
        ("/attr-single", "<input> 标签的 value 属性中（单引号包围）"),
        ("/mixed", "<input> 标签的 value 属性中（单引号包围）"),
    ],
)
def test_xss_reflected_found(xss_target: MockHttpTarget, path: str, context: str) -> None:
    state = make_state(xss_target.url)
    issues, sent = run(xss.ReflectedXss(), state, get(xss_target, path, q="测试"), "query:q")
    [issue] = issues
    assert (issue.kind, issue.parameter, issue.extra["context"]) == (
        "xss-reflected",
        "query:q",
        context,
    )
    assert sent <= 1 + xss.MAX_CONTEXT_PAYLOADS
    assert issue.response is not None and issue.extra["payload"] in issue.response.text
    assert "未按上下文编码" in issue.detail and "\n" not in issue.detail
    finding = finding_input(issue)
    assert finding.check_id == "web.xss-reflected" and finding.parameter == "query:q"
    assert finding.evidence is not None and "复现命令" in finding.evidence


@pytest.mark.parametrize(
    ("request_for", "label"),
    [
        (lambda t: post_json(t, "/json-body", q="你好", page="1"), "json:q"),
        (lambda t: get(t, "/cookie").with_header("Cookie", "sid=1; theme=blue"), "cookie:theme"),
        (
            lambda t: get(t, "/referer").with_header("Referer", "http://127.0.0.1/"),
            "header:Referer",
        ),
    ],
)
def test_xss_in_json_cookie_and_header(
    xss_target: MockHttpTarget, request_for: Callable[[MockHttpTarget], WebRequest], label: str
) -> None:
    state = make_state(xss_target.url)
    issues, _ = run(xss.ReflectedXss(), state, request_for(xss_target), label)
    assert [(i.kind, i.parameter) for i in issues] == [("xss-reflected", label)]


@pytest.mark.parametrize(
    "path",
    [
        "/text-escaped",
        "/textarea",
        "/title",
        "/comment",
        "/select",
        "/attr-escaped",
        "/attr-single-escaped",
        "/script-safe",
        "/script-backslash",
        "/json-api",
        "/text-plain",
        "/moved",
    ],
)
def test_xss_near_misses_report_nothing(xss_target: MockHttpTarget, path: str) -> None:
    state = make_state(xss_target.url)
    issues, sent = run(xss.ReflectedXss(), state, get(xss_target, path, q="测试"), "query:q")
    assert issues == []
    assert sent <= 1 + xss.MAX_CONTEXT_PAYLOADS


def test_xss_safe_href_and_unreflected_parameter(xss_target: MockHttpTarget) -> None:
    state = make_state(xss_target.url)
    issues, _ = run(xss.ReflectedXss(), state, get(xss_target, "/href-safe", url="/a"), "query:url")
    assert issues == []
    issues, sent = run(
        xss.ReflectedXss(), state, get(xss_target, "/text", q="x", page="2"), "query:page"
    )
    assert issues == [] and sent == 1  # not reflected: one request, no payload


class _Guestbook:
    """Two message boards: ``/gb`` shows messages raw, ``/gb-safe`` escapes them, and
    ``/gb-area`` shows them inside a <textarea> whose end cannot be forged."""

    def __init__(self) -> None:
        self.messages: dict[str, list[tuple[str, str]]] = {"gb": [], "gb-safe": [], "gb-area": []}

    def post(self, board: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            form = request.form()
            self.messages[board].append((form.get("name", ""), form.get("content", "")))
            return Response(303, "", {"Location": f"/{board}/list"})

        return handle

    def show(self, board: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            rows = []
            for name, content in self.messages[board]:
                if board == "gb":
                    rows.append(f"<div><b>{name}</b><p>{content}</p></div>")
                elif board == "gb-safe":
                    rows.append(f"<div><b>{esc(name)}</b><p>{esc(content)}</p></div>")
                else:
                    rows.append(_no_close("textarea")(name + content))
            return page("".join(rows) or "<p>暂无留言</p>")

        return handle


def test_xss_stored_found_and_escaped_board_clean() -> None:
    board = _Guestbook()
    routes: dict[str, Route] = {}
    for name in board.messages:
        routes[f"/{name}"] = board.post(name)
        routes[f"/{name}/list"] = board.show(name)
    routes["/"] = page("<a href='/gb/list'>留言</a>")
    with MockHttpTarget(routes) as target:
        state = make_state(target.url)
        for name in board.messages:
            request = post_form(target, f"/{name}", name="访客", content="你好")
            for label in ("form:name", "form:content"):
                issues, sent = run(xss.ReflectedXss(), state, request, label)
                assert issues == [] and sent == 1
        assert len(state.stored_canaries) == 6
        pages = [target.url + "/", *(f"{target.url}/{n}/list" for n in board.messages)]
        found = list(xss.find_stored(state, pages))
    assert sorted((i.kind, i.url, i.parameter) for i in found) == [
        ("xss-stored", f"{target.url}/gb", "form:content"),
        ("xss-stored", f"{target.url}/gb", "form:name"),
    ]
    issue = found[0]
    assert issue.method == "POST" and issue.extra["shown_at"] == f"{target.url}/gb/list"
    assert issue.request is not None and issue.request.method == "POST"
    assert issue.response is not None and issue.extra["payload"] in issue.response.text
    assert "/gb/list" in issue.detail


def test_xss_stored_replans_when_the_page_changed_meanwhile() -> None:
    """Another submission (here a cut-off SSI payload) left a comment open after the
    canary was stored: the first payload lands inside the comment, the next one is
    planned from there and closes it."""
    board = _Guestbook()
    routes: dict[str, Route] = {"/gb": board.post("gb"), "/gb/list": board.show("gb")}
    with MockHttpTarget(routes) as target:
        state = make_state(target.url)
        request = post_form(target, "/gb", name="访客", content="你好")
        run(xss.ReflectedXss(), state, request, "form:content")
        board.messages["gb"].append(("访客", '<!--#exec cmd="echo sb'))
        before = state.client.requests
        [issue] = xss.find_stored(state, [f"{target.url}/gb/list"])
        sent = state.client.requests - before
    assert (issue.kind, issue.parameter, issue.extra["context"]) == (
        "xss-stored",
        "form:content",
        "HTML 注释中",
    )
    assert sent == 1 + 2 * 2


def test_xss_stored_sweep_cost_is_bounded_per_field() -> None:
    """Escaped messages shown in a sidebar of every page: each field is tried on at most
    MAX_STORED_PAGES_PER_FIELD pages, one payload each (it lands escaped: nothing to
    re-plan)."""
    board = _Guestbook()
    show = board.show("gb-safe")
    routes: dict[str, Route] = {"/gb": board.post("gb-safe")}
    for number in range(8):
        routes[f"/p{number}"] = show
    with MockHttpTarget(routes) as target:
        state = make_state(target.url)
        request = post_form(target, "/gb", name="访客", content="你好")
        for label in ("form:name", "form:content"):
            run(xss.ReflectedXss(), state, request, label)
        before = state.client.requests
        found = list(xss.find_stored(state, [f"{target.url}/p{n}" for n in range(8)]))
        sent = state.client.requests - before
    assert found == []
    assert sent == 8 + 2 * xss.MAX_STORED_PAGES_PER_FIELD * 2


def test_find_stored_without_canaries_sends_nothing() -> None:
    with MockHttpTarget({"/": page("x")}) as target:
        state = make_state(target.url)
        assert list(xss.find_stored(state, [target.url + "/"])) == []
        assert state.client.requests == 0


def test_get_parameters_are_not_remembered_for_stored_xss(xss_target: MockHttpTarget) -> None:
    state = make_state(xss_target.url)
    run(xss.ReflectedXss(), state, get(xss_target, "/text", q="a"), "query:q")
    assert state.stored_canaries == {}


# =========================================================================== traversal

PASSWD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
WIN_INI = "; for 16-bit app support\n[fonts]\n[extensions]\n[mci extensions]\n"
FILES = {
    "/etc/passwd": PASSWD,
    "/srv/files/guide.txt": "办事指南",
    "/srv/files/a/b.txt": "b",
}
WINDOWS_FILES = {"/windows/win.ini": WIN_INI, "/srv/files/guide.txt": "办事指南"}


def _careless(files: dict[str, str], name: str) -> str | None:
    """The virtual file ``name`` resolves to from /srv/files, ``..`` honoured."""
    joined = posixpath.normpath(posixpath.join("/srv/files", name.replace("\\", "/")))
    path = re.sub(r"^/?[a-zA-Z]:", "", joined).lower()
    path = "/" + path.lstrip("/")
    return next((v for k, v in files.items() if k.lower() == path), None)


def _reader(
    files: dict[str, str], transform: Callable[[str], str | None]
) -> Callable[[Request], Response]:
    def handle(request: Request) -> Response:
        name = transform(query("file")(request))
        content = None if name is None else _careless(files, name)
        if content is None:
            return page("<p>文件不存在</p>", 404)
        return Response(200, content, {"Content-Type": "application/octet-stream"})

    return handle


def _one_pass_strip(value: str) -> str | None:
    """Refuses absolute names and removes ``../`` once (not recursively)."""
    return None if value.startswith("/") else value.replace("../", "")


TRAVERSAL_ROUTES = {
    "/read": _reader(FILES, lambda v: v),
    "/read-strip": _reader(FILES, _one_pass_strip),
    "/read-double": _reader(FILES, lambda v: None if "../" in v or v[:1] == "/" else unquote(v)),
    "/read-prefix": _reader(FILES, lambda v: v if v.startswith("a/") else None),
    "/read-windows": _reader(WINDOWS_FILES, lambda v: v),
    "/read-safe": _reader(FILES, lambda v: posixpath.basename(v.replace("\\", "/"))),
    "/echo": reflect(query("file"), lambda v: f"<p>找不到文件 {esc(v)}</p>"),
    "/tutorial": reflect(
        query("file"),
        lambda v: f"<pre>passwd 文件格式示例：root:x:0:0:root:/root:/bin/bash</pre>{esc(v)}",
    ),
}


@pytest.fixture(scope="module")
def files_target() -> Iterator[MockHttpTarget]:
    with MockHttpTarget(TRAVERSAL_ROUTES) as target:
        yield target


@pytest.mark.parametrize(
    ("path", "value", "payload"),
    [
        ("/read", "guide.txt", "../" * 8 + "etc/passwd"),
        ("/read-strip", "guide.txt", "....//" * 8 + "etc/passwd"),
        ("/read-double", "guide.txt", "..%2f" * 8 + "etc%2fpasswd"),
        ("/read-prefix", "a/b.txt", "a/" + "../" * 8 + "etc/passwd"),
        ("/read-windows", "guide.txt", "..\\" * 8 + "windows\\win.ini"),
    ],
)
def test_traversal_found(files_target: MockHttpTarget, path: str, value: str, payload: str) -> None:
    state = make_state(files_target.url)
    issues, sent = run(
        traversal.PathTraversal(), state, get(files_target, path, file=value), "query:file"
    )
    [issue] = issues
    assert (issue.kind, issue.parameter, issue.extra["payload"]) == (
        "path-traversal",
        "query:file",
        payload,
    )
    assert sent <= 1 + traversal.MAX_PAYLOADS


@pytest.mark.parametrize("path", ["/read-safe", "/echo", "/tutorial"])
def test_traversal_near_misses(files_target: MockHttpTarget, path: str) -> None:
    state = make_state(files_target.url)
    issues, sent = run(
        traversal.PathTraversal(), state, get(files_target, path, file="a/guide.txt"), "query:file"
    )
    assert issues == []
    assert sent <= 1 + traversal.MAX_PAYLOADS


def test_traversal_tests_file_like_parameters_only() -> None:
    assert traversal.looks_like_file("file", "guide.txt")
    assert traversal.looks_like_file("x", "docs/a")
    assert traversal.looks_like_file("template", "news")
    assert traversal.looks_like_file("lang", "zh-cn")
    assert not traversal.looks_like_file("page", "2")
    assert not traversal.looks_like_file("id", "3")
    assert not traversal.looks_like_file("q", "办事指南")
    assert not traversal.looks_like_file("src", "http://127.0.0.1/a.html")
    assert len(traversal.payloads("a/b.txt")) == traversal.MAX_PAYLOADS


# =========================================================================== SSRF / RFI


def _fetch_loopback(url: str) -> bytes | None:
    """GET ``url`` when it is http://127.0.0.1 (the mock never leaves the machine)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1":
        return None
    conn = http.client.HTTPConnection("127.0.0.1", parts.port or 80, timeout=3)
    try:
        conn.request("GET", parts.path or "/")
        return conn.getresponse().read()
    except OSError:
        return None
    finally:
        conn.close()


def _ssrf_status(request: Request) -> Response:
    body = _fetch_loopback(query("url")(request))
    return Response(200, json.dumps({"ok": body is not None}), {"Content-Type": "application/json"})


def _rfi(request: Request) -> Response:
    body = _fetch_loopback(query("src")(request))
    return page(f"<div class='widget'>{(body or b'').decode()}</div>")


def _ssrf_safe(request: Request) -> Response:
    url = query("url")(request)
    if urlsplit(url).path not in ("/static/w.html",) or urlsplit(url).port is not None:
        return Response(403, json.dumps({"ok": False}), {"Content-Type": "application/json"})
    return _ssrf_status(request)


def _ssrf_body_json(request: Request) -> Response:
    body = _fetch_loopback(str((request.json() or {}).get("avatar", "")))
    return Response(
        200, json.dumps({"saved": body is not None}), {"Content-Type": "application/json"}
    )


SSRF_ROUTES = {
    "/preview": _ssrf_status,
    "/widget": _rfi,
    "/preview-safe": _ssrf_safe,
    "/profile": _ssrf_body_json,
    "/search": reflect(query("q"), lambda v: f"<p>{esc(v)}</p>"),
}


@pytest.fixture(scope="module")
def ssrf_target() -> Iterator[tuple[MockHttpTarget, HttpCallback]]:
    with MockHttpTarget(SSRF_ROUTES) as target, HttpCallback("127.0.0.1", 0) as listener:
        yield target, listener


def _ssrf_state(target: MockHttpTarget, listener: HttpCallback) -> ScanState:
    state = make_state(target.url)
    state.callback = listener
    state.options["callback_wait"] = 1
    return state


@pytest.mark.parametrize(
    ("request_for", "label", "kind"),
    [
        (lambda t: get(t, "/preview", url="http://127.0.0.1/static/w.html"), "query:url", "ssrf"),
        (lambda t: get(t, "/widget", src="http://127.0.0.1/static/w.html"), "query:src", "rfi"),
        (
            lambda t: post_json(t, "/profile", avatar="http://127.0.0.1/a.png", name="x"),
            "json:avatar",
            "ssrf",
        ),
    ],
)
def test_ssrf_and_rfi_found(
    ssrf_target: tuple[MockHttpTarget, HttpCallback],
    request_for: Callable[[MockHttpTarget], WebRequest],
    label: str,
    kind: str,
) -> None:
    target, listener = ssrf_target
    state = _ssrf_state(target, listener)
    issues, sent = run(ssrf.ServerSideRequest(), state, request_for(target), label)
    [issue] = issues
    assert (issue.kind, issue.parameter, sent) == (kind, label, 1)
    assert issue.extra["callback_url"].startswith(f"http://127.0.0.1:{listener.port}/")
    assert issue.extra["callback_requests"][0].startswith("GET /")


def test_ssrf_safe_twin_and_plain_parameter(
    ssrf_target: tuple[MockHttpTarget, HttpCallback],
) -> None:
    target, listener = ssrf_target
    state = _ssrf_state(target, listener)
    started = time.monotonic()
    issues, sent = run(
        ssrf.ServerSideRequest(),
        state,
        get(target, "/preview-safe", url="http://127.0.0.1/static/w.html"),
        "query:url",
    )
    assert issues == [] and sent == 1
    issues, sent = run(ssrf.ServerSideRequest(), state, get(target, "/search", q="办事"), "query:q")
    assert issues == [] and sent == 1
    assert time.monotonic() - started < 1 + ssrf.OTHER_WAIT + 1.5  # the waits are bounded


def test_ssrf_skipped_without_a_listener(ssrf_target: tuple[MockHttpTarget, HttpCallback]) -> None:
    target, _ = ssrf_target
    state = make_state(target.url)
    issues, sent = run(
        ssrf.ServerSideRequest(),
        state,
        get(target, "/preview", url="http://127.0.0.1/"),
        "query:url",
    )
    assert issues == [] and sent == 0


# =========================================================================== open redirect


def _redirect(location: Callable[[str], str | None]) -> Callable[[Request], Response]:
    def handle(request: Request) -> Response:
        target = location(query("url")(request) or query("next")(request))
        return Response(302, "", {"Location": target or "/"})

    return handle


def _local_only(value: str) -> str:
    parts = urlsplit(value)
    local = value.startswith("/") and not value.startswith(("//", "/\\")) and not parts.netloc
    return value if local else "/"


REDIRECT_ROUTES = {
    "/go": _redirect(lambda v: v),
    "/go-safe": _redirect(_local_only),
    "/go-naive": _redirect(lambda v: v if v.startswith("/") and not v.startswith("//") else "/"),
    "/go-scheme": _redirect(lambda v: "/" if "//" in v or v.startswith("/\\") else v),
    "/go-prefix": _redirect(lambda v: v if v.startswith("https://127.0.0.1") else "/"),
    "/login-next": _redirect(lambda v: "/login?next=" + quote(v, safe="")),
    "/go-meta": reflect(
        query("url"), lambda v: f'<meta http-equiv="refresh" content="0; url={esc(v)}">'
    ),
    "/go-js": reflect(
        query("url"), lambda v: f"<script>window.location.href = {_js_url(v)};</script>"
    ),
    "/link": reflect(query("url"), lambda v: f'<p>即将离开本站：<a href="{esc(v)}">继续</a></p>'),
    "/js-string": reflect(query("url"), lambda v: f"<script>var next = {json.dumps(v)};</script>"),
}


@pytest.fixture(scope="module")
def redirect_target() -> Iterator[MockHttpTarget]:
    with MockHttpTarget(REDIRECT_ROUTES) as target:
        yield target


@pytest.mark.parametrize(
    ("path", "name", "payload_index", "how"),
    [
        ("/go", "url", 0, "Location 响应头"),
        ("/go-naive", "url", 2, "Location 响应头"),
        ("/go-scheme", "url", 3, "Location 响应头"),
        ("/go-prefix", "next", 4, "Location 响应头"),
        ("/go-meta", "url", 0, "<meta> 刷新跳转"),
        ("/go-js", "url", 0, "JavaScript 跳转"),
    ],
)
def test_open_redirect_found(
    redirect_target: MockHttpTarget, path: str, name: str, payload_index: int, how: str
) -> None:
    state = make_state(redirect_target.url)
    issues, sent = run(
        redirect.OpenRedirect(),
        state,
        get(redirect_target, path, **{name: "/home"}),
        f"query:{name}",
    )
    [issue] = issues
    assert (issue.kind, issue.parameter, sent) == (
        "open-redirect",
        f"query:{name}",
        payload_index + 1,
    )
    assert how in issue.detail
    assert issue.response is not None and issue.response.history == []  # never followed


@pytest.mark.parametrize("path", ["/go-safe", "/login-next", "/link", "/js-string"])
def test_open_redirect_near_misses(redirect_target: MockHttpTarget, path: str) -> None:
    state = make_state(redirect_target.url)
    issues, sent = run(
        redirect.OpenRedirect(), state, get(redirect_target, path, url="/home"), "query:url"
    )
    assert issues == [] and sent == 5


def test_redirect_parameters_and_browser_resolution() -> None:
    assert redirect.name_suggests_redirect("returnUrl")
    assert redirect.name_suggests_redirect("redirect_uri")
    assert redirect.name_suggests_redirect("跳转地址")
    assert not redirect.name_suggests_redirect("secret")
    assert not redirect.name_suggests_redirect("keyword")
    base = "http://127.0.0.1:8000/a/b"
    for target, host in [
        ("https://x.example/", "x.example"),
        ("//x.example", "x.example"),
        ("/\\x.example/", "x.example"),
        ("\\\\x.example", "x.example"),
        (" \t//x.example", "x.example"),
        ("https:x.example", "x.example"),
        ("http:x.example", "127.0.0.1"),
        ("https://127.0.0.1@x.example/", "x.example"),
        ("https://x.example@127.0.0.1/", "127.0.0.1"),
        ("HTTPS://X.EXAMPLE:443/", "x.example"),
        ("/login?next=https://x.example/", "127.0.0.1"),
        ("x.example", "127.0.0.1"),
    ]:
        assert redirect.browser_host(base, target) == host, target
    assert redirect.browser_host(base, "javascript:alert(1)") is None


# =========================================================================== SSI

SSI_ERROR = "[an error occurred while processing this directive]"


def _ssi_echo_only(value: str) -> str:
    """Apache with IncludesNOEXEC: echo works, exec is refused."""

    def directive(match: re.Match[str]) -> str:
        if match.group(1) == "echo" and 'var="DATE_LOCAL"' in match.group(2):
            return time.strftime("%A, %d-%b-%Y %H:%M:%S CST")
        return SSI_ERROR

    return re.sub(r"<!--#(\w+)(.*?)-->", directive, value, flags=re.S)


SSI_ROUTES = {
    "/wish.shtml": reflect(query("name"), lambda v: f"<p>{_ssi_echo_only(v)}，新春快乐</p>"),
    "/reflect.shtml": reflect(query("name"), lambda v: f"<p>{v}，新春快乐</p>"),
    "/strip.shtml": reflect(query("name"), lambda v: re.sub(r"<!--.*?-->", "", v, flags=re.S)),
    "/escaped.shtml": reflect(
        query("name"), lambda v: f"<p>{esc(v)} {time.strftime('%Y-%m-%d')}</p>"
    ),
}


def test_ssi_echo_found_and_look_alikes_clean() -> None:
    with MockHttpTarget(SSI_ROUTES) as target:
        state = make_state(target.url)
        issues, sent = run(
            ssi.SsiInjection(), state, get(target, "/wish.shtml", name="市民"), "query:name"
        )
        [issue] = issues
        assert (issue.kind, issue.parameter, issue.extra["technique"], sent) == (
            "ssi",
            "query:name",
            "echo",
            1,
        )
        assert "DATE_LOCAL" in issue.detail
        for path in ("/reflect.shtml", "/strip.shtml", "/escaped.shtml"):
            issues, sent = run(
                ssi.SsiInjection(), state, get(target, path, name="市民"), "query:name"
            )
            assert issues == [] and sent == 1, path


def test_ssi_echoed_middle_must_look_evaluated() -> None:
    assert ssi.echoed("sbAFriday, 01-Mar-2024 10:00:00 CSTsbB", "sbA", "sbB") == (
        "Friday, 01-Mar-2024 10:00:00 CST"
    )
    assert ssi.echoed('sbA<!--#echo var="DATE_LOCAL" -->sbB', "sbA", "sbB") is None
    assert ssi.echoed("sbA&lt;!--#echo var=&quot;DATE_LOCAL&quot; --&gt;sbB", "sbA", "sbB") is None
    assert ssi.echoed("sbAsbB", "sbA", "sbB") is None
    assert ssi.echoed("sbA(none)sbB", "sbA", "sbB") is None


# =========================================================================== command injection


def _shell(command: str) -> str:
    """``/bin/sh -c command`` on this machine, as a careless application runs it."""
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, timeout=20, check=False)
    return (done.stdout + done.stderr).decode("utf-8", "replace")


def _cmd_exe_echo(value: str) -> str:
    """cmd.exe's reading of ``ping VALUE``: ``&`` separates commands, ``^`` escapes."""
    out = []
    for part in value.split("&"):
        words = part.strip().split(" ", 1)
        if words[0].lower() == "echo" and len(words) > 1:
            out.append(re.sub(r"\^(.)", r"\1", words[1]))
        elif words[0] and words[0] != "echo":
            out.append(f"Pinging {words[0]} with 32 bytes of data")
    return "\n".join(out)


def _tarpit(request: Request) -> Response:
    """A filter that stalls every request that looks like an attack, whatever N is."""
    if any(word in query("host")(request) for word in ("sleep", "ping")):
        time.sleep(1.2)
    return page("<p>ok</p>")


CMD_ROUTES = {
    "/json-ping": lambda r: page(
        f"<pre>{esc(_shell('echo checking ' + str((r.json() or {}).get('host', ''))))}</pre>"
    ),
    "/cookie-ping": lambda r: page(
        f"<pre>{esc(_shell('echo region ' + _cookie(r, 'region')))}</pre>"
    ),
    "/xff-log": lambda r: page(
        f"<pre>{esc(_shell('echo visitor ' + r.header('X-Forwarded-For')))}</pre>"
    ),
    "/win-ping": reflect(query("host"), lambda v: f"<pre>{esc(_cmd_exe_echo(v))}</pre>"),
    "/quoted": lambda r: page(f"<pre>{esc(_shell('echo ' + shlex.quote(query('host')(r))))}</pre>"),
    "/echo-input": reflect(query("host"), lambda v: f"<pre>PING {esc(v)}</pre>"),
    "/tarpit": _tarpit,
}


@pytest.fixture(scope="module")
def cmd_target() -> Iterator[MockHttpTarget]:
    with MockHttpTarget(CMD_ROUTES) as target:
        yield target


@pytest.mark.parametrize(
    ("request_for", "label", "separator"),
    [
        (lambda t: post_json(t, "/json-ping", host="127.0.0.1"), "json:host", ";"),
        (lambda t: get(t, "/cookie-ping").with_header("Cookie", "region=yz"), "cookie:region", "|"),
        (
            lambda t: get(t, "/xff-log").with_header("X-Forwarded-For", "10.0.0.1"),
            "header:X-Forwarded-For",
            ";",
        ),
        (lambda t: get(t, "/win-ping", host="127.0.0.1"), "query:host", "&（Windows）"),
    ],
)
def test_command_injection_echo_in_every_location(
    cmd_target: MockHttpTarget,
    request_for: Callable[[MockHttpTarget], WebRequest],
    label: str,
    separator: str,
) -> None:
    state = make_state(cmd_target.url)
    issues, _ = run(cmdi.CommandInjection(), state, request_for(cmd_target), label)
    [issue] = issues
    assert (issue.kind, issue.parameter, issue.extra["technique"]) == (
        "cmd-injection",
        label,
        "echo",
    )
    assert f"（{separator} 分隔）" in issue.detail


@pytest.mark.parametrize("path", ["/quoted", "/echo-input", "/tarpit"])
def test_command_injection_near_misses(cmd_target: MockHttpTarget, path: str) -> None:
    state = make_state(cmd_target.url)
    state.options["time_delay"] = 1
    issues, sent = run(
        cmdi.CommandInjection(), state, get(cmd_target, path, host="127.0.0.1"), "query:host"
    )
    assert issues == []
    assert sent <= len(cmdi.ECHO_FORMS) + cmdi.TIMING_SAMPLES + len(cmdi.TIME_FORMS) + 1


# =========================================================================== SSTI


def _evaluate(pattern: str) -> Callable[[str], str]:
    """A template engine emulation: ``pattern`` with two numbers becomes their product."""
    return lambda value: re.sub(pattern, lambda m: str(int(m.group(1)) * int(m.group(2))), value)


_EL = _evaluate(r"\$\{(\d+)\*(\d+)\}")
_ERB_TAG = _evaluate(r"<%=\s*(\d+)\*(\d+)\s*%>")


def _ERB(value: str) -> str:  # noqa: N802 - reads like the engine it stands for
    """ERB: ``<%= a*b %>`` evaluated, the rest escaped."""
    parts = re.split(r"(<%=.*?%>)", value)
    return "".join(_ERB_TAG(p) if p.startswith("<%=") else esc(p) for p in parts)


def _aspnet(request: Request) -> Response:
    """Request validation refuses ``<%``; the page evaluates ``${a*b}`` (EL-like)."""
    value = query("name")(request)
    if "<%" in value or "<" in value:
        return page("<h1>Server Error in '/' Application.</h1>", 500)
    return page(f"<p>{_EL(value)}</p>")


SSTI_ROUTES = {
    "/erb": reflect(query("name"), lambda v: f"<p>{_ERB(v)}</p>"),
    "/aspnet": _aspnet,
    "/smarty": reflect(query("name"), _evaluate(r"\{(\d+)\*(\d+)\}")),
    "/literal": reflect(query("name"), lambda v: f"<p>{esc(v)}</p><p>示例：{{{{7*7}}}} = 49</p>"),
    "/broken": lambda r: page("<p>参数错误</p>", 500 if "{" in query("name")(r) else 200),
}


@pytest.fixture(scope="module")
def ssti_target() -> Iterator[MockHttpTarget]:
    with MockHttpTarget(SSTI_ROUTES) as target:
        yield target


@pytest.mark.parametrize(
    ("path", "syntax", "engine"),
    [
        ("/erb", "<%= … %>", "ERB"),
        ("/aspnet", "${…}", "FreeMarker"),
        ("/smarty", "{…}", "Smarty"),
    ],
)
def test_ssti_found_with_engine_guess(
    ssti_target: MockHttpTarget, path: str, syntax: str, engine: str
) -> None:
    state = make_state(ssti_target.url)
    issues, _ = run(
        ssti.TemplateInjection(), state, get(ssti_target, path, name="市民"), "query:name"
    )
    [issue] = issues
    assert (issue.kind, issue.parameter) == ("ssti", "query:name")
    assert engine in issue.extra["engine_guess"]
    if path != "/smarty":
        assert issue.extra["syntax"] == syntax


@pytest.mark.parametrize("path", ["/literal", "/broken"])
def test_ssti_near_misses(ssti_target: MockHttpTarget, path: str) -> None:
    state = make_state(ssti_target.url)
    issues, sent = run(
        ssti.TemplateInjection(), state, get(ssti_target, path, name="市民"), "query:name"
    )
    assert issues == []
    limit = 2 if path == "/literal" else 2 + 1 + len(ssti.SCREEN_1) + len(ssti.SCREEN_2)
    assert sent <= limit


# =========================================================================== CRLF


def _location(transform: Callable[[str], str]) -> Callable[[Request], Response]:
    return lambda request: Response(302, "", {"Location": "/m/" + transform(query("to")(request))})


def _low_bytes(value: str) -> str:
    """A server that strips CR/LF, then writes each character's low byte."""
    cleaned = value.replace("\r", "").replace("\n", "")
    return "".join(chr(ord(c) & 0xFF) for c in cleaned)


CRLF_ROUTES = {
    "/jump": _location(lambda v: v),
    "/jump-lf": _location(lambda v: v.replace("\r\n", "")),
    "/jump-low": _location(_low_bytes),
    "/jump-safe": _location(lambda v: quote(v.replace("\r", "").replace("\n", ""), safe="/")),
    "/jump-body": lambda r: Response(
        200,
        f"<p>{query('to')(r)}</p>",
        {"Content-Type": "text/html", "X-Target": quote(query("to")(r))},
    ),
    "/plain": reflect(query("to"), lambda v: f"<p>{v}</p>"),
}


@pytest.mark.parametrize(
    ("path", "wire"),
    [("/jump", "%0D%0A"), ("/jump-lf", "%0A"), ("/jump-low", "%E5%98%8D%E5%98%8A")],
)
def test_crlf_found(path: str, wire: str) -> None:
    with MockHttpTarget(CRLF_ROUTES) as target:
        state = make_state(target.url)
        issues, _ = run(crlf.CrlfInjection(), state, get(target, path, to="index"), "query:to")
    [issue] = issues
    assert (issue.kind, issue.parameter, issue.extra["carrier"].lower()) == (
        "crlf",
        "query:to",
        "location",
    )
    assert issue.extra["payload"].startswith(wire)
    assert issue.response is not None and issue.response.header(crlf.HEADER)


def test_crlf_near_misses_and_cost() -> None:
    with MockHttpTarget(CRLF_ROUTES) as target:
        state = make_state(target.url)
        for path, most in (
            ("/jump-safe", 1 + len(crlf.BREAKS)),
            ("/jump-body", 1 + len(crlf.BREAKS)),
            ("/plain", 1),
        ):
            issues, sent = run(
                crlf.CrlfInjection(), state, get(target, path, to="index"), "query:to"
            )
            assert issues == [] and sent <= most, path
        probe = probe_for(
            state, get(target, "/jump", to="x").with_header("Cookie", "a=1"), "cookie:a"
        )
        assert not crlf.CrlfInjection().applies(probe)
