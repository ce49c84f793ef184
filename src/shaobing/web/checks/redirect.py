"""Open redirect: a parameter decides where the site sends the browser, and any outside
site is accepted.

Parameters tested: names that suggest a redirect target (url, redirect, next, return,
goto, target, jump, back, continue, dest, forward, callback, service, 跳转, 返回 …) and
values that look like a URL or a site path (``https://…``, ``//…``, ``/…``); query, form
and JSON parameters only (a victim's browser cannot be made to send chosen cookies or
headers).

Payloads, stopping at the first proof, with ``H = <canary>.example`` (a reserved TLD,
RFC 2606: the host exists nowhere):

1. ``https://H/``;
2. ``//H/`` — scheme-relative;
3. ``/\\H/`` — browsers read ``\\`` as ``/`` in http(s) URLs, so this passes checks for a
   leading ``/`` that forget the backslash;
4. ``http:H/`` on an https site, ``https:H/`` on an http one — a different scheme with a
   single colon is absolute for a browser;
5. ``https://<site host>@H/`` — allow-lists that only test how the value starts.

Proof: the redirect target — the ``Location`` header of a 3xx answer, a ``Refresh``
header, ``<meta http-equiv="refresh">`` or a JavaScript ``location`` assignment in a
script block — resolved the way a browser resolves it (:func:`browser_host`) has host
``H``. A link to ``H`` on the page is not a redirect; a redirect to a local path or to a URL
that merely contains ``H`` in its query is not off-site. The redirect is never followed.

Requests per parameter: at most 5.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from shaobing.web.checks import _inject
from shaobing.web.checks.base import PointCheck, Probe, canary, register
from shaobing.web.checks.xss import SCRIPT, parse_markup
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue
from shaobing.web.request import Location

# The reserved top-level domain of the canary host (RFC 2606 §2).
CANARY_TLD = "example"
# Characters of the redirect target quoted in the detail and kept in the finding
# (organisation-defined: a report line, and the whole of any realistic URL).
SHOWN_TARGET = 200
KEPT_TARGET = 500
_WORDS = frozenset(
    {
        "url",
        "uri",
        "redirect",
        "redir",
        "next",
        "return",
        "returnurl",
        "returnto",
        "goto",
        "go",
        "target",
        "jump",
        "to",
        "back",
        "backurl",
        "continue",
        "dest",
        "destination",
        "forward",
        "fwd",
        "callback",
        "service",
        "location",
        "link",
        "out",
        "r",
        "u",
        "ref",
        "referer",
        "referrer",
        "success",
    }
)
_CHINESE = re.compile(r"跳转|返回|地址|链接|网址")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_URLISH_VALUE = re.compile(r"(?i)^(?:https?:|//|/|\\)")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_FETCHED_SCHEMES = frozenset({"http", "https", "ftp", "ws", "wss"})
_C0_SPACE = "".join(chr(c) for c in range(0x21))
_REFRESH_URL = re.compile(r"""(?is)^\s*\d*(?:\.\d*)?\s*[;,]?\s*(?:url\s*=\s*)?(['"]?)(.*?)\1\s*$""")
# A location assignment with a quoted URL of at most 2000 characters (the practical URL
# limit of browsers and servers; bounds the regular expression's work).
_JS_LOCATION = re.compile(
    r"""(?x)
    (?:\b(?:window|self|top|parent|document)\s*\.\s*)?\blocation
    (?:\s*\.\s*href)?\s*=(?!=)\s*(?P<q>['"])(?P<url>[^'"\n]{1,2000})(?P=q)
    |
    \blocation\s*\.\s*(?:replace|assign)\s*\(\s*(?P<q2>['"])(?P<url2>[^'"\n]{1,2000})(?P=q2)
    """
)


def name_suggests_redirect(name: str) -> bool:
    """Whether a parameter name suggests a redirect target."""
    if _CHINESE.search(name):
        return True
    words = {w.lower() for w in _WORD_SPLIT.split(name) if w}
    return bool(words & _WORDS) or name.lower() in _WORDS


def browser_host(base: str, target: str) -> str | None:
    """The host a browser on ``base`` goes to for the redirect ``target`` (WHATWG URL
    parsing of http(s) bases: controls and spaces trimmed, tabs and newlines removed,
    ``\\`` read as ``/``, any number of slashes before the authority, a same-scheme
    ``http:x`` relative). None for non-network schemes (``javascript:``, ``data:``)."""
    text = re.sub(r"[\t\n\r]", "", target).strip(_C0_SPACE)
    parts = urlsplit(base)
    own = (parts.hostname or "").lower()
    scheme_match = _SCHEME.match(text)
    if scheme_match is not None:
        scheme = scheme_match.group(1).lower()
        rest = text[scheme_match.end() :].replace("\\", "/")
        if scheme not in _FETCHED_SCHEMES:
            return None
        if scheme == parts.scheme.lower() and not rest.startswith("/"):
            return own  # "http:x" on an http page is a relative reference
        return _authority_host(rest.lstrip("/"))
    text = text.replace("\\", "/")
    if text.startswith("//"):
        return _authority_host(text.lstrip("/"))
    return own


def _authority_host(rest: str) -> str:
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = unquote(authority.rsplit("@", 1)[-1])
    bracketed = host.startswith("[")
    host = host.split("]", 1)[0] + "]" if bracketed else host.split(":", 1)[0]
    return host.lower().rstrip(".")


def redirect_targets(response: WebResponse) -> list[tuple[str, str]]:
    """``(how, target)`` for every redirect in ``response`` (Location, Refresh, meta
    refresh, JavaScript location assignment)."""
    found: list[tuple[str, str]] = []
    location = response.header("location")
    if location and 300 <= response.status < 400:
        found.append(("Location 响应头", location))
    refresh = response.header("refresh")
    if refresh:
        match = _REFRESH_URL.match(refresh)
        if match and match.group(2):
            found.append(("Refresh 响应头", match.group(2)))
    if not _inject.renders_html(response):
        return found
    markup = parse_markup(response.text)
    for tag in markup.tags:
        equiv = tag.attribute("http-equiv")
        content = tag.attribute("content")
        if tag.name == "meta" and equiv is not None and equiv.value.strip().lower() == "refresh":
            match = _REFRESH_URL.match(content.value if content is not None else "")
            if match and match.group(2):
                found.append(("<meta> 刷新跳转", match.group(2)))
    for segment in markup.segments:
        if segment.kind != SCRIPT or not segment.javascript:
            continue
        for match in _JS_LOCATION.finditer(markup.text, segment.start, segment.end):
            url = (match.group("url") or match.group("url2") or "").replace("\\/", "/")
            found.append(("JavaScript 跳转", url))
    return found


def payloads(host: str, base: str) -> list[str]:
    """The payloads sending the browser to ``host`` (see the module docstring)."""
    parts = urlsplit(base)
    other = "http" if parts.scheme == "https" else "https"
    own = parts.hostname or "localhost"
    return [
        f"https://{host}/",
        f"//{host}/",
        f"/\\{host}/",
        f"{other}:{host}/",
        f"https://{own}@{host}/",
    ]


class OpenRedirect(PointCheck):
    """Open redirect proved by a redirect to the canary host."""

    id: ClassVar[str] = "web.open-redirect"
    kinds: ClassVar[tuple[str, ...]] = ("open-redirect",)

    def applies(self, probe: Probe) -> bool:
        """Query, form and JSON parameters named or valued like a redirect target."""
        point = probe.point
        if point.location not in (Location.QUERY, Location.FORM, Location.JSON):
            return False
        return name_suggests_redirect(point.name) or bool(_URLISH_VALUE.match(point.value))

    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """Issues proved on the probe's parameter (see the module docstring)."""
        host = f"{canary()}.{CANARY_TLD}"
        for payload in payloads(host, probe.request.url):
            response = _inject.send(probe, payload)
            if response is None:
                continue
            for how, target in redirect_targets(response):
                if browser_host(response.url, target) == host:
                    yield probe.issue(
                        "open-redirect",
                        f"{_inject.describe(probe.point)} 设为 {payload} 后，服务器通过 {how} "
                        f"跳转到站外地址 {target.strip()[:SHOWN_TARGET]}（未跟随跳转）。",
                        response,
                        payload=payload,
                        redirect=target.strip()[:KEPT_TARGET],
                    )
                    return


register(OpenRedirect())
