"""Seeding helpers of the assessment report tests: real services on fixture data.

Baseline runs come from ``run_check`` on materialised fixture roots (tests/baseline/roots),
hardening from ``harden`` on a weak root, risk inputs from the asset ledger, findings and the
risk service's manual entries, MLPS records from ``init_assessment`` and ``set_record``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shaobing.assess.mlps import service as mlps_service
from shaobing.assess.mlps.models import MlpsAssessment
from shaobing.assess.risk import service as risk_service
from shaobing.assets.service import import_rows
from shaobing.baseline.harden_service import HardenOutcome, harden
from shaobing.baseline.service import Access, CheckOutcome, run_check
from shaobing.core.db import session_scope
from shaobing.engagements.models import Engagement
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from shaobing.findings.importers.base import FindingInput
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.severity import Severity
from shaobing.reports.model import BulletList, Chart, ChartSpec, Paragraph, ReportDocument, Table
from tests.baseline.roots import materialise
from tests.ledger_rows import host_row

CLIENT = "某市政务服务数据管理局"
TODAY = date(2026, 11, 20)


def make_engagement(engine: Engine, name: str, systems: list[str] | None = None) -> int:
    """A client and an engagement over 127.0.0.0/8; returns the engagement id."""
    with session_scope(engine) as session:
        client = add_client(session, CLIENT)
        engagement = create_engagement(
            session,
            client,
            EngagementInput(
                name=name,
                scope=["127.0.0.0/8"],
                start=date(2026, 1, 1),
                end=date(2026, 12, 31),
                code="ZW-2026-01",
                systems=systems or [],
            ),
        )
        return engagement.id


def check_root(engine: Engine, engagement_id: int, root: Path) -> CheckOutcome:
    """The Linux profile on a fixture tree, recorded in the engagement."""
    return run_check(
        engine,
        profile_name="linux",
        targets=[None],
        access=Access(root=root),
        engagement_ref=str(engagement_id),
        variables={},
        actor="tester",
    )


def seed_baseline(engine: Engine, engagement_id: int, folder: Path) -> list[CheckOutcome]:
    """Checks of a weak Debian, a weak RHEL and a hardened Kylin tree."""
    names = ("debian12-weak", "rhel9-weak", "kylin10-hardened")
    return [check_root(engine, engagement_id, materialise(n, folder)) for n in names]


def seed_hardening(engine: Engine, engagement_id: int, folder: Path) -> HardenOutcome:
    """Harden a weak Debian tree with the Linux profile (applied, with backups)."""
    root = materialise("debian12-weak", folder)
    return harden(
        engine,
        profile_name="linux",
        target=None,
        access=Access(root=root),
        rules=[],
        variables={},
        engagement_ref=str(engagement_id),
        yes=True,
        actor="tester",
    )


RISK_FINDINGS = [
    FindingInput("nuclei", "ssh-weak", "SSH 弱口令", Severity.HIGH, host="127.0.0.5", port=22),
    FindingInput("nuclei", "struts-rce", "某组件远程代码执行", Severity.CRITICAL, host="127.0.0.6"),
    FindingInput("nuclei", "banner", "服务版本信息暴露", Severity.LOW, host="127.0.0.7"),
]


def seed_risk_inputs(session: Session, engagement: Engagement) -> None:
    """Ledger (three assets, one system), findings, a business, manual entries and measures."""
    rows = [
        host_row("门户服务器", "127.0.0.5", "门户网站系统", (4, 4, 3)),
        host_row("数据库服务器", "127.0.0.6", "门户网站系统", (5, 5, 4)),
        host_row("办公终端", "127.0.0.7", None, (2, 2, 2)),
    ]
    import_rows(session, engagement.client, rows, [], source_name="台账.csv", actor="t")
    ingest(
        session, engagement, RISK_FINDINGS, format_name="nuclei", options=IngestOptions(actor="t")
    )
    risk_service.add_business(
        session, engagement, name="政务公开", importance=4, systems=["门户网站系统:4"]
    )
    risk_service.add_vulnerability(
        session,
        engagement,
        name="未建立安全事件应急预案",
        vuln_type="management",
        severity="高",
        vuln_class="mgmt.ops",
    )
    risk_service.add_measure(
        session,
        engagement,
        name="堡垒机双因素认证",
        measure_type="preventive",
        effect=1,
        threats=["T02"],
    )
    risk_service.add_measure(
        session,
        engagement,
        name="数据库审计系统",
        measure_type="protective",
        effect=1,
        effective=False,
        asset="数据库服务器",
    )


def seed_mlps(session: Session, engagement: Engagement) -> MlpsAssessment:
    """A Level-3 assessment with manual records on the machine room, documents and a host."""
    outcome = mlps_service.init_assessment(
        session, engagement, level=3, packs=[], flags=[], actor="tester"
    )
    assessment = outcome.assessment
    room = mlps_service.resolve_object(session, assessment, "机房")
    docs = mlps_service.resolve_object(session, assessment, "安全管理文档与记录")
    host = mlps_service.resolve_object(session, assessment, "门户服务器")
    records = [
        (room, "8.1.1.2a", "不符合", "机房门禁未启用"),
        (room, "8.1.1.3c", "符合", None),
        (room, "8.1.1.7a", "部分符合", "部分机柜未接地"),
        (room, "8.1.1.1a", "不适用", None),
        (host, "8.1.4.1a", "符合", None),
        (host, "8.1.4.1b", "不符合", "未配置登录失败处理"),
        (host, "8.1.4.4e", "不符合", "存在未修补的高危漏洞"),
        (docs, "8.1.6.1a", "部分符合", "安全策略未经审批发布"),
    ]
    for obj, item, result, evidence in records:
        mlps_service.set_record(
            session, assessment, obj, item, result, evidence=evidence, note=None, actor="tester"
        )
    return assessment


# ------------------------------------------------------------------ reading composed reports
def heading_texts(doc: ReportDocument, level: int | None = None) -> list[str]:
    """The document's headings in order (of one level when given)."""
    return [h.text for h in doc.headings() if level is None or h.level == level]


def tables(doc: ReportDocument) -> list[Table]:
    """Every table block in order."""
    return [b for b in doc.blocks if isinstance(b, Table)]


def table(doc: ReportDocument, caption: str) -> Table:
    """The one table with this caption."""
    found = [t for t in tables(doc) if t.caption == caption]
    assert len(found) == 1, (caption, [t.caption for t in tables(doc)])
    return found[0]


def column(tbl: Table, title: str) -> list[str]:
    """A table column's cells by the column title."""
    index = [c.title for c in tbl.columns].index(title)
    return [row[index] for row in tbl.rows]


def text(doc: ReportDocument) -> str:
    """All paragraph and list text, one block per line."""
    lines: list[str] = []
    for block in doc.blocks:
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, BulletList):
            lines.extend("".join(s.text for s in item) for item in block.items)
    return "\n".join(lines)


def charts(doc: ReportDocument) -> dict[str, ChartSpec]:
    """Chart specs by title."""
    return {b.spec.title: b.spec for b in doc.blocks if isinstance(b, Chart)}


def number(cell: str) -> float:
    """A numeric cell (``83.3%`` → 83.3)."""
    return float(cell.rstrip("%"))
