"""Shared pieces of the site: run-time state, the page layout and request helpers."""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.targets.vulnapp.config import AppConfig
from tests.targets.vulnapp.db import Backend, seed

esc = html.escape

SITE_NAME = "云州市政务服务网"


@dataclass
class Session:
    """A login session of the old site (``area="old"``) or the new one (``"v2"``)."""

    user: str
    area: str
    created: float
    requests: int = 0


@dataclass
class SiteState:
    """What the application remembers between requests; reset by ``/__test__/reset``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    #: The application's own server-side fetches of its pages (not in ``requests``).
    internal: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    destructive: list[dict[str, Any]] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)

    def count(self, method: str, path: str, *, internal: bool = False) -> None:
        """Count one request (``internal``: a fetch made by the application itself)."""
        with self.lock:
            if internal:
                self.internal += 1
                return
            self.requests += 1
            self.by_path[f"{method} {path}"] += 1

    def record(self, action: str, request: Request) -> None:
        """Remember that the destructive ``action`` was triggered."""
        with self.lock:
            self.destructive.append(
                {
                    "action": action,
                    "method": request.method,
                    "path": request.url.path,
                    "query": request.url.query,
                    "time": time.time(),
                }
            )

    def clear(self) -> None:
        """Forget everything (counters, events, sessions, lockouts)."""
        with self.lock:
            self.requests = 0
            self.internal = 0
            self.by_path.clear()
            self.destructive.clear()
            self.sessions.clear()
            self.failures.clear()

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready data."""
        with self.lock:
            return {
                "requests": self.requests,
                "internal": self.internal,
                "by_path": dict(self.by_path),
                "destructive": list(self.destructive),
                "sessions": len(self.sessions),
                "locked": sorted(u for u, n in self.failures.items() if n >= LOCKOUT_AFTER),
            }


#: Failed logins after which the new site locks an account.
LOCKOUT_AFTER = 5


class Site:
    """Configuration, state and databases, handed to every route builder."""

    def __init__(self, config: AppConfig, backends: dict[str, Backend]) -> None:
        self.config = config
        self.state = SiteState()
        self.backends = backends
        self.vroot = config.data_dir / "root"

    def new_session(self, user: str, area: str) -> str:
        """Start a session and return its token."""
        token = secrets.token_hex(16)
        with self.state.lock:
            self.state.sessions[token] = Session(user, area, time.monotonic())
        return token

    def session_user(self, token: str | None, area: str) -> str | None:
        """The user of a live session (counting this request), None when absent or expired."""
        if not token:
            return None
        with self.state.lock:
            session = self.state.sessions.get(token)
            if session is None or session.area != area:
                return None
            session.requests += 1
            ttl, limit = self.config.session_ttl, self.config.session_max_requests
            expired = (ttl > 0 and time.monotonic() - session.created > ttl) or (
                limit > 0 and session.requests > limit
            )
            if expired:
                del self.state.sessions[token]
                return None
            return session.user

    def end_session(self, token: str | None) -> None:
        """Forget a session."""
        if token:
            with self.state.lock:
                self.state.sessions.pop(token, None)

    def reset(self) -> None:
        """Back to the state right after start-up (the SQLite tables are seeded again)."""
        self.state.clear()
        seed(self.backends["sqlite"])


# --- layout -------------------------------------------------------------------------------

NAV: list[tuple[str, str, str | None]] = [
    ("/", "首页", None),
    ("/zwgk/", "政务公开", None),
    ("/bsdt/", "办事大厅", "mariadb"),
    ("/hdjl/", "互动交流", "postgres"),
    ("/gzhd/", "公众互动", None),
    ("/tools/", "便民工具", None),
    ("/zt/", "专题专栏", None),
    ("/news/list", "新闻动态", None),
    ("/legacy/", "旧版业务系统", None),
    ("/download/", "下载中心", None),
    ("/login", "用户登录", None),
]


