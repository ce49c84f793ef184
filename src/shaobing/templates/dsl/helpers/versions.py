"""compare_versions: version constraints with the semantics of HashiCorp's go-version.

Versions are dotted numbers with an optional pre-release (``1.2.3-beta``, ``9.2p1``) and
build metadata; missing segments count as zero. Constraints (``>= 1.0, < 2.0``) are
comma-separated and all must hold; operators are = != > < >= <= and ~> (pessimistic).
A pre-release version only satisfies constraints that name a pre-release of the same
segments, so ``2.0.0-rc1`` does not satisfy ``> 1.0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.helpers.registry import helper
from shaobing.templates.dsl.values import as_text, short

_VERSION = re.compile(
    r"^v?(?P<segments>[0-9]+(?:\.[0-9]+){0,15})"
    r"(?:-?(?P<pre>[0-9A-Za-z~][0-9A-Za-z\-~]*(?:\.[0-9A-Za-z\-~]+)*))?"
    r"(?:\+(?P<meta>[0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*))?$"
)
_CONSTRAINT = re.compile(r"^\s*(?P<op>~>|>=|<=|!=|=|>|<)?\s*(?P<version>\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Version:
    """A parsed version: numeric segments, pre-release text and how many segments were given."""

    segments: tuple[int, ...]
    prerelease: str
    given: int


def parse_version(text: str) -> Version:
    """Parse a version string; raises HelperFailure when it is not one."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise HelperFailure(detail("bad_version", value=short(text)))
    numbers = tuple(int(part[:18]) for part in match.group("segments").split("."))
    padded = numbers + (0,) * (3 - len(numbers)) if len(numbers) < 3 else numbers
    return Version(padded, match.group("pre") or "", len(numbers))


def _compare_pre(a: str, b: str) -> int:
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    for x, y in zip(a.split("."), b.split("."), strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    return -1 if len(a.split(".")) < len(b.split(".")) else 1


def compare(a: Version, b: Version) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``."""
    width = max(len(a.segments), len(b.segments))
    left = a.segments + (0,) * (width - len(a.segments))
    right = b.segments + (0,) * (width - len(b.segments))
    if left != right:
        return -1 if left < right else 1
    return _compare_pre(a.prerelease, b.prerelease)


def _pessimistic(version: Version, bound: Version) -> bool:
    if compare(version, bound) < 0:
        return False
    keep = max(bound.given - 1, 1)
    return version.segments[:keep] == bound.segments[:keep]


def _check_one(version: Version, op: str, bound: Version) -> bool:
    if version.prerelease and (not bound.prerelease or version.segments != bound.segments):
        return False
    order = compare(version, bound)
    return (
        {
            "=": order == 0,
            "!=": order != 0,
            ">": order > 0,
            "<": order < 0,
            ">=": order >= 0,
            "<=": order <= 0,
        }.get(op, False)
        if op != "~>"
        else _pessimistic(version, bound)
    )


def satisfies(version_text: str, constraints: list[str]) -> bool:
    """True when the version satisfies every comma-separated constraint."""
    version = parse_version(version_text)
    parts = [part for text in constraints for part in text.split(",")]
    if not any(part.strip() for part in parts):
        raise HelperFailure(detail("bad_constraint", value="''"))
    for part in parts:
        match = _CONSTRAINT.match(part)
        if match is None:
            raise HelperFailure(detail("bad_constraint", value=short(part)))
        try:
            bound = parse_version(match.group("version"))
        except HelperFailure:
            raise HelperFailure(detail("bad_constraint", value=short(part))) from None
        if not _check_one(version, match.group("op") or "=", bound):
            return False
    return True


@helper("compare_versions", 2, None)
def compare_versions(args: list[Any]) -> bool:
    """True when the first version satisfies all constraints given after it."""
    return satisfies(as_text(args[0]), [as_text(arg) for arg in args[1:]])
