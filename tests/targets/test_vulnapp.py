"""Self-tests of the vulnerable web application: every manifest entry is exploited with a
known request (plain http.client), and must show the vulnerability when it is marked
vulnerable and must not when it is a safe twin. Plus the crawler terrain, the hostile
pages, sessions, the test API and the loopback-only guards."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import pytest

from tests.targets.http import MockHttpTarget, Response
from tests.targets.vulnapp.auth import NEW_ACCOUNTS
from tests.targets.vulnapp.config import NotLoopback
from tests.targets.vulnapp.fixture import (
    REPO_ROOT,
    VulnApp,
    mariadb_server,
    vulnapp,
    vulnapp_factory,
    vulnapp_full,
    vulnapp_mariadb,
    vulnapp_postgres,
)
from tests.targets.vulnapp.manifest import Entry, load_manifest
from tests.targets.vulnapp.net import fetch_loopback

__all__ = [
    "mariadb_server",
    "vulnapp",
    "vulnapp_factory",
    "vulnapp_full",
    "vulnapp_mariadb",
    "vulnapp_postgres",
]

MANIFEST = load_manifest()
FIXTURE_FOR = {None: "vulnapp", "mariadb": "vulnapp_mariadb", "postgres": "vulnapp_postgres"}
TOKEN = "zqx7"


# --- a small HTTP client ------------------------------------------------------------------


@dataclass
class Reply:
    """One response, read whole."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    elapsed: float

    @property
    def text(self) -> str:
        """The body as UTF-8 (bad bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        """The first header ``name`` (case-insensitive), None when absent."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        """Every header ``name`` (case-insensitive)."""
        return [v for k, v in self.headers if k.lower() == name.lower()]


def send(
    app: VulnApp,
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 15.0,
) -> Reply:
    """Send one request to ``app`` (no redirect is followed)."""
    target = path + ("?" + urlencode(query) if query else "")
    sent = dict(headers or {})
    if form is not None:
        body = urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        body = json.dumps(json_body).encode()
        sent["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=timeout)
    try:
        started = time.monotonic()
        conn.request(method, target, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        elapsed = time.monotonic() - started
        return Reply(response.status, response.getheaders(), data, elapsed)
    finally:
        conn.close()


def send_value(app: VulnApp, entry: Entry, value: str, **extra: Any) -> Reply:
    """Send ``value`` as the entry's parameter, at the entry's location."""
    assert entry.parameter is not None
    name, location = entry.parameter, entry.location
    if location in ("cookie", "header") and not value.isascii():
        value = quote(value)
    fields = {**entry.extra, name: value}
    if location == "query":
        return send(app, entry.method, entry.path, query=fields, **extra)
    if location == "form":
        return send(app, entry.method, entry.path, form=fields, **extra)
    if location == "json":
        return send(app, entry.method, entry.path, json_body=fields, **extra)
    if location == "cookie":
        return send(app, entry.method, entry.path, headers={"Cookie": f"{name}={value}"}, **extra)
    assert location == "header"
    return send(app, entry.method, entry.path, headers={name: value}, **extra)


def login_cookie(app: VulnApp, *, v2: bool = False) -> str:
    """A session cookie (``NAME=token``) of the old or new site's admin."""
    path = "/v2/login" if v2 else "/login"
    password = NEW_ACCOUNTS["admin"] if v2 else MANIFEST.login["password"]
    reply = send(app, "POST", path, form={"username": "admin", "password": password})
    assert reply.status == 302, reply.text[:300]
    cookie = reply.header("set-cookie")
    assert cookie is not None
    return cookie.split(";", 1)[0]


# --- probes: True when the response shows the vulnerability -------------------------------

