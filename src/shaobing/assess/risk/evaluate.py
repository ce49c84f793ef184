"""From inputs to risks: pair every vulnerability with the threats that exploit its class,
apply the measures, calculate, and roll the results up to system assets and businesses.

Pure: works on :class:`Inputs` records, so property tests can drive it without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shaobing.assess.risk.calc import Method, PairInput, RiskResult, calculate, combine_cuts
from shaobing.assess.risk.config import LEVELS, MethodConfig
from shaobing.assess.risk.inputs import (
    COMPONENT,
    EffectiveThreat,
    Inputs,
    Measure,
    Target,
    Vulnerability,
)


@dataclass(frozen=True)
class Risk:
    """One risk: a threat exploiting a vulnerability of a target, and its calculation."""

    key: str
    target: Target
    threat: EffectiveThreat
    vulnerability: Vulnerability
    preventive: tuple[Measure, ...]
    protective: tuple[Measure, ...]
    pair: PairInput
    result: RiskResult

    @property
    def sort_key(self) -> tuple[float, int, str, str, str]:
        """Highest risks first, then stable by names."""
        return (
            -self.result.value,
            -self.result.level,
            self.target.name,
            self.threat.threat.id,
            self.vulnerability.key,
        )


def threats_for(vuln: Vulnerability, threats: list[EffectiveThreat]) -> list[EffectiveThreat]:
    """The enabled threats that exploit the vulnerability (or the one it is pinned to)."""
    enabled = [th for th in threats if not th.threat.disabled]
    if vuln.threat_id is not None:
        return [th for th in enabled if th.threat.id == vuln.threat_id]
    return [th for th in enabled if vuln.vclass in th.threat.exploits]


def evaluate(
    inputs: Inputs, config: MethodConfig, method: Method
) -> tuple[list[Risk], dict[str, int]]:
    """Every risk of the inputs, highest first, and counts of what could not be paired."""
    risks: list[Risk] = []
    unpaired = 0
    for vuln in inputs.vulnerabilities:
        target = inputs.targets[vuln.target_key]
        paired = threats_for(vuln, inputs.threats)
        if not paired:
            unpaired += 1
            continue
        for threat in paired:
            applicable = [
                m for m in inputs.measures if m.applies(target, threat.threat.id, vuln.vclass)
            ]
            preventive = tuple(m for m in applicable if m.measure_type == "preventive")
            protective = tuple(m for m in applicable if m.measure_type == "protective")
            pair = PairInput(
                threat=threat.value,
                vulnerability=vuln.severity,
                asset=target.value,
                likelihood_cut=combine_cuts([m.effect for m in preventive], config),
                loss_cut=combine_cuts([m.effect for m in protective], config),
            )
            result = calculate(pair, config, method)
            key = f"{target.key}|{threat.threat.id}|{vuln.key}"
            risks.append(Risk(key, target, threat, vuln, preventive, protective, pair, result))
    risks.sort(key=lambda r: r.sort_key)
    skipped = dict(inputs.skipped)
    if unpaired:
        skipped["no_threat"] = unpaired
    return risks, skipped


def summary(levels: list[int], config: MethodConfig) -> dict[str, int]:
    """Count per level name, highest level first (every level present)."""
    return {config.level_name(level): levels.count(level) for level in reversed(LEVELS)}


def _group(name: str, risks: list[Risk], config: MethodConfig) -> dict[str, Any]:
    top = max(risks, key=lambda r: (r.result.value, r.result.level), default=None)
    return {
        "name": name,
        "value": top.result.value if top else None,
        "level": config.level_name(top.result.level) if top else None,
        "risks": len(risks),
        "counts": summary([r.result.level for r in risks], config),
    }


def rollup(risks: list[Risk], inputs: Inputs, config: MethodConfig) -> dict[str, Any]:
    """Risks of components rolled up to their system asset, systems to businesses (max).

    A system's group holds the risks of its components and its own system-layer risks; a
    business's group holds those of every system bearing it. Components without a system
    are grouped on their own.
    """
    by_system: dict[int, list[Risk]] = {sid: [] for sid in inputs.systems}
    loose: list[Risk] = []
    for risk in risks:
        sid = risk.target.system_id
        if sid is not None and sid in by_system:
            by_system[sid].append(risk)
        elif risk.target.layer == COMPONENT:
            loose.append(risk)
    systems = [_group(inputs.systems[sid], found, config) for sid, found in by_system.items()]
    businesses = []
    for business in inputs.businesses:
        found = [r for sid in business.systems for r in by_system.get(sid, [])]
        businesses.append(
            _group(business.name, found, config) | {"importance": business.importance}
        )
    out: dict[str, Any] = {"rule": config.rollup, "systems": systems, "businesses": businesses}
    if loose:
        out["unassigned"] = _group("", loose, config)
    return out
