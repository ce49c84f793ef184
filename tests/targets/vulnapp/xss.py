"""Cross-site scripting: reflected in four output contexts and a form body, and stored in
the 留言板 guestbook. The ``/v2`` twins encode for the context they write into."""

from __future__ import annotations

import json
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tests.targets.vulnapp.site import (
    Handler,
    Site,
    both,
    esc,
    form_fields,
    link_list,
    page,
    prefix,
)


def js_string(value: str) -> str:
    """``value`` as a JavaScript string literal that is safe inside ``<script>``."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def safe_href(value: str) -> str:
    """``value`` when it is an http(s) or site-relative URL, ``#`` otherwise (escaped)."""
    lowered = value.strip().lower()
    allowed = lowered.startswith(("http://", "https://")) or (
        lowered.startswith("/") and not lowered.startswith("//")
    )
    return esc(value if allowed else "#")


def routes(site: Site) -> list[Route]:
    """The XSS pages, old and new."""
    sqlite = site.backends["sqlite"]

    def index(safe: bool) -> Handler:
        base = prefix(safe)

        async def handle(request: Request) -> Response:
            items = [
                (f"{base}/gzhd/search?q=办事指南", "互动搜索"),
                (f"{base}/gzhd/feedback?name=", "意见反馈"),
                (f"{base}/gzhd/share?title=云州市政务服务网", "分享本站"),
                (f"{base}/gzhd/goto?url=/zwgk/", "外部链接跳转"),
                (f"{base}/gzhd/consult", "在线咨询"),
                (f"{base}/gzhd/guestbook", "留言板"),
                (f"{base}/gzhd/guestbook/list", "查看留言"),
            ]
            return page(site, "公众互动", link_list(items), v2=safe)

        return handle

    def search(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            q = request.query_params.get("q", "")
            shown = esc(q) if safe else q
            body = (
                f'<form method="get" action="{prefix(safe)}/gzhd/search">'
                '<input type="text" name="q"> <button>搜索</button></form>'
                f"<p>您搜索的是：{shown}</p><p>共找到 0 条相关互动信息。</p>"
            )
            return page(site, "互动搜索", body, v2=safe)

        return handle

    def feedback(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            name = request.query_params.get("name", "")
            shown = esc(name, quote=True) if safe else name
            body = (
                f'<form method="get" action="{prefix(safe)}/gzhd/feedback">'
                f'<label>您的称呼：<input type="text" name="name" value="{shown}"></label>'
                "<button>下一步</button></form>"
            )
            return page(site, "意见反馈", body, v2=safe)

        return handle

    def share(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            title = request.query_params.get("title", "")
            literal = js_string(title) if safe else f"'{title}'"
            body = (
                f"<script>var shareTitle = {literal};\n"
                "document.write('<p>分享标题：' + shareTitle.length + ' 字</p>');</script>"
                "<p>复制链接分享给好友。</p>"
            )
            return page(site, "分享本站", body, v2=safe)

        return handle

    def goto(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            url = request.query_params.get("url", "/")
            href = safe_href(url) if safe else url
            body = (
                "<p>您即将离开本站，访问外部网站。</p>"
                f'<p><a id="continue" href="{href}">继续访问</a></p>'
            )
            return page(site, "链接跳转提示", body, v2=safe)

        return handle

    def consult(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            action = f"{prefix(safe)}/gzhd/consult"
            form = (
                f'<form method="post" action="{action}">'
                '<label>咨询内容：<textarea name="content"></textarea></label>'
                '<input type="hidden" name="dept" value="市政务服务局">'
                "<button>提交咨询</button></form>"
            )
            if request.method == "GET":
                return page(site, "在线咨询", form, v2=safe)
            content = (await form_fields(request)).get("content", "")
            shown = esc(content) if safe else content
            body = f"<p>您提交的咨询内容：</p><blockquote>{shown}</blockquote>" + form
            return page(site, "在线咨询", body, v2=safe)

        return handle

    def guestbook(safe: bool) -> Handler:
        table = "guestbook_v2" if safe else "guestbook"
        base = prefix(safe)

        async def handle(request: Request) -> Response:
            if request.method == "POST":
                fields = await form_fields(request)
                name = fields.get("name", "匿名")[:100]
                content = fields.get("content", "")[:2000]
                now = time.strftime("%Y-%m-%d %H:%M")
                await run_in_threadpool(
                    sqlite.query,
                    f"INSERT INTO {table} (name, content, created) VALUES (?, ?, ?)",
                    [name, content, now],
                )
                return RedirectResponse(f"{base}/gzhd/guestbook/list", status_code=303)
            body = (
                f'<form method="post" action="{base}/gzhd/guestbook">'
                '<label>姓名：<input type="text" name="name"></label>'
                '<label>留言：<textarea name="content"></textarea></label>'
                f'<button>提交留言</button></form><p><a href="{base}/gzhd/guestbook/list">'
                "查看全部留言</a></p>"
            )
            return page(site, "留言板", body, v2=safe)

        return handle

    def guestbook_list(safe: bool) -> Handler:
        table = "guestbook_v2" if safe else "guestbook"
        base = prefix(safe)

        async def handle(request: Request) -> Response:
            rows = await run_in_threadpool(
                sqlite.query, f"SELECT id, name, content, created FROM {table} ORDER BY id"
            )
            items = []
            for ident, name, content, created in rows:
                shown_name = esc(str(name)) if safe else str(name)
                shown = esc(str(content)) if safe else str(content)
                items.append(
                    f"<div class='msg'><b>{shown_name}</b> <span>{esc(str(created))}</span>"
                    f'<p>{shown}</p><a href="{base}/gzhd/guestbook/delete?id={ident}">删除</a>'
                    "</div>"
                )
            body = "".join(items) or "<p>暂无留言。</p>"
            return page(site, "留言列表", body, v2=safe)

        return handle

    def guestbook_delete(safe: bool) -> Handler:
        table = "guestbook_v2" if safe else "guestbook"
        base = prefix(safe)

        async def handle(request: Request) -> Response:
            site.state.record("guestbook-delete", request)
            ident = request.query_params.get("id", "")
            if ident.isdigit():
                await run_in_threadpool(sqlite.query, f"DELETE FROM {table} WHERE id = ?", [ident])
            return RedirectResponse(f"{base}/gzhd/guestbook/list", status_code=303)

        return handle

    result: list[Route] = []
    result += both("/gzhd/", ["GET"], index)
    result += both("/gzhd/search", ["GET"], search)
    result += both("/gzhd/feedback", ["GET"], feedback)
    result += both("/gzhd/share", ["GET"], share)
    result += both("/gzhd/goto", ["GET"], goto)
    result += both("/gzhd/consult", ["GET", "POST"], consult)
    result += both("/gzhd/guestbook", ["GET", "POST"], guestbook)
    result += both("/gzhd/guestbook/list", ["GET"], guestbook_list)
    result += both("/gzhd/guestbook/delete", ["GET"], guestbook_delete)
    return result
