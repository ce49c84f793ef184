"""Every CLI command, end to end on SQLite and PostgreSQL, including bad input."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from shaobing.core.audit import verify_chain
from shaobing.core.db import get_engine, session_scope
from tests.conftest import CliRunner

LEDGER_HEADER = [
    "资产名称",
    "资产类型",
    "IP地址",
    "主机名",
    "所属业务系统",
    "网络区域",
    "责任人",
    "保密性",
    "完整性",
    "可用性",
]


def _setup(cli: CliRunner, *extra: str) -> None:
    cli.ok("client", "add", "某市公安局出入境管理支队", "--code", "crj", "--contact", "王工")
    cli.ok(
        "engagement",
        "create",
        "2026年度安全服务",
        "--client",
        "crj",
        "--scope",
        "127.0.0.0/8",
        "--scope",
        "*.example.gov.cn",
        "--exclude",
        "127.0.0.9",
        "--start",
        "2026-01-01",
        "--end",
        "2026-12-31",
        "--system",
        "出入境业务系统",
        "--item",
        "vuln_scan:semiannual:3,9",
        "--item",
        "inspection:monthly",
        "--item",
        "pentest:once:due=2026-05-31",
        "--sla",
        "incident_response=20",
        *extra,
    )


def _write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LEDGER_HEADER)
        writer.writerows(rows)
    return path


GOOD_ROWS = [
    [
        "出入境业务服务器",
        "主机",
        "127.0.0.11",
        "crj-app01",
        "出入境业务系统",
        "电子政务外网",
        "张三",
        "4",
        "4",
        "3",
    ],
    [
        "业务数据库",
        "数据库",
        "127.0.0.12",
        "crj-db01",
        "出入境业务系统",
        "安全管理区",
        "李四",
        "5",
        "5",
        "4",
    ],
    ["门户网站", "Web应用", "127.0.0.13", "", "门户网站系统", "互联网区", "赵六", "2", "3", "3"],
]


def test_init_is_idempotent(cli: CliRunner) -> None:
    from alembic.script import ScriptDirectory

    from shaobing.core.db import alembic_config

    data: Any = cli.json("init")
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert data["revision"] == head
    assert Path(data["home"]).is_dir()


def test_commands_refuse_before_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shaobing.core.db import dispose_engines
    from shaobing.core.settings import reset_settings

    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "fresh"))
    monkeypatch.delenv("SHAOBING_DATABASE_URL", raising=False)
    reset_settings()
    dispose_engines()
    result = CliRunner(capsys)("client", "list")
    dispose_engines()
    reset_settings()
    assert result.code == 1
    assert "shaobing init" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_client_add_and_list(cli: CliRunner) -> None:
    added: Any = cli.json("client", "add", "某市金融监管局", "--code", "jr")
    assert added["name"] == "某市金融监管局"
    listed: Any = cli.json("client", "list")
    assert [c["code"] for c in listed] == ["jr"]
    table = cli.ok("client", "list").out
    assert "某市金融监管局" in table
    dup = cli("client", "add", "某市金融监管局")
    assert dup.code == 1 and "已存在" in dup.err


def test_engagement_create_list_show(cli: CliRunner) -> None:
    _setup(cli)
    listed: Any = cli.json("engagement", "list")
    assert len(listed) == 1 and listed[0]["scope"] == ["127.0.0.0/8", "*.example.gov.cn"]
    shown: Any = cli.json("engagement", "show", "2026年度安全服务")
    assert shown["scope"]["exclude"] == ["127.0.0.9"]
    assert shown["systems"] == ["出入境业务系统"]
    kinds = [d["kind"] for d in shown["deliverables"]]
    assert kinds.count("inspection_report") == 12
    assert kinds.count("vuln_scan_report") == 2
    assert kinds.count("pentest_report") == 1
    sla = {s["key"]: s["minutes"] for s in shown["sla"]}
    assert sla["incident_response"] == 20 and sla["remote_handling"] == 120
    text = cli.ok("engagement", "show", str(shown["id"])).out
    assert "漏洞扫描报告" in text and "安全巡检" in text
    assert cli.ok("engagement", "list", "--client", "crj").out.count("2026年度安全服务") == 1
    items: Any = cli.json("engagement", "items")
    assert any(i["kind"] == "risk_assessment" for i in items["items"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--scope", "10.0.0.0/33"], "10.0.0.0/33"),
        (["--scope", "10.0.0.300"], "10.0.0.300"),
        (["--scope", "10.0.0.20-5"], "10.0.0.20-5"),
        (["--scope", "*.cn"], "*.cn"),
        (["--scope", "*.gov.cn"], "*.gov.cn"),
        (["--scope", "127.0.0.1", "--exclude", "bad_host!.gov"], "bad_host!.gov"),
        (["--scope", "127.0.0.1", "--window", "25:00-26:00"], "25:00-26:00"),
        (["--scope", "127.0.0.1", "--start", "2026-13-01"], "2026-13-01"),
        (["--scope", "127.0.0.1", "--start", "2026-12-01", "--end", "2026-01-01"], "2026-12-01"),
        (["--scope", "127.0.0.1", "--item", "coffee:daily"], "coffee"),
        (["--scope", "127.0.0.1", "--sla", "incident_response=-5"], "incident_response=-5"),
        (["--scope", "127.0.0.1", "--item", "inspection"], "--start"),
    ],
)
def test_engagement_bad_input_is_one_line_and_writes_nothing(
    cli: CliRunner, args: list[str], needle: str
) -> None:
    cli.ok("client", "add", "甲方", "--code", "a")
    result = cli("engagement", "create", "项目", "--client", "a", *args)
    assert result.code == 1, result
    assert needle in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err + result.out
    assert cli.json("engagement", "list") == []


def test_unknown_objects_and_usage_errors(cli: CliRunner) -> None:
    missing = cli("engagement", "show", "不存在的项目")
    assert missing.code == 1 and "不存在的项目" in missing.err
    assert cli("scope", "check", "127.0.0.1", "--engagement", "42").code == 1
    assert cli("engagement", "create", "x", "--client", "nobody", "--scope", "127.0.0.1").code == 1
    usage = cli("engagement", "create", "x")  # missing required options
    assert usage.code == 2
    assert cli("no-such-command").code == 2


def test_scope_check(cli: CliRunner) -> None:
    _setup(cli, "--window", "mon-fri 08:00-20:00")
    allowed: Any = cli.json(
        "scope",
        "check",
        "127.0.0.5",
        "--engagement",
        "2026年度安全服务",
        "--at",
        "2026-11-23 09:00",
    )
    assert allowed["allowed"] is True and allowed["addresses"] == ["127.0.0.5"]
    excluded = cli(
        "scope",
        "check",
        "127.0.0.9",
        "--engagement",
        "2026年度安全服务",
        "--at",
        "2026-11-23 09:00",
        "--json",
    )
    assert excluded.code == 1
    assert json.loads(excluded.out)["reason"] == "excluded"
    night = cli(
        "scope",
        "check",
        "127.0.0.5",
        "--engagement",
        "2026年度安全服务",
        "--at",
        "2026-11-23 23:00",
    )
    assert night.code == 1 and "127.0.0.5" in night.err
    weekend = cli(
        "scope",
        "check",
        "127.0.0.5",
        "--engagement",
        "2026年度安全服务",
        "--at",
        "2026-11-22 10:00",
        "--json",
    )
    assert json.loads(weekend.out)["reason"] == "outside_window"
    after = cli(
        "scope",
        "check",
        "127.0.0.5",
        "--engagement",
        "2026年度安全服务",
        "--at",
        "2027-01-04 10:00",
        "--json",
    )
    assert json.loads(after.out)["reason"] == "outside_period"
    outside = cli(
        "scope",
        "check",
        "192.0.2.10",
        "--engagement",
        "2026年度安全服务",
        "--at",
        "2026-11-23 09:00",
    )
    assert outside.code == 1 and "192.0.2.10" in outside.err
    bad_at = cli("scope", "check", "127.0.0.5", "--engagement", "2026年度安全服务", "--at", "soon")
    assert bad_at.code == 1 and "soon" in bad_at.err
    # Every refusal is in the audit log, and the chain still verifies.
    with session_scope(get_engine()) as session:
        from shaobing.core.audit import AuditEvent

        refusals = session.query(AuditEvent).filter(AuditEvent.action == "scope.refused").all()
        assert {e.target for e in refusals} >= {"127.0.0.9", "192.0.2.10"}
        assert verify_chain(session).ok


def test_asset_template_import_export_list_show(cli: CliRunner, tmp_path: Path) -> None:
    _setup(cli)
    for fmt in ("xlsx", "csv"):
        template = tmp_path / f"template.{fmt}"
        cli.ok("asset", "template", str(template))
        assert template.stat().st_size > 0
    wb = openpyxl.load_workbook(tmp_path / "template.xlsx")
    assert "填写说明" in wb.sheetnames

    ledger = _write_csv(tmp_path / "ledger.csv", GOOD_ROWS, encoding="gbk")
    summary: Any = cli.json("asset", "import", str(ledger), "--engagement", "2026年度安全服务")
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (3, 0, 0)
    again: Any = cli.json("asset", "import", str(ledger), "--client", "crj")
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)

    assets: Any = cli.json("asset", "list", "--client", "crj")
    by_name = {a["name"]: a for a in assets}
    assert by_name["业务数据库"]["value"] == 5  # round(log2((32+32+16)/3)) = 5
    assert by_name["出入境业务服务器"]["value"] == 4
    assert by_name["业务数据库"]["type"] == "database"
    assert by_name["门户网站"]["system"] == "门户网站系统"
    filtered: Any = cli.json("asset", "list", "--client", "crj", "--system", "出入境业务系统")
    assert {a["name"] for a in filtered} == {"出入境业务服务器", "业务数据库"}
    assert len(cli.json("asset", "list", "--client", "crj", "--type", "数据库")) == 1  # type: ignore[arg-type]
    assert "资产台账（3 项）" in cli.ok("asset", "list", "--client", "crj").out

    changed = [r.copy() for r in GOOD_ROWS]
    changed[0][6] = "王五"
    changed[0][2] = "127.0.0.11,127.0.0.21"
    cli.ok("asset", "import", str(_write_csv(tmp_path / "v2.csv", changed)), "--client", "crj")
    shown: Any = cli.json("asset", "show", "127.0.0.21", "--client", "crj")
    assert shown["owner"] == "王五"
    assert [h["kind"] for h in shown["history"]] == ["created", "updated"]
    assert shown["history"][1]["changes"]["owner"] == ["张三", "王五"]
    assert "变更记录" in cli.ok("asset", "show", "出入境业务服务器", "--client", "crj").out

    for fmt in ("xlsx", "csv"):
        out = tmp_path / f"export.{fmt}"
        exported: Any = cli.json("asset", "export", str(out), "--client", "crj")
        assert exported["assets"] == 3
        rows = cli.json("asset", "import", str(out), "--client", "crj")
        assert rows["unchanged"] == 3, fmt  # type: ignore[index]
    raw = (tmp_path / "export.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")


def test_asset_import_bad_rows_import_nothing(cli: CliRunner, tmp_path: Path) -> None:
    _setup(cli)
    rows = [r.copy() for r in GOOD_ROWS]
    rows[1][7] = "6"  # C out of range
    rows[2][2] = "127.0.0.11"  # duplicate address of row 2
    ledger = _write_csv(tmp_path / "bad.csv", rows)
    result = cli("asset", "import", str(ledger), "--client", "crj")
    assert result.code == 1
    assert "保密性" in result.err and "第3行" in result.err
    assert "127.0.0.11" in result.err
    assert cli.json("asset", "list", "--client", "crj") == []
    partial: Any = cli.json("asset", "import", str(ledger), "--client", "crj", "--skip-bad")
    assert partial["created"] == 1 and len(partial["errors"]) >= 2


def test_asset_import_address_owned_by_another_asset(cli: CliRunner, tmp_path: Path) -> None:
    _setup(cli)
    cli.ok("asset", "import", str(_write_csv(tmp_path / "a.csv", GOOD_ROWS)), "--client", "crj")
    clash = [["新服务器", "主机", "127.0.0.12", "", "", "", "", "3", "3", "3"]]
    result = cli("asset", "import", str(_write_csv(tmp_path / "b.csv", clash)), "--client", "crj")
    assert result.code == 1 and "127.0.0.12" in result.err and "业务数据库" in result.err
    assert len(cli.json("asset", "list", "--client", "crj")) == 3  # type: ignore[arg-type]


def test_asset_import_renamed_header_and_missing_file(cli: CliRunner, tmp_path: Path) -> None:
    _setup(cli)
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["设备", "资产类型", "IP地址", "保密性", "完整性", "可用性"])
    ws.append(["x", "主机", "127.0.0.30", 3, 3, 3])
    path = tmp_path / "renamed.xlsx"
    wb.save(path)
    result = cli("asset", "import", str(path), "--client", "crj")
    assert result.code == 1 and "资产名称" in result.err
    missing = cli("asset", "import", str(tmp_path / "nope.xlsx"), "--client", "crj")
    assert missing.code == 1 and "nope.xlsx" in missing.err
    no_client = cli("asset", "list")
    assert no_client.code == 1


def test_console_script_exit_codes(tmp_path: Path) -> None:
    """The installed ``shaobing`` command itself: version, usage error, user error."""
    exe = Path(sys.executable).with_name("shaobing")
    env = {**os.environ, "SHAOBING_HOME": str(tmp_path / "h")}
    env.pop("SHAOBING_DATABASE_URL", None)
    version = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, env=env, check=False
    )
    assert version.returncode == 0 and "shaobing" in version.stdout
    usage = subprocess.run(
        [str(exe), "client", "add"], capture_output=True, text=True, env=env, check=False
    )
    assert usage.returncode == 2
    user = subprocess.run(
        [str(exe), "client", "list"], capture_output=True, text=True, env=env, check=False
    )
    assert user.returncode == 1 and "Traceback" not in user.stderr
    bad_tz = subprocess.run(
        [str(exe), "client", "list"],
        capture_output=True,
        text=True,
        env=env | {"SHAOBING_TIMEZONE": "Nowhere/Land"},
        check=False,
    )
    assert bad_tz.returncode == 1 and "Nowhere/Land" in bad_tz.stderr


def test_audit_list_and_verify(cli: CliRunner) -> None:
    _setup(cli)
    cli("scope", "check", "192.0.2.1", "--engagement", "2026年度安全服务")
    events: Any = cli.json("audit", "list")
    actions = [e["action"] for e in events]
    assert actions[:1] == ["scope.refused"]
    assert {"platform.init", "client.create", "engagement.create"} <= set(actions)
    assert all(e["actor"] == "cli:tester" for e in events)
    refused: Any = cli.json("audit", "list", "--action", "scope.refused", "--client", "crj")
    assert [e["target"] for e in refused] == ["192.0.2.1"]
    assert "审计日志" in cli.ok("audit", "list").out
    ok: Any = cli.json("audit", "verify")
    assert ok["ok"] is True and ok["events"] == len(events)
    assert "审计日志完整" in cli.ok("audit", "verify").out
    with get_engine().begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE audit_events SET actor = 'intruder' WHERE seq = 2"))
    broken = cli("audit", "verify")
    assert broken.code == 1 and "第 2 条" in broken.err
