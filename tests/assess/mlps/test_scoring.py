"""Composite score, control point scores and conclusions: hand-checked examples, properties."""

from __future__ import annotations

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.assess.mlps.catalogue import load_catalogue
from shaobing.assess.mlps.scoring import (
    ObjectView,
    RecordView,
    RiskHit,
    ScoringConfig,
    compute,
    load_scoring,
    rate,
)
from shaobing.core.errors import ShaobingError

CATALOGUE = load_catalogue(3)
CONFIG = load_scoring()
ROOM = ObjectView(1, "机房", "physical_room")
HOST_A = ObjectView(2, "web-01", "host", ("web-01",))
HOST_B = ObjectView(3, "db-01", "host", ("db-01",))
DOCS = ObjectView(4, "文档", "management_document")


def rec(obj: ObjectView, item: str, result: str, source: str = "manual") -> RecordView:
    return RecordView(obj.id, obj.name, obj.object_type, item, result, source)


# Worked example (docs/mlps.md, "Worked example"): weights 关键 1 / 重要 0.5 / 一般 0.2,
# results 1 / 0.5 / 0.
EXAMPLE = [
    rec(ROOM, "8.1.1.2a", "不符合"),  # 关键
    rec(ROOM, "8.1.1.3c", "符合"),  # 重要
    rec(ROOM, "8.1.1.7a", "部分符合"),  # 一般
    rec(ROOM, "8.1.1.1a", "不适用"),  # 重要, left out
    rec(HOST_A, "8.1.4.1a", "符合"),  # 关键
    rec(HOST_B, "8.1.4.1a", "部分符合"),
    rec(HOST_A, "8.1.4.1b", "不符合"),  # 重要
    rec(HOST_B, "8.1.4.1b", "符合"),
]


def test_worked_example_category_mean() -> None:
    doc = compute(CATALOGUE, CONFIG, [ROOM, HOST_A, HOST_B], EXAMPLE)
    # 安全物理环境: deductions 1·1 + 0.2·0.5 = 1.1 of weight 1.7 → 100 − 1100/17 = 35.29
    # 安全计算环境: deductions 1·0.5 + 0.5·1 = 1.0 of weight 3.0 → 66.67
    # M = 100 − (11/17 + 1/3) / 2 · 100 = 2600/51 = 50.98
    assert doc["by_category"]["安全物理环境"]["score"] == 35.29
    assert doc["by_category"]["安全计算环境"]["score"] == 66.67
    assert doc["score"] == 50.98
    assert doc["rating"] == "差"
    assert doc["method"] == "category-mean"
    points = doc["by_category"]["安全计算环境"]["control_points"]
    # 身份鉴别: item averages 0.75 (a) and 0.5 (b) → (1·0.75 + 0.5·0.5) / 1.5 · 10 = 6.67
    assert points["身份鉴别"] == {"clause": "8.1.4.1", "score": 6.67, "result": "部分符合"}
    room = doc["by_category"]["安全物理环境"]["control_points"]
    assert room["物理访问控制"]["result"] == "不符合" and room["物理访问控制"]["score"] == 0
    assert room["防盗窃和防破坏"] == {"clause": "8.1.1.3", "score": 10.0, "result": "符合"}
    assert room["防静电"]["score"] == 5.0
    assert room["物理位置选择"] == {"clause": "8.1.1.1", "score": None, "result": "不适用"}
    assert doc["by_category"]["安全物理环境"]["counts"] == {
        "符合": 1,
        "部分符合": 1,
        "不符合": 1,
        "不适用": 1,
    }
    # every applicable (object, item) pair without a record is counted as unassessed
    expected = sum(len(CATALOGUE.items_for(o.object_type)) for o in (ROOM, HOST_A, HOST_B))
    assert doc["unassessed"] == expected - len(EXAMPLE)
    assert doc["by_category"]["安全管理制度"]["score"] is None


def test_worked_example_item_weighted() -> None:
    config = CONFIG.model_copy(update={"composite_method": "item-weighted"})
    doc = compute(CATALOGUE, config, [ROOM, HOST_A, HOST_B], EXAMPLE)
    # (1·0 + 0.5·1 + 0.2·0.5 + 1·0.75 + 0.5·0.5) / 3.2 · 100 = 50
    assert doc["score"] == 50.0
    assert doc["by_category"]["安全计算环境"]["score"] == 66.67