ERROR_SIGNATURES = {
    "sqlite": "sqlite3.OperationalError",
    "mariadb": "You have an error in your SQL syntax",
    "postgres": "unterminated quoted string",
    "mssql": "Unclosed quotation mark after the character string",
    "oracle": "ORA-01756: quoted string not properly terminated",
    "dm": "dm.jdbc.driver.DMException",
}
ANY_DB_ERROR = re.compile("|".join(re.escape(s) for s in ERROR_SIGNATURES.values()))
NOTICE_TITLE = "关于做好2024年度政务服务事项梳理工作的通知"
POLICY_TITLE = "云州市优化营商环境条例"
UNION_PAYLOAD = {
    "sqlite": "zz' UNION SELECT CAST(1234*5678 AS TEXT), 'u' -- ",
    "postgres": "zz' UNION SELECT CAST(1234*5678 AS TEXT), 'u' -- ",
    "mariadb": "zz' UNION SELECT CAST(1234*5678 AS CHAR), 'u' -- ",
}
SLEEP_PAYLOAD = {
    "mariadb": "x' OR (SELECT 1 FROM (SELECT SLEEP(1)) AS t)='1",
    "postgres": "x'||(SELECT '' FROM pg_sleep(1))||'",
}
Probe = Callable[[VulnApp, Entry], bool]


def probe_sqli_error(app: VulnApp, entry: Entry) -> bool:
    benign = send_value(app, entry, entry.value or "1")
    assert benign.status == 200 and NOTICE_TITLE in json_or_text(benign), benign.text[:500]
    reply = send_value(app, entry, "1'")
    assert entry.dbms is not None
    return ERROR_SIGNATURES[entry.dbms] in reply.text


def json_or_text(reply: Reply) -> str:
    """The body, with JSON decoded so that non-ASCII text compares."""
    if (reply.header("content-type") or "").startswith("application/json"):
        return json.dumps(json.loads(reply.body), ensure_ascii=False)
    return reply.text


def probe_sqli_boolean(app: VulnApp, entry: Entry) -> bool:
    benign = send_value(app, entry, "1")
    assert benign.status == 200 and POLICY_TITLE in json_or_text(benign)
    true = json_or_text(send_value(app, entry, "1 AND 1=1"))
    false = json_or_text(send_value(app, entry, "1 AND 1=2"))
    assert not ANY_DB_ERROR.search(true + false), "a blind page must not show errors"
    return POLICY_TITLE in true and POLICY_TITLE not in false


def probe_sqli_union(app: VulnApp, entry: Entry) -> bool:
    benign = send_value(app, entry, "指南")
    assert benign.status == 200 and "营业执照办理指南" in json_or_text(benign)
    assert entry.dbms is not None
    reply = send_value(app, entry, UNION_PAYLOAD[entry.dbms])
    assert not ANY_DB_ERROR.search(reply.text)
    return "7006652" in reply.text


def probe_sqli_time(app: VulnApp, entry: Entry) -> bool:
    benign = send_value(app, entry, entry.value or "")
    assert entry.dbms is not None
    slow = send_value(app, entry, SLEEP_PAYLOAD[entry.dbms])
    assert benign.status == slow.status == 200
    assert not ANY_DB_ERROR.search(slow.text)
    strip = re.compile(r"visitor_id=\w+")
    assert strip.sub("", benign.text) == strip.sub("", slow.text), "no content difference"
    return slow.elapsed - benign.elapsed > 0.8


XSS_PAYLOADS = {
    "html": ("<script>alert('zqx7')</script>", "<script>alert('zqx7')</script>"),
    "attribute": ('zqx7"><svg onload=alert(1)>', 'value="zqx7"><svg onload=alert(1)>'),
    "script": ("zqx7';alert(1);//", "'zqx7';alert(1);//'"),
    "url": ("javascript:alert('zqx7')", "href=\"javascript:alert('zqx7')\""),
}


def probe_xss_reflected(app: VulnApp, entry: Entry) -> bool:
    assert entry.context is not None
    payload, evidence = XSS_PAYLOADS[entry.context]
    reply = send_value(app, entry, payload)
    assert reply.status == 200
    return evidence in reply.text


def probe_xss_stored(app: VulnApp, entry: Entry) -> bool:
    payload = f"<img src=x onerror=alert('{TOKEN}-{entry.id}')>"
    stored = send_value(app, entry, payload)
    assert stored.status == 303
    assert entry.shown_at is not None
    shown = send(app, "GET", entry.shown_at)
    assert shown.status == 200 and f"{TOKEN}-{entry.id}" in shown.text
    return payload in shown.text


def probe_path_traversal(app: VulnApp, entry: Entry) -> bool:
    benign = send_value(app, entry, entry.value or "")
    assert benign.status == 200
    unix = send_value(app, entry, "../../../../../../etc/passwd")
    windows = send_value(app, entry, "..\\..\\..\\..\\windows\\win.ini")
    found = "root:x:0:0:" in unix.text, "[fonts]" in windows.text
    assert found[0] == found[1]
    return found[0]


