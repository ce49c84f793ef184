"""Cross-site scripting: reflected (a parameter check) and stored (:func:`find_stored`).

Reflected, per parameter:

1. One request with a unique canary (letters and digits only, so no filter or encoding
   changes it). Not found in a response a browser renders as HTML: done.
2. Where the canary landed is read with a small HTML5-style tokenizer
   (:func:`parse_markup`, :func:`reflections`): element text, attribute value (quoted how),
   URL attribute, inside a tag, ``<script>`` code / string / comment, raw-text elements
   (``<textarea>``, ``<title>``, ``<style>`` …), comments, inert containers (``<select>``,
   ``<template>``).
3. For the most exploitable context, ONE payload that needs exactly the characters that
   context requires (``<tag>`` in text, quote break + event attribute in an attribute,
   string break in a script, ``javascript:`` in a link …), with a fresh canary. The
   response is tokenized again; the issue is reported only when the injected element,
   event attribute, ``javascript:`` URL or script call really exists as markup — never
   for text that is escaped, inside a ``<textarea>``, ``<title>`` or comment.

Requests per parameter: 1 when the canary is not reflected; otherwise 1 + one payload per
distinct context tried, at most :data:`MAX_CONTEXT_PAYLOADS` (so at most 3).

Stored: the canary sent in a body field (form or JSON) of a POST/PUT/PATCH is remembered
(:meth:`ScanState.remember_canary`). After the active phase the scanner calls
:func:`find_stored`: it fetches the crawled GET pages (at most :data:`MAX_STORED_PAGES`,
pages near the submitting form first); where a remembered canary shows up it submits a
context payload through that form again and fetches the page once more; when the payload
landed in another context (the page changed meanwhile), the next payload is planned from
there — 1 request per page plus 2 per payload, at most :data:`MAX_STORED_ATTEMPTS` payloads
on each of at most :data:`MAX_STORED_PAGES_PER_FIELD` pages per submitting field.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar
from urllib.parse import urlsplit

from shaobing.web.checks import _inject
from shaobing.web.checks._support import try_send
from shaobing.web.checks.base import PointCheck, Probe, ScanState, canary, register
from shaobing.web.crawler import CrawledPage
from shaobing.web.issues import WebIssue
from shaobing.web.request import InsertionPoint, Location, WebRequest

# Distinct output contexts tried with a payload per parameter (organisation-defined: the
# best context nearly always decides; a second catches pages that escape the text but
# not an attribute, a common inconsistency).
MAX_CONTEXT_PAYLOADS = 2
# GET pages fetched by the stored-XSS sweep (organisation-defined: bounds the sweep on
# large sites; pages sharing the longest path with a submitting form come first).
MAX_STORED_PAGES = 300
# Pages on which one submitting field is tried (organisation-defined: stored input shown
# in a sidebar of every page must not cost payloads on every page).
MAX_STORED_PAGES_PER_FIELD = 3
# Payloads submitted per stored canary found on a page (organisation-defined: the planned
# context, and up to two re-plans where the payload landed elsewhere).
MAX_STORED_ATTEMPTS = 3
# Markup scanned per response (organisation-defined, as the crawler's MAX_HTML: a
# reflection beyond 2 MiB is not analysed).
MAX_MARKUP = 2 * 2**20
# The event attribute the attribute payloads add (fires on pointer hover: proof that a
# quote break yields a script-running attribute; any on* attribute would do).
EVENT = "onmouseover"

TEXT = "text"
ATTR = "attr"
TAG = "tag"
SCRIPT = "script"
RAW = "raw"
COMMENT = "comment"

# Elements whose content the HTML parser does not tokenize as markup (WHATWG HTML
# "raw text" and "escapable raw text" elements, plus noscript with scripting enabled and
# the legacy xmp/noembed/noframes).
RAW_ELEMENTS = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"}
)
# Attributes whose URL a browser navigates to or loads as a document, where a
# ``javascript:`` URL runs (link, frame, form submission, object data).
URL_ATTRIBUTES = {
    "a": frozenset({"href"}),
    "area": frozenset({"href"}),
    "iframe": frozenset({"src"}),
    "frame": frozenset({"src"}),
    "embed": frozenset({"src"}),
    "object": frozenset({"data"}),
    "form": frozenset({"action"}),
    "button": frozenset({"formaction"}),
    "input": frozenset({"formaction"}),
}
# <script type> values that are JavaScript (WHATWG: empty, a JavaScript MIME type, module).
_JS_TYPES = frozenset(
    {
        "",
        "module",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/ecmascript",
        "application/ecmascript",
        "text/jscript",
        "text/livescript",
        "text/x-javascript",
        "text/x-ecmascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
    }
)
# Inside an open <select>, the tree builder drops every start tag but these (WHATWG "in
# select" insertion mode); input/keygen/textarea/select close the select first.
_SELECT_KEPT = frozenset({"option", "optgroup", "hr", "script", "template"})
_SELECT_CLOSERS = frozenset({"input", "keygen", "textarea", "select"})
_HTML_SPACE = "\t\n\f\r "
_TAG_NAME = re.compile(r"[^\t\n\f\r />]*")
_ATTR_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r />=]*")
_UNQUOTED = re.compile(r"[^\t\n\f\r >]*")
# What a browser strips from a URL before reading its scheme: leading/trailing C0
# controls and spaces, and every tab or newline inside.
_URL_STRIP = re.compile(r"[\t\n\r]")
_URL_LEADING = re.compile(r"^[\x00-\x20]+")
_JS_CODE_STOP = re.compile(r"['\"`{}]|//|/\*")
_JS_LINE_END = re.compile(r"[\n\r\u2028\u2029]")


@dataclass(frozen=True)
class Attribute:
    """One attribute of a start tag: the raw text, its decoded value and quoting."""

    name: str
    raw: str
    value: str
    quote: str
    start: int
    end: int


@dataclass
class StartTag:
    """A start tag as the browser's tokenizer sees it."""

    name: str
    start: int
    end: int
    attributes: list[Attribute] = field(default_factory=list)
    inert: bool = False
    """Inside an open <select> (dropped by the tree builder) or a <template> (inert)."""

    def attribute(self, name: str) -> Attribute | None:
        """The effective attribute ``name`` (the first one: browsers drop repeats)."""
        return next((a for a in self.attributes if a.name == name), None)


