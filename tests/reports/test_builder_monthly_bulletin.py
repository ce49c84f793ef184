"""每月安全信息通报: new and fixed findings, overdue work orders, public vulnerabilities from
the vulnerability database, incidents, the trend; the period is required."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.findings.models import Finding, FindingEvent, WorkOrder
from shaobing.reports.model import Table
from tests.reports import builder_data as bd

HEADINGS = [
    "一、概述",
    "二、本月安全态势",
    "三、本月新发现问题",
    "四、本月整改情况",
    "五、超期未整改工单",
    "六、相关公开漏洞",
    "七、安全事件",
    "八、趋势分析",
    "九、下月工作建议",
    "附录",
]


def _new(engine: Engine, engagement_id: int, start: date, end: date) -> list[Finding]:
    first, after = bd.window(start, end)
    with session_scope(engine, readonly=True) as session:
        rows = session.scalars(
            select(Finding).where(
                Finding.engagement_id == engagement_id,
                Finding.status != "false_positive",
                Finding.first_seen >= first,
                Finding.first_seen < after,
            )
        ).all()
        for row in rows:
            session.expunge(row)
    return list(rows)


def _fixed(engine: Engine, engagement_id: int, start: date, end: date) -> set[int]:
    first, after = bd.window(start, end)
    with session_scope(engine, readonly=True) as session:
        return set(
            session.scalars(
                select(FindingEvent.finding_id)
                .join(Finding, Finding.id == FindingEvent.finding_id)
                .where(
                    Finding.engagement_id == engagement_id,
                    FindingEvent.to_state == "fixed",
                    FindingEvent.at >= first,
                    FindingEvent.at < after,
                )
            )
        )


def test_month_numbers_and_public_vulnerabilities(engine: Engine, tmp_path: Path) -> None:
    seeded = bd.seed_engine(engine)
    bd.import_vulndb(engine, tmp_path / "feeds")
    doc = bd.compose_doc(engine, seeded.engagement_id, "monthly_bulletin", period="2026-03")
    assert bd.headings(doc, 1) == HEADINGS
    assert doc.meta.period == "2026年3月"
    new = _new(engine, seeded.engagement_id, date(2026, 3, 1), date(2026, 3, 31))
    fixed = _fixed(engine, seeded.engagement_id, date(2026, 3, 1), date(2026, 3, 31))
    assert new and fixed
    with session_scope(engine, readonly=True) as session:
        overdue = session.scalars(
            select(WorkOrder).where(
                WorkOrder.engagement_id == seeded.engagement_id,
                WorkOrder.state.in_(["new", "to_fix"]),
                WorkOrder.due_date < date(2026, 3, 31),
            )
        ).all()
        open_findings = len(
            session.scalars(
                select(Finding.id).where(
                    Finding.engagement_id == seeded.engagement_id, Finding.is_open.is_(True)
                )
            ).all()
        )
    state = bd.section_text(doc, "二、本月安全态势")
    high = sum(1 for f in new if f.severity in ("critical", "high"))
    assert f"本期新发现安全问题 {len(new)} 个（其中严重和高危 {high} 个）" in state
    assert f"本期完成整改 {len(fixed)} 个" in state
    assert f"全部未整改问题 {open_findings} 个" in state
    assert f"超期未整改工单 {len(overdue)} 个" in state
    assert "本期平台中未记录安全事件" in state
    assert sorted(r[1] for r in bd.table(doc, "本期新发现问题").rows) == sorted(
        f.title for f in new
    )
    counts = Counter(f.severity for f in new)
    severity = bd.table(doc, "本期新发现问题等级分布")
    assert severity.rows[1][:2] == ["高危", str(counts["high"])]
    assert len(bd.table(doc, "本期已修复问题").rows) == len(fixed)
    overdue_table = bd.table(doc, "超期未整改工单")
    assert sorted(row[0] for row in overdue_table.rows) == sorted(f"WO-{o.id}" for o in overdue)
    for row in overdue_table.rows:
        order = next(o for o in overdue if f"WO-{o.id}" == row[0])
        assert order.due_date is not None
        assert row[5] == str((date(2026, 3, 31) - order.due_date).days)
    # Public vulnerabilities: only the OpenSSH CVE updated in March applies.
    public = bd.table(doc, "相关公开漏洞")
    assert [row[0] for row in public.rows] == [bd.CVE_IN_MONTH]
    assert public.rows[0][4] == "OpenSSH 9.2p1"
    assert public.rows[0][5] == "127.0.0.5:22/tcp"
    text = bd.section_text(doc, "六、相关公开漏洞")
    assert "共有 1 个漏洞可能影响某市大数据中心的系统" in text
    assert bd.CVE_OLD not in bd.body_text(doc)
    assert bd.CVE_OTHER_PRODUCT not in bd.body_text(doc)
    assert "七、安全事件" in bd.headings(doc, 1)
    assert "本期平台中未记录安全事件" in bd.section_text(doc, "七、安全事件")
    # Trend: January to March, new and fixed per month from the database.
    trend = bd.table(doc, "问题发现与修复趋势（按月）")
    expected = []
    for month, last in ((1, 31), (2, 28), (3, 31)):
        start, end = date(2026, month, 1), date(2026, month, last)
        expected.append(
            [
                f"2026年{month}月",
                str(len(_new(engine, seeded.engagement_id, start, end))),
                str(len(_fixed(engine, seeded.engagement_id, start, end))),
            ]
        )
    assert trend.rows == expected


def test_without_vulnerability_database_says_so(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    doc = bd.compose_doc(engine, seeded.engagement_id, "monthly_bulletin", period="2026-03")
    assert "离线漏洞库中没有数据，本期无法比对公开漏洞" in bd.section_text(doc, "六、相关公开漏洞")


def test_month_without_matching_cves_says_so(engine: Engine, tmp_path: Path) -> None:
    seeded = bd.seed_engine(engine)
    bd.import_vulndb(engine, tmp_path / "feeds")
    doc = bd.compose_doc(engine, seeded.engagement_id, "monthly_bulletin", period="2026-02")
    text = bd.section_text(doc, "六、相关公开漏洞")
    assert "未发现影响某市大数据中心所用产品的漏洞" in text
    assert "本期未发现新的安全问题" in bd.body_text(doc)
    assert "本期没有问题完成整改" in bd.body_text(doc)
    # Not placed in the text, and the annex sheet is empty.
    assert all(not (isinstance(b, Table) and b.caption == "相关公开漏洞") for b in doc.blocks)
    assert next(a for a in doc.annexes if a.sheet == "相关公开漏洞").rows == []


def test_period_is_required(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    with pytest.raises(ValidationError):
        bd.compose_doc(engine, seeded.engagement_id, "monthly_bulletin")


def test_empty_engagement(engine: Engine) -> None:
    engagement_id = bd.empty_engagement(engine)
    doc = bd.compose_doc(engine, engagement_id, "monthly_bulletin", period="2026-03")
    text = bd.body_text(doc)
    assert "本期未发现新的安全问题" in text
    assert "截至2026年3月31日，没有超过整改期限的工单" in text
    assert "离线漏洞库中没有数据" in text
    assert [row[1:] for row in bd.table(doc, "问题发现与修复趋势（按月）").rows] == [
        ["0", "0"],
        ["0", "0"],
        ["0", "0"],
    ]
