"""The web scan's crawl, budgets, session handling and CLI against local mock sites."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from shaobing.cli.templates import build_context
from shaobing.core.db import session_scope
from shaobing.findings.models import Finding, WorkOrder
from shaobing.scan.models import ScanRun
from shaobing.web.checks.base import PassiveCheck, ScanState, register, unregister
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue
from shaobing.web.scan import WebScanner, WebScanOptions
from shaobing.web.service import WebScanRequest, execute_webscan, plan_webscan
from tests.conftest import CliRunner
from tests.findings.helpers import make_engagement
from tests.targets.http import MockHttpTarget, Request, Response

HTML = {"Content-Type": "text/html; charset=utf-8"}


def _page(title: str, body: str) -> Response:
    return Response(
        200, f"<html><head><title>{title}</title></head><body>{body}</body></html>", HTML
    )


def _site() -> dict[str, object]:
    news_links = "".join(f'<a href="/news?id={i}">新闻{i}</a>' for i in range(1, 201))
    routes: dict[str, object] = {
        "/": _page(
            "首页",
            '<a href="/about">关于</a> <a href="/list">列表</a>'
            ' <a href="/user/delete?id=1">删除</a> <a href="/logout">退出</a>'
            '<script>fetch("/api/stats?year=2026")</script>'
            '<form action="/search"><input name="q"></form>'
            '<form action="/remove" method="post"><input name="id">'
            "<button>删除记录</button></form>",
        ),
        "/about": _page("关于", '<a href="/">首页</a><iframe src="/frame"></iframe>'),
        "/frame": _page("框架", "frame"),
        "/list": _page("列表", news_links),
        "/news": lambda r: _page("新闻", f"新闻 {r.query.get('id', ['?'])[0]}"),
        "/search": lambda r: _page("搜索", f"结果 {r.query.get('q', [''])[0]}"),
        "/api/stats": Response(200, '{"n": 1}', {"Content-Type": "application/json"}),
        "/robots.txt": Response(200, "User-agent: *\nDisallow: /hidden/\nSitemap: /sm.xml\n"),
        "/sm.xml": Response(
            200,
            '<?xml version="1.0"?><urlset><url><loc>/only-in-sitemap</loc></url></urlset>',
            {"Content-Type": "application/xml"},
        ),
        "/hidden/": _page("隐藏", "后台"),
        "/only-in-sitemap": _page("地图", "sitemap page"),
        "/user/delete": _page("删除", "deleted!"),
        "/logout": _page("退出", "bye"),
        "/remove": _page("删除", "removed!"),
    }
    return routes


@pytest.fixture
def site() -> Iterator[MockHttpTarget]:
    with MockHttpTarget(_site()) as target:  # type: ignore[arg-type]
        yield target


def test_crawl_finds_pages_dedups_families_and_skips_destructive(site: MockHttpTarget) -> None:
    ctx = build_context([site.url], 5.0)
    scanner = WebScanner(ctx, site.url + "/", WebScanOptions(allow=lambda _i, _s: False))
    outcome = scanner.run()
    paths = {p.url.removeprefix(site.url) for p in outcome.crawl.pages}
    for wanted in (
        "/",
        "/about",
        "/frame",
        "/list",
        "/search?q=",
        "/api/stats?year=2026",
        "/hidden/",
        "/only-in-sitemap",
    ):
        assert wanted in paths, wanted
    news = [p for p in paths if p.startswith("/news")]
    assert len(news) == 3  # one URL family, visited per_pattern times
    seen = [r.path for r in site.seen]
    for destructive in ("/user/delete", "/logout", "/remove"):
        assert destructive not in seen
    assert any("/user/delete" in u for u in outcome.crawl.skipped_destructive)
    assert any(u.endswith("/remove") for u in outcome.crawl.skipped_destructive)
    surface = {r.url.removeprefix(site.url) for r in outcome.crawl.surface}
    assert "/search?q=" in surface and "/api/stats?year=2026" in surface
    assert outcome.requests == len(site.seen)
    assert outcome.stopped is None


def test_page_and_request_budgets_hold(site: MockHttpTarget) -> None:
    ctx = build_context([site.url], 5.0)
    options = WebScanOptions(max_requests=7, allow=lambda _i, _s: False)
    outcome = WebScanner(ctx, site.url + "/", options).run()
    assert outcome.stopped == "requests"
    assert len(site.seen) <= 7
    pages = WebScanner(ctx, site.url + "/", WebScanOptions(max_pages=4, allow=lambda _i, _s: False))
    assert len(pages.run().crawl.pages) <= 4


class _Hostile:
    """A raw server: slow, garbage, redirect loop and an endless body, by path."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(4096).decode("latin-1")
            path = data.split(" ")[1] if " " in data else "/"
            if path == "/":
                body = (
                    b'<a href="/slow">s</a><a href="/garbage">g</a>'
                    b'<a href="/loop">l</a><a href="/huge">h</a>'
                )
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + body
                )
            elif path == "/slow":
                time.sleep(3)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            elif path == "/garbage":
                conn.sendall(b"\x00\xff\xfe garbage \x80\x81\r\n\r\n\xde\xad")
            elif path == "/loop":
                conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /loop2\r\nContent-Length: 0\r\n\r\n")
            elif path == "/loop2":
                conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")
            elif path == "/huge":
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                    b"Content-Length: 1073741824\r\n\r\n"
                )
                chunk = b"<a href='/x'>" + b"A" * 65536
                while not self.stop.is_set() and self.sent < 1073741824:
                    conn.sendall(chunk)
                    self.sent += len(chunk)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_hostile_site_stays_within_budgets() -> None:
    server = _Hostile()
    try:
        url = f"http://127.0.0.1:{server.port}/"
        ctx = build_context([url], 1.0)
        options = WebScanOptions(timeout=1.0, max_seconds=30, allow=lambda _i, _s: False)
        started = time.monotonic()
        outcome = WebScanner(ctx, url, options).run()
        elapsed = time.monotonic() - started
        assert elapsed < 15
        assert server.sent < 64 * 2**20  # the endless body was cut at the size cap
        assert any("/slow" in e for e in outcome.errors)
        assert any("/garbage" in e for e in outcome.errors)
        huge = [p for p in outcome.crawl.pages if p.url.endswith("/huge")]
        assert huge and huge[0].size <= 2 * 2**20
    finally:
        server.close()


