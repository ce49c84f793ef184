"""CPE names: CPE 2.3 formatted strings and CPE 2.2 URIs, attribute matching, product aliases.

A :class:`Cpe` keeps each attribute in canonical *formatted-string* form (NISTIR 7695):
lower case, punctuation other than ``_ . -`` escaped with ``\\``, an unescaped ``*``/``?`` is a
wildcard, a lone ``*`` is ANY and a lone ``-`` is NA. CPE 2.2 URIs are converted on parsing
(empty component → ANY, ``%01``/``%02`` → ``?``/``*``, a packed ``~`` edition is unpacked).

Matching follows the NVD/NISTIR 7696 relations with one deliberate leniency: an attribute that
the *host* leaves as ANY is "unknown", not "every value", so it does not prevent a match (a
scanner rarely knows the update, edition or target software). Version comparison is done by
:mod:`shaobing.vulndb.match`, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

ANY = "*"
NA = "-"
ATTRIBUTES = (
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
)
_PARTS = frozenset({"a", "o", "h", ANY})
_PLAIN = re.compile(r"[a-z0-9_.\-]", re.ASCII)
_MULTI, _SINGLE = object(), object()


class CpeError(ValueError):
    """The text is not a CPE 2.3 formatted string or CPE 2.2 URI."""


@dataclass(frozen=True)
class Cpe:
    """A CPE name; every attribute is a canonical formatted-string value (ANY = ``*``)."""

    part: str = ANY
    vendor: str = ANY
    product: str = ANY
    version: str = ANY
    update: str = ANY
    edition: str = ANY
    language: str = ANY
    sw_edition: str = ANY
    target_sw: str = ANY
    target_hw: str = ANY
    other: str = ANY

    def to23(self) -> str:
        """The CPE 2.3 formatted string."""
        return "cpe:2.3:" + ":".join(getattr(self, name) for name in ATTRIBUTES)

    def with_version(self, version: str) -> Cpe:
        """A copy with ``version`` (a plain version string, escaped here) as version."""
        return replace(self, version=encode_value(version))

    def __str__(self) -> str:
        return self.to23()


def _tokens_to_value(tokens: list[object]) -> str:
    """Canonical formatted-string form of decoded tokens (chars or wildcard markers)."""
    if not tokens:
        return ANY
    if tokens == [_MULTI]:
        return ANY
    if tokens == ["-"]:
        # A literal lone hyphen must be escaped, or it would read as NA.
        return "\\-"
    out: list[str] = []
    for token in tokens:
        if token is _MULTI:
            out.append("*")
        elif token is _SINGLE:
            out.append("?")
        else:
            char = str(token)
            out.append(char if _PLAIN.fullmatch(char) else "\\" + char)
    return "".join(out)


def encode_value(text: str) -> str:
    """Encode a plain value (no wildcards) as a formatted-string attribute."""
    stripped = text.strip().lower()
    if stripped in {"", ANY}:
        return ANY
    if stripped == NA:
        return NA
    return _tokens_to_value(list(stripped.replace(" ", "_")))


def _decode_fs(component: str) -> list[object]:
    tokens: list[object] = []
    escaped = False
    for char in component.lower():
        if escaped:
            tokens.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            tokens.append(_MULTI)
        elif char == "?":
            tokens.append(_SINGLE)
        else:
            tokens.append(char)
    if escaped:
        raise CpeError(component)
    return tokens


def _fs_value(component: str) -> str:
    if component == NA:
        return NA
    return _tokens_to_value(_decode_fs(component))


def split_escaped(body: str) -> list[str]:
    """Split a CPE formatted string on the colons that are not escaped (escapes kept)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in body:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _uri_value(component: str) -> str:
    if component == "":
        return ANY
    if component == NA:
        return NA
    tokens: list[object] = []
    index = 0
    while index < len(component):
        char = component[index]
        if char == "%" and index + 3 <= len(component):
            code = component[index + 1 : index + 3]
            try:
                number = int(code, 16)
            except ValueError as exc:
                raise CpeError(component) from exc
            tokens.append(_SINGLE if number == 1 else _MULTI if number == 2 else chr(number))
            index += 3
            continue
        tokens.append(char.lower())
        index += 1
    return _tokens_to_value(tokens)


@lru_cache(maxsize=65536)
def parse_cpe(text: str) -> Cpe:
    """Parse a CPE 2.3 formatted string or a CPE 2.2 URI; raises :class:`CpeError`."""
    clean = text.strip()
    lowered = clean.lower()
    if lowered.startswith("cpe:2.3:"):
        components = split_escaped(clean[8:])
        if len(components) > len(ATTRIBUTES):
            raise CpeError(text)
        components += [ANY] * (len(ATTRIBUTES) - len(components))
        values = [_fs_value(c) for c in components]
    elif lowered.startswith("cpe:/"):
        raw = clean[5:].split(":")
        if len(raw) > 7:
            raise CpeError(text)
        raw += [""] * (7 - len(raw))
        edition = raw[5]
        if edition.startswith("~"):
            packed = edition.split("~")[1:]
            packed += [""] * (5 - len(packed))
            raw = [*raw[:5], packed[0], raw[6], *packed[1:5]]
        else:
            raw += [""] * 4
        values = [_uri_value(c) for c in raw]
    else:
        raise CpeError(text)
    if values[0] not in _PARTS:
        raise CpeError(text)
    return Cpe(*values)


