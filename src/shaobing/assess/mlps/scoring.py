"""Composite score, control point scores and the conclusion (优/良/中/差), driven by data.

The formulas and their sources are described in ``data/scoring.yaml`` and docs/mlps.md:

* per object, an item scores ``result_values[result]`` (符合 1, 部分符合 0.5, 不符合 0);
  不适用 is left out everywhere;
* an item's multi-object score is the arithmetic mean over its objects;
* a control point scores ``Σ(weight × item score) / Σ weight × 10``;
* the composite score is ``category-mean`` (the report template's formula: per category the
  weighted share of deductions over item × object pairs, averaged over categories) or
  ``item-weighted`` (an organisation-defined alternative);
* the conclusion is the first band whose risk ceiling and score floor are met.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shaobing.assess.mlps import datafiles
from shaobing.assess.mlps.catalogue import Catalogue, Weight

Result = Literal["符合", "部分符合", "不符合", "不适用"]
RESULTS: tuple[str, ...] = ("符合", "部分符合", "不符合", "不适用")
#: order from worst to best, for "worst result wins" merges
SEVERITY_ORDER = {"不符合": 0, "部分符合": 1, "符合": 2, "不适用": 3}
RiskLevel = Literal["高", "中"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatingBand(_Strict):
    """A conclusion band: the highest risk level it tolerates and its minimum score."""

    rating: str
    max_risk: Literal["none", "中", "高"]
    min_score: float = Field(ge=0, le=100)


class ScoringConfig(_Strict):
    """The contents of ``scoring.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: int = Field(alias="schema", ge=1, le=1)
    result_values: dict[Literal["符合", "部分符合", "不符合"], float]
    result_values_source: Literal["source", "org-default"]
    weights: dict[Weight, float]
    weights_source: Literal["source", "org-default"]
    composite_method: Literal["category-mean", "item-weighted"]
    control_point_scale: float = Field(gt=0)
    decimals: int = Field(ge=0, le=6)
    ratings: list[RatingBand] = Field(min_length=1)
    rectification_severity: dict[str, Literal["严重", "高", "中", "低", "信息"]]

    @model_validator(mode="after")
    def _consistent(self) -> ScoringConfig:
        values = self.result_values
        if set(values) != {"符合", "部分符合", "不符合"}:
            raise ValueError("result_values must define 符合, 部分符合 and 不符合")
        if not 1 >= values["符合"] >= values["部分符合"] >= values["不符合"] >= 0:
            raise ValueError("result values must lie in 0..1 and not increase from 符合 to 不符合")
        if set(self.weights) != {"关键", "重要", "一般"} or any(
            w <= 0 for w in self.weights.values()
        ):
            raise ValueError("weights must give 关键, 重要 and 一般 a positive value")
        last = self.ratings[-1]
        if last.max_risk != "高" or last.min_score != 0:
            raise ValueError("the last rating band must accept any score and any risk")
        missing = {"high_risk", "medium_risk", "不符合", "部分符合"} - set(
            self.rectification_severity
        )
        if missing:
            raise ValueError(f"rectification_severity lacks {', '.join(sorted(missing))}")
        return self


def load_scoring() -> ScoringConfig:
    """The organisation's scoring file when present, else the packaged one."""
    return datafiles.load("scoring.yaml", ScoringConfig)


@dataclass(frozen=True)
class RecordView:
    """One result of one item on one object, as scoring and gap analysis read it."""

    object_id: int
    object_name: str
    object_type: str
    item_id: str
    result: str
    source: str = "manual"
    evidence: str | None = None
    note: str | None = None
    finding_ids: tuple[int, ...] = ()
    baseline_run_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ObjectView:
    """An assessment object as scoring and pre-filling read it."""

    id: int
    name: str
    object_type: str
    hosts: tuple[str, ...] = ()
    asset_id: int | None = None


@dataclass(frozen=True)
class RiskHit:
    """A high-risk rule that matched, with its (possibly lowered) risk level and evidence."""

    rule_id: str
    title: str
    level: RiskLevel
    category: str
    control_point: str
    items: tuple[str, ...]
    objects: tuple[str, ...] = ()
    finding_ids: tuple[int, ...] = ()
    baseline_run_ids: tuple[int, ...] = ()
    compensations: tuple[str, ...] = ()
    advice: str = ""
    verified: bool = False

    def as_json(self) -> dict[str, Any]:
        """Stable JSON form."""
        return {
            "id": self.rule_id,
            "title": self.title,
            "level": self.level,
            "category": self.category,
            "control_point": self.control_point,
            "items": list(self.items),
            "objects": list(self.objects),
            "finding_ids": list(self.finding_ids),
            "baseline_run_ids": list(self.baseline_run_ids),
            "compensations": list(self.compensations),
            "advice": self.advice,
            "verified": self.verified,
        }