def test_nothing_assessed_gives_no_score() -> None:
    doc = compute(CATALOGUE, CONFIG, [ROOM], [rec(ROOM, "8.1.1.1a", "不适用")])
    assert doc["score"] is None and doc["rating"] is None


def hit(level: str) -> RiskHit:
    return RiskHit("HR-PES-01", "机房出入口", level, "安全物理环境", "物理访问控制", ("8.1.1.2a",))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("score", "risks", "rating"),
    [
        (100.0, [], "优"),
        (90.0, [], "优"),
        (89.99, [], "良"),
        (80.0, [], "良"),
        (79.99, [], "中"),
        (70.0, [], "中"),
        (69.99, [], "差"),
        (95.0, ["中"], "良"),  # a medium risk rules out 优
        (75.0, ["中"], "中"),
        (100.0, ["高"], "差"),  # any high risk caps the conclusion at 差
        (100.0, ["中", "高"], "差"),
    ],
)
def test_rating_bands(score: float, risks: list[str], rating: str) -> None:
    assert rate(CONFIG, score, [hit(level) for level in risks]) == rating


def test_high_risk_caps_the_rating_of_a_perfect_score() -> None:
    records = [rec(ROOM, "8.1.1.2a", "符合")]
    assert compute(CATALOGUE, CONFIG, [ROOM], records)["rating"] == "优"
    doc = compute(CATALOGUE, CONFIG, [ROOM], records, [hit("高")])
    assert (doc["score"], doc["rating"]) == (100.0, "差")
    assert [h["id"] for h in doc["high_risk"]] == ["HR-PES-01"]


@pytest.mark.parametrize(
    "change",
    [
        {"result_values": {"符合": 1.0, "部分符合": 0.8, "不符合": 0.9}},
        {"weights": {"关键": 1.0, "重要": 0.0, "一般": 0.2}},
        {"ratings": [{"rating": "优", "max_risk": "none", "min_score": 90}]},
        {"rectification_severity": {"high_risk": "高"}},
    ],
)
def test_scoring_config_is_validated(change: dict[str, object]) -> None:
    data = CONFIG.model_dump(by_alias=True) | change
    with pytest.raises(pydantic.ValidationError):
        ScoringConfig.model_validate(data)


def test_packaged_scoring_matches_the_documented_bands() -> None:
    assert [(b.rating, b.max_risk, b.min_score) for b in CONFIG.ratings] == [
        ("优", "none", 90),
        ("良", "中", 80),
        ("中", "中", 70),
        ("差", "高", 0),
    ]
    assert CONFIG.result_values == {"符合": 1.0, "部分符合": 0.5, "不符合": 0.0}
    with pytest.raises(ShaobingError):
        CATALOGUE.item("8.1.1.1z")


OBJECTS = (ROOM, HOST_A, DOCS)
POOL = [(o, i.id) for o in OBJECTS for i in CATALOGUE.items_for(o.object_type)[:12]]
RESULT = st.sampled_from(["符合", "部分符合", "不符合", "不适用"])


@st.composite
def record_sets(draw: st.DrawFn) -> list[RecordView]:
    chosen = draw(st.lists(st.sampled_from(range(len(POOL))), min_size=1, max_size=25, unique=True))
    return [rec(POOL[k][0], POOL[k][1], draw(RESULT)) for k in chosen]


@settings(max_examples=200, deadline=None)
@given(record_sets(), st.data(), st.sampled_from(["category-mean", "item-weighted"]))
def test_a_worse_result_never_raises_the_score(
    records: list[RecordView], data: st.DataObject, method: str
) -> None:
    config = CONFIG.model_copy(update={"composite_method": method})
    candidates = [k for k, r in enumerate(records) if r.result in ("符合", "部分符合")]
    if not candidates:
        return
    k = data.draw(st.sampled_from(candidates))
    worse = (
        "不符合"
        if records[k].result == "部分符合"
        else data.draw(st.sampled_from(["部分符合", "不符合"]))
    )
    changed = [*records]
    changed[k] = rec(
        next(o for o in OBJECTS if o.id == records[k].object_id), records[k].item_id, worse
    )
    before = compute(CATALOGUE, config, OBJECTS, records)["score"]
    after = compute(CATALOGUE, config, OBJECTS, changed)["score"]
    assert before is not None and after is not None
    assert after <= before
    assert 0.0 <= after <= 100.0
