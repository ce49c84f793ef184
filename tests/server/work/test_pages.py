"""The work-area pages: render per role, forms with and without CSRF, tenant refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.core.db import session_scope
from shaobing.engagements.models import Deliverable
from shaobing.reports.models import ReportBuild
from shaobing.scan.models import ScanRun
from shaobing.scan.service import ScanRequest, plan_scan
from tests.server.conftest import World
from tests.server.work import seed
from tests.server.work.helpers import csrf_of, form_client, page_ok

Login = Callable[[str], TestClient]


def _count(world: World, model: type) -> int:
    with session_scope(world.engine, readonly=True) as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_scan_pages(world: World, login: Login) -> None:
    scan_id = plan_scan(
        world.engine,
        ScanRequest(targets=["127.0.0.1"], engagement="JIA", ports="1", policy="quick"),
        actor="test",
    )
    engineer = login("engineer")
    html = page_ok(
        engineer, "/scans?engagement=JIA", "扫描任务", "发起扫描", "快速发现", "127.0.0.0/24"
    )
    assert f'href="/scans/{scan_id}"' in html
    detail = page_ok(engineer, f"/scans/{scan_id}", "运行状态", "已计划", "继续", "取消")
    assert f'data-poll="/api/v1/scans/{scan_id}"' in detail
    viewer_html = page_ok(login("viewer"), "/scans", "扫描记录")
    assert "发起扫描" not in viewer_html
    page_ok(login("viewer"), f"/scans/{scan_id}", "运行状态")
    assert login("other_viewer").get(f"/scans/{scan_id}").status_code == 404
    # Cancel by form: refused without the token, done with it.
    client = form_client(engineer)
    token = csrf_of(detail)
    assert client.post(f"/scans/{scan_id}/cancel").status_code == 403
    done = client.post(
        f"/scans/{scan_id}/cancel", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"/scans/{scan_id}"
    page_ok(client, f"/scans/{scan_id}", "已取消")


def test_scan_launch_form_errors_stay_on_page(world: World, login: Login) -> None:
    engineer = form_client(login("engineer"))
    token = csrf_of(page_ok(engineer, "/scans", "发起扫描"))
    form = {"engagement": "JIA", "kind": "network", "targets": "127.0.1.9", "ports": "80"}
    assert engineer.post("/scans", data=form).status_code == 403
    refused = engineer.post("/scans", data=form | {"csrf_token": token})
    assert (
        refused.status_code == 400
        and "127.0.1.9" in refused.text
        and "Traceback" not in refused.text
    )
    # A client owner cannot launch, even with a valid token.
    owner = form_client(login("owner"))
    owner_token = csrf_of(page_ok(owner, "/scans", "扫描记录"))
    targets = {"engagement": "JIA", "targets": "127.0.0.1", "csrf_token": owner_token}
    assert owner.post("/scans", data=targets).status_code == 403
    assert _count(world, ScanRun) == 0


def test_baseline_pages(world: World, login: Login, tmp_path: Path) -> None:
    own = seed.baseline_run(world.engine, "JIA", tmp_path)
    viewer = login("viewer")
    page_ok(viewer, "/baseline", "基线核查", "核查记录", "linux")
    html = page_ok(viewer, f"/baseline/{own}?status=fail", "不通过", "整改建议", "规则结果")
    assert "result-pass" not in html
    assert login("other_owner").get(f"/baseline/{own}").status_code == 404
    assert login("viewer").get(f"/baseline/{own}?status=bogus").status_code == 400


def test_assessment_page_and_form(world: World, login: Login) -> None:
    seed.assessments(world.engine, world.own.engagement_id)
    engineer = form_client(login("engineer"))
    html = page_ok(
        engineer,
        "/assessment?engagement=JIA",
        "风险与等保",
        "本项目尚未开展风险评估",
        "等级保护",
        "数据安全评估",
    )
    token = csrf_of(html)
    assert engineer.post("/assessment/assess", data={"engagement": "JIA"}).status_code == 403
    done = engineer.post(
        "/assessment/assess",
        data={"engagement": "JIA", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page_ok(engineer, done.headers["location"], "评估记录", "风险等级分布", "风险热力图")
    viewer_html = page_ok(login("viewer"), "/assessment?engagement=JIA", "风险与等保", "评估记录")
    assert "执行风险评估" not in viewer_html
    assert login("other_viewer").get("/assessment?engagement=JIA").status_code == 404


def test_reports_page_build_and_deliverables(world: World, login: Login) -> None:
    deliverable_id = seed.deliverable(world.engine, world.own.engagement_id)
    engineer = form_client(login("engineer"))
    html = page_ok(
        engineer, "/reports?engagement=JIA", "报告与交付物", "生成报告", "漏洞扫描报告", "交付物"
    )
    token = csrf_of(html)
    form = {"engagement": "JIA", "type": "vuln_scan", "format": "html"}
    assert engineer.post("/reports", data=form).status_code == 403
    assert _count(world, ReportBuild) == 0
    built = engineer.post("/reports", data=form | {"csrf_token": token}, follow_redirects=False)
    assert built.status_code == 303, built.text[:300]
    listed = page_ok(engineer, built.headers["location"], "已生成的报告", "下载")
    with session_scope(world.engine, readonly=True) as db:
        build_id = db.scalars(select(ReportBuild.id)).one()
    assert f"/api/v1/reports/{build_id}/download" in listed
    submitted = engineer.post(
        f"/deliverables/{deliverable_id}/submit",
        data={"csrf_token": token, "engagement": "JIA", "build_id": str(build_id)},
        follow_redirects=False,
    )
    assert submitted.status_code == 303
    owner = form_client(login("owner"))
    owner_html = page_ok(owner, "/reports?engagement=JIA", "验收")
    assert "生成报告</button>" not in owner_html
    owner_token = csrf_of(owner_html)
    assert (
        owner.post(f"/deliverables/{deliverable_id}/accept", data={"by": "张三"}).status_code == 403
    )
    accepted = owner.post(
        f"/deliverables/{deliverable_id}/accept",
        data={"csrf_token": owner_token, "by": "张三", "engagement": "JIA"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    with session_scope(world.engine, readonly=True) as db:
        row = db.get(Deliverable, deliverable_id)
        assert row is not None and (row.state, row.accepted_by) == ("accepted", "张三")
    other = form_client(login("other_owner"))
    other_token = csrf_of(page_ok(other, "/reports", "报告与交付物"))
    reopened = other.post(
        f"/deliverables/{deliverable_id}/reopen", data={"csrf_token": other_token}
    )
    assert reopened.status_code == 404
    assert other.get("/reports?engagement=JIA").status_code == 404
