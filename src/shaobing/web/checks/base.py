"""The three kinds of web check and what the scan hands each of them.

* :class:`PassiveCheck` looks at every response the scan receives (crawl and attacks
  alike) and never sends anything (safety class passive).
* :class:`SiteCheck` runs once per site: probes for files, methods, CORS, TLS, login
  forms. Its safety class says whether it only reads (passive) or tries things (active).
* :class:`PointCheck` tests one parameter (:class:`~shaobing.web.request.InsertionPoint`)
  of one request with payloads through a :class:`Probe` (safety class active).

Checks register themselves with :func:`register`; a policy selects them by id.
"""

from __future__ import annotations

import re
import secrets
import statistics
import string
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from shaobing.scan.checks import Safety
from shaobing.web.client import WebClient, WebResponse
from shaobing.web.crawler import CrawlResult
from shaobing.web.html import Form
from shaobing.web.issues import IssueSink, WebIssue
from shaobing.web.request import InsertionPoint, WebRequest

_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


def canary(prefix: str = "sb") -> str:
    """A unique marker (letters and digits only, so no encoding changes it)."""
    return prefix + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(10))


class Callback:
    """A way for the target to reach the scanner (SSRF, RFI, blind injections): a URL
    prefix the target can fetch, and a wait for the requests it makes. Supplied by the
    scan when an out-of-band listener is available; checks that need it skip without."""

    def url(self, token: str) -> str:
        """An http URL that, when fetched, is recorded under ``token``."""
        raise NotImplementedError

    def body_for(self, token: str) -> str:
        """The text the listener serves at :meth:`url` (so inclusion can be seen)."""
        raise NotImplementedError

    def wait(self, token: str, timeout: float) -> list[str]:
        """Requests received for ``token`` (raw text), waiting up to ``timeout`` seconds."""
        raise NotImplementedError


