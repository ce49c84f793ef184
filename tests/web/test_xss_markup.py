"""The XSS context analyser: the tokenizer, the JavaScript state and the payload plan,
with Hypothesis fuzzing on generated and random HTML."""

from __future__ import annotations

import html

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.web.checks.xss import (
    ATTR,
    COMMENT,
    EVENT,
    RAW,
    SCRIPT,
    TAG,
    TEXT,
    js_state,
    parse_markup,
    plan,
    reflections,
)

TOKEN = "sbq1w2e3r4t5"
FRESH = "sbz9y8x7w6v5"


def _contexts(document: str) -> list[tuple[str, str, str, str, str, bool, str]]:
    return [
        (r.context, r.tag, r.attr, r.quote, r.js, r.at_start, r.inert)
        for r in reflections(parse_markup(document), TOKEN)
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (f"<p>hello {TOKEN}</p>", (TEXT, "", "", "", "", False, "")),
        (f'<input value="{TOKEN}">', (ATTR, "input", "value", '"', "", True, "")),
        (f"<input value='x {TOKEN}'>", (ATTR, "input", "value", "'", "", False, "")),
        (f"<input value={TOKEN}>", (ATTR, "input", "value", "", "", True, "")),
        (f'<a href="  {TOKEN}">', (ATTR, "a", "href", '"', "", True, "")),
        (f"<div {TOKEN}>", (TAG, "div", "", "", "", False, "")),
        (f"<script>var a = '{TOKEN}';</script>", (SCRIPT, "script", "", "'", "string", False, "")),
        (
            f'<script>var a = "x\\"{TOKEN}";</script>',
            (SCRIPT, "script", "", '"', "string", False, ""),
        ),
        (
            f"<script>var a = `${{b}} {TOKEN}`;</script>",
            (SCRIPT, "script", "", "`", "template", False, ""),
        ),
        (
            f"<script>var a = `${{ {TOKEN} }}`;</script>",
            (SCRIPT, "script", "", "", "code", False, ""),
        ),
        (f"<script>f({TOKEN});</script>", (SCRIPT, "script", "", "", "code", False, "")),
        (f"<script>// {TOKEN}\n</script>", (SCRIPT, "script", "", "", "line-comment", False, "")),
        (
            f"<script>/* '{TOKEN} */</script>",
            (SCRIPT, "script", "", "", "block-comment", False, ""),
        ),
        (
            f"<script>var s = 'a'; // x\nvar t = {TOKEN};</script>",
            (SCRIPT, "script", "", "", "code", False, ""),
        ),
        (
            f'<script type="application/json">{{"a": "{TOKEN}"}}</script>',
            (SCRIPT, "script", "", "", "data", False, ""),
        ),
        (f"<textarea><b>{TOKEN}</b></textarea>", (RAW, "textarea", "", "", "", False, "")),
        (f"<TITLE>{TOKEN}</TITLE>", (RAW, "title", "", "", "", False, "")),
        (f"<style>a{{}} {TOKEN}</style>", (RAW, "style", "", "", "", False, "")),
        (f"<noscript>{TOKEN}</noscript>", (RAW, "noscript", "", "", "", False, "")),
        (f"<!-- <p> {TOKEN} -->", (COMMENT, "", "", "", "", False, "")),
        (f"<select><option>{TOKEN}</option></select>", (TEXT, "", "", "", "", False, "select")),
        (f"<template><p>{TOKEN}</p></template>", (TEXT, "", "", "", "", False, "template")),
        (f"<select></select><p>{TOKEN}", (TEXT, "", "", "", "", False, "")),
        (f"<select><input><p>{TOKEN}", (TEXT, "", "", "", "", False, "")),
        (f"<textarea>a</textarea ><p>{TOKEN}", (TEXT, "", "", "", "", False, "")),
        (f"<!--> <p>{TOKEN}", (TEXT, "", "", "", "", False, "")),
        (f"<![CDATA[ x ]]> {TOKEN}", (TEXT, "", "", "", "", False, "")),
        (f"a < b {TOKEN}", (TEXT, "", "", "", "", False, "")),
    ],
)
def test_reflection_contexts(document: str, expected: tuple[object, ...]) -> None:
    assert _contexts(document) == [expected]


def test_escaped_and_raw_text_are_not_markup() -> None:
    escaped = parse_markup(f"<p>{html.escape(f'<{TOKEN}>')}</p>")
    assert not escaped.has_element(TOKEN)
    for document in (
        f"<textarea><{TOKEN}></textarea>",
        f"<title><{TOKEN}></title>",
        f"<!-- <{TOKEN}> -->",
        f"<script>'<{TOKEN}>'</script>",
        f"<select><{TOKEN}></select>",
        f"<template><{TOKEN}></template>",
        f'<input value="<{TOKEN}>">',
        f"<p><{TOKEN}",  # cut off by the end of the document: dropped
    ):
        assert not parse_markup(document).has_element(TOKEN), document
    assert parse_markup(f"<p><{TOKEN}></p>").has_element(TOKEN)
    assert parse_markup(f"<select></select><{TOKEN}>").has_element(TOKEN)


