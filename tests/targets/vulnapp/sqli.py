"""SQL injection pages: error-based, boolean-blind, time-blind and UNION-able, on SQLite,
MariaDB and PostgreSQL, in every parameter location, each with a parameterised twin under
``/v2``. SQL Server, Oracle and DM (达梦) error pages are emulated on top of SQLite.

The careless handlers build SQL by string concatenation; the twins pass the value as a
bound parameter and never show a database error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.targets.vulnapp.db import Backend
from tests.targets.vulnapp.site import (
    LOCATIONS,
    Handler,
    Site,
    esc,
    link_list,
    page,
    prefix,
    read_param,
)


@dataclass(frozen=True)
class Technique:
    """One injection technique and the page feature that carries it."""

    key: str
    feature: str
    title: str
    param: str
    cookie: str
    header: str
    default: str


TECHNIQUES = {
    "error": Technique("error", "notice", "通知公告", "id", "notice_id", "X-Forwarded-For", "1"),
    "boolean": Technique("boolean", "policy", "政策文件", "id", "policy_id", "X-Dept-Id", "1"),
    "union": Technique(
        "union", "search", "站内搜索", "keyword", "search_keyword", "X-Search-Keyword", "指南"
    ),
    "time": Technique(
        "time", "progress", "办件进度", "case_no", "case_no", "X-Forwarded-For", "YZ2024030100001"
    ),
}

#: Section of the site backed by each real database.
SECTIONS = {
    "sqlite": ("zwgk", "政务公开"),
    "mariadb": ("bsdt", "办事大厅"),
    "postgres": ("hdjl", "互动交流"),
}

#: Which technique sits in which parameter locations, per database.
MATRIX: dict[str, dict[str, tuple[str, ...]]] = {
    "sqlite": {"error": LOCATIONS, "boolean": LOCATIONS, "union": LOCATIONS},
    "mariadb": {
        "error": LOCATIONS,
        "boolean": ("query",),
        "union": ("query",),
        "time": ("query", "form", "cookie"),
    },
    "postgres": {
        "error": LOCATIONS,
        "boolean": ("query",),
        "union": ("query",),
        "time": ("query", "json", "header"),
    },
}

#: Emulated products: (path, label). Their parser is SQLite, their error page the product's.
EMULATED = {
    "mssql": ("/legacy/tax/notice.aspx", "税务办事系统（ASP.NET + SQL Server）"),
    "oracle": ("/legacy/social/notice.jsp", "社保查询系统（JSP + Oracle）"),
    "dm": ("/legacy/hpf/notice.do", "公积金查询系统（Java + 达梦 DM8）"),
}


def case_path(section: str, technique: Technique, location: str) -> str:
    """Path of the page carrying ``technique`` at ``location`` in ``section``."""
    feature = technique.feature
    return {
        "query": f"/{section}/{feature}",
        "form": f"/{section}/{feature}/form",
        "json": f"/{section}/api/{feature}",
        "cookie": f"/{section}/{feature}/recent",
        "header": f"/{section}/{feature}/stat",
    }[location]


def param_name(technique: Technique, location: str) -> str:
    """Name of the injectable parameter at ``location``."""
    if location == "cookie":
        return technique.cookie
    if location == "header":
        return technique.header
    return technique.param


# --- the queries --------------------------------------------------------------------------


def careless_sql(technique: str, value: str) -> str:
    """The statement a careless handler builds by pasting ``value`` in."""
    if technique == "error":
        return f"SELECT id, title, content FROM notices WHERE id = '{value}'"
    if technique == "boolean":
        return f"SELECT id, title, content FROM policies WHERE id = {value}"
    if technique == "union":
        return f"SELECT title, publish_date FROM articles WHERE title LIKE '%{value}%'"
    return f"SELECT status FROM cases WHERE case_no = '{value}'"


def safe_query(backend: Backend, technique: str, value: str) -> list[tuple[Any, ...]]:
    """The same lookup with ``value`` bound as a parameter."""
    mark = backend.placeholder
    if technique in ("error", "boolean"):
        table = "notices" if technique == "error" else "policies"
        if not value.strip().isdigit():
            return []
        return backend.query(
            f"SELECT id, title, content FROM {table} WHERE id = {mark}", [int(value)]
        )
    if technique == "union":
        return backend.query(
            f"SELECT title, publish_date FROM articles WHERE title LIKE {mark}", [f"%{value}%"]
        )
    return backend.query(f"SELECT status FROM cases WHERE case_no = {mark}", [value])


def error_text(exc: BaseException) -> str:
    """How a careless Python application prints a database error."""
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}: {exc}"


# --- rendering ----------------------------------------------------------------------------


def render_rows(technique: Technique, rows: list[tuple[Any, ...]]) -> str:
    """The result part of a page (the same text for every failure of the blind kinds)."""
    if technique.key == "time":
        return "<p class='notice'>查询请求已受理，办理结果将以短信方式通知您。</p>"
    if technique.key == "union":
        if not rows:
            return "<p>未找到相关结果。</p>"
        items = "".join(f"<li>{esc(str(r[0]))} <span>{esc(str(r[1]))}</span></li>" for r in rows)
        return f"<ul class='results'>{items}</ul>"
    if not rows:
        return f"<p>未找到相关{technique.title}。</p>"
    row = rows[0]
    return (
        f"<div class='article'><h3>{esc(str(row[1]))}</h3>"
        f"<p>{esc(str(row[2]))}</p><p>文号：{esc(str(row[0]))}</p></div>"
    )


def form_html(technique: Technique, action: str, value: str) -> str:
    """The HTML form of the form-body location."""
    return (
        f'<form method="post" action="{action}">'
        f'<label>{technique.title}编号/关键词：<input type="text" name="{technique.param}" '
        f'value="{esc(value)}"></label> <button type="submit">查询</button></form>'
    )


def make_handler(
    site: Site,
    backend: Backend,
    technique: Technique,
    location: str,
    *,
    safe: bool,
    section: str,
) -> Handler:
    """The endpoint of one (database, technique, location) page."""
    path = prefix(safe) + case_path(section, technique, location)
    name = param_name(technique, location)

    async def handle(request: Request) -> Response:
        if location == "form" and request.method == "GET":
            body = form_html(technique, path, technique.default)
            return page(site, f"{technique.title}查询", body, v2=safe)
        value = await read_param(request, location, name)
        if value is None:
            value = technique.default
        elif location in ("cookie", "header"):
            value = unquote(value)  # non-ASCII travels percent-encoded there
        error: str | None = None
        try:
            if safe:
                rows = await run_in_threadpool(safe_query, backend, technique.key, value)
            else:
                sql = careless_sql(technique.key, value)
                rows = await run_in_threadpool(backend.query, sql)
        except Exception as exc:  # noqa: BLE001 - every driver error is shown or hidden here
            rows = []
            if technique.key == "error":
                error = "查询失败，请稍后再试。" if safe else error_text(exc)
        if location == "json":
            payload: dict[str, Any] = {"code": 0, "data": [[str(c) for c in r] for r in rows]}
            if technique.key == "time":
                payload["data"] = "accepted"
            if error is not None:
                payload = {"code": 500, "message": error}
            return JSONResponse(payload, status_code=500 if error else 200)
        if error is not None:
            body = f"<div class='error'><h3>系统错误</h3><pre>{esc(error)}</pre></div>"
            return page(site, technique.title, body, v2=safe, status=500)
        body = render_rows(technique, rows)
        if location == "form":
            shown = "" if technique.key == "time" else value
            body = form_html(technique, path, shown) + body
        response = page(site, technique.title, body, v2=safe)
        if location == "query":
            cookie_path = f"{prefix(safe)}/{section}/"
            response.set_cookie(
                technique.cookie, quote(value[:64]), path=cookie_path, samesite=None
            )
        return response

    return handle


def section_index(site: Site, db: str, *, safe: bool) -> Handler:
    """The index page of a database's section, linking every page of it."""
    section, title = SECTIONS[db]
    base = prefix(safe)

    async def handle(request: Request) -> Response:
        items: list[tuple[str, str]] = []
        scripts: list[str] = []
        for key, locations in MATRIX[db].items():
            technique = TECHNIQUES[key]
            for location in locations:
                path = base + case_path(section, technique, location)
                if location == "query":
                    query = f"?{technique.param}={technique.default}"
                    items.append((path + query, f"{technique.title}"))
                elif location == "form":
                    items.append((path, f"{technique.title}（表单查询）"))
                elif location == "cookie":
                    items.append((path, f"最近查看的{technique.title}"))
                elif location == "header":
                    items.append((path, f"{technique.title}访问统计"))
                else:
                    scripts.append(
                        f"function load_{technique.feature}(v) {{ return fetch('{path}', "
                        "{method: 'POST', headers: {'Content-Type': 'application/json'}, "
                        f"body: JSON.stringify({{{technique.param}: v}})}}); }}"
                    )
        script = f"<script>\n{chr(10).join(scripts)}\n</script>" if scripts else ""
        body = link_list(items) + script
        return page(site, title, body, v2=safe)

    return handle


