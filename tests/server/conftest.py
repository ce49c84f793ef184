"""Fixtures of the console tests: two tenants with data, a user of every role, logged-in clients.

``world`` seeds the database once per test (SQLite and PostgreSQL through ``engine``):
client 甲 (own) and 乙 (other), one engagement each with findings and work orders, and users
admin / engineer / auditor / viewer (甲) / owner (甲) / other_viewer (乙) / other_owner (乙).
``login(name)`` gives a TestClient with a live cookie session and the CSRF header set, and
``bearer(name)`` one that authenticates with the token instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from shaobing.auth import service as accounts
from shaobing.auth.passwords import Hasher
from shaobing.auth.policy import AuthContext, load_config
from shaobing.core.db import session_scope
from shaobing.core.settings import reset_settings
from shaobing.engagements.models import Client
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from shaobing.findings.importers.base import FindingInput
from shaobing.findings.ingest import ingest
from shaobing.findings.models import Finding, WorkOrder
from shaobing.findings.severity import Severity
from shaobing.server.app import create_app
from shaobing.server.ratelimit import LoginLimiter, SlidingWindow

# Argon2id at the smallest cost: the real parameters are tested in tests/auth.
CHEAP = Hasher.with_cost(time_cost=1, memory_kib=8, parallelism=1)
PASSWORD = "Tiger#Lamp2046"
# Roles of the seeded users; client users belong to client 甲 unless named other_*.
USERS = {
    "admin": ("admin", None),
    "engineer": ("engineer", None),
    "auditor": ("auditor", None),
    "viewer": ("client_viewer", "own"),
    "owner": ("client_owner", "own"),
    "other_viewer": ("client_viewer", "other"),
    "other_owner": ("client_owner", "other"),
}


@dataclass
class Side:
    """One tenant's seeded objects."""

    client_id: int
    engagement_id: int
    engagement_code: str
    finding_ids: list[int] = field(default_factory=list)
    work_order_ids: list[int] = field(default_factory=list)


@dataclass
class World:
    """The seeded database and the way to reach it over HTTP."""

    engine: Engine
    auth: AuthContext
    own: Side
    other: Side
    home: Path

    def app(self, *, limiter: LoginLimiter | None = None) -> FastAPI:
        """A fresh app over this database (generous login limits unless given)."""
        generous = LoginLimiter(SlidingWindow(10_000, 60.0), SlidingWindow(10_000, 60.0))
        return create_app(self.engine, auth=self.auth, limiter=limiter or generous)


def _findings(client_tag: str, count: int) -> list[FindingInput]:
    levels = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]
    return [
        FindingInput(
            source_tool="nuclei",
            check_id=f"check-{client_tag}-{i}",
            title=f"{client_tag} 测试漏洞 {i}",
            severity=levels[i % len(levels)],
            host=f"127.0.0.{10 + i}",
            port=80 + i,
            protocol="tcp",
            description="测试数据",
            remediation="升级到最新版本",
        )
        for i in range(count)
    ]


def _side(engine: Engine, name: str, code: str, tag: str) -> Side:
    with session_scope(engine) as db:
        client = add_client(db, name, code=f"{code}-C", actor="test")
        engagement = create_engagement(
            db,
            client,
            EngagementInput(name=f"{name}项目", scope=["127.0.0.0/24"], code=code),
            actor="test",
        )
        ingest(db, engagement, _findings(tag, 6), format_name="nuclei")
        db.flush()
        side = Side(client.id, engagement.id, code)
        side.finding_ids = list(
            db.scalars(
                select(Finding.id)
                .where(Finding.engagement_id == engagement.id)
                .order_by(Finding.id)
            )
        )
        side.work_order_ids = list(
            db.scalars(
                select(WorkOrder.id)
                .where(WorkOrder.engagement_id == engagement.id)
                .order_by(WorkOrder.id)
            )
        )
    return side


@pytest.fixture
def world(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Two tenants with data and a user of every role (passwords already changed)."""
    home = tmp_path / "home"
    monkeypatch.setenv("SHAOBING_HOME", str(home))
    monkeypatch.setenv("SHAOBING_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    reset_settings()
    auth = AuthContext(config=load_config(None), hasher=CHEAP)
    own = _side(engine, "甲单位", "JIA", "甲")
    other = _side(engine, "乙单位", "YI", "乙")
    with session_scope(engine) as db:
        for username, (role, tenant) in USERS.items():
            client_id = None if tenant is None else (own if tenant == "own" else other).client_id
            accounts.create_user(
                db,
                username,
                role=role,
                password=PASSWORD,
                client_id=client_id,
                must_change_password=False,
                actor="test",
                ctx=auth,
            )
    yield World(engine, auth, own, other, home)
    reset_settings()


def _client(world: World, username: str, *, bearer: bool) -> TestClient:
    client = TestClient(world.app(), base_url="http://testserver")
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    data = response.json()
    if bearer:
        client.cookies.clear()
        client.headers["Authorization"] = f"Bearer {data['token']}"
    else:
        client.headers["X-CSRF-Token"] = data["csrf_token"]
    return client


@pytest.fixture
def login(world: World) -> Callable[[str], TestClient]:
    """A TestClient logged in as ``username`` by cookie, CSRF header set."""
    return lambda username: _client(world, username, bearer=False)


@pytest.fixture
def bearer(world: World) -> Callable[[str], TestClient]:
    """A TestClient authenticated as ``username`` by bearer token (no cookie)."""
    return lambda username: _client(world, username, bearer=True)


def client_ids(engine: Engine) -> list[int]:
    """Every client id (for assertions)."""
    with session_scope(engine, readonly=True) as db:
        return list(db.scalars(select(Client.id)))
