"""Server-side request forgery and remote file inclusion, through the scan's out-of-band
listener (:class:`~shaobing.web.checks.base.Callback`; the parameter is skipped without
one).

Per parameter, ONE request with the listener's URL for a fresh token as the value:

* the listener's marker (:meth:`Callback.body_for`, which is in no URL the scanner sends)
  appears in the response: the server fetched the URL and included the content in its
  page — remote file inclusion (``rfi``);
* otherwise a request for the token reached the listener: the server fetched a URL the
  scanner chose — SSRF (``ssrf``).

Every parameter is tried (one request is cheap); the wait for a late fetch is longer for
parameters whose name or value looks like a URL (:data:`URL_WAIT`, policy option
``callback_wait``) than for the others (:data:`OTHER_WAIT`), and it ends as soon as the
request arrives.

Requests per parameter: 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from shaobing.web.checks import _inject
from shaobing.web.checks._support import option
from shaobing.web.checks.base import PointCheck, Probe, canary, register
from shaobing.web.issues import WebIssue

# Seconds to wait for the target's fetch (organisation-defined: most fetches happen while
# the request is served, so the listener already has them; queued fetches need longer —
# waited only where a URL is expected, since every parameter pays its wait when nothing
# comes). The first is the policy option "callback_wait".
URL_WAIT = 3
MAX_URL_WAIT = 60
OTHER_WAIT = 0.5
# Listener requests quoted in a finding, and characters kept of each request line
# (organisation-defined: enough to recognise the fetch, short in a report).
SHOWN_REQUESTS = 5
MAX_LINE = 200
_URL_NAME = re.compile(
    r"(?i)(url|uri|link|href|src|source|dest|target|redirect|return|next|callback|feed|rss|"
    r"proxy|fetch|load|remote|site|host|domain|endpoint|webhook|image|img|avatar|logo|"
    r"file|path|page|include|import|preview|share|地址|链接|网址)"
)
_URL_VALUE = re.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*:)?//|^www\.|\.(?:html?|php|jsp|aspx?)$")


def looks_like_url(name: str, value: str) -> bool:
    """Whether a parameter name or value suggests that the server fetches a URL."""
    return bool(_URL_NAME.search(name) or _URL_VALUE.search(value.strip()))


def _first_line(text: str) -> str:
    return text.split("\r\n", 1)[0][:MAX_LINE]


class ServerSideRequest(PointCheck):
    """SSRF and RFI: the parameter set to the listener's URL."""

    id: ClassVar[str] = "web.ssrf"
    kinds: ClassVar[tuple[str, ...]] = ("rfi", "ssrf")

    def applies(self, probe: Probe) -> bool:
        """Only when the scan has an out-of-band listener."""
        return probe.state.callback is not None

    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """Issues proved on the probe's parameter (see the module docstring)."""
        callback = probe.state.callback
        if callback is None:
            return
        token = canary()
        url = callback.url(token)
        response = _inject.send(probe, url)
        marker = callback.body_for(token).strip()
        where = _inject.describe(probe.point)
        if response is not None and marker in response.text:
            received = callback.wait(token, 0)
            yield probe.issue(
                "rfi",
                f"{where} 设为回连地址 {url} 后，服务器取回了该地址的内容并包含进响应"
                f"（响应中出现回连服务返回的标记 {marker}）。",
                response,
                callback_url=url,
                callback_requests=[_first_line(r) for r in received[:SHOWN_REQUESTS]],
            )
            return
        wait: float = OTHER_WAIT
        if looks_like_url(probe.point.name, probe.point.value):
            wait = option(probe.state, self.id, "callback_wait", URL_WAIT, 0, MAX_URL_WAIT)
        received = callback.wait(token, wait)
        if not received:
            return
        issue = probe.issue(
            "ssrf",
            f"{where} 设为回连地址 {url} 后，回连服务收到了目标服务器发起的请求"
            f"（{_first_line(received[0])}）。",
            response,
            callback_url=url,
            callback_requests=[_first_line(r) for r in received[:SHOWN_REQUESTS]],
        )
        if response is None:
            # The fetch is the proof even when the page itself failed to answer.
            issue.request = probe.mutated(url)
        yield issue


register(ServerSideRequest())
