"""In-process targets for the SQL injection check: a MockHttpTarget whose handlers query a
real SQLite database (a file in a temporary directory, one connection per request).

Vulnerable pages build SQL by pasting the value in; their safe counterparts bind it as a
parameter. The look-alikes a scanner must not report are here too: a page that always
prints a database error, a page that prints a driver's type error for any non-number (a
parameterised query on a typed column), a page that changes on every load, a page that
echoes the value back, and a "tarpit" that slows every request mentioning a delay
function without running any SQL.
"""

from __future__ import annotations

import html
import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from shaobing.web.request import FORM_TYPE, JSON_TYPE, InsertionPoint, Location, WebRequest
from tests.targets.http import MockHttpTarget, Request, Response
from tests.targets.vulnapp.manifest import Entry

ROWS = [
    (1, "alpha", "营业执照办理指南"),
    (2, "beta", "不动产登记办理指南"),
    (3, "gamma", "社保卡申领办理指南"),
]
TARPIT_WORDS = ("sleep", "waitfor", "dbms_pipe", "recursive")
TARPIT_SECONDS = 1.5


def layout(title: str, body: str) -> str:
    """A page with enough surrounding text for the comparison to be realistic."""
    nav = "".join(f"<li><a href='/n{i}'>栏目{i}</a></li>" for i in range(12))
    return (
        f"<html><head><title>{title}</title></head><body><h1>示例政务网站</h1><ul>{nav}</ul>"
        f"<div class='main'>{body}</div><p>主办单位：示例市人民政府办公室 版权所有</p>"
        "</body></html>"
    )


def html_response(body: str, status: int = 200) -> Response:
    """An HTML response with the page layout around ``body``."""
    return Response(status, layout("查询", body), {"Content-Type": "text/html; charset=utf-8"})


def param(request: Request, location: str, name: str) -> str:
    """The value of ``name`` at ``location`` (query, form, json, cookie, header)."""
    if location == "query":
        return parse_qs(urlsplit(request.target).query, keep_blank_values=True).get(name, [""])[0]
    if location == "form":
        return request.form().get(name, "")
    if location == "json":
        data = request.json()
        return str(data.get(name, "")) if isinstance(data, dict) else ""
    if location == "cookie":
        for part in request.header("Cookie").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return ""
    return request.header(name)


class SqliteSite:
    """The database behind the pages."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "site.sqlite3"
        conn = sqlite3.connect(self.path)
        conn.execute("CREATE TABLE items (id INTEGER, name TEXT, title TEXT)")
        conn.executemany("INSERT INTO items VALUES (?, ?, ?)", ROWS)
        conn.commit()
        conn.close()

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run one statement on a new connection."""
        conn = sqlite3.connect(self.path)
        try:
            return list(conn.execute(sql, params).fetchall())
        finally:
            conn.close()


def render(rows: list[tuple[object, ...]]) -> str:
    """The result part of a page."""
    if not rows:
        return "<p>未找到相关记录。</p>"
    items = "".join(f"<li>{html.escape(str(r[2]))}（{html.escape(str(r[1]))}）</li>" for r in rows)
    return f"<ul class='rows'>{items}</ul>"


Handler = Callable[[Request], Response]


def careless(site: SqliteSite, sql: str, location: str, name: str, *, show: bool) -> Handler:
    """A page running ``sql`` with the value pasted in at ``{v}``; ``show``: print errors."""

    def handle(request: Request) -> Response:
        value = param(request, location, name)
        try:
            rows = site.query(sql.replace("{v}", value))
        except sqlite3.Error as exc:
            if show:
                return html_response(f"<pre>sqlite3.{type(exc).__name__}: {exc}</pre>", 500)
            rows = []
        return html_response(render(rows))

    return handle


def careful(site: SqliteSite, sql: str, location: str, name: str, *, numeric: bool) -> Handler:
    """The same page with the value bound as a parameter (no error is ever shown)."""

    def handle(request: Request) -> Response:
        value = param(request, location, name)
        if numeric and not value.strip().isdigit():
            return html_response(render([]))
        rows = site.query(sql, (int(value) if numeric else value,))
        return html_response(render(rows))

    return handle


def static_error(site: SqliteSite) -> Handler:
    """A safe page whose template always shows a leftover MySQL error text."""

    def handle(request: Request) -> Response:
        value = param(request, "query", "id")
        rows = site.query("SELECT * FROM items WHERE id = ?", (value,))
        notice = (
            "<div class='debug'>Warning: mysqli_query(): You have an error in your SQL "
            "syntax; check the manual that corresponds to your MySQL server version</div>"
        )
        return html_response(notice + render(rows))

    return handle


