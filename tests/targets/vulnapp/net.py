"""URL handling: remote file inclusion and SSRF (fetching only ever reaches 127.0.0.1/::1),
open redirects, CRLF injection into response headers, and a CORS API.

CRLF: uvicorn's HTTP/1.1 layer (h11) refuses CR/LF in header values, as it should. The
careless handlers therefore write CR and LF as :data:`CR_MARK` / :data:`LF_MARK`, which h11
lets through, and the server's transport (see ``server.py``) turns them back into real CR
and LF bytes on the wire — so the injected header really reaches the client.
"""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.targets.vulnapp.config import NotLoopback, require_loopback
from tests.targets.vulnapp.site import Handler, Site, both, link_list, page, prefix

CR_MARK = b"\xff\xfe<CR>\xfe\xff"
LF_MARK = b"\xff\xfe<LF>\xfe\xff"

#: User-Agent of the application's own server-side fetches (counted apart).
FETCH_USER_AGENT = "zwfw-portal/2.1 link-preview"
FETCH_LIMIT = 1 << 20
FETCH_TIMEOUT = 5.0

#: Widgets the new site may include (paths on its own origin).
WIDGETS = ("/static/widget/weather.html", "/static/widget/calendar.html")

#: Origins the new site's API shares its data with.
CORS_ALLOWED = ("https://www.yunzhou.gov.cn",)


@dataclass(frozen=True)
class Fetched:
    """What a server-side fetch got."""

    status: int
    headers: dict[str, str]
    body: bytes


def fetch_loopback(url: str) -> Fetched:
    """GET ``url`` (http only) when its host is 127.0.0.1 or ::1; NotLoopback otherwise.

    The host must be an address literal (or ``localhost``): nothing is resolved, no
    redirect is followed, at most 1 MiB is read.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise NotLoopback(f"refused: {url!r}")
    host = require_loopback(parts.hostname)
    conn = http.client.HTTPConnection(host, parts.port or 80, timeout=FETCH_TIMEOUT)
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.request("GET", target, headers={"User-Agent": FETCH_USER_AGENT})
        response = conn.getresponse()
        body = response.read(FETCH_LIMIT)
        return Fetched(response.status, dict(response.getheaders()), body)
    finally:
        conn.close()


def same_origin_widget(url: str, request: Request) -> bool:
    """True when ``url`` is one of :data:`WIDGETS` on the requesting site's own origin."""
    parts = urlsplit(url)
    own = request.url
    return (
        parts.scheme == "http"
        and parts.hostname == own.hostname
        and (parts.port or 80) == (own.port or 80)
        and parts.path in WIDGETS
        and not parts.query
    )


_TITLE = re.compile(rb"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def header_value(value: str) -> bytes:
    """``value`` as header bytes with CR/LF kept (as the transport's markers)."""
    data = value.encode("utf-8")
    return data.replace(b"\r", CR_MARK).replace(b"\n", LF_MARK)


def strip_crlf(value: str) -> str:
    """``value`` without CR and LF."""
    return value.replace("\r", "").replace("\n", "")


def routes(site: Site) -> list[Route]:
    """The URL-handling pages, old and new."""

    def widget(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            default = f"http://{request.url.netloc}{WIDGETS[0]}"
            src = request.query_params.get("src", default)
            if safe and not same_origin_widget(src, request):
                body = "<p>不允许的组件地址。</p>"
                return page(site, "专题组件", body, v2=safe, status=400)
            try:
                fetched = await run_in_threadpool(fetch_loopback, src)
            except (NotLoopback, OSError, http.client.HTTPException):
                return page(site, "专题组件", "<p>组件加载失败。</p>", v2=safe, status=502)
            content = fetched.body.decode("utf-8", "replace")
            body = f"<div class='widget'>{content}</div>"
            return page(site, "专题组件", body, v2=safe)

        return handle

    def preview(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            url = request.query_params.get("url", "")
            if not url:
                return JSONResponse({"code": 400, "message": "缺少参数 url"}, status_code=400)
            if safe and not same_origin_widget(url, request):
                return JSONResponse({"code": 403, "message": "不支持预览该地址"}, status_code=403)
            try:
                fetched = await run_in_threadpool(fetch_loopback, url)
            except (NotLoopback, OSError, http.client.HTTPException):
                return JSONResponse({"code": 502, "message": "无法访问该地址"}, status_code=502)
            match = _TITLE.search(fetched.body)
            title = match.group(1).decode("utf-8", "replace").strip() if match else ""
            return JSONResponse(
                {"code": 0, "status": fetched.status, "title": title, "length": len(fetched.body)}
            )

        return handle

    def jump(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            url = request.query_params.get("url", "/")
            if safe:
                parts = urlsplit(url)
                relative = url.startswith("/") and not url.startswith(("//", "/\\"))
                own = not parts.scheme and not parts.netloc and relative
                if not own:
                    url = "/v2/"
                return RedirectResponse(strip_crlf(url), status_code=302)
            response = Response(status_code=302)
            response.raw_headers.append((b"location", header_value(url)))
            return response

        return handle

    def setlang(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            lang = request.query_params.get("lang", "zh-CN")
            back = f"{prefix(safe)}/"
            response = Response(status_code=302, headers={"Location": back})
            if safe:
                response.set_cookie("lang", strip_crlf(lang)[:32], path="/v2", httponly=True)
            else:
                response.raw_headers.append((b"set-cookie", header_value(f"lang={lang}; Path=/")))
            return response

        return handle

    def mobile_jump(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            path = request.query_params.get("path", "index")
            location = f"{prefix(safe)}/m/{path}"
            if safe:
                return RedirectResponse(quote(strip_crlf(location), safe="/?=&"), status_code=302)
            response = Response(status_code=302)
            response.raw_headers.append((b"location", header_value(location)))
            return response

        return handle

    def mobile(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            body = "<p>手机版正在建设中，请使用电脑访问。</p>"
            return page(site, "手机版", body, v2=safe)

        return handle

    def userinfo(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            data = {"code": 0, "user": {"name": "游客", "region": "云州市", "token": "guest-7f3a"}}
            response = JSONResponse(data)
            origin = request.headers.get("origin")
            if safe:
                if origin in CORS_ALLOWED:
                    response.headers["Access-Control-Allow-Origin"] = origin
                    response.headers["Vary"] = "Origin"
            elif origin:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Allow-Credentials"] = "true"
            return response

        return handle

    def tools_links(safe: bool) -> Handler:
        base = prefix(safe)

        async def handle(request: Request) -> Response:
            origin = f"http://{request.url.netloc}"
            items = [
                (f"{base}/zt/widget?src={origin}{WIDGETS[0]}", "天气组件"),
                (f"{base}/api/link-preview?url={origin}{WIDGETS[1]}", "链接预览"),
                (f"{base}/sso/jump?url=/zwgk/", "统一身份认证跳转"),
                (f"{base}/setlang?lang=en", "English"),
                (f"{base}/m/jump?path=index", "手机版"),
                (f"{base}/api/user/info", "用户信息接口"),
            ]
            return page(site, "网站服务", link_list(items), v2=safe)

        return handle

    result: list[Route] = []
    result += both("/zt/widget", ["GET"], widget)
    result += both("/api/link-preview", ["GET"], preview)
    result += both("/sso/jump", ["GET"], jump)
    result += both("/setlang", ["GET"], setlang)
    result += both("/m/jump", ["GET"], mobile_jump)
    result += both("/m/{page}", ["GET"], mobile)
    result += both("/api/user/info", ["GET"], userinfo)
    result += both("/services", ["GET"], tools_links)
    return result
