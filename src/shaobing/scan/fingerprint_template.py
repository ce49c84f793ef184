"""Version templates of fingerprint rules: ``$1`` and nmap's helpers, CPE 2.3 escaping.

A template names regex groups of the rule that matched: ``$1`` .. ``$9``, ``$P(n)``
(printable characters only), ``$SUBST(n,"from","to")``, ``$I(n,">")`` (the group's bytes
as a big- or little-endian unsigned integer) and ``$ORAVSN(n)`` (the project's own helper:
Oracle's decimal VSNNUM as a dotted version). Captured bytes are read as UTF-8, else
GB18030, else latin-1, and stripped of unprintable characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shaobing.vulndb.cpe import split_escaped

BANNER_EXCERPT = 256
# $1 .. $9, and helpers $NAME(n,"arg",...) as in nmap's version templates.
TEMPLATE_REF = re.compile(r'\$(?:(\d)|([A-Z]+)\((\d)((?:\s*,\s*"[^"]*")*)\s*\))')
_TEMPLATE_ARG = re.compile(r',\s*"([^"]*)"')
# helper → number of quoted arguments after the group number
TEMPLATE_HELPERS = {"P": 0, "SUBST": 2, "I": 1, "ORAVSN": 0}


def check_template(value: str) -> str:
    """Raise ValueError when ``value`` uses an unknown or malformed ``$`` helper."""
    for ref in TEMPLATE_REF.finditer(value):
        helper = ref.group(2)
        if helper is None:
            continue
        if helper not in TEMPLATE_HELPERS:
            raise ValueError(f"unknown template helper ${helper}()")
        args = _TEMPLATE_ARG.findall(ref.group(4))
        if len(args) != TEMPLATE_HELPERS[helper]:
            raise ValueError(f"${helper}() takes {TEMPLATE_HELPERS[helper]} quoted argument(s)")
        if helper == "I" and args[0] not in {"<", ">"}:
            raise ValueError('$I() takes "<" or ">"')
    leftover = TEMPLATE_REF.sub("", value)
    if re.search(r"\$(?:\d|[A-Z]+\()", leftover):
        raise ValueError(f"malformed template reference in {value!r}")
    return value


def printable(data: bytes) -> str:
    """A printable excerpt of at most BANNER_EXCERPT characters (escapes for the rest)."""
    out: list[str] = []
    size = 0
    for byte in data:
        if byte in (0x0A, 0x0D, 0x09):
            piece = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}[byte]
        elif 0x20 <= byte < 0x7F:
            piece = chr(byte)
        else:
            piece = f"\\x{byte:02x}"
        if size + len(piece) > BANNER_EXCERPT:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def decode_text(raw: bytes, charset: str | None = None) -> str:
    """Text from bytes a server sent: in ``charset`` when it declared one (and Python
    knows it), else UTF-8, else GB18030 (Chinese pages), else latin-1."""
    codecs: tuple[str, ...] = ("utf-8", "gb18030")
    if charset:
        codecs = (charset, *codecs)
    for codec in codecs:
        try:
            return raw.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return raw.decode("latin-1")


def _group_raw(found: re.Match[bytes], number: int) -> bytes:
    try:
        value = found.group(number)
    except IndexError:
        return b""
    return value or b""


def _group_text(found: re.Match[bytes], number: int) -> str:
    return "".join(ch for ch in decode_text(_group_raw(found, number)) if ch.isprintable()).strip()


def _oracle_version(text: str) -> str:
    """Oracle's VSNNUM (decimal of 0xMMmRRpPP) as a dotted version; "" if absent or 0."""
    if not text.isdigit() or int(text) == 0 or int(text) > 0xFFFFFFFF:
        return ""
    digits = f"{int(text):08x}"
    parts = (digits[0:2], digits[2], digits[3:5], digits[5], digits[6:8])
    return ".".join(str(int(part, 16)) for part in parts)


def render_template(
    template: str, found: re.Match[bytes], value: Callable[[str], str] = str
) -> str:
    """Fill ``$n`` and ``$P(n)``, ``$SUBST(n,"a","b")``, ``$I(n,">")``, ``$ORAVSN(n)``.

    ``value`` transforms each substituted piece (CPE escaping); literal text is kept.
    """

    def substitute(ref: re.Match[str]) -> str:
        helper = ref.group(2)
        number = int(ref.group(1) or ref.group(3))
        args = _TEMPLATE_ARG.findall(ref.group(4) or "")
        if helper == "I":
            raw = _group_raw(found, number)
            little = bool(args) and args[0] == "<"
            number_value = int.from_bytes(raw, "little" if little else "big")
            return value(str(number_value)) if raw else ""
        text = _group_text(found, number)
        if helper == "SUBST" and len(args) == 2:
            text = text.replace(args[0], args[1])
        elif helper == "ORAVSN":
            text = _oracle_version(text)
        return value(text)

    return TEMPLATE_REF.sub(substitute, template)


def fill(template: str | None, found: re.Match[bytes]) -> str | None:
    """A filled template with whitespace collapsed; None when it comes out empty."""
    if template is None:
        return None
    text = " ".join(render_template(template, found).split())
    return text or None


def cpe_escape(value: str) -> str:
    """A value as a CPE 2.3 formatted-string attribute: lower case, specials escaped."""
    return "".join(ch if ch.isalnum() or ch in "_.-" else f"\\{ch}" for ch in value.lower())


def split_cpe(text: str) -> list[str]:
    """Split a CPE 2.3 formatted string on its unescaped colons."""
    return split_escaped(text)


def fill_cpe(template: str, found: re.Match[bytes]) -> str:
    """A filled CPE 2.3 template; attributes that came out empty become ``*``."""
    parts = split_cpe(render_template(template, found, cpe_escape))
    return ":".join(part or "*" for part in parts)
