"""A web request as the scanner builds it, the places a payload can go, and evidence text.

:class:`WebRequest` is immutable: every mutation (a payload in one parameter) is a new
request, so the baseline a check compares against is never touched. :class:`InsertionPoint`
names one parameter in one location (query string, form body, JSON body, cookie, header or
path segment) and produces the mutated request for a payload.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
# Header values and parameters whose contents are secrets: masked in evidence (J2).
_SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "proxy-authorization", "x-api-key", "x-auth-token"}
)
_SECRET_NAME = re.compile(r"(?i)(passw|pwd|secret|token|session|sess_?id|api_?key|auth)")
MASK = "******"
# Deepest JSON nesting walked for insertion points (organisation-defined: real APIs are
# shallow; a hostile body must not recurse without bound).
MAX_JSON_DEPTH = 8


class Location(StrEnum):
    """Where a parameter lives in a request."""

    QUERY = "query"
    FORM = "form"
    JSON = "json"
    COOKIE = "cookie"
    HEADER = "header"
    PATH = "path"


@dataclass(frozen=True)
class WebRequest:
    """One HTTP request: method, absolute URL, headers and body."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-case, without parameters."""
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()

    def header(self, name: str) -> str | None:
        """The first header named ``name`` (case-insensitive)."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def with_header(self, name: str, value: str) -> WebRequest:
        """A copy with header ``name`` set to ``value`` (replacing any earlier one)."""
        wanted = name.lower()
        kept = tuple((k, v) for k, v in self.headers if k.lower() != wanted)
        return replace(self, headers=(*kept, (name, value)))

    def without_header(self, name: str) -> WebRequest:
        """A copy without header ``name``."""
        wanted = name.lower()
        return replace(self, headers=tuple((k, v) for k, v in self.headers if k.lower() != wanted))

    def query(self) -> list[tuple[str, str]]:
        """The query string's parameters in order."""
        return parse_qsl(urlsplit(self.url).query, keep_blank_values=True)

    def form(self) -> list[tuple[str, str]]:
        """The url-encoded body's parameters (empty for other bodies)."""
        if self.content_type != FORM_TYPE:
            return []
        return parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    def cookies(self) -> list[tuple[str, str]]:
        """The Cookie header's pairs in order."""
        return parse_cookie_header(self.header("cookie") or "")

    def key(self) -> tuple[str, str, bytes]:
        """Identity for de-duplication of identical requests."""
        return (self.method, self.url, self.body)

    def describe(self) -> str:
        """``METHOD URL`` for logs and summaries."""
        return f"{self.method} {self.url}"


def parse_cookie_header(text: str) -> list[tuple[str, str]]:
    """``a=1; b=2`` as pairs (tolerant of stray separators)."""
    pairs: list[tuple[str, str]] = []
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            pairs.append((name.strip(), value.strip()))
    return pairs


def _with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode(pairs, quote_via=quote, safe="/:")))


def _json_paths(value: Any, prefix: tuple[str | int, ...], depth: int) -> Iterator[tuple[Any, ...]]:
    if depth > MAX_JSON_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_paths(item, (*prefix, str(key)), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value[:20]):
            yield from _json_paths(item, (*prefix, index), depth + 1)
    elif isinstance(value, str | int | float | bool) or value is None:
        yield prefix