@pytest.fixture(scope="module")
def listener() -> Iterator[MockHttpTarget]:
    """A loopback HTTP listener that records what the application fetches."""
    routes = {"*": Response(200, f"<title>{TOKEN}-listener</title><p>{TOKEN}-rfi</p>")}
    with MockHttpTarget(routes) as target:
        yield target


def _fetch_probe(listener: MockHttpTarget) -> Probe:
    def probe(app: VulnApp, entry: Entry) -> bool:
        benign = send_value(app, entry, entry.sample(app.url) or "")
        assert benign.status == 200, benign.text[:300]
        marker = f"/{entry.id}-{time.monotonic_ns()}"
        reply = send_value(app, entry, f"{listener.url}{marker}")
        called = any(r.path == marker for r in listener.seen)
        if entry.vuln_class == "rfi":
            assert called == (f"{TOKEN}-rfi" in reply.text)
        return called

    return probe


def probe_open_redirect(app: VulnApp, entry: Entry) -> bool:
    reply = send_value(app, entry, "http://evil.example/phish")
    assert reply.status in (301, 302, 303, 307, 308)
    return (reply.header("location") or "").startswith("http://evil.example")


def probe_ssi(app: VulnApp, entry: Entry) -> bool:
    reply = send_value(app, entry, '<!--#exec cmd="id" --> <!--#echo var="SERVER_SOFTWARE" -->')
    ran, echoed = "uid=" in reply.text, "Apache/2.4.29 (Ubuntu)，云州" in reply.text
    refused = send_value(app, entry, '<!--#exec cmd="cat /etc/passwd" -->')
    assert "root:x" not in refused.text, "exec runs only the emulation's allow-list"
    assert ran == echoed
    return ran


def probe_cmd_injection(app: VulnApp, entry: Entry) -> bool:
    benign = send_value(app, entry, entry.value or "")
    assert benign.status == 200
    if entry.technique == "echo":
        assert "64 bytes from 127.0.0.1" in benign.text
        return "uid=" in send_value(app, entry, "127.0.0.1;id").text
    slow = send_value(app, entry, "127.0.0.1;sleep 1")
    assert "uid=" not in slow.text
    return slow.elapsed - benign.elapsed > 0.8


def probe_ssti(app: VulnApp, entry: Entry) -> bool:
    reply = send_value(app, entry, "{{7*191}}")
    assert reply.status == 200
    escape = send_value(app, entry, "{{ ''.__class__.__mro__ }}")
    assert "object" not in escape.text.split("电子证照")[-1] or "SecurityError" in escape.text
    return "1337" in reply.text


def probe_crlf(app: VulnApp, entry: Entry) -> bool:
    reply = send_value(app, entry, f"{entry.value}\r\nX-Injected-{TOKEN}: yes")
    assert reply.status == 302
    return (reply.header(f"X-Injected-{TOKEN}") or "").startswith("yes")


def probe_weak_login(app: VulnApp, entry: Entry) -> bool:
    app.reset()
    try:
        guess = send(app, "POST", entry.path, form=entry.extra)
        accepted = guess.status == 302 and "/admin/" in (guess.header("location") or "")
        if not entry.vulnerable:
            for attempt in range(6):
                wrong = send(
                    app, "POST", entry.path, form={"username": "admin", "password": f"x{attempt}"}
                )
            assert "账户已锁定" in wrong.text
            right = {"username": "admin", "password": NEW_ACCOUNTS["admin"]}
            assert send(app, "POST", entry.path, form=right).status == 423
        else:
            for attempt in range(8):
                send(app, "POST", entry.path, form={"username": "admin", "password": f"x{attempt}"})
            again = send(app, "POST", entry.path, form=entry.extra)
            assert again.status == 302, "the weak login never locks"
        return accepted
    finally:
        app.reset()


def probe_broken_access(app: VulnApp, entry: Entry) -> bool:
    query = {entry.parameter: entry.value} if entry.parameter and entry.value else None
    cookie = login_cookie(app, v2=entry.path.startswith("/v2/"))
    logged_in = send(app, "GET", entry.path, query=query, headers={"Cookie": cookie})
    assert logged_in.status == 200, "the page works for a logged-in user"
    anonymous = send(app, "GET", entry.path, query=query)
    if anonymous.status in (301, 302, 303):
        assert "/login" in (anonymous.header("location") or "")
        return False
    return anonymous.status == 200 and "13800000002" in anonymous.text


