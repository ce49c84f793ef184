"""弱点评估报告: weakness classes, exposure surface, period filter, template tags, empty data."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Engine, select

from shaobing.assets.models import Asset, AssetAddress, AssetService
from shaobing.core.db import session_scope
from shaobing.engagements.models import Engagement
from shaobing.findings.importers.base import FindingInput
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity
from tests.reports import builder_data as bd

# The classes the seeded check ids belong to (written from the class definitions by hand).
CLASS_OF = {
    "weak-credential.ssh": "弱口令",
    "unauth.redis": "未授权访问",
    "web.tls-protocol": "TLS 与传输加密弱点",
    "exposure.service": "暴露面与信息泄露",
    "linux.pass-max-days": "配置弱点",
    "web.missing-csp": "配置弱点",
}
CLASSES = ["弱口令", "未授权访问", "TLS 与传输加密弱点", "暴露面与信息泄露", "配置弱点"]


def _expected(engine: Engine, engagement_id: int) -> Counter[str]:
    with session_scope(engine, readonly=True) as session:
        checks = session.scalars(
            select(Finding.check_id).where(
                Finding.engagement_id == engagement_id, Finding.status != "false_positive"
            )
        ).all()
    return Counter(CLASS_OF[c] for c in checks if c in CLASS_OF)


def test_classes_and_numbers(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    doc = bd.compose_doc(engine, seeded.engagement_id, "weakness")
    assert bd.headings(doc, 1) == [
        "一、概述",
        "二、评估结论",
        "三、暴露面分析",
        "四、弱点详情",
        "五、整改建议",
        "附录",
    ]
    assert [h for h in bd.headings(doc, 2) if h.startswith("4.")] == [
        f"4.{i} {name}" for i, name in enumerate(CLASSES, start=1)
    ]
    expected = _expected(engine, seeded.engagement_id)
    classes = bd.table(doc, "弱点类别统计")
    assert [(row[0], row[6]) for row in classes.rows] == [
        (name, str(expected.get(name, 0))) for name in CLASSES
    ]
    total = sum(expected.values())
    assert f"本次评估共发现弱点 {total} 条" in bd.section_text(doc, "2.1 总体结论")
    assert len(bd.table(doc, "弱点清单").rows) == total
    weak = bd.table(doc, "弱口令明细")
    assert [row[1] for row in weak.rows] == ["SSH 弱口令"]
    assert weak.rows[0][4] == "127.0.0.5:22/tcp"
    assert "SSH 弱口令：修改为符合复杂度要求的口令" in bd.section_text(doc, "4.1 弱口令")
    # Findings outside the classes are only counted.
    with session_scope(engine, readonly=True) as session:
        others = session.scalar(
            select(Finding.id)
            .where(Finding.check_id == "log4j-rce", Finding.engagement_id == seeded.engagement_id)
            .limit(1)
        )
    assert others is not None
    assert "某中间件反序列化远程代码执行" not in bd.body_text(doc)
    assert "不属于上述类别的" in bd.body_text(doc)
    assert {a.sheet for a in doc.annexes} == {"弱点清单", "开放端口"}


def test_exposure_surface_from_the_ledger(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    doc = bd.compose_doc(engine, seeded.engagement_id, "weakness")
    with session_scope(engine, readonly=True) as session:
        engagement = session.get(Engagement, seeded.engagement_id)
        assert engagement is not None
        services = session.execute(
            select(AssetAddress.address, AssetService.port)
            .join(Asset, Asset.id == AssetService.asset_id)
            .join(AssetAddress, AssetAddress.asset_id == Asset.id)
            .where(AssetService.client_id == engagement.client_id, AssetService.state == "open")
        ).all()
    hosts = {h for h, _ in services}
    ports = {p for _, p in services}
    text = bd.section_text(doc, "3.1 开放端口与服务")
    assert (
        f"{len(services)} 个开放端口分布在 {len(hosts)} 个主机上，涉及 {len(ports)} 个不同的端口"
        in text
    )
    risky = bd.table(doc, "高风险端口开放情况")
    wanted = {22, 3306, 3389, 6379}
    assert [int(row[0]) for row in risky.rows] == sorted(wanted & ports)
    for row in risky.rows:
        assert row[3] == "、".join(sorted(h for h, p in services if p == int(row[0])))
    assert len(bd.table(doc, "开放端口与服务清单").rows) == len(services)


def test_period_filters_findings_and_services(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    march = bd.compose_doc(engine, seeded.engagement_id, "weakness", period="2026-03")
    # Every weakness was seen only in January; the March findings are other vulnerabilities.
    assert "本次评估在报告范围内未发现弱点" in bd.body_text(march)
    for name in CLASSES:
        assert f"本次评估未发现“{name}”类弱点" in bd.body_text(march)
    assert "平台中没有记录到开放端口与服务" in bd.body_text(march)
    assert "当前未发现需要整改的弱点" in bd.body_text(march)
    january = bd.compose_doc(engine, seeded.engagement_id, "weakness", period="2026-01")
    total = sum(_expected(engine, seeded.engagement_id).values())
    assert f"本次评估共发现弱点 {total} 条" in bd.body_text(january)
    start, after = bd.window(date(2026, 1, 1), date(2026, 1, 31))
    assert start < bd.JANUARY < after


def test_template_tags_classify_findings(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    with session_scope(engine) as session:
        engagement = session.get(Engagement, seeded.engagement_id)
        assert engagement is not None
        ingest(
            session,
            engagement,
            [
                FindingInput(
                    "shaobing-scan",
                    "template:sb-example-panel",
                    "示例管理后台默认口令",
                    Severity.HIGH,
                    host="127.0.0.6",
                    port=9000,
                    extra={"template": "sb-example-panel", "tags": ["panel", "default-login"]},
                )
            ],
            format_name="shaobing-scan",
            options=IngestOptions(close_absent=False),
        )
    doc = bd.compose_doc(engine, seeded.engagement_id, "weakness")
    titles = [row[1] for row in bd.table(doc, "弱口令明细").rows]
    assert "示例管理后台默认口令" in titles


def test_empty_engagement(engine: Engine) -> None:
    engagement_id = bd.empty_engagement(engine)
    doc = bd.compose_doc(engine, engagement_id, "weakness")
    text = bd.body_text(doc)
    assert "本次评估在报告范围内未发现弱点" in text
    assert "综合评定弱点风险等级为：未发现明显风险" in text
    assert "平台中没有记录到开放端口与服务" in text
    assert bd.table(doc, "弱点清单").rows == []
