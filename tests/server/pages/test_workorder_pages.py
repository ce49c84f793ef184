"""整改工单 pages: the client owner's flow to 已修复, the engineer's verification, retest,
assignment and comments, with tenant and role refusals."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from shaobing.core.db import session_scope
from shaobing.findings.models import WorkOrder
from tests.server.conftest import World
from tests.server.pages.helpers import form_client


def _order(world: World, order_id: int) -> tuple[str, str | None]:
    with session_scope(world.engine, readonly=True) as db:
        order = db.get_one(WorkOrder, order_id)
        return order.state, order.assignee


def test_list_shows_own_orders_and_owner_guide(
    world: World, login: Callable[[str], TestClient]
) -> None:
    page = login("owner").get("/workorders")
    assert page.status_code == 200
    assert "整改流程" in page.text and "甲 测试漏洞" in page.text and "乙" not in page.text
    assert login("owner").get("/workorders?engagement=YI").status_code == 404
    assert login("owner").get(f"/workorders/{world.other.work_order_ids[0]}").status_code == 404
    engineer = login("engineer").get("/workorders?engagement=YI")
    assert engineer.status_code == 200 and "整改流程" not in engineer.text


def test_owner_fixes_and_engineer_verifies(
    world: World, login: Callable[[str], TestClient]
) -> None:
    order_id = world.own.work_order_ids[0]
    owner = login("owner")
    page = owner.get(f"/workorders/{order_id}")
    assert "标记为已修复" in page.text and "申请复测" in page.text
    said = owner.post(
        f"/workorders/{order_id}/comment", data={"text": "已升级组件"}, follow_redirects=False
    )
    assert said.status_code == 303
    fixed = owner.post(
        f"/workorders/{order_id}/transition", data={"to": "fixed"}, follow_redirects=False
    )
    assert fixed.status_code == 303
    assert _order(world, order_id)[0] == "fixed"
    shown = owner.get(fixed.headers["location"])
    assert "工单状态已更新" in shown.text and "已升级组件" in shown.text
    # The owner cannot verify its own fix: 已验证 is the engineer's move.
    refused = owner.post(f"/workorders/{order_id}/transition", data={"to": "verified"})
    assert refused.status_code == 400 and 'class="alert"' in refused.text
    assert _order(world, order_id)[0] == "fixed"
    engineer = login("engineer")
    assert "标记为已验证" in engineer.get(f"/workorders/{order_id}").text
    engineer.post(f"/workorders/{order_id}/transition", data={"to": "verified"})
    assert _order(world, order_id)[0] == "verified"


def test_retest_button_reports_each_finding(
    world: World, login: Callable[[str], TestClient]
) -> None:
    order_id = world.own.work_order_ids[1]
    owner = login("owner")
    done = owner.post(f"/workorders/{order_id}/retest", follow_redirects=False)
    assert done.status_code == 303 and "retested=0" in done.headers["location"]
    # The seeded findings come from an imported nuclei file: no automatic re-check exists.
    assert "无法自动复测" in owner.get(done.headers["location"]).text
    assert login("viewer").post(f"/workorders/{order_id}/retest").status_code == 403


def test_assign_needs_role_csrf_and_tenant(
    world: World, login: Callable[[str], TestClient]
) -> None:
    order_id = world.own.work_order_ids[2]
    client, token = form_client(login("engineer"), f"/workorders/{order_id}")
    assert (
        client.post(f"/workorders/{order_id}/assign", data={"assignee": "张三"}).status_code == 403
    )
    assert _order(world, order_id) == ("new", None)
    client.post(f"/workorders/{order_id}/assign", data={"assignee": "张三", "csrf_token": token})
    assert _order(world, order_id) == ("to_fix", "张三")
    assert (
        login("owner").post(f"/workorders/{order_id}/assign", data={"assignee": "x"}).status_code
        == 403
    )
    other_id = world.other.work_order_ids[0]
    owner = login("owner")
    assert owner.post(f"/workorders/{other_id}/transition", data={"to": "fixed"}).status_code == 404
    assert owner.post(f"/workorders/{other_id}/comment", data={"text": "x"}).status_code == 404
    assert _order(world, other_id)[0] == "new"