def _login_site(expire_after: int) -> dict[str, object]:
    state = {"sessions": {}}

    def login(request: Request) -> Response:
        if request.method == "POST":
            form = request.form()
            if (
                form.get("username") == "admin"
                and form.get("password") == "S3cret!"
                and form.get("csrf") == "tok"
            ):
                sid = f"s{len(state['sessions']) + 1}"
                state["sessions"][sid] = 0
                return Response(
                    302, "", {"Location": "/home", "Set-Cookie": f"sid={sid}; HttpOnly"}
                )
            return _page("登录", "口令错误")
        return _page(
            "登录",
            '<form method="post" action="/login"><input name="username">'
            '<input type="password" name="password"><input type="hidden" name="csrf" value="tok">'
            "<button>登录</button></form>",
        )

    def private(request: Request) -> Response:
        sid = request.header("cookie").partition("sid=")[2].split(";")[0]
        if sid not in state["sessions"] or state["sessions"][sid] >= expire_after:
            return Response(302, "", {"Location": "/login"})
        state["sessions"][sid] += 1
        state.setdefault("served", set()).add(request.path)
        return _page(
            "内部",
            '<a href="/home">主页</a><a href="/private/a">A</a><a href="/private/b">B</a>'
            '<a href="/private/c">C</a><a href="/private/d">D</a>',
        )

    return {
        "/login": login,
        "/home": private,
        "/private/a": private,
        "/private/b": private,
        "/private/c": private,
        "/private/d": private,
        "state": state,
    }


