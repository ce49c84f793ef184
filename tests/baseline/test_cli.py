"""``shaobing baseline check/profiles/rules`` end to end (in-process CLI, real database)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from shaobing.baseline.models import BaselineRun
from shaobing.core.db import get_engine, session_scope
from shaobing.findings.models import Finding, WorkOrder
from tests.conftest import CliRunner

# Most tests need only one database backend; the recording test runs on both.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

REFS = {"gb22239": ["8.1.4.1"], "control": "身份鉴别", "cis": ["5.2.10"]}


def a_rule(
    rule_id: str, check: dict[str, Any], severity: str = "高", **extra: Any
) -> dict[str, Any]:
    """A rule of the test profile."""
    return {
        "id": rule_id,
        "title": f"规则 {rule_id}",
        "description": "检查项说明",
        "rationale": "风险说明",
        "severity": severity,
        "check": check,
        "expected": f"{rule_id} 的期望状态",
        "remediation": {"text": "按要求修改配置"},
        "references": REFS,
        **extra,
    }


RULES = [
    a_rule(
        "t.ssh.root",
        {
            "type": "setting",
            "path": "/etc/ssh/sshd_config",
            "key": "PermitRootLogin",
            "include": "Include",
            "default": "prohibit-password",
            "compare": {"op": "in", "value": "{{root_login}}"},
        },
    ),
    a_rule(
        "t.ssh.tries",
        {
            "type": "setting",
            "path": "/etc/ssh/sshd_config",
            "key": "MaxAuthTries",
            "default": "6",
            "compare": {"op": "<=", "value": "{{tries}}"},
        },
        severity="中",
    ),
    a_rule(
        "t.login.days",
        {
            "type": "file",
            "path": "/etc/login.defs",
            "match": r"^PASS_MAX_DAYS\s+(\d+)",
            "group": 1,
            "compare": {"op": "<=", "value": 90},
        },
        severity="低",
    ),
    a_rule(
        "t.tomcat.shutdown", {"type": "xml", "path": "/opt/tomcat/conf/server.xml", "find": "."}
    ),
]
PROFILE = {
    "profile": "clitest",
    "title": "命令行测试基线",
    "variables": {"root_login": ["no"], "tries": "4"},
    "rules": RULES,
}


def write_yaml(path: Path, data: Any) -> Path:
    """Write ``data`` as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def make_root(root: Path, sshd: str = "PermitRootLogin yes\nMaxAuthTries 3\n") -> Path:
    """A small host image named web-01."""
    files = {
        "etc/os-release": 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
        "etc/hostname": "web-01\n",
        "etc/ssh/sshd_config": sshd,
        "etc/login.defs": "PASS_MAX_DAYS\t99999\n",
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    """The test rule file."""
    return write_yaml(tmp_path / "rules" / "clitest.yaml", PROFILE)


def one_line_error(result: Any) -> str:
    """The error printed by a refused command (exit 1, one line, no traceback)."""
    assert result.code == 1, result
    text = result.err.strip()
    assert len(text.splitlines()) == 1 and "Traceback" not in result.err, result.err
    assert text.startswith("错误：")
    return str(text.removeprefix("错误："))


# ---- check: the JSON shape and the text report --------------------------------------------


@sqlite_only
def test_check_json_shape(cli: CliRunner, profile: Path, tmp_path: Path) -> None:
    root = make_root(tmp_path / "img")
    result = cli("baseline", "check", "--profile", str(profile), "--root", str(root), "--json", "-")
    assert result.code == 0, result
    data = json.loads(result.out)
    assert {"profile", "target", "score", "results"} <= set(data)
    assert (data["profile"], data["target"]) == ("clitest", f"root:{root.resolve()}")
    assert [r["rule_id"] for r in data["results"]] == [r["id"] for r in RULES]
    for item in data["results"]:
        assert {"rule_id", "title", "status", "observed", "expected", "references"} <= set(item)
        assert item["status"] in {"pass", "fail", "na", "error"}
        assert item["references"]["gb22239"] == ["8.1.4.1"]
        assert item["references"]["control"] == "身份鉴别"
    by_id = {r["rule_id"]: r for r in data["results"]}
    assert (by_id["t.ssh.root"]["status"], by_id["t.ssh.root"]["observed"]) == (
        "fail",
        "/etc/ssh/sshd_config:1: PermitRootLogin yes",
    )
    assert by_id["t.ssh.root"]["expected"] == "t.ssh.root 的期望状态"
    assert by_id["t.ssh.root"]["title"] == "规则 t.ssh.root"
    assert (by_id["t.ssh.tries"]["status"], by_id["t.ssh.tries"]["observed"]) == (
        "pass",
        "/etc/ssh/sshd_config:2: MaxAuthTries 3",
    )
    assert by_id["t.login.days"]["observed"] == "/etc/login.defs:1: PASS_MAX_DAYS\t99999"
    assert (by_id["t.tomcat.shutdown"]["status"], by_id["t.tomcat.shutdown"]["observed"]) == (
        "na",
        "文件不存在：/opt/tomcat/conf/server.xml",
    )
    # weights 高 3, 中 2, 低 1; 不适用 left out: 2 of 6
    assert data["score"] == round(100 * 2 / 6, 1)


@sqlite_only
def test_check_text_report_and_json_file(cli: CliRunner, profile: Path, tmp_path: Path) -> None:
    root = make_root(tmp_path / "img")
    out_file = tmp_path / "out" / "result.json"
    out_file.parent.mkdir()
    result = cli(
        "baseline", "check", "-p", str(profile), "--root", str(root), "--json", str(out_file)
    )
    assert result.code == 0
    assert (
        f"基线 clitest（命令行测试基线）｜目标 root:{root.resolve()}｜"
        "Debian GNU/Linux 12｜得分 33.3" in result.out
    )
    assert (
        "[不通过] t.ssh.root 规则 t.ssh.root（高）\n"
        "    实际：/etc/ssh/sshd_config:1: PermitRootLogin yes" in result.out
    )
    assert "t.ssh.tries" not in result.out  # passing rules only with --all
    assert "结果未入库" in result.err
    assert json.loads(out_file.read_text())["profile"] == "clitest"
    everything = cli.ok("baseline", "check", "-p", str(profile), "--root", str(root), "--all")
    assert "[通过] t.ssh.tries" in everything.out and "[不适用] t.tomcat.shutdown" in everything.out


@sqlite_only
def test_check_vars_and_rule_selection(cli: CliRunner, profile: Path, tmp_path: Path) -> None:
    root = make_root(tmp_path / "img", sshd="PermitRootLogin prohibit-password\nMaxAuthTries 3\n")
    base = ("baseline", "check", "-p", str(profile), "--root", str(root), "--json", "-")
    strict = json.loads(cli.ok(*base, "--rule", "t.ssh.").out)
    assert [(r["rule_id"], r["status"]) for r in strict["results"]] == [
        ("t.ssh.root", "fail"),
        ("t.ssh.tries", "pass"),
    ]
    relaxed = json.loads(
        cli.ok(
            *base,
            "--rule",
            "t.ssh.",
            "--var",
            "root_login=no,prohibit-password",
            "--var",
            "tries=2",
        ).out
    )
    assert [(r["rule_id"], r["status"]) for r in relaxed["results"]] == [
        ("t.ssh.root", "pass"),
        ("t.ssh.tries", "fail"),
    ]
    single = json.loads(cli.ok(*base, "--rule", "t.login.days").out)
    assert [r["rule_id"] for r in single["results"]] == ["t.login.days"]


# ---- recording: runs, findings, work orders, closing on re-check --------------------------


def test_engagement_records_run_findings_and_closes_fixed(
    cli: CliRunner, profile: Path, tmp_path: Path
) -> None:
    cli.ok("client", "add", "某市大数据中心", "--code", "dsj")
    cli.ok("engagement", "create", "基线核查", "--client", "dsj", "--scope", "127.0.0.0/8")
    root = make_root(tmp_path / "img")
    args = (
        "baseline",
        "check",
        "-p",
        str(profile),
        "--root",
        str(root),
        "--engagement",
        "基线核查",
    )
    first = cli(
        "baseline",
        "check",
        "-p",
        str(profile),
        "--root",
        str(root),
        "-e",
        "基线核查",
        "--json",
        "-",
    )
    assert first.code == 0, first
    data = json.loads(first.out)
    run_id = data["run_id"]
    with session_scope(get_engine()) as session:
        run = session.get(BaselineRun, run_id)
        assert run is not None
        assert (run.profile, run.host, run.purpose, run.score) == (
            "clitest",
            "web-01",
            "check",
            33.3,
        )
        assert run.counts == {"pass": 1, "fail": 2, "na": 1, "error": 0}
        assert [r["rule_id"] for r in run.results] == [r["id"] for r in RULES]
        findings = {
            f.check_id: f
            for f in session.scalars(
                select(Finding).where(Finding.source_tool == "shaobing-baseline")
            )
        }
        assert set(findings) == {"t.ssh.root", "t.login.days"}
        root_finding = findings["t.ssh.root"]
        assert (root_finding.host, root_finding.severity, root_finding.status) == (
            "web-01",
            "high",
            "new",
        )
        assert root_finding.evidence == (
            "实际：/etc/ssh/sshd_config:1: PermitRootLogin yes\n期望：t.ssh.root 的期望状态"
        )
        assert "GB/T 22239-2019 8.1.4.1" in root_finding.references
        assert "CIS 5.2.10" in root_finding.references
        assert root_finding.extra["target_spec"]["kind"] == "root"
        assert findings["t.login.days"].severity == "low"
        orders = session.scalars(
            select(WorkOrder).where(WorkOrder.engagement_id == run.engagement_id)
        ).all()
        linked = {f.work_order_id for f in findings.values()}
        assert orders and linked <= {o.id for o in orders} and None not in linked

    # fix one setting on the image and check again: its finding closes as fixed (已修复)
    (root / "etc/ssh/sshd_config").write_text(
        "PermitRootLogin no\nMaxAuthTries 3\n", encoding="utf-8"
    )
    again = cli.ok(*args)
    assert "已记录核查 #" in again.out and "关闭 1" in again.out
    with session_scope(get_engine()) as session:
        states = {
            f.check_id: (f.status, f.is_open)
            for f in session.scalars(
                select(Finding).where(Finding.source_tool == "shaobing-baseline")
            )
        }
        assert states == {"t.ssh.root": ("fixed", False), "t.login.days": ("new", True)}
        assert len(session.scalars(select(BaselineRun)).all()) == 2


@sqlite_only
def test_ssh_target_outside_scope_is_refused_without_connecting(
    cli: CliRunner, profile: Path
) -> None:
    cli.ok("client", "add", "某区政务办", "--code", "zwb")
    cli.ok("engagement", "create", "小范围", "--client", "zwb", "--scope", "127.0.0.2/32")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.3)
        port = listener.getsockname()[1]
        result = cli(
            "baseline",
            "check",
            "-p",
            str(profile),
            "--target",
            f"ssh://ops@127.0.0.1:{port}",
            "--password",
            "x",
            "-e",
            "小范围",
        )
        message = one_line_error(result)
        assert message.startswith(f"核查目标 ssh://ops@127.0.0.1:{port} 不在项目授权范围内：")
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody tried to connect


