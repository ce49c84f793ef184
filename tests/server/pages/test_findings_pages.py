"""漏洞与问题 pages: tenant isolation, filters, keyset pages, transitions, bulk moves, CSRF."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shaobing.core.db import session_scope
from shaobing.findings.models import Finding
from shaobing.server.pages import findings as findings_pages
from tests.server.conftest import World
from tests.server.pages.helpers import form_client


def _status(world: World, finding_id: int) -> str:
    with session_scope(world.engine, readonly=True) as db:
        return db.get_one(Finding, finding_id).status


def test_client_users_see_only_their_tenant(
    world: World, login: Callable[[str], TestClient]
) -> None:
    page = login("owner").get("/findings")
    assert page.status_code == 200
    assert "漏洞与问题" in page.text and "甲 测试漏洞 0" in page.text
    assert "乙" not in page.text
    other = login("other_viewer").get("/findings")
    assert "乙 测试漏洞 0" in other.text and "甲" not in other.text
    assert (
        login("owner").get(f"/findings?engagement={world.other.engagement_code}").status_code == 404
    )
    assert login("owner").get(f"/findings/{world.other.finding_ids[0]}").status_code == 404


def test_filters_and_keyset_pages(
    world: World, login: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    engineer = login("engineer")
    critical = engineer.get("/findings?engagement=JIA&severity=critical")
    assert critical.status_code == 200
    # Severities cycle critical, high, medium, low, info: findings 0 and 5 are critical.
    assert "甲 测试漏洞 0" in critical.text and "甲 测试漏洞 5" in critical.text
    assert "甲 测试漏洞 1" not in critical.text
    host = engineer.get("/findings?engagement=JIA&host=127.0.0.12")
    assert "甲 测试漏洞 2" in host.text and "甲 测试漏洞 3" not in host.text
    monkeypatch.setattr(findings_pages, "PAGE_SIZE", 4)
    first = engineer.get("/findings?engagement=JIA")
    titles = [f"甲 测试漏洞 {i}" for i in range(6)]
    on_first = [t for t in titles if t in first.text]
    assert len(on_first) == 4
    marker = 'href="/findings?engagement='
    link = next(
        part.split('"')[0]
        for part in first.text.split(marker)[1:]
        if "after=" in part.split('"')[0]
    )
    second = engineer.get("/findings?engagement=" + link.replace("&amp;", "&"))
    on_second = [t for t in titles if t in second.text]
    assert sorted(on_first + on_second) == titles
    assert engineer.get("/findings?engagement=JIA&after=bogus").status_code == 400


def test_detail_offers_only_allowed_moves(world: World, login: Callable[[str], TestClient]) -> None:
    fid = world.own.finding_ids[0]
    engineer = login("engineer").get(f"/findings/{fid}")
    assert engineer.status_code == 200 and "处理历史" in engineer.text
    assert 'value="false_positive"' in engineer.text
    # 风险接受 from 新增 belongs to the client owner, not the engineer.
    assert 'value="risk_accepted"' not in engineer.text
    for name in ("viewer", "owner", "auditor"):
        page = login(name).get(f"/findings/{fid}")
        assert page.status_code == 200 and "提交变更" not in page.text


def test_transition_form_with_reason(world: World, login: Callable[[str], TestClient]) -> None:
    fid = world.own.finding_ids[1]
    engineer = login("engineer")
    missing = engineer.post(f"/findings/{fid}/transition", data={"to": "false_positive"})
    assert missing.status_code == 400 and 'class="alert"' in missing.text
    assert _status(world, fid) == "new"
    done = engineer.post(
        f"/findings/{fid}/transition",
        data={"to": "false_positive", "reason": "版本号误判"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/findings/{fid}?done=true"
    assert _status(world, fid) == "false_positive"
    shown = engineer.get(done.headers["location"])
    assert "版本号误判" in shown.text and "状态已变更" in shown.text
    denied = login("viewer").post(f"/findings/{fid}/transition", data={"to": "to_fix"})
    assert denied.status_code == 403


def test_bulk_move_checks_csrf_and_tenant(world: World, login: Callable[[str], TestClient]) -> None:
    ids = world.own.finding_ids[:2]
    client, token = form_client(login("engineer"), "/findings?engagement=JIA")
    no_token = client.post("/findings/bulk", data={"engagement": "JIA", "ids": ids, "to": "to_fix"})
    assert no_token.status_code == 403
    assert {_status(world, i) for i in ids} == {"new"}
    foreign = client.post(
        "/findings/bulk",
        data={
            "engagement": "JIA",
            "ids": [ids[0], world.other.finding_ids[0]],
            "to": "to_fix",
            "csrf_token": token,
        },
    )
    assert foreign.status_code == 404
    assert _status(world, ids[0]) == "new" and _status(world, world.other.finding_ids[0]) == "new"
    moved = client.post(
        "/findings/bulk",
        data={"engagement": "JIA", "ids": ids, "to": "to_fix", "csrf_token": token},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert {_status(world, i) for i in ids} == {"to_fix"}
    assert "2 项已变更" in client.get(moved.headers["location"]).text
    with session_scope(world.engine, readonly=True) as db:
        others = db.scalars(
            select(Finding.status).where(Finding.engagement_id == world.other.engagement_id)
        )
        assert set(others) == {"new"}