def test_login_and_relogin_when_the_session_expires() -> None:
    routes = _login_site(expire_after=2)
    state = routes.pop("state")
    with MockHttpTarget(routes) as target:  # type: ignore[arg-type]
        ctx = build_context([target.url], 5.0)
        options = WebScanOptions(
            login_url=target.url + "/login",
            username="admin",
            password="S3cret!",
            allow=lambda _i, _s: False,
        )
        scanner = WebScanner(ctx, target.url + "/home", options)
        outcome = scanner.run()
        served = state["served"]  # type: ignore[index]
        assert {"/private/a", "/private/b", "/private/c", "/private/d"} <= served
        assert scanner.login is not None and scanner.login.logins >= 2
        assert len(state["sessions"]) >= 2  # type: ignore[arg-type]
        assert outcome.authenticated


class _TitleCheck(PassiveCheck):
    """A passive check for the engine test: every page titled 新闻 is an issue."""

    id = "web.test-title"
    kinds = ("error-disclosure",)

    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        if "<title>新闻</title>" in response.text:
            yield WebIssue(
                "error-disclosure",
                response.url,
                detail="标题为新闻",
                request=response.request,
                response=response,
            )


@pytest.fixture
def title_check() -> Iterator[None]:
    register(_TitleCheck())
    yield
    unregister(_TitleCheck.id)


@pytest.mark.usefixtures("title_check")
def test_webscan_records_findings_and_json(
    engine: Engine, site: MockHttpTarget, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        engagement = make_engagement(session)
        name = engagement.name
    request = WebScanRequest(target=site.url + "/", engagement=name, policy="web-passive")
    scan_id, options = plan_webscan(engine, request, actor="tester")
    options.allow = lambda check_id, _s: check_id == "web.test-title"
    data = execute_webscan(engine, scan_id, options, actor="tester")
    assert data["scan_id"] == scan_id and data["pages"] >= 8 and data["requests"] >= data["pages"]
    assert {f["check_id"] for f in data["findings"]} == {"web.error-disclosure"}
    assert len(data["findings"]) == 1  # /news?id=1..3: one page family, one issue
    first = data["findings"][0]
    assert set(first) == {
        "id",
        "check_id",
        "title",
        "severity",
        "cwe",
        "owasp",
        "url",
        "method",
        "parameter",
        "evidence",
    }
    assert first["owasp"] == "A05:2021" and first["cwe"] == ["CWE-209"] and first["id"]
    assert "复现命令" in first["evidence"] and "curl" in first["evidence"]
    with session_scope(engine, readonly=True) as session:
        run = session.get(ScanRun, scan_id)
        assert run is not None and run.kind == "web" and run.status == "completed"
        rows = session.scalars(select(Finding).where(Finding.scan_run_id == scan_id)).all()
        assert len(rows) == len(data["findings"])
        assert rows[0].extra["owasp"] == "A05:2021"
        order = session.get(WorkOrder, rows[0].work_order_id)
        assert order is not None and order.title == f"{rows[0].title}（{rows[0].url}）"
    json.dumps(data, ensure_ascii=False)


def test_cli_webscan_json(cli: CliRunner, site: MockHttpTarget) -> None:
    result = cli.ok(
        "webscan", site.url + "/", "--policy", "web-passive", "--max-pages", "5", "--json", "-"
    )
    data = json.loads(result.out)
    assert data["pages"] <= 5 and data["target"] == site.url + "/"
    bad = cli("webscan", "ftp://127.0.0.1/")
    assert bad.code != 0 and "ftp://127.0.0.1/" in bad.err and "Traceback" not in bad.err
    login = cli("webscan", site.url + "/", "--user", "admin")
    assert login.code != 0 and "--login-form" in login.err
