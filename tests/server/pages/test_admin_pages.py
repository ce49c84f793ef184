"""用户与角色 and 审计日志 pages: who may see them, account management forms, chain check."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from shaobing.auth import service as accounts
from shaobing.auth.models import User
from shaobing.core.db import session_scope
from tests.server.conftest import World
from tests.server.pages.helpers import form_client


def _user(world: World, name: str) -> User:
    with session_scope(world.engine, readonly=True) as db:
        user = accounts.get_user(db, name)
        db.expunge(user)
        return user


def test_users_page_by_role(world: World, login: Callable[[str], TestClient]) -> None:
    admin = login("admin").get("/users")
    assert admin.status_code == 200
    assert "新增用户" in admin.text and "other_owner" in admin.text and "乙单位" in admin.text
    engineer = login("engineer").get("/users")
    assert engineer.status_code == 200 and "新增用户" not in engineer.text
    for name in ("viewer", "owner"):
        assert login(name).get("/users").status_code == 403
    assert login("engineer").post("/users/viewer/lock").status_code == 403


def test_account_forms(world: World, login: Callable[[str], TestClient]) -> None:
    client, token = form_client(login("admin"), "/users")
    new = {
        "username": "zhang",
        "role": "client_viewer",
        "client": str(world.own.client_id),
        "password": "Harbor#Cloud7791",
        "display_name": "张工",
    }
    assert client.post("/users", data=new).status_code == 403  # no CSRF token
    made = client.post("/users", data=new | {"csrf_token": token}, follow_redirects=False)
    assert made.status_code == 303
    assert "用户 zhang 已创建" in client.get(made.headers["location"]).text
    created = _user(world, "zhang")
    assert created.client_id == world.own.client_id and created.must_change_password
    weak = client.post(
        "/users", data=new | {"username": "li", "password": "123", "csrf_token": token}
    )
    assert weak.status_code == 400 and 'class="alert"' in weak.text
    client.post("/users/viewer/lock", data={"csrf_token": token})
    assert _user(world, "viewer").manually_locked
    client.post("/users/viewer/unlock", data={"csrf_token": token})
    assert not _user(world, "viewer").manually_locked
    client.post("/users/owner/disable", data={"csrf_token": token})
    assert not _user(world, "owner").active
    client.post("/users/owner/enable", data={"csrf_token": token})
    assert _user(world, "owner").active
    client.post(
        "/users/zhang/role",
        data={"role": "client_owner", "client": str(world.own.client_id), "csrf_token": token},
    )
    assert _user(world, "zhang").role == "client_owner"
    # A staff role cannot belong to a client: refused on the page, nothing changes.
    bad_role = client.post(
        "/users/zhang/role",
        data={"role": "engineer", "client": str(world.own.client_id), "csrf_token": token},
    )
    assert bad_role.status_code == 400 and 'class="alert"' in bad_role.text
    assert _user(world, "zhang").role == "client_owner"
    client.post(
        "/users/viewer/password", data={"password": "Meadow#River4410", "csrf_token": token}
    )
    assert _user(world, "viewer").must_change_password
    assert client.post("/users/viewer/explode", data={"csrf_token": token}).status_code == 404


def test_audit_page_and_chain_check(world: World, login: Callable[[str], TestClient]) -> None:
    auditor = login("auditor")
    page = auditor.get("/audit")
    assert (
        page.status_code == 200 and "审计日志" in page.text and "<td>auth.login</td>" in page.text
    )
    checked = auditor.get("/audit?verify=true")
    assert "哈希链完整" in checked.text
    mine = auditor.get("/audit?actor=test")
    assert "<td>auth.login</td>" not in mine.text and "<td>test</td>" in mine.text
    older = auditor.get("/audit?before=3")
    assert older.status_code == 200
    assert '<td class="n">2</td>' in older.text and '<td class="n">3</td>' not in older.text
    for name in ("engineer", "viewer", "owner"):
        assert login(name).get("/audit").status_code == 403
