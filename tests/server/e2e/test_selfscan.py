"""The platform's own web scanner against its own console (logged in as a client owner, the
role the client's staff use): no finding. Bounded in time; the full authenticated run with
an engineer's session is described in docs/console.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shaobing.cli.main import main
from tests.server.conftest import PASSWORD, World

pytestmark = pytest.mark.e2e


def test_own_web_scanner_finds_nothing_on_the_console(
    live_server: str, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if world.engine.dialect.name != "sqlite":
        pytest.skip("the scan exercises the web layer, which is the same on both databases")
    client = TestClient(world.app())
    token = client.post(
        "/api/v1/auth/login", json={"username": "owner", "password": PASSWORD}
    ).json()["token"]
    out = tmp_path / "selfscan.json"
    code = main(
        [
            "webscan",
            f"{live_server}/",
            "--engagement",
            world.own.engagement_code,
            "--cookie",
            f"shaobing_session={token}",
            "--max-time",
            "40",
            "--max-requests",
            "2500",
            "--json",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(out.read_text(encoding="utf-8"))
    scans = result.get("scans") or [result]
    findings = [f for s in scans for f in s.get("findings", [])]
    pages = sum(int(s.get("pages", s.get("stats", {}).get("pages", 0)) or 0) for s in scans)
    assert findings == [], [f.get("title") for f in findings]
    assert pages >= 5, result.keys()
