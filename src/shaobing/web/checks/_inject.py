"""Helpers shared by the injection checks (XSS, traversal, SSRF/RFI, open redirect, SSI,
command injection, SSTI, CRLF): sends that survive one failed request, what counts as a
page a browser renders as HTML, and how a parameter is named in Chinese details.

Not a check module (it registers nothing); the scanner imports it with the others.
"""

from __future__ import annotations

from shaobing.web.checks._support import PROBE_ERRORS
from shaobing.web.checks.base import Probe
from shaobing.web.client import WebResponse
from shaobing.web.request import InsertionPoint, Location

_LOCATION_NAMES = {
    Location.QUERY: "URL 参数",
    Location.FORM: "表单字段",
    Location.JSON: "JSON 字段",
    Location.COOKIE: "Cookie",
    Location.HEADER: "请求头",
    Location.PATH: "路径段",
}
# Media types a browser renders as an HTML document (other XML types need namespaced
# markup, which the HTML analysis of these checks does not model: left out, no guess).
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def send(
    probe: Probe, payload: str, *, append: bool = False, timeout: float | None = None
) -> WebResponse | None:
    """The response to ``payload`` in the probe's parameter; None when this one request
    failed (connection reset, timeout, refused): a single failure proves nothing either
    way. BudgetExhausted still reaches the scanner."""
    try:
        return probe.send(payload, append=append, timeout=timeout)
    except PROBE_ERRORS:
        return None


def baseline(probe: Probe) -> WebResponse | None:
    """The unmodified request's response, or None when it cannot be fetched."""
    try:
        return probe.baseline()
    except PROBE_ERRORS:
        return None


def renders_html(response: WebResponse) -> bool:
    """Whether a browser would render ``response`` as markup (declared HTML/XHTML, or
    no declared type at all — browsers then sniff, and a reflected tag makes it HTML). The
    body of a redirect with a ``Location`` is never shown: the browser follows it."""
    if 300 <= response.status < 400 and response.header("location"):
        return False
    kind = response.content_type
    return kind in _HTML_TYPES or not kind


def describe(point: InsertionPoint) -> str:
    """The parameter as a detail names it: ``URL 参数 q``."""
    return f"{_LOCATION_NAMES.get(point.location, point.location.value)} {point.name}"
