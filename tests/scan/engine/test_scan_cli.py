"""``shaobing scan`` end to end on SQLite and PostgreSQL, against listeners on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shaobing.core.db import get_engine, session_scope
from shaobing.core.vault import decrypt_secret
from shaobing.findings.models import Finding
from tests.conftest import CliRunner
from tests.scan.engine.conftest import Listener
from tests.scan.engine.plugins import SECRET, BannerCheck, IntrusiveCheck, SlowCheck

ROOT = Path(__file__).resolve().parents[3]

TEST_POLICY = """
test:
  title: "测试策略"
  safety: [passive, active]
  discovery: none
  udp_ports: []
  checks: ["test-engine.*"]
  timeout: 0.5
  options:
    "test-engine.slow": {seconds: 0.05}
"""


def _policy(home: Path, text: str = TEST_POLICY) -> None:
    folder = home / "policies"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def home(cli: CliRunner) -> Path:
    path = Path(os.environ["SHAOBING_HOME"])
    _policy(path)
    return path


def _scan(cli: CliRunner, *args: str) -> dict[str, Any]:
    result = cli("scan", *args, "--policy", "test", "--json", "-")
    assert result.code == 0, result
    data: dict[str, Any] = json.loads(result.out)
    return data


def test_scan_json_shape_findings_and_ledger(
    cli: CliRunner,
    home: Path,
    listen: Callable[..., Listener],
    test_checks: Callable[..., None],
) -> None:
    test_checks(BannerCheck, IntrusiveCheck)
    vulnerable = listen("127.0.0.1", b"VULN service\r\n")
    clean = listen("127.0.0.1", b"HELLO\r\n")

    data = _scan(cli, "127.0.0.1", "--ports", f"{vulnerable.port},{clean.port}")

    assert set(data) >= {"scan_id", "engagement", "hosts", "findings", "stats"}
    assert data["engagement"].startswith("临时扫描")
    [host] = data["hosts"]
    assert host["address"] == "127.0.0.1"
    assert sorted(p["port"] for p in host["ports"]) == sorted([vulnerable.port, clean.port])
    for port in host["ports"]:
        assert set(port) >= {"port", "protocol", "state", "service", "product", "version", "cpe"}
        assert port["state"] == "open" and port["protocol"] == "tcp"
    [finding] = data["findings"]
    assert set(finding) >= {
        "id",
        "check_id",
        "title",
        "severity",
        "host",
        "port",
        "protocol",
        "evidence",
    }
    assert finding["check_id"] == "test-engine.banner"
    assert (finding["host"], finding["port"], finding["severity"]) == (
        "127.0.0.1",
        vulnerable.port,
        "high",
    )
    assert IntrusiveCheck.ran == 0  # the policy does not allow intrusive checks

    # The recovered secret is nowhere in clear, but kept encrypted.
    shown = cli.json("findings", "show", str(finding["id"]))
    assert SECRET not in json.dumps(shown, ensure_ascii=False)
    assert SECRET not in json.dumps(data, ensure_ascii=False)
    with session_scope(get_engine(), readonly=True) as session:
        stored = session.get(Finding, finding["id"])
        assert stored is not None
        assert decrypt_secret(stored.extra["secret"]) == SECRET
        assert SECRET not in (stored.evidence or "")
    assert shown["work_order_id"] is not None  # type: ignore[index]

    # The ad-hoc engagement's scope is exactly the given target.
    engagement = cli.json("engagement", "show", data["engagement"])
    assert engagement["scope"]["include"] == ["127.0.0.1"]  # type: ignore[index]
    assert engagement["scope"]["exclude"] == []  # type: ignore[index]
    # The open ports reached the asset ledger.
    assets = cli.json("asset", "list", "--engagement", data["engagement"])
    assert any(a.get("ip") == "127.0.0.1" or "127.0.0.1" in json.dumps(a) for a in assets)  # type: ignore[union-attr]


def test_rescan_closes_what_is_gone_and_keeps_scan_list(
    cli: CliRunner,
    home: Path,
    listen: Callable[..., Listener],
    test_checks: Callable[..., None],
) -> None:
    test_checks(BannerCheck)
    vulnerable = listen("127.0.0.1", b"VULN\r\n")
    cli.ok("client", "add", "客户甲")
    cli.ok("engagement", "create", "复测项目", "--client", "客户甲", "--scope", "127.0.0.0/24")
    first = _scan(cli, "127.0.0.1", "--engagement", "复测项目", "--ports", str(vulnerable.port))
    [finding] = first["findings"]
    vulnerable.close()

    second = _scan(cli, "127.0.0.1", "--engagement", "复测项目", "--ports", str(vulnerable.port))

    assert second["findings"] == []
    # The ledger keeps the port, now closed, with the change in the asset's history.
    asset = cli.json("asset", "show", "127.0.0.1", "--engagement", "复测项目")
    services = {(s["port"], s["protocol"]): s["state"] for s in asset["services"]}  # type: ignore[index]
    assert services == {(vulnerable.port, "tcp"): "closed"}
    assert any(
        f"port {vulnerable.port}/tcp" in h["changes"]
        for h in asset["history"]  # type: ignore[index]
    )
    shown = cli.json("findings", "show", str(finding["id"]))
    assert shown["status"] == "fixed"  # type: ignore[index]
    listed = cli.json("scan", "list")
    assert [s["scan_id"] for s in listed] == [second["scan_id"], first["scan_id"]]  # type: ignore[index]
    assert all(s["status"] == "completed" for s in listed)  # type: ignore[index]
    shown_scan = cli.json("scan", "show", str(first["scan_id"]))
    assert shown_scan["plan"]["policy"] == "test"  # type: ignore[index]
    refused = cli("scan", "cancel", str(first["scan_id"]))
    assert refused.code == 1 and "已结束" in refused.err


def test_out_of_scope_targets_are_refused_and_audited(
    cli: CliRunner, home: Path, listen: Callable[..., Listener]
) -> None:
    outside = listen("127.0.0.2", b"x")
    cli.ok("client", "add", "客户乙")
    cli.ok("engagement", "create", "范围项目", "--client", "客户乙", "--scope", "127.0.0.1")
    result = cli(
        "scan",
        "127.0.0.2",
        "--engagement",
        "范围项目",
        "--ports",
        str(outside.port),
        "--policy",
        "test",
    )
    assert result.code == 1
    assert "授权范围" in result.err and len(result.err.strip().splitlines()) == 1
    time.sleep(0.1)
    assert outside.accepted == 0
    events = cli.json("audit", "list")
    assert any(e["action"] == "scope.refused" and "127.0.0.2" in e["target"] for e in events)  # type: ignore[union-attr,index]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["127.0.0.1", "--ports", "70000"], "70000"),
        (["127.0.0.1", "--policy", "no-such-policy"], "no-such-policy"),
        (["8.8.8.0/4"], "8.8.8.0/4"),
        (["127.0.0.1", "--concurrency", "0"], "concurrency"),
        (["127.0.0.1", "--engine", "zmap"], "zmap"),
    ],
)
def test_bad_input_gives_one_line(cli: CliRunner, home: Path, args: list[str], needle: str) -> None:
    result = cli("scan", *args)
    assert result.code == 1, result
    assert needle in result.err
    assert "Traceback" not in result.err


def test_policies_and_checks_listings(cli: CliRunner, home: Path) -> None:
    names = {p["name"] for p in cli.json("scan", "policies")}  # type: ignore[union-attr,index]
    assert {"quick", "default", "full", "discovery", "intrusive", "test"} <= names
    checks = cli.json("scan", "checks")
    assert all(c["safety"] in {"passive", "active", "intrusive", "dos"} for c in checks)  # type: ignore[union-attr,index]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ctrl_c_pauses_and_resume_completes(
    cli: CliRunner, home: Path, listen: Callable[..., Listener]
) -> None:
    servers = [listen("127.0.0.1", b"x") for _ in range(12)]
    _policy(
        home,
        TEST_POLICY.replace("{seconds: 0.05}", "{seconds: 1.0}").replace(
            "timeout: 0.5", "timeout: 0.5\n  per_host: 2\n  concurrency: 2"
        ),
    )
    env = os.environ | {
        "SHAOBING_PLUGINS": "tests.scan.engine.plugins_auto",
        "PYTHONPATH": str(ROOT),
    }
    ports = ",".join(str(s.port) for s in servers)
    command = [
        sys.executable,
        "-m",
        "shaobing.cli.main",
        "scan",
        "127.0.0.1",
        "--ports",
        ports,
        "--policy",
        "test",
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        scans = cli.json("scan", "list")
        if scans and scans[0]["stats"].get("checks_run", 0) >= 2:  # type: ignore[index]
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()
    assert "shaobing scan resume" in err.decode()
    [scan] = cli.json("scan", "list")
    assert scan["status"] == "paused"  # type: ignore[index]
    done_before = scan["stats"]["checks_run"]  # type: ignore[index]
    assert 0 < done_before < 12

    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "shaobing.cli.main",
            "scan",
            "resume",
            str(scan["scan_id"]),  # type: ignore[index]
            "--json",
            "-",
        ],
        env=env,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr.decode()
    data = json.loads(resumed.stdout)
    assert data["status"] == "completed"
    assert data["stats"]["checks_run"] == 12
    assert SlowCheck.id  # the plugin ran in the subprocess, not here


def test_retest_runs_the_check_again(
    cli: CliRunner,
    home: Path,
    listen: Callable[..., Listener],
    test_checks: Callable[..., None],
) -> None:
    test_checks(BannerCheck)
    vulnerable = listen("127.0.0.1", b"VULN\r\n")
    data = _scan(cli, "127.0.0.1", "--ports", str(vulnerable.port))
    [finding] = data["findings"]

    [still] = cli.json("retest", str(finding["id"]))  # type: ignore[misc]
    assert still["detected"] is True
    assert SECRET not in still["evidence"]

    vulnerable.close()
    listen("127.0.0.1", b"HELLO\r\n", port=vulnerable.port)
    [gone] = cli.json("retest", str(finding["id"]))  # type: ignore[misc]
    assert gone["detected"] is False
    assert gone["status"] == "verified"


def test_udp_snmp_default_community_is_a_finding(cli: CliRunner, home: Path) -> None:
    from tests.services.postgres import ServiceUnavailable
    from tests.services.snmpd import start_snmpd

    try:
        server = start_snmpd(read_only=("public",))
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    try:
        _policy(
            home,
            TEST_POLICY.replace("udp_ports: []", f"udp_ports: [{server.port}]").replace(
                '["test-engine.*"]', '["udp.*"]'
            ),
        )
        data = _scan(cli, "127.0.0.1", "--ports", "1")
    finally:
        server.stop()
    [host] = data["hosts"]
    [udp] = [p for p in host["ports"] if p["protocol"] == "udp"]
    assert (udp["port"], udp["service"]) == (server.port, "snmp")
    found = {(f["check_id"], f["protocol"], f["port"]) for f in data["findings"]}
    assert ("udp.exposure", "udp", server.port) in found
    [finding] = [f for f in data["findings"] if f["check_id"] == "udp.exposure"]
    assert "public" in finding["title"]


@pytest.mark.skipif(shutil.which("nmap") is None, reason="nmap is not installed (optional engine)")
def test_nmap_engine_does_ports_and_identification(
    cli: CliRunner, home: Path, listen: Callable[..., Listener]
) -> None:
    ssh = listen("127.0.0.1", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
    data = _scan(cli, "127.0.0.1", "--ports", f"{ssh.port},1", "--engine", "nmap")
    [host] = data["hosts"]
    [port] = host["ports"]
    assert (port["port"], port["service"], port["product"]) == (ssh.port, "ssh", "OpenSSH")
    assert port["version"].startswith("9.2p1")


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 on this machine")
def test_ipv6_target_is_scanned_and_identified(
    cli: CliRunner, home: Path, test_checks: Callable[..., None]
) -> None:
    test_checks(BannerCheck)
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        server.bind(("::1", 0))
    except OSError as exc:
        server.close()
        pytest.skip(f"::1 not usable here: {exc}")
    server.listen(16)
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.sendall(b"VULN SSH-2.0-OpenSSH_9.2p1\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        data = _scan(cli, "::1", "--ports", str(port))
    finally:
        stop.set()
        thread.join(2)
        server.close()
    [host] = data["hosts"]
    assert host["address"] == "::1"
    assert [p["port"] for p in host["ports"]] == [port]
    assert [(f["check_id"], f["host"]) for f in data["findings"]] == [("test-engine.banner", "::1")]


USER_TEMPLATE = """
id: site-secret-file
info:
  name: Secret file exposed
  author: tester
  severity: high
  classification:
    cwe-id: CWE-538
    cvss-metrics: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N
  metadata:
    safety: passive
    zh-name: 敏感文件泄露（测试）
    zh-remediation: 删除该文件
