"""项目交付物清单及终验汇总: service items, deliverables, SLA figures and open issues."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shaobing.assess.risk.models import RiskRun
from shaobing.baseline.models import BaselineRun, HardeningRun
from shaobing.core.db import session_scope
from shaobing.core.settings import reset_settings
from shaobing.engagements import deliverables
from shaobing.engagements.models import Deliverable, Engagement
from shaobing.engagements.service import (
    EngagementInput,
    add_client,
    create_engagement,
    parse_service_item,
)
from shaobing.findings.importers.base import FindingInput
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.models import WorkOrder
from shaobing.findings.service import move_work_order
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import Role, Status
from shaobing.reports.model import BulletList, Paragraph, ReportDocument, Table
from shaobing.reports.models import ReportBuild
from shaobing.reports.service import compose
from shaobing.scan.models import ScanRun

TODAY = date(2026, 4, 15)
IMPORTED = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # high due 03-08, medium 03-31, low 05-30


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "home"))
    reset_settings()
    yield tmp_path / "home"
    reset_settings()


@dataclass
class Seeded:
    engagement_id: int
    march_scan: int


def _finding(n: int, severity: Severity) -> FindingInput:
    return FindingInput(
        source_tool="nuclei",
        check_id=f"check-{n}",
        title=f"问题 {n}",
        severity=severity,
        host=f"127.0.0.{n}",
        port=80,
        protocol="tcp",
    )


def _order(session: Session, eid: int, title: str) -> WorkOrder:
    return session.scalars(
        select(WorkOrder).where(WorkOrder.engagement_id == eid, WorkOrder.title.contains(title))
    ).one()


def _seed(engine: Engine, tmp_path: Path) -> Seeded:
    with session_scope(engine) as session:
        client = add_client(session, "某市大数据局", code="DSJ")
        engagement = create_engagement(
            session,
            client,
            EngagementInput(
                name="2026 年安全服务",
                code="DSJ-2026",
                scope=["127.0.0.0/24"],
                start=date(2026, 1, 1),
                end=date(2026, 12, 31),
                items=[
                    parse_service_item(i)
                    for i in (
                        "vuln_scan:semiannual:3,9",
                        "baseline_check:quarterly",
                        "risk_assessment:semiannual:6,12",
                        "pentest:once:due=2026-06-30",
                    )
                ],
            ),
        )
        eid, cid = engagement.id, client.id
        ingest(
            session,
            engagement,
            [
                _finding(1, Severity.HIGH),
                _finding(2, Severity.HIGH),
                _finding(3, Severity.HIGH),
                _finding(4, Severity.MEDIUM),
                _finding(5, Severity.LOW),
            ],
            format_name="nuclei",
            options=IngestOptions(actor="tester", close_absent=False),
            now=IMPORTED,
        )
        fixes = [
            ("问题 1", Status.FIXED, datetime(2026, 3, 5, 2, 0, tzinfo=UTC), None),  # on time
            ("问题 2", Status.FIXED, datetime(2026, 3, 20, 2, 0, tzinfo=UTC), None),  # late
            ("问题 4", Status.FALSE_POSITIVE, datetime(2026, 3, 6, 2, 0, tzinfo=UTC), "误报"),
        ]
        for title, target, when, reason in fixes:
            move_work_order(
                session,
                _order(session, eid, title),
                target,
                actor="tester",
                role=Role.ENGINEER,
                reason=reason,
                now=when,
            )
        for kind, status in (
            ("network", "completed"),
            ("network", "completed"),
            ("web", "completed"),
            ("network", "failed"),
        ):
            session.add(
                ScanRun(client_id=cid, engagement_id=eid, kind=kind, status=status, targets=[])
            )
        for purpose in ("check", "check", "check", "harden-before", "harden-after"):
            session.add(
                BaselineRun(
                    client_id=cid,
                    engagement_id=eid,
                    profile="linux",
                    target="127.0.0.1",
                    purpose=purpose,
                )
            )
        session.add(
            HardeningRun(
                client_id=cid, engagement_id=eid, profile="linux", target="t", status="applied"
            )
        )
        session.add(RiskRun(client_id=cid, engagement_id=eid, method="matrix"))
        for fmt in ("docx", "pdf"):  # one report in two formats counts once
            session.add(
                ReportBuild(
                    client_id=cid,
                    engagement_id=eid,
                    report_type="vuln_scan",
                    period="2026-03",
                    report_no="SB-LDSM-202603-001",
                    seq=1,
                    format=fmt,
                    path=f"/tmp/scan.{fmt}",
                    sha256="0" * 64,
                    size=1,
                )
            )
        session.flush()
        march = deliverables.match_deliverable(session, engagement, "vuln_scan_report", "2026-03")
        assert march is not None
        report = tmp_path / "漏洞扫描报告-202603.docx"
        report.write_bytes(b"march report")
        deliverables.submit(session, march, actor="tester", on=date(2026, 3, 30), file=report)
        deliverables.accept(session, march, actor="tester", by="张处长", on=date(2026, 4, 2))
        return Seeded(eid, march.id)


def _compose(engine: Engine, eid: int) -> ReportDocument:
    with session_scope(engine) as session:
        engagement = session.get_one(Engagement, eid)
        return compose(session, engagement, "acceptance", today=TODAY)


def _table(doc: ReportDocument, first_column: str) -> Table:
    return next(
        b for b in doc.blocks if isinstance(b, Table) and b.columns[0].title == first_column
    )


def _by_second(doc: ReportDocument, first_column: str) -> dict[str, list[str]]:
    return {row[1]: row for row in _table(doc, first_column).rows}


def test_sections_and_service_items(engine: Engine, home: Path, tmp_path: Path) -> None:
    seeded = _seed(engine, tmp_path)
    doc = _compose(engine, seeded.engagement_id)
    headings = [h.text for h in doc.headings()]
    for title in (
        "一、项目概况",
        "二、服务项完成情况",
        "三、交付物提交与验收情况",
        "四、服务时效（SLA）",
        "五、遗留问题",
        "六、终验意见",
        "附件一 交付物清单",
    ):
        assert title in headings
    items = _by_second(doc, "序号")
    scan = items["漏洞扫描"]
    assert scan[2:6] == ["每半年", "2", "1", "1"]
    assert scan[6] == "主机与网络扫描 2 次；Web 应用扫描 1 次；发现并登记问题 5 个；生成报告 1 份"
    assert items["基线核查"][3] == "4"
    assert items["基线核查"][6] == "基线核查 3 台次"
    assert items["风险评估"][6] == "风险计算 1 次"
    assert items["渗透测试"][6] == "平台中暂无该服务项的工作记录"


def test_deliverables_states_and_index(engine: Engine, home: Path, tmp_path: Path) -> None:
    seeded = _seed(engine, tmp_path)
    doc = _compose(engine, seeded.engagement_id)
    with session_scope(engine) as session:
        owed = session.scalars(
            select(Deliverable).where(Deliverable.engagement_id == seeded.engagement_id)
        ).all()
        overdue = [d for d in owed if d.due_date and d.due_date < TODAY and d.state == "planned"]
    states = {row[0]: row[1] for row in _table(doc, "状态").rows}
    assert states == {"计划中": str(len(owed) - 1), "进行中": "0", "已提交": "0", "已验收": "1"}
    # Only the March baseline check was due before 15 April and is not submitted.
    assert [(d.kind, d.period) for d in overdue] == [("baseline_report", "2026-03")]
    texts = [b.text for b in doc.blocks if isinstance(b, Paragraph)]
    assert any("交付物已验收 **1** 项" in t or "交付物已验收 1 项" in t for t in texts)
    index = doc.annexes[0]
    assert index.sheet == "交付物索引"
    assert len(index.rows) == len(owed)
    march = next(r for r in index.rows if r[2] == "2026年3月" and r[1] == "漏洞扫描报告")
    assert march[4:7] == ["已验收", "2026-03-30", "2026-04-02"]
    assert march[8] == "漏洞扫描报告-202603.docx"
    bullet_text = [
        "".join(s.text for s in item)
        for b in doc.blocks
        if isinstance(b, BulletList)
        for item in b.items
    ]
    assert "基线核查报告（2026年3月），计划交付日期 2026-03-31" in bullet_text


def test_sla_figures_and_open_issues(engine: Engine, home: Path, tmp_path: Path) -> None:
    seeded = _seed(engine, tmp_path)
    doc = _compose(engine, seeded.engagement_id)
    sla = {row[0]: row[1:] for row in _table(doc, "风险等级").rows}
    # total, fixed, on time, late, other closed, open, open overdue, on-time rate
    assert sla["高危"] == ["3", "2", "1", "1", "0", "1", "1", "50.0%"]
    assert sla["中危"] == ["1", "0", "0", "0", "1", "0", "0", "—"]
    assert sla["低危"] == ["1", "0", "0", "0", "0", "1", "0", "—"]
    assert sla["合计"] == ["5", "2", "1", "1", "1", "2", "1", "50.0%"]
    open_rows = _table(doc, "工单号").rows
    assert [(r[1], r[2], r[4], r[5]) for r in open_rows] == [
        ("问题 3（127.0.0.3:80）", "高危", "2026-03-08", "是"),
        ("问题 5（127.0.0.5:80）", "低危", "2026-05-30", "否"),
    ]
    terms = {row[0]: row[1] for row in _table(doc, "服务承诺").rows}
    assert terms["安全事件响应"] == "30 分钟"
    assert terms["事件解决"] == "2 天"
    signatures = _table(doc, "项目")
    assert signatures.rows[0][1:] == ["某市大数据局", "哨兵安全服务团队"]
    assert signatures.rows[-1][0] == "日期"


def test_empty_engagement(engine: Engine, home: Path) -> None:
    with session_scope(engine) as session:
        client = add_client(session, "空项目客户")
        eid = create_engagement(
            session, client, EngagementInput(name="空项目", scope=["127.0.0.1"])
        ).id
    doc = _compose(engine, eid)
    texts = [b.text for b in doc.blocks if isinstance(b, Paragraph)]
    assert "项目期间平台中没有整改工单。" in texts
    assert any("项目中没有未关闭的问题" in t for t in texts)
    assert doc.annexes[0].rows == []
