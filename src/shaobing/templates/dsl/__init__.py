"""The Nuclei template expression language (DSL), evaluated safely without Python eval.

Public API: :func:`compile_expression` / :class:`Expression`, :func:`evaluate`,
:func:`interpolate` / :func:`unresolved` for ``{{...}}`` markers, :func:`truthy` for DSL
matchers, :data:`KNOWN_FUNCTIONS` and :data:`UNSUPPORTED_FUNCTIONS`, :func:`safe_regex`
(RE2 patterns with a backtracking guard) and the error types. The language is pure: it
never opens a file or a connection; its only side effects are randomness and
``wait_for``'s bounded sleep.
"""

from __future__ import annotations

from shaobing.templates.dsl.errors import (
    DslError,
    UnknownFunction,
    UnknownVariable,
    UnsupportedFunction,
)
from shaobing.templates.dsl.evaluator import Expression, compile_expression, evaluate
from shaobing.templates.dsl.helpers import HELPERS, UNSUPPORTED, make_randstr, random_text
from shaobing.templates.dsl.interpolate import interpolate, render_markers, unresolved
from shaobing.templates.dsl.regex import safe_regex
from shaobing.templates.dsl.values import render, truthy

#: Every helper name the evaluator implements (including underscore-free aliases).
KNOWN_FUNCTIONS: frozenset[str] = frozenset(HELPERS)
#: Documented Nuclei helpers refused on purpose (network access, exploit generation).
UNSUPPORTED_FUNCTIONS: frozenset[str] = frozenset(UNSUPPORTED)

__all__ = [
    "KNOWN_FUNCTIONS",
    "UNSUPPORTED_FUNCTIONS",
    "DslError",
    "Expression",
    "UnknownFunction",
    "UnknownVariable",
    "UnsupportedFunction",
    "compile_expression",
    "evaluate",
    "interpolate",
    "make_randstr",
    "random_text",
    "render",
    "render_markers",
    "safe_regex",
    "truthy",
    "unresolved",
]
