"""NVD applicability: do a service's product/version/CPEs fall under a CVE's configurations?

NVD describes affected software as configurations of nodes of CPE match criteria. A criterion
names a CPE (wildcards allowed) and, when its version is ``*``, optional bounds
(versionStart/End Including/Excluding); ``vulnerable=false`` criteria name the platform the
vulnerable software must run on or with. Nodes combine criteria with AND/OR and may be
negated; a configuration combines its nodes with AND/OR.

The evaluation is three-valued (:class:`Applicability`): a platform criterion the host's CPEs
do not show is *unconfirmed* rather than false, because identification rarely sees the whole
platform; it is false only when the host shows the same platform product in another version.

Service versions are compared as their upstream part (``9.2p1-2+deb12u3`` → ``9.2p1``),
because NVD bounds are upstream versions; the distribution revision is what back-ported fixes
hide behind, so it lowers the confidence instead.

Confidence table (organisation-defined, 0-100; a version-based match is always "潜在"):

=============================================================  ======
Basis of the match                                              points
=============================================================  ======
criterion names the exact version (upstream version string)       80
version inside a criterion's range (versionStart/End...)          70
criterion covers every version (``*`` without bounds, or ``-``)   45
distribution back-port marker in the version (deb/el/ubuntu...)  -40
product found only through the alias table (no CPE identified)   -15
platform ("running on/with") condition not confirmed             -15
=============================================================  ======

A criterion naming one version matches that version exactly; an update attribute that is
really a version suffix is joined to it (NVD's older ``openssh:7.2:p2`` equals ``7.2p2``), so
``openssh:9.3:*`` does not match a host reporting ``9.3p1``. Host attributes the scanner left
as ANY never contradict a criterion.

The result is kept within 5..95; a match confirmed by a check or template (``confirmed_by``)
is "confirmed" with confidence 100.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property, lru_cache
from typing import Any, Literal

from shaobing.core.i18n import t
from shaobing.vulndb.cpe import (
    ANY,
    NA,
    Cpe,
    cpe_from_product,
    platform_cpes,
    try_parse_cpe,
    unescape,
    value_matches,
)
from shaobing.vulndb.versions import (
    VersionKey,
    distro_backport,
    distro_family,
    find_distro_marker,
    parse_version,
    upstream_version,
)

Operator = Literal["AND", "OR"]
Status = Literal["confirmed", "potential"]

EXACT_POINTS = 80
RANGE_POINTS = 70
ALL_VERSIONS_POINTS = 45
BACKPORT_PENALTY = 40
ALIAS_ONLY_PENALTY = 15
PLATFORM_PENALTY = 15
MIN_CONFIDENCE, MAX_CONFIDENCE = 5, 95

# An update attribute that is really part of the version (NVD's older "openssh:7.2:p2").
_VERSION_LIKE_UPDATE = re.compile(
    r"^(?:p|patch|rc|beta|alpha|a|b|m|pre|preview|dev|sp|u|update)?[0-9]+[a-z0-9.]*$|^[a-z]$",
    re.ASCII,
)
# Attributes compared with plain wildcard semantics (version and update are special); the
# most selective ones first, since most criteria a host is checked against miss on them.
_PLAIN_ATTRIBUTES = (
    "product",
    "vendor",
    "part",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
)


class Applicability(IntEnum):
    """Three-valued truth: ordered so that AND is ``min`` and OR is ``max``."""

    NO = 0
    UNCONFIRMED = 1
    YES = 2

    def negated(self) -> Applicability:
        """Logical NOT (unconfirmed stays unconfirmed)."""
        return Applicability(2 - self.value)


@dataclass(frozen=True)
class CpeCriterion:
    """One NVD cpeMatch entry: a CPE 2.3 pattern, the vulnerable flag and version bounds."""

    criteria: str
    vulnerable: bool = True
    version_start_including: str | None = None
    version_start_excluding: str | None = None
    version_end_including: str | None = None
    version_end_excluding: str | None = None

    @cached_property
    def compiled(self) -> _Compiled:
        """The criterion prepared for repeated matching (parsed once per object)."""
        return _compile(self)

    @property
    def has_bounds(self) -> bool:
        """True when any of the four version bounds is set."""
        return bool(self.compiled.bounds)

    def describe_range(self) -> str:
        """The bounds in interval notation, e.g. ``[1.0.0, 1.22.1)``."""
        low = _bound(self.version_start_including) or _bound(self.version_start_excluding)
        high = _bound(self.version_end_including) or _bound(self.version_end_excluding)
        left = "[" if _bound(self.version_start_including) else "("
        right = "]" if _bound(self.version_end_including) else ")"
        return f"{left}{low or '-∞'}, {high or '+∞'}{right}"


@dataclass(frozen=True)
class ConfigNode:
    """Criteria combined with AND/OR; ``negate`` inverts the node's result."""

    criteria: tuple[CpeCriterion, ...]
    operator: Operator = "OR"
    negate: bool = False


