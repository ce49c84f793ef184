"""Passive checks: what every response the scan receives gives away (safety class passive;
no check here sends a request).

* ``web.security-headers`` — HTML pages (2xx) without Content-Security-Policy, HSTS (https
  only), clickjacking protection (X-Frame-Options DENY/SAMEORIGIN or CSP
  ``frame-ancestors``), ``X-Content-Type-Options: nosniff`` or a Referrer-Policy that
  does not leak full URLs. One site-wide issue per header, the affected pages listed.
* ``web.cookie-flags`` — cookies set without HttpOnly (session-like names only: CSRF
  cookies must stay readable), without SameSite (any cookie), without Secure (any cookie
  on https) or with ``SameSite=None`` but no Secure. One issue per cookie name per site;
  the Set-Cookie line (value masked for session-like cookies) is the evidence.
* ``web.version-disclosure`` — Server, X-Powered-By, X-AspNet-Version … carrying a
  version number. One issue per header per site.
* ``web.error-disclosure`` — stack traces and debug pages (Python, Java, PHP, .NET, Node,
  Go, Ruby, ASP.NET yellow screen, Tomcat report, Spring whitelabel with an exception).
  SQL errors are left to the SQL injection check.
* ``web.directory-listing`` — directory index pages (Apache/nginx/IIS/Tomcat/Jetty/
  Python http.server/serve-index).
* ``web.mixed-content`` — https pages loading http:// scripts, styles, frames, images.
* ``web.password-over-http`` — password forms served over http or posting to http.

Signatures and name lists are data (``web/data/passive.yaml``). The analysers are pure
functions of headers and text so they can be fuzzed; the checks only wrap them.
Requests per site and page: none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from shaobing.web.checks._support import KEEP_CHARS, KEEP_ITEMS, QUOTE_CHARS, load_data
from shaobing.web.checks.base import PassiveCheck, ScanState, register
from shaobing.web.client import WebResponse
from shaobing.web.html import parse_page
from shaobing.web.issues import WebIssue
from shaobing.web.request import MASK

# Most text searched per response (organisation-defined: error pages and listings show
# their tell-tale near the top; the cap bounds regex work on multi-megabyte pages).
MAX_SCAN_CHARS = 512 * 1024
# Most of an HTML page read for <meta> tags (organisation-defined: they belong in <head>,
# near the top).
MAX_HEAD_CHARS = 64 * 1024
# Characters of context kept around a signature match in the finding (organisation-defined).
EXCERPT_CHARS = 300
# Insecure resources listed in one mixed-content issue (organisation-defined; the count is
# always given).
MAX_LISTED = 20
# Referrer policies that send the full URL (path and query) to other origins (W3C
# Referrer Policy, section 3): the reason the header is asked for.
LEAKY_REFERRER = frozenset({"unsafe-url", "no-referrer-when-downgrade"})
_REFERRER_TOKENS = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "same-origin",
        "origin",
        "strict-origin",
        "origin-when-cross-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)
# Tags whose URL attribute loads a subresource (WHATWG Mixed Content: "blockable" are
# scripts, styles, frames, objects; "upgradeable" are images, audio, video).
_RESOURCE_ATTRS: dict[str, tuple[str, ...]] = {
    "script": ("src",),
    "iframe": ("src",),
    "frame": ("src",),
    "img": ("src",),
    "audio": ("src",),
    "video": ("src", "poster"),
    "source": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
}
_LINK_RESOURCE = re.compile(r"(?i)\b(?:stylesheet|icon|preload|modulepreload|prefetch|import)\b")
_PASSWORD_INPUT = re.compile(r"""(?i)type\s*=\s*["']?password""")
_VERSION = re.compile(r"[A-Za-z][\w.+-]*[/ ]v?\d+(?:\.\d+)*")
_BARE_VERSION = re.compile(r"^\s*v?\d+(?:\.\d+)+\s*$")
_TEXTUAL = ("text/", "json", "xml", "javascript")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Signature:
    """A named pattern set from ``passive.yaml``."""

    id: str
    label: str
    patterns: tuple[re.Pattern[str], ...]
    min_count: int = 1
    exclude: re.Pattern[str] | None = None

    def find(self, text: str) -> str | None:
        """The excerpt around the first pattern's match when every pattern matches."""
        first = self.patterns[0]
        matches = []
        for match in first.finditer(text):
            if self.exclude is not None and self.exclude.search(_around(text, match)):
                continue
            matches.append(match)
            if len(matches) >= self.min_count:
                break
        if len(matches) < self.min_count:
            return None
        if not all(pattern.search(text) for pattern in self.patterns[1:]):
            return None
        return _around(text, matches[0])