http:
  - method: GET
    path:
      - "{{BaseURL}}/secret.txt"
    matchers-condition: and
    matchers:
      - type: status
        status: [200]
      - type: word
        words: ["TOPSECRET"]
    extractors:
      - type: regex
        regex: ["key=([a-z0-9]+)"]
        group: 1
"""


def test_templates_run_in_scans_and_retest(cli: CliRunner, home: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"exposed": True}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (
                b"TOPSECRET key=abc123" if self.path == "/secret.txt" and state["exposed"] else b""
            )
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (home / "templates").mkdir(parents=True, exist_ok=True)
        (home / "templates" / "secret.yaml").write_text(USER_TEMPLATE, encoding="utf-8")
        _policy(home, TEST_POLICY.replace('["test-engine.*"]', '["template.*"]'))
        data = _scan(cli, "127.0.0.1", "--ports", str(server.server_port))
        [finding] = data["findings"]
        assert finding["check_id"] == "template:site-secret-file"
        assert finding["title"] == "敏感文件泄露（测试）"
        assert finding["severity"] == "high"
        assert "abc123" in finding["evidence"]

        [still] = cli.json("retest", str(finding["id"]))  # type: ignore[misc]
        assert still["detected"] is True
        state["exposed"] = False
        [gone] = cli.json("retest", str(finding["id"]))  # type: ignore[misc]
        assert gone["detected"] is False
    finally:
        server.shutdown()
        server.server_close()
