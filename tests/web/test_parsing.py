"""HTML, URL, form and request helpers of the web scanner."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.web.crawler import _robots_paths, _sitemap_urls, json_requests
from shaobing.web.forms import form_request, is_destructive, sample_value
from shaobing.web.html import FormField, is_static, parse_page, script_urls
from shaobing.web.request import (
    FORM_TYPE,
    JSON_TYPE,
    MASK,
    Location,
    WebRequest,
    curl_command,
    insertion_points,
    request_text,
)
from shaobing.web.urls import WebScope, normalise, pattern

PAGE = """<html><head><title> 政务 服务 </title><base href="/portal/">
<meta http-equiv="refresh" content="5; url=/portal/next">
<script src="app.js"></script></head><body>
<a href="news?id=1">新闻</a> <a href="http://other.example/x">外站</a>
<a href="javascript:void(0)">x</a> <a href="#top">top</a> <a href="mailto:a@b">m</a>
<a href="/portal/user/delete?id=3">删除</a>
<img src="logo.png"><iframe src="frame.html"></iframe>
<form action="search" method="get"><input name="q"><select name="type">
<option value="">--</option><option value="all" selected>全部</option></select>
<input type="submit" value="搜索"></form>
<form action="/portal/login" method="POST"><input name="username">
<input type="password" name="password"><input type="hidden" name="csrf" value="abc">
<input type="checkbox" name="remember"><textarea name="note">hi</textarea>
<button>登录</button></form>
<script>fetch('/api/list?page=1'); location.href = "/portal/after";
fetch("/api/user", {method: "POST", headers: {"Content-Type": "application/json"},
 body: JSON.stringify({name: "张三", age: 18, uid: userId})});</script>
