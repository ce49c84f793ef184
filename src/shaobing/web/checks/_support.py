"""Helpers shared by the site, TLS and login checks: policy options, sends that survive a
single failed request, directories seen by the crawl, and the data files they read.

Not a check module (it registers nothing); the scanner imports it with the others.
"""

from __future__ import annotations

import fnmatch
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from shaobing.core.scope import ScopeRefused
from shaobing.web.checks.base import ScanState
from shaobing.web.client import HttpError, OutOfScope, WebResponse
from shaobing.web.request import WebRequest
from shaobing.web.urls import UrlError, origin

# What one probe may fail with without ending its check: the target refused or reset the
# connection, the URL left the web scope, the engagement scope refused the address.
# BudgetExhausted is deliberately absent: it must reach the scanner and stop the phase.
PROBE_ERRORS = (HttpError, OutOfScope, ScopeRefused, OSError)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# How much of a header value or a list a finding quotes in its text, and keeps in its
# extra fields (organisation-defined: enough to recognise the value, short to read).
QUOTE_CHARS = 100
KEEP_CHARS = 200
QUOTE_ITEMS = 10
KEEP_ITEMS = 200
# Upper bound of every count option (organisation-defined sanity limit: a typo such as
# 1000000 must not turn a check into a flood).
OPTION_MAX = 10_000


@cache
def load_data(name: str) -> Any:
    """A YAML data file of ``shaobing.web`` (``data/<name>``), parsed once."""
    text = files("shaobing.web").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - the C safe loader


def option(
    state: ScanState, check_id: str, name: str, default: int, low: int, high: int = OPTION_MAX
) -> int:
    """An integer option of ``check_id``: from a policy entry whose pattern matches the id
    (``"web.*": {name: …}``; more specific patterns win), else the flat ``webscan`` option
    ``name``, else ``default``. Raises ValueError (in Chinese) for a value out of range."""
    value: Any = state.options.get(name, default)
    patterns: dict[str, dict[str, Any]] = {
        k: v for k, v in state.options.items() if isinstance(v, dict) and k.startswith("web")
    }
    for pattern in sorted(patterns, key=lambda p: (p.count("*"), -len(p)), reverse=True):
        if fnmatch.fnmatchcase(check_id, pattern) and name in patterns[pattern]:
            value = patterns[pattern][name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(
            f"检查项 {check_id} 的参数 {name} 取值 {value!r} 无效（应为 {low}–{high}）"
        )
    return value


def try_send(state: ScanState, request: WebRequest, **kwargs: Any) -> WebResponse | None:
    """``state.client.send(request, **kwargs)``; None when this one request failed."""
    try:
        return state.client.send(request, **kwargs)
    except PROBE_ERRORS:
        return None


def scope_root(state: ScanState, base: str) -> str:
    """The first URL of the web scope on ``base`` (``http://host:port/prefix/``)."""
    return base.rstrip("/") + state.client.scope.path_prefix


def same_origin(url: str, base: str) -> bool:
    """Whether ``url`` is on the site ``base``."""
    try:
        return origin(url) == origin(base)
    except UrlError:
        return False


def crawled_directories(state: ScanState, base: str, limit: int) -> list[str]:
    """Directories (URLs ending in ``/``) of the pages the crawl fetched on ``base``, inside
    the web scope, shallowest first, at most ``limit``. The scope root is not included."""
    root = scope_root(state, base)
    found: dict[str, int] = {}
    for page in state.crawl.pages:
        if not same_origin(page.url, base):
            continue
        parts = urlsplit(page.url)
        segments = parts.path.split("/")[1:-1]
        for depth in range(1, len(segments) + 1):
            path = "/" + "/".join(segments[:depth]) + "/"
            url = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
            if url != root and state.client.scope.allows(url):
                found.setdefault(url, depth)
    ordered = sorted(found, key=lambda u: (found[u], u))
    return ordered[:limit]


def crawled_urls(state: ScanState, base: str) -> list[str]:
    """GET pages of ``base`` the crawl fetched (in crawl order, without repeats)."""
    return list(
        dict.fromkeys(
            p.url for p in state.crawl.pages if p.method == "GET" and same_origin(p.url, base)
        )
    )
