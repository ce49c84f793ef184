"""Remediation SLA days and re-deduplication from the console: API, pages, refusals."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.core.db import session_scope
from shaobing.engagements.models import Engagement
from shaobing.findings.models import Finding
from shaobing.findings.service import sla_table
from tests.server.conftest import World, login, world
from tests.server.pages.helpers import form_client

__all__ = ["login", "world"]

Login = Callable[[str], TestClient]
FIELDS = (
    "source_tool", "check_id", "host", "port", "protocol", "url", "parameter", "file_path",
    "line", "tool_unique_id", "dedup_scope",
)  # fmt: skip


def _days(world: World, engagement_id: int) -> dict[str, int | None]:
    with session_scope(world.engine, readonly=True) as db:
        return sla_table(db, db.get_one(Engagement, engagement_id))


def test_sla_api_and_form(world: World, login: Login) -> None:
    url = f"/api/v1/engagements/{world.own.engagement_code}/sla"
    before_other = _days(world, world.other.engagement_id)
    engineer = login("engineer")
    changed = engineer.post(url, json={"days": {"high": 15, "严重": 3}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["days"]["high"] == 15 and changed.json()["days"]["critical"] == 3
    assert login("viewer").get(url).json()["days"]["high"] == 15
    for name in ("auditor", "viewer", "owner"):
        assert login(name).post(url, json={"days": {"high": 1}}).status_code == 403, name
    other = login("other_owner")
    assert other.post(url, json={"days": {"high": 1}}).status_code == 404
    assert other.get(url).status_code == 404
    bad = engineer.post(url, json={"days": {"urgent": 5}})
    assert bad.status_code == 400 and "urgent" in bad.json()["error"]
    assert engineer.post(url, json={"days": {"low": 0}}).status_code == 400
    assert _days(world, world.own.engagement_id)["high"] == 15
    assert _days(world, world.other.engagement_id) == before_other

    page_url = f"/engagements/{world.own.engagement_id}"
    page, token = form_client(engineer, page_url)
    assert page.post(f"{page_url}/sla", data={"medium": "20"}).status_code == 403
    saved = page.post(f"{page_url}/sla", data={"medium": "20", "csrf_token": token})
    assert saved.status_code == 200 and "整改时限已保存" in saved.text
    assert _days(world, world.own.engagement_id)["medium"] == 20
    wrong = page.post(f"{page_url}/sla", data={"low": "abc", "csrf_token": token})
    assert wrong.status_code == 400 and "abc" in wrong.text
    viewer_page = login("viewer").get(page_url).text
    assert f'action="{page_url}/sla"' not in viewer_page


def _make_duplicate(world: World) -> int:
    """Give a finding another's identity under a stale fingerprint: rededup must merge it."""
    keep, dup = world.own.finding_ids[:2]
    with session_scope(world.engine) as db:
        first, second = db.get_one(Finding, keep), db.get_one(Finding, dup)
        for name in FIELDS:
            setattr(second, name, getattr(first, name))
        second.fingerprint = "stale-" + (first.fingerprint or "")[:40]
    return dup


def _count(world: World, engagement_id: int) -> int:
    with session_scope(world.engine, readonly=True) as db:
        query = select(func.count()).where(Finding.engagement_id == engagement_id)
        return int(db.scalar(query) or 0)


def test_rededup_api_and_button(world: World, login: Login) -> None:
    url = f"/api/v1/findings/rededup?engagement={world.own.engagement_id}"
    total = _count(world, world.own.engagement_id)
    _make_duplicate(world)
    for name in ("auditor", "viewer", "owner"):
        assert login(name).post(url).status_code == 403, name
    assert login("other_owner").post(url).status_code == 404
    assert _count(world, world.own.engagement_id) == total

    engineer = login("engineer")
    done = engineer.post(url)
    assert done.status_code == 200, done.text
    assert done.json() == {"findings": total, "changed": 0, "merged": 1}
    assert _count(world, world.own.engagement_id) == total - 1

    page, token = form_client(engineer, f"/findings?engagement={world.own.engagement_id}")
    assert "重新去重" in page.get(f"/findings?engagement={world.own.engagement_id}").text
    form = {"engagement": str(world.own.engagement_id)}
    assert page.post("/findings/rededup", data=form).status_code == 403
    again = page.post("/findings/rededup", data=form | {"csrf_token": token})
    assert again.status_code == 200 and f"已重新计算 {total - 1} 个问题的指纹" in again.text
    assert (
        "/findings/rededup"
        not in login("viewer").get(f"/findings?engagement={world.own.engagement_id}").text
    )
