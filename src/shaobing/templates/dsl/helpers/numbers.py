"""Number-base helpers: decimal to hex and hex/octal/binary text to decimal."""

from __future__ import annotations

from typing import Any

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.helpers.registry import helper
from shaobing.templates.dsl.values import as_int, is_number, render, short


@helper("dec_to_hex", 1)
def dec_to_hex(args: list[Any]) -> str:
    """Hexadecimal text of a number (negative numbers keep their sign, as Go)."""
    value = as_int(args[0])
    return format(value, "x")


def _to_decimal(value: Any, prefix: str, base: int) -> int:
    text = render(value).strip().lower()
    if is_number(value):
        text = render(value)
    text = text.removeprefix(prefix)
    if len(text) > 64:
        raise HelperFailure(detail("not_a_number", value=short(text)))
    try:
        return int(text, base)
    except ValueError:
        raise HelperFailure(detail("not_a_number", value=short(text))) from None


@helper("hex_to_dec", 1)
def hex_to_dec(args: list[Any]) -> int:
    """Decimal value of hexadecimal text (optional 0x prefix)."""
    return _to_decimal(args[0], "0x", 16)


@helper("oct_to_dec", 1)
def oct_to_dec(args: list[Any]) -> int:
    """Decimal value of octal text (optional 0o prefix)."""
    return _to_decimal(args[0], "0o", 8)


@helper("bin_to_dec", 1)
def bin_to_dec(args: list[Any]) -> int:
    """Decimal value of binary text (optional 0b prefix)."""
    return _to_decimal(args[0], "0b", 2)