@dataclass(frozen=True)
class Segment:
    """A stretch of the document in one tokenizer context."""

    start: int
    end: int
    kind: str
    tag: str = ""
    attr: str = ""
    quote: str = ""
    value_start: int = -1
    javascript: bool = False
    inert: str = ""


@dataclass
class Markup:
    """A tokenized document: its context segments and start tags."""

    text: str
    segments: list[Segment] = field(default_factory=list)
    tags: list[StartTag] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list, repr=False)

    def segment_at(self, offset: int) -> Segment | None:
        """The segment holding character ``offset``."""
        if not self._starts:
            self._starts = [s.start for s in self.segments]
        index = bisect.bisect_right(self._starts, offset) - 1
        if index < 0:
            return None
        segment = self.segments[index]
        return segment if segment.start <= offset < segment.end else None

    def has_element(self, name: str) -> bool:
        """Whether a live (not inert) element ``name`` is in the document."""
        return any(t.name == name and not t.inert for t in self.tags)

    def has_attribute(self, name: str, value: str) -> bool:
        """Whether some start tag carries attribute ``name`` with exactly ``value``."""
        for tag in self.tags:
            found = tag.attribute(name)
            if found is not None and found.value.strip() == value:
                return True
        return False

    def has_script_url(self, marker: str) -> bool:
        """Whether a navigable URL attribute holds a ``javascript:`` URL with ``marker``."""
        for tag in self.tags:
            for name in URL_ATTRIBUTES.get(tag.name, ()):
                found = tag.attribute(name)
                if found is not None and marker in found.value and _is_script_url(found.value):
                    return True
        return False

    def has_script_call(self, call: str) -> bool:
        """Whether ``call`` occurs as code (not string or comment) in a JavaScript block."""
        start = self.text.find(call)
        while start >= 0:
            segment = self.segment_at(start)
            if (
                segment is not None
                and segment.kind == SCRIPT
                and segment.javascript
                and js_state(self.text[segment.start : start])[0] == "code"
            ):
                return True
            start = self.text.find(call, start + 1)
        return False


def _is_script_url(value: str) -> bool:
    cleaned = _URL_LEADING.sub("", _URL_STRIP.sub("", value))
    return cleaned.lower().startswith("javascript:")


def _skip_unquoted(text: str, position: int) -> int:
    match = _UNQUOTED.match(text, position)
    return position if match is None else match.end()


def _skip(text: str, position: int, characters: str) -> int:
    end = len(text)
    while position < end and text[position] in characters:
        position += 1
    return position


