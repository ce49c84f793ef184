"""Turning forms into requests: plausible values, and the destructive-action guard.

A crawler fills a form the way a careful tester would: keeps hidden and pre-filled values,
picks the first option of a list, and types a harmless value that fits the field (a mail
address into an e-mail field, a number into a number field). It never submits a form or
follows a link whose action, name or label says it deletes, drops, resets or logs out,
unless the user allowed it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from shaobing.web.html import Form, FormField
from shaobing.web.request import FORM_TYPE, JSON_TYPE, WebRequest

# Words that mark an action that changes or destroys state, in English and Chinese.
_DESTRUCTIVE = re.compile(
    r"""(?ix)
    (?<![a-z])(?:delete|del|remove|rm|drop|destroy|truncate|purge|erase|wipe|reset|
        logout|log[-_]?out|signout|sign[-_]?out|logoff|log[-_]?off|shutdown|reboot|
        restart|uninstall|disable|deactivate|revoke|kill|clear)(?![a-z])
    | 删除|移除|清空|清除|注销|退出|登出|重置|格式化|卸载|停用|禁用|关机|重启|销毁
    """
)
_SEARCH_FIELD = re.compile(r"(?i)(keyword|search|query|^q$|^kw$|^wd$|关键)")
_SAMPLE_BY_KIND = {
    "email": "test@example.com",
    "number": "1",
    "range": "1",
    "tel": "13800000000",
    "url": "http://example.com/",
    "date": "2026-01-01",
    "datetime-local": "2026-01-01T10:00",
    "month": "2026-01",
    "week": "2026-W01",
    "time": "10:00",
    "color": "#000000",
    "search": "test",
    "password": "Test@123456",
}
_SAMPLE_BY_NAME = (
    (re.compile(r"(?i)mail"), "test@example.com"),
    (re.compile(r"(?i)(phone|mobile|tel|手机)"), "13800000000"),
    (re.compile(r"(?i)(^id$|_id$|num|count|page|size|age|qty|amount)"), "1"),
    (re.compile(r"(?i)(url|link|site|href)"), "http://example.com/"),
    (re.compile(r"(?i)(date|day)"), "2026-01-01"),
    (re.compile(r"(?i)(name|user)"), "test"),
)


def is_destructive(*texts: str) -> bool:
    """Whether any of ``texts`` (URL, form action, field names, button labels) names a
    destructive action."""
    return any(_DESTRUCTIVE.search(text or "") for text in texts)


def sample_value(field: FormField) -> str:
    """A harmless value that fits ``field``; a search box stays empty (an empty search
    lists everything, so the result page has content to compare against)."""
    if field.value:
        return field.value
    if field.kind in ("text", "search") and _SEARCH_FIELD.search(field.name):
        return ""
    if field.kind == "select":
        return next((option for option in field.options if option), "")
    if field.kind in _SAMPLE_BY_KIND:
        return _SAMPLE_BY_KIND[field.kind]
    for pattern, value in _SAMPLE_BY_NAME:
        if pattern.search(field.name):
            return value
    return "test"


def form_request(form: Form, overrides: dict[str, str] | None = None) -> WebRequest | None:
    """The request submitting ``form`` with sample values (None for file-upload forms, which
    the crawler does not submit)."""
    if "multipart" in form.enctype:
        return None
    values = [(f.name, (overrides or {}).get(f.name, sample_value(f))) for f in form.fields]
    if form.method == "POST":
        if "json" in form.enctype:
            body = json.dumps(dict(values), ensure_ascii=False).encode()
            return WebRequest("POST", form.action, (("Content-Type", JSON_TYPE),), body)
        body = urlencode(values, quote_via=quote).encode()
        return WebRequest("POST", form.action, (("Content-Type", FORM_TYPE),), body)
    if form.method not in ("GET", "POST"):
        return None
    parts = urlsplit(form.action)
    query = urlencode(values, quote_via=quote)
    return WebRequest("GET", urlunsplit(parts._replace(query=query, fragment="")))
