"""The credential API and page, and baseline checks launched from the console (J2).

Runs on the console fixtures of tests/server (two tenants, a user of every role). Checks
reach a real sshd and a real Redis on 127.0.0.1 with stored credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.baseline.models import BaselineRun
from shaobing.core.audit import AuditEvent
from shaobing.core.db import session_scope
from shaobing.credentials.models import TargetCredential
from tests.credentials.conftest import KEY_PASSPHRASE, SSH_PASSWORD, Sshd
from tests.server.conftest import World, bearer, login, world
from tests.services.redis import WEAK_PASSWORD, RedisServers, redis_servers

__all__ = ["bearer", "login", "redis_servers", "world"]

Login = Callable[[str], TestClient]
SECRET = "Api#secret-41-Ψ"
SSH_RULES = ["linux.ssh.permit-root-login", "linux.ssh.max-auth-tries"]


def _body(name: str = "web-root", **kw: Any) -> dict[str, Any]:
    return {"name": name, "kind": "ssh_password", "username": "ops", "secret": SECRET} | kw


def _count(world: World) -> int:
    with session_scope(world.engine, readonly=True) as db:
        return int(db.scalar(select(func.count()).select_from(TargetCredential)) or 0)


def _audit_text(world: World) -> str:
    with session_scope(world.engine, readonly=True) as db:
        rows = db.execute(select(AuditEvent.action, AuditEvent.target, AuditEvent.detail)).all()
    return json.dumps([list(r) for r in rows], ensure_ascii=False)


def test_crud_never_returns_the_secret(world: World, login: Login) -> None:
    engineer = login("engineer")
    url = f"/api/v1/credentials?engagement={world.own.engagement_id}"
    made = engineer.post(url, json=_body(targets=["127.0.0.0/24"]))
    assert made.status_code == 201, made.text
    data = made.json()
    assert (data["name"], data["kind"], data["targets"]) == (
        "web-root",
        "ssh_password",
        ["127.0.0.0/24"],
    )
    assert data["created_by"] == "web:engineer" and SECRET not in made.text
    listed = engineer.get(url)
    assert [c["name"] for c in listed.json()["items"]] == ["web-root"] and SECRET not in listed.text
    again = engineer.post(url, json=_body())
    assert again.status_code == 409 and "已有名为 web-root 的凭据" in again.json()["error"]
    bad = engineer.post(url, json=_body(name="x", targets=["999.1.1.1/8"]))
    assert bad.status_code == 400 and bad.json()["error"].startswith("适用目标 999.1.1.1/8 无效")

    rotated = engineer.post(
        f"/api/v1/credentials/{data['id']}/rotate", json={"secret": SECRET + "2"}
    )
    assert rotated.status_code == 200 and SECRET not in rotated.text
    gone = engineer.delete(f"/api/v1/credentials/{data['id']}")
    assert gone.json() == {"deleted": "web-root", "id": data["id"]}
    assert _count(world) == 0
    text = _audit_text(world)
    assert SECRET not in text
    assert all(a in text for a in ("credential.add", "credential.rotate", "credential.remove"))


def test_roles_and_tenants(world: World, login: Login, bearer: Login) -> None:
    own = f"/api/v1/credentials?engagement={world.own.engagement_id}"
    created = login("admin").post(own, json=_body())
    assert created.status_code == 201
    cred_id = created.json()["id"]
    # readers: auditor and the client's owner see names, never secrets; viewers see nothing
    for user in ("auditor", "owner"):
        response = login(user).get(own)
        assert response.status_code == 200 and response.json()["items"][0]["name"] == "web-root"
        assert SECRET not in response.text
    assert login("viewer").get(own).status_code == 403
    # writers: admin and engineer only
    for user in ("auditor", "owner", "viewer"):
        client = login(user)
        assert client.post(own, json=_body("more")).status_code == 403, user
        assert client.delete(f"/api/v1/credentials/{cred_id}").status_code in (403, 404)
        rotate = client.post(f"/api/v1/credentials/{cred_id}/rotate", json={"secret": "x"})
        assert rotate.status_code in (403, 404), user
    # the other client's users: the engagement and the credential do not exist for them
    other = login("other_owner")
    assert other.get(own).status_code == 404
    assert other.delete(f"/api/v1/credentials/{cred_id}").status_code == 404
    assert (
        other.post(f"/api/v1/credentials/{cred_id}/rotate", json={"secret": "x"}).status_code == 404
    )
    assert _count(world) == 1
    # bearer callers need no CSRF token; cookie callers without it are refused
    assert bearer("engineer").get(own).status_code == 200
    naked = login("engineer")
    del naked.headers["X-CSRF-Token"]
    assert naked.delete(f"/api/v1/credentials/{cred_id}").status_code == 403
    assert _count(world) == 1


def test_page_forms(world: World, login: Login) -> None:
    client = login("engineer")
    page = f"/credentials?engagement={world.own.engagement_id}"
    assert "新增凭据" in client.get(page).text
    token = client.headers["X-CSRF-Token"]
    form = {
        "csrf_token": token,
        "engagement": str(world.own.engagement_id),
        "name": "db-main",
        "kind": "db_password",
        "username": "audit",
        "targets": "127.0.0.1\n127.0.0.2",
        "password": SECRET,
    }
    added = client.post("/credentials", data=form, follow_redirects=False)
    assert added.status_code == 303, added.text
    shown = client.get(added.headers["location"])
    assert "凭据 db-main 已保存" in shown.text and "127.0.0.1、127.0.0.2" in shown.text
    assert SECRET not in shown.text
    refused = client.post("/credentials", data=form | {"name": "bad name"})
    assert refused.status_code == 400 and "凭据名称 bad name 无效" in refused.text
    assert SECRET not in refused.text  # a refused form does not echo the secret
    cred_id = int(re.findall(r"/credentials/(\d+)/rotate", shown.text)[0])
    rotate = {"csrf_token": token, "password": SECRET + "9"}
    assert (
        client.post(
            f"/credentials/{cred_id}/rotate", data=rotate, follow_redirects=False
        ).status_code
        == 303
    )
    delete = client.post(
        f"/credentials/{cred_id}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert delete.status_code == 303 and _count(world) == 0
    # read-only users see the list without forms; other tenants get "not found"
    assert "新增凭据" not in login("auditor").get(page).text
    assert login("other_owner").get(page).status_code == 404


# ---- baseline checks from the console ------------------------------------------------------


def _check(client: TestClient, world: World, **kw: Any) -> Any:
    body = {"engagement": world.own.engagement_code, "profile": "linux", "rules": SSH_RULES} | kw
    return client.post("/api/v1/baseline/check", json=body)


def _results(world: World, run_id: int) -> dict[str, str]:
    with session_scope(world.engine, readonly=True) as db:
        run = db.get_one(BaselineRun, run_id)
        return {r["rule_id"]: r["status"] for r in run.results}


def test_ssh_check_with_stored_password_and_key(world: World, login: Login, sshd: Sshd) -> None:
    client = login("engineer")
    url = f"/api/v1/credentials?engagement={world.own.engagement_id}"
    assert client.post(url, json=_body("pw", username=sshd.user, secret=SSH_PASSWORD,
                                       targets=["127.0.0.1"])).status_code == 201  # fmt: skip
    key = _body("key", kind="ssh_key", username=sshd.user, secret=sshd.key_pem,
                passphrase=KEY_PASSPHRASE)  # fmt: skip
    made = client.post(url, json=key)
    assert made.status_code == 201 and made.json()["fingerprint"].startswith("SHA256:")
    target = f"ssh://127.0.0.1:{sshd.port}"
    for name in ("pw", "key"):
        response = _check(client, world, target=target, credential=name)
        assert response.status_code == 201, response.text
        run = response.json()
        assert run["target"] == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}"
        assert run["created_by"] == "web:engineer"
        results = _results(world, run["id"])
        assert set(results) == set(SSH_RULES) and "error" not in results.values()
    listed = client.get(url).json()["items"]
    assert all(c["last_used_at"] for c in listed)
    text = _audit_text(world)
    assert SSH_PASSWORD not in text and KEY_PASSPHRASE not in text and "PRIVATE" not in text


def test_redis_check_and_refusals(world: World, login: Login, redis_servers: RedisServers) -> None:
    client = login("engineer")
    url = f"/api/v1/credentials?engagement={world.own.engagement_id}"
    body = _body("redis", kind="db_password", username="", secret=WEAK_PASSWORD,
                 targets=["127.0.0.1"])  # fmt: skip
    assert client.post(url, json=body).status_code == 201
    dsn = f"redis://127.0.0.1:{redis_servers.weak}/"
    response = _check(client, world, profile="redis", rules=[], target=dsn, credential="redis")
    assert response.status_code == 201, response.text
    assert _results(world, response.json()["id"])["redis.limits.timeout"] == "fail"

    refusals = [
        ({"target": "local"}, 400, "控制台不能核查平台服务器本机"),
        ({"target": f"ssh://ops@127.0.0.1:{redis_servers.weak}"}, 400, "必须选择保密库中的凭据"),
        ({"target": "ssh://ops:pw@127.0.0.1"}, 400, "目标 ssh://ops@127.0.0.1 中含有密码"),
        ({"target": dsn, "profile": "/etc/passwd"}, 400, "基线 /etc/passwd 不存在"),
        ({"target": "redis://127.0.0.2:6379/", "profile": "redis", "credential": "redis"}, 400,
         "凭据 redis 不允许用于目标 redis://127.0.0.2:6379/（允许的目标：127.0.0.1）"),
        ({"target": dsn, "credential": "nope"}, 404, "没有名为 nope 的凭据"),
    ]  # fmt: skip
    for extra, status, message in refusals:
        answer = _check(client, world, **extra)
        assert answer.status_code == status, (extra, answer.text)
        assert message in answer.json()["error"], answer.text
        assert "pw@" not in answer.text
    # roles without baseline.check, and the other tenant, are refused
    assert _check(login("auditor"), world, target=dsn).status_code == 403
    assert _check(login("owner"), world, target=dsn).status_code == 403
    assert _check(login("other_owner"), world, target=dsn).status_code == 404
    with session_scope(world.engine, readonly=True) as db:
        assert db.scalar(select(func.count()).select_from(BaselineRun)) == 1


def test_baseline_page_form(world: World, login: Login, redis_servers: RedisServers) -> None:
    client = login("engineer")
    url = f"/api/v1/credentials?engagement={world.own.engagement_id}"
    body = _body("redis", kind="db_password", username="", secret=WEAK_PASSWORD)
    assert client.post(url, json=body).status_code == 201
    page = client.get(f"/baseline?engagement={world.own.engagement_id}")
    assert "执行基线核查" in page.text and "redis · 数据库密码" in page.text
    form = {
        "csrf_token": client.headers["X-CSRF-Token"],
        "engagement": str(world.own.engagement_id),
        "profile": "redis",
        "target": f"redis://127.0.0.1:{redis_servers.weak}/",
        "credential": "redis",
    }
    done = client.post("/baseline/check", data=form, follow_redirects=False)
    assert done.status_code == 303 and re.fullmatch(r"/baseline/\d+", done.headers["location"])
    assert "redis.limits.timeout" in client.get(done.headers["location"]).text
    refused = client.post("/baseline/check", data=form | {"target": "local"})
    assert refused.status_code == 400 and "控制台不能核查平台服务器本机" in refused.text
    assert (
        "执行基线核查"
        not in login("auditor").get(f"/baseline?engagement={world.own.engagement_id}").text
    )
