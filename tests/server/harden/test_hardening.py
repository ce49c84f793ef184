"""Baseline hardening from the console (C3) against a real sshd and its account's tree.

One flow: plan (nothing changes), a plan changed on the target is refused, the page's
confirmation applies the plan (files, reload command, records), the page's rollback button
restores the files byte for byte. Refusals: roles without baseline.harden, the other tenant,
a page form without its CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.baseline.models import BaselineRun, HardeningRun
from shaobing.core.db import session_scope
from tests.server.conftest import World
from tests.server.harden.conftest import PASSWORD, Target
from tests.server.pages.helpers import form_client

Login = Callable[[str], TestClient]
RULES = ["linux.ssh.permit-root-login", "linux.ssh.max-auth-tries"]
CONFIG = "/etc/ssh/sshd_config"
DROP_IN = "/etc/ssh/sshd_config.d/00-shaobing-baseline.conf"


def _runs(world: World) -> int:
    with session_scope(world.engine, readonly=True) as db:
        return int(db.scalar(select(func.count()).select_from(HardeningRun)) or 0)


def _body(world: World, ssh: Target, **kw: Any) -> dict[str, Any]:
    return {
        "engagement": world.own.engagement_code,
        "profile": "linux",
        "target": f"ssh://127.0.0.1:{ssh.port}",
        "credential": "ops-pw",
        "rules": RULES,
    } | kw


def _add_credential(client: TestClient, world: World, target: Target) -> None:
    body = {
        "name": "ops-pw",
        "kind": "ssh_password",
        "username": target.user,
        "secret": PASSWORD,
        "targets": ["127.0.0.1"],
    }
    made = client.post(f"/api/v1/credentials?engagement={world.own.engagement_id}", json=body)
    assert made.status_code == 201, made.text


def _refusals(world: World, login: Login, target: Target) -> None:
    body = _body(world, target)
    for name in ("auditor", "viewer", "owner"):
        assert login(name).post("/api/v1/baseline/harden", json=body).status_code == 403, name
    other = login("other_owner")
    assert other.post("/api/v1/baseline/harden", json=body).status_code == 404
    assert (
        other.get(f"/api/v1/baseline/hardening?engagement={world.own.engagement_id}").status_code
        == 404
    )
    local = login("engineer").post(
        "/api/v1/baseline/harden", json=_body(world, target, target="local")
    )
    assert local.status_code == 400 and "local" in local.json()["error"]
    assert _runs(world) == 0


def test_plan_apply_refuse_changed_and_rollback(world: World, login: Login, target: Target) -> None:
    engineer = login("engineer")
    _add_credential(engineer, world, target)
    _refusals(world, login, target)
    original = target.file(CONFIG).read_bytes()

    # The plan: exact diffs and commands, and nothing written on the target.
    planned = engineer.post("/api/v1/baseline/harden", json=_body(world, target))
    assert planned.status_code == 200, planned.text
    plan = planned.json()
    assert plan["run_id"] is None and plan["actionable"] == 2, plan
    assert plan["target"] == f"ssh://{target.user}@127.0.0.1:{target.port}"
    assert "+PermitRootLogin no" in plan["diffs"][CONFIG]
    assert "+MaxAuthTries" in plan["diffs"][DROP_IN], plan["diffs"]
    assert all(r["commands"] for r in plan["plan"])
    assert target.file(CONFIG).read_bytes() == original
    assert not target.file(DROP_IN).exists()

    # Edited on the target since the preview: the old token is refused, nothing changes.
    edited = original + b"# edited by the client's administrator\n"
    target.file(CONFIG).write_bytes(edited)
    stale = _body(world, target, apply=True, plan_token=plan["plan_token"])
    refused = engineer.post("/api/v1/baseline/harden", json=stale)
    assert refused.status_code == 409, refused.text
    assert "计划已变化" in refused.json()["error"]
    assert target.file(CONFIG).read_bytes() == edited and not target.file(DROP_IN).exists()
    assert _runs(world) == 0

    # The page: preview, then the confirmation form (its CSRF token required) applies it.
    page, token = form_client(engineer, f"/hardening?engagement={world.own.engagement_id}")
    form = {
        "engagement": str(world.own.engagement_id),
        "profile": "linux",
        "target": f"ssh://127.0.0.1:{target.port}",
        "credential": "ops-pw",
        "rules": "\n".join(RULES),
    }
    assert page.post("/hardening/plan", data=form).status_code == 403
    shown = page.post("/hardening/plan", data=form | {"csrf_token": token})
    assert shown.status_code == 200, shown.text
    assert 'data-confirm="' in shown.text and "<pre" in shown.text
    assert "+PermitRootLogin no" in shown.text
    fresh = shown.text.split('name="plan_token" value="', 1)[1].split('"', 1)[0]
    assert fresh != plan["plan_token"]
    confirm = form | {"plan_token": fresh}
    assert page.post("/hardening/apply", data=confirm).status_code == 403
    applied = page.post(
        "/hardening/apply", data=confirm | {"csrf_token": token}, follow_redirects=False
    )
    assert applied.status_code == 303, applied.text
    run_id = int(applied.headers["location"].rsplit("run=", 1)[1])

    with session_scope(world.engine, readonly=True) as db:
        run = db.get_one(HardeningRun, run_id)
        assert (run.status, run.created_by, run.rules) == ("applied", "web:engineer", RULES)
        after = db.get_one(BaselineRun, run.after_run_id)
        assert {r["rule_id"]: r["status"] for r in after.results} == dict.fromkeys(RULES, "pass")
    hardened = target.file(CONFIG).read_text(encoding="utf-8")
    assert "PermitRootLogin no" in hardened and "# edited by the client's administrator" in hardened
    assert "systemctl reload ssh" in target.file("/var/log/stub-calls.log").read_text()
    listed = engineer.get(f"/api/v1/baseline/hardening?engagement={world.own.engagement_code}")
    assert [r["id"] for r in listed.json()["items"]] == [run_id]
    result = page.get(f"/hardening?engagement={world.own.engagement_id}&run={run_id}")
    assert "已加固" in result.text and f"/hardening/{run_id}/rollback" in result.text

    # Another tenant's user and a form without its token change nothing.
    other = login("other_owner")
    rollback = f"/api/v1/baseline/hardening/{run_id}/rollback"
    assert other.post(rollback, json={"credential": "ops-pw"}).status_code == 404
    assert login("viewer").post(rollback, json={"credential": "ops-pw"}).status_code == 403
    assert (
        page.post(f"/hardening/{run_id}/rollback", data={"credential": "ops-pw"}).status_code == 403
    )
    assert "PermitRootLogin no" in target.file(CONFIG).read_text(encoding="utf-8")

    # The rollback button: every file back as it was before the apply.
    back = page.post(
        f"/hardening/{run_id}/rollback",
        data={"credential": "ops-pw", "csrf_token": token},
        follow_redirects=False,
    )
    assert back.status_code == 303, back.text
    assert target.file(CONFIG).read_bytes() == edited
    assert not target.file(DROP_IN).exists()
    with session_scope(world.engine, readonly=True) as db:
        assert db.get_one(HardeningRun, run_id).status == "rolled-back"
    again = login("engineer").post(rollback, json={"credential": "ops-pw"})
    assert again.status_code == 400 and "只有已应用的加固可以回退" in again.json()["error"]
