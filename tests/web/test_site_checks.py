"""Site checks: sensitive files (content-proved, soft-404 aware), directory probing, DELETE
inferred without writing, PUT proved by a canary file, TRACE echo and CORS."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest

from shaobing.web.checks import site
from shaobing.web.checks._support import option
from shaobing.web.checks.base import SiteCheck, site_checks
from shaobing.web.crawler import CrawledPage
from shaobing.web.issues import WebIssue, evidence
from shaobing.web.urls import origin
from tests.targets.http import NOT_FOUND, MockHttpTarget, Request, Response, by_method
from tests.targets.vulnapp.fixture import VulnApp, vulnapp  # noqa: F401 - fixture
from tests.web.helpers import make_state

HTML = {"Content-Type": "text/html; charset=utf-8"}
GIT_CONFIG = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
ENV = "APP_ENV=production\nDB_HOST=127.0.0.1\nDB_PASSWORD=secret\n"
DS_STORE = b"\x00\x00\x00\x01Bud1" + b"\x00" * 64


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("www/index.php", "<?php echo 1; ?>")
    return buffer.getvalue()


def _run(
    check: SiteCheck, url: str, pages: list[str] | None = None, **options: object
) -> list[WebIssue]:
    state = make_state(url)
    state.options.update(options)
    base = origin(url)
    for page in pages or []:
        state.crawl.pages.append(
            CrawledPage(
                url=base + page,
                method="GET",
                status=200,
                content_type="text/html",
                title="",
                depth=1,
                size=1,
            )
        )
    try:
        return list(check.run(base, state))
    finally:
        state.client.close()


@pytest.fixture
def leaky() -> Iterator[MockHttpTarget]:
    routes = {
        "/": Response(200, "<html>首页</html>", HTML),
        "/.git/config": Response(200, GIT_CONFIG, {"Content-Type": "text/plain"}),
        "/.git/HEAD": Response(200, "ref: refs/heads/master\n"),
        "/.env": Response(200, ENV),
        "/.DS_Store": Response(200, DS_STORE, {"Content-Type": "application/octet-stream"}),
        "/backup.zip": Response(200, _zip(), {"Content-Type": "application/zip"}),
        "/127.0.0.1.tar.gz": Response(200, b"\x1f\x8b\x08" + b"\x00" * 200),
        "/news/show.php.bak": Response(200, "<?php $db = mysqli_connect('db', 'u', 'p'); ?>"),
        "/WEB-INF/web.xml": Response(200, '<?xml version="1.0"?><web-app version="3.1"></web-app>'),
    }
    with MockHttpTarget(routes) as target:
        yield target


def test_sensitive_files_are_proved_by_content(leaky: MockHttpTarget) -> None:
    issues = _run(site.SensitiveFilesCheck(), leaky.url + "/", ["/news/show.php?id=1"])
    found = {i.extra["file"]: i for i in issues}
    assert set(found) == {
        ".git/config",
        ".git/HEAD",
        ".env",
        ".DS_Store",
        "backup.zip",
        "127.0.0.1.tar.gz",
        "/news/show.php.bak",
        "WEB-INF/web.xml",
    }
    assert found[".DS_Store"].severity is not None and found[".DS_Store"].severity.value == "low"
    assert found["backup.zip"].severity is None
    assert "[core]" in evidence(found[".git/config"])
    # Every probe asks for the first bytes only.
    probes = [r for r in leaky.seen if r.path == "/.git/config"]
    assert probes and probes[0].header("Range") == site.PROBE_RANGE


def test_near_misses_are_not_reported() -> None:
    routes = {
        # An HTML page mentioning variables is not a .env file.
        "/.env": Response(200, "<html><body>APP_KEY=1\nDB_HOST=x\n</body></html>", HTML),
        # Archive names without archive bytes, and an archive too small to be a backup.
        "/www.zip": Response(200, "PK is not enough", {"Content-Type": "application/zip"}),
        "/backup.zip": Response(200, b"PK\x03\x04" + b"\x00" * 10),
        # A HEAD file that is an error page.
        "/.git/HEAD": Response(200, "<html>ref: refs/heads/master</html>", HTML),
        "/.git/config": Response(403, GIT_CONFIG),
        # The server runs the backup copy: rendered HTML, no source code.
        "/news/show.php.bak": Response(200, "<html><body>新闻正文</body></html>", HTML),
    }
    with MockHttpTarget(routes) as target:
        pages = ["/news/show.php?id=1", "/news/show.php?id=2"]
        assert _run(site.SensitiveFilesCheck(), target.url + "/", pages) == []
        # One page, one set of backup names, however many query strings were crawled.
        assert [r.path for r in target.seen].count("/news/show.php.bak") == 1


def test_soft_404_sites_are_not_reported() -> None:
    # Every path answers 200 with the same page, and even with config-looking text.
    everything = Response(
        200, GIT_CONFIG + "\nAPP_ENV=x\nDB_HOST=y\n", {"Content-Type": "text/plain"}
    )
    with MockHttpTarget({"*": everything}) as target:
        assert _run(site.SensitiveFilesCheck(), target.url + "/") == []
        baselines = [r for r in target.seen if "/sb" in r.path or "/.sb" in r.path]
        assert baselines, "a random-name baseline must have been fetched"


def test_soft_404_with_echoed_path_is_not_reported() -> None:
    def echo(request: Request) -> Response:
        return Response(200, f"[core] page {request.path} not found\nrepositoryformatversion = 0\n")

    with MockHttpTarget({"*": echo}) as target:
        assert _run(site.SensitiveFilesCheck(), target.url + "/") == []


def test_host_names() -> None:
    assert site.host_names("www.yunzhou.gov.cn") == [
        "www.yunzhou.gov.cn",
        "yunzhou.gov.cn",
        "yunzhou",
    ]
    assert site.host_names("example.com") == ["example.com", "example"]
    assert site.host_names("127.0.0.1") == ["127.0.0.1"]
    assert site.host_names("[::1]") == []


# --------------------------------------------------------------------------- listings


def test_directory_probe_finds_listings_of_crawled_directories() -> None:
    listing = Response(
        200,
        "<html><head><title>Index of /static/</title></head><body><h1>Index of /static/</h1>",
        HTML,
    )
    routes = {
        "/static/": listing,
        "/static/js/": Response(403, "forbidden"),
        "/": Response(200, "<html>home</html>", HTML),
    }
    with MockHttpTarget(routes) as target:
        issues = _run(
            site.DirectoryProbeCheck(), target.url + "/", ["/static/js/app.js", "/static/img/a.png"]
        )
        assert [i.url for i in issues] == [target.url + "/static/"]
        assert {r.path for r in target.seen} == {"/", "/static/", "/static/js/", "/static/img/"}


# --------------------------------------------------------------------------- methods


def _dav(store: dict[str, bytes], *, writes: bool = True) -> object:
    def handle(request: Request) -> Response:
        if request.method == "PUT" and writes:
            store[request.path] = request.body
            return Response(201, "Created")
        if request.method == "PUT":
            return Response(204)  # claims success, stores nothing
        if request.method == "DELETE":
            return Response(204) if store.pop(request.path, None) is not None else Response(404)
        if request.method == "GET" and request.path in store:
            return Response(200, store[request.path], {"Content-Type": "text/plain"})
        return NOT_FOUND

    return handle


def test_put_is_proved_read_back_and_cleaned_up() -> None:
    store: dict[str, bytes] = {}
    with MockHttpTarget({"/": Response(200, "<html></html>", HTML), "*": _dav(store)}) as target:  # type: ignore[dict-item]
        (issue,) = _run(site.PutWriteCheck(), target.url + "/")
        assert issue.kind == "dangerous-methods" and issue.method == "PUT"
        assert issue.extra["removed"] is True and store == {}
        assert [r.method for r in target.seen] == ["PUT", "GET", "DELETE", "GET"]


def test_put_claimed_but_not_stored_is_not_reported() -> None:
    store: dict[str, bytes] = {}
    with MockHttpTarget({"*": _dav(store, writes=False)}) as target:  # type: ignore[dict-item]
        assert _run(site.PutWriteCheck(), target.url + "/") == []
        # The check still tried to delete what it may have written.
        assert "DELETE" in [r.method for r in target.seen]


def test_delete_inferred_without_writing() -> None:
    # DELETE of a name that does not exist answers 204 while GET of it is a 404.
    allow = Response(200, "", {"Allow": "GET, DELETE"})
    routes = {"*": by_method({"GET": NOT_FOUND, "DELETE": Response(204), "OPTIONS": allow})}
    with MockHttpTarget(routes) as target:
        (issue,) = _run(site.HttpMethodsCheck(), target.url + "/")
        assert issue.method == "DELETE" and "HTTP 204" in issue.detail
        assert "Allow" in issue.detail and "HTTP 404" in issue.detail
        assert "PUT" not in {r.method for r in target.seen}


@pytest.mark.parametrize(
    "routes",
    [
        # 405 for DELETE (and 501 for the made-up method): nothing handles DELETE.
        {"*": by_method({"GET": Response(200, "<html></html>", HTML)}, Response(405, "no"))},
        # Every method reaches the application, which answers 404 for everything.
        {},
        # Success for everything: a 204 to DELETE proves nothing when GET succeeds too.
        {"*": Response(204)},
        # A DELETE handler that needs a login.
        {"*": by_method({"GET": NOT_FOUND, "DELETE": Response(401, "login")})},
    ],
)
def test_delete_near_misses(routes: dict[str, object]) -> None:
    with MockHttpTarget(routes) as target:  # type: ignore[arg-type]
        assert _run(site.HttpMethodsCheck(), target.url + "/") == []


def test_trace_echo() -> None:
    def echo(request: Request) -> Response:
        lines = [f"TRACE {request.target} HTTP/1.1"] + [
            f"{k}: {v}" for k, v in request.headers.items()
        ]
        return Response(200, "\r\n".join(lines), {"Content-Type": "message/http"})

    with MockHttpTarget({"*": by_method({"TRACE": echo})}) as target:
        (issue,) = _run(site.TraceCheck(), target.url + "/")
        assert issue.kind == "trace-enabled"
    # TRACE answered 200 without echoing the request is not TRACE enabled.
    with MockHttpTarget({"*": Response(200, "<html>ok</html>", HTML)}) as target:
        assert _run(site.TraceCheck(), target.url + "/") == []


# --------------------------------------------------------------------------- CORS


def _cors(*, reflect: bool, credentials: bool, allow_null: bool = False) -> object:
    def handle(request: Request) -> Response:
        headers = {"Content-Type": "application/json"}
        given = request.header("Origin")
        if given == "null" and allow_null:
            headers["Access-Control-Allow-Origin"] = "null"
        elif given and given != "null" and reflect:
            headers["Access-Control-Allow-Origin"] = given
        else:
            headers["Access-Control-Allow-Origin"] = "https://www.yunzhou.gov.cn"
        if credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return Response(200, '{"user": "x"}', headers)

    return handle


def test_cors_reflection_with_credentials() -> None:
    routes = {"*": _cors(reflect=True, credentials=True, allow_null=True)}
    with MockHttpTarget(routes) as target:  # type: ignore[arg-type]
        issues = _run(site.CorsCheck(), target.url + "/", ["/api/user/info"])
        assert {i.extra["key"] for i in issues} == {"reflect", "null"}
        assert {i.url for i in issues} == {target.url + "/", target.url + "/api/user/info"}
        assert all(i.site_wide for i in issues)


@pytest.mark.parametrize(
    "behaviour",
    [
        {"reflect": True, "credentials": False},  # no credentials: data of no one
        {"reflect": False, "credentials": True},  # allow-list
    ],
)
def test_cors_safe_variants(behaviour: dict[str, bool]) -> None:
    with MockHttpTarget({"*": _cors(**behaviour)}) as target:  # type: ignore[dict-item]
        assert _run(site.CorsCheck(), target.url + "/", ["/api/user/info"]) == []


def test_options_and_registration() -> None:
    checks = {c.id: c for c in site_checks()}
    assert checks["web.put-write"].safety.value == "intrusive"
    for name in (
        "web.sensitive-files",
        "web.directory-probe",
        "web.http-methods",
        "web.trace",
        "web.cors",
    ):
        assert checks[name].safety.value == "active"
    state = make_state("http://127.0.0.1:9/")
    state.options.update({"web.*": {"cors_urls": 2}, "web.cors": {"cors_urls": 3}, "cors_urls": 1})
    assert option(state, "web.cors", "cors_urls", 5, 1, 10) == 3
    assert option(state, "web.trace", "cors_urls", 5, 1, 10) == 2
    state.options["web.cors"] = {"cors_urls": 0}
    with pytest.raises(ValueError, match="cors_urls"):
        option(state, "web.cors", "cors_urls", 5, 1, 10)
    state.client.close()


# --------------------------------------------------------------------------- vulnapp


def _vuln(app: VulnApp, check: SiteCheck, start: str, pages: list[str]) -> list[WebIssue]:
    return _run(check, app.url + start, pages)


def test_vulnapp_sensitive_files(vulnapp: VulnApp) -> None:  # noqa: F811
    found = {i.extra["file"] for i in _vuln(vulnapp, site.SensitiveFilesCheck(), "/", [])}
    assert {".git/config", ".git/HEAD", ".env", "www.zip", ".DS_Store", "WEB-INF/web.xml"} <= found
    # The /v2 twin answers a soft 404 (status 200) for every one of them.
    assert _vuln(vulnapp, site.SensitiveFilesCheck(), "/v2/", []) == []


def test_vulnapp_methods_trace_cors(vulnapp: VulnApp) -> None:  # noqa: F811
    put = _vuln(vulnapp, site.PutWriteCheck(), "/", ["/webdav/"])
    assert [(i.method, i.url) for i in put] == [("PUT", vulnapp.url + "/webdav/")]
    assert put[0].extra["removed"] is True
    assert _vuln(vulnapp, site.PutWriteCheck(), "/v2/", ["/v2/webdav/"]) == []
    deleted = _vuln(vulnapp, site.HttpMethodsCheck(), "/", ["/webdav/"])
    assert [i.url for i in deleted] == [vulnapp.url + "/webdav/"]
    assert _vuln(vulnapp, site.HttpMethodsCheck(), "/v2/", ["/v2/webdav/"]) == []
    assert [i.kind for i in _vuln(vulnapp, site.TraceCheck(), "/", [])] == ["trace-enabled"]
    assert _vuln(vulnapp, site.TraceCheck(), "/v2/", []) == []
    cors = _vuln(vulnapp, site.CorsCheck(), "/", ["/api/user/info"])
    assert vulnapp.url + "/api/user/info" in {i.url for i in cors}
    assert _vuln(vulnapp, site.CorsCheck(), "/v2/", ["/v2/api/user/info"]) == []
    listing = _vuln(vulnapp, site.DirectoryProbeCheck(), "/", ["/uploads/readme.txt"])
    assert [i.url for i in listing] == [vulnapp.url + "/uploads/"]
    assert _vuln(vulnapp, site.DirectoryProbeCheck(), "/v2/", ["/v2/uploads/readme.txt"]) == []


# --------------------------------------------------------------------------- whole scan

MY_CHECKS = {
    "web.security-headers",
    "web.cookie-flags",
    "web.version-disclosure",
    "web.error-disclosure",
    "web.directory-listing",
    "web.mixed-content",
    "web.password-over-http",
    "web.sensitive-files",
    "web.directory-probe",
    "web.http-methods",
    "web.put-write",
    "web.trace",
    "web.cors",
    "web.tls",
    "web.weak-login",
    "web.broken-access",
}


def test_checks_run_inside_a_web_scan() -> None:
    from shaobing.cli.templates import build_context
    from shaobing.web.issues import finding_input
    from shaobing.web.scan import WebScanner, WebScanOptions

    def trace(request: Request) -> Response:
        return Response(200, f"TRACE / HTTP/1.1\r\n{request.header('X-Shaobing-Trace')}")

    home = Response(
        200,
        '<html><body><a href="/login">登录</a><a href="/files/a.txt">文件</a></body></html>',
        {**HTML, "Server": "Apache/2.4.29", "Set-Cookie": "PHPSESSID=abc; path=/"},
    )
    routes = {
        "/": by_method({"GET": home, "TRACE": trace}),
        "/login": by_method(
            {
                "GET": Response(
                    200,
                    '<form method="post" action="/login"><input name="user">'
                    '<input type="password" name="pass"></form>',
                    HTML,
                ),
                "POST": lambda r: (
                    Response(302, "", {"Location": "/home"})
                    if r.form().get("pass") == "123456" and r.form().get("user") == "admin"
                    else Response(
                        200,
                        '<form method="post" action="/login"><input name="user">'
                        '<input type="password" name="pass"></form>错误',
                        HTML,
                    )
                ),
            }
        ),
        "/files/a.txt": Response(200, "text", {"Content-Type": "text/plain"}),
        "/files/": Response(200, LISTING_PAGE, HTML),
        "/.git/config": Response(200, GIT_CONFIG),
    }
    with MockHttpTarget(routes) as target:  # type: ignore[arg-type]
        ctx = build_context([target.url], 5.0)
        options = WebScanOptions(max_pages=20, allow=lambda check, _safety: check in MY_CHECKS)
        outcome = WebScanner(ctx, target.url + "/", options).run()
    assert outcome.errors == []
    assert set(outcome.checks_run) >= MY_CHECKS
    kinds = {i.kind for i in outcome.issues}
    assert {
        "missing-csp",
        "cookie-flags",
        "version-disclosure",
        "password-over-http",
        "sensitive-file",
        "directory-listing",
        "trace-enabled",
        "weak-login",
    } <= kinds
    assert "broken-access" not in kinds and "tls-certificate" not in kinds
    for issue in outcome.issues:
        finding_input(issue)  # every class has its texts and CVSS


LISTING_PAGE = "<html><head><title>Index of /files/</title></head><body><h1>Index of /files/</h1>"
