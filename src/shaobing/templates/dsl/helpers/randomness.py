"""Random helpers (rand_*), drawn from the operating system's generator."""

from __future__ import annotations

import ipaddress
import os
import secrets
import string
from typing import Any

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.helpers.registry import helper
from shaobing.templates.dsl.values import MAX_VALUE_LENGTH, as_int, as_text, short

_LETTERS = string.ascii_letters
_DIGITS = string.digits
_MAX_INT32 = 2**31 - 1


def _length(value: Any) -> int:
    length = as_int(value)
    if length < 0 or length > MAX_VALUE_LENGTH:
        raise HelperFailure(detail("bad_argument", value=length))
    return length


def random_text(charset: str, length: int) -> str:
    """``length`` characters drawn uniformly from ``charset`` with the OS generator.

    The bytes come from one ``os.urandom`` call per string rather than one per character
    (each call is a system call that also hands the GIL to another thread); bytes at or
    above the largest multiple of the charset's size are dropped, so every character stays
    equally likely. Charsets longer than 256 characters draw per character.
    """
    size = len(charset)
    if size > 256:
        return "".join(secrets.choice(charset) for _ in range(length))
    limit = 256 - 256 % size
    out: list[str] = []
    while len(out) < length:
        # A little more than needed, so one draw nearly always suffices.
        wanted = length - len(out)
        for byte in os.urandom(wanted + wanted // 4 + 4):
            if byte < limit:
                out.append(charset[byte % size])
                if len(out) == length:
                    break
    return "".join(out)


def _sequence(charset: str, length: int) -> str:
    if not charset:
        raise HelperFailure(detail("bad_argument", value="''"))
    return random_text(charset, length)


def _without(charset: str, args: list[Any]) -> str:
    bad = set(as_text(args[1])) if len(args) > 1 else set()
    return "".join(char for char in charset if char not in bad)


@helper("rand_base", 1, 2)
def rand_base(args: list[Any]) -> str:
    """Random string of a length from a charset (default letters and digits)."""
    charset = as_text(args[1]) if len(args) > 1 else ""
    return _sequence(charset if charset.strip() else _LETTERS + _DIGITS, _length(args[0]))


@helper("rand_char", 0, 1)
def rand_char(args: list[Any]) -> str:
    """One random character from a charset (default letters and digits)."""
    charset = as_text(args[0]) if args else ""
    return _sequence(charset if charset.strip() else _LETTERS + _DIGITS, 1)


@helper("rand_text_alpha", 1, 2)
def rand_text_alpha(args: list[Any]) -> str:
    """Random letters, excluding the optional bad characters."""
    return _sequence(_without(_LETTERS, args), _length(args[0]))


@helper("rand_text_alphanumeric", 1, 2)
def rand_text_alphanumeric(args: list[Any]) -> str:
    """Random letters and digits, excluding the optional bad characters."""
    return _sequence(_without(_LETTERS + _DIGITS, args), _length(args[0]))


@helper("rand_text_numeric", 1, 2)
def rand_text_numeric(args: list[Any]) -> str:
    """Random digits, excluding the optional bad digits."""
    return _sequence(_without(_DIGITS, args), _length(args[0]))


@helper("rand_int", 0, 2)
def rand_int(args: list[Any]) -> int:
    """Random integer in [min, max) (defaults 0 and 2^31-1)."""
    low = as_int(args[0]) if args else 0
    high = as_int(args[1]) if len(args) > 1 else _MAX_INT32
    if high <= low:
        raise HelperFailure(detail("bad_argument", value=f"{low}, {high}"))
    return low + secrets.randbelow(high - low)


@helper("rand_ip", 1, None)
def rand_ip(args: list[Any]) -> str:
    """Random address inside one of the given CIDR ranges."""
    cidr = as_text(secrets.choice(args))
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise HelperFailure(detail("bad_argument", value=short(cidr))) from None
    offset = secrets.randbelow(network.num_addresses)
    return str(network.network_address + offset)


def make_randstr() -> str:
    """A fresh value for the ``randstr`` template variable (27 letters/digits, like a KSUID)."""
    return _sequence(_LETTERS + _DIGITS, 27)
