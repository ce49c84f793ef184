"""Operator semantics (govaluate's): type rules, float64-like arithmetic, int64 bitwise."""

from __future__ import annotations

import math
from typing import Any

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.regex import search
from shaobing.templates.dsl.values import (
    as_bytes,
    as_text,
    check_length,
    is_number,
    is_stringish,
    normalise_number,
    render,
    type_name,
    values_equal,
)


class TypeMismatch(Exception):
    """Internal signal: an operator got operands of the wrong kind."""

    def __init__(self, op: str, *operands: Any) -> None:
        super().__init__(op)
        self.op = op
        self.operands = tuple(type_name(value) for value in operands)


def require_bool(op: str, value: Any) -> None:
    """Logical operators take booleans only (as govaluate)."""
    if not isinstance(value, bool):
        raise TypeMismatch(op, value)


def _int64(value: Any, op: str) -> int:
    if not is_number(value):
        raise TypeMismatch(op, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return 0
        value = int(value)
    # Wrap like Go's int64 conversion so shifts and masks stay bounded.
    wrapped = int(value) & ((1 << 64) - 1)
    return wrapped - (1 << 64) if wrapped >= 1 << 63 else wrapped


def unary(op: str, value: Any) -> Any:
    """Apply ``!``, ``-`` or ``~``."""
    if op == "!":
        require_bool(op, value)
        return not value
    if op == "-":
        if not is_number(value):
            raise TypeMismatch(op, value)
        return normalise_number(-value)
    return ~_int64(value, op)


def _add(left: Any, right: Any) -> Any:
    if is_number(left) and is_number(right):
        return normalise_number(left + right)
    if is_stringish(left) or is_stringish(right):
        if isinstance(left, bytes) or isinstance(right, bytes):
            joined: str | bytes = as_bytes(left) + as_bytes(right)
        else:
            joined = render(left) + render(right)
        check_length(joined)
        return joined
    raise TypeMismatch("+", left, right)


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if not (is_number(left) and is_number(right)):
        raise TypeMismatch(op, left, right)
    if op == "-":
        return normalise_number(left - right)
    if op == "*":
        return normalise_number(left * right)
    if op == "/":
        if right == 0:
            if left == 0 or (isinstance(left, float) and math.isnan(left)):
                return math.nan
            return math.copysign(math.inf, left) * math.copysign(1.0, right)
        return left / right
    if op == "%":
        if right == 0:
            return math.nan
        return math.fmod(left, right)
    # "**": computed in floating point, so 10 ** 10 ** 10 is +Inf instead of a huge int.
    try:
        result = math.pow(float(left), float(right))
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan
    if isinstance(left, int) and isinstance(right, int) and right >= 0 and abs(result) < 2**53:
        return int(result)
    return result


def _bitwise(op: str, left: Any, right: Any) -> int:
    a, b = _int64(left, op), _int64(right, op)
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if b < 0 or b >= 64:
        return 0 if op == "<<" or a >= 0 else -1
    return _int64(a << b, op) if op == "<<" else a >> b


def _compare(op: str, left: Any, right: Any) -> bool:
    if is_number(left) and is_number(right):
        a: Any = left
        b: Any = right
    elif is_stringish(left) and is_stringish(right):
        a, b = as_text(left), as_text(right)
    else:
        raise TypeMismatch(op, left, right)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def binary(op: str, left: Any, right: Any) -> Any:
    """Apply a non-logical infix operator."""
    if op == "+":
        return _add(left, right)
    if op in ("-", "*", "/", "%", "**"):
        return _arithmetic(op, left, right)
    if op in ("&", "|", "^", "<<", ">>"):
        return _bitwise(op, left, right)
    if op == "==":
        return values_equal(left, right)
    if op == "!=":
        return not values_equal(left, right)
    if op in ("<", "<=", ">", ">="):
        return _compare(op, left, right)
    if op in ("=~", "!~"):
        if not (is_stringish(left) and is_stringish(right)):
            raise TypeMismatch(op, left, right)
        found = search(as_text(right), as_text(left))
        return found if op == "=~" else not found
    if op == "in":
        if not isinstance(right, list):
            raise TypeMismatch(op, left, right)
        return any(values_equal(left, item) for item in right)
    raise HelperFailure(detail("unexpected_token", token=op))
