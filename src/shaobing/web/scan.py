"""One web scan from start to end, without the database: log in, crawl (passive checks on
every page), site checks, parameter checks on the attack surface, stored-XSS sweep.

Everything goes through one :class:`~shaobing.web.client.WebClient`, so the engagement's
scope (every connection), the web scope (origin and path prefix), the request and time
budgets and the response size cap hold for every phase; when a budget runs out the scan
ends its current phase and reports what it covered, with the reason.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from shaobing.core.scope import ScopeRefused
from shaobing.scan.checks import CheckContext, Safety
from shaobing.web import checks as checks_package
from shaobing.web.checks.base import (
    Callback,
    PassiveCheck,
    PointCheck,
    Probe,
    ScanState,
    SiteCheck,
    passive_checks,
    point_checks,
    site_checks,
)
from shaobing.web.client import (
    Budget,
    BudgetExhausted,
    HttpError,
    OutOfScope,
    WebClient,
    WebResponse,
)
from shaobing.web.crawler import Crawler, CrawlOptions, CrawlResult
from shaobing.web.issues import IssueSink, WebIssue
from shaobing.web.request import Location, WebRequest, insertion_points
from shaobing.web.session import FormLogin, LoginFailed
from shaobing.web.urls import WebScope, normalise, origin, pattern

# Organisation-defined defaults (each is an option of `shaobing webscan` / the policy).
DEFAULT_MAX_SECONDS = 3600.0
DEFAULT_MAX_REQUESTS = 50_000
DEFAULT_TIMEOUT = 10.0
DEFAULT_ACTIVE_WORKERS = 4
# Pages (distinct URL patterns) whose cookies and headers are tested too: every
# parameterless page multiplies the cost by the cookies and headers it carries.
DEFAULT_HEADER_PAGES = 30
# Cookies remembered from Set-Cookie headers for testing (organisation-defined bound).
MAX_REMEMBERED_COOKIES = 50
# Appended to a cookie or header to see whether a page reacts to it at all.
SCREEN_PAYLOAD = "'\"<sbx"

Allow = Callable[[str, Safety], bool]
Progress = Callable[[str, int, int], None]


def retest_request(request: WebRequest) -> dict[str, Any]:
    """The request as kept with a finding for its retest: cookies and credentials left out
    (a retest runs without the scan's session)."""
    secret = {"cookie", "authorization", "proxy-authorization"}
    return {
        "method": request.method,
        "url": request.url,
        "headers": [[k, v] for k, v in request.headers if k.lower() not in secret],
        "body": request.body.decode("utf-8", "replace"),
    }


def load_checks() -> list[str]:
    """Import every module of :mod:`shaobing.web.checks` (each registers its checks);
    returns the module names."""
    names = []
    for module in pkgutil.iter_modules(checks_package.__path__):
        if module.name == "base":
            continue
        importlib.import_module(f"{checks_package.__name__}.{module.name}")
        names.append(module.name)
    return names


@dataclass
class WebScanOptions:
    """What one web scan may do and how far it may go."""

    max_pages: int = 500
    max_depth: int = 10
    max_seconds: float | None = DEFAULT_MAX_SECONDS
    max_requests: int | None = DEFAULT_MAX_REQUESTS
    timeout: float = DEFAULT_TIMEOUT
    workers: int = DEFAULT_ACTIVE_WORKERS
    per_pattern: int = 3
    header_pages: int = DEFAULT_HEADER_PAGES
    inject_headers: list[str] = field(default_factory=list)
    """More request headers to test on every page (an application's own, e.g. X-Dept-Id)."""
    allow_destructive: bool = False
    login_url: str | None = None
    username: str | None = None
    password: str | None = None
    cookie: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    allow: Allow = field(default=lambda _id, safety: safety is not Safety.DOS)
    check_options: dict[str, Any] = field(default_factory=dict)
    excluded_paths: list[str] = field(default_factory=list)


@dataclass
class WebScanOutcome:
    """What the scan did and found."""

    target: str
    crawl: CrawlResult
    issues: list[WebIssue]
    requests: int
    seconds: float
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)
    checks_run: list[str] = field(default_factory=list)
    tested_points: int = 0
    authenticated: bool = False

    @property
    def pages(self) -> int:
        """Pages fetched by the crawl."""
        return len(self.crawl.pages)


