"""``findings``, ``workorder`` and ``retest`` commands end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shaobing.findings.retest import RetestResult, register_retest, unregister_retest
from tests.conftest import CliRunner


def _nuclei_line(template: str, host: str, severity: str = "high", **extra: Any) -> str:
    record = {
        "template-id": template,
        "info": {
            "name": f"{template} 暴露",
            "severity": severity,
            "classification": {"cve-id": ["CVE-2023-1234"], "cwe-id": ["cwe-200"]},
            "remediation": "限制访问",
        },
        "type": "http",
        "host": f"http://{host}",
        "matched-at": f"http://{host}/{template}",
        "ip": host,
        "timestamp": "2026-11-21T10:00:00Z",
        "request": "GET / HTTP/1.1\r\nAuthorization: Bearer abcdef123456\r\n",
    } | extra
    return json.dumps(record, ensure_ascii=False)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def project(cli: CliRunner) -> CliRunner:
    cli.ok("client", "add", "某区大数据局", "--code", "dsj")
    cli.ok("engagement", "create", "渗透测试", "--client", "dsj", "--scope", "127.0.0.0/8")
    return cli


@pytest.fixture
def fake_retest() -> Iterator[dict[str, bool]]:
    outcome = {"detected": False}
    register_retest("nuclei", lambda f: RetestResult(outcome["detected"], f"re-ran {f.check_id}"))
    yield outcome
    unregister_retest("nuclei")


def test_import_twice_then_partial(project: CliRunner, tmp_path: Path) -> None:
    lines = [_nuclei_line(f"t{i}", "127.0.0.5") for i in range(10)]
    first: Any = project.json(
        "findings", "import", str(_write(tmp_path / "a.jsonl", lines)), "--engagement", "渗透测试"
    )
    assert {
        k: first[k] for k in ("format", "created", "duplicates", "updated", "closed", "reopened")
    } == {
        "format": "nuclei",
        "created": 10,
        "duplicates": 0,
        "updated": 0,
        "closed": 0,
        "reopened": 0,
    }
    assert set(first) >= {
        "format",
        "created",
        "duplicates",
        "updated",
        "closed",
        "reopened",
        "assets_updated",
    }
    again: Any = project.json("findings", "import", str(tmp_path / "a.jsonl"))
    assert (again["created"], again["duplicates"], again["closed"]) == (0, 10, 0)
    fewer: Any = project.json("findings", "import", str(_write(tmp_path / "b.jsonl", lines[:7])))
    assert (fewer["closed"], fewer["duplicates"]) == (3, 7)
    text = project.ok("findings", "import", str(tmp_path / "b.jsonl")).out
    assert "新增 0" in text


def test_list_show_filters_and_masking(project: CliRunner, tmp_path: Path) -> None:
    lines = [
        _nuclei_line("redis-unauth", "127.0.0.5", "critical"),
        _nuclei_line("swagger-ui", "127.0.0.6", "medium"),
        _nuclei_line("tech-detect", "127.0.0.6", "info"),
    ]
    project.ok("findings", "import", str(_write(tmp_path / "n.jsonl", lines)))
    page: Any = project.json("findings", "list")
    assert page["total"] == 3 and [f["severity"] for f in page["findings"]] == [
        "critical",
        "medium",
        "info",
    ]
    high: Any = project.json("findings", "list", "--severity", "严重,中")
    assert high["total"] == 2
    host: Any = project.json("findings", "list", "--host", "127.0.0.6", "--severity", "info")
    assert [f["check_id"] for f in host["findings"]] == ["tech-detect"]
    assert project.json("findings", "list", "--status", "已修复")["total"] == 0  # type: ignore[index]
    first_id = page["findings"][0]["id"]
    shown: Any = project.json("findings", "show", str(first_id))
    assert shown["cve_ids"] == ["CVE-2023-1234"] and shown["cwe_ids"] == [200]
    assert "abcdef123456" not in (shown["evidence"] or "")
    assert shown["history"][0]["to"] == "new"
    assert "redis-unauth" in project.ok("findings", "show", str(first_id)).out
    bad = project("findings", "list", "--severity", "urgentissimo")
    assert bad.code == 1 and "urgentissimo" in bad.err
    assert project("findings", "show", "99999").code == 1


def test_workorder_loop_from_the_cli(
    project: CliRunner, tmp_path: Path, fake_retest: dict[str, bool]
) -> None:
    project.ok(
        "findings",
        "import",
        str(_write(tmp_path / "n.jsonl", [_nuclei_line("druid-monitor", "127.0.0.8")])),
    )
    orders: Any = project.json("workorder", "list")
    wo = orders["work_orders"][0]
    assert wo["state"] == "new" and wo["due_date"]
    ref = f"WO-{wo['id']}"
    assert project.json("workorder", "assign", ref, "王工")["state"] == "to_fix"  # type: ignore[index]
    project.ok("workorder", "comment", ref, "已联系厂商")
    refused = project("workorder", "move", ref, "误报", "--role", "client_owner", "--reason", "x")
    assert refused.code == 1 and "整改责任人" in refused.err
    moved: Any = project.json("workorder", "move", ref, "已修复", "--role", "client_owner")
    assert moved["state"] == "fixed" and moved["moved"] == 1
    finding_id = project.json("findings", "list")["findings"][0]["id"]  # type: ignore[index]
    result: Any = project.json("retest", str(finding_id))
    assert result[0]["detected"] is False and result[0]["status"] == "verified"
    fake_retest["detected"] = True
    again: Any = project.json("retest", str(finding_id))
    assert again[0]["status"] == "to_fix"
    shown: Any = project.json("workorder", "show", ref)
    kinds = [h["kind"] for h in shown["history"]]
    assert kinds.count("retest") == 2 and "comment" in kinds and "assign" in kinds
    assert shown["state"] == "to_fix"
    assert "WO-" in project.ok("workorder", "list").out
    assert project.json("workorder", "list", "--overdue")["total"] == 0  # type: ignore[index]


def test_retest_without_a_registered_source(project: CliRunner, tmp_path: Path) -> None:
    project.ok(
        "findings", "import", str(_write(tmp_path / "n.jsonl", [_nuclei_line("x", "127.0.0.9")]))
    )
    finding_id = project.json("findings", "list")["findings"][0]["id"]  # type: ignore[index]
    result = project("retest", str(finding_id))
    assert result.code == 1 and "不支持自动复测" in result.err


def test_export_rededup_sla_and_formats(project: CliRunner, tmp_path: Path) -> None:
    project.ok(
        "findings",
        "import",
        str(
            _write(
                tmp_path / "n.jsonl",
                [_nuclei_line("a", "127.0.0.5"), _nuclei_line("b", "127.0.0.5", "low")],
            )
        ),
    )
    for fmt in ("csv", "xlsx", "json", "sarif"):
        out = tmp_path / f"out.{fmt}"
        data: Any = project.json("findings", "export", str(out), "--engagement", "渗透测试")
        assert data["findings"] == 2 and out.stat().st_size > 0
    only_low: Any = project.json(
        "findings", "export", str(tmp_path / "low.json"), "--severity", "low"
    )
    assert only_low["findings"] == 1
    assert project("findings", "export", str(tmp_path / "x.doc")).code == 1
    result: Any = project.json("findings", "rededup")
    assert result == {"findings": 2, "changed": 0, "merged": 0}
    sla: Any = project.json("findings", "sla", "--set", "high=5", "--set", "严重=1")
    assert sla["high"] == 5 and sla["critical"] == 1 and sla["medium"] == 30
    assert project("findings", "sla", "--set", "high=soon").code == 1
    formats: Any = project.json("findings", "formats")
    names = {f["name"] for f in formats}
    assert {"nmap", "nuclei", "sarif", "zap", "nessus", "openvas"} <= names


def test_import_errors_are_one_line(project: CliRunner, tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    result = project("findings", "import", str(empty))
    assert result.code == 1 and "empty.xml" in result.err
    assert len(result.err.strip().splitlines()) == 1
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01\x02 not a scanner file")
    assert project("findings", "import", str(garbage)).code == 1
    truncated = _write(
        tmp_path / "t.jsonl", [_nuclei_line("a", "127.0.0.5"), '{"template-id": "b"']
    )
    bad = project("findings", "import", str(truncated))
    assert bad.code == 1 and "Traceback" not in bad.err
    assert project.json("findings", "list")["total"] == 0  # type: ignore[index]
    assert project("findings", "import", str(tmp_path / "missing.json")).code == 1
    assert project("findings", "import", str(garbage), "--format", "nope").code == 1
