"""Value model of the expression language: coercions, rendering and equality.

Go strings are byte sequences; here text is ``str`` and binary helper results are
``bytes``. Text helpers read bytes as latin-1 (one character per byte, so byte-wise regular
expressions still work); hashing and encoding helpers read text as UTF-8.
Numbers are ``int`` or ``float``; ``bool`` is never a number (as in Go).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from shaobing.templates.dsl.errors import HelperFailure, detail

#: Largest string or byte string any operator or helper may build (repeat, padding, ...).
MAX_VALUE_LENGTH = 16 * 1024 * 1024

#: Integers beyond int64 become floats, as govaluate computes in float64 (bounds memory).
_INT_LIMIT = 2**63


def is_number(value: object) -> bool:
    """True for int/float values (bool excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_stringish(value: object) -> bool:
    """True for text or binary strings."""
    return isinstance(value, str | bytes | bytearray)


def normalise_number(value: int | float) -> int | float:
    """Keep integers within int64; larger ones continue as float like Go's float64."""
    if isinstance(value, int) and not -_INT_LIMIT <= value < _INT_LIMIT:
        return float(value)
    return value


def check_length(value: str | bytes) -> None:
    """Refuse results longer than :data:`MAX_VALUE_LENGTH`."""
    if len(value) > MAX_VALUE_LENGTH:
        raise HelperFailure(detail("result_too_large", length=len(value), limit=MAX_VALUE_LENGTH))


def render_number(value: int | float) -> str:
    """Render a number in plain decimal notation (Nuclei formats float64 with 'f', -1)."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def render(value: Any) -> str:
    """Render a value as text the way Nuclei writes it into a request."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    if is_number(value):
        return render_number(value)
    if isinstance(value, Mapping):
        inner = " ".join(f"{render(k)}:{render(v)}" for k, v in value.items())
        return f"map[{inner}]"
    if isinstance(value, Sequence):
        return "[" + " ".join(render(item) for item in value) + "]"
    return str(value)


def as_text(value: Any) -> str:
    """Coerce to text for string helpers (bytes read as latin-1)."""
    return render(value)


def as_bytes(value: Any) -> bytes:
    """Coerce to bytes for hashing/encoding helpers (text written as UTF-8)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return render(value).encode("utf-8", "surrogatepass")


def as_int(value: Any) -> int:
    """Coerce a number or numeric string to int (floats truncate like Go's int())."""
    if is_number(value):
        if isinstance(value, float):
            if not math.isfinite(value):
                raise HelperFailure(detail("not_a_number", value=render(value)))
            return int(value)
        return int(value)
    text = as_text(value).strip()
    try:
        return int(text, 10)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise HelperFailure(detail("not_a_number", value=_short(text))) from None
        if not math.isfinite(number):
            raise HelperFailure(detail("not_a_number", value=_short(text))) from None
        return int(number)


def type_name(value: Any) -> str:
    """Short type label used in type-error messages."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    if isinstance(value, Sequence):
        return "array"
    return type(value).__name__


def values_equal(left: Any, right: Any) -> bool:
    """Equality as govaluate's deep-equal: values of different kinds are never equal."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if is_stringish(left) and is_stringish(right):
        if isinstance(left, str) and isinstance(right, str):
            return left == right
        return as_bytes(left) == as_bytes(right)
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(
            values_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return False


def truthy(value: Any) -> bool:
    """Nuclei's DSL matcher rule: only a boolean ``true`` result is a match."""
    return value is True


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def short(text: str, limit: int = 80) -> str:
    """Abbreviate a value for an error message."""
    return _short(text, limit)