SECURITY_HEADERS = (
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
)


def probe_missing_headers(app: VulnApp, entry: Entry) -> bool:
    reply = send(app, entry.method, entry.path)
    assert reply.status == 200
    return any(reply.header(h) is None for h in SECURITY_HEADERS)


def probe_cookie_flags(app: VulnApp, entry: Entry) -> bool:
    if entry.method == "POST":
        reply = send(app, "POST", entry.path, form=entry.extra)
    else:
        reply = send(app, entry.method, entry.path)
    cookies = [c for c in reply.all("set-cookie") if c.startswith(f"{entry.parameter}=")]
    assert cookies, reply.headers
    flags = {part.strip().split("=")[0].lower() for part in cookies[0].split(";")[1:]}
    return not {"secure", "httponly", "samesite"} <= flags


def probe_version_disclosure(app: VulnApp, entry: Entry) -> bool:
    reply = send(app, entry.method, entry.path)
    versions = re.compile(r"/\d+\.\d+")
    return (
        bool(versions.search(reply.header("server") or ""))
        or reply.header("x-powered-by") is not None
    )


def probe_directory_listing(app: VulnApp, entry: Entry) -> bool:
    reply = send(app, "GET", entry.path)
    return reply.status == 200 and "Index of /" in reply.text and "readme.txt" in reply.text


def probe_error_disclosure(app: VulnApp, entry: Entry) -> bool:
    benign = send_value(app, entry, entry.value or "")
    assert benign.status == 200
    reply = send_value(app, entry, "abc")
    return "Traceback (most recent call last)" in reply.text


SENSITIVE_SIGNATURES = {
    ".git/config": b"[core]",
    ".git/HEAD": b"ref: refs/heads/",
    ".env": b"DB_PASSWORD=",
    "www.zip": b"PK\x03\x04",
    ".DS_Store": b"\x00\x00\x00\x01Bud1",
    "WEB-INF/web.xml": b"<web-app",
}


def probe_sensitive_file(app: VulnApp, entry: Entry) -> bool:
    reply = send(app, "GET", entry.path)
    name = entry.path.removeprefix("/v2").lstrip("/")
    return reply.status == 200 and SENSITIVE_SIGNATURES[name] in reply.body


def probe_mixed_content(app: VulnApp, entry: Entry) -> bool:
    reply = send(app, "GET", entry.path)
    assert reply.status == 200
    return bool(re.search(r"""(src|href)=["']http://""", reply.text))


def probe_cors(app: VulnApp, entry: Entry) -> bool:
    origin = "http://evil.example"
    reply = send(app, "GET", entry.path, headers={"Origin": origin})
    assert reply.status == 200
    allowed = reply.header("access-control-allow-origin")
    return allowed in (origin, "*") and reply.header("access-control-allow-credentials") == "true"


def probe_password_over_http(app: VulnApp, entry: Entry) -> bool:
    reply = send(app, "GET", entry.path)
    assert reply.status == 200 and "<form" in reply.text
    return bool(re.search(r"""type=["']?password""", reply.text))


def probe_dangerous_methods(app: VulnApp, entry: Entry) -> bool:
    if entry.technique == "trace":
        reply = send(app, "TRACE", entry.path, headers={"X-Probe": TOKEN})
        return reply.status == 200 and f"X-Probe: {TOKEN}" in reply.text
    put = send(app, "PUT", entry.path, body=TOKEN.encode())
    if put.status not in (200, 201, 204):
        assert put.status == 405
        assert send(app, "DELETE", entry.path).status == 405
        return False
    stored = send(app, "GET", entry.path).body == TOKEN.encode()
    deleted = send(app, "DELETE", entry.path).status in (200, 204)
    return stored and deleted