def try_parse_cpe(text: str) -> Cpe | None:
    """Like :func:`parse_cpe` but returns None for text that is not a CPE."""
    try:
        return parse_cpe(text)
    except CpeError:
        return None


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    for token in _decode_fs(pattern):
        if token is _MULTI:
            out.append(".*")
        elif token is _SINGLE:
            out.append(".")
        else:
            out.append(re.escape(str(token)))
    return re.compile("".join(out), re.DOTALL)


def value_matches(pattern: str, value: str) -> bool:
    """Does the criterion attribute ``pattern`` admit the host attribute ``value``?

    Both are canonical formatted-string values. A host ANY is "unknown" and admitted.
    """
    if ANY in (pattern, value):
        return True
    if NA in (pattern, value):
        return pattern == value
    if "*" in pattern or "?" in pattern:
        literal = "".join(str(t) for t in _decode_fs(value) if isinstance(t, str))
        return _wildcard_regex(pattern).fullmatch(literal) is not None
    return pattern == value


def unescape(value: str) -> str:
    """The plain text of an attribute (escapes removed; wildcards kept as ``*``/``?``)."""
    if value in {ANY, NA}:
        return value
    return "".join(
        "*" if t is _MULTI else "?" if t is _SINGLE else str(t) for t in _decode_fs(value)
    )


# --- product names from service identification ------------------------------------------------

_GENERIC_WORDS = (
    "httpd",
    "http server",
    "web server",
    "application server",
    "server",
    "daemon",
    "service",
    "database",
    "db",
    "smtpd",
    "imapd",
    "pop3d",
    "ftpd",
    "sshd",
    "key-value store",
    "engine api",
    "api server",
    "api",
    "web ui",
)


@dataclass(frozen=True)
class AliasTable:
    """Normalised product name → CPE (part, vendor, product) candidates, and OS hint words."""

    products: dict[str, tuple[tuple[str, str, str], ...]]
    platforms: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...]


def normalise_name(text: str) -> str:
    """Lower case, no parenthesised remarks, single spaces, ``_`` read as a space."""
    text = re.sub(r"\([^)]*\)", " ", text.lower()).replace("_", " ")
    return " ".join(text.split()).strip(" .,;:/")


def _parse_targets(raw: Any, where: str) -> tuple[tuple[str, str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"product_aliases.yaml: {where}: 'cpe' must be a non-empty list")
    out: list[tuple[str, str, str]] = []
    for item in raw:
        pieces = str(item).split(":")
        if len(pieces) == 2:
            pieces = ["a", *pieces]
        if len(pieces) != 3 or pieces[0] not in {"a", "o", "h"} or not all(pieces):
            raise ValueError(f"product_aliases.yaml: {where}: bad CPE target {item!r}")
        out.append((pieces[0], pieces[1], pieces[2]))
    return tuple(out)


def _parse_alias_table(data: Any) -> AliasTable:
    if not isinstance(data, dict):
        raise ValueError("product_aliases.yaml: top level must be a mapping")
    products: dict[str, tuple[tuple[str, str, str], ...]] = {}
    for entry in data.get("products") or []:
        targets = _parse_targets(entry.get("cpe"), str(entry.get("names")))
        for name in entry.get("names") or []:
            key = normalise_name(str(name))
            if key in products:
                raise ValueError(f"product_aliases.yaml: duplicate name {name!r}")
            products[key] = targets
    platforms = tuple(
        (normalise_name(str(name)), _parse_targets(entry.get("cpe"), str(name)))
        for entry in data.get("platforms") or []
        for name in entry.get("names") or []
    )
    return AliasTable(products, platforms)


@cache
def alias_table() -> AliasTable:
    """The product alias table shipped in ``product_aliases.yaml`` (loaded once)."""
    text = resources.files("shaobing.vulndb").joinpath("product_aliases.yaml").read_text("utf-8")
    return _parse_alias_table(yaml.safe_load(text))


def _name_candidates(vendor: str | None, product: str) -> list[str]:
    name = normalise_name(product)
    names = [name]
    if vendor:
        names.append(normalise_name(f"{vendor} {product}"))
    for base in list(names):
        trimmed = base
        changed = True
        while changed:
            changed = False
            for word in _GENERIC_WORDS:
                if trimmed.endswith(" " + word):
                    trimmed = trimmed[: -len(word) - 1].strip()
                    names.append(trimmed)
                    changed = True
    return [n for n in names if n]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.\-]+", "_", normalise_name(text)).strip("_")


def cpe_from_product(vendor: str | None, product: str, version: str | None = None) -> list[Cpe]:
    """CPE candidates for a product name as service identification reports it.

    The alias table decides first ("OpenSSH" → openbsd:openssh, "Apache httpd" →
    apache:http_server); failing that, the names are turned into CPE words (vendor, or the
    product itself as vendor, which is what NVD uses for many projects).
    """
    table = alias_table()
    version_value = encode_value(version) if version else ANY
    for name in _name_candidates(vendor, product):
        targets = table.products.get(name)
        if targets:
            return [Cpe(p, v, n, version_value) for p, v, n in targets]
    product_slug = _slug(product)
    if not product_slug:
        return []
    vendor_slug = _slug(vendor) if vendor else product_slug
    return [Cpe("a", vendor_slug or product_slug, product_slug, version_value)]


def platform_cpes(hint: str | None) -> list[Cpe]:
    """Operating-system CPEs named by a free-text OS/distribution hint ("Debian 12", "Linux")."""
    if not hint:
        return []
    words = f" {normalise_name(hint)} "
    found: list[Cpe] = []
    for name, targets in alias_table().platforms:
        if f" {name} " in words:
            found.extend(Cpe(p, v, n) for p, v, n in targets if Cpe(p, v, n) not in found)
    return found
