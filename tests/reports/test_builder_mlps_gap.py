"""等保差距分析报告 over the MLPS service: an assessment initialised from the ledger with
manual records, compared with the service's own ``score`` and ``gaps`` JSON; rectification work
orders and the data security summary appear when they exist; no assessment is said plainly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shaobing.assess.datasec import service as datasec_service
from shaobing.assess.mlps import service as mlps_service
from shaobing.core.db import session_scope
from shaobing.engagements.models import Engagement
from shaobing.findings.models import Finding, WorkOrder
from shaobing.reports.builders.assess_common import num
from shaobing.reports.model import ReportDocument
from shaobing.reports.service import compose
from tests.reports import assess_data as ad

CHAPTERS = [
    "一、概述",
    "二、测评对象",
    "三、总体得分与结论",
    "四、高风险问题",
    "五、差距分析",
    "六、整改事项",
    "七、数据安全评估",
    "附录",
]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as s:
        yield s


@pytest.fixture
def eng(engine: Engine, session: Session) -> Engagement:
    eid = ad.make_engagement(engine, "等保差距分析", systems=["门户网站系统"])
    found = session.get(Engagement, eid)
    assert found is not None
    ad.seed_risk_inputs(session, found)  # the ledger's assets become assessment objects
    ad.seed_mlps(session, found)
    return found


def _compose(session: Session, eng: Engagement) -> ReportDocument:
    return compose(session, eng, "mlps_gap", today=ad.TODAY)


def test_score_risks_and_gaps_match_the_service(session: Session, eng: Engagement) -> None:
    assessment = mlps_service.current_assessment(session, eng)
    score = mlps_service.score(session, assessment, actor="t")
    gaps = mlps_service.gaps(session, assessment, eng, work_orders=False, actor="t")
    doc = _compose(session, eng)

    assert ad.heading_texts(doc, 1) == CHAPTERS
    level2 = ad.heading_texts(doc, 2)
    gap_sections = [h for h in level2 if h.startswith("5.")]
    assert gap_sections == [f"5.{i} {c['name']}" for i, c in enumerate(gaps["categories"], start=1)]

    body = ad.text(doc)
    assert score["score"] is not None and score["rating"] == "差"
    assert f"综合得分为 {num(score['score'])} 分，测评结论为 {score['rating']}" in body
    assert (
        f"存在高风险问题 {len(score['high_risk'])} 项、中风险问题 {len(score['medium_risk'])} 项"
        in body
    )

    categories = ad.table(doc, "各安全类得分与测评结果统计")
    assert ad.column(categories, "安全类") == list(score["by_category"])
    for row in categories.rows:
        cat = score["by_category"][row[0]]
        assert (row[1] == "—") if cat["score"] is None else ad.number(row[1]) == cat["score"]
        assert [int(c) for c in row[2:6]] == [
            cat["counts"][r] for r in ("符合", "部分符合", "不符合", "不适用")
        ]
        assert int(row[6]) == cat["unassessed"]

    risks = ad.table(doc, "高、中风险问题")
    hits = [*score["high_risk"], *score["medium_risk"]]
    assert ad.column(risks, "问题") == [h["title"] for h in hits]
    assert ad.column(risks, "风险等级") == [h["level"] for h in hits]
    marks = dict(zip(ad.column(risks, "问题"), ad.column(risks, "判例核对"), strict=True))
    assert any(not h["verified"] for h in hits) and any(h["verified"] for h in hits)
    for hit in hits:
        assert marks[hit["title"]] == ("（已核对判例）" if hit["verified"] else "（待复核）")

    for category in gaps["categories"]:
        table = ad.table(doc, f"{category['name']}：差距明细")
        expected = [
            (g["label"], g["object"], g["result"])
            for p in category["control_points"]
            for g in p["gaps"]
        ]
        assert (
            list(
                zip(
                    ad.column(table, "测评项"),
                    ad.column(table, "测评对象"),
                    ad.column(table, "结果"),
                    strict=True,
                )
            )
            == expected
        )
    items = ad.table(doc, "整改事项清单")
    assert len(items.rows) == gaps["totals"]["不符合"] + gaps["totals"]["部分符合"]
    assert "目前尚未生成整改工单" in body

    points = ad.table(doc, "各控制点得分（10 分制）")
    expected_points = {
        (n, p): info
        for n, c in score["by_category"].items()
        for p, info in c["control_points"].items()
    }
    assert len(points.rows) == len(expected_points) == 71
    for row in points.rows:
        info = expected_points[(row[0], row[2])]
        assert row[4] == info["result"]
        assert (row[3] == "—") if info["score"] is None else ad.number(row[3]) == info["score"]

    objects = ad.table(doc, "测评对象")
    assert ad.column(objects, "测评对象") == [
        o.name for o in mlps_service.list_objects(session, assessment)
    ]
    assert "本项目尚未开展数据安全评估" in body


def test_work_orders_and_data_security(session: Session, eng: Engagement) -> None:
    assessment = mlps_service.current_assessment(session, eng)
    filed = mlps_service.gaps(session, assessment, eng, work_orders=True, actor="t")
    assert filed["work_orders"]["work_orders_created"] > 0
    ds = datasec_service.create(session, eng, actor="t")
    datasec_service.record(
        session, ds, "col.classification", "否", evidence=None, note=None, actor="t"
    )
    datasec_service.record(session, ds, "tra.encryption", "是", evidence=None, note=None, actor="t")
    ds_score = datasec_service.score_json(session, ds)
    doc = _compose(session, eng)

    orders = ad.table(doc, "整改工单")
    order_ids = set(
        session.scalars(
            select(WorkOrder.id)
            .join(Finding, Finding.work_order_id == WorkOrder.id)
            .where(Finding.engagement_id == eng.id, Finding.source_tool == "shaobing-mlps")
        )
    )
    assert {int(i) for i in ad.column(orders, "工单号")} == order_ids
    body = ad.text(doc)
    assert f"差距项已转为整改工单统一跟踪，共 {len(order_ids)} 项" in body
    assert "整改工单" in [a.sheet for a in doc.annexes]

    assert f"总体得分 {num(ds_score['score'])} 分，结论为“{ds_score['level']}”" in body
    stages = ad.table(doc, "数据安全评估各阶段得分")
    assert ad.column(stages, "生命周期阶段") == [s["name"] for s in ds_score["stages"].values()]
    assert ad.column(ad.table(doc, "数据安全评估主要差距"), "答复") == ["否"]


def test_without_assessment_the_report_says_so(engine: Engine, session: Session) -> None:
    eid = ad.make_engagement(engine, "尚未测评")
    eng = session.get(Engagement, eid)
    assert eng is not None
    doc = _compose(session, eng)
    assert ad.heading_texts(doc, 1) == CHAPTERS
    body = ad.text(doc)
    assert "本项目尚未建立等级保护测评记录" in body
    assert "综合得分为" not in body
    assert not ad.tables(doc) and not ad.charts(doc) and not doc.annexes
