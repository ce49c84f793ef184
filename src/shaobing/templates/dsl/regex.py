"""Regular expressions for templates: RE2 syntax compiled by Python, with a ReDoS guard.

Templates are written for Go's RE2, which matches in linear time; Python's engine
backtracks. There is no way to interrupt Python's ``re`` from another thread (it holds the
GIL) and no timeout option, so the guard is static: a pattern is refused when an
unbounded quantifier applies to a group that itself contains a quantifier (``(a+)+``,
``(x*y?)*``: star height above one, the classic exponential case) or when it uses a
back-reference (not RE2, and NP-hard to match). Subjects are capped at
:data:`MAX_SUBJECT_LENGTH`. Polynomial cases such as ``.*a.*b.*c`` on a long input without
a match remain possible; the cap bounds them. RE2-only spellings the community uses
(``\\z``, POSIX classes) are rewritten.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.values import short

#: Longest text a DSL regular expression is matched against.
MAX_SUBJECT_LENGTH = 8 * 1024 * 1024

_POSIX = {
    "[:alpha:]": "a-zA-Z",
    "[:digit:]": "0-9",
    "[:alnum:]": "a-zA-Z0-9",
    "[:upper:]": "A-Z",
    "[:lower:]": "a-z",
    "[:space:]": r"\s",
    "[:xdigit:]": "0-9A-Fa-f",
    "[:word:]": r"\w",
    "[:punct:]": r"!-/:-@\[-`{-~",
}


@dataclass(slots=True)
class _Group:
    has_quantifier: bool = False
    children: list[bool] = field(default_factory=list)


_INLINE_FLAGS = re.compile(r"\(\?([imsU]+)\)")


def _translate(pattern: str) -> str:
    out = re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", pattern)
    for posix, python in _POSIX.items():
        out = out.replace(posix, python)
    # RE2 accepts "(?i)" anywhere (it applies from there on); Python only at the start.
    # Moving such flags to the front widens them to the whole pattern, a close superset.
    flags = "".join(m.group(1) for m in _INLINE_FLAGS.finditer(out) if m.start() > 0)
    if flags:
        out = _INLINE_FLAGS.sub(lambda m: m.group(0) if m.start() == 0 else "", out)
        kept = "".join(sorted(set(flags) - {"U"}))
        out = f"(?{kept})" + out if kept else out
    return out


def _quantifier_at(pattern: str, i: int) -> tuple[int, bool] | None:
    """Length of a quantifier starting at ``i`` and whether it is unbounded (None if none).

    Only ``*``, ``+`` and ``{n,}`` count as unbounded: a bounded outer repetition such as
    ``(x+){1,2}`` is polynomial, not exponential.
    """
    char = pattern[i]
    if char in "*+":
        return 1, True
    if char == "?":
        return 1, False
    if char == "{":
        match = re.match(r"\{(\d*)(,?)(\d*)\}", pattern[i:])
        if match and (match.group(1) or match.group(3)):
            return match.end(), bool(match.group(2)) and not match.group(3)
    return None


def check_safe(pattern: str) -> None:
    """Raise HelperFailure when the pattern could backtrack catastrophically."""
    stack = [_Group()]
    last_group: _Group | None = None  # group that just closed (the atom a quantifier binds)
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            if not in_class and pattern[i + 1] in "123456789":
                raise HelperFailure(detail("regex_backreference", pattern=short(pattern)))
            if not in_class and pattern.startswith("(?P=", i + 1):
                raise HelperFailure(detail("regex_backreference", pattern=short(pattern)))
            i += 2
            last_group = None
            continue
        if in_class:
            if char == "]":
                in_class = False
            i += 1
            continue
        if char == "[":
            in_class = True
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            last_group = None
            continue
        if char == "(":
            if pattern.startswith("(?P=", i):
                raise HelperFailure(detail("regex_backreference", pattern=short(pattern)))
            stack.append(_Group())
            i += 1
            if i < n and pattern[i] == "?":
                i += 1  # group options such as (?: (?i) (?P<name>, not a quantifier
            last_group = None
            continue
        if char == ")" and len(stack) > 1:
            closed = stack.pop()
            if closed.has_quantifier:
                stack[-1].has_quantifier = True
            last_group = closed
            i += 1
            continue
        quantifier = _quantifier_at(pattern, i)
        if quantifier is not None:
            length, unbounded = quantifier
            if unbounded and last_group is not None and last_group.has_quantifier:
                raise HelperFailure(detail("regex_nested_quantifier", pattern=short(pattern)))
            stack[-1].has_quantifier = True
            i += length
            if i < n and pattern[i] in "?+":
                i += 1  # lazy or possessive suffix
            last_group = None
            continue
        last_group = None
        i += 1


@lru_cache(maxsize=4096)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str] | str:
    try:
        check_safe(pattern)
        with warnings.catch_warnings():
            # "[[" in RE2 patterns is a literal bracket; Python only warns about future sets.
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(_translate(pattern), re.IGNORECASE if ignore_case else 0)
    except HelperFailure as failure:
        return failure.detail
    except (re.error, OverflowError, RecursionError, ValueError) as error:
        return detail("regex_invalid", pattern=short(pattern), reason=str(error))


def safe_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile an RE2-style pattern after the ReDoS guard; raises HelperFailure if refused."""
    compiled = _compile(pattern, ignore_case)
    if isinstance(compiled, str):
        raise HelperFailure(compiled)
    return compiled


def check_subject(text: str) -> None:
    """Refuse subjects longer than :data:`MAX_SUBJECT_LENGTH`."""
    if len(text) > MAX_SUBJECT_LENGTH:
        raise HelperFailure(
            detail("regex_subject_too_large", length=len(text), limit=MAX_SUBJECT_LENGTH)
        )


def search(pattern: str, text: str) -> bool:
    """True when ``pattern`` matches somewhere in ``text`` (Go's MatchString)."""
    check_subject(text)
    return safe_regex(pattern).search(text) is not None