# ---- bad input: one line each -------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--var", "tries"], "变量 tries 格式无效，应为 名称=值"),
        (["--var", "=4"], "变量 =4 格式无效，应为 名称=值"),
        (["--rule", "t.nope"], "基线 clitest 中没有规则 t.nope（前缀以“.”结尾可选一组规则）"),
        (["--target", "ftp://host/"], "无法识别的核查目标 ftp://host/"),
        (
            ["--target", "ssh://127.0.0.1:22"],
            "SSH 目标 ssh://127.0.0.1:22 格式无效，应为 ssh://用户@主机[:端口]",
        ),
        (["--target", "ssh://u@127.0.0.1:99999"], "SSH 目标 ssh://u@127.0.0.1:99999 格式无效"),
        (["--target", "mysql://"], "数据库连接串 mysql:// 无效"),
        (["--engagement", "没有这个项目", "--target", "local"], "没有这个项目"),
    ],
)
def test_bad_arguments_are_one_line(
    cli: CliRunner, profile: Path, extra: list[str], expected: str
) -> None:
    result = cli("baseline", "check", "-p", str(profile), *extra)
    assert expected in one_line_error(result)


@sqlite_only
def test_bad_root_profile_and_combinations(cli: CliRunner, profile: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert one_line_error(cli("baseline", "check", "-p", str(profile), "--root", str(missing))) == (
        f"离线目录 {missing} 不存在或不是目录"
    )
    root = make_root(tmp_path / "img")
    both = cli(
        "baseline",
        "check",
        "-p",
        str(profile),
        "--root",
        str(root),
        "--target",
        "ssh://u@127.0.0.1",
    )
    assert one_line_error(both).startswith("--root 与 --target ssh://u@127.0.0.1 不能同时使用")
    unknown = one_line_error(cli("baseline", "check", "-p", "no-such-profile", "--root", str(root)))
    assert unknown.startswith("没有名为 no-such-profile 的基线（可用：")
    broken = tmp_path / "broken.yaml"
    broken.write_text("profile: x\nrules:\n  - id: a.b.c\n    title: t\n", encoding="utf-8")
    message = one_line_error(cli("baseline", "check", "-p", str(broken), "--root", str(root)))
    assert message.startswith(f"基线规则文件 {broken}：规则 a.b.c 的字段 ")


# ---- profiles and rules listings ----------------------------------------------------------


@sqlite_only
def test_profiles_and_rules_include_the_organisations_files(cli: CliRunner, tmp_path: Path) -> None:
    user_dir = tmp_path / "home" / "baseline" / "rules"  # $SHAOBING_HOME of the cli fixture
    write_yaml(user_dir / "org.yaml", PROFILE)
    listed = json.loads(cli.ok("baseline", "profiles", "--json", "-").out)["profiles"]
    mine = next(p for p in listed if p["id"] == "clitest")
    assert mine == {"id": "clitest", "title": "命令行测试基线", "target": "host", "rules": 4}
    assert len(listed) >= 2  # the built-in profiles are listed too
    text = cli.ok("baseline", "profiles").out
    assert "clitest｜命令行测试基线｜4 条规则｜目标类型 host" in text

    rules = json.loads(cli.ok("baseline", "rules", "--profile", "clitest", "--json", "-").out)
    assert rules["profile"] == "clitest"
    assert [r["id"] for r in rules["rules"]] == [r["id"] for r in RULES]
    first = rules["rules"][0]
    assert (first["severity"], first["can_harden"]) == ("高", False)
    assert first["references"]["gb22239"] == ["8.1.4.1"]
    lines = cli.ok("baseline", "rules", "--profile", "clitest").out
    assert "t.ssh.root｜高｜规则 t.ssh.root｜身份鉴别 8.1.4.1" in lines
    assert one_line_error(cli("baseline", "rules", "--profile", "nope")).startswith(
        "没有名为 nope 的基线"
    )
    # the profile is usable by name once it is in the organisation's folder
    root = make_root(tmp_path / "img")
    by_name = json.loads(
        cli.ok("baseline", "check", "-p", "clitest", "--root", str(root), "--json", "-").out
    )
    assert by_name["profile"] == "clitest"
