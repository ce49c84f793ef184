"""Baseline, assessment, catalogue and deliverable endpoints: roles, tenants, results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.assess.risk.models import RiskRun
from shaobing.core.db import session_scope
from shaobing.engagements.models import Deliverable
from tests.server.conftest import World
from tests.server.work import seed

Login = Callable[[str], TestClient]


def _risk_runs(world: World) -> int:
    with session_scope(world.engine, readonly=True) as db:
        return int(db.scalar(select(func.count()).select_from(RiskRun)) or 0)


def test_baseline_runs_and_results(world: World, login: Login, tmp_path: Path) -> None:
    own = seed.baseline_run(world.engine, "JIA", tmp_path)
    other = seed.baseline_run(world.engine, "YI", tmp_path)
    viewer = login("viewer")
    listed = viewer.get("/api/v1/baseline/runs", params={"engagement": "JIA"}).json()["items"]
    assert [r["id"] for r in listed] == [own]
    assert [r["id"] for r in viewer.get("/api/v1/baseline/runs").json()["items"]] == [own]
    run = viewer.get(f"/api/v1/baseline/runs/{own}").json()
    assert run["profile"] == "linux" and run["counts"]["fail"] > 0
    statuses = [r["status"] for r in run["results"]]
    assert statuses == sorted(statuses, key=["fail", "error", "na", "pass"].index)
    failed = viewer.get(f"/api/v1/baseline/runs/{own}", params={"status": "不通过"}).json()
    assert failed["results"] and {r["status"] for r in failed["results"]} == {"fail"}
    assert len(failed["results"]) == run["counts"]["fail"]
    assert all(r["remediation"] for r in failed["results"])
    bad = viewer.get(f"/api/v1/baseline/runs/{own}", params={"status": "maybe"})
    assert bad.status_code == 400 and "maybe" in bad.json()["error"]
    # The other client's run and engagement are "not found" for a client user.
    assert viewer.get(f"/api/v1/baseline/runs/{other}").status_code == 404
    assert viewer.get("/api/v1/baseline/runs", params={"engagement": "YI"}).status_code == 404
    assert login("auditor").get(f"/api/v1/baseline/runs/{other}").status_code == 200
    profiles = viewer.get("/api/v1/baseline/profiles").json()["items"]
    assert any(p["id"] == "linux" and p["rules"] > 10 for p in profiles)


def test_risk_assessment_run_and_read(world: World, login: Login) -> None:
    engineer = login("engineer")
    done = engineer.post("/api/v1/risk/assess", params={"engagement": "JIA"}, json={})
    assert done.status_code == 200, done.text
    data = done.json()
    assert data["run_id"] and data["engagement"] == "甲单位项目"
    runs = login("viewer").get("/api/v1/risk/runs", params={"engagement": "JIA"}).json()["items"]
    assert [r["id"] for r in runs] == [data["run_id"]]
    shown = login("owner").get(f"/api/v1/risk/runs/{data['run_id']}").json()
    assert len(shown["risks"]) == len(data["risks"]) and shown["summary"] == data["summary"]
    assert login("other_viewer").get(f"/api/v1/risk/runs/{data['run_id']}").status_code == 404
    # Roles without risk.assess, and the other tenant, change nothing.
    for user in ("auditor", "viewer", "owner"):
        refused = login(user).post("/api/v1/risk/assess", params={"engagement": "JIA"}, json={})
        assert refused.status_code == 403
    refused = login("other_owner").post(
        "/api/v1/risk/assess", params={"engagement": "JIA"}, json={}
    )
    assert refused.status_code == 404
    assert _risk_runs(world) == 1


def test_mlps_and_datasec_scores(world: World, login: Login) -> None:
    viewer = login("viewer")
    missing = viewer.get("/api/v1/mlps/score", params={"engagement": "JIA"})
    assert missing.status_code == 404 and "甲单位项目" in missing.json()["error"]
    seed.assessments(world.engine, world.own.engagement_id)
    mlps = viewer.get("/api/v1/mlps/score", params={"engagement": "JIA"})
    assert mlps.status_code == 200, mlps.text
    doc = mlps.json()
    assert doc["level"] == 3 and doc["score"]["by_category"]
    assert "categories" in doc["gaps"] and "totals" in doc["gaps"]
    ds = viewer.get("/api/v1/datasec/score", params={"engagement": "JIA"}).json()
    assert ds["stages"] and "unanswered" in ds
    assert (
        login("other_viewer").get("/api/v1/mlps/score", params={"engagement": "JIA"}).status_code
        == 404
    )
    assert (
        login("other_viewer").get("/api/v1/datasec/score", params={"engagement": "JIA"}).status_code
        == 404
    )


def test_catalogues_need_their_permissions(world: World, login: Login, tmp_path: Path) -> None:
    engineer = login("engineer")
    policies = engineer.get("/api/v1/policies").json()["items"]
    assert {"quick", "default", "discovery"} <= {p["name"] for p in policies}
    assert login("viewer").get("/api/v1/policies").status_code == 403
    types = login("viewer").get("/api/v1/reports/types").json()["items"]
    assert any(t_["type"] == "vuln_scan" and "docx" in t_["formats"] for t_ in types)
    seed.cves(world.engine, tmp_path)
    by_id = login("auditor").get("/api/v1/vulndb", params={"q": "CVE-2024"}).json()
    assert [c["id"] for c in by_id["items"]] == ["CVE-2024-6387"]
    by_product = engineer.get("/api/v1/vulndb", params={"q": "openssh"}).json()
    assert {c["id"] for c in by_product["items"]} == {"CVE-2024-6387", "CVE-2023-38408"}
    by_words = engineer.get("/api/v1/vulndb", params={"q": "ssh-agent"}).json()
    assert [c["id"] for c in by_words["items"]] == ["CVE-2023-38408"]
    assert engineer.get("/api/v1/vulndb", params={"q": "x"}).status_code == 400
    assert login("owner").get("/api/v1/vulndb", params={"q": "openssh"}).status_code == 403


def _state(world: World, deliverable_id: int) -> str:
    with session_scope(world.engine, readonly=True) as db:
        row = db.get(Deliverable, deliverable_id)
        assert row is not None
        return row.state


def test_deliverable_submit_accept_reopen(world: World, login: Login) -> None:
    own = seed.deliverable(world.engine, world.own.engagement_id)
    other = seed.deliverable(world.engine, world.other.engagement_id)
    listed = login("viewer").get("/api/v1/deliverables", params={"engagement": "JIA"}).json()
    assert [d["id"] for d in listed["items"]] == [own]
    assert "file_path" not in listed["items"][0]
    # Client users cannot submit; the owner cannot touch the other client's deliverable.
    assert (
        login("owner").post(f"/api/v1/deliverables/{own}/submit", json={"force": True}).status_code
        == 403
    )
    assert login("owner").post(f"/api/v1/deliverables/{other}/accept", json={}).status_code == 404
    engineer = login("engineer")
    submitted = engineer.post(f"/api/v1/deliverables/{own}/submit", json={"force": True})
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["state"] == "submitted"
    # The engineer may not accept for the client; the client's owner does.
    assert engineer.post(f"/api/v1/deliverables/{own}/accept", json={}).status_code == 403
    assert login("viewer").post(f"/api/v1/deliverables/{own}/accept", json={}).status_code == 403
    accepted = login("owner").post(f"/api/v1/deliverables/{own}/accept", json={"note": "无异议"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["accepted_by"] == "owner" and accepted.json()["state"] == "accepted"
    again = login("owner").post(f"/api/v1/deliverables/{own}/accept", json={})
    assert again.status_code == 400
    reopened = engineer.post(f"/api/v1/deliverables/{own}/reopen", json={"reason": "补充附件"})
    assert reopened.json()["state"] == "planned"
    assert (
        login("other_owner").post(f"/api/v1/deliverables/{own}/reopen", json={}).status_code == 404
    )
    assert _state(world, other) == "planned"


@pytest.mark.parametrize(
    "path", ["/api/v1/risk/runs", "/api/v1/deliverables", "/api/v1/mlps/score"]
)
def test_engagement_of_other_tenant_is_not_found(world: World, login: Login, path: str) -> None:
    assert login("other_viewer").get(path, params={"engagement": "JIA"}).status_code == 404
    assert (
        login("other_viewer")
        .get(path, params={"engagement": str(world.own.engagement_id)})
        .status_code
        == 404
    )