class _Tokenizer:
    """A simplified WHATWG HTML tokenizer: enough to know, for every character, whether
    the browser reads it as text, tag, attribute value, script, raw text or comment."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.markup = Markup(text)
        self.select_open = False
        self.template_depth = 0

    def add(self, start: int, end: int, kind: str, tag: str = "", inert: str = "") -> None:
        if end > start:
            self.markup.segments.append(Segment(start, end, kind, tag=tag, inert=inert))

    def add_segment(self, segment: Segment) -> None:
        if segment.end > segment.start:
            self.markup.segments.append(segment)

    def inert_container(self) -> str:
        if self.template_depth > 0:
            return "template"
        return "select" if self.select_open else ""

    def run(self) -> Markup:
        text, position, end = self.text, 0, len(self.text)
        while position < end:
            lt = text.find("<", position)
            if lt < 0:
                self.add(position, end, TEXT, inert=self.inert_container())
                break
            self.add(position, lt, TEXT, inert=self.inert_container())
            position = self.markup_at(lt)
        return self.markup

    def markup_at(self, lt: int) -> int:
        """Tokenize the construct starting with ``<`` at ``lt``; the offset after it."""
        text, end = self.text, len(self.text)
        following = text[lt + 1 : lt + 2]
        if text.startswith("<!--", lt):
            # "<!-->" and "<!--->" are complete (empty) comments in HTML5.
            if text.startswith(">", lt + 4):
                close = lt + 5
            elif text.startswith("->", lt + 4):
                close = lt + 6
            else:
                found = text.find("-->", lt + 4)
                close = end if found < 0 else found + 3
            self.add(lt, close, COMMENT)
            return close
        if following in ("!", "?") or (following == "/" and not text[lt + 2 : lt + 3].isalpha()):
            # A doctype or bogus comment (<![CDATA[, <?xml, </ 3>) up to the first ">".
            found = text.find(">", lt + 1)
            close = end if found < 0 else found + 1
            self.add(lt, close, COMMENT)
            return close
        if following == "/":
            return self.end_tag(lt)
        if following.isascii() and following.isalpha():
            return self.start_tag(lt)
        self.add(lt, lt + 1, TEXT, inert=self.inert_container())
        return lt + 1

    def end_tag(self, lt: int) -> int:
        text, end = self.text, len(self.text)
        name = _TAG_NAME.match(text, lt + 2)
        tag = name.group().lower() if name else ""
        found = text.find(">", lt + 2)
        close = end if found < 0 else found + 1
        self.add(lt, close, TAG, tag=tag)
        if tag == "select":
            self.select_open = False
        elif tag == "template" and self.template_depth > 0:
            self.template_depth -= 1
        return close

    def start_tag(self, lt: int) -> int:
        text, end = self.text, len(self.text)
        match = _TAG_NAME.match(text, lt + 1)
        name = match.group().lower() if match else ""
        position = match.end() if match else lt + 1
        container = self.inert_container()
        inert = bool(container) and not (
            container == "select" and (name in _SELECT_KEPT or name in _SELECT_CLOSERS)
        )
        tag = StartTag(name, lt, end, inert=inert)
        cursor = lt
        closed = False
        while position < end:
            position = _skip(text, position, _HTML_SPACE + "/")
            if position >= end:
                break
            if text[position] == ">":
                position += 1
                closed = True
                break
            attr_match = _ATTR_NAME.match(text, position)
            if attr_match is None:  # pragma: no cover - the pattern matches any non-space
                position += 1
                continue
            attr_name = attr_match.group().lower()
            position = _skip(text, attr_match.end(), _HTML_SPACE)
            if position >= end or text[position] != "=":
                tag.attributes.append(Attribute(attr_name, "", "", "", -1, -1))
                continue
            position = _skip(text, position + 1, _HTML_SPACE)
            quote = text[position] if position < end and text[position] in "\"'" else ""
            if quote:
                value_start = position + 1
                found = text.find(quote, value_start)
                value_end = end if found < 0 else found
                position = end if found < 0 else found + 1
            else:
                value_start = position
                value_end = _skip_unquoted(text, position)
                position = value_end
            raw = text[value_start:value_end]
            tag.attributes.append(
                Attribute(attr_name, raw, html.unescape(raw), quote, value_start, value_end)
            )
            self.add(cursor, value_start, TAG, tag=name)
            self.add_segment(
                Segment(value_start, value_end, ATTR, name, attr_name, quote, value_start)
            )
            cursor = value_end
        self.add(cursor, position, TAG, tag=name)
        if not closed:
            # A tag cut off by the end of the document is dropped by the browser.
            return end
        tag.end = position
        self.markup.tags.append(tag)
        return self.after_start_tag(tag, position)

    def after_start_tag(self, tag: StartTag, position: int) -> int:
        text, end = self.text, len(self.text)
        name = tag.name
        if name == "select" and not tag.inert:
            self.select_open = True
        elif name in _SELECT_CLOSERS and self.select_open:
            self.select_open = False
        elif name == "template":
            self.template_depth += 1
        if name == "plaintext":
            self.add(position, end, RAW, tag=name)
            return end
        if name not in RAW_ELEMENTS:
            return position
        closing = re.compile(r"</" + re.escape(name) + r"[\t\n\f\r />]", re.IGNORECASE)
        found = closing.search(text, position)
        stop = end if found is None else found.start()
        if name == "script":
            kind_attr = tag.attribute("type")
            language = (kind_attr.value if kind_attr is not None else "").strip().lower()
            javascript = language in _JS_TYPES
            self.add_segment(Segment(position, stop, SCRIPT, name, javascript=javascript))
        else:
            self.add(position, stop, RAW, tag=name)
        return stop


def parse_markup(text: str) -> Markup:
    """The document ``text`` tokenized (at most :data:`MAX_MARKUP` characters)."""
    return _Tokenizer(text[:MAX_MARKUP]).run()


def js_state(code: str) -> tuple[str, str]:
    """The JavaScript lexical state at the end of ``code``: ``("code", "")``,
    ``("string", quote)``, ``("template", "`")``, ``("line-comment", "")`` or
    ``("block-comment", "")``. Regular-expression literals are not modelled."""
    position, end = 0, len(code)
    state, quote = "code", ""
    braces = 0
    templates: list[int] = []  # brace depth at each open ${ of a template literal
    while position < end:
        if state == "code":
            match = _JS_CODE_STOP.search(code, position)
            if match is None:
                return "code", ""
            lexeme = match.group()
            position = match.end()
            if lexeme in ("'", '"'):
                state, quote = "string", lexeme
            elif lexeme == "`":
                state, quote = "template", "`"
            elif lexeme == "//":
                state = "line-comment"
            elif lexeme == "/*":
                state = "block-comment"
            elif lexeme == "{":
                braces += 1
            elif templates and braces == templates[-1]:
                templates.pop()
                state, quote = "template", "`"
            else:
                braces -= 1
        elif state == "string":
            char = code[position]
            if char == "\\":
                position += 2
                continue
            if char == quote or char in "\n\r":
                state, quote = "code", ""
            position += 1
        elif state == "template":
            char = code[position]
            if char == "\\":
                position += 2
                continue
            if char == "`":
                state, quote = "code", ""
            elif code.startswith("${", position):
                templates.append(braces)
                state, quote = "code", ""
                position += 1
            position += 1
        elif state == "line-comment":
            line_end = _JS_LINE_END.search(code, position)
            if line_end is None:
                return state, ""
            state, position = "code", line_end.end()
        else:
            close = code.find("*/", position)
            if close < 0:
                return state, ""
            state, position = "code", close + 2
    return state, quote


@dataclass(frozen=True)
class Reflection:
    """Where one occurrence of the canary landed."""

    context: str
    tag: str = ""
    attr: str = ""
    quote: str = ""
    js: str = ""
    at_start: bool = False
    inert: str = ""


def reflections(markup: Markup, token: str) -> list[Reflection]:
    """The context of every occurrence of ``token`` in ``markup``."""
    found: list[Reflection] = []
    text = markup.text
    start = text.find(token)
    while start >= 0:
        segment = markup.segment_at(start)
        if segment is not None:
            found.append(_reflection(markup, segment, start))
        start = text.find(token, start + len(token))
    return found


def _reflection(markup: Markup, segment: Segment, offset: int) -> Reflection:
    if segment.kind == ATTR:
        leading = markup.text[segment.value_start : offset]
        return Reflection(
            ATTR,
            tag=segment.tag,
            attr=segment.attr,
            quote=segment.quote,
            at_start=not leading.strip(),
        )
    if segment.kind == SCRIPT:
        if not segment.javascript:
            return Reflection(SCRIPT, tag="script", js="data")
        state, quote = js_state(markup.text[segment.start : offset])
        return Reflection(SCRIPT, tag="script", js=state, quote=quote)
    if segment.kind == TEXT:
        return Reflection(TEXT, inert=segment.inert)
    return Reflection(segment.kind, tag=segment.tag)


@dataclass(frozen=True)
class Attempt:
    """One context payload and how its success is recognised."""

    rank: int
    payload: str
    confirm: Callable[[Markup], bool]
    context: str
    effect: str


def attempt_for(reflection: Reflection, token: str) -> Attempt | None:
    """The payload (with the fresh canary ``token``) that proves XSS in ``reflection``'s
    context, or None where no payload can break out (``<plaintext>``)."""

    def element(markup: Markup) -> bool:
        return markup.has_element(token)

    def event(markup: Markup) -> bool:
        return markup.has_attribute(EVENT, token)

    def call(markup: Markup) -> bool:
        return markup.has_script_call(f"{token}()")

    def script_url(markup: Markup) -> bool:
        return markup.has_script_url(token)

    new_element = f"真实的 HTML 元素 <{token}>"
    new_event = f"新的事件属性 {EVENT}"
    code = f"可执行的脚本代码 {token}()"
    kind = reflection.context
    if kind == TEXT and not reflection.inert:
        return Attempt(0, f"<{token}>", element, "HTML 正文中", new_element)
    if kind == TEXT:
        container = reflection.inert
        return Attempt(4, f"</{container}><{token}>", element, f"<{container}> 元素内", new_element)
    if kind == ATTR:
        where = f"<{reflection.tag}> 标签的 {reflection.attr} 属性中"
        if reflection.at_start and reflection.attr in URL_ATTRIBUTES.get(reflection.tag, ()):
            return Attempt(
                1, f"javascript:{token}()", script_url, where, "可执行的 javascript: 链接"
            )
        quote = reflection.quote
        if quote:
            label = "双引号" if quote == '"' else "单引号"
            payload = f"{token}{quote} {EVENT}={token} x={quote}"
            return Attempt(2, payload, event, f"{where}（{label}包围）", new_event)
        return Attempt(2, f"{token} {EVENT}={token}", event, f"{where}（无引号）", new_event)
    if kind == TAG:
        return Attempt(
            2, f"{token} {EVENT}={token} ", event, f"<{reflection.tag}> 标签内", new_event
        )
    if kind == SCRIPT:
        if reflection.js in ("string", "template"):
            quote = reflection.quote
            where = f"<script> 中的字符串（{quote}）里"
            return Attempt(3, f"{quote}-{token}()-{quote}", call, where, code)
        if reflection.js == "code":
            return Attempt(3, f"{token}()", call, "<script> 的代码中", code)
        where = "<script> 的注释中" if reflection.js.endswith("comment") else "非脚本数据块中"
        return Attempt(5, f"</script><{token}>", element, where, new_element)
    if kind == RAW and reflection.tag != "plaintext":
        tag = reflection.tag
        return Attempt(4, f"</{tag}><{token}>", element, f"<{tag}> 元素内", new_element)
    if kind == COMMENT:
        return Attempt(4, f"--><{token}>", element, "HTML 注释中", new_element)
    return None


def plan(
    found: Iterable[Reflection], token: str, limit: int = MAX_CONTEXT_PAYLOADS
) -> list[Attempt]:
    """The best ``limit`` distinct payloads for the contexts ``found`` (best first)."""
    attempts: dict[str, Attempt] = {}
    for reflection in found:
        attempt = attempt_for(reflection, token)
        if attempt is not None and attempt.payload not in attempts:
            attempts[attempt.payload] = attempt
    return sorted(attempts.values(), key=lambda a: a.rank)[:limit]


def detail(attempt: Attempt) -> str:
    """The one-line Chinese detail of a proved attempt."""
    return (
        f"参数值输出在 {attempt.context}且未按上下文编码：载荷 {attempt.payload} "
        f"在响应中成为{attempt.effect}。"
    )


def _body_field(request: WebRequest, point: InsertionPoint) -> bool:
    return request.method in ("POST", "PUT", "PATCH") and point.location in (
        Location.FORM,
        Location.JSON,
    )


class ReflectedXss(PointCheck):
    """Reflected XSS: canary, context, one context payload, markup confirmation."""

    id: ClassVar[str] = "web.xss"
    kinds: ClassVar[tuple[str, ...]] = ("xss-reflected", "xss-stored")

    def test(self, probe: Probe) -> Iterator[WebIssue]:
        """Issues proved on the probe's parameter (see the module docstring)."""
        token = canary()
        if _body_field(probe.request, probe.point):
            # Remembered even when not reflected: stored input usually is not echoed.
            probe.state.remember_canary(token, probe.request, probe.point)
        first = _inject.send(probe, token)
        if first is None or not _inject.renders_html(first) or token not in first.text:
            return
        found = reflections(parse_markup(first.text), token)
        for attempt in plan(found, canary()):
            response = _inject.send(probe, attempt.payload)
            if response is None or not _inject.renders_html(response):
                continue
            if attempt.confirm(parse_markup(response.text)):
                yield probe.issue(
                    "xss-reflected",
                    detail(attempt),
                    response,
                    context=attempt.context,
                    payload=attempt.payload,
                )
                return