def test_attribute_confirmation_uses_the_first_of_repeated_attributes() -> None:
    quoted = f'<input value="x&quot; {EVENT}={TOKEN}">'
    assert not parse_markup(quoted).has_attribute(EVENT, TOKEN)
    broken = f'<input value="x" {EVENT}={TOKEN} x="">'
    assert parse_markup(broken).has_attribute(EVENT, TOKEN)
    repeated = f'<div {EVENT}="safe()" {EVENT}={TOKEN}>'
    assert not parse_markup(repeated).has_attribute(EVENT, TOKEN)


def test_script_url_and_script_call() -> None:
    assert parse_markup(f'<a href=" java\tscript:{TOKEN}()">').has_script_url(TOKEN)
    assert parse_markup(f'<a href="&#106;avascript:{TOKEN}()">').has_script_url(TOKEN)
    assert not parse_markup(f'<img src="javascript:{TOKEN}()">').has_script_url(TOKEN)
    assert not parse_markup(f'<a href="/go?u=javascript:{TOKEN}()">').has_script_url(TOKEN)
    assert parse_markup(f"<script>var a = ''-{TOKEN}()-'';</script>").has_script_call(f"{TOKEN}()")
    assert not parse_markup(f"<script>var a = '\\'-{TOKEN}()-\\'';</script>").has_script_call(
        f"{TOKEN}()"
    )
    assert not parse_markup(f"<p>{TOKEN}()</p>").has_script_call(f"{TOKEN}()")
    assert not parse_markup(f'<script type="text/x-template">{TOKEN}()</script>').has_script_call(
        f"{TOKEN}()"
    )


def test_plan_picks_the_best_contexts_first() -> None:
    document = f"<title>{TOKEN}</title><input value='{TOKEN}'><p>{TOKEN}</p><!-- {TOKEN} -->"
    attempts = plan(reflections(parse_markup(document), TOKEN), FRESH)
    assert [a.payload for a in attempts] == [
        f"<{FRESH}>",
        f"{FRESH}' {EVENT}={FRESH} x='",
    ]
    assert plan(reflections(parse_markup(f"<plaintext>{TOKEN}"), TOKEN), FRESH) == []


def test_each_context_payload_proves_itself_when_unescaped() -> None:
    """Inserting a context's payload raw into its own context is recognised; the same
    payload HTML-escaped is not."""
    templates = [
        "<p>{}</p>",
        '<input value="{}">',
        "<input value='{}'>",
        "<input value={}>",
        '<a href="{}">x</a>',
        "<div {}>x</div>",
        "<script>var a = '{}';</script>",
        '<script>var a = "{}";</script>',
        "<script>var a = `{}`;</script>",
        "<script>var a = {};</script>",
        "<script>// {}\n</script>",
        "<textarea>{}</textarea>",
        "<title>{}</title>",
        "<!-- {} -->",
        "<select><option>{}</option></select>",
    ]
    for template in templates:
        found = reflections(parse_markup(template.format(TOKEN)), TOKEN)
        [attempt] = plan(found, FRESH, limit=1)
        assert attempt.confirm(parse_markup(template.format(attempt.payload))), template
        escaped = html.escape(attempt.payload)
        if escaped != attempt.payload and "script" not in template:
            assert not attempt.confirm(parse_markup(template.format(escaped))), template


def test_js_state() -> None:
    assert js_state("var a = 'x") == ("string", "'")
    assert js_state("var a = 'x\\'") == ("string", "'")
    assert js_state("var a = 'x'; /* '") == ("block-comment", "")
    assert js_state("var a = `${ {b: 1}") == ("code", "")
    assert js_state("var a = `${ {b: 1} } ") == ("template", "`")
    assert js_state("var a = 'unterminated\nb = ") == ("code", "")


# --------------------------------------------------------------------------- fuzzing

_plain = st.text(
    alphabet=st.characters(blacklist_characters="<&\x00", blacklist_categories=["Cs"]),
    max_size=30,
)
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
_attr_value = st.text(
    alphabet=st.characters(
        blacklist_characters="\"'<>&`= \t\n\r\f\x00", blacklist_categories=["Cs"]
    ),
    max_size=15,
)


@st.composite
def _element(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["div", "p", "span", "a", "input", "img", "b", "table", "li"]))
    attrs = []
    for _ in range(draw(st.integers(0, 3))):
        attr = draw(_word)
        value = draw(_attr_value)
        quote = draw(st.sampled_from(['"', "'", ""]))
        attrs.append(f"{attr}={quote}{value or 'v'}{quote}" if quote or value else attr)
    head = f"<{name}{''.join(' ' + a for a in attrs)}>"
    return head + html.escape(draw(_plain)) + f"</{name}>"


_js_string = st.text(
    alphabet=st.characters(
        blacklist_characters="'\"`\\\n\r<\u2028\u2029/", blacklist_categories=["Cs"]
    ),
    max_size=15,
)


