"""Load ``manifest.yaml``: the vulnerable application's endpoints, their twins and pages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

MANIFEST_PATH = Path(__file__).with_name("manifest.yaml")

CLASSES = frozenset(
    {
        "sqli-error",
        "sqli-boolean",
        "sqli-time",
        "sqli-union",
        "xss-reflected",
        "xss-stored",
        "path-traversal",
        "rfi",
        "ssrf",
        "open-redirect",
        "ssi",
        "cmd-injection",
        "ssti",
        "crlf",
        "weak-login",
        "broken-access",
        "missing-headers",
        "cookie-flags",
        "version-disclosure",
        "directory-listing",
        "error-disclosure",
        "sensitive-file",
        "mixed-content",
        "cors",
        "password-over-http",
        "dangerous-methods",
    }
)
LOCATIONS = frozenset({"query", "form", "json", "cookie", "header"})
DBMS = frozenset({"sqlite", "mariadb", "postgres", "mssql", "oracle", "dm"})
BACKENDS = frozenset({"mariadb", "postgres"})


class ManifestError(ValueError):
    """The manifest is inconsistent."""


@dataclass(frozen=True)
class Entry:
    """One endpoint and technique: vulnerable, or the safe twin of one."""

    id: str
    vuln_class: str
    vulnerable: bool
    twin: str
    method: str
    path: str
    parameter: str | None = None
    location: str | None = None
    value: str | None = None
    dbms: str | None = None
    requires: str | None = None
    emulated: bool = False
    context: str | None = None
    technique: str | None = None
    shown_at: str | None = None
    also: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    notes: str | None = None

    def sample(self, origin: str) -> str | None:
        """The benign value with ``{origin}`` replaced by ``origin``."""
        return None if self.value is None else self.value.replace("{origin}", origin)

    def available(self, backends: Iterable[str]) -> bool:
        """Whether the entry exists on an instance with ``backends``."""
        return self.requires is None or self.requires in set(backends)


_PLACEHOLDERS = {"{int}": r"\d+", "{any}": r"[^/]+"}


def _pattern_regex(text: str, *, segment: bool) -> str:
    parts = re.split(r"(\{int\}|\{any\})", text)
    out = ""
    for part in parts:
        if part in _PLACEHOLDERS:
            out += _PLACEHOLDERS[part] if segment or part == "{int}" else ".*"
        else:
            out += re.escape(part)
    return out


@dataclass(frozen=True)
class Page:
    """A crawlable page, as a URL pattern."""

    pattern: str
    via: str = "link"
    auth: bool = False
    hostile: bool = False
    requires: str | None = None

    def matches(self, url: str) -> bool:
        """Whether ``url`` (absolute or a path with query) is an instance of this page."""
        want = urlsplit(self.pattern)
        got = urlsplit(url)
        if not re.fullmatch(_pattern_regex(want.path, segment=True), got.path or "/"):
            return False
        query = parse_qs(got.query, keep_blank_values=True)
        for name, values in parse_qs(want.query, keep_blank_values=True).items():
            if name not in query:
                return False
            regex = _pattern_regex(values[0], segment=False)
            if not any(re.fullmatch(regex, v) for v in query[name]):
                return False
        return True

    def available(self, backends: Iterable[str]) -> bool:
        """Whether the page exists on an instance with ``backends``."""
        return self.requires is None or self.requires in set(backends)


@dataclass(frozen=True)
class Destructive:
    """A link or form a crawler must not trigger."""

    action: str
    method: str
    path: str
    text: str | None = None


@dataclass(frozen=True)
class Manifest:
    """The whole manifest."""

    entries: tuple[Entry, ...]
    pages: tuple[Page, ...]
    destructive: tuple[Destructive, ...]
    login: dict[str, str]
    test_api: dict[str, str]

    def entry(self, ident: str) -> Entry:
        """The entry called ``ident``."""
        for entry in self.entries:
            if entry.id == ident:
                return entry
        raise KeyError(ident)

    def twin_of(self, entry: Entry) -> Entry:
        """The counterpart of ``entry``."""
        return self.entry(entry.twin)

    def entries_for(
        self, backends: Iterable[str], *, vulnerable: bool | None = None
    ) -> list[Entry]:
        """Entries live on an instance with ``backends`` (only one kind when asked)."""
        names = set(backends)
        return [
            e
            for e in self.entries
            if e.available(names) and (vulnerable is None or e.vulnerable == vulnerable)
        ]

    def pages_for(
        self, backends: Iterable[str], *, auth: bool = True, hostile: bool = False
    ) -> list[Page]:
        """Pages a complete crawl of such an instance reaches (the coverage denominator)."""
        names = set(backends)
        return [
            p
            for p in self.pages
            if p.available(names) and (auth or not p.auth) and (hostile or not p.hostile)
        ]

    def page_for(self, url: str) -> Page | None:
        """The page pattern ``url`` belongs to, if any."""
        return next((p for p in self.pages if p.matches(url)), None)


def _entry(raw: dict[str, Any]) -> Entry:
    data = dict(raw)
    data["vuln_class"] = data.pop("class")
    data["also"] = tuple(data.get("also") or ())
    data["extra"] = {str(k): str(v) for k, v in (data.get("extra") or {}).items()}
    if data.get("value") is not None:
        data["value"] = str(data["value"])
    return Entry(**data)


def validate(manifest: Manifest) -> None:
    """Raise ManifestError unless ids are unique, twins exist and point across, and the
    vocabularies are respected."""
    ids = [e.id for e in manifest.entries]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ManifestError(f"duplicate ids: {sorted(duplicates)}")
    known = set(ids)
    for e in manifest.entries:
        problems = []
        if e.vuln_class not in CLASSES:
            problems.append(f"class {e.vuln_class!r}")
        if e.location is not None and e.location not in LOCATIONS:
            problems.append(f"location {e.location!r}")
        if e.dbms is not None and e.dbms not in DBMS:
            problems.append(f"dbms {e.dbms!r}")
        if e.requires is not None and e.requires not in BACKENDS:
            problems.append(f"requires {e.requires!r}")
        if any(a not in CLASSES for a in e.also):
            problems.append(f"also {e.also!r}")
        if e.twin not in known:
            problems.append(f"unknown twin {e.twin!r}")
        else:
            twin = manifest.entry(e.twin)
            if twin.vulnerable == e.vulnerable or twin.vuln_class != e.vuln_class:
                problems.append(f"twin {e.twin!r} is not a counterpart")
        if e.vuln_class.startswith("sqli-") and e.dbms is None:
            problems.append("SQL injection without dbms")
        if problems:
            raise ManifestError(f"{e.id}: " + ", ".join(problems))
    patterns = [p.pattern for p in manifest.pages]
    if len(patterns) != len(set(patterns)):
        raise ManifestError("duplicate page patterns")


def parse(text: str) -> Manifest:
    """Parse and validate manifest text."""
    raw = yaml.safe_load(text)
    manifest = Manifest(
        entries=tuple(_entry(e) for e in raw["entries"]),
        pages=tuple(Page(**p) for p in raw["pages"]),
        destructive=tuple(Destructive(**d) for d in raw["destructive"]),
        login={str(k): str(v) for k, v in raw["login"].items()},
        test_api={str(k): str(v) for k, v in raw["test_api"].items()},
    )
    validate(manifest)
    return manifest


@cache
def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    """The manifest beside this module (parsed once)."""
    return parse(path.read_text(encoding="utf-8"))
