"""``shaobing scan`` with a policy that enables the web application check (web.app)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shaobing.core.db import get_engine, session_scope
from shaobing.findings.models import Finding
from shaobing.web.checks.base import PassiveCheck, ScanState, register, unregister
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue
from tests.conftest import CliRunner
from tests.targets.http import MockHttpTarget, Response

HTML = {"Content-Type": "text/html; charset=utf-8", "Server": "TestServer"}
POLICY = """
webnet:
  title: "测试：网络扫描含 Web 应用"
  safety: [passive, active]
  discovery: none
  udp_ports: []
  checks: ["web.app"]
  timeout: 2
  options:
    "web.app": {enabled: true, max_pages: 20, max_time: 60, checks: ["web.test-marker"]}
webnet-off:
  title: "测试：未启用"
  safety: [passive, active]
  discovery: none
  udp_ports: []
  checks: ["web.app"]
  timeout: 2
"""


class _MarkerCheck(PassiveCheck):
    """Test check: a page containing MARKER is an error-disclosure issue."""

    id = "web.test-marker"
    kinds = ("error-disclosure",)

    def observe(self, response: WebResponse, state: ScanState) -> Iterator[WebIssue]:
        if "MARKER" in response.text:
            yield WebIssue(
                "error-disclosure",
                response.url,
                detail="MARKER",
                request=response.request,
                response=response,
            )


@pytest.fixture
def marker() -> Iterator[None]:
    register(_MarkerCheck())
    yield
    unregister(_MarkerCheck.id)


@pytest.mark.usefixtures("marker")
def test_network_scan_runs_the_web_scanner_when_enabled(cli: CliRunner) -> None:
    home = Path(os.environ["SHAOBING_HOME"])
    (home / "policies").mkdir(parents=True, exist_ok=True)
    (home / "policies" / "webnet.yaml").write_text(POLICY, encoding="utf-8")
    routes = {
        "/": Response(200, '<html><a href="/deep/page">x</a></html>', HTML),
        "/deep/page": Response(200, "<html>MARKER stack trace</html>", HTML),
    }
    with MockHttpTarget(routes) as site:  # type: ignore[arg-type]
        result = cli(
            "scan", "127.0.0.1", "--ports", str(site.port), "--policy", "webnet", "--json", "-"
        )
        assert result.code == 0, result
        data = json.loads(result.out)
        assert data["findings"], data
        with session_scope(get_engine(), readonly=True) as session:
            rows = session.query(Finding).filter(Finding.check_id == "web.error-disclosure").all()
            assert len(rows) == 1
            assert rows[0].url == f"http://127.0.0.1:{site.port}/deep/page"
            assert rows[0].port == site.port and rows[0].extra["owasp"] == "A05:2021"
        before = len(site.seen)
        off = cli(
            "scan", "127.0.0.1", "--ports", str(site.port), "--policy", "webnet-off", "--json", "-"
        )
        assert off.code == 0, off
        assert not any(r.path == "/deep/page" for r in site.seen[before:])