def prefix(v2: bool) -> str:
    """The path prefix of the old (``""``) or new (``"/v2"``) site."""
    return "/v2" if v2 else ""


def layout(site: Site, title: str, body: str, *, v2: bool = False, head: str = "") -> str:
    """A whole page of the site: header, navigation, ``body`` and footer."""
    base = prefix(v2)
    links = []
    for path, label, needs in NAV:
        if needs is not None and needs not in site.config.backends:
            continue
        links.append(f'<li><a href="{base}{path}">{label}</a></li>')
    other = '<a href="/">返回旧版</a>' if v2 else '<a href="/v2/">体验新版门户</a>'
    hostile = "" if site.config.hide_hostile else ' | <a href="/hostile/">系统测试页</a>'
    version = "新版" if v2 else "旧版"
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{title} - {SITE_NAME}</title>
<link rel="stylesheet" href="/static/css/site.css">
<script src="/static/js/app.js"></script>
{head}
</head>
<body>
<div class="header"><h1>{SITE_NAME}（{version}）</h1>
<p>云州市人民政府办公室主办 · 让数据多跑路，让群众少跑腿</p></div>
<ul class="nav">{"".join(links)}</ul>
<div class="main">
<h2>{title}</h2>
{body}
</div>
<div class="footer">
<p><a href="{base}/zwgk/page?name=about.html">关于我们</a> |
<a href="{base}/zwgk/page?name=contact.html">联系我们</a> |
<a href="/sitemap.xml">网站地图</a> | {other}{hostile}</p>
<p>主办单位：云州市人民政府办公室 · 滇ICP备00000000号-1 · 政府网站标识码 5300000001</p>
</div>
</body>
</html>
"""


def page(
    site: Site,
    title: str,
    body: str,
    *,
    v2: bool = False,
    status: int = 200,
    head: str = "",
) -> HTMLResponse:
    """An HTML response holding ``layout(...)``."""
    return HTMLResponse(layout(site, title, body, v2=v2, head=head), status_code=status)


def link_list(items: list[tuple[str, str]]) -> str:
    """``<ul>`` of links from ``(href, label)`` pairs."""
    rows = "".join(f'<li><a href="{href}">{label}</a></li>' for href, label in items)
    return f"<ul>{rows}</ul>"


Handler = Callable[[Request], Awaitable[Response]]
Builder = Callable[[bool], Handler]


def both(path: str, methods: list[str], build: Builder) -> list[Route]:
    """``path`` served by ``build(False)`` and its ``/v2`` twin by ``build(True)``."""
    return [
        Route(path, build(False), methods=methods),
        Route("/v2" + path, build(True), methods=methods),
    ]


# --- request helpers ----------------------------------------------------------------------

LOCATIONS = ("query", "form", "json", "cookie", "header")


async def form_fields(request: Request) -> dict[str, str]:
    """The body as an url-encoded form, first value of each field (no multipart)."""
    body = (await request.body()).decode("utf-8", "replace")
    fields: dict[str, str] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        fields.setdefault(key, value)
    return fields


async def json_fields(request: Request) -> dict[str, Any]:
    """The body as a JSON object ({} when it is not one)."""
    try:
        data = json.loads(await request.body() or b"null")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def read_param(request: Request, location: str, name: str) -> str | None:
    """The value of parameter ``name`` at ``location`` (query/form/json/cookie/header)."""
    if location == "query":
        return request.query_params.get(name)
    if location == "form":
        return (await form_fields(request)).get(name)
    if location == "json":
        value = (await json_fields(request)).get(name)
        return None if value is None else str(value)
    if location == "cookie":
        # Pages set these cookies percent-encoded (quote), so they read them back decoded.
        value = request.cookies.get(name)
        return None if value is None else unquote(value)
    if location == "header":
        return request.headers.get(name)
    raise ValueError(f"unknown parameter location {location!r}")