# --- emulated products --------------------------------------------------------------------

_NEAR = re.compile(r'near "(.*?)": syntax error')
_TOKEN = re.compile(r'unrecognized token: "(.*)"')


def emulated_error(product: str, exc: BaseException, value: str) -> str:
    """The error page text of ``product`` for the SQLite parse error ``exc``."""
    message = str(exc)
    unclosed = _TOKEN.search(message)
    near = _NEAR.search(message)
    fragment = unclosed.group(1)[1:] if unclosed else (near.group(1) if near else value)
    if product == "mssql":
        detail = (
            f"Unclosed quotation mark after the character string '{fragment}'."
            if unclosed
            else f"Incorrect syntax near '{fragment}'."
        )
        return (
            "Server Error in '/' Application.\n\n"
            f"{detail}\n\n"
            "Description: An unhandled exception occurred during the execution of the current "
            "web request.\n"
            f"Exception Details: System.Data.SqlClient.SqlException: {detail}\n\n"
            f"[SqlException (0x80131904): {detail}]\n"
            "   System.Data.SqlClient.SqlConnection.OnError(SqlException exception, "
            "Boolean breakConnection, Action`1 wrapCloseInAction) +2444190\n"
            "   System.Data.SqlClient.SqlDataReader.TryConsumeMetaData() +33\n"
            "   Tax.Web.NoticeDetail.Page_Load(Object sender, EventArgs e) in "
            "D:\\wwwroot\\tax\\notice.aspx.cs:42\n\n"
            "Version Information: Microsoft .NET Framework Version:4.0.30319; "
            "ASP.NET Version:4.7.3930.0"
        )
    if product == "oracle":
        detail = (
            "ORA-01756: quoted string not properly terminated"
            if unclosed
            else "ORA-00933: SQL command not properly ended"
        )
        return (
            f"java.sql.SQLSyntaxErrorException: {detail}\n\n"
            "\tat oracle.jdbc.driver.T4CTTIoer11.processError(T4CTTIoer11.java:494)\n"
            "\tat oracle.jdbc.driver.T4CTTIoer11.processError(T4CTTIoer11.java:446)\n"
            "\tat oracle.jdbc.driver.T4C8Oall.processError(T4C8Oall.java:1054)\n"
            "\tat oracle.jdbc.driver.OracleStatement.executeQuery(OracleStatement.java:1624)\n"
            "\tat com.yunzhou.social.dao.NoticeDao.find(NoticeDao.java:57)\n"
        )
    detail = "字符串未结束" if unclosed else "语法分析出错"
    code = -2007 if not unclosed else -2013
    return (
        f"dm.jdbc.driver.DMException: 第1 行附近出现错误:\n{detail}\n"
        f"错误代码: [{code}]\n"
        "\tat dm.jdbc.driver.DBError.throwz(DBError.java:684)\n"
        "\tat dm.jdbc.a.a.y(MSG.java:1164)\n"
        "\tat dm.jdbc.driver.DmdbPreparedStatement.executeQuery(DmdbPreparedStatement.java:1125)\n"
        "\tat com.yunzhou.hpf.dao.NoticeDao.find(NoticeDao.java:63)\n"
    )