PROBES: dict[str, Probe] = {
    "sqli-error": probe_sqli_error,
    "sqli-boolean": probe_sqli_boolean,
    "sqli-union": probe_sqli_union,
    "sqli-time": probe_sqli_time,
    "xss-reflected": probe_xss_reflected,
    "xss-stored": probe_xss_stored,
    "path-traversal": probe_path_traversal,
    "open-redirect": probe_open_redirect,
    "ssi": probe_ssi,
    "cmd-injection": probe_cmd_injection,
    "ssti": probe_ssti,
    "crlf": probe_crlf,
    "weak-login": probe_weak_login,
    "broken-access": probe_broken_access,
    "missing-headers": probe_missing_headers,
    "cookie-flags": probe_cookie_flags,
    "version-disclosure": probe_version_disclosure,
    "directory-listing": probe_directory_listing,
    "error-disclosure": probe_error_disclosure,
    "sensitive-file": probe_sensitive_file,
    "mixed-content": probe_mixed_content,
    "cors": probe_cors,
    "password-over-http": probe_password_over_http,
    "dangerous-methods": probe_dangerous_methods,
}


def test_every_class_has_a_probe() -> None:
    assert {e.vuln_class for e in MANIFEST.entries} <= set(PROBES) | {"rfi", "ssrf"}


@pytest.mark.parametrize("entry", MANIFEST.entries, ids=lambda e: e.id)
def test_entry_shows_exactly_what_the_manifest_says(
    entry: Entry, request: pytest.FixtureRequest, listener: MockHttpTarget
) -> None:
    app: VulnApp = request.getfixturevalue(FIXTURE_FOR[entry.requires])
    probe = (
        _fetch_probe(listener) if entry.vuln_class in ("rfi", "ssrf") else PROBES[entry.vuln_class]
    )
    shown = probe(app, entry)
    expected = "vulnerable" if entry.vulnerable else "a safe twin"
    assert shown is entry.vulnerable, (
        f"{entry.id} ({entry.method} {entry.path}) should be {expected}"
    )


# --- the manifest and the application agree -----------------------------------------------

#: Routes that are infrastructure, redirects, a 403 named by robots.txt, or behind the new
#: site's (strong) login.
UNLISTED = re.compile(
    r"^/(v2/)?(static/|robots\.txt|sitemap\.xml|__test__/|setlang|sso/jump|m/jump|backup/)"
    r"|^/v2/(admin/|\{rest)|^/hostile/loop2$"
)


def _samples(template: str) -> str:
    return template.replace("{int}", "1").replace("{any}", "x")


def test_manifest_parses_and_twins_point_back() -> None:
    assert len(MANIFEST.entries) > 100
    for entry in MANIFEST.entries:
        twin = MANIFEST.twin_of(entry)
        assert twin.vulnerable != entry.vulnerable and twin.vuln_class == entry.vuln_class
    assert MANIFEST.page_for("/news?id=42") is not None
    assert MANIFEST.page_for("/news?page=42") is None


def test_manifest_rejects_a_dangling_twin() -> None:
    from tests.targets.vulnapp.manifest import MANIFEST_PATH, ManifestError, parse

    text = MANIFEST_PATH.read_text(encoding="utf-8")
    broken = text.replace("twin: ssti-card-safe,", "twin: no-such-entry,")
    assert broken != text
    with pytest.raises(ManifestError, match="no-such-entry"):
        parse(broken)


def test_every_route_of_the_app_is_in_the_manifest(tmp_path: Path) -> None:
    from starlette.routing import Route as StarletteRoute

    from tests.targets.vulnapp.app import build_app
    from tests.targets.vulnapp.config import AppConfig

    app = build_app(AppConfig(data_dir=tmp_path))
    known = [e.path for e in MANIFEST.entries] + [e.shown_at or "" for e in MANIFEST.entries]
    known += [_samples(urlsplit(p.pattern).path) for p in MANIFEST.pages]
    known += [_samples(d.path) for d in MANIFEST.destructive]
    missing = []
    for route in app.routes:
        assert isinstance(route, StarletteRoute)
        if UNLISTED.search(route.path):
            continue
        if not any(route.path_regex.fullmatch(path) for path in known):
            missing.append(route.path)
    assert not missing, f"routes absent from manifest.yaml: {missing}"


# --- a reference crawl reaches every listed page -------------------------------------------

LINK = re.compile(r"""(?:href|src|action)\s*=\s*["']([^"'#\s]+)""", re.IGNORECASE)
JS_PATH = re.compile(r"""["'](/[A-Za-z0-9_\-./?=&%]+)["']""")
LOC = re.compile(r"<loc>([^<]+)</loc>")


