"""High-risk determination rules (``data/high_risk.yaml``) evaluated against the records.

A rule applies when the assessment's level is listed and the system has every required flag;
it matches when its condition holds over the records and the linked evidence (open findings,
failing baseline rules). A matching rule whose compensating factor holds is lowered to 中.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from shaobing.assess.mlps import datafiles
from shaobing.assess.mlps.catalogue import Catalogue, ObjectType
from shaobing.assess.mlps.evidence import FindingView, RuleOutcome
from shaobing.assess.mlps.scoring import ObjectView, RecordView, Result, RiskHit
from shaobing.core.errors import ValidationError as UserError
from shaobing.core.i18n import t

SeverityName = Literal["critical", "high", "medium", "low", "info"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemCondition(_Strict):
    """True when, on any object (of the listed types), the item's result is one of ``results``.

    Only manual records count by default: a high-risk determination is the assessor's
    judgement, and automatic evidence takes part only through explicit finding and baseline
    conditions (a pre-filled 不符合 from one weak cipher is no "plaintext transmission").
    """

    item: str
    results: list[Result] = Field(min_length=1)
    object_types: list[ObjectType] | None = None
    sources: list[Literal["manual", "auto"]] = Field(default=["manual"], min_length=1)


class FindingSpec(_Strict):
    """Which open findings count."""

    check: str
    source: str | None = None
    min_severity: SeverityName | None = None


class FindingCondition(_Strict):
    """True when an open finding matches."""

    finding: FindingSpec


class BaselineSpec(_Strict):
    """Which failing baseline rules count."""

    rule: str


class BaselineCondition(_Strict):
    """True when a rule matching the pattern fails in the latest baseline runs."""

    baseline: BaselineSpec


class FlagCondition(_Strict):
    """True when the assessed system has the flag (``mlps init --flag``)."""

    flag: str


class AnyCondition(_Strict):
    """True when any sub-condition holds."""

    any: list[Condition] = Field(min_length=1)


class AllCondition(_Strict):
    """True when every sub-condition holds."""

    all: list[Condition] = Field(min_length=1)


Condition = Union[  # noqa: UP007 - a recursive alias needs the Union form for pydantic
    ItemCondition,
    FindingCondition,
    BaselineCondition,
    FlagCondition,
    AnyCondition,
    AllCondition,
]
AnyCondition.model_rebuild()
AllCondition.model_rebuild()


class Compensation(_Strict):
    """A compensating factor (补偿因素): when it holds the risk is lowered to 中."""

    text: str
    when: Condition


class Source(_Strict):
    """Where the rule comes from in the guideline, and whether it was checked against it."""

    section: str
    verified: bool


class HighRiskRule(_Strict):
    """One high-risk determination rule."""

    id: str = Field(pattern=r"^HR-[A-Z]{3}-\d{2}$")
    title: str
    category: str
    control_point: str
    items: list[str] = Field(min_length=1)
    levels: list[int] = Field(min_length=1)
    requires: list[str] = []
    when: Condition
    compensations: list[Compensation] = []
    advice: str
    source: Source


class HighRiskFile(_Strict):
    """The contents of ``high_risk.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: int = Field(alias="schema", ge=1, le=1)
    rules: list[HighRiskRule] = Field(min_length=1)


def load_rules() -> HighRiskFile:
    """The organisation's rule file when present, else the packaged one."""
    return datafiles.load("high_risk.yaml", HighRiskFile)


def check_against(rules: HighRiskFile, catalogue: Catalogue) -> None:
    """Refuse rules naming items or categories the catalogue does not have (one line)."""
    seen: set[str] = set()
    categories = {c.name for c in catalogue.categories}
    for rule in rules.rules:
        if rule.id in seen:
            raise UserError(t("mlps.highrisk.duplicate", rule=rule.id))
        seen.add(rule.id)
        if rule.category not in categories:
            raise UserError(t("mlps.highrisk.bad_category", rule=rule.id, category=rule.category))
        for item in [*rule.items, *_condition_items(rule.when)]:
            if item not in catalogue.items:
                raise UserError(t("mlps.highrisk.unknown_item", rule=rule.id, item=item))


