"""HTTP request blocks: build each request (path or raw form, payloads, variables), send
it through the scope-guarded client, follow redirects that stay in scope, then apply the
block's extractors and matchers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from shaobing.core.i18n import t
from shaobing.core.scope import ScopeRefused
from shaobing.templates.dsl import render_markers
from shaobing.templates.httpclient import Endpoint, HttpError, HttpResponse
from shaobing.templates.model import HttpRequest
from shaobing.templates.oob import request_texts_use_url, with_url
from shaobing.templates.payloads import combinations
from shaobing.templates.state import RunState
from shaobing.templates.variables import response_variables, with_suffix

USER_AGENT = "Mozilla/5.0 (compatible; shaobing-template)"
_REDIRECTS = (301, 302, 303, 307, 308)
_ANNOTATION = re.compile(r"^@([A-Za-z-]+)\s*:\s*(.*)$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m)?$")


@dataclass
class Prepared:
    """A request ready to be sent."""

    endpoint: Endpoint
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    url: str
    timeout: float | None = None

    def serialise(self) -> bytes:
        """The request as bytes on the wire."""
        head = [f"{self.method} {self.target} HTTP/1.1"]
        head.extend(f"{name}: {value}" for name, value in self.headers)
        return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + self.body


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    wanted = name.lower()
    return any(k.lower() == wanted for k, _ in headers)


def _set_length(headers: list[tuple[str, str]], body: bytes, method: str) -> None:
    if _has(headers, "transfer-encoding"):
        return
    kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
    if body or method in ("POST", "PUT", "PATCH") or len(kept) != len(headers):
        kept.append(("Content-Length", str(len(body))))
    headers[:] = kept


def _split_url(url: str) -> tuple[Endpoint, str]:
    endpoint = Endpoint.from_url(url)
    rest = url.split("://", 1)[1]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    target = rest[cut:] or "/"
    if target.startswith("?"):
        target = "/" + target
    return endpoint, target.replace(" ", "%20")


Render = Callable[[str], str]


def _from_path(block: HttpRequest, path: str, values: dict[str, Any], render: Render) -> Prepared:
    url = render(path).strip()
    if "://" not in url.split("?", 1)[0]:
        url = str(values["BaseURL"]) + ("" if url.startswith("/") else "/") + url
    endpoint, target = _split_url(url)
    headers = [(k, render(v)) for k, v in block.headers]
    body = render(block.body).encode("utf-8", "surrogateescape")
    defaults = [
        ("Host", endpoint.authority),
        ("User-Agent", USER_AGENT),
        ("Accept", "*/*"),
        ("Accept-Encoding", "gzip"),
        ("Connection", "keep-alive"),
    ]
    merged = [(k, v) for k, v in defaults if not _has(headers, k)]
    merged = (
        [merged[0], *headers, *merged[1:]]
        if merged and merged[0][0] == "Host"
        else [
            *headers,
            *merged,
        ]
    )
    _set_length(merged, body, block.method)
    return Prepared(endpoint, block.method, target, merged, body, url)


def _duration(text: str) -> float | None:
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    value = float(match.group(1))
    return {"ms": value / 1000, "m": value * 60}.get(match.group(2) or "s", value)


def _from_raw(block: HttpRequest, raw: str, values: dict[str, Any], render: Render) -> Prepared:
    text = render(raw).lstrip()
    timeout: float | None = None
    host_override: str | None = None
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and _ANNOTATION.match(lines[0].strip()):
        match = _ANNOTATION.match(lines.pop(0).strip())
        if match is not None and match.group(1).lower() == "timeout":
            timeout = _duration(match.group(2))
        elif match is not None and match.group(1).lower() == "host":
            host_override = match.group(2).strip()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise HttpError(t("templates.run.raw_empty"))
    try:
        blank = next(i for i, line in enumerate(lines) if not line.strip())
    except StopIteration:
        blank = len(lines)
    request_line = lines[0].strip().split(" ")
    if len(request_line) < 2:
        raise HttpError(t("templates.run.raw_line", line=lines[0][:80]))
    method = request_line[0].upper()
    target = " ".join(request_line[1:-1]) if len(request_line) > 2 else request_line[1]
    headers: list[tuple[str, str]] = []
    for line in lines[1:blank]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    body_text = "\n".join(lines[blank + 1 :]) if blank < len(lines) else ""
    body_text = body_text[:-1] if body_text.endswith("\n") else body_text
    body = body_text.encode("utf-8", "surrogateescape")
    base = str(values["BaseURL"])
    if host_override:
        base = (
            host_override
            if "://" in host_override
            else f"{urlsplit(base).scheme}://{host_override}"
        )
    if "://" in target.split("?", 1)[0]:
        endpoint, target = _split_url(target)
    else:
        endpoint, base_path = _split_url(base)
        base_path = base_path.split("?", 1)[0].rstrip("/")
        if base_path and not block.disable_path_automerge and target.startswith("/"):
            target = base_path + target
    if not _has(headers, "host"):
        headers.insert(0, ("Host", endpoint.authority))
    if not _has(headers, "user-agent"):
        headers.append(("User-Agent", USER_AGENT))
    _set_length(headers, body, method)
    url = f"{endpoint.origin}{target}"
    return Prepared(endpoint, method, target.replace(" ", "%20"), headers, body, url, timeout)


def _with_cookies(state: RunState, block: HttpRequest, prepared: Prepared) -> Prepared:
    jar = state.cookies.get(prepared.endpoint.host)
    if not block.cookie_reuse or not jar or _has(prepared.headers, "cookie"):
        return prepared
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    return replace(prepared, headers=[*prepared.headers, ("Cookie", cookie)])


def _store_cookies(state: RunState, host: str, response: HttpResponse) -> None:
    for value in response.header_values("set-cookie"):
        pair = value.split(";", 1)[0]
        name, sep, content = pair.partition("=")
        if sep and name.strip():
            state.cookies.setdefault(host, {})[name.strip()] = content.strip()


def _send(state: RunState, block: HttpRequest, prepared: Prepared) -> HttpResponse:
    """Send, following redirects as the block allows; every hop passes the scope guard."""
    prepared = _with_cookies(state, block, prepared)
    original = prepared
    response = state.client.send(
        prepared.endpoint,
        prepared.serialise(),
        method=prepared.method,
        timeout=prepared.timeout,
        max_size=block.max_size,
    )
    state.requests += 1
    _store_cookies(state, prepared.endpoint.host, response)
    hops = 0
    follow = block.redirects or block.host_redirects
    while follow and response.status in _REDIRECTS and hops < block.max_redirects:
        location = response.header("location")
        if not location:
            break
        next_url = urljoin(prepared.url, location.strip())
        try:
            endpoint, target = _split_url(next_url)
        except HttpError:
            break
        if not block.redirects and endpoint.host != original.endpoint.host:
            break
        method = prepared.method
        body = prepared.body
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            method, body = "GET", b""
        headers = [
            ("Host", endpoint.authority),
            ("User-Agent", USER_AGENT),
            ("Accept", "*/*"),
            ("Accept-Encoding", "gzip"),
        ]
        _set_length(headers, body, method)
        prepared = _with_cookies(
            state, block, Prepared(endpoint, method, target, headers, body, next_url)
        )
        try:
            response = state.client.send(
                endpoint, prepared.serialise(), method=method, max_size=block.max_size
            )
        except ScopeRefused as exc:
            state.note(t("templates.run.redirect_refused", url=next_url, detail=exc.message))
            break
        state.requests += 1
        _store_cookies(state, endpoint.host, response)
        hops += 1
    response.url = original.url
    response.request = original.serialise().decode("utf-8", "replace")
    return response


def _texts(block: HttpRequest) -> list[str]:
    return [*block.paths, *block.raw, block.body, *(v for _, v in block.headers)]


def _uses_callback_url(state: RunState, block: HttpRequest) -> bool:
    if not state.oob.needed:
        return False
    payload_values = [value for values in block.payloads.values() for value in values]
    return request_texts_use_url([*_texts(block), *payload_values])


def run_http_block(state: RunState, block: HttpRequest) -> bool:
    """Run every request of ``block``; True when its matchers matched at least once.

    Raises OobUnavailable before anything is sent when the template needs out-of-band
    callbacks and the callback server is not configured or cannot listen."""
    hit = False
    if state.oob.needed:
        state.oob.require()
    callback_url = _uses_callback_url(state, block)
    items = list(block.raw) if block.raw else list(block.paths)
    for payload in combinations(block.payloads, block.attack):
        for extra in state.iterations(_texts(block), block.iterate_all):
            accumulated: dict[str, Any] = {}
            # Correlation ids of this sequence of requests (req-condition reads them all).
            sequence_ids: list[str] = []
            for number, item in enumerate(items, 1):
                if state.ctx.should_stop():
                    return hit
                values = {**state.base_variables(), **payload, **extra, **accumulated}
                if callback_url:
                    # A fresh id per request; every marker of the request shares it.
                    correlation_id, url = state.oob.new_url()
                    sequence_ids.append(correlation_id)
                    values.update(with_url(payload, url))
                missing: set[str] = set()

                def render(
                    text: str, values: dict[str, Any] = values, missing: set[str] = missing
                ) -> str:
                    # One pass renders and reports unresolved names: helpers such as
                    # wait_for must not run twice.
                    rendered, absent = render_markers(text, values)
                    missing.update(absent)
                    return rendered

                try:
                    build = _from_raw if block.raw else _from_path
                    prepared = build(block, item, values, render)
                    if missing and not block.skip_variables_check:
                        names = ", ".join(sorted(missing))
                        state.note(t("templates.run.unresolved", names=names))
                        continue
                    response = _send(state, block, prepared)
                except ScopeRefused as exc:
                    state.note(t("templates.run.refused", detail=exc.message))
                    continue
                except HttpError as exc:
                    state.note(t("templates.run.http_error", detail=str(exc)))
                    continue
                current = response_variables(response)
                accumulated.update(with_suffix(current, number))
                variables = {**values, **accumulated, **current}
                last = number == len(items)
                # Binary matchers need the body's bytes, not text decoded from them.
                head = response.head.encode("latin-1", "replace")
                raw_parts = {
                    "body": response.body,
                    "raw": head + b"\r\n" + response.body,
                    "response": head + b"\r\n" + response.body,
                    "all": head + b"\r\n" + response.body,
                }
                evaluation = state.evaluate(
                    block.operators,
                    variables,
                    raw=raw_parts,
                    match=last or not block.req_condition,
                    oob_ids=sequence_ids if block.req_condition else sequence_ids[-1:],
                )
                if evaluation.found:
                    hit = True
                    state.report(
                        "http",
                        block.operators,
                        evaluation,
                        matched_at=response.url,
                        request=response.request,
                        response=str(current["response"]),
                    )
                    if block.stop_at_first_match:
                        return True
    return hit
