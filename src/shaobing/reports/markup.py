"""Report templates: Jinja2 (sandboxed) rendering to a small line markup, parsed into blocks.

The markup, one item per line (blank lines are ignored)::

    # 一级标题 / ## 二级标题 / ### 三级标题
    - 列表项            1. 编号列表项
    > 注释段落          ^ 居中段落
    ::toc  ::pagebreak  ::table NAME  ::kv NAME  ::chart NAME  ::image NAME  ::images NAME
    any other line is a paragraph; **粗体** inside a line is bold.

Values substituted with ``{{ … }}`` are data, never markup: a finding title that starts with
``#`` or contains ``**`` or ``::table`` stays literal text, and its newlines become line breaks
inside the same paragraph. This is done by wrapping every substituted value in private
sentinel characters which the parser honours and then removes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.reports.model import (
    Block,
    BulletList,
    Chart,
    Heading,
    Image,
    KeyValue,
    PageBreak,
    Paragraph,
    ParagraphStyle,
    Span,
    Table,
    TableOfContents,
)

_OPEN = "\x01"
_CLOSE = "\x02"
_BREAK = "\x03"
# Control characters never belong in report text; removing them also keeps data from
# forging the sentinels.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIRECTIVE = re.compile(r"^::([a-z]+)(?:\s+([\w.\-]+))?\s*$")
_ORDERED = re.compile(r"^\d+[.、]\s+")
MAX_TEMPLATE_BYTES = 1_000_000


def literal(value: object) -> str:
    """Wrap a value so the parser takes it as text: control characters dropped, newlines kept."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Surrounding blanks and blank lines of a value are layout noise, never content.
    text = _CONTROL.sub("", text).strip()
    return _OPEN + text.replace("\n", _BREAK) + _CLOSE


def _finalize(value: object) -> str:
    if isinstance(value, Markup):
        return str(value)
    return literal(value)


class Markup(str):
    """Text a builder deliberately passes through as markup (e.g. an engineer's own section)."""

    __slots__ = ()


@dataclass
class Parts:
    """The named non-text blocks a builder offers the template."""

    tables: Mapping[str, Table] = field(default_factory=dict)
    kvs: Mapping[str, KeyValue] = field(default_factory=dict)
    charts: Mapping[str, Chart] = field(default_factory=dict)
    images: Mapping[str, list[Image]] = field(default_factory=dict)


def _environment() -> ImmutableSandboxedEnvironment:
    # No trim_blocks: a line ending in ``{% endif %}`` must keep its newline, or the next
    # line (a ``::table``, a ``- `` item) would be glued onto it; the blank lines that block
    # tags on their own lines leave behind are ignored by the parser anyway.
    env = ImmutableSandboxedEnvironment(
        trim_blocks=False,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        autoescape=False,
    )
    env.filters["markup"] = Markup
    return env


_ENV = _environment()


def render_template(source: str, context: Mapping[str, Any], *, name: str) -> str:
    """Render a template's text; any template error is one line naming the template."""
    if len(source.encode("utf-8", "replace")) > MAX_TEMPLATE_BYTES:
        raise ValidationError(t("reports.template_too_large", name=name))
    try:
        return _ENV.from_string(source).render(**context)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{name}:{line}" if line else name
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationError(t("reports.template_error", where=where, error=message)) from exc


def _spans(text: str) -> tuple[Span, ...]:
    """Split a line into spans: ``**`` toggles bold outside literal data; breaks end lines."""
    spans: list[Span] = []
    buf: list[str] = []
    bold = False
    in_literal = False
    i = 0

    def flush(br: bool = False) -> None:
        if buf or br:
            spans.append(Span("".join(buf), bold=bold, br=br))
            buf.clear()

    while i < len(text):
        ch = text[i]
        if ch == _OPEN:
            in_literal = True
        elif ch == _CLOSE:
            in_literal = False
        elif ch == _BREAK:
            flush(br=True)
        elif not in_literal and text.startswith("**", i):
            flush()
            bold = not bold
            i += 2
            continue
        else:
            buf.append(ch)
        i += 1
    flush()
    # A trailing break adds nothing visible.
    while spans and spans[-1].br and not spans[-1].text:
        spans.pop()
    return tuple(spans)


def _plain(text: str) -> str:
    return "".join(s.text + ("\n" if s.br else "") for s in _spans(text))


def parse(text: str, parts: Parts, *, name: str) -> list[Block]:
    """Parse rendered markup into blocks; an unknown directive or part is a one-line error."""
    blocks: list[Block] = []
    bullets: list[tuple[Span, ...]] = []
    ordered = False

    def end_list() -> None:
        nonlocal bullets
        if bullets:
            blocks.append(BulletList(tuple(bullets), ordered=ordered))
            bullets = []

    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t")
        if not line:
            continue
        # Markers only count outside substituted data: a line opening with a sentinel is text.
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            if 1 <= level <= 3 and line[level : level + 1] == " ":
                end_list()
                blocks.append(Heading(level, _plain(line[level + 1 :]).strip()))
                continue
        if line.startswith(("- ", "* ")):
            if bullets and ordered:
                end_list()
            ordered = False
            bullets.append(_spans(line[2:]))
            continue
        if _ORDERED.match(line):
            if bullets and not ordered:
                end_list()
            ordered = True
            bullets.append(_spans(_ORDERED.sub("", line, count=1)))
            continue
        end_list()
        if line.startswith("::"):
            blocks.extend(_directive(line, parts, where=f"{name}:{number}"))
            continue
        style: ParagraphStyle = "body"
        if line.startswith("> "):
            style, line = "note", line[2:]
        elif line.startswith("^ "):
            style, line = "center", line[2:]
        spans = _spans(line)
        if spans:
            blocks.append(Paragraph(spans, style))
    end_list()
    return blocks


def _directive(line: str, parts: Parts, *, where: str) -> list[Block]:
    match = _DIRECTIVE.match(_plain(line))
    if match is None:
        raise ValidationError(t("reports.bad_directive", where=where, line=_plain(line)[:80]))
    verb, arg = match.group(1), match.group(2)
    if verb == "toc":
        return [TableOfContents()]
    if verb == "pagebreak":
        return [PageBreak()]
    table_like: dict[str, Mapping[str, Any]] = {
        "table": parts.tables,
        "kv": parts.kvs,
        "chart": parts.charts,
        "image": parts.images,
        "images": parts.images,
    }
    if verb not in table_like or arg is None:
        raise ValidationError(t("reports.bad_directive", where=where, line=_plain(line)[:80]))
    source = table_like[verb]
    if arg not in source:
        raise ValidationError(
            t("reports.unknown_part", where=where, kind=verb, name=arg, known=", ".join(source))
        )
    value = source[arg]
    if verb in ("image", "images"):
        images: list[Image] = list(value)
        return list(images[:1] if verb == "image" else images)
    block: Table | KeyValue | Chart = value
    return [block]


def build_blocks(
    source: str, context: Mapping[str, Any], parts: Parts, *, name: str
) -> list[Block]:
    """Render a template with its context and parse the result into blocks."""
    return parse(render_template(source, context, name=name), parts, name=name)


def parse_trusted(text: str, *, name: str) -> list[Block]:
    """Parse an engineer's own section text (markup allowed, no parts)."""
    text = _CONTROL.sub("", text)
    return parse(text, Parts(), name=name)
