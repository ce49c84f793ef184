"""Hardening (C3): exact plan, changes only with --yes, backups, re-check, rollback, guard rails.

Every change lands in a throw-away tree under ``tmp_path`` (never this machine's /etc). The
"live" failure case uses a tree whose commands run in a shell with the tree as working
directory, so a failing remediation command is real.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from shaobing.baseline.collectors.base import CommandResult
from shaobing.baseline.collectors.filesystem import TreeCollector
from shaobing.baseline.harden_service import _harden
from shaobing.baseline.hardening import (
    guard_ssh_key_login,
    guard_ssh_root_login_needed,
    guard_sudo_user_exists,
)
from shaobing.baseline.loader import get_profile
from shaobing.baseline.models import BaselineRun, HardeningRun
from shaobing.baseline.service import OpenedTarget
from shaobing.core.db import get_engine, session_scope
from shaobing.core.settings import reset_settings
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from tests.conftest import CliRunner

# One database backend is enough for most cases; the full cycle and the failure path run on both.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

SSHD_CONFIG = (
    "Include /etc/ssh/sshd_config.d/*.conf\n"
    "#PermitRootLogin prohibit-password\n"
    "PermitRootLogin yes\n"
    "PasswordAuthentication yes\n"
    "X11Forwarding yes\n"
    "Match User backup\n"
    "  X11Forwarding yes\n"
)
FILES = {
    "/etc/os-release": 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
    "/etc/group": "root:x:0:\nshadow:x:42:\nsudo:x:27:\nalice:x:1000:\n",
    "/etc/shadow": "root:$6$x:19000:0:99999:7:::\nalice:$6$y:19000:0:99999:7:::\n",
    "/etc/ssh/sshd_config": SSHD_CONFIG,
    "/etc/login.defs": "# login.defs\nPASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t0\n",
    "/etc/sysctl.d/README.sysctl": "see sysctl.d(5)\n",
    "/etc/inetd.conf": "telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd\n",
}


def build_tree(root: Path) -> Path:
    """A weak Debian host image: root SSH login, no password expiry, /etc/shadow 0644."""
    for path, text in FILES.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    os.chown(root / "etc/shadow", 0, 0)
    os.chmod(root / "etc/shadow", 0o644)
    os.chmod(root / "etc/ssh/sshd_config", 0o600)
    os.chown(root / "etc/login.defs", 0, 42)  # an unusual owner that rollback must restore
    return root


REFS = {"gb22239": ["8.1.4.1"], "control": "身份鉴别"}


def a_rule(
    rule_id: str, check: dict[str, Any], remediation: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """A rule of the test profile."""
    return {
        "id": rule_id,
        "title": f"测试规则 {rule_id}",
        "description": "d",
        "rationale": "r",
        "severity": "高",
        "check": check,
        "expected": "加固后的状态",
        "remediation": {"text": "整改", **remediation},
        "references": REFS,
        **extra,
    }


def sshd(key: str, value: str) -> dict[str, Any]:
    """A setting check on sshd_config (first occurrence wins, includes followed)."""
    return {
        "type": "setting",
        "path": "/etc/ssh/sshd_config",
        "key": key,
        "include": "Include",
        "compare": {"op": "==", "value": value},
    }


def sshd_set(key: str, value: str) -> dict[str, Any]:
    """The matching edit."""
    return {
        "file": "/etc/ssh/sshd_config",
        "set": {"key": key, "value": value},
        "before": r"^\s*Match\s",
    }


RULES = [
    a_rule(
        "t.ssh.root",
        sshd("PermitRootLogin", "no"),
        {"edits": [sshd_set("PermitRootLogin", "no")], "commands": ["systemctl reload ssh"]},
        rollback={"text": "恢复", "commands": ["systemctl reload ssh"]},
    ),
    a_rule("t.ssh.x11", sshd("X11Forwarding", "no"), {"edits": [sshd_set("X11Forwarding", "no")]}),
    a_rule(
        "t.ssh.password",
        sshd("PasswordAuthentication", "no"),
        {"edits": [sshd_set("PasswordAuthentication", "no")], "guards": ["ssh_key_login"]},
    ),
    a_rule(
        "t.login.max-days",
        {
            "type": "setting",
            "path": "/etc/login.defs",
            "key": "PASS_MAX_DAYS",
            "compare": {"op": "<=", "value": 90},
        },
        {"edits": [{"file": "/etc/login.defs", "set": {"key": "PASS_MAX_DAYS", "value": 90}}]},
    ),
    a_rule(
        "t.sysctl.forward",
        {"type": "sysctl", "key": "net.ipv4.ip_forward", "compare": {"op": "==", "value": 0}},
        {
            "edits": [
                {
                    "file": "/etc/sysctl.d/99-shaobing-baseline.conf",
                    "line": "net.ipv4.ip_forward = 0",
                    "replace": r"^\s*net\.ipv4\.ip_forward\s*=",
                    "mode": "0644",
                }
            ],
            "commands": ["sysctl -w net.ipv4.ip_forward=0"],
        },
    ),
    a_rule(
        "t.shadow.mode",
        {
            "type": "mode",
            "path": "/etc/shadow",
            "max": "0640",
            "owner": "root",
            "group": ["root", "shadow"],
        },
        {"edits": [{"file": "/etc/shadow", "mode": "0640", "group": "shadow"}]},
    ),
    a_rule(
        "t.inetd.telnet",
        {
            "type": "file",
            "path": "/etc/inetd.conf",
            "match": r"^\s*telnet\b",
            "expect": "absent",
            "missing": "pass",
        },
        {"edits": [{"file": "/etc/inetd.conf", "comment_out": r"^\s*telnet\b"}]},
    ),
    a_rule(
        "t.passwd.exists",
        {"type": "file", "path": "/etc/passwd", "match": "^root:"},
        {"edits": [{"file": "/etc/passwd", "line": "root:x:0:0::/root:/bin/sh"}]},
    ),
    a_rule("t.manual.only", {"type": "file", "path": "/etc/nope", "match": "x"}, {}),
]
APPLICABLE = [
    "t.ssh.root",
    "t.ssh.x11",
    "t.login.max-days",
    "t.sysctl.forward",
    "t.shadow.mode",
    "t.inetd.telnet",
]


def write_profile(path: Path, rules: list[dict[str, Any]] | None = None) -> Path:
    """The test profile as a rule file."""
    doc = {
        "profile": "hardtest",
        "title": "加固测试基线",
        "target": "host",
        "rules": rules or RULES,
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def snapshot(root: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every file and link under ``root``: content hash, mode, owner, group."""
    out: dict[str, tuple[str, int, int, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest = (
            hashlib.sha256(path.read_bytes()).hexdigest()
            if stat.S_ISREG(info.st_mode)
            else ("link:" + os.readlink(path) if path.is_symlink() else "dir")
        )
        out[str(path.relative_to(root))] = (
            digest,
            stat.S_IMODE(info.st_mode),
            info.st_uid,
            info.st_gid,
        )
    return out


# ---- the plan -----------------------------------------------------------------------------


@sqlite_only
def test_plan_shows_exact_diffs_and_changes_nothing(cli: CliRunner, tmp_path: Path) -> None:
    root = build_tree(tmp_path / "host")
    before = snapshot(root)
    rules = write_profile(tmp_path / "rules.yaml")
    result = cli("baseline", "harden", "--profile", str(rules), "--root", str(root))
    assert result.code == 0, result
    assert snapshot(root) == before
    out = result.out
    assert "加固计划｜基线 hardtest｜目标 root:" in out
    assert "待加固 6 项｜涉及文件 5 个" in out
    assert (
        "--- /etc/ssh/sshd_config\n+++ /etc/ssh/sshd_config\n@@ -1,7 +1,7 @@\n"
        " Include /etc/ssh/sshd_config.d/*.conf\n #PermitRootLogin prohibit-password\n"
        "-PermitRootLogin yes\n+PermitRootLogin no\n PasswordAuthentication yes\n"
        "-X11Forwarding yes\n+X11Forwarding no\n Match User backup\n   X11Forwarding yes\n"
    ) in out
    assert (
        "--- /dev/null\n+++ /etc/sysctl.d/99-shaobing-baseline.conf\n@@ -0,0 +1 @@\n"
        "+net.ipv4.ip_forward = 0\n# chmod 0644 /etc/sysctl.d/99-shaobing-baseline.conf\n"
    ) in out
    assert "--- /etc/login.defs\n+++ /etc/login.defs\n" in out and "+PASS_MAX_DAYS 90\n" in out
    assert "# chmod 0640 /etc/shadow\n# chown :shadow /etc/shadow" in out
    assert "+# telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd" in out
    # offline trees get no commands; guarded, passing and manual rules say why they are skipped
    assert "命令：" not in out
    assert "跳过：拒绝自动加固：目标上没有任何账户配置了 SSH 公钥" in out
    assert "[通过] t.passwd.exists" in out and "跳过：已通过，无需加固" in out
    assert "跳过：无自动加固步骤，需人工处理" in out
    assert "以上为计划，未做任何修改；确认无误后加上 --yes 执行" in result.err


@sqlite_only
def test_plan_json_lists_every_rule(cli: CliRunner, tmp_path: Path) -> None:
    root = build_tree(tmp_path / "host")
    rules = write_profile(tmp_path / "rules.yaml")
    result = cli("baseline", "harden", "--profile", str(rules), "--root", str(root), "--json", "-")
    assert result.code == 0
    data = json.loads(result.out)
    assert (data["run_id"], data["status"], data["score_after"]) == (None, "planned", None)
    plan = {p["rule_id"]: p for p in data["plan"]}
    assert [p["rule_id"] for p in data["plan"]] == [r["id"] for r in RULES]
    assert plan["t.ssh.root"]["skipped"] is None and plan["t.ssh.root"]["commands"] == []
    assert plan["t.ssh.root"]["files"]["/etc/ssh/sshd_config"].startswith(
        "--- /etc/ssh/sshd_config"
    )
    # both sshd rules share one diff of the file
    assert plan["t.ssh.x11"]["files"] == plan["t.ssh.root"]["files"]
    assert plan["t.passwd.exists"]["status_before"] == "pass"
    assert plan["t.manual.only"]["status_before"] == "fail"


# ---- apply, re-check, record, rollback ----------------------------------------------------


def test_apply_recheck_and_rollback_restore_exactly(cli: CliRunner, tmp_path: Path) -> None:
    root = build_tree(tmp_path / "host")
    before = snapshot(root)
    rules = write_profile(tmp_path / "rules.yaml")
    result = cli(
        "baseline",
        "harden",
        "--profile",
        str(rules),
        "--root",
        str(root),
        "--rules",
        ",".join(APPLICABLE),
        "--yes",
        "--json",
        "-",
    )
    assert result.code == 0, result
    data = json.loads(result.out)
    assert data["status"] == "applied"
    assert data["score_before"] == 0.0 and data["score_after"] == 100.0
    assert {r["rule_id"]: r["status"] for r in data["after"]} == dict.fromkeys(APPLICABLE, "pass")

    # the files as hardened
    assert (root / "etc/ssh/sshd_config").read_text() == (
        "Include /etc/ssh/sshd_config.d/*.conf\n#PermitRootLogin prohibit-password\n"
        "PermitRootLogin no\nPasswordAuthentication yes\nX11Forwarding no\n"
        "Match User backup\n  X11Forwarding yes\n"
    )
    assert stat.S_IMODE((root / "etc/ssh/sshd_config").stat().st_mode) == 0o600
    assert (
        root / "etc/login.defs"
    ).read_text() == "# login.defs\nPASS_MAX_DAYS 90\nPASS_MIN_DAYS\t0\n"
    created = root / "etc/sysctl.d/99-shaobing-baseline.conf"
    assert created.read_text() == "net.ipv4.ip_forward = 0\n"
    assert stat.S_IMODE(created.stat().st_mode) == 0o644
    shadow = (root / "etc/shadow").stat()
    assert (stat.S_IMODE(shadow.st_mode), shadow.st_uid, shadow.st_gid) == (0o640, 0, 42)

    # the run, its before/after checks and the backups are recorded
    run_id = data["run_id"]
    with session_scope(get_engine()) as session:
        run = session.get(HardeningRun, run_id)
        assert run is not None
        assert (run.status, run.profile, run.rules) == ("applied", "hardtest", APPLICABLE)
        assert run.target_spec["kind"] == "root" and run.target_spec["root"] == str(root.resolve())
        backed = {b["path"]: b for b in run.backups["files"]}
        assert set(backed) == {
            "/etc/ssh/sshd_config",
            "/etc/login.defs",
            "/etc/sysctl.d/99-shaobing-baseline.conf",
            "/etc/shadow",
            "/etc/inetd.conf",
        }
        assert backed["/etc/sysctl.d/99-shaobing-baseline.conf"]["existed"] is False
        assert backed["/etc/login.defs"]["gid"] == 42
        assert backed["/etc/shadow"]["mode"] == 0o644
        purposes = {
            r.id: (r.purpose, r.score)
            for r in session.scalars(
                select(BaselineRun).where(BaselineRun.engagement_id == run.engagement_id)
            )
        }
        assert purposes == {
            run.before_run_id: ("harden-before", 0.0),
            run.after_run_id: ("harden-after", 100.0),
        }
        folder = Path(run.backup_dir or "")
    assert folder.is_dir() and len(list(folder.iterdir())) == 4  # the new file has no backup

    listed = json.loads(cli.ok("baseline", "runs", "--json", "-").out)["runs"]
    assert [(r["id"], r["status"], r["rules"]) for r in listed] == [(run_id, "applied", 6)]

    # rollback: bytes, modes and owners as before; the file hardening created is gone
    back = cli("baseline", "rollback", str(run_id), "--json", "-")
    assert back.code == 0, back
    restored = json.loads(back.out)
    assert sorted(restored["restored"]) == sorted(backed)
    assert restored["problems"] == [] and restored["score_after"] == 0.0
    assert snapshot(root) == before
    with session_scope(get_engine()) as session:
        rolled = session.get(HardeningRun, run_id)
        assert rolled is not None and rolled.status == "rolled-back" and rolled.rolled_back_at
    again = cli("baseline", "rollback", str(run_id))
    assert again.code == 1
    assert (
        again.err.strip()
        == f"错误：加固记录 {run_id} 的状态为 rolled-back，只有已应用的加固可以回退"
    )
    assert len(again.err.strip().splitlines()) == 1


@sqlite_only
def test_second_harden_has_nothing_to_do(cli: CliRunner, tmp_path: Path) -> None:
    root = build_tree(tmp_path / "host")
    rules = write_profile(tmp_path / "rules.yaml")
    args = (
        "baseline",
        "harden",
        "--profile",
        str(rules),
        "--root",
        str(root),
        "--rules",
        "t.ssh.",
        "--yes",
        "--json",
        "-",
    )
    first = json.loads(cli.ok(*args).out)
    assert first["status"] == "applied"
    hardened = snapshot(root)
    second = json.loads(cli.ok(*args).out)
    assert second["status"] == "nothing-to-do"
    assert snapshot(root) == hardened
    skipped = {p["rule_id"]: p["skipped"] for p in second["plan"]}
    assert skipped["t.ssh.root"] == "已通过，无需加固"


@sqlite_only
def test_rollback_of_unknown_run(cli: CliRunner) -> None:
    result = cli("baseline", "rollback", "999")
    assert (result.code, result.err.strip()) == (1, "错误：加固记录 999 不存在")


@sqlite_only
def test_guard_allows_password_login_off_with_an_authorized_key(
    cli: CliRunner, tmp_path: Path
) -> None:
    root = build_tree(tmp_path / "host")
    keys = root / "home/alice/.ssh/authorized_keys"
    keys.parent.mkdir(parents=True)
    keys.write_text("# keys\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE alice@laptop\n")
    rules = write_profile(tmp_path / "rules.yaml")
    data = json.loads(
        cli.ok(
            "baseline",
            "harden",
            "--profile",
            str(rules),
            "--root",
            str(root),
            "--rules",
            "t.ssh.password",
            "--yes",
            "--json",
            "-",
        ).out
    )
    assert data["status"] == "applied" and data["score_after"] == 100.0
    assert "PasswordAuthentication no\n" in (root / "etc/ssh/sshd_config").read_text()


# ---- guard rails --------------------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> TreeCollector:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return TreeCollector(root)


def test_guard_ssh_key_login(tmp_path: Path) -> None:
    empty = _tree(tmp_path / "a", {"/home/bob/.ssh/authorized_keys": "# no keys yet\n\n"})
    assert asyncio.run(guard_ssh_key_login(empty)) == (
        "目标上没有任何账户配置了 SSH 公钥（authorized_keys），关闭口令认证后将无法远程登录"
    )
    rooted = _tree(tmp_path / "b", {"/root/.ssh/authorized_keys2": "ssh-rsa AAAAB3 root@x\n"})
    assert asyncio.run(guard_ssh_key_login(rooted)) is None
    user = _tree(tmp_path / "c", {"/home/bob/.ssh/authorized_keys": "ssh-ed25519 AAAA bob\n"})
    assert asyncio.run(guard_ssh_key_login(user)) is None
    assert asyncio.run(guard_ssh_root_login_needed(user)) is None


@pytest.mark.parametrize(
    ("files", "allowed"),
    [
        ({"/etc/group": "sudo:x:27:\nwheel:x:10:\n"}, False),
        ({"/etc/group": "sudo:x:27:alice\n"}, True),
        ({"/etc/group": "wheel:x:10:ops,dev\n"}, True),
        ({"/etc/group": "adm:x:4:alice\n"}, False),
        (
            {"/etc/sudoers": "Defaults env_reset\nroot ALL=(ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n"},
            False,
        ),
        ({"/etc/sudoers.d/ops": "# ops\nops ALL=(ALL) NOPASSWD: ALL\n"}, True),
        ({"/etc/sudoers.d/ops": "# alice ALL=(ALL) ALL\n"}, False),
    ],
)
def test_guard_sudo_user_exists(tmp_path: Path, files: dict[str, str], allowed: bool) -> None:
    result = asyncio.run(guard_sudo_user_exists(_tree(tmp_path, files)))
    assert (
        result is None
        if allowed
        else result == "没有 root 以外可以 sudo 的账户，锁定 root 后将无法管理主机"
    )


@sqlite_only
def test_unknown_guard_refuses(cli: CliRunner, tmp_path: Path) -> None:
    root = build_tree(tmp_path / "host")
    rule = a_rule(
        "t.guarded",
        sshd("X11Forwarding", "no"),
        {"edits": [sshd_set("X11Forwarding", "no")], "guards": ["moon_phase"]},
    )
    rules = write_profile(tmp_path / "rules.yaml", [rule])
    data = json.loads(
        cli.ok(
            "baseline", "harden", "--profile", str(rules), "--root", str(root), "--json", "-"
        ).out
    )
    assert data["plan"][0]["skipped"] == "拒绝自动加固：未知的加固防护条件 moon_phase"


# ---- a failing command on a live target stops and restores everything ---------------------


class ShellTree(TreeCollector):
    """A tree that behaves as a live host: commands run in /bin/sh inside the tree folder."""

    live = True

    async def run(self, command: str, timeout: float = 30.0) -> CommandResult:
        """Run ``command`` with the tree as working directory."""
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            cwd=self.root,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        return CommandResult(proc.returncode or 0, out.decode(), err.decode())


@pytest.fixture
def engagement_id(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """An engagement to record runs in (and a SHAOBING_HOME for the backups)."""
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "home"))
    reset_settings()
    with session_scope(engine) as session:
        client = add_client(session, "某区政务服务中心")
        eng = create_engagement(session, client, EngagementInput(name="加固", scope=["127.0.0.1"]))
        return eng.id


def test_failing_command_rolls_back_everything(
    engine: Engine, engagement_id: int, tmp_path: Path
) -> None:
    root = build_tree(tmp_path / "host")
    before = snapshot(root)
    rules = [
        a_rule(
            "t.a.first",
            sshd("PermitRootLogin", "no"),
            {
                "edits": [sshd_set("PermitRootLogin", "no")],
                "commands": ["echo reload > reloaded.flag"],
            },
            rollback={"commands": ["rm -f reloaded.flag", "echo undone > undone.flag"]},
        ),
        a_rule(
            "t.b.second",
            {
                "type": "setting",
                "path": "/etc/login.defs",
                "key": "PASS_MAX_DAYS",
                "compare": {"op": "<=", "value": 90},
            },
            {
                "edits": [
                    {"file": "/etc/login.defs", "set": {"key": "PASS_MAX_DAYS", "value": 90}},
                    {"file": "/etc/new.conf", "line": "x = 1"},
                    {"file": "/etc/shadow", "mode": "0600"},
                ],
                "commands": [
                    "echo trying",
                    "echo 'reload failed' >&2; false",
                    "echo never > never.flag",
                ],
            },
        ),
    ]
    profile = get_profile(str(write_profile(tmp_path / "rules.yaml", rules)))
    host = ShellTree(root)
    opened = OpenedTarget(
        host.label, host, None, "fixture", spec={"kind": "root", "root": str(root)}
    )
    outcome = asyncio.run(
        _harden(
            engine,
            "rules.yaml",
            profile,
            list(profile.rules),
            opened,
            yes=True,
            engagement_id=engagement_id,
            actor="tester",
        )
    )
    assert outcome.status == "failed-rolled-back"
    assert outcome.message == "命令失败（返回码 1）：echo 'reload failed' >&2; false：reload failed"
    # the first rule's command ran, then its rollback commands ran during the restore
    assert (root / "undone.flag").read_text() == "undone\n"
    del_flags = {"undone.flag"}
    after = {k: v for k, v in snapshot(root).items() if k not in del_flags}
    assert after == before
    assert not (root / "never.flag").exists()
    assert outcome.after is not None
    assert [r.status.value for r in outcome.after.results] == ["fail", "fail"]
    with session_scope(engine) as session:
        run = session.get(HardeningRun, outcome.run_id)
        assert run is not None
        assert (run.status, run.message) == ("failed-rolled-back", outcome.message)
        assert run.backups["applied"] == ["t.a.first"]


@sqlite_only
def test_failed_chown_half_way_is_restored(
    engine: Engine, engagement_id: int, tmp_path: Path
) -> None:
    # the content is written, then the owner cannot be resolved: the file must come back too
    root = build_tree(tmp_path / "host")
    before = snapshot(root)
    rules = [
        a_rule(
            "t.c.owner",
            {"type": "mode", "path": "/etc/login.defs", "max": "0600"},
            {
                "edits": [
                    {
                        "file": "/etc/login.defs",
                        "set": {"key": "PASS_MAX_DAYS", "value": 90},
                        "mode": "0600",
                        "owner": "nosuchuser",
                    }
                ]
            },
        )
    ]
    profile = get_profile(str(write_profile(tmp_path / "rules.yaml", rules)))
    host = TreeCollector(root)
    opened = OpenedTarget(
        host.label, host, None, "fixture", spec={"kind": "root", "root": str(root)}
    )
    outcome = asyncio.run(
        _harden(
            engine,
            "rules.yaml",
            profile,
            list(profile.rules),
            opened,
            yes=True,
            engagement_id=engagement_id,
            actor="tester",
        )
    )
    assert (outcome.status, outcome.message) == (
        "failed-rolled-back",
        "目标上没有用户或组 nosuchuser",
    )
    assert snapshot(root) == before


# ---- the whole cycle on a throw-away root built from this host's files ---------------------


def _copy(source: Path, root: Path) -> None:
    target = root / str(source).lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target, follow_symlinks=True)
    info = source.stat()
    os.chown(target, info.st_uid, info.st_gid)


