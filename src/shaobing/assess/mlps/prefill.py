"""Automatic pre-filling of records from baseline runs and open findings (``data/prefill.yaml``).

Baseline: each rule result of the latest run per (profile, host) is mapped to items (the first
matching mapping, else the control point fallback), and lands on the objects whose host names
or addresses match the run's host and whose type suits the profile. All mapped rules passing
give 符合, all failing 不符合, a mix 部分符合; the failing rules' observed text is the evidence.

Findings: each open finding takes the first matching rule and lands on the object of its asset
or host. Where several sources touch one object and item, the worst result wins.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shaobing.assess.mlps import datafiles
from shaobing.assess.mlps.catalogue import Catalogue, ObjectType
from shaobing.assess.mlps.evidence import FindingView, RuleOutcome
from shaobing.assess.mlps.highrisk import SeverityName
from shaobing.assess.mlps.scoring import SEVERITY_ORDER, ObjectView
from shaobing.core.errors import ValidationError as UserError
from shaobing.core.i18n import t

Conclusion = Literal["符合", "部分符合", "不符合"]
#: at most this many failing rules are quoted in one record's evidence
EVIDENCE_LINES = 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaselineMapping(_Strict):
    """Rule id patterns and the items they inform."""

    rules: list[str] = Field(min_length=1)
    items: list[str] = Field(min_length=1)


class Combine(_Strict):
    """Conclusion from the mapped rules of one object and item."""

    all_pass: Conclusion
    all_fail: Conclusion
    mixed: Conclusion


class FindingRule(_Strict):
    """Open findings matching ``check`` (source, severity floor) give ``result`` on ``items``."""

    check: str
    source: str | None = None
    min_severity: SeverityName | None = None
    items: list[str] = Field(min_length=1)
    result: Conclusion


class PrefillConfig(_Strict):
    """The contents of ``prefill.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: int = Field(alias="schema", ge=1, le=1)
    profiles: dict[str, list[ObjectType]]
    baseline_rules: list[BaselineMapping]
    baseline_fallback: dict[str, str] = {}
    baseline_combine: Combine
    skip_sources: list[str] = []
    findings: list[FindingRule] = []

    def items_named(self) -> set[str]:
        """Every item id the file refers to."""
        names = {i for m in self.baseline_rules for i in m.items}
        names.update(self.baseline_fallback.values())
        names.update(i for r in self.findings for i in r.items)
        return names

    def items_for_rule(self, outcome: RuleOutcome) -> list[str]:
        """The items a baseline rule informs: first matching mapping, else the fallback."""
        for mapping in self.baseline_rules:
            if any(fnmatch.fnmatchcase(outcome.rule_id, p) for p in mapping.rules):
                return mapping.items
        clauses = outcome.references.get("gb22239") or []
        if clauses and str(clauses[0]) in self.baseline_fallback:
            return [self.baseline_fallback[str(clauses[0])]]
        return []

    def rule_for(self, finding: FindingView) -> FindingRule | None:
        """The first finding rule that matches, unless the finding's source is skipped."""
        if finding.source_tool in self.skip_sources:
            return None
        for rule in self.findings:
            if finding.matches(rule.check, rule.source, rule.min_severity):
                return rule
        return None


def load_prefill(catalogue: Catalogue | None = None) -> PrefillConfig:
    """The organisation's pre-fill rules when present, else the packaged ones (items checked)."""
    config = datafiles.load("prefill.yaml", PrefillConfig)
    if catalogue is not None:
        for item in sorted(config.items_named()):
            if item not in catalogue.items:
                raise UserError(t("mlps.prefill.unknown_item", item=item))
    return config


@dataclass
class Proposal:
    """What the evidence says about one item on one object."""

    object_id: int
    item_id: str
    result: str
    evidence: list[str] = field(default_factory=list)
    finding_ids: set[int] = field(default_factory=set)
    baseline_run_ids: set[int] = field(default_factory=set)

    def merge(self, other: Proposal) -> None:
        """Worst result wins; evidence and links are united."""
        if SEVERITY_ORDER[other.result] < SEVERITY_ORDER[self.result]:
            self.result = other.result
        self.evidence.extend(e for e in other.evidence if e not in self.evidence)
        self.finding_ids |= other.finding_ids
        self.baseline_run_ids |= other.baseline_run_ids


@dataclass
class PrefillStats:
    """What a pre-fill looked at, for the summary line."""

    rules_mapped: int = 0
    rules_unmapped: int = 0
    runs_unmatched: set[str] = field(default_factory=set)
    findings_used: int = 0
    findings_unmatched: int = 0


