"""Login and access checks: weak passwords found and masked, lockout and captcha respected,
no-lockout reported only after the threshold, and pages answering without the session."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from urllib.parse import parse_qs

import pytest

from shaobing.web.checks import auth
from shaobing.web.checks.base import ScanState
from shaobing.web.client import WebResponse
from shaobing.web.crawler import CrawledPage
from shaobing.web.html import parse_page
from shaobing.web.issues import WebIssue, evidence, finding_input
from shaobing.web.request import WebRequest
from shaobing.web.session import FormLogin
from shaobing.web.urls import origin
from tests.targets.http import MockHttpTarget, Request, Response
from tests.targets.vulnapp.fixture import VulnApp, vulnapp  # noqa: F401 - fixture
from tests.web.helpers import make_state

HTML = {"Content-Type": "text/html; charset=utf-8"}
FORM = (
    '<form method="post" action="/login"><input type="text" name="username">'
    '<input type="password" name="password">{extra}<button>登录</button></form>'
)


def _page(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = (
        f"<html><head><title>用户登录</title></head><body><h1>政务服务网</h1>{body}</body></html>"
    )
    return Response(status, text, {**HTML, **(headers or {})})


def _login_page(extra: str = "", message: str = "") -> Response:
    return _page(f"<p>{message}</p>" + FORM.format(extra=extra))


def _state_with_form(url: str, page_path: str = "/login") -> ScanState:
    state = make_state(url)
    page = state.client.send(WebRequest("GET", url.rstrip("/") + page_path))
    state.crawl.forms.extend(parse_page(page.url, page.text).forms)
    return state


def _run_login(url: str, **options: object) -> list[WebIssue]:
    state = _state_with_form(url)
    state.options.update(options)
    try:
        return list(auth.WeakLoginCheck().run(origin(url), state))
    finally:
        state.client.close()


def _posts(target: MockHttpTarget) -> list[dict[str, str]]:
    return [
        {k: v[0] for k, v in parse_qs(r.body.decode()).items()}
        for r in target.seen
        if r.method == "POST"
    ]


def _site(handler: Callable[[Request], Response]) -> dict[str, object]:
    def login(request: Request) -> Response:
        return handler(request) if request.method == "POST" else _login_page()

    return {"/login": login, "/": _page("首页")}


# --------------------------------------------------------------------------- weak-login


def test_weak_password_found_confirmed_and_masked() -> None:
    def handle(request: Request) -> Response:
        form = request.form()
        if form.get("username") == "admin" and form.get("password") == "admin123":
            return Response(
                302, "", {"Location": "/admin/", "Set-Cookie": "SESSIONID=s3cr3t; Path=/"}
            )
        return _login_page(message="用户名或密码错误。")

    with MockHttpTarget(_site(handle)) as target:  # type: ignore[arg-type]
        issue, cookie = _run_login(target.url + "/")
        posts = _posts(target)
    assert (cookie.kind, cookie.extra["cookie"]) == ("cookie-flags", "SESSIONID")
    assert "s3cr3t" not in evidence(cookie) and "admin123" not in evidence(cookie)
    assert issue.kind == "weak-login" and issue.parameter == "form:password"
    assert issue.extra["username"] == "admin"
    text = evidence(issue) + (finding_input(issue).evidence or "") + str(finding_input(issue).extra)
    assert "admin123" not in text and "******" in text
    # Two made-up-account baselines, then admin/admin, admin/admin123 and its confirmation.
    assert [p["password"] == "admin123" for p in posts].count(True) == 2
    assert posts[0]["username"].startswith("sb") and posts[0]["username"] == posts[1]["username"]
    assert len(posts) == 5


def test_strong_password_without_lockout_reports_no_lockout() -> None:
    with MockHttpTarget(_site(lambda r: _login_page(message="用户名或密码错误。"))) as target:  # type: ignore[arg-type]
        issues = _run_login(target.url + "/")
        posts = _posts(target)
    assert [i.kind for i in issues] == ["no-lockout"]
    assert issues[0].extra == {"failures": 6, "username": "admin"}
    assert "******" in evidence(issues[0])
    # The per-form budget (20 requests including the form fetch) is respected.
    assert len(posts) == 19
    assert Counter(p["username"] for p in posts)["admin"] == 10


def test_threshold_option_and_attempt_cap() -> None:
    with MockHttpTarget(_site(lambda r: _login_page(message="密码错误"))) as target:  # type: ignore[arg-type]
        issues = _run_login(target.url + "/", **{"web.weak-login": {"login_attempts": 6}})
        assert len(_posts(target)) == 5
    assert issues == []  # 3 failures of admin < 6: the lockout question stays open


def test_lockout_stops_at_once() -> None:
    failures: Counter[str] = Counter()

    def handle(request: Request) -> Response:
        user = request.form().get("username", "")
        failures[user] += 1
        if failures[user] > 3:
            return _login_page(message="账户已锁定，请30分钟后再试。")
        return _login_page(message="用户名或密码错误。")

    with MockHttpTarget(_site(handle)) as target:  # type: ignore[arg-type]
        assert _run_login(target.url + "/") == []
        posts = _posts(target)
    # Baselines (2), admin's 3 failures, the 4th answer shows the lock: nothing after it.
    assert len(posts) == 6
    assert failures["admin"] == 4


@pytest.mark.parametrize("status", [423, 429])
def test_lockout_by_status(status: int) -> None:
    count = Counter[str]()

    def handle(request: Request) -> Response:
        count["n"] += 1
        return _login_page(message="错误") if count["n"] <= 3 else _page("稍候", status=status)

    with MockHttpTarget(_site(handle)) as target:  # type: ignore[arg-type]
        assert _run_login(target.url + "/") == []
        assert len(_posts(target)) == 4


def test_counting_site_gets_two_guesses_per_account() -> None:
    failures: Counter[str] = Counter()

    def handle(request: Request) -> Response:
        user = request.form().get("username", "")
        failures[user] += 1
        return _login_page(message=f"用户名或密码错误，还可尝试{max(0, 5 - failures[user])}次。")

    with MockHttpTarget(_site(handle)) as target:  # type: ignore[arg-type]
        assert _run_login(target.url + "/") == []
    assert max(failures.values()) == 2
    assert "admin" in failures and "administrator" in failures


def test_captcha_form_is_not_guessed() -> None:
    captcha = '<input type="text" name="verifyCode"><img src="/captcha.jpg">'
    routes = {"/login": lambda r: _login_page(extra=captcha)}
    with MockHttpTarget(routes) as target:
        assert _run_login(target.url + "/") == []
        assert _posts(target) == []


def test_captcha_appearing_after_failures_stops() -> None:
    count = Counter[str]()

    def handle(request: Request) -> Response:
        count["n"] += 1
        extra = '<input type="text" name="captcha">' if count["n"] > 4 else ""
        return _login_page(extra=extra, message="登录失败")

    with MockHttpTarget(_site(handle)) as target:  # type: ignore[arg-type]
        assert _run_login(target.url + "/") == []
        assert len(_posts(target)) == 5


def test_json_login_with_token() -> None:
    def handle(request: Request) -> Response:
        form = request.form()
        if form.get("username") == "admin" and form.get("password") == "123456":
            return Response(
                200,
                '{"code": 0, "data": {"token": "eyJabc"}}',
                {"Content-Type": "application/json"},
            )
        return Response(
            200, '{"code": 1, "msg": "用户名或密码错误"}', {"Content-Type": "application/json"}
        )

    with MockHttpTarget(_site(handle)) as target:  # type: ignore[arg-type]
        (issue,) = _run_login(target.url + "/")
    assert issue.kind == "weak-login"


def test_csrf_token_is_refreshed() -> None:
    tokens: list[str] = []

    def login(request: Request) -> Response:
        if request.method == "GET":
            tokens.append(secrets.token_hex(8))
            hidden = f'<input type="hidden" name="csrf_token" value="{tokens[-1]}">'
            return _login_page(extra=hidden)
        form = request.form()
        if form.get("csrf_token") != tokens[-1]:
            return _page("<p>请求已过期</p>", status=403)
        if form.get("username") == "admin" and form.get("password") == "admin":
            return Response(302, "", {"Location": "/home"})
        return _login_page(message="用户名或密码错误。")

    with MockHttpTarget({"/login": login}) as target:
        (issue,) = _run_login(target.url + "/")
    assert issue.kind == "weak-login"


@pytest.mark.parametrize("variant", ["unknown-user", "noisy", "redirect-back", "error-500"])
def test_failure_variants_are_not_successes(variant: str) -> None:
    def handle(request: Request) -> Response:
        user = request.form().get("username", "")
        if variant == "unknown-user":
            text = "用户不存在" if user != "admin" else "密码错误，请重新输入您的密码"
            return _login_page(message=text)
        if variant == "noisy":
            noise = " ".join(secrets.token_hex(3) for _ in range(30))
            return _login_page(message=f"登录失败 {noise}")
        if variant == "redirect-back":
            return Response(302, "", {"Location": "/login?error=1", "Set-Cookie": "flash=1"})
        return _page("服务器错误", status=500)

    with MockHttpTarget(_site(handle)) as target:  # type: ignore[arg-type]
        issues = _run_login(target.url + "/")
    assert not any(i.kind == "weak-login" for i in issues)


def test_forms_that_are_not_login_forms_are_skipped() -> None:
    register = (
        '<form method="post" action="/register"><input name="u"><input type="password" name="p1">'
        '<input type="password" name="p2"></form>'
    )
    with MockHttpTarget({"/login": _page(register)}) as target:
        assert _run_login(target.url + "/") == []
        assert _posts(target) == []


def test_mask_password_in_get_and_json_bodies() -> None:
    form = parse_page("http://127.0.0.1/", FORM.format(extra="")).forms[0]
    get = WebRequest("GET", "http://127.0.0.1/login?username=a&password=Secret1")
    assert "Secret1" not in auth.mask_password(get, form, "Secret1").url
    body = WebRequest(
        "POST", "http://127.0.0.1/login", (("Content-Type", "text/plain"),), b"pw=Secret1"
    )
    assert b"Secret1" not in auth.mask_password(body, form, "Secret1").body


# --------------------------------------------------------------------------- broken access

SESSION = "sid=ok"


def _protected(content: str) -> Callable[[Request], Response]:
    def handle(request: Request) -> Response:
        if SESSION not in request.header("Cookie"):
            return Response(302, "", {"Location": "/login"})
        return _page(content)

    return handle


def _access_site() -> dict[str, object]:
    return {
        "/": _page(
            '<a href="/news">新闻</a><a href="/login">登录</a>'
            '<script src="/static/app.js"></script>'
        ),
        "/news": _page('<a href="/help">帮助</a>'),
        "/help": _page("帮助中心：办事指南"),
        "/static/app.js": Response(
            200, "location.href = '/only-js';", {"Content-Type": "application/javascript"}
        ),
        "/only-js": _page("只在脚本里出现的公开页面"),
        "/login": _login_page(),
        "/admin/": _protected(
            '<a href="/admin/users">用户</a><a href="/admin/settings">设置</a>'
            '<a href="/help">帮助</a><a href="/only-js">公开</a><a href="/admin/greeting">问候</a>'
        ),
        "/admin/users": _page("<table><tr><td>张三</td><td>13800000002</td></tr></table>"),
        "/admin/settings": _protected("系统设置"),
        # Answers without a session, but shows other content than with it.
        "/admin/greeting": lambda r: _page(
            "欢迎管理员张三，今日待办 3 件，审批 5 件，消息 7 条"
            if SESSION in r.header("Cookie")
            else "您好，访客"
        ),
    }


def _access_state(url: str, paths: list[str], *, authenticated: bool = True) -> ScanState:
    state = make_state(url)
    state.authenticated = authenticated
    state.login_url = url.rstrip("/") + "/login"
    state.client.cookies.load(url, SESSION)
    for path in paths:
        state.crawl.pages.append(
            CrawledPage(
                url=url.rstrip("/") + path,
                method="GET",
                status=200,
                content_type="text/html",
                title="",
                depth=1,
                size=1,
            )
        )
    return state


ALL_PAGES = [
    "/",
    "/news",
    "/help",
    "/only-js",
    "/login",
    "/admin/",
    "/admin/users",
    "/admin/settings",
    "/admin/greeting",
]


def test_broken_access_reports_only_session_pages_answering_alike() -> None:
    with MockHttpTarget(_access_site()) as target:  # type: ignore[arg-type]
        state = _access_state(target.url + "/", ALL_PAGES)
        issues = list(auth.BrokenAccessCheck().run(origin(target.url), state))
        state.client.close()
        anonymous = [r for r in target.seen if "sid=ok" not in r.header("Cookie")]
    assert [i.url for i in issues] == [target.url + "/admin/users"]
    assert issues[0].request is not None and issues[0].request.header("Cookie") is None
    assert issues[0].extra["similarity"] >= auth.SAME_CONTENT
    # Every crawled page was asked once without the session.
    assert {r.path for r in anonymous} >= {"/admin/users", "/admin/settings", "/help"}


def test_broken_access_needs_an_authenticated_scan() -> None:
    with MockHttpTarget(_access_site()) as target:  # type: ignore[arg-type]
        state = _access_state(target.url + "/", ALL_PAGES, authenticated=False)
        assert list(auth.BrokenAccessCheck().run(origin(target.url), state)) == []
        assert target.seen == []


def test_broken_access_with_expired_session_reports_nothing() -> None:
    with MockHttpTarget(_access_site()) as target:  # type: ignore[arg-type]
        state = _access_state(target.url + "/", ALL_PAGES)
        state.client.cookies.clear()  # the session is gone: nothing can be compared
        assert list(auth.BrokenAccessCheck().run(origin(target.url), state)) == []


# --------------------------------------------------------------------------- vulnapp


def test_vulnapp_weak_login_and_lockout_twin(vulnapp: VulnApp) -> None:  # noqa: F811
    vulnapp.reset()
    issue, cookie = _run_login(vulnapp.url + "/")
    assert cookie.extra["cookie"] == "SESSIONID"
    assert (issue.kind, issue.url, issue.extra["username"]) == (
        "weak-login",
        vulnapp.url + "/login",
        "admin",
    )
    state = _state_with_form(vulnapp.url + "/", "/v2/login")
    try:
        assert list(auth.WeakLoginCheck().run(origin(vulnapp.url), state)) == []
    finally:
        state.client.close()
    # The strong twin counts failures: the check stayed below its lock for every account.
    assert vulnapp.events()["locked"] == []


def _vulnapp_access(app: VulnApp, prefix: str, password: str) -> list[WebIssue]:
    state = make_state(app.url + "/")
    login = FormLogin(state.client, f"{app.url}{prefix}/login", "admin", password)
    login.login()
    state.authenticated = True
    state.login_url = f"{app.url}{prefix}/login"
    state.relogin = login.login
    for path in (
        "/",
        "/admin/",
        "/admin/api/users",
        "/admin/export?type=users",
        "/admin/profile",
        "/admin/logs",
    ):
        page = state.client.send(WebRequest("GET", app.url + prefix + path), follow=True)
        state.crawl.pages.append(
            CrawledPage(
                url=app.url + prefix + path,
                method="GET",
                status=page.status,
                content_type=page.content_type,
                title="",
                depth=1,
                size=len(page.body),
            )
        )
    try:
        return list(auth.BrokenAccessCheck().run(origin(app.url), state))
    finally:
        state.client.close()


def test_vulnapp_broken_access(vulnapp: VulnApp) -> None:  # noqa: F811
    vulnapp.reset()
    issues = _vulnapp_access(vulnapp, "", "admin123")
    assert {i.url for i in issues} == {
        vulnapp.url + "/admin/api/users",
        vulnapp.url + "/admin/export?type=users",
    }
    assert _vulnapp_access(vulnapp, "/v2", "Yz#Portal-2024!kQ7") == []


def test_response_helpers() -> None:
    response = WebResponse(
        request=WebRequest("GET", "http://127.0.0.1/x"),
        status=302,
        headers=[("Location", "/login?next=/x")],
        body=b"",
        duration=0.0,
        url="http://127.0.0.1/x",
    )
    assert auth.looks_protected(response, None)
    assert auth.page_links(response) == ["http://127.0.0.1/login?next=/x"]
