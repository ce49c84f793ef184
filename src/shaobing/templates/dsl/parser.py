"""Recursive-descent parser with govaluate's precedence (lowest first).

``?:``/``??`` < ``||`` < ``&&`` < comparators (``== != < <= > >= =~ !~ in``) < bitwise
(``& | ^``) < shifts < additive < multiplicative < ``**`` < prefix (``! - ~``) < primary.
Binary operators of one level associate to the left (govaluate reorders them so);
the ternary associates to the right. Nesting is bounded by :data:`MAX_DEPTH`.
"""

from __future__ import annotations

from shaobing.core.i18n import t
from shaobing.templates.dsl.errors import DslError, detail
from shaobing.templates.dsl.lexer import Token, tokenize
from shaobing.templates.dsl.nodes import (
    ArrayLiteral,
    Binary,
    Call,
    Literal,
    Node,
    Ternary,
    Unary,
    Variable,
    children,
)

#: Longest expression text accepted (real templates stay far below).
MAX_LENGTH = 256 * 1024
#: Deepest nesting of parentheses, calls, prefix operators and ternaries accepted (each
#: level costs about a dozen Python frames while parsing).
MAX_DEPTH = 48
#: Deepest syntax tree accepted (long operator chains; each level is a frame when evaluated).
MAX_TREE_DEPTH = 300

_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"||"}),
    frozenset({"&&"}),
    frozenset({"==", "!=", "<", "<=", ">", ">=", "=~", "!~", "in"}),
    frozenset({"&", "|", "^"}),
    frozenset({"<<", ">>"}),
    frozenset({"+", "-"}),
    frozenset({"*", "/", "%"}),
    frozenset({"**"}),
)
_KEYWORDS = {"true": True, "false": False, "nil": None, "null": None}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # -- helpers -----------------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def error(self, token: Token) -> DslError:
        message = (
            detail("unexpected_end")
            if token.kind == "eof"
            else detail("unexpected_token", token=str(token.value))
        )
        return DslError(
            t("template_dsl.syntax", expression=self.text, position=token.position, detail=message)
        )

    def expect(self, kind: str) -> Token:
        token = self.advance()
        if token.kind != kind:
            raise self.error(token)
        return token

    def is_op(self, token: Token, ops: frozenset[str]) -> bool:
        if token.kind == "op":
            return token.value in ops
        return token.kind == "ident" and token.value == "in" and "in" in ops

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise DslError(t("template_dsl.too_deep", expression=self.text, limit=MAX_DEPTH))

    # -- grammar -----------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.ternary()
        if self.peek().kind == ",":
            # govaluate reads a top-level comma list as an array ("tls_version, cipher").
            items = [node]
            while self.peek().kind == ",":
                self.advance()
                items.append(self.ternary())
            node = ArrayLiteral(tuple(items))
        if self.peek().kind != "eof":
            raise self.error(self.peek())
        return node

    def ternary(self) -> Node:
        self.enter()
        condition = self.binary(0)
        token = self.peek()
        if token.kind == "op" and token.value == "?":
            self.advance()
            then = self.ternary()
            colon = self.advance()
            if colon.kind != "op" or colon.value != ":":
                raise self.error(colon)
            condition = Ternary(condition, then, self.ternary())
        elif token.kind == "op" and token.value == "??":
            self.advance()
            condition = Binary("??", condition, self.ternary())
        self.depth -= 1
        return condition

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.prefix()
        ops = _LEVELS[level]
        node = self.binary(level + 1)
        while self.is_op(self.peek(), ops):
            op = str(self.advance().value)
            node = Binary(op, node, self.binary(level + 1))
        return node

    def prefix(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.value in ("!", "-", "~"):
            self.advance()
            self.enter()
            operand = self.prefix()
            self.depth -= 1
            if token.value == "-" and isinstance(operand, Literal):
                value = operand.value
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return Literal(-value)
            return Unary(str(token.value), operand)
        return self.primary()

    def primary(self) -> Node:
        token = self.advance()
        if token.kind in ("num", "str"):
            return Literal(token.value)
        if token.kind == "(":
            return self.group()
        if token.kind == "ident":
            name = str(token.value)
            if name in _KEYWORDS and len(token.parts) == 1:
                return Literal(_KEYWORDS[name])
            if self.peek().kind == "(":
                return self.call(token)
            return Variable(name, token.parts or (name,))
        raise self.error(token)

    def group(self) -> Node:
        self.enter()
        if self.peek().kind == ")":
            self.advance()
            self.depth -= 1
            return ArrayLiteral(())
        items = [self.ternary()]
        while self.peek().kind == ",":
            self.advance()
            items.append(self.ternary())
        self.expect(")")
        self.depth -= 1
        return items[0] if len(items) == 1 else ArrayLiteral(tuple(items))

    def call(self, token: Token) -> Node:
        self.enter()
        self.advance()  # "("
        args: list[Node] = []
        if self.peek().kind != ")":
            args.append(self.ternary())
            while self.peek().kind == ",":
                self.advance()
                args.append(self.ternary())
        self.expect(")")
        self.depth -= 1
        parts = token.parts or (str(token.value),)
        node: Node = Call(parts[-1], tuple(args))
        if len(parts) > 1:
            # "a-to_lower(x)" is a subtraction whose right side is a call.
            node = Binary("-", Variable("-".join(parts[:-1]), parts[:-1]), node)
        return node


def parse(text: str) -> Node:
    """Parse ``text`` into a syntax tree; raises :class:`DslError` with the position."""
    if len(text) > MAX_LENGTH:
        raise DslError(
            t("template_dsl.too_long", expression=text[:200], length=len(text), limit=MAX_LENGTH)
        )
    tree = _Parser(text).parse()
    if _tree_depth(tree) > MAX_TREE_DEPTH:
        raise DslError(t("template_dsl.too_deep", expression=text, limit=MAX_TREE_DEPTH))
    return tree


def _tree_depth(root: Node) -> int:
    deepest = 0
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children(node))
    return deepest