def typed_error(site: SqliteSite) -> Handler:
    """A safe page whose driver rejects any non-number for a typed column, as PostgreSQL
    does for a bound parameter, and prints the error."""

    def handle(request: Request) -> Response:
        value = param(request, "query", "id")
        try:
            number = int(value)
        except ValueError:
            text = f'invalid input syntax for type integer: "{value}"'
            return html_response(
                f"<pre>psycopg.errors.InvalidTextRepresentation: {text}</pre>", 500
            )
        return html_response(render(site.query("SELECT * FROM items WHERE id = ?", (number,))))

    return handle


def random_page(site: SqliteSite) -> Handler:
    """A safe page that shows a random pick of the rows and a random token each time."""

    def handle(request: Request) -> Response:
        value = param(request, "query", "id")
        rows = site.query("SELECT * FROM items WHERE id <= ?", (value,))
        shown = [r for r in ROWS if secrets.randbelow(2)] + list(rows)
        token = secrets.token_hex(8)
        return html_response(render(shown) + f"<p>访问编号 {token}</p>")

    return handle


def echo_page(site: SqliteSite) -> Handler:
    """A safe search page that echoes the keyword and binds it in a LIKE pattern."""

    def handle(request: Request) -> Response:
        value = param(request, "query", "q")
        rows = site.query("SELECT * FROM items WHERE title LIKE ?", (f"%{value}%",))
        return html_response(f"<p>您搜索的是：{html.escape(value)}</p>" + render(rows))

    return handle


def tarpit(site: SqliteSite) -> Handler:
    """A safe page behind a filter that delays any request naming a delay function."""

    def handle(request: Request) -> Response:
        value = param(request, "query", "id")
        if any(word in value.lower() for word in TARPIT_WORDS):
            time.sleep(TARPIT_SECONDS)
        rows = site.query("SELECT * FROM items WHERE id = ?", (value,))
        return html_response(render(rows))

    return handle


def build_target(directory: Path) -> MockHttpTarget:
    """The mock site (not started)."""
    site = SqliteSite(directory)
    by_id = "SELECT id, name, title FROM items WHERE id = {v}"
    by_name = "SELECT id, name, title FROM items WHERE name = '{v}'"
    routes: dict[str, Handler] = {
        # Contexts the boolean technique must handle: a value inside a function call
        # (parenthesised), a double-quoted string (SQLite falls back to a string literal).
        "/paren": careless(
            site,
            "SELECT id, name, title FROM items WHERE name = LOWER('{v}')",
            "query",
            "name",
            show=False,
        ),
        "/double": careless(
            site,
            'SELECT id, name, title FROM items WHERE name = "{v}"',
            "query",
            "name",
            show=False,
        ),
        "/numeric-blind": careless(site, by_id, "query", "id", show=False),
        "/string-error": careless(site, by_name, "query", "name", show=True),
        "/safe/numeric": careful(
            site, "SELECT id, name, title FROM items WHERE id = ?", "query", "id", numeric=True
        ),
        "/safe/string": careful(
            site, "SELECT id, name, title FROM items WHERE name = ?", "query", "name", numeric=False
        ),
        "/static-error": static_error(site),
        "/typed-error": typed_error(site),
        "/random": random_page(site),
        "/echo": echo_page(site),
        "/tarpit": tarpit(site),
    }
    return MockHttpTarget(dict(routes))


def entry_value(entry: Entry, origin: str) -> str:
    """The benign value of a manifest entry (UTF-8 in a header or cookie would reach the
    application as Latin-1 mojibake: an empty keyword, which matches every row as the
    benign one does)."""
    value = entry.sample(origin) or ""
    if entry.location in ("cookie", "header") and not value.isascii():
        return ""
    return value


def entry_request(origin: str, entry: Entry) -> tuple[WebRequest, InsertionPoint]:
    """The request a manifest entry describes on the application at ``origin``, and the
    insertion point of its parameter (shared by the tests and bench/webscan_sqlmap.py)."""
    assert entry.parameter is not None and entry.location is not None
    name, value, url = entry.parameter, entry_value(entry, origin), origin + entry.path
    location = Location(entry.location)
    if location is Location.QUERY:
        request = WebRequest(entry.method, f"{url}?{urlencode({name: value})}")
    elif location is Location.FORM:
        body = urlencode({name: value}).encode()
        request = WebRequest(entry.method, url, (("Content-Type", FORM_TYPE),), body)
    elif location is Location.JSON:
        body = json.dumps({name: value}, ensure_ascii=False).encode()
        request = WebRequest(entry.method, url, (("Content-Type", JSON_TYPE),), body)
    elif location is Location.COOKIE:
        request = WebRequest(entry.method, url, (("Cookie", f"{name}={value}"),))
    else:
        request = WebRequest(entry.method, url, ((name, value),))
    path = (name,) if location is Location.JSON else ()
    return request, InsertionPoint(location, name, value, json_path=path)
