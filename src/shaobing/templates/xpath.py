"""A small XPath 1.0 subset over HTML/XML parsed with the standard library.

Supported: absolute and relative location paths with ``/`` and ``//``, name tests and
``*``, ``@attr`` and ``text()`` steps, predicates with positions, comparisons, ``and``,
``or``, ``not()``, ``contains()``, ``starts-with()``, ``ends-with()``, ``matches()``,
``translate()``, ``normalize-space()``, ``string()``, ``lower-case()``, ``upper-case()``.
Expressions outside the subset are refused when the template loads. No lxml dependency:
the document tree is built with :mod:`html.parser`, which never fetches anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_FUNCTIONS = frozenset(
    {
        "contains",
        "starts-with",
        "ends-with",
        "not",
        "matches",
        "translate",
        "normalize-space",
        "string",
        "lower-case",
        "upper-case",
        "text",
        "string-length",
        "count",
    }
)
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"[^"]*"|'[^']*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>//|!=|<=|>=|[/\[\]()@,=<>*.|])|(?P<name>[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?))"""
)


class XPathError(ValueError):
    """An expression outside the supported subset."""


@dataclass(eq=False)
class Node:
    """An element of the parsed document."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    parent: Node | None = None

    def text(self) -> str:
        """The text content of the element and its descendants."""
        parts = list(self.texts)
        for child in self.children:
            parts.append(child.text())
        return "".join(parts)

    def descendants(self) -> list[Node]:
        """All elements below this one, in document order."""
        out: list[Node] = []
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self._stack[-1])
        self._stack[-1].children.append(node)
        if tag not in _VOID:
            self._stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self._stack[-1])
        self._stack[-1].children.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].texts.append(data)


def parse_document(text: str) -> Node:
    """The element tree of an HTML or XML document (tag names lower-cased)."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


# ----------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Step:
    axis: str  # "child", "descendant", "attribute", "text", "self"
    name: str
    predicates: tuple[Any, ...] = ()


@dataclass(frozen=True)
class XPath:
    """A compiled location path."""

    text: str
    absolute: bool
    steps: tuple[_Step, ...]

    def select(self, root: Node) -> list[Node | str]:
        """Elements, attribute values or texts the path selects from ``root``."""
        return _select(self, [root])


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise XPathError(text)
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise XPathError(self.text)
        self.pos += 1
        return token

    def at(self, value: str) -> bool:
        token = self.peek()
        return token is not None and token[1] == value and token[0] in ("op", "name")

    # path := ('/' | '//')? step (('/' | '//') step)*
    def path(self) -> XPath:
        absolute = False
        steps: list[_Step] = []
        descendant = False
        if self.at("//"):
            self.take()
            absolute, descendant = True, True
        elif self.at("/"):
            self.take()
            absolute = True
        while True:
            steps.append(self.step(descendant))
            if self.at("//"):
                self.take()
                descendant = True
            elif self.at("/"):
                self.take()
                descendant = False
            else:
                break
        return XPath(self.text, absolute, tuple(steps))

    def step(self, descendant: bool) -> _Step:
        if self.at("@"):
            self.take()
            return _Step("attribute", self.take()[1])
        if self.at("."):
            self.take()
            return _Step("self", "*")
        token = self.take()
        if token[1] == "text" and self.at("("):
            self.take("(")
            self.take(")")
            return _Step("text", "")
        if token[0] != "name" and token[1] != "*":
            raise XPathError(self.text)
        predicates: list[Any] = []
        while self.at("["):
            self.take()
            predicates.append(self.expr())
            self.take("]")
        return _Step("descendant" if descendant else "child", token[1].lower(), tuple(predicates))

    def expr(self) -> Any:
        left = self.and_expr()
        while self.at("or"):
            self.take()
            left = ("or", left, self.and_expr())
        return left

    def and_expr(self) -> Any:
        left = self.comparison()
        while self.at("and"):
            self.take()
            left = ("and", left, self.comparison())
        return left

    def comparison(self) -> Any:
        left = self.value()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in ("=", "!=", "<", ">", "<=", ">="):
            self.take()
            return ("cmp", token[1], left, self.value())
        return left

    def value(self) -> Any:
        token = self.peek()
        if token is None:
            raise XPathError(self.text)
        kind, text = token
        if kind == "str":
            self.take()
            return ("lit", text[1:-1])
        if kind == "num":
            self.take()
            return ("num", float(text))
        if text == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        if text == "@":
            self.take()
            return ("attr", self.take()[1])
        if kind == "name" and self.peek(1) is not None and self.peek(1) == ("op", "("):
            if text not in _FUNCTIONS:
                raise XPathError(self.text)
            self.take()
            self.take("(")
            args: list[Any] = []
            if not self.at(")"):
                args.append(self.expr())
                while self.at(","):
                    self.take()
                    args.append(self.expr())
            self.take(")")
            return ("call", text, tuple(args))
        if kind == "name" or text in (".", "*", "/", "//"):
            return ("path", self.path())
        raise XPathError(self.text)


