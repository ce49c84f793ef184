"""Content conditions evaluated line by line, as the Wazuh agent does.

A content condition holds when one line satisfies every minterm (``!`` minterms must not
match that line). The Wazuh 5 agent treats a condition made of a single ``!`` minterm
specially: it holds when *no* line matches (the 4.x agent: when *some* line does not);
:class:`Matcher` follows the policy's layout. Literal minterms compare the whole line, the
4.x agent ignoring case as ``strcasecmp`` does. ``n:`` minterms take the first capture
group as a C ``strtol`` would and compare it with the rule's number.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shaobing.baseline.wazuh.regex import Engine, compile_pattern, subject_pieces
from shaobing.baseline.wazuh.rules import Content, Minterm, MintermKind
from shaobing.core.i18n import t

_STRTOL = re.compile(r"^[ \t\n\r\f\v]*([+-]?\d+)")
# strtol fails with ERANGE outside a 64-bit long; the agent then reports the rule invalid.
_LONG_MAX = 2**63 - 1


class NumericError(ValueError):
    """An ``n:`` minterm whose regex matched without giving a number; ``reason`` translated."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Matcher:
    """A compiled content condition."""

    text: str
    minterms: tuple[tuple[Minterm, re.Pattern[str] | None], ...]
    literal_ignore_case: bool
    #: Wazuh 5 rule: a lone ``!`` minterm means "no line matches"
    negated_only: bool


@dataclass(frozen=True)
class Scan:
    """What a line scan found: whether the condition holds and the lines that show it."""

    found: bool
    #: the satisfying line, or (for a lone negated minterm) the line that broke it
    line: str | None = None
    #: when nothing satisfied the condition: the first line a positive minterm matched
    near: str | None = None


def compile_content(
    content: Content, engine: Engine, *, wazuh5: bool, literal_ignore_case: bool
) -> Matcher:
    """Compile each minterm's pattern (raises RegexError for an invalid or unsafe one)."""
    ignore_case = engine is Engine.OSREGEX
    compiled: list[tuple[Minterm, re.Pattern[str] | None]] = []
    for minterm in content.minterms:
        pattern = None
        if minterm.kind is not MintermKind.LITERAL:
            pattern = compile_pattern(
                engine,
                minterm.pattern,
                ignore_case=ignore_case,
                capture=minterm.kind is MintermKind.NUMERIC,
            )
        compiled.append((minterm, pattern))
    negated_only = wazuh5 and len(compiled) == 1 and compiled[0][0].negated
    return Matcher(content.text, tuple(compiled), literal_ignore_case, negated_only)


def strtol(text: str) -> int | None:
    """The integer C's ``strtol(text, &end, 10)`` reads; None when it reads nothing or overflows."""
    match = _STRTOL.match(text)
    if match is None or len(match.group(1).lstrip("+-0")) > 19:
        return None
    number = int(match.group(1))
    return number if -_LONG_MAX - 1 <= number <= _LONG_MAX else None


def _positive(minterm: Minterm, pattern: re.Pattern[str] | None, piece: str, fold: bool) -> bool:
    """Whether the minterm, ignoring its ``!``, holds on one piece of a line."""
    if pattern is None:
        if fold:
            return piece.lower() == minterm.pattern.lower()
        return piece == minterm.pattern
    if minterm.kind is MintermKind.REGEX:
        return pattern.search(piece) is not None
    match = pattern.search(piece)
    if match is None:
        return False
    if pattern.groups == 0:
        raise NumericError(t("baseline_wazuh.eval.numeric_no_group", pattern=minterm.pattern))
    captured = next((group for group in match.groups() if group is not None), None)
    number = strtol(captured) if captured is not None else None
    if number is None:
        raise NumericError(
            t("baseline_wazuh.eval.numeric_not_number", pattern=minterm.pattern, value=captured)
        )
    return minterm.compare(number)


def _regex_hits(minterm: Minterm, pattern: re.Pattern[str] | None, piece: str) -> bool:
    """Whether a positive regex or numeric minterm's pattern appears (a "near" line)."""
    return not minterm.negated and pattern is not None and pattern.search(piece) is not None


def scan(matcher: Matcher, lines: Sequence[str]) -> Scan:
    """Evaluate the condition over lines (each cut to the agent's line length)."""
    fold = matcher.literal_ignore_case
    if matcher.negated_only:
        minterm, pattern = matcher.minterms[0]
        if not lines:
            return Scan(found=False)
        for line in lines:
            for piece in subject_pieces(line):
                if _positive(minterm, pattern, piece, fold):
                    return Scan(found=False, line=line)
        return Scan(found=True)
    near: str | None = None
    for line in lines:
        for piece in subject_pieces(line):
            if all(
                _positive(minterm, pattern, piece, fold) != minterm.negated
                for minterm, pattern in matcher.minterms
            ):
                return Scan(found=True, line=line)
            if near is None and any(
                _regex_hits(minterm, pattern, piece) for minterm, pattern in matcher.minterms
            ):
                near = line
    return Scan(found=False, near=near)


def closest_line(matcher: Matcher, lines: Sequence[str]) -> str | None:
    """For evidence only: the first line a positive pattern matches when case is ignored.

    PCRE2 rules are case-sensitive, and ``sshd -T`` prints its keys in lower case; showing
    that line explains a failure better than the first line of the output.
    """
    for minterm, pattern in matcher.minterms:
        if minterm.negated or pattern is None:
            continue
        loose = re.compile(pattern.pattern, pattern.flags | re.IGNORECASE)
        for line in lines:
            if any(loose.search(piece) for piece in subject_pieces(line)):
                return line
    return None


def text_lines(text: str) -> list[str]:
    """Lines as the agent reads them: split on newlines, trailing CR removed, no last blank."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