def _page_urls(pages: Iterable[CrawledPage | str]) -> list[str]:
    urls: list[str] = []
    for page in pages:
        if isinstance(page, str):
            urls.append(page)
        elif page.method == "GET":
            urls.append(page.url)
    return list(dict.fromkeys(urls))


def _nearness(url: str, forms: list[str]) -> int:
    """Path segments ``url`` shares with the closest submitting form (more: sooner)."""
    path = urlsplit(url).path.split("/")
    best = 0
    for form in forms:
        other = urlsplit(form).path.split("/")
        shared = 0
        for mine, theirs in zip(path, other, strict=False):
            if mine != theirs:
                break
            shared += 1
        best = max(best, shared)
    return best


def find_stored(state: ScanState, pages: Iterable[CrawledPage | str]) -> Iterator[WebIssue]:
    """Stored XSS: fetch the GET ``pages`` (crawled URLs) and, where a canary remembered
    from a body field shows up, prove that a context payload submitted through the same
    field is shown as markup there. Yields one ``xss-stored`` issue per submitting
    parameter (the scanner adds them to the sink)."""
    stored = dict(state.stored_canaries)
    if not stored:
        return
    forms = [request.url for request, _ in stored.values()]
    urls = _page_urls(pages)
    urls.sort(key=lambda u: -_nearness(u, forms))
    done: set[tuple[str, str, str]] = set()
    tried: dict[tuple[str, str, str], int] = {}
    for url in urls[:MAX_STORED_PAGES]:
        response = try_send(state, WebRequest("GET", url))
        if response is None or not _inject.renders_html(response):
            continue
        markup: Markup | None = None
        for token, (request, point) in stored.items():
            key = (request.method, request.url.split("?", 1)[0], point.label())
            if key in done or token not in response.text:
                continue
            if tried.get(key, 0) >= MAX_STORED_PAGES_PER_FIELD:
                continue
            tried[key] = tried.get(key, 0) + 1
            markup = markup or parse_markup(response.text)
            issue = _prove_stored(state, url, request, point, reflections(markup, token))
            if issue is not None:
                done.add(key)
                yield issue