@sqlite_only
def test_harden_and_rollback_cycle_on_a_copy_of_this_host(cli: CliRunner, tmp_path: Path) -> None:
    sources = [
        Path(p)
        for p in (
            "/etc/login.defs",
            "/etc/ssh/sshd_config",
            "/etc/passwd",
            "/etc/group",
            "/etc/shadow",
            "/usr/lib/os-release",
        )
    ]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        pytest.skip(f"this host lacks {', '.join(missing)}")
    root = tmp_path / "chroot"
    for source in sources:
        _copy(source, root)
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")  # as Debian ships it
    (root / "etc/sysctl.d").mkdir()
    before = snapshot(root)
    rules = write_profile(
        tmp_path / "rules.yaml",
        [
            a_rule(
                "t.login.max-days",
                {
                    "type": "setting",
                    "path": "/etc/login.defs",
                    "key": "PASS_MAX_DAYS",
                    "compare": {"op": "<=", "value": 90},
                },
                {
                    "edits": [
                        {"file": "/etc/login.defs", "set": {"key": "PASS_MAX_DAYS", "value": 90}}
                    ]
                },
            ),
            a_rule(
                "t.login.umask",
                {
                    "type": "setting",
                    "path": "/etc/login.defs",
                    "key": "UMASK",
                    "compare": {"op": "==", "value": "027", "as": "octal"},
                },
                {"edits": [{"file": "/etc/login.defs", "set": {"key": "UMASK", "value": "027"}}]},
            ),
            a_rule(
                "t.ssh.tries",
                {**sshd("MaxAuthTries", "3"), "default": "6"},
                {"edits": [sshd_set("MaxAuthTries", "3")]},
            ),
            a_rule(
                "t.shadow.mode",
                {"type": "mode", "path": "/etc/shadow", "max": "0600", "owner": "root"},
                {"edits": [{"file": "/etc/shadow", "mode": "0600"}]},
            ),
            a_rule(
                "t.sysctl.syncookies",
                {
                    "type": "sysctl",
                    "key": "net.ipv4.tcp_syncookies",
                    "compare": {"op": "==", "value": 1},
                },
                {
                    "edits": [
                        {
                            "file": "/etc/sysctl.d/99-shaobing-baseline.conf",
                            "line": "net.ipv4.tcp_syncookies = 1",
                        }
                    ]
                },
            ),
        ],
    )
    checked = json.loads(
        cli.ok("baseline", "check", "--profile", str(rules), "--root", str(root), "--json", "-").out
    )
    assert checked["os"] and checked["score"] < 100.0
    applied = json.loads(
        cli.ok(
            "baseline",
            "harden",
            "--profile",
            str(rules),
            "--root",
            str(root),
            "--yes",
            "--json",
            "-",
        ).out
    )
    assert applied["status"] == "applied" and applied["score_after"] == 100.0
    assert snapshot(root) != before
    rolled = json.loads(cli.ok("baseline", "rollback", str(applied["run_id"]), "--json", "-").out)
    assert rolled["problems"] == [] and rolled["score_after"] == checked["score"]
    assert snapshot(root) == before
