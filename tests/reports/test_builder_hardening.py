"""安全加固报告 over a real hardening run: a weak fixture tree hardened through ``harden``.

The before/after scores, the rules changed, the rules left alone with their reasons and the
backups are compared with the hardening outcome and the stored run; a rolled-back run and an
engagement without hardening are reported as such.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from shaobing.baseline.harden_service import rollback
from shaobing.baseline.models import HardeningRun
from shaobing.baseline.service import Access
from shaobing.core.db import session_scope
from shaobing.core.settings import reset_settings
from shaobing.engagements.models import Engagement
from shaobing.reports.model import KeyValue, ReportDocument
from shaobing.reports.service import compose
from tests.reports import assess_data as ad

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="fixture roots need root to set owners")

CHAPTERS = [
    "一、概述",
    "二、加固结果总体情况",
    "三、加固实施详情",
    "四、备份与回退",
    "五、加固结果确认",
]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A SHAOBING_HOME for the backups of hardened files."""
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "home"))
    reset_settings()
    yield tmp_path / "home"
    reset_settings()


def _compose(engine: Engine, engagement_id: int) -> ReportDocument:
    with session_scope(engine) as session:
        engagement = session.get(Engagement, engagement_id)
        assert engagement is not None
        return compose(session, engagement, "hardening", today=ad.TODAY)


def test_changes_scores_and_backups_match_the_run(engine: Engine, tmp_path: Path) -> None:
    eid = ad.make_engagement(engine, "安全加固服务")
    outcome = ad.seed_hardening(engine, eid, tmp_path / "trees")
    data = outcome.as_json()
    assert data["status"] == "applied"
    with session_scope(engine) as session:
        run = session.get(HardeningRun, data["run_id"])
        assert run is not None
        applied = list(run.backups["applied"])
        files = [b["path"] for b in run.backups["files"]]
    doc = _compose(engine, eid)

    assert ad.heading_texts(doc, 1) == CHAPTERS
    runs = ad.table(doc, "加固实施情况汇总")
    assert len(runs.rows) == 1
    row = dict(zip([c.title for c in runs.columns], runs.rows[0], strict=True))
    assert ad.number(row["加固前得分"]) == data["score_before"]
    assert ad.number(row["加固后得分"]) == data["score_after"]
    assert ad.number(row["变化"]) == round(data["score_after"] - data["score_before"], 1)
    assert int(row["实施规则数"]) == len(applied)
    assert row["状态"] == "已实施"

    rid = data["run_id"]
    changes = ad.table(doc, f"加固记录 {rid}：加固项及变更内容")
    assert ad.column(changes, "规则编号") == [
        p["rule_id"] for p in data["plan"] if p["rule_id"] in applied
    ]
    after = {r["rule_id"]: r["status"] for r in data["after"]}
    labels = {"pass": "通过", "fail": "不通过", "na": "不适用", "error": "无法判定"}
    assert ad.column(changes, "复查结果") == [
        labels[after[r]] for r in ad.column(changes, "规则编号")
    ]
    planned_files = {p["rule_id"]: set(p["files"]) for p in data["plan"]}
    for rule_id, cell in zip(
        ad.column(changes, "规则编号"), ad.column(changes, "修改的文件"), strict=True
    ):
        assert set(cell.split("\n")) - {"—"} == planned_files[rule_id]

    skipped = ad.table(doc, f"加固记录 {rid}：未加固项及原因")
    expected_skipped = [
        p["rule_id"]
        for p in data["plan"]
        if p["status_before"] not in ("pass", "na")
        and (p["skipped"] or after.get(p["rule_id"]) != "pass")
    ]
    assert ad.column(skipped, "规则编号") == expected_skipped
    reasons = dict(
        zip(ad.column(skipped, "规则编号"), ad.column(skipped, "未加固原因"), strict=True)
    )
    for p in data["plan"]:
        if p["rule_id"] in reasons and p["skipped"]:
            assert reasons[p["rule_id"]] == p["skipped"]

    backups = ad.table(doc, f"加固记录 {rid}：变更前备份")
    assert ad.column(backups, "文件") == files
    chart = ad.charts(doc)["加固前后基线得分对比"]
    assert chart.series == {"加固前": [data["score_before"]], "加固后": [data["score_after"]]}
    body = ad.text(doc)
    assert f"shaobing baseline rollback {rid}" in body
    assert f"本次共实施加固项 {len(applied)} 项，{len(expected_skipped)} 项未加固" in body
    confirm = [b for b in doc.blocks if isinstance(b, KeyValue)]
    assert len(confirm) == 1 and confirm[0].caption == "加固结果确认"
    assert [a.sheet for a in doc.annexes] == ["加固汇总", "加固明细"]
    assert len(doc.annexes[1].rows) == len(data["plan"])


def test_rolled_back_run_is_reported_as_rolled_back(engine: Engine, tmp_path: Path) -> None:
    eid = ad.make_engagement(engine, "加固回退")
    outcome = ad.seed_hardening(engine, eid, tmp_path / "trees")
    assert outcome.run_id is not None
    result = rollback(engine, outcome.run_id, Access(), actor="tester")
    assert not result.problems
    doc = _compose(engine, eid)
    assert ad.table(doc, "加固实施情况汇总").rows[0][4] == "已回退"
    body = ad.text(doc)
    assert "该记录已于" in body and "已回退" in body
    assert f"shaobing baseline rollback {outcome.run_id}" not in body


def test_without_hardening_the_report_says_so(engine: Engine) -> None:
    eid = ad.make_engagement(engine, "尚未加固")
    doc = _compose(engine, eid)
    assert ad.heading_texts(doc, 1) == CHAPTERS
    assert "本项目尚无已记录的安全加固" in ad.text(doc)
    assert not ad.tables(doc) and not ad.charts(doc) and not doc.annexes
    confirm = [b for b in doc.blocks if isinstance(b, KeyValue)]
    assert len(confirm) == 1
