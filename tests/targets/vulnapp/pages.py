"""The ordinary pages and the crawler's terrain: home, robots.txt, sitemap.xml, a 500-item
news family, links that exist only in JavaScript, static assets, passive-check pages
(mixed content, verbose errors) and the hostile pages that test a scanner's budgets."""

from __future__ import annotations

import asyncio
import random
import secrets
import traceback
from collections.abc import AsyncIterator
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from tests.targets.vulnapp.site import Handler, Site, both, esc, link_list, page, prefix

NEWS_COUNT = 500
NEWS_PER_PAGE = 20
HUGE_LINKS = 20_000

APP_JS = """// 云州市政务服务网 公共脚本
var SITE = {
  hotline: "/bmfw/hotline",
  weatherApi: "/api/weather"
};
function openGuide() { location.href = '/bmfw/guide'; }
function loadWeather() {
  return fetch('/api/weather').then(function (r) { return r.json(); });
}
function goSpecial() { window.location = "/zt/special"; }
"""

ADMIN_JS = """// 后台公共脚本
function exportUsers() { window.open('/admin/export?type=users'); }
function loadUsers() { return fetch('/admin/api/users'); }
"""

SITE_CSS = "body { font-family: sans-serif; } .nav li { display: inline; margin: 0 8px; }\n"

WIDGET = "<html><head><title>{title}</title></head><body><p>{text}</p></body></html>"

#: A 1x1 transparent PNG.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def news_title(ident: int) -> str:
    """The headline of news item ``ident``."""
    topics = ["营商环境", "一网通办", "政务公开", "便民服务", "数字政府"]
    return f"云州市{topics[ident % len(topics)]}工作动态（第{ident}期）"