def _json_get(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _json_set(value: Any, path: tuple[str | int, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        copy[head] = _json_set(value[head], rest, new)
        return copy
    items = list(value)
    items[int(head)] = _json_set(items[int(head)], rest, new)
    return items


@dataclass(frozen=True)
class InsertionPoint:
    """One parameter of a request a payload can replace or extend."""

    location: Location
    name: str
    value: str
    json_path: tuple[str | int, ...] = field(default=(), compare=False)
    index: int = 0
    """Position of the parameter among those of its location (names can repeat)."""

    def label(self) -> str:
        """``location:name`` as findings show it."""
        return f"{self.location.value}:{self.name}"

    def inject(self, request: WebRequest, payload: str, *, append: bool = False) -> WebRequest:
        """``request`` with this parameter's value set to ``payload`` (or the original value
        followed by it when ``append``)."""
        value = self.value + payload if append else payload
        if self.location is Location.QUERY:
            pairs = request.query()
            pairs[self.index] = (pairs[self.index][0], value)
            return replace(request, url=_with_query(request.url, pairs))
        if self.location is Location.FORM:
            pairs = request.form()
            pairs[self.index] = (pairs[self.index][0], value)
            return replace(request, body=urlencode(pairs, quote_via=quote).encode())
        if self.location is Location.JSON:
            document = json.loads(request.body)
            # A number or boolean parameter becomes a string when a payload goes in: that is
            # what an attacker sends too, and typed back-ends often still concatenate it.
            text = json.dumps(_json_set(document, self.json_path, value), ensure_ascii=False)
            return replace(request, body=text.encode())
        if self.location is Location.COOKIE:
            pairs = request.cookies()
            pairs[self.index] = (pairs[self.index][0], value)
            text = "; ".join(f"{k}={v}" for k, v in pairs)
            return request.with_header("Cookie", text)
        if self.location is Location.HEADER:
            return request.with_header(self.name, value)
        parts = urlsplit(request.url)
        segments = parts.path.split("/")
        segments[self.index] = quote(value, safe="")
        return replace(request, url=urlunsplit(parts._replace(path="/".join(segments))))


# Headers worth injecting into even when the page did not send them: applications log or
# use them (client address, referrer, agent) — the usual blind spots of form-only testing.
INJECTABLE_HEADERS = ("User-Agent", "Referer", "X-Forwarded-For")
_ID_HEADER = re.compile(r"(?i)(?:^|[-_])(id|no|num)$")


def insertion_points(
    request: WebRequest, *, headers: bool = True, extra_headers: Sequence[str] = ()
) -> list[InsertionPoint]:
    """Every parameter of ``request``: query, form or JSON body, cookies, chosen headers
    (:data:`INJECTABLE_HEADERS` plus ``extra_headers``)."""
    points = [
        InsertionPoint(Location.QUERY, name, value, index=i)
        for i, (name, value) in enumerate(request.query())
    ]
    points += [
        InsertionPoint(Location.FORM, name, value, index=i)
        for i, (name, value) in enumerate(request.form())
    ]
    if request.content_type == JSON_TYPE or request.content_type.endswith("+json"):
        try:
            document = json.loads(request.body)
        except ValueError:
            document = None
        if isinstance(document, dict | list):
            for path in _json_paths(document, (), 0):
                current = _json_get(document, path)
                text = "" if current is None else str(current)
                name = ".".join(str(step) for step in path)
                points.append(InsertionPoint(Location.JSON, name, text, json_path=path))
    points += [
        InsertionPoint(Location.COOKIE, name, value, index=i)
        for i, (name, value) in enumerate(request.cookies())
    ]
    if headers:
        for name in INJECTABLE_HEADERS:
            points.append(InsertionPoint(Location.HEADER, name, request.header(name) or ""))
        for name in extra_headers:
            if name.lower() in (h.lower() for h in INJECTABLE_HEADERS):
                continue
            # An application's own header the request does not carry: an id-like name gets
            # a number (payloads are appended to it), anything else starts empty.
            value = request.header(name) or ("1" if _ID_HEADER.search(name) else "")
            points.append(InsertionPoint(Location.HEADER, name, value))
    return points


def is_secret_name(name: str) -> bool:
    """Whether a parameter or header name suggests a secret (password, token, session)."""
    return bool(_SECRET_NAME.search(name))


def mask_pairs(text: str) -> str:
    """``a=1&password=x`` with secret-looking values replaced by the mask."""
    pairs = parse_qsl(text, keep_blank_values=True)
    if not pairs:
        return text
    masked = [(k, MASK if is_secret_name(k) and v else v) for k, v in pairs]
    return urlencode(masked, safe="*")


def _masked_headers(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    out = []
    for name, value in headers:
        lower = name.lower()
        shown = value
        if lower == "cookie":
            pairs = parse_cookie_header(value)
            shown = "; ".join(f"{k}={MASK if is_secret_name(k) else v}" for k, v in pairs)
        elif lower in _SECRET_HEADERS:
            scheme, _, _ = value.partition(" ")
            shown = f"{scheme} {MASK}" if scheme and scheme != value else MASK
        out.append((name, shown))
    return out


def masked_body(request: WebRequest) -> str:
    """The body as text with secret-looking form and JSON values masked."""
    text = request.body.decode("utf-8", "replace")
    if request.content_type == FORM_TYPE:
        return mask_pairs(text)
    if request.content_type == JSON_TYPE:
        try:
            document = json.loads(text)
        except ValueError:
            return text
        return json.dumps(_mask_json(document, 0), ensure_ascii=False)
    return text


def _mask_json(value: Any, depth: int) -> Any:
    if depth > MAX_JSON_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            k: MASK if is_secret_name(str(k)) and isinstance(v, str) else _mask_json(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_json(v, depth + 1) for v in value]
    return value


def request_text(request: WebRequest, *, mask: bool = True) -> str:
    """The request as raw HTTP text (secrets masked unless ``mask`` is False)."""
    parts = urlsplit(request.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + (mask_pairs(parts.query) if mask else parts.query)
    headers = _masked_headers(request.headers) if mask else list(request.headers)
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() != "host"]
    body = masked_body(request) if mask else request.body.decode("utf-8", "replace")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def curl_command(request: WebRequest, *, mask: bool = True) -> str:
    """A ``curl`` command line that reproduces the request (secrets masked by default)."""
    url = request.url
    if mask:
        parts = urlsplit(url)
        url = urlunsplit(parts._replace(query=mask_pairs(parts.query)))
    words = ["curl", "-i", "-s", "-k"]
    if request.method != "GET" or request.body:
        words += ["-X", request.method]
    headers = _masked_headers(request.headers) if mask else list(request.headers)
    for name, value in headers:
        if name.lower() in ("host", "content-length", "connection", "accept-encoding"):
            continue
        words += ["-H", f"{name}: {value}"]
    if request.body:
        body = masked_body(request) if mask else request.body.decode("utf-8", "replace")
        words += ["--data-raw", body]
    words.append(url)
    return " ".join(shlex.quote(word) for word in words)