def _objects_for_host(
    objects: Sequence[ObjectView], host: str | None, types: Sequence[str]
) -> list[ObjectView]:
    if not host:
        return []
    key = host.lower()
    return [
        o for o in objects if o.object_type in types and (key in o.hosts or key == o.name.lower())
    ]


def _from_baseline(
    catalogue: Catalogue,
    config: PrefillConfig,
    objects: Sequence[ObjectView],
    outcomes: Sequence[RuleOutcome],
    stats: PrefillStats,
) -> dict[tuple[int, str], Proposal]:
    # (object, item) → statuses and failing lines, before combining
    gathered: dict[tuple[int, str], tuple[list[str], list[str], set[int]]] = {}
    for outcome in outcomes:
        if outcome.status not in {"pass", "fail"}:
            continue
        items = config.items_for_rule(outcome)
        if not items:
            if outcome.status == "fail":
                stats.rules_unmapped += 1
            continue
        types = config.profiles.get(outcome.profile, [])
        targets = _objects_for_host(objects, outcome.host, types)
        if not targets:
            stats.runs_unmatched.add(f"{outcome.profile}@{outcome.host or '-'}")
            continue
        stats.rules_mapped += 1
        for obj in targets:
            for item_id in items:
                if not catalogue.items[item_id].applies_to(obj.object_type):
                    continue
                statuses, lines, runs = gathered.setdefault((obj.id, item_id), ([], [], set()))
                statuses.append(outcome.status)
                runs.add(outcome.run_id)
                if outcome.status == "fail":
                    lines.append(
                        t(
                            "mlps.prefill.baseline_fail",
                            run=outcome.run_id,
                            rule=outcome.rule_id,
                            title=outcome.title,
                            observed=outcome.observed,
                        )
                    )
    proposals: dict[tuple[int, str], Proposal] = {}
    for (object_id, item_id), (statuses, lines, runs) in gathered.items():
        failed = statuses.count("fail")
        if failed == 0:
            result = config.baseline_combine.all_pass
        elif failed == len(statuses):
            result = config.baseline_combine.all_fail
        else:
            result = config.baseline_combine.mixed
        summary = t(
            "mlps.prefill.baseline_summary",
            runs="、".join(f"#{r}" for r in sorted(runs)),
            passed=len(statuses) - failed,
            failed=failed,
        )
        evidence = [summary, *lines[:EVIDENCE_LINES]]
        if len(lines) > EVIDENCE_LINES:
            evidence.append(t("mlps.prefill.more", count=len(lines) - EVIDENCE_LINES))
        proposals[(object_id, item_id)] = Proposal(
            object_id, item_id, result, evidence, baseline_run_ids=set(runs)
        )
    return proposals


def _from_findings(
    catalogue: Catalogue,
    config: PrefillConfig,
    objects: Sequence[ObjectView],
    findings: Sequence[FindingView],
    stats: PrefillStats,
) -> dict[tuple[int, str], Proposal]:
    proposals: dict[tuple[int, str], Proposal] = {}
    for finding in findings:
        rule = config.rule_for(finding)
        if rule is None:
            continue
        targets = [
            o for o in objects if finding.asset_id is not None and o.asset_id == finding.asset_id
        ]
        if not targets and finding.host:
            targets = [o for o in objects if finding.host.lower() in o.hosts]
        placed = False
        for obj in targets:
            for item_id in rule.items:
                if not catalogue.items[item_id].applies_to(obj.object_type):
                    continue
                placed = True
                line = t(
                    "mlps.prefill.finding",
                    id=finding.id,
                    title=finding.title,
                    check=finding.check_id,
                    host=finding.host or "-",
                )
                proposal = Proposal(obj.id, item_id, rule.result, [line], {finding.id})
                key = (obj.id, item_id)
                if key in proposals:
                    proposals[key].merge(proposal)
                else:
                    proposals[key] = proposal
        if placed:
            stats.findings_used += 1
        else:
            stats.findings_unmatched += 1
    return proposals


def propose(
    catalogue: Catalogue,
    config: PrefillConfig,
    objects: Sequence[ObjectView],
    outcomes: Sequence[RuleOutcome],
    findings: Sequence[FindingView],
) -> tuple[dict[tuple[int, str], Proposal], PrefillStats]:
    """Proposed results per (object, item) from baseline runs and open findings."""
    stats = PrefillStats()
    proposals = _from_baseline(catalogue, config, objects, outcomes, stats)
    for key, proposal in _from_findings(catalogue, config, objects, findings, stats).items():
        if key in proposals:
            proposals[key].merge(proposal)
        else:
            proposals[key] = proposal
    return proposals, stats