class WebScanner:
    """Runs the phases of one web scan (see the module docstring)."""

    def __init__(
        self,
        ctx: CheckContext,
        target: str,
        options: WebScanOptions | None = None,
        *,
        callback: Callback | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.options = options or WebScanOptions()
        self.target = normalise(target)
        load_checks()
        scope = WebScope.for_start(self.target, excluded=self.options.excluded_paths)
        self.client = WebClient(
            ctx,
            scope,
            budget=Budget(self.options.max_requests, self.options.max_seconds),
            timeout=self.options.timeout,
            extra_headers=self.options.headers,
        )
        self.state = ScanState(
            client=self.client,
            sink=IssueSink(),
            callback=callback,
            options=dict(self.options.check_options),
        )
        self.progress = progress
        self.errors: list[str] = []
        self.stopped: str | None = None
        self._errors_lock = threading.Lock()
        self.login: FormLogin | None = None
        self.checks_run: set[str] = set()
        self.tested_points = 0
        self._seen: set[tuple[str, str]] = set()
        self._attacking = False
        self._passive_chosen: list[PassiveCheck] | None = None
        self._cookies_seen: dict[str, str] = {}
        self._session_cookies: set[str] = set()
        self._cookie_lock = threading.Lock()
        self.client.observers.append(self._remember_cookies)
        # Every response (login, crawl, site probes; payload answers for the checks that
        # want them) passes the passive checks.
        self.client.observers.append(self._passive)

    # ------------------------------------------------------------------ helpers
    def _error(self, text: str) -> None:
        with self._errors_lock:
            if len(self.errors) < 200:
                self.errors.append(text[:500])

    def _report(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)

    def _add(
        self, issues: Iterator[WebIssue], check_id: str, base: WebRequest | None = None
    ) -> None:
        try:
            for issue in issues:
                issue.extra.setdefault("check", check_id)
                # What a retest needs: the unmodified request (secrets left out) and
                # whether the scan was logged in.
                issue.extra.setdefault("authenticated", self.state.authenticated)
                if base is not None:
                    issue.extra.setdefault("base_request", retest_request(base))
                self.state.sink.add(issue)
        except BudgetExhausted as exc:
            self.stopped = self.stopped or str(exc)
        except (HttpError, OutOfScope, ScopeRefused, OSError) as exc:
            self._error(f"{check_id}: {exc}")

    def _passive(self, response: WebResponse) -> None:
        # Chosen once per scan: this runs for every response.
        if self._passive_chosen is None:
            self._passive_chosen = self._allowed(passive_checks())
        checks = self._passive_chosen
        if self._attacking:
            checks = [c for c in checks if c.on_attacks]
        for check in checks:
            try:
                self._add(check.observe(response, self.state), check.id)
            except Exception as exc:  # noqa: BLE001 - one faulty check must not end the scan
                self._error(f"{check.id}: {type(exc).__name__}: {exc}")

    def _allowed(self, checks: list[Any]) -> list[Any]:
        chosen = [c for c in checks if self.options.allow(c.id, c.safety)]
        self.checks_run.update(c.id for c in chosen)
        return chosen

    # ------------------------------------------------------------------ phases
    def _authenticate(self) -> None:
        options = self.options
        if options.cookie:
            self.client.cookies.load(self.target, options.cookie)
            self._session_cookies = self.client.cookies.names(self.target)
            self.state.authenticated = True
        if options.login_url and options.username is not None and options.password is not None:
            self.login = FormLogin(
                self.client, options.login_url, options.username, options.password
            )
            self.login.login()  # LoginFailed reaches the caller: a scan without it is useless
            self._session_cookies = self.client.cookies.names(self.target)
            self.state.authenticated = True
            self.state.login_url = options.login_url
            self.state.relogin = self.login.login
        elif options.headers:
            self.state.authenticated = any(k.lower() == "authorization" for k, _ in options.headers)

    def _retry(self, response: WebResponse) -> bool:
        return self.login is not None and self.login.retry(response)

    def crawl(self) -> CrawlResult:
        """Crawl with the passive checks watching every response."""
        crawl_options = CrawlOptions(
            max_pages=self.options.max_pages,
            max_depth=self.options.max_depth,
            per_pattern=self.options.per_pattern,
            workers=self.options.workers,
            allow_destructive=self.options.allow_destructive,
        )
        crawler = Crawler(self.client, crawl_options, retry=self._retry)
        if self.options.login_url:
            # Logging in is done; the crawler must not post the login form again.
            crawler.offer(WebRequest("GET", self.options.login_url), 0)
        result = crawler.crawl(self.target)
        self.state.crawl = result
        if result.stopped:
            self.stopped = self.stopped or result.stopped
        return result

    def run_site_checks(self) -> None:
        """Each site check once per crawled origin."""
        sites = sorted({origin(p.url) for p in self.state.crawl.pages} or {origin(self.target)})
        checks: list[SiteCheck] = self._allowed(site_checks())
        total = len(sites) * len(checks)
        done = 0
        for base in sites:
            for check in checks:
                if self.stopped:
                    return
                try:
                    self._add(check.run(base, self.state), check.id)
                except Exception as exc:  # noqa: BLE001 - one faulty check must not end the scan
                    self._error(f"{check.id}: {type(exc).__name__}: {exc}")
                done += 1
                self._report("site", done, total)

    def _with_seen_cookies(self, request: WebRequest) -> WebRequest:
        """``request`` carrying every cookie the site has set during the scan (a login
        again empties the jar; the application still reads the others), except the
        session cookies of the login."""
        prepared = self.client.prepare(request)
        present = {name for name, _ in prepared.cookies()}
        with self._cookie_lock:
            extra = [
                (name, value)
                for name, value in self._cookies_seen.items()
                if name not in present and name not in self._session_cookies
            ]
        if not extra:
            return prepared
        pairs = prepared.cookies() + extra
        return prepared.with_header("Cookie", "; ".join(f"{k}={v}" for k, v in pairs))

    def _remember_cookies(self, response: WebResponse) -> None:
        if self._attacking:
            return  # answers to payloads may set cookies from the injected values
        for line in response.header_values("set-cookie"):
            first, _, attributes = line.partition(";")
            name, sep, value = first.partition("=")
            deleted = re.search(r"(?i)max-age\s*=\s*0|expires\s*=\s*thu, 01 jan 1970", attributes)
            if sep and name.strip() and not deleted:
                with self._cookie_lock:
                    if len(self._cookies_seen) < MAX_REMEMBERED_COOKIES:
                        # A DQUOTE-wrapped value (RFC 6265 cookie-value) is tested by its
                        # content: payloads go after the text, not after the closing quote.
                        self._cookies_seen.setdefault(name.strip(), value.strip().strip('"'))

    def _work(self) -> list[tuple[WebRequest, list[Any], bool]]:
        """(request, insertion points, screened) to test: every parameter of the surface,
        and the cookies and headers of every distinct page — fully on the first
        ``header_pages`` pages, after a relevance screen (:meth:`_relevant`) on the rest."""
        work: list[tuple[WebRequest, list[Any], bool]] = []
        full_budget = self.options.header_pages
        seen_patterns: set[str] = set()
        surface = list(self.state.crawl.surface)
        requests = surface + [
            WebRequest(page.method, page.url)
            for page in self.state.crawl.pages
            if page.method == "GET" and page.status < 400 and "html" in page.content_type
        ]
        for request in requests:
            prepared = self._with_seen_cookies(request)
            family = pattern(request.method, request.url)
            with_headers = family not in seen_patterns
            seen_patterns.add(family)
            points = [
                p
                for p in insertion_points(
                    prepared, headers=with_headers, extra_headers=self.options.inject_headers
                )
                if with_headers or p.location not in (Location.COOKIE, Location.HEADER)
                if not (p.location is Location.COOKIE and p.name in self._session_cookies)
            ]
            fresh = [p for p in points if not self._seen_point(request, p)]
            if not fresh:
                continue
            parameters = [p for p in fresh if p.location not in (Location.COOKIE, Location.HEADER)]
            context = [p for p in fresh if p.location in (Location.COOKIE, Location.HEADER)]
            if parameters:
                work.append((prepared, parameters, False))
            if context:
                screened = full_budget <= 0
                full_budget -= 1
                work.append((prepared, context, screened))
        return work

    def _seen_point(self, request: WebRequest, point: Any) -> bool:
        names = tuple(name for name, _ in request.form())
        key = (pattern(request.method, request.url, names), point.label())
        if key in self._seen:
            return True
        self._seen.add(key)
        return False

    def _relevant(self, probe: Probe) -> bool:
        """Whether the page reacts to the parameter at all: the answer with quote and
        bracket characters appended differs from the unmodified one. A page that ignores a
        cookie or header gets no payloads for it (blind time-based injection in such a
        parameter is only found on the first ``header_pages`` pages, which are not
        screened)."""
        baseline = probe.baseline()
        changed = probe.send(SCREEN_PAYLOAD, append=True)
        return (changed.status, changed.body) != (baseline.status, baseline.body)

    def _test_point(
        self, request: WebRequest, point: Any, checks: list[PointCheck], screened: bool
    ) -> None:
        probe = Probe(self.state, request, point)
        try:
            if screened and not self._relevant(probe):
                return
        except BudgetExhausted as exc:
            self.stopped = self.stopped or str(exc)
            return
        except (HttpError, OutOfScope, ScopeRefused, OSError) as exc:
            self._error(f"screen {point.label()} {request.describe()}: {exc}")
            return
        for check in checks:
            if self.stopped or self.client.ctx.should_stop():
                return
            if any(
                self.state.sink.has(kind, request.method, request.url, point.label())
                for kind in check.kinds
            ):
                continue
            try:
                if check.applies(probe):
                    self._add(check.test(probe), check.id, base=request)
            except BudgetExhausted as exc:
                self.stopped = self.stopped or str(exc)
                return
            except (HttpError, OutOfScope, ScopeRefused, OSError) as exc:
                self._error(f"{check.id} {point.label()} {request.describe()}: {exc}")
            except Exception as exc:  # noqa: BLE001 - one faulty check must not end the scan
                self._error(f"{check.id}: {type(exc).__name__}: {exc}")

    def run_point_checks(self) -> None:
        """Every allowed parameter check on every insertion point of the surface."""
        checks: list[PointCheck] = self._allowed(point_checks())
        if not checks:
            return
        self._attacking = True
        tasks = [
            (request, point, screened)
            for request, points, screened in self._work()
            for point in points
        ]
        self.tested_points = len(tasks)
        done = 0
        lock = threading.Lock()

        def run(task: tuple[WebRequest, Any, bool]) -> None:
            nonlocal done
            self._test_point(task[0], task[1], checks, task[2])
            with lock:
                done += 1
                self._report("active", done, len(tasks))

        with ThreadPoolExecutor(max_workers=max(1, self.options.workers)) as pool:
            list(pool.map(run, tasks))

    def run_stored_sweep(self) -> None:
        """Look for stored canaries (stored XSS) on the crawled pages."""
        if not self.state.stored_canaries or self.stopped:
            return
        try:
            module = importlib.import_module(f"{checks_package.__name__}.xss")
        except ModuleNotFoundError:
            return
        finder = getattr(module, "find_stored", None)
        if finder is None:
            return
        pages = [p.url for p in self.state.crawl.pages if p.method == "GET"]
        try:
            self._add(finder(self.state, pages), "web.xss-stored")
        except BudgetExhausted as exc:
            self.stopped = self.stopped or str(exc)

    def run(self) -> WebScanOutcome:
        """All phases; returns the outcome (issues most severe first)."""
        started = time.monotonic()
        try:
            self._authenticate()
            self.crawl()
            self.run_site_checks()
            self.run_point_checks()
            self.run_stored_sweep()
        finally:
            self.client.close()
        return WebScanOutcome(
            target=self.target,
            crawl=self.state.crawl,
            issues=self.state.sink.issues(),
            requests=self.client.requests,
            seconds=time.monotonic() - started,
            stopped=self.stopped,
            errors=[*self.state.crawl.errors, *self.errors],
            checks_run=sorted(self.checks_run),
            tested_points=self.tested_points,
            authenticated=self.state.authenticated,
        )


__all__ = [
    "LoginFailed",
    "PassiveCheck",
    "WebScanOptions",
    "WebScanOutcome",
    "WebScanner",
    "load_checks",
]
