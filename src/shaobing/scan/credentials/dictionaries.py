"""Dictionaries for the weak-credential checks (B3): built-in lists and user files.

The built-in lists are data (``data/usernames.yaml``, ``data/passwords.yaml``,
``data/defaults.yaml``), validated when first used. :func:`pairs_for` combines them for one
protocol: user-supplied pairs first, then the protocol's documented vendor defaults, then
every account with its passwords in "spray" order (each account's likeliest password before
anyone's second), so that a ``limit`` cuts the least likely guesses and not whole accounts.

User dictionary files are untrusted input: size, entry count and entry length are capped
and binary content is refused with a one-line error naming the file and line.
"""

from __future__ import annotations

import codecs
import datetime
import string
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticError

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

Pair = tuple[str | None, str]
"""A username (None for password-only protocols such as SNMP) and a password."""

MAX_DICTIONARY_BYTES = 32 * 1024 * 1024
MAX_DICTIONARY_ENTRIES = 1_000_000
MAX_ENTRY_CHARS = 256
_TEMPLATE_FIELDS = frozenset({"user", "User", "USER", "word", "Word", "WORD", "year", "lastyear"})
_USER_FIELDS = frozenset({"user", "User", "USER"})
_WORD_FIELDS = frozenset({"word", "Word", "WORD"})
_SHOW_LIMIT = 80


def _has_control(text: str) -> bool:
    # Control characters would let an entry smuggle protocol commands (CR/LF in FTP).
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def _show(text: str) -> str:
    """Untrusted text made safe for a one-line message (controls escaped, length capped)."""
    cleaned = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return cleaned if len(cleaned) <= _SHOW_LIMIT else cleaned[: _SHOW_LIMIT - 3] + "..."


