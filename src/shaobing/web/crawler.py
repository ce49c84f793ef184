"""The crawler: finds the pages and the requests with parameters of a web application.

Sources: the start URL, ``robots.txt`` (its Allow/Disallow paths reveal pages) and
``sitemap.xml`` (and sitemap indexes), links and frames, forms (submitted with harmless
sample values), URLs in inline and external JavaScript and ``<meta refresh>``. Limits: the
web scope (origin and path prefix), a depth, a page budget, the client's request and time
budgets, and at most ``per_pattern`` visits of one URL pattern (``/news?id=1`` … ``=500``
are one pattern). Links and forms that look destructive (删除, logout, drop, …) are
recorded but never followed or submitted unless allowed.

The result is the list of pages and the *attack surface*: one request per pattern that
carries parameters (query, form or JSON body), which the active checks then test.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from defusedxml import ElementTree  # type: ignore[import-untyped, unused-ignore]
from defusedxml.common import DefusedXmlException  # type: ignore[import-untyped, unused-ignore]

from shaobing.core.scope import ScopeRefused
from shaobing.web.client import BudgetExhausted, HttpError, OutOfScope, WebClient, WebResponse
from shaobing.web.forms import form_request, is_destructive, sample_value
from shaobing.web.html import Form, FormField, is_static, parse_page, script_urls
from shaobing.web.request import WebRequest, insertion_points
from shaobing.web.urls import UrlError, normalise, pattern

# Organisation-defined defaults (a typical government portal section fits; every one is
# a command-line option).
DEFAULT_MAX_PAGES = 500
DEFAULT_MAX_DEPTH = 10
DEFAULT_PER_PATTERN = 3
DEFAULT_WORKERS = 4
# Sitemaps: most bytes parsed and most nested sitemap files followed.
MAX_SITEMAP_BYTES = 5 * 2**20
MAX_SITEMAPS = 20
# Requests repeated after logging in again (organisation-defined).
MAX_SESSION_RETRIES = 3
_ROBOTS_LINE = re.compile(r"(?im)^\s*(allow|disallow|sitemap)\s*:\s*(\S+)")
_JSON_BODY = re.compile(
    r"""(?xs)
    (?:fetch|axios\.post|axios\.put|\$\.ajax|\$\.post)\s*\(\s*(?P<q>['"`])(?P<url>[^'"`]+)(?P=q)
    (?P<rest>(?:(?!fetch\s*\(|axios\.|\$\.ajax|\$\.post).){0,600}?)JSON\.stringify\s*\(\s*\{(?P<body>[^{}]{0,500})\}
    """
)
_JSON_KEY = re.compile(r"""(?:^|,)\s*['"]?([A-Za-z_][A-Za-z0-9_]{0,40})['"]?\s*:\s*([^,]+)""")


@dataclass
class CrawlOptions:
    """Budgets and switches of one crawl."""

    max_pages: int = DEFAULT_MAX_PAGES
    max_depth: int = DEFAULT_MAX_DEPTH
    per_pattern: int = DEFAULT_PER_PATTERN
    workers: int = DEFAULT_WORKERS
    allow_destructive: bool = False
    robots: bool = True
    sitemap: bool = True


@dataclass
class CrawledPage:
    """One fetched URL."""

    url: str
    method: str
    status: int
    content_type: str
    title: str
    depth: int
    size: int


@dataclass
class CrawlResult:
    """Pages, the attack surface and what was left alone."""

    pages: list[CrawledPage] = field(default_factory=list)
    surface: list[WebRequest] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    skipped_destructive: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class _Item:
    request: WebRequest
    depth: int
    kind: str = "page"  # page | script | sitemap | robots


def _robots_paths(base: str, text: str) -> tuple[list[str], list[str]]:
    """(page URLs, sitemap URLs) named by a robots.txt."""
    pages: list[str] = []
    sitemaps: list[str] = []
    for kind, value in _ROBOTS_LINE.findall(text[:200_000]):
        if kind.lower() == "sitemap":
            sitemaps.append(urljoin(base, value))
            continue
        path = value.split("*", 1)[0].rstrip("$")
        if path and path != "/":
            pages.append(urljoin(base, path))
    return pages, sitemaps


def _sitemap_urls(body: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) of a sitemap or sitemap index."""
    if len(body) > MAX_SITEMAP_BYTES:
        body = body[:MAX_SITEMAP_BYTES]
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        return [], []
    pages: list[str] = []
    nested: list[str] = []
    is_index = root.tag.lower().endswith("sitemapindex")
    for element in root.iter():
        if element.tag.lower().endswith("loc") and element.text:
            (nested if is_index else pages).append(element.text.strip())
    return pages, nested


def _join(base: str, url: str) -> str:
    try:
        return urljoin(base, url)
    except ValueError:
        return url


def _sample_for_key(key: str) -> object:
    """Sample for a JSON key whose value the script computes: a number for ids, an empty
    string for search terms (an empty search lists everything, so the page has content to
    compare), else what a form field of that name would get."""
    value = sample_value(FormField(key, "text"))
    return int(value) if value.isdigit() else value


def json_requests(base: str, script: str) -> list[WebRequest]:
    """JSON API calls written in JavaScript as ``fetch(url, {..., body:
    JSON.stringify({k: v})})``: the request with sample values for the keys."""
    found: list[WebRequest] = []
    for match in _JSON_BODY.finditer(script[:2_000_000]):
        rest = match.group("rest")
        method = "PUT" if re.search(r"(?i)['\"]PUT['\"]|axios\.put", rest) else "POST"
        keys: dict[str, object] = {}
        for key, literal in _JSON_KEY.findall(match.group("body")):
            raw = literal.strip()
            if raw.isdigit():
                keys[key] = int(raw)
            elif raw[:1] in "'\"`":
                keys[key] = raw.strip("'\"` ") or "test"
            else:
                # A variable of the page's script: a harmless sample that fits the key.
                keys[key] = _sample_for_key(key)
        try:
            url = urljoin(base, match.group("url"))
        except ValueError:
            continue
        body = json.dumps(keys, ensure_ascii=False).encode()
        found.append(WebRequest(method, url, (("Content-Type", "application/json"),), body))
    return found


class Crawler:
    """Breadth-first crawl with a small pool of workers (see the module docstring)."""

    def __init__(
        self,
        client: WebClient,
        options: CrawlOptions | None = None,
        *,
        on_response: Callable[[WebResponse], None] | None = None,
        retry: Callable[[WebResponse], bool] | None = None,
    ) -> None:
        self.client = client
        self.options = options or CrawlOptions()
        self.on_response = on_response
        self.retry = retry
        self.result = CrawlResult()
        self._queue: deque[_Item] = deque()
        self._seen: set[tuple[str, str, bytes]] = set()
        self._patterns: Counter[str] = Counter()
        self._surface_patterns: set[str] = set()
        self._form_keys: set[str] = set()
        self._pages_offered = 0

    # ------------------------------------------------------------------ queueing
    def offer(
        self, request: WebRequest, depth: int, *, kind: str = "page", label: str = ""
    ) -> None:
        """Queue ``request`` when it is new, in scope, within budgets and harmless."""
        try:
            url = normalise(request.url)
        except UrlError:
            return
        request = WebRequest(request.method, url, request.headers, request.body)
        if depth > self.options.max_depth or not self.client.scope.allows(url):
            return
        if kind == "page" and is_static(url):
            return
        if not self.options.allow_destructive and is_destructive(
            urlsplit(url).path, urlsplit(url).query, label
        ):
            if url not in self.result.skipped_destructive:
                self.result.skipped_destructive.append(url)
            return
        key = request.key()
        if key in self._seen:
            return
        names = tuple(name for name, _ in request.form())
        family = pattern(request.method, url, names)
        if kind == "page":
            if self._patterns[family] >= self.options.per_pattern:
                return
            if self._pages_offered >= self.options.max_pages:
                return
            self._patterns[family] += 1
            self._pages_offered += 1
        self._seen.add(key)
        self._queue.append(_Item(request, depth, kind))

    def _add_surface(self, request: WebRequest) -> None:
        points = [
            p for p in insertion_points(request, headers=False) if p.location.value != "cookie"
        ]
        if not points:
            return
        names = tuple(sorted({p.name for p in points}))
        family = pattern(request.method, request.url, names)
        if family not in self._surface_patterns:
            self._surface_patterns.add(family)
            self.result.surface.append(request)

    # ------------------------------------------------------------------ fetching
    def _fetch(self, item: _Item) -> WebResponse | None:
        response = self.client.send(item.request, follow=True)
        # Other workers may use up a fresh session at once: retry a few times.
        for _ in range(MAX_SESSION_RETRIES):
            if self.retry is None or not self.retry(response):
                break
            response = self.client.send(item.request, follow=True)
        return response

    def _handle(self, item: _Item, response: WebResponse) -> None:
        if self.on_response is not None:
            self.on_response(response)
        depth = item.depth + 1
        if item.kind == "robots":
            if response.status == 200:
                pages, sitemaps = _robots_paths(response.url, response.text)
                for url in pages:
                    self.offer(WebRequest("GET", url), 1)
                for url in sitemaps[:MAX_SITEMAPS]:
                    self.offer(WebRequest("GET", url), 0, kind="sitemap")
            return
        if item.kind == "sitemap":
            if response.status == 200:
                pages, nested = _sitemap_urls(response.body)
                # Sitemaps must use absolute URLs; relative ones are still resolved.
                for url in pages:
                    self.offer(WebRequest("GET", _join(response.url, url)), 1)
                for url in nested[:MAX_SITEMAPS]:
                    self.offer(WebRequest("GET", _join(response.url, url)), 0, kind="sitemap")
            return
        if item.kind == "script":
            for url in script_urls(response.url, response.text):
                self.offer(WebRequest("GET", url), depth)
            for request in json_requests(response.url, response.text):
                self._offer_api(request, depth)
            return
        self.result.pages.append(
            CrawledPage(
                url=item.request.url,
                method=item.request.method,
                status=response.status,
                content_type=response.content_type,
                title="",
                depth=item.depth,
                size=len(response.body),
            )
        )
        self._add_surface(item.request)
        for previous in response.history[1:]:
            self.offer(WebRequest("GET", previous), depth)
        if response.url != item.request.url:
            self.offer(WebRequest("GET", response.url), depth)
        if not response.is_html and "javascript" not in response.content_type:
            return
        page = parse_page(response.url, response.text)
        self.result.pages[-1].title = page.title
        for url in page.links:
            self.offer(WebRequest("GET", url), depth, label=page.link_texts.get(url, ""))
        for url in page.scripts:
            self.offer(WebRequest("GET", url), depth, kind="script")
        for script in page.inline_scripts:
            for request in json_requests(response.url, script):
                self._offer_api(request, depth)
        for form in page.forms:
            self._offer_form(form, depth)

    def _offer_api(self, request: WebRequest, depth: int) -> None:
        if self.client.scope.allows(request.url) and not is_destructive(request.url):
            self._add_surface(request)
            self.offer(request, depth, kind="page")

    def _offer_form(self, form: Form, depth: int) -> None:
        key = f"{form.method} {form.action} {sorted(f.name for f in form.fields)}"
        if key in self._form_keys:
            return
        self._form_keys.add(key)
        if not self.options.allow_destructive and is_destructive(form.text()):
            if form.action not in self.result.skipped_destructive:
                self.result.skipped_destructive.append(form.action)
            return
        self.result.forms.append(form)
        request = form_request(form)
        if request is None or not self.client.scope.allows(request.url):
            return
        # Into the surface when fetched, like links: a link's real value (?keyword=指南)
        # then comes before the form's sample value for the same parameter.
        self.offer(request, depth, label=" ".join(form.submit_labels))

    # ------------------------------------------------------------------ running
    def crawl(self, start: str) -> CrawlResult:
        """Crawl from ``start``; returns the pages, the surface and what was skipped."""
        started = time.monotonic()
        self.offer(WebRequest("GET", start), 0)
        root = f"{urlsplit(start).scheme}://{urlsplit(start).netloc}"
        if self.options.robots:
            self.offer(WebRequest("GET", root + "/robots.txt"), 0, kind="robots")
        if self.options.sitemap:
            self.offer(WebRequest("GET", root + "/sitemap.xml"), 0, kind="sitemap")
        with ThreadPoolExecutor(max_workers=max(1, self.options.workers)) as pool:
            running: dict[Future[WebResponse | None], _Item] = {}
            while self._queue or running:
                while (
                    self._queue and len(running) < self.options.workers and not self.result.stopped
                ):
                    item = self._queue.popleft()
                    running[pool.submit(self._fetch, item)] = item
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    item = running.pop(future)
                    self._collect(item, future)
        self.result.seconds = time.monotonic() - started
        return self.result

    def _collect(self, item: _Item, future: Future[WebResponse | None]) -> None:
        try:
            response = future.result()
        except BudgetExhausted as exc:
            self.result.stopped = str(exc)
            self._queue.clear()
            return
        except (HttpError, OutOfScope, ScopeRefused, OSError) as exc:
            if len(self.result.errors) < 200:
                self.result.errors.append(f"{item.request.describe()}: {exc}")
            return
        if response is not None:
            self._handle(item, response)