@lru_cache(maxsize=1024)
def compile_xpath(text: str) -> XPath:
    """Compile an expression of the supported subset; raises :class:`XPathError`."""
    parser = _Parser(text.strip())
    if not parser.tokens:
        raise XPathError(text)
    path = parser.path()
    if parser.peek() is not None:
        raise XPathError(text)
    return path


# --------------------------------------------------------------------- evaluation


def _select(path: XPath, context: list[Node]) -> list[Node | str]:
    current: list[Node | str] = list(context)
    for step in path.steps:
        nodes = [item for item in current if isinstance(item, Node)]
        out: list[Node | str] = []
        for node in nodes:
            if step.axis == "attribute":
                if step.name in node.attrs:
                    out.append(node.attrs[step.name])
                continue
            if step.axis == "text":
                out.extend(node.texts)
                continue
            if step.axis == "self":
                out.append(node)
                continue
            parents = [node, *node.descendants()] if step.axis == "descendant" else [node]
            for parent in parents:
                candidates = [child for child in parent.children if step.name in ("*", child.tag)]
                for predicate in step.predicates:
                    candidates = [
                        child
                        for position, child in enumerate(candidates, 1)
                        if _predicate(predicate, child, position)
                    ]
                out.extend(candidates)
        current = list(dict.fromkeys(out)) if all(isinstance(i, Node) for i in out) else out
    return current


def _predicate(expr: Any, node: Node, position: int) -> bool:
    value = _eval(expr, node)
    if isinstance(value, float):
        return int(value) == position
    return _boolean(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value)
    return bool(value)


def _string(value: Any) -> str:
    if isinstance(value, list):
        if not value:
            return ""
        first = value[0]
        return first.text() if isinstance(first, Node) else str(first)
    if isinstance(value, Node):
        return value.text()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _eval(expr: Any, node: Node) -> Any:
    kind = expr[0]
    if kind == "lit":
        return expr[1]
    if kind == "num":
        return expr[1]
    if kind == "attr":
        return [node.attrs[expr[1]]] if expr[1] in node.attrs else []
    if kind == "path":
        path: XPath = expr[1]
        root = node
        if path.absolute:
            while root.parent is not None:
                root = root.parent
        return _select(path, [root])
    if kind == "or":
        return _boolean(_eval(expr[1], node)) or _boolean(_eval(expr[2], node))
    if kind == "and":
        return _boolean(_eval(expr[1], node)) and _boolean(_eval(expr[2], node))
    if kind == "cmp":
        return _compare(expr[1], _eval(expr[2], node), _eval(expr[3], node))
    return _call(expr[1], [_eval(arg, node) for arg in expr[2]], node)


def _compare(op: str, left: Any, right: Any) -> bool:
    lefts = [_string(v) for v in left] if isinstance(left, list) else [left]
    rights = [_string(v) for v in right] if isinstance(right, list) else [right]
    for a in lefts:
        for b in rights:
            if op in ("=", "!="):
                equal = (
                    (
                        float(a) == float(b)
                        if isinstance(a, float) or isinstance(b, float)
                        else _string(a) == _string(b)
                    )
                    if _numeric_ok(a, b)
                    else False
                )
                if equal == (op == "="):
                    return True
            else:
                try:
                    x, y = float(_string(a)), float(_string(b))
                except ValueError:
                    continue
                if {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]:
                    return True
    return False


def _numeric_ok(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            float(_string(a))
            float(_string(b))
        except ValueError:
            return False
    return True


def _call(name: str, args: list[Any], node: Node) -> Any:
    strings = [_string(arg) for arg in args]
    if name == "not":
        return not _boolean(args[0]) if args else True
    if name == "contains":
        return strings[1] in strings[0]
    if name == "starts-with":
        return strings[0].startswith(strings[1])
    if name == "ends-with":
        return strings[0].endswith(strings[1])
    if name == "matches":
        flags = re.IGNORECASE if len(strings) > 2 and "i" in strings[2] else 0
        return re.search(strings[1], strings[0], flags) is not None
    if name == "translate":
        source, target = strings[1], strings[2]
        table = {ord(c): (target[i] if i < len(target) else None) for i, c in enumerate(source)}
        return strings[0].translate(table)
    if name == "normalize-space":
        return " ".join((strings[0] if strings else node.text()).split())
    if name == "string":
        return strings[0] if strings else node.text()
    if name == "lower-case":
        return strings[0].lower()
    if name == "upper-case":
        return strings[0].upper()
    if name == "string-length":
        return float(len(strings[0] if strings else node.text()))
    if name == "count":
        return float(len(args[0])) if isinstance(args[0], list) else 0.0
    return node.text()  # text()
