"""风险评估报告 over the risk service: ledger assets, findings, manual entries and measures.

The risks, the level distribution, the heat map and the trend are compared with the service's
own JSON (``assess``), computed in the test independently of the builder; without a stored run
the report computes one without saving it; an engagement with nothing to assess says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shaobing.assess.risk import service as risk_service
from shaobing.assess.risk.inputs import SYSTEM, load_inputs
from shaobing.assess.risk.service import engagement_config
from shaobing.assets.service import import_rows
from shaobing.core.db import session_scope
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.findings.importers.base import FindingInput
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.severity import Severity
from shaobing.reports.model import ReportDocument
from shaobing.reports.service import compose
from tests.ledger_rows import host_row
from tests.reports import assess_data as ad

CHAPTERS = [
    "一、概述",
    "二、资产识别",
    "三、威胁识别",
    "四、脆弱性识别",
    "五、已有安全措施确认",
    "六、风险分析",
    "七、风险评价",
    "八、风险处置建议",
    "附录",
]
SECTIONS = [
    "1.1 评估背景",
    "1.2 评估依据",
    "1.3 评估范围",
    "1.4 评估方法",
    "2.1 业务识别",
    "2.2 系统资产识别",
    "2.3 系统组件和单元资产识别",
    "4.1 技术脆弱性",
    "4.2 管理脆弱性",
    "7.1 风险等级分布",
    "7.2 风险汇总",
    "7.3 可接受风险阈值",
    "7.4 与上次评估的对比",
    "8.1 处置原则",
    "8.2 需处置的风险",
    "附录A 风险计算用表",
    "附录B 风险清单与赋值表",
]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_scope(engine) as s:
        yield s


@pytest.fixture
def eng(engine: Engine, session: Session) -> Engagement:
    eid = ad.make_engagement(engine, "年度风险评估", systems=["门户网站系统"])
    found = session.get(Engagement, eid)
    assert found is not None
    ad.seed_risk_inputs(session, found)
    return found


def _compose(session: Session, eng: Engagement) -> ReportDocument:
    return compose(session, eng, "risk", today=ad.TODAY)


def _check_risks(doc: ReportDocument, data: dict[str, Any]) -> None:
    risks = ad.table(doc, "风险分析结果")
    assert len(risks.rows) == len(data["risks"]) > 0
    for row, risk in zip(risks.rows, data["risks"], strict=True):
        assert row[1] == risk["asset"]
        assert row[3] == f"{risk['threat_id']} {risk['threat']}"
        assert row[4] == risk["vulnerability"]
        assert ad.number(row[5]) == risk["likelihood"]
        assert ad.number(row[6]) == risk["loss"]
        assert ad.number(row[7]) == risk["value"]
        assert row[8] == risk["level"]
    dist = ad.table(doc, "风险等级分布")
    assert {r[0]: int(r[1]) for r in dist.rows} == data["summary"]
    heat = ad.charts(doc)["风险分布热力图（可能性 × 损失）"]
    cells = Counter((int(r["likelihood"]), int(r["loss"])) for r in data["risks"])
    assert heat.y_labels[0] == "5 很高" and heat.labels[0] == "1 很低"
    for y in range(5):
        for x in range(5):
            assert heat.matrix[y][x] == cells.get((5 - y, x + 1), 0)
    unacceptable = ad.table(doc, "需处置的风险（高于可接受阈值）")
    assert len(unacceptable.rows) == data["unacceptable"]
    assert f"本次不可接受的风险共 {data['unacceptable']} 项" in ad.text(doc)


def test_unsaved_assessment_matches_the_service(session: Session, eng: Engagement) -> None:
    expected = risk_service.assess(session, eng, save=False)
    doc = _compose(session, eng)
    assert risk_service.list_runs(session, eng) == []  # nothing stored by the report
    assert ad.heading_texts(doc, 1) == CHAPTERS
    assert ad.heading_texts(doc, 2) == SECTIONS
    _check_risks(doc, expected)
    body = ad.text(doc)
    assert "由平台在编制报告时依据当前的资产、脆弱性与安全措施数据计算得出" in body
    assert "本项目此前没有同一方法的风险评估记录" in body

    # asset layers: values as used by the calculation, C/I/A from the ledger
    components = ad.table(doc, "系统组件和单元资产识别与赋值")
    values = {
        r["asset"]: r["asset_value"] for r in expected["risks"] if r["asset_layer"] == "component"
    }
    assert (
        dict(
            zip(
                ad.column(components, "资产名称"),
                map(int, ad.column(components, "资产价值 Ia")),
                strict=True,
            )
        )
        == values
    )
    row = next(r for r in components.rows if r[1] == "数据库服务器")
    assert row[4:7] == ["5", "5", "4"]
    # Every system asset shows the value the risk module derives for it, also when no risk
    # was computed on the system itself.
    systems = ad.table(doc, "系统资产识别与赋值")
    derived = {
        t.name: t.value
        for t in load_inputs(session, eng, engagement_config(session, eng)).targets.values()
        if t.layer == SYSTEM
    }
    shown = dict(
        zip(ad.column(systems, "系统资产"), ad.column(systems, "资产价值 Ia"), strict=True)
    )
    assert derived and {name: int(shown[name]) for name in derived} == derived
    assert ad.column(ad.table(doc, "业务识别与赋值"), "业务") == ["政务公开"]

    threats = ad.table(doc, "威胁识别与赋值")
    used = Counter(r["threat_id"] for r in expected["risks"])
    assert (
        dict(
            zip(ad.column(threats, "编号"), map(int, ad.column(threats, "涉及风险数")), strict=True)
        )
        == used
    )
    catalogue = {t["id"]: t for t in risk_service.list_threats(session, eng)}
    for tid, freq in zip(ad.column(threats, "编号"), ad.column(threats, "频率"), strict=True):
        assert int(freq) == catalogue[tid]["frequency"]

    management = ad.table(doc, "管理脆弱性识别与赋值")
    assert set(ad.column(management, "脆弱性")) == {
        "未建立安全事件应急预案",
        t("risk.vuln.ineffective", name="数据库审计系统"),
    }
    measures = ad.table(doc, "已有安全措施确认")
    assert ad.column(measures, "状态") == ["有效", "失效（已转为脆弱性）"]
    params = ad.table(doc, "本次评估使用的计算参数及其来源")
    assert params.rows[0][1] == "矩阵法"
    assert "组织自定默认值" in ad.column(params, "来源")
    assert [a.sheet for a in doc.annexes][:2] == ["风险清单", "资产赋值"]


def test_latest_stored_run_and_trend(session: Session, eng: Engagement) -> None:
    risk_service.assess(session, eng, actor="t")
    ingest(
        session,
        eng,
        [FindingInput("nuclei", "sqli", "SQL 注入", Severity.HIGH, host="127.0.0.5", port=80)],
        format_name="nuclei",
        options=IngestOptions(actor="t"),
    )
    second = risk_service.assess(session, eng, actor="t")
    assert second["trend"] is not None
    doc = _compose(session, eng)
    _check_risks(doc, second)
    body = ad.text(doc)
    assert f"第 {second['run_id']} 次风险评估结果" in body
    trend = second["trend"]
    counts = ad.table(doc, "与上次评估的风险等级分布对比")
    assert {r[0]: (int(r[1]), int(r[2])) for r in counts.rows} == {
        k: (trend["counts_then"][k], trend["counts_now"][k]) for k in trend["counts_now"]
    }
    assert f"新增 {len(trend['added'])} 项、消除 {len(trend['removed'])} 项" in body
    assert len(risk_service.list_runs(session, eng)) == 2


def test_multiplication_method_is_described_as_organisation_defined(
    session: Session, eng: Engagement
) -> None:
    stored = risk_service.assess(session, eng, method="multiply", actor="t")
    doc = _compose(session, eng)
    _check_risks_multiply(doc, stored)
    params = ad.table(doc, "本次评估使用的计算参数及其来源")
    assert params.rows[0][1] == "相乘法"
    assert params.rows[1][2].startswith("组织自定默认值")
    assert "热力图按四舍五入归入 1–5 级" in ad.text(doc)
    assert ad.table(doc, "风险值等级划分").rows[-1] == ["1", "很低", "≤6"]


def _check_risks_multiply(doc: ReportDocument, data: dict[str, Any]) -> None:
    risks = ad.table(doc, "风险分析结果")
    assert [ad.number(r[7]) for r in risks.rows] == [r["value"] for r in data["risks"]]
    assert [r[8] for r in risks.rows] == [r["level"] for r in data["risks"]]
    heat = ad.charts(doc)["风险分布热力图（可能性 × 损失）"]
    assert sum(sum(row) for row in heat.matrix) == len(data["risks"])


def test_nothing_to_assess_says_so(engine: Engine, session: Session) -> None:
    eid = ad.make_engagement(engine, "空白评估")
    eng = session.get(Engagement, eid)
    assert eng is not None
    doc = _compose(session, eng)
    assert ad.heading_texts(doc, 1) == CHAPTERS
    body = ad.text(doc)
    assert "本次未分析出风险" in body
    captions = [t.caption for t in ad.tables(doc)]
    assert "风险分析结果" not in captions and "风险等级分布" not in captions
    assert not ad.charts(doc)
    risk_annex = next(a for a in doc.annexes if a.sheet == "风险清单")
    assert risk_annex.rows == []
    assert not ad.table(doc, "系统组件和单元资产识别与赋值").rows
    assert "风险总数" not in body


def test_system_value_shown_when_risks_are_on_components_only(engine: Engine) -> None:
    # Findings only: every risk sits on a component, none on the system asset itself.
    eid = ad.make_engagement(engine, "组件风险", systems=["门户网站系统"])
    with session_scope(engine) as s:
        eng = s.get_one(Engagement, eid)
        rows = [host_row("门户服务器", "127.0.0.5", "门户网站系统", (4, 4, 3))]
        import_rows(s, eng.client, rows, [], source_name="台账.csv", actor="t")
        ingest(s, eng, ad.RISK_FINDINGS[:1], format_name="nuclei", options=IngestOptions())
    with session_scope(engine) as s:
        eng = s.get_one(Engagement, eid)
        result = risk_service.assess(s, eng, save=False)
        assert {r["asset_layer"] for r in result["risks"]} == {"component"}
        derived = {
            t.name: t.value
            for t in load_inputs(s, eng, engagement_config(s, eng)).targets.values()
            if t.layer == SYSTEM
        }
        doc = _compose(s, eng)
    systems = ad.table(doc, "系统资产识别与赋值")
    names, values_shown = ad.column(systems, "系统资产"), ad.column(systems, "资产价值 Ia")
    shown = dict(zip(names, values_shown, strict=True))
    assert derived == {"门户网站系统": derived["门户网站系统"]}
    assert shown["门户网站系统"] == str(derived["门户网站系统"])
