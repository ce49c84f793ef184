"""Inputs of an assessment read from the platform: assets on three layers, threats,
vulnerabilities (findings, manual entries, ineffective measures) and security measures.

The standard identifies assets on three layers: businesses (业务), system assets (系统资产:
the ledger's business systems) and components (系统组件和单元资产: the ledger's assets).
Everything here is turned into plain records so that the calculation stays pure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.assess.risk.calc import Step, bearing_value, threat_value
from shaobing.assess.risk.config import (
    MethodConfig,
    Threat,
    VulnClasses,
    rule_matches,
    schema_detail,
    schema_where,
    threat_catalogue,
    vuln_classes,
)
from shaobing.assess.risk.models import (
    RiskBusiness,
    RiskBusinessSystem,
    RiskMeasure,
    RiskThreat,
    RiskVulnerability,
)
from shaobing.assets.models import Asset
from shaobing.assets.valuation import asset_value
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import BusinessSystem, Engagement, EngagementSystem
from shaobing.findings.models import Finding

COMPONENT = "component"
SYSTEM = "system"


@dataclass(frozen=True)
class Target:
    """An asset a risk is computed on: a component or a system asset, with its value Ia."""

    key: str
    layer: str
    name: str
    system_id: int | None
    value: int
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Vulnerability:
    """One vulnerability on one target, with its severity V (1–5) and class."""

    key: str
    target_key: str
    name: str
    vclass: str
    vtype: str
    severity: int
    source: str  # finding | manual | measure
    steps: tuple[Step, ...]
    threat_id: str | None = None


@dataclass(frozen=True)
class EffectiveThreat:
    """A catalogue threat with the engagement's edits and its value T."""

    threat: Threat
    value: int
    step: Step
    edited: tuple[str, ...]


@dataclass(frozen=True)
class Measure:
    """An existing security measure and where it acts."""

    id: int
    name: str
    measure_type: str
    effect: int
    threat_ids: tuple[str, ...]
    vuln_classes: tuple[str, ...]
    asset_id: int | None
    system_id: int | None
    effective: bool

    def applies(self, target: Target, threat_id: str, vclass: str) -> bool:
        """Whether this (effective) measure acts on a risk of ``target``/threat/class."""
        if not self.effective:
            return False
        if self.threat_ids and threat_id not in self.threat_ids:
            return False
        if self.vuln_classes and vclass not in self.vuln_classes:
            return False
        if self.asset_id is not None:
            return target.key == f"asset:{self.asset_id}"
        if self.system_id is not None:
            return target.system_id == self.system_id
        return True


@dataclass(frozen=True)
class Business:
    """A business and the systems bearing it (system id → relevance 1–5)."""

    name: str
    importance: int
    systems: dict[int, int]