@dataclass(frozen=True)
class Configuration:
    """One NVD configuration: nodes combined with AND/OR (OR when NVD omits it)."""

    nodes: tuple[ConfigNode, ...]
    operator: Operator = "OR"
    negate: bool = False


@dataclass(frozen=True)
class ConfigEvaluation:
    """The outcome for one configuration and the vulnerable criteria that matched."""

    applicability: Applicability
    matched: tuple[CpeCriterion, ...]


@dataclass(frozen=True)
class ServiceFacts:
    """What identification knows about a service (and the host it runs on)."""

    product: str | None = None
    vendor: str | None = None
    version: str | None = None
    cpes: tuple[str, ...] = ()
    os: str | None = None
    distro: str | None = None

    def __post_init__(self) -> None:
        # A list from a caller would make the facts unhashable (they key a cache).
        object.__setattr__(self, "cpes", tuple(self.cpes))


@dataclass(frozen=True)
class MatchVerdict:
    """Result of :func:`assess`: status, confidence 0-100 and the reasons shown to users."""

    status: Status
    confidence: int
    reasons: tuple[str, ...]
    matched_criteria: tuple[str, ...]


def _bound(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value if value not in {"", ANY, NA} else None


@lru_cache(maxsize=65536)
def _effective_version(version: str, update: str) -> str:
    """The version with a version-like update appended (``7.2`` + ``p2`` → ``7.2p2``)."""
    text = upstream_version(unescape(version))
    plain_update = unescape(update)
    if update not in {ANY, NA} and _VERSION_LIKE_UPDATE.match(plain_update):
        return text + plain_update
    return text


@lru_cache(maxsize=65536)
def _host_key(version: str, update: str) -> VersionKey | None:
    """The comparison key of a host CPE's version, None when the host does not know it."""
    if version in {ANY, NA}:
        return None
    return parse_version(_effective_version(version, update)).key


@dataclass(frozen=True)
class _Compiled:
    """A criterion prepared once: its parsed CPE, bound keys and exact version key."""

    pattern: Cpe | None
    # The plain attributes the criterion constrains (not ANY), most selective first.
    constrained: tuple[tuple[str, str], ...]
    # Each bound's key with the comparison results (version vs bound) it admits.
    bounds: tuple[tuple[VersionKey, tuple[int, ...]], ...]
    exact: VersionKey | None


def _compile(criterion: CpeCriterion) -> _Compiled:
    pattern = try_parse_cpe(criterion.criteria)
    checks = (
        (criterion.version_start_including, (0, 1)),
        (criterion.version_start_excluding, (1,)),
        (criterion.version_end_including, (-1, 0)),
        (criterion.version_end_excluding, (-1,)),
    )
    bounds = tuple(
        (parse_version(value).key, accepted)
        for bound, accepted in checks
        if (value := _bound(bound)) is not None
    )
    exact = None
    if pattern is not None and pattern.version not in {ANY, NA}:
        exact = parse_version(_effective_version(pattern.version, pattern.update)).key
    constrained: tuple[tuple[str, str], ...] = ()
    if pattern is not None:
        constrained = tuple(
            (name, getattr(pattern, name))
            for name in _PLAIN_ATTRIBUTES
            if getattr(pattern, name) != ANY
        )
    return _Compiled(pattern, constrained, bounds, exact)


def _compare(a: VersionKey, b: VersionKey) -> int:
    return (a > b) - (a < b)


def _version_matches(criterion: CpeCriterion, compiled: _Compiled, pattern: Cpe, host: Cpe) -> bool:
    host_key = _host_key(host.version, host.update)
    if pattern.version == ANY:
        if not compiled.bounds:
            return value_matches(pattern.update, host.update)
        if host_key is None:
            return False
        return all(_compare(host_key, key) in accepted for key, accepted in compiled.bounds)
    if pattern.version == NA:
        # "-": the product has no versions; an unknown host version does not contradict it.
        # Platform criteria ("running on windows:-") use it for the product as a whole.
        return not criterion.vulnerable or host_key is None
    if host_key is None:
        return False
    if "*" in pattern.version or "?" in pattern.version:
        return value_matches(pattern.version, host.version) and value_matches(
            pattern.update, host.update
        )
    return host_key == compiled.exact


def criterion_matches(criterion: CpeCriterion, cpe: Cpe) -> bool:
    """Does one host CPE fall under the criterion (attributes, then version or bounds)?"""
    compiled = criterion.compiled
    pattern = compiled.pattern
    if pattern is None:
        return False
    for name, wanted in compiled.constrained:
        value = getattr(cpe, name)
        if value != wanted and not value_matches(wanted, value):
            return False
    return _version_matches(criterion, compiled, pattern, cpe)


def _same_product(criterion: CpeCriterion, cpe: Cpe) -> bool:
    """The host shows the criterion's product in a known version (so a miss is a real NO)."""
    pattern = criterion.compiled.pattern
    if pattern is None or cpe.version in {ANY, NA}:
        return False
    return all(
        getattr(pattern, a) != ANY and value_matches(getattr(pattern, a), getattr(cpe, a))
        for a in ("part", "vendor", "product")
    )


def _criterion_value(criterion: CpeCriterion, cpes: Sequence[Cpe]) -> Applicability:
    if any(criterion_matches(criterion, cpe) for cpe in cpes):
        return Applicability.YES
    if criterion.vulnerable or any(_same_product(criterion, cpe) for cpe in cpes):
        return Applicability.NO
    # A platform the host's CPEs do not mention at all: unknown, not absent.
    return Applicability.UNCONFIRMED


def _combine(operator: Operator, values: Iterable[Applicability]) -> Applicability:
    collected = list(values)
    if not collected:
        return Applicability.NO
    return min(collected) if operator == "AND" else max(collected)


def evaluate_configuration(config: Configuration, cpes: Sequence[Cpe]) -> ConfigEvaluation:
    """Evaluate a configuration against the host's CPEs, keeping the matched criteria."""
    matched: list[CpeCriterion] = []
    node_values: list[Applicability] = []
    for node in config.nodes:
        values = []
        for criterion in node.criteria:
            value = _criterion_value(criterion, cpes)
            values.append(value)
            if value is Applicability.YES and criterion.vulnerable and not node.negate:
                matched.append(criterion)
        result = _combine(node.operator, values)
        node_values.append(result.negated() if node.negate else result)
    overall = _combine(config.operator, node_values)
    if config.negate:
        overall = overall.negated()
    if not matched:
        # Only a matched vulnerable criterion makes the host itself the vulnerable software.
        overall = Applicability.NO
    return ConfigEvaluation(overall, tuple(matched) if overall else ())


def configuration_applies(config: Configuration, cpes: Sequence[Cpe]) -> Applicability:
    """YES, NO or UNCONFIRMED (a platform condition the host's CPEs cannot show)."""
    return evaluate_configuration(config, cpes).applicability


def _operator(value: object) -> Operator:
    return "AND" if str(value).upper() == "AND" else "OR"


def configurations_from_nvd(data: Iterable[Mapping[str, Any]]) -> list[Configuration]:
    """Build configurations from NVD CVE API 2.0 JSON (a CVE's ``configurations`` list)."""
    configurations: list[Configuration] = []
    for config in data:
        nodes = tuple(
            ConfigNode(
                criteria=tuple(
                    CpeCriterion(
                        criteria=str(match.get("criteria", "")),
                        vulnerable=bool(match.get("vulnerable", True)),
                        version_start_including=match.get("versionStartIncluding"),
                        version_start_excluding=match.get("versionStartExcluding"),
                        version_end_including=match.get("versionEndIncluding"),
                        version_end_excluding=match.get("versionEndExcluding"),
                    )
                    for match in node.get("cpeMatch") or ()
                ),
                operator=_operator(node.get("operator", "OR")),
                negate=bool(node.get("negate", False)),
            )
            for node in config.get("nodes") or ()
        )
        configurations.append(
            Configuration(
                nodes=nodes,
                operator=_operator(config.get("operator", "OR")),
                negate=bool(config.get("negate", False)),
            )
        )
    return configurations


# --- the overall verdict ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Host:
    cpes: tuple[Cpe, ...]
    version: str | None
    alias_only: bool


def _upstream_cpe(cpe: Cpe, upstream: str | None) -> Cpe:
    """The CPE with its version reduced to upstream, or filled in from the service version."""
    if cpe.version not in {ANY, NA}:
        return cpe.with_version(upstream_version(unescape(cpe.version)))
    if cpe.part == "a" and cpe.version == ANY and upstream:
        return cpe.with_version(upstream)
    return cpe


@lru_cache(maxsize=4096)
def host_cpes(service: ServiceFacts) -> _Host:
    """The host CPEs for a service (cached: one service is assessed against many CVEs)."""
    parsed = [c for c in (try_parse_cpe(text) for text in service.cpes) if c is not None]
    version = service.version.strip() if service.version else None
    if not version:
        versions = [unescape(c.version) for c in parsed if c.part == "a"]
        version = next((v for v in versions if v not in {ANY, NA}), None)
    upstream = upstream_version(version) if version else None
    cpes = [_upstream_cpe(c, upstream) for c in parsed]
    alias_only = not any(c.part == "a" for c in cpes)
    if alias_only and service.product:
        cpes.extend(cpe_from_product(service.vendor, service.product, upstream))
    family = distro_family(version) if version else None
    for hint in (service.os, service.distro, family):
        cpes.extend(c for c in platform_cpes(hint) if c not in cpes)
    return _Host(tuple(cpes), version, alias_only and bool(service.product))


def _backport(service: ServiceFacts, version: str | None) -> tuple[str, str] | None:
    if version:
        tag = distro_backport(version)
        family = distro_family(version)
        if tag and family:
            return tag, family
    for hint in (service.distro, service.os):
        if hint:
            found = find_distro_marker(hint)
            if found:
                return found
    return None


def _basis(criterion: CpeCriterion) -> int:
    pattern = criterion.compiled.pattern
    if pattern is not None and pattern.version not in {ANY, NA}:
        return EXACT_POINTS
    return RANGE_POINTS if criterion.has_bounds else ALL_VERSIONS_POINTS


def _basis_reason(criterion: CpeCriterion, version: str | None, product: str) -> str:
    shown = version or "?"
    points = _basis(criterion)
    if points == EXACT_POINTS:
        return t("vulndb_match.exact_version", version=shown)
    if points == RANGE_POINTS:
        return t("vulndb_match.version_range", version=shown, range=criterion.describe_range())
    return t("vulndb_match.all_versions", product=product)


def _candidate(evaluation: ConfigEvaluation, service: ServiceFacts, host: _Host) -> MatchVerdict:
    best = max(evaluation.matched, key=_basis)
    pattern = best.compiled.pattern
    product = unescape(pattern.product) if pattern else best.criteria
    vendor_product = f"{unescape(pattern.vendor)}:{product}" if pattern else product
    shown = upstream_version(host.version) if host.version else None
    confidence = _basis(best)
    reasons = [t("vulndb_match.version_only"), _basis_reason(best, shown, product)]
    backport = _backport(service, host.version)
    if backport:
        confidence -= BACKPORT_PENALTY
        reasons.append(t("vulndb_match.backport", tag=backport[0], distro=backport[1]))
    if host.alias_only:
        confidence -= ALIAS_ONLY_PENALTY
        reasons.append(
            t("vulndb_match.alias_only", product=service.product or "", cpe=vendor_product)
        )
    if evaluation.applicability is Applicability.UNCONFIRMED:
        confidence -= PLATFORM_PENALTY
        reasons.append(t("vulndb_match.platform_unconfirmed"))
    return MatchVerdict(
        status="potential",
        confidence=max(MIN_CONFIDENCE, min(MAX_CONFIDENCE, confidence)),
        reasons=tuple(reasons),
        matched_criteria=tuple(c.criteria for c in evaluation.matched),
    )


def assess(
    service: ServiceFacts,
    configurations: Iterable[Configuration],
    *,
    confirmed_by: str | None = None,
) -> MatchVerdict | None:
    """Decide whether a CVE (its configurations) applies to a service; None when it does not.

    Without ``confirmed_by`` (the check or template that proved the vulnerability) a match is
    "potential" with a confidence from the table in this module's docstring.
    """
    host = host_cpes(service)
    verdicts = [
        _candidate(evaluation, service, host)
        for evaluation in (evaluate_configuration(c, host.cpes) for c in configurations)
        if evaluation.applicability is not Applicability.NO
    ]
    if not verdicts:
        return None
    best = max(verdicts, key=lambda v: v.confidence)
    return confirmed(best, confirmed_by) if confirmed_by else best


def confirmed(verdict: MatchVerdict, by: str) -> MatchVerdict:
    """``verdict`` turned "confirmed" (confidence 100) by the check or template ``by`` that
    proved the vulnerability on the service; the version reason is kept next to it."""
    kept = tuple(r for r in verdict.reasons[1:2])
    return MatchVerdict(
        status="confirmed",
        confidence=100,
        reasons=(t("vulndb_match.confirmed", check=by), *kept),
        matched_criteria=verdict.matched_criteria,
    )


__all__ = [
    "Applicability",
    "ConfigEvaluation",
    "ConfigNode",
    "Configuration",
    "CpeCriterion",
    "MatchVerdict",
    "ServiceFacts",
    "assess",
    "configuration_applies",
    "configurations_from_nvd",
    "confirmed",
    "criterion_matches",
    "evaluate_configuration",
]
