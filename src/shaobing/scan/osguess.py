"""A light operating-system guess from what identified services reveal (requirement B2).

No packets are sent: the evidence is the banners, versions and headers the fingerprints
already collected (an OpenSSH banner's "Debian-2+deb12u3", an IIS version, "Kylin" or
"UOS" in a server string, the OS field a fingerprint filled). The hints are data
(``osguess.yaml``). Each service votes for at most one OS per rule; the OS with the
highest confidence wins, and every further service that agrees adds a little.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shaobing.scan.fingerprint import ServiceMatch
from shaobing.scan.fingerprint_template import cpe_escape

_AGREEMENT_BONUS = 5
_EVIDENCE_LIMIT = 120


@dataclass(frozen=True)
class OsGuess:
    """The most likely OS of a host: ``name`` (with ``release`` when known), its family,
    vendor, a CPE 2.3 name, a confidence 0-100 and the evidence lines that support it."""

    name: str
    family: str
    vendor: str | None
    release: str | None
    cpe: str | None
    confidence: int
    evidence: tuple[str, ...]

    @property
    def label(self) -> str:
        """``name release`` for display (``Debian 12``, ``Ubuntu 22.04``)."""
        return f"{self.name} {self.release}" if self.release else self.name


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(min_length=1)
    source: Literal["any", "os"] = "any"
    name: str = Field(min_length=1)
    family: Literal["Linux", "Windows", "BSD", "Unix"]
    vendor: str | None = None
    release: str | None = None
    table: str | None = None
    cpe: str | None = None
    confidence: int = Field(ge=0, le=100)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from None
        return value


class _Hints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tables: dict[str, dict[str, str]] = {}
    rules: tuple[_RuleSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _tables_exist(self) -> _Hints:
        for rule in self.rules:
            if rule.table is not None and rule.table not in self.tables:
                raise ValueError(f"rule {rule.name!r} names unknown table {rule.table!r}")
        return self


@dataclass(frozen=True)
class _Rule:
    spec: _RuleSpec
    regex: re.Pattern[str]


@cache
def _load() -> tuple[tuple[_Rule, ...], dict[str, dict[str, str]]]:
    text = resources.files("shaobing.scan").joinpath("osguess.yaml").read_text(encoding="utf-8")
    raw: Any = yaml.safe_load(text)
    hints = _Hints.model_validate(raw)
    rules = tuple(_Rule(spec, re.compile(spec.pattern)) for spec in hints.rules)
    return rules, hints.tables


def _evidence(match: ServiceMatch) -> str:
    http = match.extra.get("http")
    server = http.get("server") if isinstance(http, dict) else None
    parts = (match.banner, match.product, match.version, match.info, match.os, server)
    return " ".join(part for part in parts if part)


def _release(rule: _Rule, found: re.Match[str], tables: dict[str, dict[str, str]]) -> str | None:
    spec = rule.spec
    if spec.table is not None:
        return tables[spec.table].get(found.group(1) or "") if found.groups() else None
    if spec.release is None:
        return None
    text = re.sub(r"\$(\d)", lambda ref: _group(found, int(ref.group(1))), spec.release)
    return text.strip() or None


def _group(found: re.Match[str], number: int) -> str:
    try:
        return found.group(number) or ""
    except IndexError:
        return ""


@dataclass
class _Vote:
    spec: _RuleSpec
    confidence: int
    release: str | None
    evidence: list[str]


def guess_os(matches: Iterable[ServiceMatch | None]) -> OsGuess | None:
    """The most likely OS behind a host's identified services, or None without evidence."""
    rules, tables = _load()
    votes: dict[str, _Vote] = {}
    for match in matches:
        if match is None:
            continue
        text = _evidence(match)
        voted: set[str] = set()
        for rule in rules:
            subject = (match.os or "") if rule.spec.source == "os" else text
            found = rule.regex.search(subject)
            if found is None or rule.spec.name in voted:
                continue
            voted.add(rule.spec.name)
            line = f"{match.service}: {found.group(0)}"[:_EVIDENCE_LIMIT]
            release = _release(rule, found, tables)
            vote = votes.get(rule.spec.name)
            if vote is None:
                votes[rule.spec.name] = _Vote(rule.spec, rule.spec.confidence, release, [line])
                continue
            # Another service agrees: keep the strongest rule, add a little confidence.
            if rule.spec.confidence > vote.spec.confidence:
                vote.spec = rule.spec
            vote.release = vote.release or release
            vote.confidence = max(vote.confidence, rule.spec.confidence) + _AGREEMENT_BONUS
            vote.evidence.append(line)
    if not votes:
        return None
    best = max(votes.values(), key=lambda v: (min(v.confidence, 100), len(v.evidence)))
    spec = best.spec
    release = cpe_escape(best.release) if best.release else "*"
    cpe = spec.cpe.replace("{release}", release) if spec.cpe else None
    return OsGuess(
        name=spec.name,
        family=spec.family,
        vendor=spec.vendor,
        release=best.release,
        cpe=cpe,
        confidence=min(best.confidence, 100),
        evidence=tuple(dict.fromkeys(best.evidence)),
    )
