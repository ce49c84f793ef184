"""Syntax tree of a compiled expression; each node evaluates itself against a context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shaobing.templates.dsl import operators

_MISSING = object()


class MissingVariable(Exception):
    """Internal signal: a variable is not defined (the evaluator names the expression)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(slots=True)
class Context:
    """What nodes need while evaluating: the variables and the helper table."""

    variables: Mapping[str, Any]
    call: Callable[[str, list[Any]], Any]


class Node:
    """Base class of syntax-tree nodes."""

    __slots__ = ()

    def evaluate(self, ctx: Context) -> Any:
        """Compute this node's value."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A number, string, boolean or nil literal."""

    value: Any

    def evaluate(self, ctx: Context) -> Any:
        """Return the literal value."""
        return self.value


@dataclass(frozen=True, slots=True)
class Variable(Node):
    """A variable reference; ``parts`` splits a hyphenated name for the subtraction fallback."""

    name: str
    parts: tuple[str, ...]

    def evaluate(self, ctx: Context) -> Any:
        """Look the name up; ``a-b`` falls back to ``a - b`` when not defined as one name."""
        value = ctx.variables.get(self.name, _MISSING)
        if value is not _MISSING:
            return _normalise(value)
        if len(self.parts) < 2:
            raise MissingVariable(self.name)
        result = _lookup(ctx, self.parts[0], self.name)
        for part in self.parts[1:]:
            result = operators.binary("-", result, _lookup(ctx, part, self.name))
        return result


def _lookup(ctx: Context, name: str, display: str) -> Any:
    value = ctx.variables.get(name, _MISSING)
    if value is _MISSING:
        raise MissingVariable(display)
    return _normalise(value)


def _normalise(value: Any) -> Any:
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True, slots=True)
class ArrayLiteral(Node):
    """A parenthesised comma list ``(a, b)`` (govaluate's array, used with ``in``)."""

    items: tuple[Node, ...]

    def evaluate(self, ctx: Context) -> Any:
        """Evaluate every item into a list."""
        return [item.evaluate(ctx) for item in self.items]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """A prefix operator: ``!``, ``-`` or ``~``."""

    op: str
    operand: Node

    def evaluate(self, ctx: Context) -> Any:
        """Apply the prefix operator."""
        return operators.unary(self.op, self.operand.evaluate(ctx))


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """An infix operator (logical ones short-circuit)."""

    op: str
    left: Node
    right: Node

    def evaluate(self, ctx: Context) -> Any:
        """Apply the operator; ``&&``/``||`` evaluate the right side only when needed."""
        if self.op in ("&&", "||"):
            left = self.left.evaluate(ctx)
            operators.require_bool(self.op, left)
            if (self.op == "&&") != left:
                return left
            right = self.right.evaluate(ctx)
            operators.require_bool(self.op, right)
            return right
        if self.op == "??":
            try:
                left = self.left.evaluate(ctx)
            except MissingVariable:
                left = None
            return self.right.evaluate(ctx) if left is None else left
        return operators.binary(self.op, self.left.evaluate(ctx), self.right.evaluate(ctx))


@dataclass(frozen=True, slots=True)
class Ternary(Node):
    """``condition ? then : otherwise``."""

    condition: Node
    then: Node
    otherwise: Node

    def evaluate(self, ctx: Context) -> Any:
        """Evaluate one branch depending on the boolean condition."""
        condition = self.condition.evaluate(ctx)
        operators.require_bool("?", condition)
        return self.then.evaluate(ctx) if condition else self.otherwise.evaluate(ctx)


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A helper-function call."""

    name: str
    args: tuple[Node, ...]

    def evaluate(self, ctx: Context) -> Any:
        """Evaluate the arguments left to right and call the helper."""
        return ctx.call(self.name, [arg.evaluate(ctx) for arg in self.args])


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of ``node``."""
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Ternary):
        return (node.condition, node.then, node.otherwise)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, ArrayLiteral):
        return node.items
    return ()


def walk(node: Node) -> list[Node]:
    """Every node of the tree, depth first (iterative: trees may be deep)."""
    out: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(children(current)))
    return out
