"""Risky service exposure (requirement B4): which open services should not be reachable.

The rules are data (``scan/data/exposure.yaml``), validated with pydantic when loaded: every
product regex is compiled, every port parsed and every CVSS v3.1 vector scored, and the
score must fall into the severity band the rule gives for that zone, so a rule that says
"high" with a vector scoring 9.8 fails at start-up instead of producing an inconsistent
finding. An organisation can add rules, replace or disable built-ins and add zone aliases
in ``$SHAOBING_HOME/exposure.yaml``.

Evaluation is pure: it looks only at what identification already learned about a service
(:class:`~shaobing.scan.checks.ServiceTarget`) and at the network zone, and never touches
the network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from cvss import CVSS3
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticError

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import catalogue, t
from shaobing.core.settings import get_settings
from shaobing.findings.severity import Severity, severity_from_score
from shaobing.scan.checks import Observation, ServiceTarget

CHECK_ID = "exposure.service"
ZONE_ALL = "all"
OVERRIDE_NAME = "exposure.yaml"
MAX_FILE_BYTES = 1024 * 1024
# Counted over the loaded document as if aliases were copied, so an anchor "bomb" that is
# small on disk but huge when walked is refused before pydantic walks it.
MAX_NODES = 200_000
# Products longer than this are cut before the regex runs: identification excerpts are short,
# and a bound keeps a careless user regex from costing much.
_PRODUCT_EXCERPT = 256
_RULE_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"
_BASE_VECTOR = re.compile(
    r"^CVSS:3\.1/AV:[NALP]/AC:[LH]/PR:[NLH]/UI:[NR]/S:[UC]/C:[NLH]/I:[NLH]/A:[NLH]$"
)
_PORT_RANGE = re.compile(r"^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$")
# Names identification uses when it could not tell what the service is; rules match such
# services by port instead.
UNIDENTIFIED = frozenset({"", "unknown", "tcpwrapped", "tls", "ssl"})
_HTTP_NAMES = frozenset({"http", "https", "http-alt", "http-proxy", "https-alt"})
_M = TypeVar("_M", bound=BaseModel)


def _error(message: str) -> ValidationError:
    """A one-line ValidationError: user regexes and YAML details may contain line breaks."""
    return ValidationError(" ".join(message.splitlines()))


# --- file format -------------------------------------------------------------------------


def _parse_port_item(item: object) -> tuple[int, int]:
    if isinstance(item, bool):
        raise ValueError(t("scan_exposure.bad_port", item=item))
    if isinstance(item, int):
        low = high = item
    elif isinstance(item, str) and (found := _PORT_RANGE.match(item)):
        low, high = int(found.group(1)), int(found.group(2))
    else:
        raise ValueError(t("scan_exposure.bad_port", item=item))
    if not 1 <= low <= high <= 65535:
        raise ValueError(t("scan_exposure.bad_port", item=item))
    return low, high


class MatchSpec(BaseModel):
    """Which services a rule applies to (see docs/exposure-rules.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Literal["tcp", "udp"] = "tcp"
    services: tuple[str, ...] = ()
    # Items are an int or "low-high"; checked by hand so YAML "true" is not taken as 1.
    ports: tuple[Any, ...] = ()
    web_ports: tuple[Any, ...] = ()
    product: str | None = Field(default=None, min_length=1, max_length=500)
    tls: bool | None = None

    @field_validator("services")
    @classmethod
    def _known_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(_normal_service(name) for name in value)
        for original, name in zip(value, names, strict=True):
            if name in UNIDENTIFIED:
                raise ValueError(t("scan_exposure.bad_service", name=original))
        return names

    @field_validator("ports", "web_ports")
    @classmethod
    def _valid_ports(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        for item in value:
            _parse_port_item(item)
        return value

    @field_validator("product")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(t("scan_exposure.bad_regex", pattern=value, detail=exc)) from None
        return value

    @model_validator(mode="after")
    def _has_condition(self) -> MatchSpec:
        if not (self.services or self.ports or self.web_ports or self.product):
            raise ValueError(t("scan_exposure.no_condition"))
        return self


def _check_vector(value: str | None) -> str | None:
    if value is not None and not _BASE_VECTOR.match(value):
        raise ValueError(t("scan_exposure.bad_cvss", vector=value))
    return value


class ZoneLevel(BaseModel):
    """Severity of a rule in one zone, with the vector scored for it when it differs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity
    cvss: str | None = None

    @field_validator("cvss")
    @classmethod
    def _base_vector(cls, value: str | None) -> str | None:
        return _check_vector(value)


class RuleSpec(BaseModel):
    """One exposure rule as written in the data file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_RULE_ID)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    remediation: str = Field(min_length=1, max_length=4000)
    match: MatchSpec
    cvss: str | None = None
    zones: dict[str, ZoneLevel | None] = Field(min_length=1)
    cwe: tuple[int, ...] = ()
    references: tuple[str, ...] = ()

    @field_validator("zones", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # "internet: high" is short for "internet: {severity: high}".
        if isinstance(value, dict):
            return {k: {"severity": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("cvss")
    @classmethod
    def _base_vector(cls, value: str | None) -> str | None:
        return _check_vector(value)

    @field_validator("cwe")
    @classmethod
    def _cwe_ids(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for item in value:
            if not 1 <= item <= 99999:
                raise ValueError(t("scan_exposure.bad_cwe", item=item))
        return value


class ZoneSpec(BaseModel):
    """A network zone: its Chinese label, how far it is trusted, and what ledgers call it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1, max_length=100)
    trust: int = Field(ge=0, le=100)
    aliases: tuple[str, ...] = ()


class RuleFileSpec(BaseModel):
    """The packaged rule file: zones, the default zone and the rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    default_zone: str
    zones: dict[str, ZoneSpec] = Field(min_length=1)
    rules: tuple[RuleSpec, ...] = ()


class OverrideSpec(BaseModel):
    """An organisation's override file: extra or replacing rules, disabled ids, aliases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    default_zone: str | None = None
    zone_aliases: dict[str, str] = Field(default_factory=dict)
    disable: tuple[str, ...] = ()
    rules: tuple[RuleSpec, ...] = ()


# --- compiled rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    """A network zone of the vocabulary (``internet``, ``dmz``, ...)."""

    id: str
    label: str
    trust: int


@dataclass(frozen=True)
class ZoneVerdict:
    """What a matching service is in one zone: its severity and CVSS v3.1 vector."""

    severity: Severity
    cvss: str | None


@dataclass(frozen=True)
class ExposureRule:
    """A validated rule with its ports parsed, regex compiled and zones resolved."""

    id: str
    title: str
    description: str
    remediation: str
    protocol: str
    services: frozenset[str]
    ports: tuple[tuple[int, int], ...]
    web_ports: tuple[tuple[int, int], ...]
    product: re.Pattern[str] | None
    tls: bool | None
    verdicts: Mapping[str, ZoneVerdict]
    cwe: tuple[int, ...]
    references: tuple[str, ...]

    def matches(self, target: ServiceTarget) -> bool:
        """Whether ``target`` is a service this rule is about.

        Protocol (and ``tls`` when the rule sets it) must agree; then any of: the service
        name is listed; the product matches the regex; the service is unidentified and the
        port is listed in ``ports``; the service is plain HTTP(S) on one of ``web_ports``.
        """
        if target.protocol.lower() != self.protocol:
            return False
        if self.tls is not None and target.tls != self.tls:
            return False
        service = _normal_service(target.service)
        if service in self.services:
            return True
        if (
            self.product is not None
            and target.product
            and self.product.search(target.product[:_PRODUCT_EXCERPT])
        ):
            return True
        if service in UNIDENTIFIED and _in_ranges(target.port, self.ports):
            return True
        return service in _HTTP_NAMES and _in_ranges(target.port, self.web_ports)

    def verdict(self, zone: str) -> ZoneVerdict | None:
        """Severity and vector in ``zone``; None when the exposure is acceptable there."""
        return self.verdicts.get(zone)


@dataclass(frozen=True)
class ExposureRules:
    """The effective rule set: zone vocabulary, default zone and rules in file order."""

    zones: Mapping[str, Zone]
    default_zone: str
    rules: tuple[ExposureRule, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def zone_id(self, text: str | None) -> str | None:
        """The zone id for an id, label or alias (case and spaces ignored); None if unknown."""
        if text is None:
            return None
        return self.aliases.get(_normal_alias(text))

    def get(self, rule_id: str) -> ExposureRule | None:
        """The rule with ``rule_id``, if any."""
        return next((rule for rule in self.rules if rule.id == rule_id), None)


def _normal_service(name: str | None) -> str:
    if name is None:
        return ""
    cleaned = name.strip().lower()
    # nmap writes services spoken over TLS as "ssl/http"; the inner name is what counts.
    for prefix in ("ssl/", "tls/"):
        if cleaned.startswith(prefix) and len(cleaned) > len(prefix):
            cleaned = cleaned[len(prefix) :]
    return cleaned


def _normal_alias(text: str) -> str:
    return "".join(text.split()).casefold()


def _in_ranges(port: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= port <= high for low, high in ranges)


# --- loading -----------------------------------------------------------------------------


def _node_budget(raw: Any, source: str) -> None:
    count = 0
    stack: list[Any] = [raw]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise _error(t("scan_exposure.too_complex", source=source, limit=MAX_NODES))
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple | set):
            stack.extend(node)


def _load_yaml(text: str, source: str) -> Any:
    if len(text) > MAX_FILE_BYTES:
        raise _error(
            t("scan_exposure.too_large", source=source, size=len(text), limit=MAX_FILE_BYTES)
        )
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise _error(t("scan_exposure.yaml", source=source, detail=detail)) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # safe_load builds timestamps and numbers itself: "2024-13-45" raises ValueError,
        # and a deeply nested flow collection exhausts the recursion limit.
        raise _error(t("scan_exposure.yaml", source=source, detail=exc)) from None
    _node_budget(raw, source)
    return raw


def _rule_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict):
        rules = raw.get("rules")
        if isinstance(rules, list) and index < len(rules):
            item = rules[index]
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
                return str(item["id"])[:64]
    return t("scan_exposure.rule_number", number=index + 1)


def _detail(error: Any) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    key = f"scan_exposure.pydantic.{kind}"
    if key in catalogue("zh-CN"):
        return t(key, **{k: v for k, v in ctx.items() if isinstance(k, str)})
    return str(error.get("msg", kind))


def _validation_error(exc: PydanticError, raw: Any, source: str) -> ValidationError:
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    detail = _detail(first)
    if len(loc) >= 2 and loc[0] == "rules" and loc[1].isdigit():
        rule = _rule_label(raw, int(loc[1]))
        where = ".".join(loc[2:]) or t("scan_exposure.whole_rule")
        return _error(
            t("scan_exposure.rule_invalid", source=source, rule=rule, field=where, detail=detail)
        )
    where = ".".join(loc) or t("scan_exposure.top_level")
    return _error(t("scan_exposure.file_invalid", source=source, field=where, detail=detail))


def _validate(model: type[_M], raw: Any, source: str) -> _M:
    try:
        return model.model_validate(raw)
    except PydanticError as exc:
        raise _validation_error(exc, raw, source) from None


def _score(vector: str) -> float:
    return float(CVSS3(vector).scores()[0])


def _compile_rule(spec: RuleSpec, zones: Mapping[str, Zone], source: str) -> ExposureRule:
    known = ", ".join(zones)
    for name in spec.zones:
        if name != ZONE_ALL and name not in zones:
            raise _error(
                t("scan_exposure.unknown_zone", source=source, rule=spec.id, zone=name, known=known)
            )
    verdicts: dict[str, ZoneVerdict] = {}
    for zone in zones:
        level = spec.zones[zone] if zone in spec.zones else spec.zones.get(ZONE_ALL)
        if level is None:
            continue
        named = zone if zone in spec.zones else ZONE_ALL
        vector = level.cvss
        if vector is None and level.severity is not Severity.INFO:
            vector = spec.cvss
        if vector is None and level.severity is not Severity.INFO:
            raise _error(
                t(
                    "scan_exposure.cvss_missing",
                    source=source,
                    rule=spec.id,
                    zone=named,
                    severity=level.severity.label,
                )
            )
        if vector is not None:
            score = _score(vector)
            band = severity_from_score(score)
            if band is not level.severity:
                raise _error(
                    t(
                        "scan_exposure.cvss_band",
                        source=source,
                        rule=spec.id,
                        zone=named,
                        vector=vector,
                        score=score,
                        band=band.label,
                        severity=level.severity.label,
                    )
                )
        verdicts[zone] = ZoneVerdict(level.severity, vector)
    return ExposureRule(
        id=spec.id,
        title=spec.title.strip(),
        description=spec.description.strip(),
        remediation=spec.remediation.strip(),
        protocol=spec.match.protocol,
        services=frozenset(spec.match.services),
        ports=tuple(_parse_port_item(item) for item in spec.match.ports),
        web_ports=tuple(_parse_port_item(item) for item in spec.match.web_ports),
        product=re.compile(spec.match.product, re.IGNORECASE) if spec.match.product else None,
        tls=spec.match.tls,
        verdicts=verdicts,
        cwe=spec.cwe,
        references=spec.references,
    )


def _compile_rules(
    specs: Iterable[RuleSpec], zones: Mapping[str, Zone], source: str
) -> list[ExposureRule]:
    seen: set[str] = set()
    out: list[ExposureRule] = []
    for spec in specs:
        if spec.id in seen:
            raise _error(t("scan_exposure.duplicate", source=source, rule=spec.id))
        seen.add(spec.id)
        out.append(_compile_rule(spec, zones, source))
    return out


def _add_alias(aliases: dict[str, str], text: str, zone: str, source: str) -> None:
    key = _normal_alias(text)
    if not key:
        return
    known = aliases.get(key)
    if known is not None and known != zone:
        raise _error(
            t("scan_exposure.alias_conflict", source=source, alias=text, first=known, second=zone)
        )
    aliases[key] = zone


def parse_rules(text: str, *, source: str = "exposure.yaml") -> ExposureRules:
    """Validate a complete rule file (zones and rules); raise ValidationError naming the
    offending rule and field when anything is wrong."""
    raw = _load_yaml(text, source)
    spec = _validate(RuleFileSpec, raw, source)
    zones = {
        name: Zone(id=name, label=zone.label.strip(), trust=zone.trust)
        for name, zone in spec.zones.items()
    }
    if ZONE_ALL in zones:
        raise _error(t("scan_exposure.zone_reserved", source=source, zone=ZONE_ALL))
    if spec.default_zone not in zones:
        raise _error(
            t(
                "scan_exposure.default_zone_unknown",
                source=source,
                zone=spec.default_zone,
                known=", ".join(zones),
            )
        )
    aliases: dict[str, str] = {}
    for name, zone_spec in spec.zones.items():
        for text_ in (name, zone_spec.label, *zone_spec.aliases):
            _add_alias(aliases, text_, name, source)
    rules = _compile_rules(spec.rules, zones, source)
    return ExposureRules(
        zones=zones, default_zone=spec.default_zone, rules=tuple(rules), aliases=aliases
    )


def apply_override(base: ExposureRules, text: str, *, source: str) -> ExposureRules:
    """``base`` changed by an override file: rules with a new id are added, rules with a
    built-in id replace it, ``disable`` removes built-ins, ``zone_aliases`` adds names."""
    raw = _load_yaml(text, source)
    if raw is None:
        return base
    spec = _validate(OverrideSpec, raw, source)
    known = ", ".join(base.zones)
    aliases = dict(base.aliases)
    for alias, target in spec.zone_aliases.items():
        zone = base.zone_id(target)
        if zone is None:
            raise _error(
                t(
                    "scan_exposure.alias_unknown_zone",
                    source=source,
                    alias=alias,
                    zone=target,
                    known=known,
                )
            )
        _add_alias(aliases, alias, zone, source)
    default_zone = base.default_zone
    if spec.default_zone is not None:
        default_zone = aliases.get(_normal_alias(spec.default_zone), "")
        if not default_zone:
            raise _error(
                t(
                    "scan_exposure.default_zone_unknown",
                    source=source,
                    zone=spec.default_zone,
                    known=known,
                )
            )
    base_ids = {rule.id for rule in base.rules}
    own_ids = {rule.id for rule in spec.rules}
    for rule_id in spec.disable:
        if rule_id not in base_ids and rule_id not in own_ids:
            raise _error(t("scan_exposure.disable_unknown", source=source, rule=rule_id))
    added = {rule.id: rule for rule in _compile_rules(spec.rules, base.zones, source)}
    disabled = set(spec.disable)
    rules = [added.pop(rule.id, rule) for rule in base.rules]
    rules.extend(added.values())
    return ExposureRules(
        zones=base.zones,
        default_zone=default_zone,
        rules=tuple(rule for rule in rules if rule.id not in disabled),
        aliases=aliases,
    )


def _read_file(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _error(t("scan_exposure.too_large", source=path, size=size, limit=MAX_FILE_BYTES))
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _error(t("scan_exposure.not_utf8", source=path, detail=exc)) from None
    except OSError as exc:
        raise _error(
            t("scan_exposure.unreadable", source=path, detail=exc.strerror or exc)
        ) from None


@cache
def builtin_rules() -> ExposureRules:
    """The packaged rules, validated once per process."""
    text = (
        resources.files("shaobing.scan")
        .joinpath("data", "exposure.yaml")
        .read_text(encoding="utf-8")
    )
    return parse_rules(text, source="scan/data/exposure.yaml")


@cache
def _with_override(path: str, _stamp: tuple[int, int]) -> ExposureRules:
    # Cached per file version (mtime, size): a scan evaluates thousands of services.
    override = Path(path)
    return apply_override(builtin_rules(), _read_file(override), source=str(override))


def load_exposure_rules(override: Path | None = None) -> ExposureRules:
    """The effective rules: built-ins plus ``override`` (default ``$SHAOBING_HOME/exposure.yaml``)
    when that file exists."""
    path = override if override is not None else get_settings().home / OVERRIDE_NAME
    try:
        stat = path.stat()
    except FileNotFoundError:
        return builtin_rules()
    except OSError as exc:
        raise _error(
            t("scan_exposure.unreadable", source=path, detail=exc.strerror or exc)
        ) from None
    return _with_override(str(path), (stat.st_mtime_ns, stat.st_size))


# --- zones and evaluation ------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneChoice:
    """The zone a service is judged in and why (a short Chinese phrase for the evidence)."""

    zone: str
    basis: str


def _option_zone(rules: ExposureRules, options: Mapping[str, Any], name: str) -> str | None:
    value = options.get(name)
    if value is None or value == "":
        return None
    zone = rules.zone_id(value) if isinstance(value, str) else None
    if zone is None:
        raise _error(
            t("scan_exposure.option_zone", option=name, value=value, known=", ".join(rules.zones))
        )
    return zone


def resolve_zone(
    rules: ExposureRules, target_zone: str | None, options: Mapping[str, Any]
) -> ZoneChoice:
    """The zone to judge a service in.

    The host's own zone (asset ledger) comes first, then the policy option ``zone``, then
    the organisation default (``default_zone`` in the rule files). When the policy names a
    ``vantage`` (the zone the scanner runs in), the less trusted of that and the host's zone
    wins: a service that answers a scanner in the internet zone is exposed to the internet,
    whatever the ledger says.
    """
    fallback = _option_zone(rules, options, "zone")
    vantage = _option_zone(rules, options, "vantage")
    own = rules.zone_id(target_zone)
    if own is not None:
        choice = ZoneChoice(own, t("scan_exposure.basis.asset", text=target_zone))
    elif fallback is not None:
        choice = ZoneChoice(fallback, t("scan_exposure.basis.policy"))
    elif target_zone:
        choice = ZoneChoice(
            rules.default_zone, t("scan_exposure.basis.unrecognised", text=target_zone)
        )
    else:
        choice = ZoneChoice(rules.default_zone, t("scan_exposure.basis.default"))
    if vantage is not None and rules.zones[vantage].trust < rules.zones[choice.zone].trust:
        label = rules.zones[vantage].label
        return ZoneChoice(vantage, t("scan_exposure.basis.vantage", zone=label))
    return choice


def _evidence(target: ServiceTarget, zone: Zone, basis: str) -> str:
    service = (
        t("scan_exposure.service_named", service=target.service)
        if target.service
        else t("scan_exposure.service_unknown")
    )
    product = " ".join(part for part in (target.product, target.version) if part)
    product_text = t("scan_exposure.product", product=product) if product else ""
    return t(
        "scan_exposure.evidence",
        key=target.key,
        service=service,
        product=product_text,
        zone=zone.label,
        basis=basis,
    )


def evaluate_exposure(
    target: ServiceTarget, zone: str | None, rules: ExposureRules, *, basis: str | None = None
) -> list[Observation]:
    """Observations for every rule that ``target`` matches and that is a finding in ``zone``.

    ``zone`` is a zone id, label or alias; when None, ``target.zone`` is used; when neither
    is recognised, the organisation default zone. Pure: no network, no database.
    """
    given = zone if zone is not None else target.zone
    zone_id = rules.zone_id(given)
    if zone_id is None:
        zone_id = rules.default_zone
        if basis is None:
            basis = (
                t("scan_exposure.basis.unrecognised", text=given)
                if given
                else t("scan_exposure.basis.default")
            )
    elif basis is None:
        basis = t("scan_exposure.basis.given")
    zone_info = rules.zones[zone_id]
    found: list[Observation] = []
    for rule in rules.rules:
        verdict = rule.verdict(zone_id)
        if verdict is None or not rule.matches(target):
            continue
        found.append(
            Observation(
                check_id=CHECK_ID,
                title=rule.title,
                severity=verdict.severity,
                address=target.address,
                port=target.port,
                protocol=target.protocol,
                description=rule.description,
                remediation=rule.remediation,
                evidence=_evidence(target, zone_info, basis),
                cvss_v3_vector=verdict.cvss,
                cwe_ids=list(rule.cwe),
                references=list(rule.references),
                identity=rule.id,
                extra={"zone": zone_id, "rule": rule.id},
            )
        )
    return found