def emulated_handler(site: Site, product: str, *, safe: bool) -> Handler:
    """A notice page of an old system: SQLite parses, the product's error page is shown."""
    backend = site.backends["sqlite"]
    technique = TECHNIQUES["error"]

    async def handle(request: Request) -> Response:
        value = request.query_params.get("id", "1")
        try:
            if safe:
                rows = await run_in_threadpool(safe_query, backend, "error", value)
            else:
                rows = await run_in_threadpool(backend.query, careless_sql("error", value))
        except Exception as exc:  # noqa: BLE001 - the emulated product's error page
            if safe:
                return page(site, "系统提示", "<p>查询失败，请稍后再试。</p>", v2=safe, status=500)
            text = emulated_error(product, exc, value)
            return HTMLResponse(
                f"<html><head><title>Error</title></head><body><pre>{esc(text)}</pre>"
                "</body></html>",
                status_code=500,
            )
        return page(site, technique.title, render_rows(technique, rows), v2=safe)

    return handle


async def legacy_index_body(site: Site, *, safe: bool) -> str:
    """The list of the old business systems."""
    items = [(prefix(safe) + path + "?id=1", label) for path, label in EMULATED.values()]
    return "<p>以下系统将于年底迁移至新平台：</p>" + link_list(items)


def routes(site: Site) -> list[Route]:
    """Every SQL injection page and its twin."""
    result: list[Route] = []
    for db, techniques in MATRIX.items():
        backend = site.backends.get(db)
        if backend is None:
            continue
        section = SECTIONS[db][0]
        for safe in (False, True):
            base = prefix(safe)
            index = section_index(site, db, safe=safe)
            result.append(Route(f"{base}/{section}/", index, methods=["GET"]))
            for key, locations in techniques.items():
                technique = TECHNIQUES[key]
                for location in locations:
                    handler = make_handler(
                        site, backend, technique, location, safe=safe, section=section
                    )
                    methods = {"form": ["GET", "POST"], "json": ["POST"]}.get(location, ["GET"])
                    path = base + case_path(section, technique, location)
                    result.append(Route(path, handler, methods=methods))
    for product, (path, _label) in EMULATED.items():
        for safe in (False, True):
            handler = emulated_handler(site, product, safe=safe)
            result.append(Route(prefix(safe) + path, handler, methods=["GET"]))

    async def legacy(request: Request) -> Response:
        safe = request.url.path.startswith("/v2")
        return page(site, "旧版业务系统", await legacy_index_body(site, safe=safe), v2=safe)

    result.append(Route("/legacy/", legacy, methods=["GET"]))
    result.append(Route("/v2/legacy/", legacy, methods=["GET"]))
    return result
