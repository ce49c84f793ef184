"""Tokeniser of the expression language (govaluate's lexical rules).

Strings take single or double quotes; a backslash keeps the next character literally
(govaluate does not translate ``\\n``). Identifiers may contain letters, digits, ``_`` and
``.``; a hyphen directly between two name parts (``interactsh-url``) is kept in the token
so the evaluator can look the joined name up before falling back to subtraction.
"""

from __future__ import annotations

from dataclasses import dataclass

from shaobing.core.i18n import t
from shaobing.templates.dsl.errors import DslError, detail

# Longest first, so "**" wins over "*" and "<=" over "<".
_OPERATORS = (
    "**", "<<", ">>", "<=", ">=", "==", "!=", "=~", "!~", "&&", "||", "??",
    "+", "-", "*", "/", "%", "&", "|", "^", "<", ">", "!", "~", "?", ":",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: ``kind`` is num, str, ident, op, ``(``, ``)``, ``,`` or eof."""

    kind: str
    value: str | int | float
    position: int
    parts: tuple[str, ...] = ()


def _syntax(expression: str, position: int, message: str) -> DslError:
    return DslError(
        t("template_dsl.syntax", expression=expression, position=position, detail=message)
    )


def _is_name_start(char: str) -> bool:
    return char.isalpha() or char == "_"


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char in "_."


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raises :class:`DslError` on a lexical error."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "(),":
            tokens.append(Token(char, char, i))
            i += 1
        elif char in "'\"":
            i = _read_string(text, i, tokens)
        elif char.isdigit() or (char == "." and i + 1 < n and text[i + 1].isdigit()):
            i = _read_number(text, i, tokens)
        elif _is_name_start(char):
            i = _read_name(text, i, tokens)
        elif char == "[":
            end = text.find("]", i + 1)
            if end < 0:
                raise _syntax(text, i, detail("unexpected_token", token=char))
            tokens.append(Token("ident", text[i + 1 : end], i, (text[i + 1 : end],)))
            i = end + 1
        else:
            for op in _OPERATORS:
                if text.startswith(op, i):
                    tokens.append(Token("op", op, i))
                    i += len(op)
                    break
            else:
                raise _syntax(text, i, detail("bad_character", token=repr(char)))
    tokens.append(Token("eof", "", n))
    return tokens


def _read_string(text: str, start: int, tokens: list[Token]) -> int:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if char == quote:
            tokens.append(Token("str", "".join(out), start))
            return i + 1
        out.append(char)
        i += 1
    raise _syntax(text, start, detail("unterminated_string"))


def _read_number(text: str, start: int, tokens: list[Token]) -> int:
    i = start
    if text.startswith(("0x", "0X"), i):
        i += 2
        while i < len(text) and text[i] in "0123456789abcdefABCDEF":
            i += 1
        raw = text[start:i]
        if len(raw) == 2 or len(raw) > 18:
            raise _syntax(text, start, detail("bad_number", token=raw))
        tokens.append(Token("num", int(raw, 16), start))
        return i
    while i < len(text) and (text[i].isdigit() or text[i] == "."):
        i += 1
    if i < len(text) and text[i] in "eE":
        j = i + 1
        if j < len(text) and text[j] in "+-":
            j += 1
        if j < len(text) and text[j].isdigit():
            i = j
            while i < len(text) and text[i].isdigit():
                i += 1
    raw = text[start:i]
    if not raw.isascii():
        raise _syntax(text, start, detail("bad_number", token=raw))
    value: int | float
    try:
        # Long digit strings are read as float: Python refuses int() beyond 4300 digits
        # and govaluate reads every number as float64 anyway.
        value = int(raw) if raw.isdigit() and len(raw) <= 18 else float(raw)
    except ValueError:
        raise _syntax(text, start, detail("bad_number", token=raw)) from None
    tokens.append(Token("num", value, start))
    return i


def _read_name(text: str, start: int, tokens: list[Token]) -> int:
    parts: list[str] = []
    i = start
    while True:
        j = i
        while j < len(text) and _is_name_char(text[j]):
            j += 1
        parts.append(text[i:j])
        i = j
        if i + 1 < len(text) and text[i] == "-" and _is_name_start(text[i + 1]):
            i += 1
            continue
        break
    name = "-".join(parts)
    tokens.append(Token("ident", name, start, tuple(parts)))
    return i