@dataclass
class _Tally:
    weight: float = 0.0
    deduction: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULTS, 0))


def item_scores(
    config: ScoringConfig, records: Iterable[RecordView]
) -> dict[str, tuple[float, int]]:
    """Multi-object average score and object count of every item with an applicable result."""
    values: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if record.result in config.result_values:
            values[record.item_id].append(config.result_values[record.result])
    return {item: (sum(v) / len(v), len(v)) for item, v in values.items()}


def rate(config: ScoringConfig, score: float, risks: Sequence[RiskHit]) -> str:
    """The first conclusion band whose risk ceiling and score floor are both met."""
    worst = "高" if any(r.level == "高" for r in risks) else "中" if risks else "none"
    rank = {"none": 0, "中": 1, "高": 2}
    for band in config.ratings:
        if rank[worst] <= rank[band.max_risk] and score >= band.min_score:
            return band.rating
    return config.ratings[-1].rating


def _point_result(score: float | None, scale: float) -> str:
    # The template's control point summary: full marks 符合, zero 不符合, otherwise 部分符合.
    if score is None:
        return "不适用"
    if score >= scale:
        return "符合"
    if score <= 0:
        return "不符合"
    return "部分符合"


def compute(
    catalogue: Catalogue,
    config: ScoringConfig,
    objects: Sequence[ObjectView],
    records: Sequence[RecordView],
    risks: Sequence[RiskHit] = (),
) -> dict[str, Any]:
    """The ``mlps score --json`` document: score, rating, high risks and per-category detail."""
    known = [r for r in records if r.item_id in catalogue.items]
    scores = item_scores(config, known)
    recorded = {(r.object_id, r.item_id) for r in known}
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    for record in known:
        item = catalogue.items[record.item_id]
        tally = tallies[item.category]
        tally.counts[record.result] += 1
        if record.result in config.result_values:
            weight = config.weights[item.weight]
            value = config.result_values[record.result]
            tally.weight += weight
            tally.deduction += weight * (1.0 - value)
    unassessed: dict[str, int] = defaultdict(int)
    for obj in objects:
        for item in catalogue.items_for(obj.object_type):
            if (obj.id, item.id) not in recorded:
                unassessed[item.category] += 1

    by_category: dict[str, Any] = {}
    category_scores: list[float] = []
    weighted_sum = 0.0
    weight_total = 0.0
    for category in catalogue.categories:
        tally = tallies[category.name]
        points: dict[str, Any] = {}
        cat_weighted = 0.0
        cat_weight = 0.0
        for point in category.control_points:
            num = 0.0
            den = 0.0
            for item in point.items:
                if item.id in scores:
                    weight = config.weights[item.weight]
                    num += weight * scores[item.id][0]
                    den += weight
            point_score = num / den * config.control_point_scale if den else None
            cat_weighted += num
            cat_weight += den
            # Extension packs reuse control point names (访问控制 in 8.1.4 and 8.2.4).
            key = point.name if point.name not in points else f"{point.name}（{point.clause}）"
            points[key] = {
                "clause": point.clause,
                "score": _round(config, point_score),
                "result": _point_result(point_score, config.control_point_scale),
            }
        if config.composite_method == "category-mean":
            cat_score = 100.0 - tally.deduction / tally.weight * 100.0 if tally.weight else None
        else:
            cat_score = cat_weighted / cat_weight * 100.0 if cat_weight else None
        if cat_score is not None:
            category_scores.append(cat_score)
        weighted_sum += cat_weighted
        weight_total += cat_weight
        by_category[category.name] = {
            "score": _round(config, cat_score),
            "counts": dict(tally.counts),
            "unassessed": unassessed.get(category.name, 0),
            "control_points": points,
        }

    if config.composite_method == "category-mean":
        score = sum(category_scores) / len(category_scores) if category_scores else None
    else:
        score = weighted_sum / weight_total * 100.0 if weight_total else None
    return {
        "score": _round(config, score),
        "rating": rate(config, score, risks) if score is not None else None,
        "high_risk": [r.as_json() for r in risks if r.level == "高"],
        "medium_risk": [r.as_json() for r in risks if r.level == "中"],
        "by_category": by_category,
        "method": config.composite_method,
        "level": catalogue.level,
        "packs": list(catalogue.packs),
        "assessed": len(recorded),
        "unassessed": sum(unassessed.values()),
    }


def _round(config: ScoringConfig, value: float | None) -> float | None:
    return None if value is None else round(value, config.decimals)
