"""Passive web checks: security headers, cookie flags, versions, debug pages, directory
listings, mixed content and password forms — analysers, checks and the vulnerable app."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.web.checks import passive
from shaobing.web.checks.base import passive_checks
from shaobing.web.checks.passive import (
    cookie_problem,
    directory_listing,
    error_disclosure,
    header_gaps,
    mixed_content,
    password_exposures,
    version_disclosures,
)
from shaobing.web.client import WebResponse
from shaobing.web.issues import IssueSink, evidence, finding_input
from shaobing.web.request import WebRequest
from tests.targets.vulnapp.fixture import VulnApp, vulnapp  # noqa: F401 - fixture
from tests.web.helpers import make_state

HTML = [("Content-Type", "text/html; charset=utf-8")]
# Passive checks read nothing from the state; any state will do.
STATE = make_state("http://127.0.0.1:1/")
GOOD_HEADERS = [
    ("Content-Type", "text/html"),
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'self'"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
]


def _response(
    url: str,
    body: str | bytes,
    headers: list[tuple[str, str]] | None = None,
    status: int = 200,
    method: str = "GET",
) -> WebResponse:
    data = body.encode() if isinstance(body, str) else body
    return WebResponse(
        request=WebRequest(method, url),
        status=status,
        headers=list(HTML if headers is None else headers),
        body=data,
        duration=0.01,
        url=url,
    )


def _kinds(gaps: list[passive.HeaderGap]) -> set[str]:
    return {gap.kind for gap in gaps}


# --------------------------------------------------------------------------- headers


def test_all_headers_missing_on_https() -> None:
    gaps = header_gaps([("Content-Type", "text/html")], "<html></html>", https=True)
    assert _kinds(gaps) == {
        "missing-csp",
        "missing-hsts",
        "missing-frame-options",
        "missing-content-type-options",
        "missing-referrer-policy",
    }


def test_good_headers_leave_no_gap_and_hsts_only_matters_on_https() -> None:
    assert header_gaps(GOOD_HEADERS, "<html></html>", https=True) == []
    without_hsts = [h for h in GOOD_HEADERS if h[0] != "Strict-Transport-Security"]
    assert header_gaps(without_hsts, "<html></html>", https=False) == []
    assert _kinds(header_gaps(without_hsts, "<html></html>", https=True)) == {"missing-hsts"}


@pytest.mark.parametrize(
    ("headers", "gap"),
    [
        ([("X-Frame-Options", "ALLOW-FROM https://a.example")], True),
        ([("X-Frame-Options", "SAMEORIGIN")], False),
        ([("X-Frame-Options", "deny")], False),
        ([("Content-Security-Policy", "frame-ancestors 'none'")], False),
        ([("Content-Security-Policy", "default-src 'self'")], True),
    ],
)
def test_clickjacking_protection(headers: list[tuple[str, str]], gap: bool) -> None:
    kinds = _kinds(header_gaps(headers, "<html></html>", https=False))
    assert ("missing-frame-options" in kinds) is gap


def test_meta_tags_count_for_csp_and_referrer_but_not_frame_ancestors() -> None:
    html = (
        '<html><head><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'self'; frame-ancestors 'none'\">"
        '<meta name="referrer" content="no-referrer"></head></html>'
    )
    kinds = _kinds(header_gaps([], html, https=False))
    assert "missing-csp" not in kinds
    assert "missing-referrer-policy" not in kinds
    # frame-ancestors is ignored in <meta> policies: the page can still be framed.
    assert "missing-frame-options" in kinds


def test_weak_hsts_and_leaky_referrer_are_gaps() -> None:
    headers = [
        ("Strict-Transport-Security", "max-age=0"),
        ("Referrer-Policy", "no-referrer, unsafe-url"),
    ]
    gaps = {gap.kind: gap.detail for gap in header_gaps(headers, "", https=True)}
    assert "max-age" in gaps["missing-hsts"]
    assert "unsafe-url" in gaps["missing-referrer-policy"]
    # The last recognised token wins; an unknown one is skipped (fallback lists).
    ok = [("Referrer-Policy", "unsafe-url, strict-origin, new-future-policy")]
    assert "missing-referrer-policy" not in _kinds(header_gaps(ok, "", https=False))


def test_report_only_csp_is_not_enough() -> None:
    gaps = header_gaps(
        [("Content-Security-Policy-Report-Only", "default-src 'self'")], "", https=False
    )
    detail = next(g.detail for g in gaps if g.kind == "missing-csp")
    assert "Report-Only" in detail


def test_header_issues_are_site_wide_with_affected_pages() -> None:
    check = passive.SecurityHeadersCheck()
    sink = IssueSink()
    for path in ("/", "/a", "/b"):
        for issue in check.observe(_response(f"http://127.0.0.1:1{path}", "<html></html>"), STATE):
            sink.add(issue)
    # Not an HTML page, not a success: no header issue.
    json_page = _response("http://127.0.0.1:1/x", "{}", [("Content-Type", "application/json")])
    assert not list(check.observe(json_page, STATE))
    assert not list(check.observe(_response("http://127.0.0.1:1/r", "", status=302), STATE))
    issues = sink.issues()
    assert {i.kind for i in issues} == {
        "missing-csp",
        "missing-frame-options",
        "missing-content-type-options",
        "missing-referrer-policy",
    }
    csp = next(i for i in issues if i.kind == "missing-csp")
    assert csp.affected == ["http://127.0.0.1:1/", "http://127.0.0.1:1/a", "http://127.0.0.1:1/b"]
    finding = finding_input(csp)
    assert finding.url == "http://127.0.0.1:1/" and "涉及 3 个地址" in (finding.evidence or "")


# --------------------------------------------------------------------------- cookies


def test_session_cookie_without_flags() -> None:
    problem = cookie_problem("PHPSESSID=abc123secret; path=/", https=True)
    assert problem is not None
    assert problem.missing == ("HttpOnly", "Secure", "SameSite")
    assert "abc123secret" not in problem.line and "******" in problem.line


def test_flagged_session_cookie_and_deleted_cookie_are_fine() -> None:
    line = "JSESSIONID=abc; Path=/; Secure; HttpOnly; SameSite=Lax"
    assert cookie_problem(line, https=True) is None
    assert cookie_problem("SESSIONID=; Max-Age=0; Path=/", https=True) is None
    expired = "SESSIONID=x; expires=Thu, 01 Jan 1970 00:00:00 GMT"
    assert cookie_problem(expired, https=True) is None


def test_ordinary_cookie_rules() -> None:
    # Not session-like: no HttpOnly needed; SameSite still asked; Secure only on https.
    problem = cookie_problem("visitor_id=v1; Path=/", https=False)
    assert problem is not None and problem.missing == ("SameSite",)
    assert problem.line == "visitor_id=v1; Path=/"
    assert cookie_problem("lang=zh; SameSite=Lax", https=False) is None
    https = cookie_problem("lang=zh; SameSite=Lax", https=True)
    assert https is not None and https.missing == ("Secure",)
    none = cookie_problem("lang=zh; SameSite=None", https=False)
    assert none is not None and none.missing == ("Secure",)
    # CSRF cookies must stay readable by scripts: no HttpOnly asked.
    assert cookie_problem("XSRF-TOKEN=t; SameSite=Strict", https=False) is None


def test_cookie_issue_is_per_name_and_masks_the_value() -> None:
    check = passive.CookieFlagsCheck()
    sink = IssueSink()
    for path in ("/", "/b"):
        response = _response(
            f"http://127.0.0.1:1{path}",
            "<html></html>",
            [*HTML, ("Set-Cookie", "SESSIONID=topsecret; Path=/"), ("Set-Cookie", "lang=zh")],
        )
        for issue in check.observe(response, STATE):
            sink.add(issue)
    issues = {i.extra["cookie"]: i for i in sink.issues()}
    assert set(issues) == {"SESSIONID", "lang"}
    text = evidence(issues["SESSIONID"])
    assert "topsecret" not in text and "Set-Cookie: SESSIONID=******" in text
    assert issues["SESSIONID"].extra["missing"] == ["HttpOnly", "SameSite"]


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("headers", "found"),
    [
        ([("Server", "nginx/1.14.2")], [("Server", "nginx/1.14.2")]),
        ([("Server", "Apache/2.4.29 (Ubuntu)")], [("Server", "Apache/2.4.29 (Ubuntu)")]),
        ([("X-Powered-By", "PHP/5.6.40")], [("X-Powered-By", "PHP/5.6.40")]),
        ([("X-AspNet-Version", "4.0.30319")], [("X-AspNet-Version", "4.0.30319")]),
        (
            [("X-Generator", "Drupal 9 (https://www.drupal.org)")],
            [("X-Generator", "Drupal 9 (https://www.drupal.org)")],
        ),
        ([("Server", "nginx")], []),
        ([("X-Powered-By", "ASP.NET")], []),
        ([("Server", "Microsoft-IIS")], []),
        ([("Date", "Mon, 01 Jan 2024 00:00:00 GMT")], []),
    ],
)
def test_version_disclosure(headers: list[tuple[str, str]], found: list[tuple[str, str]]) -> None:
    assert version_disclosures(headers) == found


# --------------------------------------------------------------------------- errors

ERROR_PAGES = {
    "python-traceback": (
        '<pre>Traceback (most recent call last):\n  File "/srv/app/views.py", line 42, in '
        "calendar\n    year = int(value)\nValueError: invalid literal for int()</pre>"
    ),
    "django-debug": (
        "<p>You&#x27;re seeing this error because you have <code>DEBUG = True</code> in "
        "your Django settings file.</p>"
    ),
    "java-stack": (
        "java.lang.NullPointerException\n"
        "\tat com.example.web.UserController.show(UserController.java:57)\n"
        "\tat sun.reflect.NativeMethodAccessorImpl.invoke0(Native Method)\n"
    ),
    "tomcat-exception-report": (
        "<h1>HTTP Status 500 – Internal Server Error</h1><p><b>Exception</b></p>"
        "<pre>javax.servlet.ServletException: boom</pre><h3>Apache Tomcat/9.0.31</h3>"
    ),
    "spring-whitelabel": (
        "<h1>Whitelabel Error Page</h1><p>This application has no explicit mapping for "
        "/error</p><div>There was an unexpected error (type=Internal Server Error, "
        "status=500).</div><div>java.lang.IllegalStateException: boom</div>"
    ),
    "php-error": (
        "<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function foo() in "
        "<b>/var/www/html/index.php</b> on line <b>12</b><br />"
    ),
    "aspnet-yellow-screen": (
        "<h1>Server Error in '/' Application.</h1><b> Exception Details: </b>"
        "System.NullReferenceException: Object reference not set"
    ),
    "node-stack": (
        "TypeError: Cannot read property 'x' of undefined\n"
        "    at Object.handler (/srv/app/routes/user.js:15:22)\n"
        "    at Layer.handle [as handle_request] "
        "(/srv/app/node_modules/express/lib/router/layer.js:95:5)\n"
    ),
    "go-panic": (
        "panic: runtime error: index out of range\n\ngoroutine 1 [running]:\n"
        "main.main()\n\t/home/u/app/main.go:8 +0x1d\n"
    ),
}


@pytest.mark.parametrize("signature", sorted(ERROR_PAGES))
def test_error_signatures(signature: str) -> None:
    hit = error_disclosure(ERROR_PAGES[signature])
    assert hit is not None and hit.id == signature


@pytest.mark.parametrize(
    "text",
    [
        # SQL errors belong to the SQL injection check.
        "<b>Warning</b>:  mysql_fetch_array() expects parameter 1 to be resource, boolean "
        "given in <b>/var/www/list.php</b> on line <b>8</b>",
        # One stack line is prose, not a trace.
        "Our guide shows at com.example.Main.run(Main.java:1) how to read traces.",
        "The word Traceback alone, or Exception, is not a debug page.",
        "<h1>Whitelabel Error Page</h1><div>status=404</div>",
        "<h1>HTTP Status 404 – Not Found</h1><h3>Apache Tomcat/9.0.31</h3>",
    ],
)
def test_error_near_misses(text: str) -> None:
    assert error_disclosure(text) is None


def test_error_check_skips_scripts_and_reports_text() -> None:
    check = passive.ErrorDisclosureCheck()
    trace = ERROR_PAGES["python-traceback"]
    js = _response("http://127.0.0.1:1/a.js", trace, [("Content-Type", "application/javascript")])
    assert not list(check.observe(js, STATE))
    plain = _response("http://127.0.0.1:1/x?y=1", trace, [("Content-Type", "text/plain")], 500)
    (issue,) = check.observe(plain, STATE)
    assert issue.kind == "error-disclosure" and "Python" in issue.detail


# --------------------------------------------------------------------------- listings

LISTINGS = {
    "index-of": (
        "<html><head><title>Index of /files/</title></head><body>"
        '<h1>Index of /files/</h1><hr><pre><a href="../">../</a>'
    ),
    "iis": (
        "<html><head><title>host - /files/</title></head><body><H1>host - /files/</H1>"
        '<hr><pre><A HREF="/">[To Parent Directory]</A><br>'
    ),
    "tomcat": (
        "<html><head><title>Directory Listing For /files/</title></head><body>"
        "<h1>Directory Listing For /files/</h1>"
    ),
    "python-http-server": (
        "<!DOCTYPE HTML><html><head><title>Directory listing for /</title></head>"
        "<body><h1>Directory listing for /</h1>"
    ),
    "jetty": (
        "<HTML><HEAD><TITLE>Directory: /files/</TITLE></HEAD><BODY><H1>Directory: /files/</H1>"
    ),
}


@pytest.mark.parametrize("signature", sorted(LISTINGS))
def test_listing_signatures(signature: str) -> None:
    hit = directory_listing(LISTINGS[signature])
    assert hit is not None and hit.id == signature


def test_listing_near_miss() -> None:
    assert directory_listing("<title>Index of 政策文件</title><h1>Index of policies</h1>") is None
    assert directory_listing("<p>Directory listing for / is disabled</p>") is None


# --------------------------------------------------------------------------- mixed content


def test_mixed_content_on_https_only() -> None:
    html = (
        '<script src="http://cdn.example/a.js"></script>'
        '<link rel="stylesheet" href="http://cdn.example/a.css">'
        '<iframe src="http://other.example/f"></iframe><img src="http://img.example/p.png">'
        '<a href="http://link.example/">link</a><img src="/local.png">'
        '<link rel="canonical" href="http://canon.example/">'
    )
    found = mixed_content("https://127.0.0.1/p", html, [])
    assert found == [
        ("script", "http://cdn.example/a.js"),
        ("link", "http://cdn.example/a.css"),
        ("iframe", "http://other.example/f"),
        ("img", "http://img.example/p.png"),
    ]
    assert mixed_content("http://127.0.0.1/p", html, []) == []
    upgraded = [("Content-Security-Policy", "upgrade-insecure-requests")]
    assert mixed_content("https://127.0.0.1/p", html, upgraded) == []


def test_password_exposures() -> None:
    form = (
        '<form method="post" action="{action}"><input name="u">'
        '<input type="password" name="p"></form>'
    )
    over_http = password_exposures("http://127.0.0.1/login", form.format(action="/login"))
    assert [e.action for e in over_http] == ["http://127.0.0.1/login"]
    posting_http = password_exposures(
        "https://a.example/login", form.format(action="http://a.example/do")
    )
    assert [e.action for e in posting_http] == ["http://a.example/do"]
    assert password_exposures("https://a.example/login", form.format(action="/do")) == []
    no_password = '<form action="/s"><input name="q"><input type="text" name="code"></form>'
    assert password_exposures("http://127.0.0.1/s", no_password) == []


def test_checks_registered_with_passive_safety() -> None:
    ids = {check.id for check in passive_checks()}
    assert {
        "web.security-headers",
        "web.cookie-flags",
        "web.version-disclosure",
        "web.error-disclosure",
        "web.directory-listing",
        "web.mixed-content",
        "web.password-over-http",
    } <= ids
    assert all(
        c.safety.value == "passive"
        for c in passive_checks()
        if c.id.startswith("web.") and c.__module__ == passive.__name__
    )


# --------------------------------------------------------------------------- fuzz

_header_names = st.sampled_from(
    [
        "Content-Security-Policy",
        "X-Frame-Options",
        "Strict-Transport-Security",
        "Referrer-Policy",
        "X-Content-Type-Options",
        "Server",
        "X-Powered-By",
        "Set-Cookie",
        "X-AspNet-Version",
    ]
)
_headers = st.lists(
    st.tuples(_header_names | st.text(max_size=20), st.text(max_size=80)), max_size=8
)
_html_bits = st.sampled_from(
    [
        "<html>",
        "<meta http-equiv='Content-Security-Policy' content=\"",
        "<form action='",
        "<input type=password name=p>",
        "<script src='http://x/",
        "Traceback (most recent call last):",
        'File "/a.py", line 3',
        "<title>Index of /",
        "<h1>Index of /",
        "at a.B.c(D.java:1)",
        "'>",
        '">',
        "</form>",
        "<b>Warning</b>: x in <b>/a.php</b> on line <b>1</b>",
    ]
)
_html = st.lists(_html_bits | st.text(max_size=30), max_size=30).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers=_headers, html=_html, https=st.booleans())
def test_fuzz_analysers_never_fail(headers: list[tuple[str, str]], html: str, https: bool) -> None:
    scheme = "https" if https else "http"
    gaps = header_gaps(headers, html, https=https)
    assert all(
        gap.kind
        in {
            "missing-csp",
            "missing-hsts",
            "missing-frame-options",
            "missing-content-type-options",
            "missing-referrer-policy",
        }
        for gap in gaps
    )
    for name, value in headers:
        if name == "Set-Cookie":
            problem = cookie_problem(value, https=https)
            assert problem is None or problem.missing
    for name, value in version_disclosures(headers):
        assert (name, value[:200]) in [(n, v.strip()[:200]) for n, v in headers] or any(
            n.lower() == name.lower() for n, _ in headers
        )
    error_disclosure(html)
    directory_listing(html)
    found = mixed_content(f"{scheme}://127.0.0.1/p", html, headers)
    assert https or not found
    assert all(url.startswith("http://") for _, url in found)
    password_exposures(f"{scheme}://127.0.0.1/p", html)


@settings(max_examples=200, deadline=None)
@given(headers=_headers, html=_html)
def test_fuzz_adding_good_headers_removes_every_gap(
    headers: list[tuple[str, str]], html: str
) -> None:
    # Whatever else a page sends, the good set of headers (sent first, as servers do)
    # closes every gap: the property that makes a finding's remediation true.
    cleaned = [(n, v) for n, v in headers if n.lower() not in {h[0].lower() for h in GOOD_HEADERS}]
    assert header_gaps([*GOOD_HEADERS, *cleaned], html, https=True) == []


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet='<>/at .()\n:ejvaIndexofTrcbk"=', max_size=2000))
def test_fuzz_signatures_are_fast(text: str) -> None:
    started = time.monotonic()
    error_disclosure(text * 50)
    directory_listing(text * 50)
    assert time.monotonic() - started < 2.0


# --------------------------------------------------------------------------- vulnapp


def _fetch(app: VulnApp, path: str) -> WebResponse:
    state = make_state(app.url)
    try:
        return state.client.send(WebRequest("GET", app.url + path))
    finally:
        state.client.close()


def _observe(response: WebResponse) -> list[tuple[str, str]]:
    found = []
    for check in passive_checks():
        if check.__module__ == passive.__name__:
            found += [(i.kind, i.extra_key()) for i in check.observe(response, STATE)]
    return found


def test_vulnapp_old_site_against_new_site(vulnapp: VulnApp) -> None:  # noqa: F811
    old = dict.fromkeys(_observe(_fetch(vulnapp, "/")))
    new = dict.fromkeys(_observe(_fetch(vulnapp, "/v2/")))
    for kind in (
        "missing-csp",
        "missing-frame-options",
        "missing-content-type-options",
        "missing-referrer-policy",
    ):
        assert any(k == kind for k, _ in old), kind
        assert not any(k == kind for k, _ in new), kind
    assert ("version-disclosure", "server") in old and ("version-disclosure", "x-powered-by") in old
    assert not any(k == "version-disclosure" for k, _ in new)
    assert ("cookie-flags", "visitor_id") in old
    assert not any(k == "cookie-flags" for k, _ in new)


def test_vulnapp_login_cookie_and_password_forms(vulnapp: VulnApp) -> None:  # noqa: F811
    state = make_state(vulnapp.url)
    try:
        old = state.client.send(
            WebRequest(
                "POST",
                vulnapp.url + "/login",
                (("Content-Type", "application/x-www-form-urlencoded"),),
                b"username=admin&password=admin123",
            )
        )
        new = state.client.send(
            WebRequest(
                "POST",
                vulnapp.url + "/v2/login",
                (("Content-Type", "application/x-www-form-urlencoded"),),
                b"username=admin&password=Yz%23Portal-2024%21kQ7",
            )
        )
    finally:
        state.client.close()
    assert ("cookie-flags", "SESSIONID") in _observe(old)
    assert not any(k == "cookie-flags" for k, _ in _observe(new))
    assert ("password-over-http", vulnapp.url + "/login") in _observe(_fetch(vulnapp, "/login"))
    assert any(k == "password-over-http" for k, _ in _observe(_fetch(vulnapp, "/v2/login")))
    assert not any(k == "password-over-http" for k, _ in _observe(_fetch(vulnapp, "/v2/sms-login")))


def test_vulnapp_errors_listings_and_mixed_content(vulnapp: VulnApp) -> None:  # noqa: F811
    error = _observe(_fetch(vulnapp, "/tools/calendar?year=abc"))
    assert any(k == "error-disclosure" for k, _ in error)
    assert not any(
        k == "error-disclosure" for k, _ in _observe(_fetch(vulnapp, "/v2/tools/calendar?year=abc"))
    )
    assert any(k == "directory-listing" for k, _ in _observe(_fetch(vulnapp, "/uploads/")))
    assert not any(k == "directory-listing" for k, _ in _observe(_fetch(vulnapp, "/v2/uploads/")))
    # The app serves plain HTTP; its mixed-content page is judged as if behind HTTPS.
    page = _fetch(vulnapp, "/zt/")
    twin = _fetch(vulnapp, "/v2/zt/")
    as_https = "https://" + (vulnapp.url + "/zt/").split("://", 1)[1]
    assert mixed_content(as_https, page.text, page.headers)
    assert mixed_content(as_https.replace("/zt/", "/v2/zt/"), twin.text, twin.headers) == []