def routes(site: Site) -> list[Route]:
    """The ordinary, crawler and hostile pages."""
    config = site.config

    def home(safe: bool) -> Handler:
        base = prefix(safe)

        async def handle(request: Request) -> Response:
            sections = [
                (f"{base}/zwgk/", "政务公开"),
                (f"{base}/gzhd/", "公众互动"),
                (f"{base}/tools/", "便民工具"),
                (f"{base}/zt/", "专题专栏"),
                (f"{base}/news/list?page=1", "新闻动态"),
                (f"{base}/download/", "下载中心"),
                (f"{base}/webdav/", "共享文件夹"),
                (f"{base}/services", "网站服务"),
                (f"{base}/legacy/", "旧版业务系统"),
            ]
            if not safe:
                sections.append(("/uploads/", "上传文件"))
            latest = [(f"{base}/news?id={i}", news_title(i)) for i in range(1, 6)]
            body = (
                f'<form method="get" action="{base}/zwgk/search">'
                '<input type="text" name="keyword" placeholder="搜索办事指南">'
                "<button>搜索</button></form>"
                + link_list(sections)
                + "<h3>最新动态</h3>"
                + link_list(latest)
                + "<p><button onclick=\"location.href='/bmfw/guide'\">办事指南</button>"
                ' <button onclick="goSpecial()">专题活动</button></p>'
            )
            response = page(site, "首页", body, v2=safe)
            visitor = secrets.token_hex(8)
            if safe:
                response.set_cookie(
                    "visitor_id", visitor, path="/v2", httponly=True, secure=True, samesite="lax"
                )
            else:
                response.set_cookie("visitor_id", visitor, path="/", samesite=None)
            return response

        return handle

    async def robots(request: Request) -> Response:
        host = request.url.netloc
        text = (
            "User-agent: *\n"
            "Disallow: /admin/\n"
            "Disallow: /backup/\n"
            "Disallow: /internal/report.html\n"
            "Disallow: /v2/admin/\n"
            f"Sitemap: http://{host}/sitemap.xml\n"
        )
        return PlainTextResponse(text)

    async def sitemap(request: Request) -> Response:
        origin = f"http://{request.url.netloc}"
        paths = ["/", "/zwgk/", "/gzhd/", "/news/list?page=1", "/zwgk/annual-report", "/v2/"]
        urls = "".join(f"<url><loc>{origin}{esc(p)}</loc></url>" for p in paths)
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
        )
        return Response(xml, media_type="application/xml")

    def news(safe: bool) -> Handler:
        base = prefix(safe)

        async def handle(request: Request) -> Response:
            raw = request.query_params.get("id", "1")
            ident = int(raw) if raw.isdigit() else 0
            if not 1 <= ident <= NEWS_COUNT:
                return page(site, "新闻动态", "<p>新闻不存在。</p>", v2=safe, status=404)
            nav = []
            if ident > 1:
                nav.append((f"{base}/news?id={ident - 1}", "上一篇"))
            if ident < NEWS_COUNT:
                nav.append((f"{base}/news?id={ident + 1}", "下一篇"))
            listing = (ident - 1) // NEWS_PER_PAGE + 1
            nav.append((f"{base}/news/list?page={listing}", "返回列表"))
            body = f"<p>{news_title(ident)}。发布日期：2024-03-01。</p>" + link_list(nav)
            return page(site, news_title(ident), body, v2=safe)

        return handle

    def news_list(safe: bool) -> Handler:
        base = prefix(safe)
        pages = (NEWS_COUNT + NEWS_PER_PAGE - 1) // NEWS_PER_PAGE

        async def handle(request: Request) -> Response:
            raw = request.query_params.get("page", "1")
            number = int(raw) if raw.isdigit() else 1
            number = min(max(number, 1), pages)
            first = (number - 1) * NEWS_PER_PAGE + 1
            last = min(first + NEWS_PER_PAGE, NEWS_COUNT + 1)
            items = [(f"{base}/news?id={i}", news_title(i)) for i in range(first, last)]
            pager = [(f"{base}/news/list?page=1", "首页")]
            if number > 1:
                pager.append((f"{base}/news/list?page={number - 1}", "上一页"))
            if number < pages:
                pager.append((f"{base}/news/list?page={number + 1}", "下一页"))
            pager.append((f"{base}/news/list?page={pages}", "末页"))
            body = link_list(items) + f"<p>第 {number}/{pages} 页</p>" + link_list(pager)
            return page(site, "新闻动态", body, v2=safe)

        return handle

    def simple(title: str, text: str) -> Handler:
        async def handle(request: Request) -> Response:
            safe = request.url.path.startswith("/v2")
            return page(site, title, f"<p>{text}</p>", v2=safe)

        return handle

    async def weather(request: Request) -> Response:
        return JSONResponse({"city": "云州", "weather": "晴", "temperature": "18~26℃"})

    def special(safe: bool) -> Handler:
        base = prefix(safe)

        async def handle(request: Request) -> Response:
            items = [
                (f"{base}/zt/wish.shtml?name=市民朋友", "新春贺卡"),
                (f"{base}/zt/card?name=市民", "电子证照"),
                (f"{base}/zt/widget", "天气组件"),
                (f"{base}/zt/special", "专题活动"),
            ]
            origin = f"http://{request.url.netloc}"
            res = origin if not safe else ""
            media = (
                f'<script src="{res}/static/js/zt.js"></script>'
                f'<img src="{res}/static/img/banner.png" alt="专题">'
                f'<iframe src="{res}/static/widget/calendar.html"></iframe>'
            )
            return page(site, "专题专栏", link_list(items) + media, v2=safe)

        return handle

    def calendar(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            raw = request.query_params.get("year", "2024")
            try:
                year = int(raw)
                days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
            except (ValueError, OverflowError):
                if safe:
                    body = "<p>服务器内部错误，请稍后再试。</p>"
                    return page(site, "系统错误", body, v2=True, status=500)
                trace = traceback.format_exc()
                html = (
                    "<html><head><title>Internal Server Error</title></head><body>"
                    "<h1>Internal Server Error</h1><p>DEBUG = True</p>"
                    f"<pre>{esc(trace)}</pre><p>Python 3.6.9 · /srv/zwfw/portal/views.py</p>"
                    "</body></html>"
                )
                return HTMLResponse(html, status_code=500)
            body = f"<p>{year} 年共 {days} 天，法定工作日以国务院公布为准。</p>"
            return page(site, "办事日历", body, v2=safe)

        return handle

    def static(content: bytes | str, media_type: str) -> Handler:
        async def handle(request: Request) -> Response:
            return Response(content, media_type=media_type)

        return handle

    # --- hostile ----------------------------------------------------------------------

    async def hostile_index(request: Request) -> Response:
        items = [
            ("/hostile/slow", "慢速页面"),
            ("/hostile/garbage", "乱码页面"),
            ("/hostile/loop", "循环跳转"),
            ("/hostile/redirect?n=1", "无限跳转"),
            ("/hostile/huge", "超大页面"),
            ("/hostile/huge-declared", "超大页面（声明长度）"),
            ("/hostile/links", "海量链接"),
            ("/hostile/calendar?date=2024-01-01", "无限日历"),
        ]
        return page(site, "系统测试页", link_list(items))

    async def slow(request: Request) -> Response:
        await asyncio.sleep(config.slow_seconds)
        return page(site, "慢速页面", "<p>终于加载完成。</p>")

    async def garbage(request: Request) -> Response:
        noise = random.Random(20240301).randbytes(4096)
        broken = (
            b"<html><head><title>\xff\xfe\xc3\x28 garbage</title><body><div><p><a href='/host"
            b"ile/garb<<age\x00'>\xe4\xb8</a><table><tr><td>"
        )
        return Response(broken + noise + b"</td></html", media_type="text/html; charset=utf-8")

    async def loop_a(request: Request) -> Response:
        return RedirectResponse("/hostile/loop2", status_code=302)

    async def loop_b(request: Request) -> Response:
        return RedirectResponse("/hostile/loop", status_code=302)

    async def endless_redirect(request: Request) -> Response:
        raw = request.query_params.get("n", "1")
        n = int(raw) if raw.isdigit() else 1
        return RedirectResponse(f"/hostile/redirect?n={n + 1}", status_code=302)

    async def huge_chunks(total: int) -> AsyncIterator[bytes]:
        chunk = ("<p>" + "云州市政务服务数据" * 100 + "</p>\n").encode() * 16
        sent = 0
        while sent < total:
            piece = chunk[: total - sent]
            sent += len(piece)
            yield piece
            await asyncio.sleep(0)

    async def huge(request: Request) -> Response:
        return StreamingResponse(huge_chunks(config.huge_bytes), media_type="text/html")

    async def huge_declared(request: Request) -> Response:
        headers = {"Content-Length": str(config.huge_bytes)}
        return StreamingResponse(
            huge_chunks(config.huge_bytes), media_type="text/html", headers=headers
        )

    async def many_links(request: Request) -> Response:
        parts = ["<html><head><title>海量链接</title></head><body><ul>"]
        parts += [f'<li><a href="/hostile/links/{i}">链接 {i}</a></li>' for i in range(HUGE_LINKS)]
        parts.append("</ul></body></html>")
        return HTMLResponse("".join(parts))

    async def link_item(request: Request) -> Response:
        number = request.path_params["number"]
        return HTMLResponse(f"<html><body><p>链接 {number}</p></body></html>")

    async def endless_calendar(request: Request) -> Response:
        try:
            day = date.fromisoformat(request.query_params.get("date", "2024-01-01"))
        except ValueError:
            day = date(2024, 1, 1)
        items = [
            (f"/hostile/calendar?date={day - timedelta(days=1)}", "前一天"),
            (f"/hostile/calendar?date={day + timedelta(days=1)}", "后一天"),
        ]
        return page(site, f"日历 {day}", link_list(items))

    result: list[Route] = [
        Route("/robots.txt", robots, methods=["GET"]),
        Route("/sitemap.xml", sitemap, methods=["GET"]),
        Route("/static/js/app.js", static(APP_JS, "application/javascript"), methods=["GET"]),
        Route("/static/js/admin.js", static(ADMIN_JS, "application/javascript"), methods=["GET"]),
        Route("/static/js/zt.js", static("// 专题\n", "application/javascript"), methods=["GET"]),
        Route("/static/css/site.css", static(SITE_CSS, "text/css"), methods=["GET"]),
        Route("/static/img/banner.png", static(PIXEL, "image/png"), methods=["GET"]),
        Route(
            "/static/widget/weather.html",
            static(WIDGET.format(title="天气", text="云州 晴 18~26℃"), "text/html"),
            methods=["GET"],
        ),
        Route(
            "/static/widget/calendar.html",
            static(WIDGET.format(title="日历", text="2024年3月"), "text/html"),
            methods=["GET"],
        ),
        Route("/api/weather", weather, methods=["GET"]),
        Route("/hostile/", hostile_index, methods=["GET"]),
        Route("/hostile/slow", slow, methods=["GET"]),
        Route("/hostile/garbage", garbage, methods=["GET"]),
        Route("/hostile/loop", loop_a, methods=["GET"]),
        Route("/hostile/loop2", loop_b, methods=["GET"]),
        Route("/hostile/redirect", endless_redirect, methods=["GET"]),
        Route("/hostile/huge", huge, methods=["GET"]),
        Route("/hostile/huge-declared", huge_declared, methods=["GET"]),
        Route("/hostile/links", many_links, methods=["GET"]),
        Route("/hostile/links/{number:int}", link_item, methods=["GET"]),
        Route("/hostile/calendar", endless_calendar, methods=["GET"]),
    ]
    result += both("/", ["GET"], home)
    result += both("/news", ["GET"], news)
    result += both("/news/list", ["GET"], news_list)
    result += both("/zt/", ["GET"], special)
    result += both("/tools/calendar", ["GET"], calendar)
    for path, title, text in (
        ("/bmfw/guide", "办事指南", "个人办事、法人办事、部门服务一站式导航。"),
        ("/bmfw/hotline", "12345热线", "12345政务服务便民热线，7×24小时为您服务。"),
        ("/zt/special", "专题活动", "“我为群众办实事”专题活动。"),
        ("/zwgk/annual-report", "政府信息公开年报", "2023年政府信息公开工作年度报告。"),
        ("/internal/report.html", "内部统计报表", "仅限内部使用：2024年一季度办件统计。"),
    ):
        handler = simple(title, text)
        result.append(Route(path, handler, methods=["GET"]))
    result.append(Route("/v2/zt/special", simple("专题活动", "“我为群众办实事”专题活动。")))
    return result
