"""The subset of jq paths JSON extractors use: ``.a.b``, ``.a[0]``, ``.[]``, ``.a[].b``,
``.["key"]`` and pipes (``.items | .[].name``). No jq dependency; anything outside the
subset is refused when the template loads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$-]*")


class JsonPathError(ValueError):
    """A path outside the supported jq subset."""


@dataclass(frozen=True)
class _Step:
    kind: str  # "key", "index", "iterate"
    key: str | int | None = None


@dataclass(frozen=True)
class JsonPath:
    """A compiled path: pipe segments of steps."""

    text: str
    segments: tuple[tuple[_Step, ...], ...]

    def apply(self, document: Any) -> list[Any]:
        """Every value the path yields for ``document`` (nulls dropped)."""
        values = [document]
        for segment in self.segments:
            for step in segment:
                values = [out for value in values for out in _apply(step, value)]
        return [value for value in values if value is not None]


def _apply(step: _Step, value: Any) -> Iterator[Any]:
    if step.kind == "iterate":
        if isinstance(value, list):
            yield from value
        elif isinstance(value, dict):
            yield from value.values()
    elif step.kind == "index":
        if (
            isinstance(value, list)
            and isinstance(step.key, int)
            and -len(value) <= step.key < len(value)
        ):
            yield value[step.key]
    elif isinstance(value, dict):
        yield value.get(str(step.key))


def _bracket(text: str, pos: int) -> tuple[_Step, int]:
    end = text.find("]", pos)
    if end < 0:
        raise JsonPathError(text)
    inner = text[pos + 1 : end].strip()
    if not inner:
        return _Step("iterate"), end + 1
    if re.fullmatch(r"-?\d+", inner):
        return _Step("index", int(inner)), end + 1
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "\"'":
        return _Step("key", inner[1:-1]), end + 1
    raise JsonPathError(text)


def _segment(text: str) -> tuple[_Step, ...]:
    part = text.strip()
    if not part.startswith("."):
        raise JsonPathError(text)
    steps: list[_Step] = []
    pos = 0
    while pos < len(part):
        char = part[pos]
        if char == "[":
            step, pos = _bracket(part, pos)
            steps.append(step)
        elif char == ".":
            pos += 1
            if pos < len(part) and part[pos] == "[":
                continue
            if pos < len(part) and part[pos] == '"':
                end = part.find('"', pos + 1)
                if end < 0:
                    raise JsonPathError(text)
                steps.append(_Step("key", part[pos + 1 : end]))
                pos = end + 1
                continue
            match = _IDENT.match(part, pos)
            if match is None:
                if pos == len(part) and len(part) == 1:
                    break  # the identity path "."
                raise JsonPathError(text)
            steps.append(_Step("key", match.group(0)))
            pos = match.end()
        elif char == "?":
            pos += 1  # ".a[]?" only silences errors, which this evaluator never raises
        else:
            raise JsonPathError(text)
    return tuple(steps)


@lru_cache(maxsize=2048)
def compile_path(text: str) -> JsonPath:
    """Compile a jq path of the supported subset; raises :class:`JsonPathError`."""
    if not text.strip():
        raise JsonPathError(text)
    return JsonPath(text, tuple(_segment(part) for part in text.split("|")))


def render(value: Any) -> str:
    """A value as extractors report it: strings as they are, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
