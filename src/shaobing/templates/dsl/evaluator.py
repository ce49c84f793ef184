"""Compiled expressions: parse once, check helper names, evaluate against variables."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from shaobing.core.i18n import t
from shaobing.templates.dsl.errors import (
    DslError,
    HelperFailure,
    UnknownFunction,
    UnknownVariable,
    UnsupportedFunction,
)
from shaobing.templates.dsl.helpers import HELPERS, UNSUPPORTED
from shaobing.templates.dsl.nodes import Call, Context, MissingVariable, Node, Variable, walk
from shaobing.templates.dsl.operators import TypeMismatch
from shaobing.templates.dsl.parser import parse
from shaobing.templates.dsl.values import short


class Expression:
    """A parsed expression with the helper and variable names it uses."""

    __slots__ = ("_tree", "functions", "text", "variables")

    def __init__(self, text: str, tree: Node) -> None:
        self.text = text
        self._tree = tree
        nodes = walk(tree)
        self.functions: frozenset[str] = frozenset(n.name for n in nodes if isinstance(n, Call))
        self.variables: frozenset[str] = frozenset(
            part for n in nodes if isinstance(n, Variable) for part in _names(n)
        )

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """Evaluate against ``variables``; every failure is a :class:`DslError`."""
        ctx = Context(variables, self._call)
        try:
            return self._tree.evaluate(ctx)
        except DslError:
            raise
        except MissingVariable as missing:
            raise UnknownVariable(self._shown(), missing.name) from None
        except TypeMismatch as mismatch:
            raise DslError(self._type_message(mismatch)) from None
        except HelperFailure as failure:
            raise DslError(
                t("template_dsl.evaluation_failed", expression=self._shown(), detail=failure.detail)
            ) from None
        except RecursionError:
            raise DslError(
                t("template_dsl.too_deep", expression=self._shown(), limit="-")
            ) from None

    def _shown(self) -> str:
        return short(self.text, 200)

    def _type_message(self, mismatch: TypeMismatch) -> str:
        if len(mismatch.operands) == 1:
            return t(
                "template_dsl.unary_type_error",
                expression=self._shown(),
                operator=mismatch.op,
                operand=mismatch.operands[0],
            )
        return t(
            "template_dsl.type_error",
            expression=self._shown(),
            operator=mismatch.op,
            left=mismatch.operands[0],
            right=mismatch.operands[1],
        )

    def _call(self, name: str, args: list[Any]) -> Any:
        helper = HELPERS[name]
        if len(args) < helper.min_args or (
            helper.max_args is not None and len(args) > helper.max_args
        ):
            raise DslError(
                t(
                    "template_dsl.arity",
                    expression=self._shown(),
                    name=name,
                    expected=helper.arity_text(),
                    got=len(args),
                )
            )
        try:
            return helper.fn(args)
        except (HelperFailure, DslError, MissingVariable, TypeMismatch):
            raise
        except Exception as error:  # noqa: BLE001 - stdlib codecs raise many types; all mean "helper failed"
            raise DslError(
                t(
                    "template_dsl.function_failed",
                    expression=self._shown(),
                    name=name,
                    detail=short(f"{type(error).__name__}: {error}"),
                )
            ) from None


def _names(node: Variable) -> tuple[str, ...]:
    return (node.name,) if len(node.parts) < 2 else node.parts


@lru_cache(maxsize=8192)
def compile_expression(text: str) -> Expression:
    """Parse ``text``; unknown or refused helpers raise UnknownFunction / UnsupportedFunction."""
    try:
        tree = parse(text)
    except RecursionError:
        raise DslError(t("template_dsl.too_deep", expression=short(text, 200), limit="-")) from None
    expression = Expression(text, tree)
    for name in sorted(expression.functions):
        if name in HELPERS:
            continue
        if name in UNSUPPORTED:
            key, what = UNSUPPORTED[name]
            reason = t(f"template_dsl.reason.{key}", what=what)
            raise UnsupportedFunction(short(text, 200), name, reason)
        raise UnknownFunction(short(text, 200), name)
    return expression


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """Compile (cached) and evaluate ``text`` against ``variables``."""
    return compile_expression(text).evaluate(variables)
