"""漏洞扫描报告 over the seeded engagement: structure, numbers against the database, grouping,
period and scope filters, literal titles, an empty engagement, 10,000 findings, the CLI."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, or_, select

from shaobing.core.db import make_engine, session_scope
from shaobing.core.errors import ValidationError
from shaobing.engagements.models import Engagement
from shaobing.findings.importers.base import FindingInput
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity
from shaobing.reports.model import Heading, KeyValue, Paragraph
from tests.conftest import CliRunner
from tests.reports import builder_data as bd

SEVERITY_WORDS = {
    "critical": "严重",
    "high": "高危",
    "medium": "中危",
    "low": "低危",
    "info": "信息",
}
NOT_SCAN = ("shaobing-baseline", "shaobing-mlps", "shaobing-datasec")


def _reported(engine: Engine, engagement_id: int, *where: object) -> list[Finding]:
    """The findings a scan report should count, by an independent query."""
    with session_scope(engine, readonly=True) as session:
        rows = session.scalars(
            select(Finding).where(
                Finding.engagement_id == engagement_id,
                Finding.source_tool.not_in(NOT_SCAN),
                Finding.status != "false_positive",
                *where,  # type: ignore[arg-type]
            )
        ).all()
        for row in rows:
            session.expunge(row)
    return list(rows)


def test_structure_and_numbers_match_the_database(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    doc = bd.compose_doc(engine, seeded.engagement_id, "vuln_scan")
    assert bd.headings(doc, 1) == [
        "一、概述",
        "二、扫描结果综述",
        "三、漏洞详情",
        "四、整改建议与后续工作",
        "附录",
    ]
    assert bd.headings(doc, 2)[:6] == [
        "1.1 项目背景",
        "1.2 扫描目的",
        "1.3 扫描范围",
        "1.4 扫描时间与方式",
        "1.5 工具与策略",
        "1.6 免责与授权声明",
    ]
    findings = _reported(engine, seeded.engagement_id)
    counts = Counter(f.severity for f in findings)
    severity = bd.table(doc, "风险等级分布")
    assert [row[:2] for row in severity.rows[:-1]] == [
        [word, str(counts.get(key, 0))] for key, word in SEVERITY_WORDS.items()
    ]
    assert severity.rows[-1][:2] == ["合计", str(len(findings))]
    rules = {(f.source_tool, f.check_id) for f in findings}
    summary = bd.section_text(doc, "2.1 总体结论")
    assert f"共发现安全问题 {len(findings)} 条，分属 {len(rules)} 类漏洞" in summary
    open_count = sum(1 for f in findings if f.is_open)
    assert f"仍有 {open_count} 条未修复" in summary
    # Critical findings exist, so the rating is the highest one.
    assert "风险等级为：高风险" in summary
    # One level-3 heading per rule; false positives and baseline results are left out.
    assert len(bd.headings(doc, 3)) == len(rules)
    assert "疑似目录遍历" not in "\n".join(bd.headings(doc))
    assert "口令最长使用期限未设置" not in "\n".join(bd.headings(doc))
    assert "已确认为误报的 1 条结果未列入本报告" in bd.body_text(doc)
    annex = bd.table(doc, "漏洞清单")
    assert annex.sheet == "漏洞清单"
    assert len(annex.rows) == len(findings)
    assert {a.sheet for a in doc.annexes} == {"漏洞清单", "资产清单", "工单清单"}
    orders = bd.table(doc, "整改工单清单")
    assert len(orders.rows) == len({f.work_order_id for f in findings if f.work_order_id})
    hosts = {f.host for f in findings}
    assert f"本报告的扫描结果涉及 {len(hosts)} 个主机或站点" in bd.body_text(doc)
    # Priorities name the SLA days of each open severity.
    priorities = bd.section_text(doc, "4.1 整改优先级")
    open_critical = sum(1 for f in findings if f.is_open and f.severity == "critical")
    assert f"严重问题 {open_critical} 条未修复，应在 3 天内完成整改" in priorities


def test_details_are_grouped_per_rule(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    doc = bd.compose_doc(engine, seeded.engagement_id, "vuln_scan")
    rce = _reported(engine, seeded.engagement_id, Finding.check_id == "log4j-rce")
    assert len(rce) == 2
    blocks = bd.section(doc, "某中间件反序列化远程代码执行")
    kv = next(b for b in blocks if isinstance(b, KeyValue))
    values = dict(kv.pairs)
    assert values["风险等级"] == "严重"
    assert values["漏洞编号"] == "CVE-2021-44228"
    assert values["弱点类型（CWE）"] == "CWE-502"
    assert values["影响范围"] == f"{len({f.host for f in rce})} 个主机/站点，共 {len(rce)} 处"
    for finding in rce:
        assert f"{finding.host}:{finding.port}/tcp" in values["受影响对象"]
    closed = sum(1 for f in rce if not f.is_open)
    assert values["整改状态"] == f"未修复 {len(rce) - closed} 处，已关闭 {closed} 处"
    text = bd.section_text(doc, "某中间件反序列化远程代码执行")
    assert "漏洞描述：组件存在反序列化漏洞" in text
    assert "检测证据（摘要）：响应中包含回连标记 ****" in text
    assert "整改建议：升级组件到厂商发布的安全版本。" in text
    # Sections per severity, in order, numbered 3.1, 3.2, ...
    level2 = [h for h in bd.headings(doc, 2) if h.startswith("3.")]
    assert level2 == ["3.1 严重漏洞", "3.2 高危漏洞", "3.3 中危漏洞", "3.4 低危漏洞"]


def test_period_limits_to_findings_seen_in_it(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    start, after = bd.window(date(2026, 3, 1), date(2026, 3, 31))
    march = _reported(
        engine, seeded.engagement_id, Finding.first_seen < after, Finding.last_seen >= start
    )
    assert march and len(march) < len(_reported(engine, seeded.engagement_id))
    doc = bd.compose_doc(engine, seeded.engagement_id, "vuln_scan", period="2026-03")
    assert doc.meta.period == "2026年3月"
    annex = bd.table(doc, "漏洞清单")
    assert sorted(row[1] for row in annex.rows) == sorted(f.title for f in march)
    assert f"共发现安全问题 {len(march)} 条" in bd.section_text(doc, "2.1 总体结论")
    assert "统计期间为2026年3月" in bd.body_text(doc)

    february = bd.compose_doc(engine, seeded.engagement_id, "vuln_scan", period="2026-02")
    assert "本次扫描在报告范围内未发现安全问题" in bd.body_text(february)
    assert "风险等级为：未发现明显风险" in bd.body_text(february)
    assert bd.table(february, "漏洞清单").rows == []


@pytest.mark.parametrize("scope", ["web", "host"])
def test_scope_option_selects_host_or_web_findings(engine: Engine, scope: str) -> None:
    seeded = bd.seed_engine(engine)
    web = or_(Finding.url.is_not(None), Finding.source_tool == "shaobing-webscan")
    expected = _reported(engine, seeded.engagement_id, web if scope == "web" else ~web)
    doc = bd.compose_doc(engine, seeded.engagement_id, "vuln_scan", options={"scope": scope})
    annex = bd.table(doc, "漏洞清单")
    assert sorted(row[3] for row in annex.rows) == sorted(
        (f.url + (f" {f.parameter}" if f.parameter else ""))
        if f.url
        else (f"{f.host}:{f.port}/{f.protocol}" if f.port else str(f.host))
        for f in expected
    )
    label = "Web 应用" if scope == "web" else "主机"
    assert doc.meta.subtitle == label
    assert f"本报告汇总截至2026年3月31日{label}漏洞扫描的结果" in bd.body_text(doc)
    # The host/web split sentence only appears when both are reported.
    assert "按漏洞类别划分" not in bd.body_text(doc)


def test_bad_scope_is_refused(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    with pytest.raises(ValidationError):
        bd.compose_doc(engine, seeded.engagement_id, "vuln_scan", options={"scope": "cloud"})


def test_titles_that_look_like_markup_stay_literal(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    doc = bd.compose_doc(engine, seeded.engagement_id, "vuln_scan")
    level3 = [h for h in doc.blocks if isinstance(h, Heading) and h.level == 3]
    assert any(h.text.endswith(bd.TRICKY_TITLE) for h in level3)
    assert bd.TRICKY_TITLE in [row[1] for row in bd.table(doc, "漏洞清单").rows]
    # No table named "x" was pulled in and no span turned bold.
    for block in doc.blocks:
        if isinstance(block, Paragraph) and "不是粗体" in block.text:
            assert not any(s.bold and "不是粗体" in s.text for s in block.spans)


def test_empty_engagement_reads_sensibly(engine: Engine) -> None:
    engagement_id = bd.empty_engagement(engine)
    doc = bd.compose_doc(engine, engagement_id, "vuln_scan")
    text = bd.body_text(doc)
    assert "本次扫描在报告范围内未发现安全问题" in text
    assert "本次扫描未发现需要列出的漏洞" in text
    assert "平台中未记录本期的扫描任务" in text
    assert "报告范围内没有未修复的问题" in text
    assert bd.headings(doc, 1)[0] == "一、概述"
    assert bd.table(doc, "漏洞清单").rows == []


def test_ten_thousand_findings_on_a_thousand_hosts(engine: Engine) -> None:
    engagement_id = bd.empty_engagement(engine)
    rules = [
        (f"rule-{n}", Severity(("critical", "high", "medium", "low", "info")[n % 5]))
        for n in range(200)
    ]
    records = [
        FindingInput(
            "nuclei",
            rules[i % 200][0],
            f"规则 {i % 200} 的漏洞",
            rules[i % 200][1],
            description="描述" * 50,
            remediation="整改建议" * 20,
            evidence="证据" * 200,
            host=f"127.1.{i // 250 % 4}.{i % 250 + 1}",
            port=1000 + i // 1000,
            protocol="tcp",
        )
        for i in range(10_000)
    ]
    with session_scope(engine) as session:
        engagement = session.get(Engagement, engagement_id)
        assert engagement is not None
        ingest(session, engagement, records, format_name="nuclei", options=IngestOptions())
    doc = bd.compose_doc(engine, engagement_id, "vuln_scan")
    assert len(bd.table(doc, "漏洞清单").rows) == 10_000
    assert len(bd.headings(doc, 3)) == 200
    assert "共发现安全问题 10000 条，分属 200 类漏洞，涉及 1000 个主机或站点" in bd.body_text(doc)


def test_cli_builds_the_html_report(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    try:
        bd.seed_engine(engine)
    finally:
        engine.dispose()
    out = tmp_path / "scan.html"
    result = cli.ok(
        "report",
        "build",
        "vuln_scan",
        "--engagement",
        "2026年网络安全服务",
        "--format",
        "html",
        "--out",
        str(out),
    )
    assert "漏洞扫描报告" in result.out
    html = out.read_text("utf-8")
    for heading in ("一、概述", "二、扫描结果综述", "三、漏洞详情", "附录 A 漏洞清单"):
        assert heading in html
    assert "SQL 注入" in html