</body></html>"""


def test_parse_page_finds_links_forms_and_script_urls() -> None:
    page = parse_page("http://127.0.0.1:8000/index.html", PAGE)
    assert page.title == "政务 服务"
    assert page.base == "http://127.0.0.1:8000/portal/"
    links = set(page.links)
    for wanted in (
        "http://127.0.0.1:8000/portal/news?id=1",
        "http://other.example/x",
        "http://127.0.0.1:8000/portal/next",
        "http://127.0.0.1:8000/portal/frame.html",
        "http://127.0.0.1:8000/api/list?page=1",
        "http://127.0.0.1:8000/portal/after",
        "http://127.0.0.1:8000/portal/user/delete?id=3",
    ):
        assert wanted in links, wanted
    assert not any(link.startswith(("javascript:", "mailto:")) for link in links)
    assert "http://127.0.0.1:8000/portal/logo.png" in page.resources
    assert page.scripts == ["http://127.0.0.1:8000/portal/app.js"]
    assert page.link_texts["http://127.0.0.1:8000/portal/user/delete?id=3"] == "删除"
    search, login = page.forms
    assert (search.method, search.action) == ("GET", "http://127.0.0.1:8000/portal/search")
    assert [f.name for f in search.fields] == ["q", "type"]
    assert search.fields[1].value == "all"
    assert login.has_password and "登录" in login.submit_labels
    assert {f.name: f.value for f in login.fields}["note"] == "hi"


def test_form_requests_use_sample_values() -> None:
    page = parse_page("http://127.0.0.1:8000/", PAGE)
    search = form_request(page.forms[0])
    assert search is not None
    # A search box stays empty: an empty search lists everything.
    assert search.url == "http://127.0.0.1:8000/portal/search?q=&type=all"
    login = form_request(page.forms[1])
    assert login is not None and login.method == "POST" and login.content_type == FORM_TYPE
    assert dict(login.form()) == {
        "username": "test",
        "password": "Test@123456",
        "csrf": "abc",
        "remember": "on",
        "note": "hi",
    }
    assert sample_value(FormField("email", "email")) == "test@example.com"
    assert sample_value(FormField("user_mobile", "text")) == "13800000000"


def test_destructive_words() -> None:
    for text in ("/user/delete?id=1", "/logout", "删除用户", "btn-drop", "/admin/reset", "注销"):
        assert is_destructive(text), text
    for text in ("/model/list", "/news?format=json", "/platform", "/user/edit", "查询"):
        assert not is_destructive(text), text


def test_script_urls_and_json_api_calls() -> None:
    js = "var a = '/api/v1/items'; $.get(\"/api/v1/detail?id=2\"); const b = `${x}/y`;"
    assert script_urls("http://h:1/a/", js) == [
        "http://h:1/api/v1/items",
        "http://h:1/api/v1/detail?id=2",
    ]
    (api,) = json_requests("http://h:1/", PAGE)
    assert (api.method, api.url, api.content_type) == ("POST", "http://h:1/api/user", JSON_TYPE)
    assert json.loads(api.body) == {"name": "张三", "age": 18, "uid": "test"}


def test_urls_scope_and_patterns() -> None:
    assert normalise("HTTP://Example.COM:80/a/./b/../c?x=1#frag") == "http://example.com/a/c?x=1"
    assert normalise("https://h:443") == "https://h/"
    # Non-ASCII and unsafe query characters are encoded as browsers do (servers refuse raw).
    assert (
        normalise("http://h/s?t=云州 x<y&a=%41") == "http://h/s?t=%E4%BA%91%E5%B7%9E%20x%3Cy&a=%41"
    )
    assert pattern("GET", "http://h/news?id=1") == pattern("get", "http://h/news?id=500")
    assert pattern("GET", "http://h/news/2024/12345") == pattern("GET", "http://h/news/2025/99")
    assert pattern("GET", "http://h/news?id=1") != pattern("GET", "http://h/news?page=1")
    scope = WebScope.for_start("http://127.0.0.1:8000/app/index.php", excluded=["/app/static"])
    assert scope.allows("http://127.0.0.1:8000/app/x?y=1")
    assert scope.allows("http://127.0.0.1:8000/app")
    assert not scope.allows("http://127.0.0.1:8000/other")
    assert not scope.allows("http://127.0.0.1:8001/app/x")
    assert not scope.allows("https://127.0.0.1:8000/app/x")
    assert not scope.allows("http://127.0.0.1:8000/app/static/a.js")
    assert not scope.allows("ftp://127.0.0.1/app/")
    assert is_static("http://h/a/logo.PNG") and not is_static("http://h/a/app.js")


def test_robots_and_sitemaps() -> None:
    pages, maps = _robots_paths(
        "http://h/", "User-agent: *\nDisallow: /admin/\nAllow: /pub/*.html$\nSitemap: /sm.xml\n"
    )
    assert pages == ["http://h/admin/", "http://h/pub/"] and maps == ["http://h/sm.xml"]
    body = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    body += b"<url><loc> http://h/a </loc></url><url><loc>http://h/b</loc></url></urlset>"
    assert _sitemap_urls(body) == (["http://h/a", "http://h/b"], [])
    index = b"<sitemapindex><sitemap><loc>http://h/s1.xml</loc></sitemap></sitemapindex>"
    assert _sitemap_urls(index) == ([], ["http://h/s1.xml"])
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<urlset><url><loc>&b;</loc></url></urlset>"
    )
    assert _sitemap_urls(bomb) == ([], [])
    xxe = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><urlset><loc>&e;</loc></urlset>'
    assert _sitemap_urls(xxe) == ([], [])


def test_insertion_points_and_injection() -> None:
    body = json.dumps({"user": {"name": "a", "tags": ["x"]}, "age": 3}).encode()
    request = WebRequest(
        "POST",
        "http://h/api?id=1&id=2",
        (("Content-Type", JSON_TYPE), ("Cookie", "sid=abc; lang=zh")),
        body,
    )
    points = insertion_points(request)
    labels = [p.label() for p in points]
    assert labels == [
        "query:id",
        "query:id",
        "json:user.name",
        "json:user.tags.0",
        "json:age",
        "cookie:sid",
        "cookie:lang",
        "header:User-Agent",
        "header:Referer",
        "header:X-Forwarded-For",
    ]
    second = points[1].inject(request, "'", append=True)
    assert second.url == "http://h/api?id=1&id=2%27"
    name = points[2].inject(request, "<x>")
    assert json.loads(name.body) == {"user": {"name": "<x>", "tags": ["x"]}, "age": 3}
    age = points[4].inject(request, "3 AND 1=1")
    assert json.loads(age.body)["age"] == "3 AND 1=1"
    lang = points[6].inject(request, "en'")
    assert lang.header("cookie") == "sid=abc; lang=en'"
    agent = points[7].inject(request, "x")
    assert agent.header("user-agent") == "x"
    form = WebRequest("POST", "http://h/login", (("Content-Type", FORM_TYPE),), b"u=a&p=b")
    assert [p.location for p in insertion_points(form, headers=False)] == [Location.FORM] * 2


def test_evidence_masks_secrets() -> None:
    request = WebRequest(
        "POST",
        "http://h/login?token=t0k3n&x=1",
        (
            ("Content-Type", FORM_TYPE),
            ("Cookie", "JSESSIONID=s3cr3t; lang=zh"),
            ("Authorization", "Basic YWRtaW46YWRtaW4="),
        ),
        b"username=admin&password=hunter2",
    )
    text = request_text(request)
    curl = curl_command(request)
    for secret in ("t0k3n", "s3cr3t", "YWRtaW46YWRtaW4=", "hunter2"):
        assert secret not in text and secret not in curl
    assert MASK in text and "lang=zh" in text and "username=admin" in curl
    assert curl.startswith("curl -i -s -k -X POST")
    assert "hunter2" in curl_command(request, mask=False)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_parser_never_fails_on_arbitrary_text(text: str) -> None:
    page = parse_page("http://127.0.0.1/", text)
    assert all(link.startswith(("http://", "https://")) or "://" in link for link in page.links)
    script_urls("http://127.0.0.1/", text)
    json_requests("http://127.0.0.1/", text)
    _robots_paths("http://127.0.0.1/", text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_sitemap_parser_never_fails(data: bytes) -> None:
    pages, nested = _sitemap_urls(data)
    assert isinstance(pages, list) and isinstance(nested, list)