def _prove_stored(
    state: ScanState,
    url: str,
    request: WebRequest,
    point: InsertionPoint,
    found: list[Reflection],
) -> WebIssue | None:
    """Submit context payloads through ``point`` and look for them on ``url``. Where a
    payload lands in another context than planned (the page changed: other stored input,
    even another check's cut-off payload, may have left a comment or element open), the
    next attempt is planned from where it really landed."""
    token = canary()
    queue = plan(found, token)
    tried: set[str] = set()
    while queue and len(tried) < MAX_STORED_ATTEMPTS:
        attempt = queue.pop(0)
        tried.add(attempt.payload)
        mutated = point.inject(request, attempt.payload)
        state.remember_canary(token, request, point)
        submitted = try_send(state, mutated)
        shown = try_send(state, WebRequest("GET", url))
        if shown is None or not _inject.renders_html(shown):
            continue
        markup = parse_markup(shown.text)
        if attempt.confirm(markup):
            where = f"{_inject.describe(point)} 提交的内容被保存，并显示在页面 {url} 中；"
            return WebIssue(
                kind="xss-stored",
                url=request.url,
                method=request.method,
                parameter=point.label(),
                detail=where + detail(attempt),
                request=submitted.request if submitted is not None else mutated,
                response=shown,
                extra={"shown_at": url, "context": attempt.context, "payload": attempt.payload},
            )
        landed = [a for a in plan(reflections(markup, token), token) if a.payload not in tried]
        queue = landed + [a for a in queue if a.payload not in tried and a not in landed]
    return None


register(ReflectedXss())