@dataclass
class ScanState:
    """What every check may read: the client, the crawl, the issue sink, the login."""

    client: WebClient
    sink: IssueSink
    crawl: CrawlResult = field(default_factory=CrawlResult)
    callback: Callback | None = None
    login_url: str | None = None
    authenticated: bool = False
    options: dict[str, object] = field(default_factory=dict)
    relogin: Callable[[], bool] | None = None
    stored_canaries: dict[str, tuple[WebRequest, InsertionPoint]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remember_canary(self, token: str, request: WebRequest, point: InsertionPoint) -> None:
        """Note a canary sent in ``point`` (stored XSS looks for it on other pages later)."""
        with self._lock:
            self.stored_canaries[token] = (request, point)

    def forms(self) -> list[Form]:
        """Forms found by the crawl."""
        return list(self.crawl.forms)


class Probe:
    """One parameter of one request, with its baseline response and timing statistics."""

    def __init__(self, state: ScanState, request: WebRequest, point: InsertionPoint) -> None:
        self.state = state
        self.request = request
        self.point = point
        self._baseline: WebResponse | None = None
        self._samples: list[WebResponse] = []
        self._timings: list[float] = []

    @property
    def client(self) -> WebClient:
        """The scan's client."""
        return self.state.client

    def baseline(self) -> WebResponse:
        """The unmodified request's response (fetched once)."""
        if self._baseline is None:
            self._baseline = self.client.send(self.request)
            self._samples.append(self._baseline)
            self._timings.append(self._baseline.duration)
        return self._baseline

    def baselines(self, count: int) -> list[WebResponse]:
        """At least ``count`` responses of the unmodified request, the first being
        :meth:`baseline` (more are sent as needed; their durations join the timing sample,
        so a page's stability check and its latency bound share requests)."""
        self.baseline()
        while len(self._samples) < count:
            response = self.client.send(self.request)
            self._samples.append(response)
            self._timings.append(response.duration)
        return list(self._samples)

    def send(
        self, payload: str, *, append: bool = False, timeout: float | None = None
    ) -> WebResponse:
        """The response to the request with ``payload`` in this parameter."""
        mutated = self.point.inject(self.request, payload, append=append)
        return self.client.send(mutated, timeout=timeout)

    def mutated(self, payload: str, *, append: bool = False) -> WebRequest:
        """The request with ``payload`` in this parameter (not sent)."""
        return self.point.inject(self.request, payload, append=append)

    def timing_sample(self, count: int) -> list[float]:
        """At least ``count`` durations of the unmodified request (more are sent as needed)."""
        self.baselines(count)
        return list(self._timings)

    def latency_bound(self, count: int = 3) -> float:
        """A generous upper bound of normal latency: mean + 4 standard deviations (at least
        the slowest sample), from ``count`` baseline requests."""
        sample = self.timing_sample(count)
        spread = statistics.pstdev(sample) if len(sample) > 1 else 0.0
        return max(*sample, statistics.fmean(sample) + 4 * spread)

    def issue(
        self, kind: str, detail: str, response: WebResponse | None, **extra: object
    ) -> WebIssue:
        """An issue on this parameter with ``response`` (and its request) as evidence."""
        request = response.request if response is not None else self.request
        return WebIssue(
            kind=kind,
            url=self.request.url,
            method=self.request.method,
            parameter=self.point.label(),
            detail=detail,
            request=request,
            response=response,
            extra=dict(extra),
        )


class PassiveCheck(ABC):
    """Looks at responses; sends nothing."""

    id: ClassVar[str]
    safety: ClassVar[Safety] = Safety.PASSIVE
    kinds: ClassVar[tuple[str, ...]] = ()
    """Finding classes this check can report (a complete re-scan closes only these)."""
    on_attacks: ClassVar[bool] = False
    """Also look at the responses to payloads (e.g. an error page a bad value provokes);
    most passive checks only need the pages as crawled."""

    @abstractmethod
    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        """Issues visible in ``response``."""


class SiteCheck(ABC):
    """Runs once per site after the crawl."""

    id: ClassVar[str]
    safety: ClassVar[Safety]
    kinds: ClassVar[tuple[str, ...]] = ()
    """Finding classes this check can report (a complete re-scan closes only these)."""

    @abstractmethod
    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """Issues of the site at ``base`` (``scheme://host:port``)."""


class PointCheck(ABC):
    """Tests one parameter with payloads."""

    id: ClassVar[str]
    safety: ClassVar[Safety] = Safety.ACTIVE
    kinds: ClassVar[tuple[str, ...]] = ()
    """Finding classes this check can report (it stops once one is found for a parameter)."""

    def applies(self, probe: Probe) -> bool:
        """Whether to test this parameter (default: every parameter)."""
        return True

    @abstractmethod
    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """Issues proved on the probe's parameter."""


_PASSIVE: dict[str, PassiveCheck] = {}
_SITE: dict[str, SiteCheck] = {}
_POINT: dict[str, PointCheck] = {}


def register(check: PassiveCheck | SiteCheck | PointCheck) -> None:
    """Make ``check`` available to scans (ids are unique across kinds)."""
    if check.id in _PASSIVE or check.id in _SITE or check.id in _POINT:
        raise ValueError(f"web check {check.id} registered twice")
    if isinstance(check, PassiveCheck):
        _PASSIVE[check.id] = check
    elif isinstance(check, SiteCheck):
        _SITE[check.id] = check
    else:
        _POINT[check.id] = check


def unregister(check_id: str) -> None:
    """Remove a check (tests that register their own)."""
    for table in (_PASSIVE, _SITE, _POINT):
        table.pop(check_id, None)


def passive_checks() -> list[PassiveCheck]:
    """Registered passive checks."""
    return list(_PASSIVE.values())


def site_checks() -> list[SiteCheck]:
    """Registered site checks."""
    return list(_SITE.values())


def point_checks() -> list[PointCheck]:
    """Registered parameter checks."""
    return list(_POINT.values())


def all_check_ids() -> list[str]:
    """Every registered check id."""
    return sorted([*_PASSIVE, *_SITE, *_POINT])


_WORDS = re.compile(r"\w+", re.UNICODE)


def similarity(first: str, second: str) -> float:
    """How alike two pages are, 0..1: Jaccard similarity of their word multisets' sets
    (robust to reordering and cheap on large pages)."""
    if first == second:
        return 1.0
    a = set(_WORDS.findall(first[:200_000]))
    b = set(_WORDS.findall(second[:200_000]))
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