def reference_crawl(app: VulnApp, cookie: str, budget: int = 1500) -> tuple[list[str], int]:
    """Breadth-first from /, robots.txt and sitemap.xml; at most 2 URLs per page pattern;
    never a destructive link, a hostile page or a form submission."""
    destructive = [
        re.compile(_samples(d.path).replace("/x", "/[^/]+") + "$") for d in MANIFEST.destructive
    ]
    queue = deque(["/", "/robots.txt", "/sitemap.xml"])
    seen: set[str] = set(queue)
    per_pattern: Counter[str] = Counter()
    visited: list[str] = []
    sent = 0
    while queue and sent < budget:
        url = queue.popleft()
        reply = send(app, "GET", url, headers={"Cookie": cookie})
        sent += 1
        visited.append(url)
        found: list[str] = []
        location = reply.header("location")
        if location:
            found.append(location)
        text = reply.text
        if url == "/robots.txt":
            found += re.findall(r"(?:Disallow|Sitemap):\s*(\S+)", text)
        elif url == "/sitemap.xml":
            found += LOC.findall(text)
        else:
            found += LINK.findall(text)
            found += JS_PATH.findall(text) if url.endswith(".js") or "<script" in text else []
        for link in found:
            absolute = urlsplit(urljoin(app.url + url, link))
            if absolute.netloc != f"127.0.0.1:{app.port}":
                continue
            target = quote(
                absolute.path + ("?" + absolute.query if absolute.query else ""),
                safe="/?=&%:;,+@!$'()*~-._",
            )
            path = absolute.path
            if path.startswith("/hostile/") or any(d.match(path) for d in destructive):
                continue
            page = MANIFEST.page_for(target)
            key = page.pattern if page else path
            if target in seen or per_pattern[key] >= 2:
                continue
            seen.add(target)
            per_pattern[key] += 1
            queue.append(target)
    return visited, sent


def test_reference_crawl_reaches_every_page_and_triggers_nothing(vulnapp: VulnApp) -> None:
    vulnapp.reset()
    cookie = login_cookie(vulnapp)
    visited, sent = reference_crawl(vulnapp, cookie)
    pages = MANIFEST.pages_for(vulnapp.backends, auth=True, hostile=False)
    unreached = [p.pattern for p in pages if not any(p.matches(u) for u in visited)]
    assert not unreached, f"pages no crawl can reach: {unreached}"
    events = vulnapp.events()
    assert events["destructive"] == []
    assert events["requests"] == sent + 1  # + the login
    assert sent < 800, "the 500 news and 20 000 links must be reachable as patterns"


# --- hostile pages ------------------------------------------------------------------------


def test_slow_page_is_slow(vulnapp: VulnApp) -> None:
    with pytest.raises(TimeoutError):
        send(vulnapp, "GET", "/hostile/slow", timeout=0.5)


def test_garbage_is_not_utf8_and_redirects_loop(vulnapp: VulnApp) -> None:
    garbage = send(vulnapp, "GET", "/hostile/garbage")
    assert garbage.status == 200 and "utf-8" in (garbage.header("content-type") or "")
    with pytest.raises(UnicodeDecodeError):
        garbage.body.decode("utf-8")
    assert send(vulnapp, "GET", "/hostile/loop").header("location") == "/hostile/loop2"
    assert send(vulnapp, "GET", "/hostile/loop2").header("location") == "/hostile/loop"
    assert (
        send(vulnapp, "GET", "/hostile/redirect?n=7").header("location") == "/hostile/redirect?n=8"
    )


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1)) / 1024


