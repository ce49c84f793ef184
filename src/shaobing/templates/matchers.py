"""Matchers: decide whether a response shows what the template looks for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shaobing.templates.dsl import DslError, compile_expression, interpolate, safe_regex, truthy
from shaobing.templates.model import Matcher, Operators
from shaobing.templates.xpath import compile_xpath, parse_document

# Parts that mean "the whole response" in Nuclei's vocabulary.
_WHOLE = {"all", "raw", "response"}


def part_value(variables: Mapping[str, Any], part: str | None, default: str = "body") -> str:
    """The text of ``part`` (``body``, ``header``, ``all``, ``body_2``, a header or extractor
    variable, ...); empty when the response has no such part."""
    name = (part or default).strip()
    if name in _WHOLE:
        name = "response" if "response" in variables else "raw"
    elif name == "all_headers":
        name = "header"
    value = variables.get(name)
    if value is None and name.endswith("_headers"):
        value = variables.get("header")
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return str(value)


def _combine(results: list[bool], condition: str) -> bool:
    if not results:
        return False
    return all(results) if condition == "and" else any(results)


def _words(matcher: Matcher, text: str, variables: Mapping[str, Any]) -> bool:
    haystack = text.lower() if matcher.case_insensitive else text
    results = []
    for value in matcher.values:
        word = value
        if matcher.encoding == "hex":
            try:
                word = bytes.fromhex(value).decode("utf-8", errors="replace")
            except ValueError:
                results.append(False)
                continue
        if "{{" in word:
            word = interpolate(word, variables)
        needle = word.lower() if matcher.case_insensitive else word
        results.append(needle in haystack)
        if matcher.condition == "or" and results[-1] and not matcher.match_all:
            return True
    return _combine(results, matcher.condition)


def _regex(matcher: Matcher, text: str) -> bool:
    results = [
        safe_regex(pattern, matcher.case_insensitive).search(text) is not None
        for pattern in matcher.values
    ]
    return _combine(results, matcher.condition)


def _binary(matcher: Matcher, text: str, raw: bytes | None) -> bool:
    data = raw if raw is not None else text.encode("utf-8", errors="replace")
    results = []
    for value in matcher.values:
        try:
            results.append(bytes.fromhex(value) in data)
        except ValueError:
            results.append(False)
    return _combine(results, matcher.condition)


def evaluate_dsl(expression: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate one DSL expression; None when it fails (unknown variable, bad types)."""
    try:
        return compile_expression(expression.strip()).evaluate(dict(variables))
    except DslError:
        return None


def _dsl(matcher: Matcher, variables: Mapping[str, Any]) -> bool:
    results = [truthy(evaluate_dsl(expr, variables)) for expr in matcher.values]
    return _combine(results, matcher.condition)


def _xpath(matcher: Matcher, text: str) -> bool:
    document = parse_document(text)
    results = [bool(compile_xpath(expr).select(document)) for expr in matcher.values]
    return _combine(results, matcher.condition)


def match(
    matcher: Matcher,
    variables: Mapping[str, Any],
    *,
    default_part: str = "body",
    raw: Mapping[str, bytes] | None = None,
) -> bool:
    """Whether one matcher matches (``negative`` already applied).

    ``raw`` maps part names to undecoded bytes where they exist (binary matchers on TCP
    data must see the bytes, not their text reading).
    """
    text = part_value(variables, matcher.part, default_part)
    kind = matcher.type
    if kind == "word":
        result = _words(matcher, text, variables)
    elif kind == "regex":
        result = _regex(matcher, text)
    elif kind == "status":
        result = variables.get("status_code") in matcher.status
    elif kind == "size":
        size = len(text.encode("utf-8")) if matcher.part else variables.get("content_length")
        result = size in matcher.size
    elif kind == "binary":
        part = (matcher.part or default_part).strip()
        result = _binary(matcher, text, (raw or {}).get(part))
    elif kind == "dsl":
        result = _dsl(matcher, variables)
    elif kind == "xpath":
        result = _xpath(matcher, text)
    else:
        result = False
    return result != matcher.negative


@dataclass(frozen=True)
class MatchOutcome:
    """The result of a block's matchers on one response."""

    matched: bool
    names: tuple[str, ...] = ()
    """Names of the matched, non-internal named matchers (for ``matcher-name``)."""
    reportable: bool = False
    """True when a non-internal matcher took part in the match (the event is reported)."""


def evaluate_matchers(
    operators: Operators,
    variables: Mapping[str, Any],
    *,
    default_part: str = "body",
    raw: Mapping[str, bytes] | None = None,
) -> MatchOutcome:
    """Apply ``matchers-condition`` over the matchers of a block."""
    if not operators.matchers:
        return MatchOutcome(False)
    hits: list[Matcher] = []
    for matcher in operators.matchers:
        ok = match(matcher, variables, default_part=default_part, raw=raw)
        if ok:
            hits.append(matcher)
        elif operators.condition == "and":
            return MatchOutcome(False)
    if not hits:
        return MatchOutcome(False)
    visible = [m for m in hits if not m.internal]
    names = tuple(dict.fromkeys(m.name for m in visible if m.name))
    return MatchOutcome(True, names, bool(visible))
