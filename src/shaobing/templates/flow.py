"""Template ``flow``: the sequential subset of Nuclei's JavaScript flow language.

Supported: protocol calls ``http(1)``, ``http("id")``, ``http()``, ``tcp(2)``, combined with
``&&``, ``||``, ``!`` and parentheses, one statement per line or separated by ``;``. A call
runs that request block and is true when it matched; ``&&``/``||`` short-circuit as in
JavaScript, so ``http(1) && http(2)`` runs the second request only after the first
matched. Anything else (variables, loops, ``set()``, ``iterate()``) is JavaScript and is
refused when the template loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

PROTOCOLS = frozenset({"http", "tcp", "network", "ssl", "dns"})
_TOKEN = re.compile(
    r"[ \t\r]*(?:(?P<op>&&|\|\||[!();])|(?P<nl>\n)|(?P<name>[a-z]+)|(?P<num>\d+)"
    r"|(?P<str>\"[^\"]*\"|'[^']*'))"
)


class FlowError(ValueError):
    """A flow outside the supported subset."""


@dataclass(frozen=True)
class Call:
    """``protocol(selector)``; selector is a 1-based index, a request id, or None (all)."""

    protocol: str
    selector: int | str | None


@dataclass(frozen=True)
class Op:
    """``&&``, ``||`` or ``!`` applied to operands."""

    op: str
    operands: tuple[Node, ...]


Node = Call | Op


@dataclass(frozen=True)
class Flow:
    """The parsed flow: statements run one after the other."""

    text: str
    statements: tuple[Node, ...]

    def calls(self) -> list[Call]:
        """Every protocol call in the flow."""
        out: list[Call] = []
        stack: list[Node] = list(self.statements)
        while stack:
            node = stack.pop()
            if isinstance(node, Call):
                out.append(node)
            else:
                stack.extend(node.operands)
        return out

    def run(self, call: Callable[[Call], bool]) -> None:
        """Execute the statements; ``call`` runs one protocol request block."""
        for statement in self.statements:
            _evaluate(statement, call)


def _evaluate(node: Node, call: Callable[[Call], bool]) -> bool:
    if isinstance(node, Call):
        return call(node)
    if node.op == "!":
        return not _evaluate(node.operands[0], call)
    if node.op == "&&":
        return all(_evaluate(operand, call) for operand in node.operands)
    return any(_evaluate(operand, call) for operand in node.operands)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        source = text.replace("\r\n", "\n")
        # A line break next to an operator or a parenthesis continues the statement.
        source = re.sub(r"(&&|\|\||\()\s*\n\s*", r"\1 ", source)
        source = re.sub(r"\s*\n\s*(&&|\|\||\))", r" \1", source)
        while pos < len(source):
            if not source[pos:].strip(" \t"):
                break
            match = _TOKEN.match(source, pos)
            if match is None or match.end() == pos:
                raise FlowError(text)
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise FlowError(self.text)
        self.pos += 1
        return token

    def program(self) -> tuple[Node, ...]:
        statements: list[Node] = []
        while self.peek() is not None:
            token = self.peek()
            if token is not None and (token[0] == "nl" or token[1] == ";"):
                self.take()
                continue
            statements.append(self.or_expr())
            token = self.peek()
            if token is not None and token[0] != "nl" and token[1] != ";":
                raise FlowError(self.text)
        if not statements:
            raise FlowError(self.text)
        return tuple(statements)

    def or_expr(self) -> Node:
        operands = [self.and_expr()]
        while self._at("||"):
            self.take()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Op("||", tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.unary()]
        while self._at("&&"):
            self.take()
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else Op("&&", tuple(operands))

    def unary(self) -> Node:
        if self._at("!"):
            self.take()
            return Op("!", (self.unary(),))
        if self._at("("):
            self.take()
            inner = self.or_expr()
            self.take(")")
            return inner
        kind, name = self.take()
        if kind != "name" or name not in PROTOCOLS:
            raise FlowError(self.text)
        self.take("(")
        selector: int | str | None = None
        token = self.peek()
        if token is not None and token[0] == "num":
            selector = int(self.take()[1])
        elif token is not None and token[0] == "str":
            selector = self.take()[1][1:-1]
        self.take(")")
        return Call("tcp" if name == "network" else name, selector)

    def _at(self, value: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "op" and token[1] == value


@lru_cache(maxsize=4096)
def parse_flow(text: str) -> Flow:
    """Parse a flow of the supported subset; raises :class:`FlowError` otherwise (parsed
    once per flow text: the result is immutable)."""
    return Flow(text, _Parser(text).program())