@dataclass
class Inputs:
    """Everything an assessment reads, as plain records."""

    targets: dict[str, Target] = field(default_factory=dict)
    vulnerabilities: list[Vulnerability] = field(default_factory=list)
    threats: list[EffectiveThreat] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    businesses: list[Business] = field(default_factory=list)
    systems: dict[int, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------ classification
def classify(
    classes: VulnClasses,
    *,
    source_tool: str,
    check_id: str,
    title: str,
    cwe: list[int],
    cve: bool,
    url: bool,
) -> tuple[str, str]:
    """The class of a finding (first matching class in file order) and the rule that matched."""
    for vclass in classes.classes:
        for rule in vclass.match:
            reason = rule_matches(
                rule,
                source_tool=source_tool,
                check_id=check_id,
                title=title,
                cwe=cwe,
                cve=cve,
                url=url,
            )
            if reason is not None:
                return vclass.id, reason
    return classes.fallback, t("risk.match.fallback")


# ------------------------------------------------------------------ threats
EDITABLE_THREAT_FIELDS = (
    "name",
    "source",
    "actor",
    "kind",
    "motive",
    "timing",
    "frequency",
    "capability",
    "exploits",
    "disabled",
)


def apply_threat_changes(threat: Threat, changes: dict[str, Any]) -> Threat:
    """The threat with an engagement's edits, validated like the catalogue."""
    from pydantic import ValidationError as SchemaError  # noqa: PLC0415 - only on edits

    unknown = [k for k in changes if k not in EDITABLE_THREAT_FIELDS]
    if unknown:
        raise ValidationError(t("risk.threat.bad_field", threat=threat.id, field=unknown[0]))
    try:
        edited = Threat.model_validate(threat.model_dump() | changes)
    except SchemaError as exc:
        first = exc.errors()[0]
        raise ValidationError(
            t(
                "risk.threat.bad_value",
                threat=threat.id,
                field=schema_where(first),
                detail=schema_detail(first),
            )
        ) from None
    known = {c.id for c in vuln_classes().classes}
    bad = [e for e in edited.exploits if e not in known]
    if bad:
        raise ValidationError(t("risk.unknown_class", cls=bad[0]))
    return edited


def effective_threats(
    session: Session, engagement: Engagement, config: MethodConfig
) -> list[EffectiveThreat]:
    """The catalogue with the engagement's stored edits applied, and each threat's value."""
    edits = {
        row.threat_id: row.changes
        for row in session.scalars(
            select(RiskThreat).where(RiskThreat.engagement_id == engagement.id)
        )
    }
    out: list[EffectiveThreat] = []
    for threat in threat_catalogue():
        changes = edits.get(threat.id) or {}
        edited = apply_threat_changes(threat, changes) if changes else threat
        value, step = threat_value(edited.frequency, edited.capability, config.threat_value)
        out.append(EffectiveThreat(edited, value, step, tuple(sorted(changes))))
    return out


# ------------------------------------------------------------------ assets and values
def _component_target(
    asset: Asset, bearing: dict[int, tuple[int, Step]], config: MethodConfig
) -> Target:
    cia = asset_value(
        asset.confidentiality, asset.integrity, asset.availability, asset.value_method or "log2"
    )
    steps = [
        Step(
            "asset_cia",
            {
                "name": asset.name,
                "c": asset.confidentiality,
                "i": asset.integrity,
                "a": asset.availability,
                "method": asset.value_method or "log2",
                "value": cia,
            },
        )
    ]
    value = cia
    if asset.system_id is not None and asset.system_id in bearing:
        carried, step = bearing[asset.system_id]
        steps.append(step)
        value = max(cia, carried)
        steps.append(Step("asset_max", {"cia": cia, "bearing": carried, "value": value}))
    return Target(f"asset:{asset.id}", COMPONENT, asset.name, asset.system_id, value, tuple(steps))


def _system_target(
    system_id: int,
    name: str,
    bearing: dict[int, tuple[int, Step]],
    component_values: list[int],
    config: MethodConfig,
) -> Target:
    steps: list[Step] = []
    candidates: list[int] = []
    if system_id in bearing:
        carried, step = bearing[system_id]
        steps.append(step)
        candidates.append(carried)
    if component_values:
        best = max(component_values)
        steps.append(Step("system_components", {"count": len(component_values), "value": best}))
        candidates.append(best)
    if candidates:
        value = max(candidates)
        steps.append(Step("system_value", {"value": value}))
    else:
        value = config.default_system_value
        steps.append(Step("system_default", {"value": value}))
    return Target(f"system:{system_id}", SYSTEM, name, system_id, value, tuple(steps))


def _bearing(businesses: list[Business], config: MethodConfig) -> dict[int, tuple[int, Step]]:
    """Per system: the highest business-bearing value over the businesses it bears."""
    best: dict[int, tuple[int, Step]] = {}
    for business in businesses:
        for system_id, relevance in business.systems.items():
            value, step = bearing_value(business.importance, relevance, config)
            step = Step(step.key, step.params | {"business": business.name})
            if system_id not in best or value > best[system_id][0]:
                best[system_id] = (value, step)
    return best


def load_businesses(session: Session, engagement: Engagement) -> list[Business]:
    """The engagement's businesses and the systems bearing them."""
    links: dict[int, dict[int, int]] = defaultdict(dict)
    for link in session.scalars(
        select(RiskBusinessSystem)
        .join(RiskBusiness, RiskBusiness.id == RiskBusinessSystem.business_id)
        .where(RiskBusiness.engagement_id == engagement.id)
    ):
        links[link.business_id][link.system_id] = link.relevance
    return [
        Business(b.name, b.importance, dict(links[b.id]))
        for b in session.scalars(
            select(RiskBusiness)
            .where(RiskBusiness.engagement_id == engagement.id)
            .order_by(RiskBusiness.id)
        )
    ]


# ------------------------------------------------------------------ loading
def load_inputs(session: Session, engagement: Engagement, config: MethodConfig) -> Inputs:
    """Read every input of the engagement's assessment."""
    inputs = Inputs()
    classes = vuln_classes()
    inputs.threats = effective_threats(session, engagement, config)
    inputs.businesses = load_businesses(session, engagement)
    bearing = _bearing(inputs.businesses, config)
    skipped: dict[str, int] = defaultdict(int)

    findings = list(
        session.scalars(
            select(Finding)
            .where(Finding.engagement_id == engagement.id, Finding.is_open.is_(True))
            .order_by(Finding.id)
        )
    )
    manual = list(
        session.scalars(
            select(RiskVulnerability)
            .where(RiskVulnerability.engagement_id == engagement.id)
            .order_by(RiskVulnerability.id)
        )
    )
    measures = list(
        session.scalars(
            select(RiskMeasure)
            .where(RiskMeasure.engagement_id == engagement.id)
            .order_by(RiskMeasure.id)
        )
    )
    inputs.measures = [
        Measure(
            m.id,
            m.name,
            m.measure_type,
            m.effect,
            tuple(m.threat_ids or []),
            tuple(m.vuln_classes or []),
            m.asset_id,
            m.system_id,
            m.effective,
        )
        for m in measures
    ]

    asset_ids = {f.asset_id for f in findings if f.asset_id is not None}
    asset_ids |= {v.asset_id for v in manual if v.asset_id is not None}
    asset_ids |= {m.asset_id for m in measures if m.asset_id is not None and not m.effective}
    assets = (
        {
            a.id: a
            for a in session.scalars(
                select(Asset).where(
                    Asset.client_id == engagement.client_id, Asset.id.in_(asset_ids)
                )
            )
        }
        if asset_ids
        else {}
    )
    for asset in assets.values():
        target = _component_target(asset, bearing, config)
        inputs.targets[target.key] = target

    system_ids = set(
        session.scalars(
            select(EngagementSystem.system_id).where(
                EngagementSystem.engagement_id == engagement.id
            )
        )
    )
    system_ids |= {a.system_id for a in assets.values() if a.system_id is not None}
    system_ids |= {v.system_id for v in manual if v.system_id is not None}
    system_ids |= {m.system_id for m in measures if m.system_id is not None}
    for business in inputs.businesses:
        system_ids |= set(business.systems)
    if system_ids:
        inputs.systems = dict(
            session.execute(
                select(BusinessSystem.id, BusinessSystem.name).where(
                    BusinessSystem.client_id == engagement.client_id,
                    BusinessSystem.id.in_(system_ids),
                )
            ).all()
        )
        component_values: dict[int, list[int]] = defaultdict(list)
        for asset in session.scalars(
            select(Asset).where(
                Asset.client_id == engagement.client_id, Asset.system_id.in_(system_ids)
            )
        ):
            component_values[asset.system_id or 0].append(
                asset_value(
                    asset.confidentiality,
                    asset.integrity,
                    asset.availability,
                    asset.value_method or "log2",
                )
            )
        for system_id, name in inputs.systems.items():
            target = _system_target(system_id, name, bearing, component_values[system_id], config)
            inputs.targets[target.key] = target

    severity_map = config.severity_map
    for finding in findings:
        if finding.asset_id is None or f"asset:{finding.asset_id}" not in inputs.targets:
            skipped["no_asset"] += 1
            continue
        if finding.severity == "info" and not config.include_info_findings:
            skipped["info"] += 1
            continue
        severity = severity_map.get(finding.severity, severity_map["info"])  # type: ignore[call-overload]
        vclass, rule = classify(
            classes,
            source_tool=finding.source_tool,
            check_id=finding.check_id,
            title=finding.title,
            cwe=list(finding.cwe_ids or []),
            cve=bool(finding.cve_ids),
            url=bool(finding.url),
        )
        found = classes.get(vclass)
        inputs.vulnerabilities.append(
            Vulnerability(
                key=f"finding:{finding.id}",
                target_key=f"asset:{finding.asset_id}",
                name=finding.title,
                vclass=vclass,
                vtype=found.type if found else "technical",
                severity=severity,
                source="finding",
                steps=(
                    Step(
                        "vuln_finding",
                        {"id": finding.id, "severity": finding.severity, "value": severity},
                    ),
                    Step("vuln_class", {"cls": vclass, "rule": rule}),
                ),
            )
        )

    wide = _engagement_wide_targets(inputs)
    for entry in manual:
        keys = _entry_targets(entry.asset_id, entry.system_id, wide)
        if not keys:
            skipped["no_target"] += 1
        for key in keys:
            inputs.vulnerabilities.append(
                Vulnerability(
                    key=f"manual:{entry.id}",
                    target_key=key,
                    name=entry.name,
                    vclass=entry.vuln_class,
                    vtype=entry.vuln_type,
                    severity=entry.severity,
                    source="manual",
                    steps=(Step("vuln_manual", {"id": entry.id, "value": entry.severity}),),
                    threat_id=entry.threat_id,
                )
            )
    for measure in measures:
        if measure.effective:
            continue
        severity = config.measures.ineffective_severity
        keys = _entry_targets(measure.asset_id, measure.system_id, wide)
        if not keys:
            skipped["no_target"] += 1
        for key in keys:
            inputs.vulnerabilities.append(
                Vulnerability(
                    key=f"measure:{measure.id}",
                    target_key=key,
                    name=t("risk.vuln.ineffective", name=measure.name),
                    vclass="measure.ineffective",
                    vtype="management",
                    severity=severity,
                    source="measure",
                    steps=(Step("vuln_measure", {"id": measure.id, "value": severity}),),
                )
            )
    inputs.skipped = dict(skipped)
    return inputs


def _engagement_wide_targets(inputs: Inputs) -> list[str]:
    """Where an entry without asset or system applies: every system asset, else every component."""
    systems = [k for k, v in inputs.targets.items() if v.layer == SYSTEM]
    return systems or [k for k, v in inputs.targets.items() if v.layer == COMPONENT]


def _entry_targets(asset_id: int | None, system_id: int | None, wide: list[str]) -> list[str]:
    if asset_id is not None:
        return [f"asset:{asset_id}"]
    if system_id is not None:
        return [f"system:{system_id}"]
    return wide
