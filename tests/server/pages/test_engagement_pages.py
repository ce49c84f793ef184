"""服务项目 pages: list, detail, scope check, creation, export and the two-step purge."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.core.db import session_scope
from shaobing.engagements.models import Engagement
from shaobing.findings.models import Finding
from tests.server.conftest import PASSWORD, World


def _findings(world: World, engagement_id: int) -> int:
    with session_scope(world.engine, readonly=True) as db:
        query = select(func.count()).where(Finding.engagement_id == engagement_id)
        return int(db.scalar(query) or 0)


def test_list_and_detail_follow_tenant_and_role(
    world: World, login: Callable[[str], TestClient]
) -> None:
    viewer = login("viewer")
    listing = viewer.get("/engagements")
    assert listing.status_code == 200
    assert "甲单位项目" in listing.text and "乙单位项目" not in listing.text
    assert "新建服务项目" not in listing.text
    detail = viewer.get(f"/engagements/{world.own.engagement_id}")
    assert detail.status_code == 200
    assert "授权范围" in detail.text and "127.0.0.0/24" in detail.text and "整改期限" in detail.text
    assert "导出完整数据归档" not in detail.text and "销毁数据" not in detail.text
    assert viewer.get(f"/engagements/{world.other.engagement_id}").status_code == 404
    assert "导出完整数据归档" in login("owner").get("/engagements/JIA").text
    admin = login("admin").get("/engagements/YI")
    assert "销毁数据" in admin.text and "新建服务项目" in login("admin").get("/engagements").text
    assert "销毁数据" not in login("engineer").get("/engagements/YI").text


def test_scope_check_form(world: World, login: Callable[[str], TestClient]) -> None:
    engineer = login("engineer")
    inside = engineer.get("/engagements/JIA?target=127.0.0.5")
    assert "允许：" in inside.text
    outside = engineer.get("/engagements/JIA?target=10.9.9.9")
    assert "不允许：" in outside.text


def test_create_engagement(world: World, login: Callable[[str], TestClient]) -> None:
    form = {
        "client": str(world.own.client_id),
        "name": "甲单位二期",
        "code": "JIA2",
        "scope": "127.0.1.0/24\n127.0.2.1",
        "exclude": "127.0.1.1",
        "start": "2025-01-01",
        "end": "2025-12-31",
        "items": "vuln_scan:semiannual:6,12\npentest",
    }
    engineer = login("engineer")
    bad = engineer.post("/engagements", data=form | {"items": "nonsense"})
    assert bad.status_code == 400 and 'class="alert"' in bad.text and "甲单位二期" in bad.text
    late = engineer.post("/engagements", data=form | {"end": "2025-13-01"})
    assert late.status_code == 400 and "服务期结束" in late.text
    made = engineer.post("/engagements", data=form, follow_redirects=False)
    assert made.status_code == 303
    page = engineer.get(made.headers["location"])
    assert "服务项目已创建" in page.text and "127.0.2.1" in page.text and "渗透测试" in page.text
    assert login("owner").post("/engagements", data=form | {"code": "X"}).status_code == 403


def test_export_gives_archive(world: World, login: Callable[[str], TestClient]) -> None:
    owner = login("owner")
    archive = owner.post(f"/engagements/{world.own.engagement_id}/export")
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert names and any("manifest" in n for n in names)
    assert owner.post(f"/engagements/{world.other.engagement_id}/export").status_code == 404
    assert login("viewer").post(f"/engagements/{world.own.engagement_id}/export").status_code == 403


def test_purge_needs_code_and_password(world: World, login: Callable[[str], TestClient]) -> None:
    target = world.other.engagement_id
    assert login("engineer").get(f"/engagements/{target}/purge").status_code == 403
    assert login("owner").get(f"/engagements/{target}/purge").status_code == 404
    admin = login("admin")
    plan = admin.get(f"/engagements/{target}/purge")
    assert plan.status_code == 200 and "第一步" in plan.text and "findings" in plan.text
    wrong_code = admin.post(
        f"/engagements/{target}/purge", data={"confirm": "JIA", "password": PASSWORD}
    )
    assert wrong_code.status_code == 400 and "确认失败" in wrong_code.text
    wrong_password = admin.post(
        f"/engagements/{target}/purge", data={"confirm": "YI", "password": "not-it"}
    )
    assert wrong_password.status_code == 400 and "密码错误" in wrong_password.text
    assert _findings(world, target) == 6
    done = admin.post(
        f"/engagements/{target}/purge",
        data={"confirm": "YI", "password": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303
    record = admin.get(done.headers["location"])
    assert record.status_code == 200
    assert "校验未发现残留" in record.text and "乙单位项目" in record.text
    seq = done.headers["location"].rsplit("/", 1)[1]
    assert f"<dd>{seq}</dd>" in record.text
    assert _findings(world, target) == 0
    with session_scope(world.engine, readonly=True) as db:
        assert db.get(Engagement, target) is None
    assert _findings(world, world.own.engagement_id) == 6
    # The record survives in the audit log; other roles cannot read it back here.
    assert login("engineer").get(done.headers["location"]).status_code == 403


def test_add_a_client_from_the_engagements_page(
    world: World, login: Callable[[str], TestClient]
) -> None:
    engineer = login("engineer")
    page = engineer.get("/engagements")
    assert "新增客户" in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = TestClient(engineer.app)
    form.cookies = engineer.cookies
    done = form.post(
        "/clients",
        data={"name": "丙单位", "code": "BING", "csrf_token": token},
        follow_redirects=True,
    )
    assert done.status_code == 200 and "已新增客户：丙单位" in done.text
    again = form.post("/clients", data={"name": "丙单位", "csrf_token": token})
    assert again.status_code == 409 and "丙单位" in again.text
    # Client roles never see the form and are refused.
    owner = login("owner")
    assert "新增客户" not in owner.get("/engagements").text
    assert owner.post("/clients", data={"name": "丁单位"}).status_code == 403
