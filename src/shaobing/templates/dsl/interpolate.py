"""``{{...}}`` markers in template text: plain variables and expressions, innermost first.

As in Nuclei, an inner marker is replaced before the marker around it is read
(``{{md5({{num}})}}``), a marker whose variables are not all defined is left in place
verbatim (the caller reports it), and a marker that is not a valid expression (payload
text such as ``{{alert(1)}}`` or a JavaScript template) is left unchanged too.
Substituted values are never re-scanned for markers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shaobing.templates.dsl.errors import DslError
from shaobing.templates.dsl.evaluator import compile_expression
from shaobing.templates.dsl.values import render

#: Markers nested deeper than this are copied as text.
MAX_NESTING = 16

_PLAIN_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_BRACE = re.compile(r"[{}]")
_FLAT_MARKER = re.compile(r"\{\{([^{}]*)\}\}")


def _resolve(content: str, variables: Mapping[str, Any], missing: set[str]) -> str:
    name = content.strip()
    if name in variables:
        return render(variables[name])
    marker = "{{" + content + "}}"
    if _PLAIN_NAME.fullmatch(name) and name not in ("true", "false", "nil", "null"):
        missing.add(name)
        return marker
    try:
        expression = compile_expression(name)
    except DslError:
        return marker
    absent = {v for v in expression.variables if v not in variables}
    if absent:
        missing.update(absent)
        return marker
    try:
        return render(expression.evaluate(variables))
    except DslError:
        return marker


def render_markers(text: str, variables: Mapping[str, Any]) -> tuple[str, set[str]]:
    """Replace every marker; return the text and the variable names left unresolved."""
    missing: set[str] = set()
    if "{{" not in text:
        return text, missing
    # Usual case: markers without braces inside and no other brace in the text. One regex
    # split then gives exactly what the scan below gives, without a loop turn per piece.
    pieces = _FLAT_MARKER.split(text)
    if not any("{" in plain or "}" in plain for plain in pieces[0::2]):
        pieces[1::2] = [_resolve(content, variables, missing) for content in pieces[1::2]]
        return "".join(pieces), missing
    stack: list[list[str]] = [[]]
    i, n = 0, len(text)
    while i < n:
        if text.startswith("{{", i) and len(stack) <= MAX_NESTING:
            stack.append([])
            i += 2
        elif text.startswith("}}", i) and len(stack) > 1:
            content = "".join(stack.pop())
            stack[-1].append(_resolve(content, variables, missing))
            i += 2
        else:
            # Copy plain runs in one step (found by the regex engine, not a loop per
            # character); markers are rare in long bodies.
            brace = _BRACE.search(text, i + 1)
            j = brace.start() if brace is not None else n
            stack[-1].append(text[i:j])
            i = j
    while len(stack) > 1:
        unclosed = "".join(stack.pop())
        stack[-1].append("{{" + unclosed)
    return "".join(stack[0]), missing


def interpolate(text: str, variables: Mapping[str, Any]) -> str:
    """Replace ``{{name}}`` and ``{{expression}}`` markers; unresolved ones stay as they are."""
    return render_markers(text, variables)[0]


def unresolved(text: str, variables: Mapping[str, Any]) -> set[str]:
    """Names of the variables that keep some marker of ``text`` from being replaced."""
    return render_markers(text, variables)[1]
