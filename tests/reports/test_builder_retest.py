"""整改复测报告: retest verdicts from the findings' history, work orders, open items,
the confirmation section, the period filter and an empty engagement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, and_, or_, select

from shaobing.core.db import session_scope
from shaobing.engagements.models import Engagement
from shaobing.findings.importers.base import FindingInput
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.models import Finding, FindingEvent, WorkOrder
from shaobing.findings.retest import (
    RetestResult,
    register_retest,
    retest_finding,
    unregister_retest,
)
from shaobing.findings.severity import Severity
from tests.reports import builder_data as bd

TOOL = "report-test-scanner"


@pytest.fixture
def retest_tool() -> Iterator[str]:
    """A source whose re-check reports the finding as gone."""
    register_retest(TOOL, lambda finding: RetestResult(detected=False, evidence="未再检出"))
    yield TOOL
    unregister_retest(TOOL)


def _retested_ids(engine: Engine, engagement_id: int, *where: object) -> set[int]:
    with session_scope(engine, readonly=True) as session:
        return set(
            session.scalars(
                select(FindingEvent.finding_id)
                .join(Finding, Finding.id == FindingEvent.finding_id)
                .where(
                    Finding.engagement_id == engagement_id,
                    or_(
                        FindingEvent.kind == "retest",
                        FindingEvent.to_state == "verified",
                        and_(
                            FindingEvent.from_state.in_(["fixed", "verified"]),
                            FindingEvent.to_state == "to_fix",
                        ),
                    ),
                    *where,  # type: ignore[arg-type]
                )
            )
        )


def _open_orders(engine: Engine, engagement_id: int) -> int:
    with session_scope(engine, readonly=True) as session:
        return len(
            session.scalars(
                select(WorkOrder.id).where(
                    WorkOrder.engagement_id == engagement_id,
                    WorkOrder.state.in_(["new", "to_fix"]),
                )
            ).all()
        )


def test_verdicts_orders_and_confirmation(engine: Engine, retest_tool: str) -> None:
    seeded = bd.seed_engine(engine)
    with session_scope(engine) as session:
        engagement = session.get(Engagement, seeded.engagement_id)
        assert engagement is not None
        ingest(
            session,
            engagement,
            [
                FindingInput(
                    retest_tool,
                    "ftp-anon",
                    "FTP 匿名登录",
                    Severity.HIGH,
                    host="127.0.0.9",
                    port=21,
                )
            ],
            format_name=retest_tool,
            options=IngestOptions(close_absent=False),
        )
        finding = session.scalars(select(Finding).where(Finding.source_tool == retest_tool)).one()
        retest_finding(session, finding, actor="复测工程师")
        retested_by_tool = finding.id
    doc = bd.compose_doc(engine, seeded.engagement_id, "retest")
    assert bd.headings(doc, 1) == [
        "一、概述",
        "二、复测结论",
        "三、复测明细",
        "四、遗留问题",
        "五、整改确认",
    ]
    ids = _retested_ids(engine, seeded.engagement_id)
    assert ids == {seeded.verified_id, seeded.retest_reopened_id, retested_by_tool}
    details = bd.table(doc, "复测问题明细")
    verdicts = {row[1]: row[6] for row in details.rows}
    assert verdicts == {
        "某中间件反序列化远程代码执行": "已整改",
        "Redis 未授权访问": "未整改",
        "FTP 匿名登录": "已整改",
    }
    assert len(details.rows) == len(ids)
    summary = bd.section_text(doc, "2.1 总体结论")
    assert (
        f"本次复测的 {len(ids)} 个问题中，2 个已完成整改，1 个仍未整改，整改完成率为 66.7%"
        in summary
    )
    assert "Redis 未授权访问（严重，127.0.0.6:6379/tcp）" in bd.section_text(
        doc, "2.2 复测未通过的问题"
    )
    orders = bd.table(doc, "复测工单结论")
    assert sorted(row[5] for row in orders.rows) == ["已整改", "已整改", "未整改"]
    open_orders = _open_orders(engine, seeded.engagement_id)
    assert len(bd.table(doc, "遗留未整改工单").rows) == open_orders
    assert f"仍有 {open_orders} 个整改工单未完成" in bd.section_text(doc, "四、遗留问题")
    confirmation = bd.section_text(doc, "五、整改确认")
    assert f"本报告所列 {len(ids)} 个问题中 2 个已完成整改，1 个仍未整改" in confirmation
    assert "确认人（签字）：" in confirmation
    assert "单位（盖章）：" in confirmation
    assert "复测人（签字）：" in confirmation
    assert "复测工程师" in bd.section_text(doc, "1.2 复测范围与方法")


def test_period_keeps_retests_made_in_it(engine: Engine) -> None:
    seeded = bd.seed_engine(engine)
    start, after = bd.window(date(2026, 3, 1), date(2026, 3, 31))
    march_ids = _retested_ids(
        engine, seeded.engagement_id, FindingEvent.at >= start, FindingEvent.at < after
    )
    assert march_ids == {seeded.verified_id, seeded.retest_reopened_id}
    doc = bd.compose_doc(engine, seeded.engagement_id, "retest", period="2026-03")
    assert len(bd.table(doc, "复测问题明细").rows) == len(march_ids)
    assert "复测时间为2026年3月12日" in bd.body_text(doc)
    february = bd.compose_doc(engine, seeded.engagement_id, "retest", period="2026-02")
    text = bd.body_text(february)
    assert "2026年2月期间，平台中没有复测记录" in text
    assert "本期没有进行复测，无复测结论" in text
    # Open items do not depend on the period.
    open_orders = _open_orders(engine, seeded.engagement_id)
    assert len(bd.table(february, "遗留未整改工单").rows) == open_orders


def test_empty_engagement(engine: Engine) -> None:
    engagement_id = bd.empty_engagement(engine)
    doc = bd.compose_doc(engine, engagement_id, "retest")
    text = bd.body_text(doc)
    assert "截至2026年3月31日，平台中没有复测记录" in text
    assert "截至2026年3月31日，没有未完成的整改工单" in text
    assert "本期没有复测记录；截至2026年3月31日，有 0 个整改工单尚未完成" in text