@dataclass(frozen=True)
class Tables:
    """Everything ``passive.yaml`` holds, compiled."""

    session: tuple[re.Pattern[str], ...]
    not_session: tuple[re.Pattern[str], ...]
    version_headers: tuple[tuple[str, bool], ...]
    errors: tuple[Signature, ...]
    listings: tuple[Signature, ...]


def _signatures(items: list[dict[str, Any]], label_key: str) -> tuple[Signature, ...]:
    out = []
    for item in items:
        exclude = item.get("exclude")
        out.append(
            Signature(
                id=str(item["id"]),
                label=str(item[label_key]),
                patterns=tuple(re.compile(str(p)) for p in item["all"]),
                min_count=int(item.get("min_count", 1)),
                exclude=re.compile(str(exclude)) if exclude else None,
            )
        )
    return tuple(out)


@cache
def tables() -> Tables:
    """The compiled signature tables (loaded once)."""
    data = load_data("passive.yaml")
    return Tables(
        session=tuple(re.compile(str(p)) for p in data["session_cookie"]),
        not_session=tuple(re.compile(str(p)) for p in data.get("not_session_cookie", [])),
        version_headers=tuple(
            (str(h["name"]), bool(h.get("bare", False))) for h in data["version_headers"]
        ),
        errors=_signatures(data["errors"], "platform"),
        listings=_signatures(data["listings"], "server"),
    )


