"""Which expression-language features a template uses that the engine cannot evaluate.

Every ``{{...}}`` marker and every DSL matcher/extractor expression is compiled once at
load time, so an unknown helper function is reported by name (``dsl-function:foo``)
instead of failing at run time. ``{{interactsh-url}}`` and the ``interactsh_*`` parts are
supported: the platform runs its own callback server (templates/oob); a template using
them needs ``SHAOBING_OOB_DOMAIN`` at run time, which the run checks, not the loader.
"""

from __future__ import annotations

import re
from functools import lru_cache

from shaobing.core.i18n import t
from shaobing.templates.dsl import (
    KNOWN_FUNCTIONS,
    DslError,
    UnknownFunction,
    compile_expression,
)
from shaobing.templates.dsl.errors import UnsupportedFunction
from shaobing.templates.model import Unsupported

# Innermost markers first: "{{md5({{num}})}}" holds "num", then "md5(…)".
_INNER_MARKER = re.compile(r"\{\{((?:(?!\{\{|\}\}).)+?)\}\}", re.DOTALL)
_PLACEHOLDER = "__shaobing_marker__"
MAX_MARKERS = 1000
_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def markers(text: str) -> list[str]:
    """The expressions inside ``{{...}}`` markers of ``text``, innermost first; an inner
    marker is replaced by a placeholder name in the expression around it."""
    found: list[str] = []
    while "{{" in text and len(found) < MAX_MARKERS:
        matches = list(_INNER_MARKER.finditer(text))
        if not matches:
            break
        found.extend(match.group(1).strip() for match in matches)
        text = _INNER_MARKER.sub(_PLACEHOLDER, text)
    return found


def _unknown_name(exc: UnknownFunction) -> str:
    name = getattr(exc, "name", None)
    if isinstance(name, str) and name:
        return name
    # Fall back to the first identifier quoted in the message.
    found = re.search(r"['\"`]([A-Za-z_][A-Za-z0-9_]*)['\"`]", str(exc))
    if found:
        return found.group(1)
    words = _FUNCTION_NAME.findall(str(exc))
    return words[-1] if words else "?"


@lru_cache(maxsize=8192)
def expression_features(expression: str) -> tuple[Unsupported, ...]:
    """Unsupported features of one DSL expression (empty when it compiles)."""
    try:
        compiled = compile_expression(expression)
    except UnsupportedFunction as exc:
        name = _unknown_name(exc)
        return (Unsupported(f"dsl-function:{name}", exc.reason),)
    except UnknownFunction as exc:
        name = _unknown_name(exc)
        return (
            Unsupported(f"dsl-function:{name}", t("templates.unsupported.dsl_function", name=name)),
        )
    except DslError as exc:
        detail = " ".join(str(exc).split())[:160]
        return (Unsupported("dsl-syntax", t("templates.unsupported.dsl_syntax", detail=detail)),)
    unknown = sorted(set(compiled.functions) - KNOWN_FUNCTIONS)
    return tuple(
        Unsupported(f"dsl-function:{name}", t("templates.unsupported.dsl_function", name=name))
        for name in unknown
    )


def text_features(text: str) -> list[Unsupported]:
    """Unsupported features of the markers in a request, header, word or payload text."""
    found: list[Unsupported] = []
    for expression in markers(text):
        found.extend(expression_features(expression))
    return found
