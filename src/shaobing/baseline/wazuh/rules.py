"""The rule strings of Wazuh SCA checks, parsed into typed rules.

Grammar (Wazuh's "Creating custom SCA policies", as the agent reads it)::

    RULE     := ["not "] TYPE ":" LOCATION [" -> " CONTENT]
    TYPE     := "f" | "d" | "c" | "p" | "r"        (file, directory, command, process, registry)
    d: rules := "d:" DIRS [" -> " FILE_PATTERN [" -> " CONTENT]]
    r: rules := "r:" KEY [" -> " VALUE_NAME [" -> " CONTENT]]
    CONTENT  := MINTERM (" && " MINTERM)*          (all must hold on the same line)
    MINTERM  := ["!"] ( "r:" REGEX | "n:" REGEX " compare " OP NUMBER | LITERAL )
    OP       := "<" | "<=" | "==" | "!=" | ">=" | ">"

The separators must be written with their spaces (`` -> ``, `` && ``, `` compare ``); the
first `` -> `` ends the location, so a later one belongs to the content text (as in the
agent). ``$name`` variables are replaced in the location only; file and directory
locations are comma-separated lists. ``not`` inverts the rule's result, ``!`` inverts one
minterm on each line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from shaobing.core.i18n import t

ARROW = " -> "
AND = " && "
COMPARE = " compare "
# The agent compares C longs: at most 18 digits keeps every value in range.
_COMPARISON = re.compile(r"^\s*(<=|>=|==|!=|<|>|=)\s*([+-]?\d{1,18})\s*$")


class RuleType(StrEnum):
    """What a rule looks at."""

    FILE = "f"
    DIRECTORY = "d"
    COMMAND = "c"
    PROCESS = "p"
    REGISTRY = "r"


class MintermKind(StrEnum):
    """How one content condition tests a line."""

    REGEX = "r"
    NUMERIC = "n"
    LITERAL = "literal"


class RuleSyntaxError(ValueError):
    """A rule string that does not follow the grammar; ``reason`` is translated."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Minterm:
    """One condition on a line: a regex, a numeric comparison of a capture, or literal text."""

    negated: bool
    kind: MintermKind
    pattern: str
    op: str = ""
    value: int = 0

    def compare(self, number: int) -> bool:
        """``number OP value`` for a numeric minterm."""
        return {
            "<": number < self.value,
            "<=": number <= self.value,
            "==": number == self.value,
            "!=": number != self.value,
            ">=": number >= self.value,
            ">": number > self.value,
        }[self.op]


@dataclass(frozen=True)
class Content:
    """A content condition: the minterms joined by ``&&`` (as written in ``text``)."""

    text: str
    minterms: tuple[Minterm, ...]


@dataclass(frozen=True)
class Rule:
    """One parsed rule of a check."""

    #: the rule as written in the policy (before variable expansion)
    text: str
    negated: bool
    type: RuleType
    #: the location after variable expansion (file list, directory list, command, ...)
    target: str
    #: file and directory rules: the comma-separated paths; others: the target alone
    locations: tuple[str, ...]
    #: d: the file-name pattern; r: the value name
    name_pattern: str | None
    content: Content | None


def parse_minterm(text: str) -> Minterm:
    """One ``[!]r:``/``[!]n:``/literal condition (raises RuleSyntaxError)."""
    negated = text.startswith("!")
    body = text[1:] if negated else text
    prefix = body[:2].lower()
    if prefix == "r:":
        return Minterm(negated, MintermKind.REGEX, body[2:])
    if prefix == "n:":
        regex, separator, comparison = body[2:].partition(COMPARE)
        if not separator:
            raise RuleSyntaxError(t("baseline_wazuh.rule.numeric_no_compare", minterm=text))
        match = _COMPARISON.match(comparison)
        if match is None:
            raise RuleSyntaxError(
                t("baseline_wazuh.rule.numeric_bad_compare", minterm=text, comparison=comparison)
            )
        op = "==" if match.group(1) == "=" else match.group(1)
        return Minterm(negated, MintermKind.NUMERIC, regex, op, int(match.group(2)))
    return Minterm(negated, MintermKind.LITERAL, body)


def parse_content(text: str) -> Content:
    """A content condition: minterms separated by `` && `` (empty pieces are skipped)."""
    minterms = tuple(parse_minterm(piece) for piece in text.split(AND) if piece)
    return Content(text, minterms)


def expand_variables(location: str, variables: Mapping[str, str]) -> str:
    """Replace ``$name`` variables, longest names first so ``$a`` never eats ``$ab``."""
    for name in sorted(variables, key=len, reverse=True):
        location = location.replace(name, variables[name])
    return location


def parse_rule(text: str, variables: Mapping[str, str] | None = None) -> Rule:
    """Parse one rule string of a check or of the requirements (raises RuleSyntaxError)."""
    if not isinstance(text, str):
        raise RuleSyntaxError(t("baseline_wazuh.rule.not_string"))
    body = text.strip(" \t")
    negated = False
    if body[:4] in {"not ", "NOT "}:
        negated = True
        body = body[4:].lstrip(" \t")
    if not body:
        raise RuleSyntaxError(t("baseline_wazuh.rule.empty"))
    kind, colon, value = body.partition(":")
    # The agent drops a "!" written before the type letter.
    kind = kind.removeprefix("!")
    if not colon or kind not in {member.value for member in RuleType}:
        raise RuleSyntaxError(t("baseline_wazuh.rule.bad_type", rule=text))
    rule_type = RuleType(kind)
    name_pattern: str | None = None
    content_text: str | None = None
    if rule_type is RuleType.PROCESS:
        # The agent matches the whole value against each process, " -> " included.
        location, content_text = value, value
    else:
        location, arrow, rest = value.partition(ARROW)
        if arrow:
            if rule_type in {RuleType.DIRECTORY, RuleType.REGISTRY}:
                name_pattern, arrow2, deeper = rest.partition(ARROW)
                content_text = deeper if arrow2 else None
            else:
                content_text = rest
    target = expand_variables(location, variables or {})
    if not target.strip():
        raise RuleSyntaxError(t("baseline_wazuh.rule.no_location", rule=text))
    if rule_type in {RuleType.FILE, RuleType.DIRECTORY}:
        locations = tuple(p.strip() for p in target.split(",") if p.strip())
    else:
        locations = (target,)
    content = parse_content(content_text) if content_text is not None else None
    return Rule(text, negated, rule_type, target, locations, name_pattern, content)