def _around(text: str, match: re.Match[str]) -> str:
    start = max(0, match.start() - EXCERPT_CHARS // 3)
    excerpt = text[start : start + EXCERPT_CHARS]
    return " ".join(excerpt.split())


def _header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    wanted = name.lower()
    return [v for k, v in headers if k.lower() == wanted]


# --------------------------------------------------------------------------- analysers


class _MetaParser(HTMLParser):
    """``<meta http-equiv>`` and ``<meta name>`` values of a page head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.equiv: dict[str, list[str]] = {}
        self.named: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a <meta> tag's value."""
        if tag != "meta":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        content = values.get("content", "")
        if values.get("http-equiv"):
            self.equiv.setdefault(values["http-equiv"].strip().lower(), []).append(content)
        if values.get("name"):
            self.named.setdefault(values["name"].strip().lower(), []).append(content)


def meta_tags(html: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(http-equiv values, name values) of the ``<meta>`` tags near the top of ``html``."""
    parser = _MetaParser()
    try:
        parser.feed(html[:MAX_HEAD_CHARS])
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    return parser.equiv, parser.named


def _directives(policy: str) -> dict[str, str]:
    """CSP directives (name → value) of one policy, first occurrence wins (CSP3 §2.2)."""
    out: dict[str, str] = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name and name.lower() not in out:
            out[name.lower()] = value.strip()
    return out


@dataclass(frozen=True)
class HeaderGap:
    """A missing or ineffective security header of one page."""

    kind: str
    header: str
    detail: str


def _referrer_policy(values: list[str]) -> str | None:
    """The effective policy: the last recognised token of the last value (W3C Referrer
    Policy §8.1: unknown tokens are ignored so sites can list fallbacks first)."""
    chosen: str | None = None
    for value in values:
        for raw in value.split(","):
            token = raw.strip().lower()
            if token in _REFERRER_TOKENS:
                chosen = token
    return chosen


def header_gaps(headers: list[tuple[str, str]], html: str, *, https: bool) -> list[HeaderGap]:
    """Security headers missing or ineffective on an HTML page."""
    equiv, named = meta_tags(html) if "<meta" in html[:MAX_HEAD_CHARS].lower() else ({}, {})
    gaps: list[HeaderGap] = []
    csp_headers = [v for v in _header_values(headers, "content-security-policy") if v.strip()]
    csp_meta = [v for v in equiv.get("content-security-policy", []) if v.strip()]
    if not csp_headers and not csp_meta:
        report_only = _header_values(headers, "content-security-policy-report-only")
        detail = "响应未包含 Content-Security-Policy 头" + (
            "（只有 Content-Security-Policy-Report-Only，浏览器只报告不拦截）"
            if report_only
            else ""
        )
        gaps.append(HeaderGap("missing-csp", "Content-Security-Policy", detail + "。"))
    if https:
        hsts = _header_values(headers, "strict-transport-security")
        max_age = _max_age(hsts[0]) if hsts else None
        if not hsts:
            gaps.append(
                HeaderGap("missing-hsts", "Strict-Transport-Security", "HTTPS 响应未包含 HSTS 头。")
            )
        elif max_age is None or max_age <= 0:
            gaps.append(
                HeaderGap(
                    "missing-hsts",
                    "Strict-Transport-Security",
                    f"HSTS 头 max-age 无效或为 0（{hsts[0][:QUOTE_CHARS]}），"
                    "浏览器不会强制 HTTPS。",
                )
            )
    frame_gap = _frame_gap(headers, csp_headers)
    if frame_gap is not None:
        gaps.append(frame_gap)
    nosniff = _header_values(headers, "x-content-type-options")
    if not any("nosniff" in v.lower() for v in nosniff):
        gaps.append(
            HeaderGap(
                "missing-content-type-options",
                "X-Content-Type-Options",
                "响应未包含 X-Content-Type-Options: nosniff。",
            )
        )
    referrer = _referrer_policy(
        _header_values(headers, "referrer-policy") + named.get("referrer", [])
    )
    if referrer is None:
        gaps.append(
            HeaderGap("missing-referrer-policy", "Referrer-Policy", "响应未设置 Referrer-Policy。")
        )
    elif referrer in LEAKY_REFERRER:
        gaps.append(
            HeaderGap(
                "missing-referrer-policy",
                "Referrer-Policy",
                f"Referrer-Policy 为 {referrer}，跳转到其他站点时仍会发送完整地址。",
            )
        )
    return gaps


def _max_age(value: str) -> int | None:
    for part in value.split(";"):
        name, _, number = part.strip().partition("=")
        if name.strip().lower() == "max-age":
            digits = number.strip().strip('"')
            return int(digits) if digits.isdigit() else None
    return None


def _frame_gap(headers: list[tuple[str, str]], csp_headers: list[str]) -> HeaderGap | None:
    # frame-ancestors is ignored in <meta> policies (CSP3 §6.4.2), so only headers count.
    if any("frame-ancestors" in _directives(policy) for policy in csp_headers):
        return None
    values = _header_values(headers, "x-frame-options")
    tokens = {t.strip().upper() for v in values for t in v.split(",") if t.strip()}
    if tokens and tokens <= {"DENY", "SAMEORIGIN"}:
        return None
    detail = "页面既无 X-Frame-Options 头，也无 CSP frame-ancestors 指令。"
    if tokens:
        shown = ", ".join(sorted(tokens))[:QUOTE_CHARS]
        detail = (
            f"X-Frame-Options 取值 {shown} 无效（ALLOW-FROM 已被浏览器弃用），"
            "且无 CSP frame-ancestors 指令。"
        )
    return HeaderGap("missing-frame-options", "X-Frame-Options", detail)


@dataclass(frozen=True)
class CookieProblem:
    """What one Set-Cookie line lacks."""

    name: str
    missing: tuple[str, ...]
    line: str
    """The Set-Cookie line with the value masked when the cookie is session-like."""


def is_session_cookie(name: str) -> bool:
    """Whether ``name`` looks like a session or login cookie (``passive.yaml``)."""
    data = tables()
    if any(p.search(name) for p in data.not_session):
        return False
    return any(p.search(name) for p in data.session)


def _cookie_deleted(attributes: dict[str, str]) -> bool:
    age = attributes.get("max-age", "").strip()
    if age.lstrip("-").isdigit() and int(age) <= 0:
        return True
    expires = attributes.get("expires")
    if expires:
        try:
            when = parsedate_to_datetime(expires.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when < datetime.now(UTC)
    return False


def cookie_problem(line: str, *, https: bool) -> CookieProblem | None:
    """The flags one ``Set-Cookie`` value lacks (None when nothing is missing or the line
    deletes the cookie)."""
    first, *rest = line.split(";")
    name, sep, value = first.strip().partition("=")
    name = name.strip()
    if not sep or not name:
        return None
    attributes: dict[str, str] = {}
    for part in rest:
        key, _, attr_value = part.strip().partition("=")
        if key.strip():
            attributes[key.strip().lower()] = attr_value.strip()
    if _cookie_deleted(attributes):
        return None
    session = is_session_cookie(name)
    same_site = attributes.get("samesite", "").lower()
    missing: list[str] = []
    if session and "httponly" not in attributes:
        missing.append("HttpOnly")
    if "secure" not in attributes and (https or same_site == "none"):
        missing.append("Secure")
    if same_site not in ("lax", "strict", "none"):
        missing.append("SameSite")
    if not missing:
        return None
    shown_value = MASK if session and value.strip() else value.strip()[:QUOTE_CHARS]
    shown = "; ".join([f"{name}={shown_value}", *(p.strip() for p in rest if p.strip())])
    return CookieProblem(name, tuple(missing), shown[:KEEP_CHARS])


def version_disclosures(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(header, value) pairs of ``passive.yaml``'s headers that carry a version number."""
    found: list[tuple[str, str]] = []
    for name, bare in tables().version_headers:
        for raw in _header_values(headers, name):
            value = raw.strip()
            if _VERSION.search(value) or (bare and _BARE_VERSION.match(value)):
                found.append((name, value[:KEEP_CHARS]))
                break
    return found


@dataclass(frozen=True)
class SignatureHit:
    """Which signature matched and the text around it."""

    id: str
    label: str
    excerpt: str


def _first_hit(signatures: tuple[Signature, ...], text: str) -> SignatureHit | None:
    text = text[:MAX_SCAN_CHARS]
    for signature in signatures:
        excerpt = signature.find(text)
        if excerpt is not None:
            return SignatureHit(signature.id, signature.label, excerpt)
    return None


def error_disclosure(text: str) -> SignatureHit | None:
    """The first stack trace or debug-page signature found in ``text``."""
    return _first_hit(tables().errors, text)


def directory_listing(text: str) -> SignatureHit | None:
    """The directory-listing signature found in ``text``, if any."""
    return _first_hit(tables().listings, text)


class _ResourceParser(HTMLParser):
    """Subresource URLs of a page (tag name, raw URL) and <meta> CSP values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self.csp: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record the subresource URLs of a tag."""
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta" and values.get("http-equiv", "").lower() == "content-security-policy":
            self.csp.append(values.get("content", ""))
        if tag == "link" and _LINK_RESOURCE.search(values.get("rel", "")):
            self.found.append(("link", values.get("href", "")))
        for attr in _RESOURCE_ATTRS.get(tag, ()):
            if values.get(attr):
                self.found.append((tag, values[attr]))
        if tag in ("img", "source") and values.get("srcset"):
            for candidate in values["srcset"].split(","):
                url = candidate.strip().split(" ", 1)[0]
                if url:
                    self.found.append((tag, url))


def mixed_content(url: str, html: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(tag, absolute http URL) of the subresources an https page loads over http; empty
    for http pages and for pages whose CSP upgrades or blocks insecure requests."""
    if urlsplit(url).scheme != "https" or "http:" not in html.lower():
        return []
    parser = _ResourceParser()
    try:
        parser.feed(html[:MAX_SCAN_CHARS])
        parser.close()
    except (AssertionError, ValueError):
        pass
    policies = _header_values(headers, "content-security-policy") + parser.csp
    for policy in policies:
        names = _directives(policy)
        if "upgrade-insecure-requests" in names or "block-all-mixed-content" in names:
            return []
    found: list[tuple[str, str]] = []
    for tag, raw in parser.found:
        try:
            target = urljoin(url, raw.strip())
        except ValueError:
            continue
        if urlsplit(target).scheme == "http" and (tag, target) not in found:
            found.append((tag, target))
    return found


@dataclass(frozen=True)
class PasswordExposure:
    """A password form whose page or target is plain http."""

    action: str
    detail: str


def password_exposures(url: str, html: str) -> list[PasswordExposure]:
    """Password forms of the page at ``url`` served over http or posting to http."""
    if not _PASSWORD_INPUT.search(html[:MAX_SCAN_CHARS]):
        return []
    page_http = urlsplit(url).scheme == "http"
    out: list[PasswordExposure] = []
    for form in parse_page(url, html).forms:
        if not form.has_password:
            continue
        target_http = urlsplit(form.action).scheme == "http"
        if page_http and target_http:
            detail = f"含口令输入框的表单经明文 HTTP 页面提供，并提交到明文地址 {form.action}。"
        elif page_http:
            detail = (
                f"含口令输入框的表单经明文 HTTP 页面提供（虽提交到 {form.action}，"
                "中间人仍可篡改页面窃取口令）。"
            )
        elif target_http:
            detail = f"HTTPS 页面上的登录表单提交到明文地址 {form.action}。"
        else:
            continue
        out.append(PasswordExposure(form.action, detail))
    return out


# --------------------------------------------------------------------------- checks


def _is_https(response: WebResponse) -> bool:
    return urlsplit(response.url).scheme == "https"


def _issue(response: WebResponse, kind: str, detail: str, **kwargs: Any) -> WebIssue:
    return WebIssue(
        kind=kind,
        url=response.url,
        method=response.request.method,
        detail=detail,
        request=response.request,
        response=response,
        **kwargs,
    )


class SecurityHeadersCheck(PassiveCheck):
    """Missing security headers on HTML pages (site-wide, one issue per header)."""

    id = "web.security-headers"
    kinds = (
        "missing-csp",
        "missing-hsts",
        "missing-frame-options",
        "missing-content-type-options",
        "missing-referrer-policy",
    )

    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        """Gaps of a successful HTML page."""
        if not 200 <= response.status < 300 or response.status == 204 or not response.is_html:
            return
        for gap in header_gaps(response.headers, response.text, https=_is_https(response)):
            yield _issue(response, gap.kind, gap.detail, site_wide=True, extra={"key": gap.header})


class CookieFlagsCheck(PassiveCheck):
    """Cookies set without the flags they need (one issue per cookie name per site)."""

    id = "web.cookie-flags"
    kinds = ("cookie-flags",)

    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        """One issue per Set-Cookie line that lacks a flag."""
        for line in response.header_values("set-cookie"):
            problem = cookie_problem(line, https=_is_https(response))
            if problem is None:
                continue
            missing = "、".join(problem.missing)
            yield WebIssue(
                kind="cookie-flags",
                url=response.url,
                method=response.request.method,
                detail=f"Cookie {problem.name} 缺少 {missing} 属性。\nSet-Cookie: {problem.line}",
                # The response is left out: its head holds the cookie's real value.
                request=response.request,
                site_wide=True,
                extra={
                    "key": problem.name,
                    "cookie": problem.name,
                    "missing": list(problem.missing),
                },
            )


class VersionDisclosureCheck(PassiveCheck):
    """Version numbers in Server, X-Powered-By … (one issue per header per site)."""

    id = "web.version-disclosure"
    kinds = ("version-disclosure",)

    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        """One issue per disclosing header."""
        for name, value in version_disclosures(response.headers):
            yield _issue(
                response,
                "version-disclosure",
                f"响应头 {name}: {value}",
                site_wide=True,
                extra={"key": name.lower(), "header": name, "value": value},
            )


def _textual(response: WebResponse) -> bool:
    kind = response.content_type
    if "javascript" in kind or kind == "text/css":
        return False  # source files mention "Exception" and "at" without being errors
    return not kind or kind.startswith(_TEXTUAL) or kind.endswith(("json", "xml"))


class ErrorDisclosureCheck(PassiveCheck):
    """Stack traces and debug pages."""

    id = "web.error-disclosure"
    kinds = ("error-disclosure",)
    # Stack traces usually appear only when a parameter holds an unexpected value.
    on_attacks = True

    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        """One issue per URL showing a debug signature."""
        if not response.body or not _textual(response):
            return
        hit = error_disclosure(response.text)
        if hit is not None:
            yield _issue(
                response,
                "error-disclosure",
                f"页面显示 {hit.label} 异常信息（特征 {hit.id}）：{hit.excerpt}",
                extra={"signature": hit.id},
            )


class DirectoryListingCheck(PassiveCheck):
    """Directory index pages among the responses."""

    id = "web.directory-listing"
    kinds = ("directory-listing",)

    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        """One issue per listing page."""
        if response.status != 200 or not response.is_html:
            return
        hit = directory_listing(response.text)
        if hit is not None:
            yield _issue(
                response,
                "directory-listing",
                f"目录 {urlsplit(response.url).path} 返回了 {hit.label} 的目录列表页面。",
                extra={"signature": hit.id},
            )


class MixedContentCheck(PassiveCheck):
    """https pages loading http resources."""

    id = "web.mixed-content"
    kinds = ("mixed-content",)

    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        """One issue per page with insecure subresources."""
        if not response.is_html or not _is_https(response) or response.status >= 400:
            return
        found = mixed_content(response.url, response.text, response.headers)
        if not found:
            return
        shown = "；".join(f"<{tag}> {url}" for tag, url in found[:MAX_LISTED])
        more = f" 等共 {len(found)} 个" if len(found) > MAX_LISTED else ""
        yield _issue(
            response,
            "mixed-content",
            f"HTTPS 页面经明文 HTTP 加载资源：{shown}{more}",
            extra={"resources": [url for _, url in found[:KEEP_ITEMS]]},
        )


class PasswordOverHttpCheck(PassiveCheck):
    """Password forms on http pages or posting to http (site-wide per form target)."""

    id = "web.password-over-http"
    kinds = ("password-over-http",)

    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        """One issue per form target; the pages carrying it are listed."""
        if not response.is_html or response.status >= 400:
            return
        for exposure in password_exposures(response.url, response.text):
            yield _issue(
                response,
                "password-over-http",
                exposure.detail,
                site_wide=True,
                extra={"key": exposure.action, "action": exposure.action},
            )


for _check in (
    SecurityHeadersCheck(),
    CookieFlagsCheck(),
    VersionDisclosureCheck(),
    ErrorDisclosureCheck(),
    DirectoryListingCheck(),
    MixedContentCheck(),
    PasswordOverHttpCheck(),
):
    register(_check)
