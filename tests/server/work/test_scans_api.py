"""Scans through the API: a real scan of a local listener, scope refusal, roles, tenants."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.core.db import session_scope
from shaobing.scan.models import ScanRun
from tests.server.conftest import World
from tests.server.work.helpers import wait_final

Login = Callable[[str], TestClient]


class Listener:
    """A TCP service on 127.0.0.1 that greets every connection with an SSH-like banner."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            # Scanners hang up early (resets are normal here).
            try:
                conn.sendall(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n")
                conn.settimeout(0.5)
                conn.recv(1024)
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _scan_count(world: World) -> int:
    with session_scope(world.engine, readonly=True) as db:
        return int(db.scalar(select(func.count()).select_from(ScanRun)) or 0)


def test_real_scan_of_local_listener_from_launch_to_completed(
    world: World, login: Login, listener: Listener
) -> None:
    engineer = login("engineer")
    response = engineer.post(
        "/api/v1/scans",
        json={
            "engagement": "JIA",
            "kind": "network",
            "targets": ["127.0.0.1"],
            "ports": str(listener.port),
            "policy": "discovery",
            "timeout": 2,
        },
    )
    assert response.status_code == 202, response.text
    launched = response.json()
    assert launched["engagement_code"] == "JIA"
    assert launched["status"] in {"planned", "running", "completed"}
    data = wait_final(engineer, launched["id"])
    assert data["status"] == "completed", data
    assert data["progress"] == 100 and data["status_label"] == "已完成"
    ports = [(h["address"], p["port"]) for h in data["hosts"] for p in h["ports"]]
    assert ("127.0.0.1", listener.port) in ports
    assert data["counts"]["open_ports"] >= 1
    assert listener.connections >= 1
    log = world.home / "logs" / f"scan-{launched['id']}.log"
    assert "status completed" in log.read_text(encoding="utf-8")
    # The client's people follow it (read only); the other client does not see it.
    assert login("viewer").get(f"/api/v1/scans/{launched['id']}").status_code == 200
    assert login("other_viewer").get(f"/api/v1/scans/{launched['id']}").status_code == 404
    listed = login("viewer").get("/api/v1/scans", params={"engagement": "JIA"}).json()
    assert [s["id"] for s in listed["items"]] == [launched["id"]]
    assert login("other_viewer").get("/api/v1/scans").json()["items"] == []
    # A finished scan can no longer be controlled.
    refused = engineer.post(f"/api/v1/scans/{launched['id']}/pause")
    assert refused.status_code == 400 and "已结束" in refused.json()["error"]


def test_target_outside_scope_is_refused_and_nothing_runs(world: World, login: Login) -> None:
    engineer = login("engineer")
    before = _scan_count(world)
    response = engineer.post(
        "/api/v1/scans",
        json={"engagement": "JIA", "targets": ["127.0.1.5"], "ports": "80", "policy": "quick"},
    )
    assert response.status_code == 400
    assert "127.0.1.5" in response.json()["error"]
    web = engineer.post(
        "/api/v1/scans",
        json={"engagement": "JIA", "kind": "web", "url": "http://127.0.1.5:8080/"},
    )
    assert web.status_code == 400 and "授权范围" in web.json()["error"]
    assert _scan_count(world) == before


@pytest.mark.parametrize("user", ["auditor", "viewer", "owner"])
def test_roles_without_launch_are_refused(world: World, login: Login, user: str) -> None:
    response = login(user).post(
        "/api/v1/scans", json={"engagement": "JIA", "targets": ["127.0.0.1"], "ports": "1"}
    )
    assert response.status_code == 403
    assert _scan_count(world) == 0


def test_other_tenant_engagement_is_not_found(world: World, login: Login) -> None:
    # A client user naming the other client's engagement: "not found", nothing recorded.
    owner = login("other_owner")
    assert owner.get("/api/v1/scans", params={"engagement": "JIA"}).status_code == 404
    assert _scan_count(world) == 0


def test_control_of_a_planned_scan(world: World, login: Login, bearer: Login) -> None:
    from shaobing.scan.service import ScanRequest, plan_scan

    scan_id = plan_scan(
        world.engine,
        ScanRequest(targets=["127.0.0.1"], engagement="JIA", ports="1", policy="quick"),
        actor="test",
    )
    # Client users and the auditor may not control it; the other tenant does not see it.
    assert login("owner").post(f"/api/v1/scans/{scan_id}/cancel").status_code == 403
    assert login("auditor").post(f"/api/v1/scans/{scan_id}/pause").status_code == 403
    assert login("other_owner").post(f"/api/v1/scans/{scan_id}/cancel").status_code == 404
    # Without the CSRF header a cookie session is refused.
    engineer = login("engineer")
    engineer.headers.pop("X-CSRF-Token")
    assert engineer.post(f"/api/v1/scans/{scan_id}/cancel").status_code == 403
    with session_scope(world.engine, readonly=True) as db:
        run = db.get(ScanRun, scan_id)
        assert run is not None and run.status == "planned"
    # A bearer token needs no CSRF; a planned scan is cancelled at once.
    cancelled = bearer("engineer").post(f"/api/v1/scans/{scan_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    resumed = bearer("admin").post(f"/api/v1/scans/{scan_id}/resume")
    assert resumed.status_code == 400 and "已取消" in resumed.json()["error"]