class _ProtocolEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: tuple[str, ...] = ()
    common_users: bool = False
    common_passwords: bool = True
    password_only: bool = False
    passwords: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()

    @field_validator("users", "passwords")
    @classmethod
    def _clean(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if _has_control(item):
                raise ValueError(f"entry {item!r} contains control characters")
        return value


class _Words(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    common: tuple[str, ...] = Field(min_length=1)
    templates_first: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()

    @field_validator("templates_first", "templates")
    @classmethod
    def _known_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for template in value:
            fields = _fields(template)
            unknown = fields - _TEMPLATE_FIELDS
            if unknown:
                raise ValueError(f"template {template!r} uses unknown fields {sorted(unknown)}")
            if not fields & (_USER_FIELDS | _WORD_FIELDS):
                raise ValueError(f"template {template!r} names neither a user nor a word")
        return value


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _load_yaml(name: str) -> Any:
    source = resources.files("shaobing.scan.credentials").joinpath("data", name)
    try:
        return yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationError(t("scan_cred.data_invalid", source=name, detail=exc)) from exc


def _data_error(name: str, exc: PydanticError) -> ValidationError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return ValidationError(
        t("scan_cred.data_invalid", source=name, detail=f"{where}: {first['msg']}")
    )


@cache
def _protocols() -> dict[str, _ProtocolEntry]:
    raw = _load_yaml("defaults.yaml")
    if not isinstance(raw, dict):
        raise ValidationError(t("scan_cred.data_invalid", source="defaults.yaml", detail="{}"))
    try:
        return {str(name): _ProtocolEntry.model_validate(body) for name, body in raw.items()}
    except PydanticError as exc:
        raise _data_error("defaults.yaml", exc) from exc


@cache
def _passwords() -> _Words:
    try:
        return _Words.model_validate(_load_yaml("passwords.yaml"))
    except PydanticError as exc:
        raise _data_error("passwords.yaml", exc) from exc


@cache
def _usernames() -> tuple[str, ...]:
    try:
        return _Words.model_validate(_load_yaml("usernames.yaml")).common
    except PydanticError as exc:
        raise _data_error("usernames.yaml", exc) from exc


def known_protocols() -> list[str]:
    """Protocols that have a built-in dictionary."""
    return sorted(_protocols())


def _entry(protocol: str) -> _ProtocolEntry:
    entry = _protocols().get(protocol)
    if entry is None:
        raise ValidationError(
            t("scan_cred.protocol_unknown", protocol=_show(protocol), known=known_protocols())
        )
    return entry


def is_password_only(protocol: str) -> bool:
    """Whether ``protocol`` logs in with a password alone (SNMP community, Redis AUTH)."""
    return _entry(protocol).password_only


def common_passwords() -> tuple[str, ...]:
    """The built-in weak passwords, likeliest first."""
    return _passwords().common


def common_usernames() -> tuple[str, ...]:
    """The built-in common account names, likeliest first."""
    return _usernames()


def default_pairs(protocol: str) -> list[Pair]:
    """Documented vendor default credentials of products speaking ``protocol``."""
    entry = _entry(protocol)
    if entry.password_only:
        return [(None, password) for password in entry.passwords]
    return [(user, password) for user, password in entry.pairs]


def is_default_pair(protocol: str, username: str | None, password: str) -> bool:
    """Whether the pair is one of the protocol's documented vendor defaults."""
    return (username, password) in set(default_pairs(protocol))


def expand_templates(
    templates: Iterable[str], *, user: str | None, words: Sequence[str], year: int
) -> list[str]:
    """Passwords built from ``templates`` for one account and the organisation ``words``.

    Templates naming ``{user}`` need a user; templates naming ``{word}`` are expanded once
    per word (and skipped without words), so ``{word}@{year}`` becomes ``szga@2024``.
    """
    out: list[str] = []
    for template in templates:
        fields = _fields(template)
        if fields & _USER_FIELDS and not user:
            continue
        for word in words if fields & _WORD_FIELDS else [""]:
            if fields & _WORD_FIELDS and not word:
                continue
            out.append(
                template.format(
                    user=user or "",
                    User=(user or "").capitalize(),
                    USER=(user or "").upper(),
                    word=word,
                    Word=word.capitalize(),
                    WORD=word.upper(),
                    year=year,
                    lastyear=year - 1,
                )
            )
    return out


def _checked(kind: str, values: Iterable[str], *, show: bool) -> list[str]:
    out: list[str] = []
    for index, value in enumerate(values, start=1):
        if not isinstance(value, str) or _has_control(value) or len(value) > MAX_ENTRY_CHARS:
            # Passwords are never echoed in messages, user names are.
            label = f"{index}（{_show(str(value))}）" if show else str(index)
            raise ValidationError(
                t("scan_cred.entry_invalid", kind=t(f"scan_cred.kind.{kind}"), index=label)
            )
        out.append(value)
    return out


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def pairs_for(
    protocol: str,
    *,
    users: Sequence[str] | None = None,
    passwords: Sequence[str] | None = None,
    extra_users: Sequence[str] = (),
    extra_passwords: Sequence[str] = (),
    extra_pairs: Sequence[tuple[str, str]] = (),
    words: Sequence[str] = (),
    include_defaults: bool = True,
    limit: int | None = None,
    year: int | None = None,
) -> list[Pair]:
    """The ordered, de-duplicated pairs to try for ``protocol``.

    ``users``/``passwords`` replace the built-in lists (the protocol's own and the common
    ones, and the templates); ``extra_*`` are tried before the built-in entries; ``words``
    (e.g. the client's abbreviation) feed the ``{word}`` templates; ``limit`` caps the result.
    Password-only protocols get ``(None, password)`` pairs and ignore user names.
    """
    entry = _entry(protocol)
    if limit is not None and limit < 1:
        raise ValidationError(
            t("scan_cred.option_invalid", name="limit", value=limit, detail=">= 1")
        )
    year = year if year is not None else datetime.date.today().year
    words = _checked("word", words, show=True)
    extra = _checked("password", extra_passwords, show=False)
    pair_users = _checked("user", [u for u, _ in extra_pairs], show=True)
    pair_passwords = _checked("password", [p for _, p in extra_pairs], show=False)
    result: list[Pair] = []
    if entry.password_only:
        result.extend((None, p) for p in pair_passwords)
        if include_defaults:
            result.extend(default_pairs(protocol))
        if passwords is not None:
            chosen = _checked("password", passwords, show=False)
        else:
            chosen = []
            if entry.common_passwords:
                chosen += expand_templates(
                    _passwords().templates, user=None, words=words, year=year
                )
                chosen += common_passwords()
        result.extend((None, p) for p in [*extra, *chosen])
        return _finish(result, limit)

    result.extend(zip(pair_users, pair_passwords, strict=True))
    if include_defaults:
        result.extend(default_pairs(protocol))
    if users is not None:
        accounts = _checked("user", users, show=True)
    else:
        accounts = list(entry.users) + (list(common_usernames()) if entry.common_users else [])
    accounts = _unique([*_checked("user", extra_users, show=True), *accounts])
    if any(not account for account in accounts):
        raise ValidationError(t("scan_cred.user_empty"))
    per_user: list[list[str]] = []
    for account in accounts:
        if passwords is not None:
            own = _checked("password", passwords, show=False)
        else:
            own = _built_in(entry, account, words, year)
        per_user.append(_unique([*extra, *own]))
    # Spray order: every account's n-th password before anyone's (n+1)-th.
    depth = max((len(p) for p in per_user), default=0)
    for rank in range(depth):
        for account, candidates in zip(accounts, per_user, strict=True):
            if rank < len(candidates):
                result.append((account, candidates[rank]))
    return _finish(result, limit)


def _built_in(
    entry: _ProtocolEntry, user: str | None, words: Sequence[str], year: int
) -> list[str]:
    """One account's built-in passwords: likeliest patterns, protocol list, common list."""
    data = _passwords()
    own = expand_templates(data.templates_first, user=user, words=words, year=year)
    own += entry.passwords
    if entry.common_passwords:
        own += data.common
        own += expand_templates(data.templates, user=user, words=words, year=year)
    return own


def _finish(pairs: list[Pair], limit: int | None) -> list[Pair]:
    unique = _unique(pairs)
    return unique if limit is None else unique[:limit]


# --------------------------------------------------------------------------- user files


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        # Files written on Chinese Windows are often GBK, which GB18030 contains.
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(t("scan_cred.dict_encoding", path=path))


def _read_lines(path: Path, *, max_bytes: int, max_entries: int) -> list[tuple[int, str]]:
    """Non-empty lines with their numbers; every limit violation names file and line."""
    try:
        if not path.is_file():
            raise ValidationError(t("scan_cred.dict_not_found", path=path))
        size = path.stat().st_size
        if size > max_bytes:
            raise ValidationError(t("scan_cred.dict_too_large", path=path, limit=max_bytes))
        with path.open("rb") as handle:
            # Read one byte more than allowed: the file may have grown since stat().
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ValidationError(
            t("scan_cred.dict_unreadable", path=path, detail=exc.strerror or exc)
        ) from exc
    if len(data) > max_bytes:
        raise ValidationError(t("scan_cred.dict_too_large", path=path, limit=max_bytes))
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        first = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ValidationError(t("scan_cred.dict_binary", path=path, line=first))
    text = _decode(path, data)
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line:
            continue
        if _has_control(line):
            raise ValidationError(t("scan_cred.dict_binary", path=path, line=number))
        if len(line) > MAX_ENTRY_CHARS:
            raise ValidationError(
                t("scan_cred.dict_line_too_long", path=path, line=number, limit=MAX_ENTRY_CHARS)
            )
        out.append((number, line))
        if len(out) > max_entries:
            raise ValidationError(t("scan_cred.dict_too_many", path=path, limit=max_entries))
    if not out:
        raise ValidationError(t("scan_cred.dict_empty", path=path))
    return out


def load_dictionary(
    path: str | Path,
    *,
    max_bytes: int = MAX_DICTIONARY_BYTES,
    max_entries: int = MAX_DICTIONARY_ENTRIES,
) -> list[str]:
    """Entries of a user or password list: one per line, UTF-8/GB18030/UTF-16 text.

    Empty lines are skipped and duplicates dropped; there are no comments (a password may
    start with ``#``). Raises ValidationError naming the file (and line) when the file is
    missing, too large, binary, not text, or has an over-long line.
    """
    lines = _read_lines(Path(path), max_bytes=max_bytes, max_entries=max_entries)
    return _unique(line for _, line in lines)


def load_pair_file(
    path: str | Path,
    *,
    max_bytes: int = MAX_DICTIONARY_BYTES,
    max_entries: int = MAX_DICTIONARY_ENTRIES,
) -> list[tuple[str, str]]:
    """``user:password`` lines (split at the first colon; the password may be empty)."""
    location = Path(path)
    pairs: list[tuple[str, str]] = []
    for number, line in _read_lines(location, max_bytes=max_bytes, max_entries=max_entries):
        user, colon, password = line.partition(":")
        if not colon or not user:
            raise ValidationError(t("scan_cred.dict_pair_format", path=location, line=number))
        pairs.append((user, password))
    return _unique(pairs)


# --------------------------------------------------------------------------- benchmarks


def benchmark_pairs(
    size: int,
    *,
    user: str = "root",
    planted: tuple[str, str] | None = None,
) -> list[tuple[str, str]]:
    """A fixed, reproducible ``size``-entry dictionary for one account (benchmarks).

    The built-in weak passwords come first, then numbered filler; ``planted`` (if given)
    replaces the last entry, so every other entry is tried before the valid one.
    """
    if size < 1:
        raise ValidationError(t("scan_cred.option_invalid", name="size", value=size, detail=">= 1"))
    candidates = [p for p in common_passwords() if p]
    if planted is not None:
        candidates = [p for p in candidates if (user, p) != planted]
    pairs = [(user, p) for p in candidates[:size]]
    filler = 0
    while len(pairs) < size:
        pairs.append((user, f"Bench-{filler:05d}!"))
        filler += 1
    if planted is not None:
        pairs[-1] = planted
    return pairs


def write_colon_file(pairs: Iterable[tuple[str, str]], path: str | Path) -> Path:
    """Write ``user:password`` lines (hydra's ``-C`` format) and return the path."""
    location = Path(path)
    location.write_text("".join(f"{u}:{p}\n" for u, p in pairs), encoding="utf-8")
    return location
