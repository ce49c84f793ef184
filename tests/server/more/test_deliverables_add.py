"""``POST /api/v1/deliverables``: adding an on-demand deliverable, roles and tenants."""

from __future__ import annotations

from sqlalchemy import func, select

from shaobing.core.db import session_scope
from shaobing.engagements.models import Deliverable
from tests.server.conftest import World
from tests.server.more.helpers import Login, one_line_error

INCIDENT = {"engagement": "JIA", "kind": "incident_report", "due": "2030-01-31"}


def _count(world: World) -> int:
    with session_scope(world.engine, readonly=True) as db:
        return int(db.scalar(select(func.count()).select_from(Deliverable)) or 0)


def test_engineer_adds_a_deliverable(world: World, login: Login) -> None:
    engineer = login("engineer")
    added = engineer.post(
        "/api/v1/deliverables", json=INCIDENT | {"period": "2030-01", "note": "勒索软件事件"}
    )
    assert added.status_code == 200, added.text
    data = added.json()
    assert (data["kind"], data["title"], data["state"]) == (
        "incident_report",
        "应急响应报告",
        "planned",
    )
    assert data["due_date"] == "2030-01-31" and data["period"] == "2030-01"
    assert "file_path" not in data
    listed = login("owner").get("/api/v1/deliverables", params={"engagement": "JIA"}).json()
    assert [d["id"] for d in listed["items"]] == [data["id"]]
    with session_scope(world.engine, readonly=True) as db:
        row = db.get_one(Deliverable, data["id"])
        assert row.engagement_id == world.own.engagement_id
        assert row.extra["added_by"] == "web:engineer" and row.extra["note"] == "勒索软件事件"


def test_bad_deliverables_are_refused_in_one_line(world: World, login: Login) -> None:
    engineer = login("engineer")
    before = _count(world)
    unknown = engineer.post("/api/v1/deliverables", json=INCIDENT | {"kind": "poem"})
    assert unknown.status_code == 400 and "poem" in one_line_error(unknown.text)
    period = engineer.post("/api/v1/deliverables", json=INCIDENT | {"period": "someday"})
    assert period.status_code == 400 and "someday" in one_line_error(period.text)
    due = engineer.post("/api/v1/deliverables", json=INCIDENT | {"due": "31/01/2030"})
    assert due.status_code == 422
    assert _count(world) == before


def test_roles_and_other_tenant_are_refused(world: World, login: Login) -> None:
    before = _count(world)
    for user in ("auditor", "viewer", "owner"):
        assert login(user).post("/api/v1/deliverables", json=INCIDENT).status_code == 403
    assert login("other_owner").post("/api/v1/deliverables", json=INCIDENT).status_code == 404
    yi = INCIDENT | {"engagement": str(world.other.engagement_id)}
    assert login("owner").post("/api/v1/deliverables", json=yi).status_code == 404
    no_csrf = login("engineer")
    no_csrf.headers.pop("X-CSRF-Token")
    assert no_csrf.post("/api/v1/deliverables", json=INCIDENT).status_code == 403
    assert _count(world) == before