def _condition_items(condition: Condition) -> list[str]:
    if isinstance(condition, ItemCondition):
        return [condition.item]
    if isinstance(condition, AnyCondition):
        return [i for c in condition.any for i in _condition_items(c)]
    if isinstance(condition, AllCondition):
        return [i for c in condition.all for i in _condition_items(c)]
    return []


@dataclass
class Context:
    """Everything a condition is evaluated against."""

    level: int
    flags: frozenset[str]
    records: Sequence[RecordView]
    findings: Sequence[FindingView] = ()
    outcomes: Sequence[RuleOutcome] = ()
    objects: Sequence[ObjectView] = ()

    def names_for(self, host: str | None, asset_id: int | None) -> str:
        """The object a piece of evidence is about: by asset, else by host; else the host."""
        for obj in self.objects:
            if asset_id is not None and obj.asset_id == asset_id:
                return obj.name
        key = (host or "").lower()
        for obj in self.objects:
            if key and key in obj.hosts:
                return obj.name
        return host or "-"


@dataclass
class _Match:
    objects: set[str] = field(default_factory=set)
    findings: set[int] = field(default_factory=set)
    runs: set[int] = field(default_factory=set)


def _evaluate(condition: Condition, ctx: Context, out: _Match) -> bool:
    if isinstance(condition, ItemCondition):
        hits = [
            r
            for r in ctx.records
            if r.item_id == condition.item
            and r.result in condition.results
            and r.source in condition.sources
            and (condition.object_types is None or r.object_type in condition.object_types)
        ]
        for record in hits:
            out.objects.add(record.object_name)
            out.findings.update(record.finding_ids)
            out.runs.update(record.baseline_run_ids)
        return bool(hits)
    if isinstance(condition, FindingCondition):
        spec = condition.finding
        found = [f for f in ctx.findings if f.matches(spec.check, spec.source, spec.min_severity)]
        out.findings.update(f.id for f in found)
        out.objects.update(ctx.names_for(f.host, f.asset_id) for f in found)
        return bool(found)
    if isinstance(condition, BaselineCondition):
        failed = [
            o
            for o in ctx.outcomes
            if o.status == "fail" and fnmatch.fnmatchcase(o.rule_id, condition.baseline.rule)
        ]
        out.runs.update(o.run_id for o in failed)
        out.objects.update(ctx.names_for(o.host, None) for o in failed)
        return bool(failed)
    if isinstance(condition, FlagCondition):
        return condition.flag in ctx.flags
    if isinstance(condition, AnyCondition):
        # Every branch is evaluated so the evidence of all matching branches is collected.
        results = [_evaluate(c, ctx, out) for c in condition.any]
        return any(results)
    inner = _Match()
    if all(_evaluate(c, ctx, inner) for c in condition.all):
        out.objects |= inner.objects
        out.findings |= inner.findings
        out.runs |= inner.runs
        return True
    return False


def applies(rule: HighRiskRule, ctx: Context) -> bool:
    """Whether the rule is in force for this level and system."""
    return ctx.level in rule.levels and all(flag in ctx.flags for flag in rule.requires)


def evaluate(rules: HighRiskFile, ctx: Context) -> list[RiskHit]:
    """The rules that match, in file order, each at 高 or (compensated) 中."""
    hits: list[RiskHit] = []
    for rule in rules.rules:
        if not applies(rule, ctx):
            continue
        match = _Match()
        if not _evaluate(rule.when, ctx, match):
            continue
        compensated = [c.text for c in rule.compensations if _evaluate(c.when, ctx, _Match())]
        hits.append(
            RiskHit(
                rule_id=rule.id,
                title=rule.title,
                level="中" if compensated else "高",
                category=rule.category,
                control_point=rule.control_point,
                items=tuple(rule.items),
                objects=tuple(sorted(match.objects)),
                finding_ids=tuple(sorted(match.findings)),
                baseline_run_ids=tuple(sorted(match.runs)),
                compensations=tuple(compensated),
                advice=rule.advice,
                verified=rule.source.verified,
            )
        )
    return hits
