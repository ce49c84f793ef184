"""The fixture world itself: every role logs in, the tenants are apart."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.server.conftest import USERS, World


def test_every_role_logs_in_and_sees_itself(login: Callable[[str], TestClient]) -> None:
    for name, (role, _) in USERS.items():
        me = login(name).get("/api/v1/auth/me").json()
        assert (me["username"], me["role"]) == (name, role)


def test_world_has_two_tenants_with_findings(world: World) -> None:
    assert world.own.client_id != world.other.client_id
    assert len(world.own.finding_ids) == 6 and len(world.other.finding_ids) == 6
    assert world.own.work_order_ids and world.other.work_order_ids