@st.composite
def _javascript(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["sq", "dq", "tpl", "line", "block", "code", "escape"]))
        text = draw(_js_string)
        parts.append(
            {
                "sq": f"var a = '{text}';",
                "dq": f'var b = "{text}";',
                "tpl": f"var c = `{text} ${{d + {{e: 1}}.e}} {text}`;",
                "line": f"// {text} ' \" `\n",
                "block": f"/* {text} ' \" ` */",
                "code": f"if (x) {{ y({len(text)}); }}",
                "escape": f"var e = 'it\\'s {text}';",
            }[kind]
        )
    return "".join(parts)


@st.composite
def _filler(draw: st.DrawFn) -> str:
    pieces = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "element", "comment", "script", "raw", "select"]))
        if kind == "text":
            pieces.append(html.escape(draw(_plain)))
        elif kind == "element":
            pieces.append(draw(_element()))
        elif kind == "comment":
            pieces.append("<!-- " + draw(_plain).replace("-", "").replace(">", "") + " -->")
        elif kind == "script":
            pieces.append("<script>" + draw(_javascript()) + "</script>")
        elif kind == "raw":
            tag = draw(st.sampled_from(["textarea", "title", "style"]))
            pieces.append(f"<{tag}>" + draw(_plain).replace("</", "") + f"<p></{tag}>")
        else:
            pieces.append(f"<select><option>{html.escape(draw(_plain))}</option></select>")
    return "".join(pieces)


@st.composite
def _placed(draw: st.DrawFn) -> tuple[str, tuple[str, str, str, str]]:
    """A document with the token in a known context: (document, (context, tag, quote, js))."""
    before, after = draw(_filler()), draw(_filler())
    side = html.escape(draw(_plain))
    kind = draw(st.sampled_from(["text", "dq", "sq", "uq", "raw", "comment", "js-sq", "js-code"]))
    value = draw(_attr_value)
    js = draw(_javascript())
    placed, expected = {
        "text": (f"<p>{side}{TOKEN}{side}</p>", (TEXT, "", "", "")),
        "dq": (f'<input type="text" value="{value}{TOKEN}">', (ATTR, "input", '"', "")),
        "sq": (f"<input value='{value} {TOKEN}' x>", (ATTR, "input", "'", "")),
        "uq": (f"<input value={value}{TOKEN} x=1>", (ATTR, "input", "", "")),
        "raw": (f"<textarea>{side}<b>{TOKEN}</textarea>", (RAW, "textarea", "", "")),
        "comment": (f"<!-- {side.replace('-', '')} {TOKEN} -->", (COMMENT, "", "", "")),
        "js-sq": (f"<script>{js}var t = '{TOKEN}';</script>", (SCRIPT, "script", "'", "string")),
        "js-code": (f"<script>{js}var t = {TOKEN};</script>", (SCRIPT, "script", "", "code")),
    }[kind]
    return before + placed + after, expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_placed())
def test_fuzz_context_of_a_placed_token(case: tuple[str, tuple[str, str, str, str]]) -> None:
    document, (context, tag, quote, js) = case
    found = reflections(parse_markup(document), TOKEN)
    assert [(r.context, r.tag, r.quote, r.js) for r in found] == [(context, tag, quote, js)]


@settings(max_examples=300, deadline=None)
@given(_filler(), _filler(), st.sampled_from(["text", "attr", "raw", "comment"]))
def test_fuzz_escaped_payloads_never_confirm(before: str, after: str, where: str) -> None:
    """Whatever surrounds it, an HTML-escaped payload is never taken for markup."""
    for payload in (f"<{FRESH}>", f'x" {EVENT}={FRESH} x="', f"x' {EVENT}={FRESH} x='"):
        shown = html.escape(payload)
        middle = {
            "text": f"<p>{shown}</p>",
            "attr": f'<input value="{shown}">',
            "raw": f"<textarea>{payload.replace('<', '&lt;')}</textarea>",
            "comment": f"<!-- {shown} -->",
        }[where]
        markup = parse_markup(before + middle + after)
        assert not markup.has_element(FRESH)
        assert not markup.has_attribute(EVENT, FRESH)


_soup = st.lists(
    st.sampled_from([*"<>!-/=\"' \nabcsript&;`{}$\\", "script", "textarea", "<!--", TOKEN]),
    max_size=80,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_soup)
def test_fuzz_random_text_is_tokenized_consistently(text: str) -> None:
    """Random markup soup: no exception, segments ordered and disjoint within the text,
    tags in order, and every occurrence of the token classified."""
    markup = parse_markup(text)
    previous = 0
    for segment in markup.segments:
        assert previous <= segment.start < segment.end <= len(text)
        previous = segment.end
    for tag in markup.tags:
        assert 0 <= tag.start < tag.end <= len(text)
        assert text[tag.start] == "<" and text[tag.end - 1] == ">"
    assert len(reflections(markup, TOKEN)) == text.count(TOKEN)
