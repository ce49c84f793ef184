"""基线核查报告 over real baseline runs: fixture trees checked through ``run_check``.

Every number is compared with what the baseline module itself computed for the run
(``report_json``), the rule tables with the failing rules of each run, and the report of an
engagement without runs must say so instead of inventing figures.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from shaobing.baseline.service import report_json
from shaobing.core.db import session_scope
from shaobing.engagements.models import Engagement
from shaobing.reports.model import ReportDocument
from shaobing.reports.service import compose
from tests.baseline.roots import materialise
from tests.reports import assess_data as ad

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="fixture roots need root to set owners")

CHAPTERS = ["一、概述", "二、核查结果总体情况", "三、问题分析", "四、核查结果详情", "五、整改建议"]
SECTIONS = ["1.1 核查目的", "1.2 核查依据", "1.3 核查范围与对象", "1.4 核查方法"]
SEVERITIES = ("严重", "高", "中", "低", "信息")


def _compose(engine: Engine, engagement_id: int, period: str | None = None) -> ReportDocument:
    with session_scope(engine) as session:
        engagement = session.get(Engagement, engagement_id)
        assert engagement is not None
        return compose(session, engagement, "baseline", period=period, today=ad.TODAY)


def test_numbers_match_the_baseline_runs(engine: Engine, tmp_path: Path) -> None:
    eid = ad.make_engagement(engine, "基线核查服务")
    outcomes = ad.seed_baseline(engine, eid, tmp_path / "trees")
    doc = _compose(engine, eid)

    expected = [report_json(o.reports[0]) for o in outcomes]
    assert ad.heading_texts(doc, 1) == CHAPTERS
    level2 = ad.heading_texts(doc, 2)
    assert level2[:4] == SECTIONS
    detail = [h for h in level2 if h.startswith("4.")]
    assert len(detail) == len(expected)

    targets = ad.table(doc, "各核查对象基线符合情况")
    assert len(targets.rows) == 3
    for data in expected:
        rows = [r for r in targets.rows if data["target"] in r[1]]
        assert len(rows) == 1, data["target"]
        cells = dict(zip([c.title for c in targets.columns], rows[0], strict=True))
        counts = data["counts"]
        assert int(cells["通过"]) == counts["pass"]
        assert int(cells["不通过"]) == counts["fail"]
        assert int(cells["不适用"]) == counts["na"]
        assert int(cells["无法判定"]) == counts["error"]
        assert int(cells["检查项"]) == sum(counts.values())
        assert ad.number(cells["得分"]) == data["score"]
        applicable = counts["pass"] + counts["fail"] + counts["error"]
        assert ad.number(cells["合规率"]) == round(100 * counts["pass"] / applicable, 1)

    total_fail = sum(d["counts"]["fail"] for d in expected)
    total_pass = sum(d["counts"]["pass"] for d in expected)
    body = ad.text(doc)
    assert f"通过 {total_pass} 项、不通过 {total_fail} 项" in body

    # per-target rule tables hold exactly the failing rules, most severe first
    rule_tables = [t for t in ad.tables(doc) if (t.caption or "").endswith("：不通过项明细")]
    assert len(rule_tables) == 3
    by_ids = {frozenset(ad.column(t, "规则编号")): t for t in rule_tables}
    for data in expected:
        failing = [r for r in data["results"] if r["status"] == "fail"]
        found = by_ids[frozenset(r["rule_id"] for r in failing)]
        ranks = [SEVERITIES.index(s) for s in ad.column(found, "等级")]
        assert ranks == sorted(ranks)

    severity = ad.table(doc, "不通过项按严重程度统计")
    for sev_row in severity.rows:
        hits = [
            r
            for d in expected
            for r in d["results"]
            if r["status"] == "fail" and r["severity"] == sev_row[0]
        ]
        assert int(sev_row[1]) == len(hits)

    # the charts carry the same counts and scores
    chart = ad.charts(doc)["各核查对象检查结果分布"]
    assert sum(chart.series["不通过"]) == total_fail
    assert sorted(ad.charts(doc)["各核查对象基线得分"].series["基线得分"]) == sorted(
        d["score"] for d in expected
    )

    # clauses: every GB/T 22239 clause of a failing rule, once
    clauses = {
        c
        for d in expected
        for r in d["results"]
        if r["status"] == "fail"
        for c in r["references"].get("gb22239") or []
    }
    assert set(ad.column(ad.table(doc, "不通过项对应的 GB/T 22239-2019 条款"), "条款")) == clauses

    # the annex lists every failing and undecided result; no secret hash reaches a cell
    assert [a.sheet for a in doc.annexes] == ["核查对象汇总", "基线核查明细"]
    undecided = sum(d["counts"]["fail"] + d["counts"]["error"] for d in expected)
    assert len(doc.annexes[1].rows) == undecided
    hashes = re.compile(r"\$(?:1|5|6|y|2[aby])\$")
    assert not [c for t in ad.tables(doc) for row in t.rows for c in row if hashes.search(c)]


def test_latest_run_per_target_and_period(engine: Engine, tmp_path: Path) -> None:
    eid = ad.make_engagement(engine, "基线复查")
    root = materialise("debian12-weak", tmp_path / "trees")
    ad.check_root(engine, eid, root)
    second = ad.check_root(engine, eid, root)
    doc = _compose(engine, eid)
    targets = ad.table(doc, "各核查对象基线符合情况")
    assert len(targets.rows) == 1
    assert ad.number(targets.rows[0][11]) == report_json(second.reports[0])["score"]

    this_month = date.today().strftime("%Y-%m")
    assert len(ad.table(_compose(engine, eid, this_month), "各核查对象基线符合情况").rows) == 1
    empty = _compose(engine, eid, "2025-01")
    assert "2025年1月内本项目没有已记录的基线核查结果" in ad.text(empty)
    assert not ad.tables(empty)


def test_without_runs_the_report_says_so(engine: Engine) -> None:
    eid = ad.make_engagement(engine, "尚未核查")
    doc = _compose(engine, eid)
    assert ad.heading_texts(doc, 1) == CHAPTERS
    body = ad.text(doc)
    assert "本项目尚无已记录的基线核查结果" in body
    assert not ad.tables(doc) and not ad.charts(doc) and not doc.annexes
    assert not re.search(r"\d+ 项", body)  # no counts invented