@pytest.mark.parametrize("path", ["/hostile/huge", "/hostile/huge-declared"])
def test_huge_responses_stream_without_memory(vulnapp: VulnApp, path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", vulnapp.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        if path.endswith("declared"):
            assert response.getheader("content-length") == str(1 << 30)
        else:
            assert response.getheader("transfer-encoding") == "chunked"
        received = 0
        while received < 32 << 20:
            chunk = response.read(1 << 20)
            assert chunk
            received += len(chunk)
        assert _rss_mib(vulnapp.process.pid) < 400
    finally:
        conn.close()


def test_huge_link_page_and_endless_calendar(vulnapp: VulnApp) -> None:
    links = send(vulnapp, "GET", "/hostile/links")
    assert links.text.count('href="/hostile/links/') >= 20_000
    assert send(vulnapp, "GET", "/hostile/links/19999").status == 200
    day = send(vulnapp, "GET", "/hostile/calendar?date=2030-12-31")
    assert "/hostile/calendar?date=2031-01-01" in day.text


# --- sessions, destructive actions, the test API ------------------------------------------


def test_session_expires_after_requests_and_seconds(
    vulnapp_factory: Callable[..., VulnApp],
) -> None:
    app = vulnapp_factory("--session-max-requests", "3", "--session-ttl", "1.5")
    cookie = {"Cookie": login_cookie(app)}
    assert [send(app, "GET", "/admin/", headers=cookie).status for _ in range(3)] == [200] * 3
    expired = send(app, "GET", "/admin/", headers=cookie)
    assert expired.status == 302 and "expired=1" in (expired.header("location") or "")
    cookie = {"Cookie": login_cookie(app)}
    assert send(app, "GET", "/admin/logs", headers=cookie).status == 200
    time.sleep(1.6)
    assert send(app, "GET", "/admin/logs", headers=cookie).status == 302


def test_destructive_actions_are_recorded(vulnapp: VulnApp) -> None:
    vulnapp.reset()
    try:
        cookie = {"Cookie": login_cookie(vulnapp)}
        send(vulnapp, "GET", "/gzhd/guestbook/delete?id=1")
        send(vulnapp, "GET", "/admin/users/delete?id=3", headers=cookie)
        send(vulnapp, "GET", "/admin/cache/drop", headers=cookie)
        send(vulnapp, "POST", "/account/close", form={"confirm": "yes"}, headers=cookie)
        send(vulnapp, "DELETE", "/webdav/nothing.txt")
        send(vulnapp, "GET", "/logout", headers=cookie)
        actions = [e["action"] for e in vulnapp.events()["destructive"]]
        assert actions == [
            "guestbook-delete",
            "user-delete",
            "cache-drop",
            "account-close",
            "webdav-delete",
            "logout",
        ]
        assert send(vulnapp, "GET", "/admin/", headers=cookie).status == 302, "logged out"
        assert {d.action for d in MANIFEST.destructive} == set(actions)
    finally:
        vulnapp.reset()


def test_test_api_needs_the_secret(vulnapp: VulnApp) -> None:
    assert send(vulnapp, "GET", "/__test__/events").status == 404
    wrong = send(vulnapp, "GET", "/__test__/events", headers={"X-Vulnapp-Secret": "guess"})
    assert wrong.status == 404
    assert send(vulnapp, "POST", "/__test__/reset").status == 404
    right = send(vulnapp, "GET", "/__test__/events", headers={"X-Vulnapp-Secret": vulnapp.secret})
    assert right.status == 200 and "requests" in json.loads(right.body)


# --- loopback only ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--host", "0.0.0.0"],
        ["--host", "192.168.1.10"],
        ["--mysql-dsn", "mysql://u:p@10.1.2.3:3306/db"],
        ["--pg-dsn", "postgresql://u@db.example.org/db"],
    ],
)
def test_refuses_anything_but_loopback(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from tests.targets.vulnapp.__main__ import main

    assert main(["--port", "0", *args]) == 2
    assert "refused" in capsys.readouterr().err


def test_the_module_runs_as_a_program_and_refuses_a_public_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.targets.vulnapp", "--host", "0.0.0.0", "--port", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and b"refused" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://8.8.8.8/",
        "http://example.org/",
        "http://127.0.0.2/",
        "http://[::ffff:10.0.0.1]/",
        "https://127.0.0.1/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
    ],
)
def test_server_side_fetches_stay_on_loopback(url: str) -> None:
    with pytest.raises(NotLoopback):
        fetch_loopback(url)


def test_full_instance_wires_all_three_databases(vulnapp_full: VulnApp) -> None:
    assert vulnapp_full.backends == {"sqlite", "mariadb", "postgres"}
    home = send(vulnapp_full, "GET", "/").text
    assert "办事大厅" in home and "互动交流" in home
    for entry in MANIFEST.entries_for(vulnapp_full.backends, vulnerable=True):
        if entry.vuln_class == "sqli-error" and entry.location == "query":
            reply = send_value(vulnapp_full, entry, "1'")
            assert entry.dbms is not None and ERROR_SIGNATURES[entry.dbms] in reply.text
