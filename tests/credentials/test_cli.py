"""``shaobing cred`` and ``shaobing baseline check --cred`` end to end, with real services.

The SSH checks log in to a real sshd (tests/services/sshd.py) with a stored password and
with a stored passphrase-protected key; the database check authenticates to a real Redis
(tests/services/redis.py) with a stored password. Secrets must appear nowhere: command
output, audit log, the database's other columns, the engagement export.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from shaobing.core.audit import AuditEvent
from shaobing.core.db import get_engine, session_scope
from shaobing.credentials.models import TargetCredential
from shaobing.engagements import purge as purge_mod
from tests.conftest import CliRunner
from tests.credentials.conftest import KEY_PASSPHRASE, SSH_PASSWORD, Sshd
from tests.services.redis import WEAK_PASSWORD, RedisServers, redis_servers

__all__ = ["redis_servers"]

DB_SECRET = "Db#pass-7Zq!unique"
CODE = "CR-1"
# Only a few rules: enough to prove the login worked without running the whole profile.
SSH_RULES = ["--rule", "linux.ssh.permit-root-login", "--rule", "linux.ssh.max-auth-tries"]


def one_line_error(result: Any) -> str:
    """A refused command: exit 1, one line on stderr, no traceback."""
    assert result.code == 1, result
    text = str(result.err).strip()
    assert len(text.splitlines()) == 1 and "Traceback" not in result.err, result.err
    return text


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """What the next command reads from standard input."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


@pytest.fixture
def eng(cli: CliRunner) -> str:
    """An engagement whose scope is the loopback block."""
    cli.ok("client", "add", "凭据测试单位", "--code", "CRC")
    cli.ok(
        "engagement", "create", "凭据项目", "--client", "CRC", "--scope", "127.0.0.0/8",
        "--code", CODE,
    )  # fmt: skip
    return CODE


def add(cli: CliRunner, monkeypatch: pytest.MonkeyPatch, secret: str, *args: str) -> str:
    """``cred add`` with the secret on standard input; returns its output."""
    stdin(monkeypatch, secret + "\n")
    return cli.ok("cred", "add", *args, "--engagement", CODE, "--password-stdin").out


def audit_events() -> list[AuditEvent]:
    """Every audit event, oldest first."""
    with session_scope(get_engine(), readonly=True) as db:
        events = list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        db.expunge_all()
    return events


def everything_stored() -> str:
    """Every stored value except the encrypted columns, as one text."""
    with session_scope(get_engine(), readonly=True) as db:
        rows = [
            (c.name, c.kind, c.username, c.targets, c.fingerprint, c.created_by)
            for c in db.scalars(select(TargetCredential))
        ]
    events = [(e.actor, e.action, e.target, e.detail) for e in audit_events()]
    return json.dumps([rows, events], ensure_ascii=False, default=str)


def test_add_list_rotate_remove(cli: CliRunner, eng: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = add(cli, monkeypatch, DB_SECRET, "cache", "--kind", "db_password", "--user", "",
              "--target", "127.0.0.1", "--target", "10.0.0.0/8")  # fmt: skip
    assert "cache" in out and DB_SECRET not in out
    listed: Any = cli.json("cred", "list", "--engagement", CODE)
    (row,) = listed["credentials"]
    assert (row["name"], row["kind"], row["username"], row["targets"]) == (
        "cache", "db_password", "", ["127.0.0.1", "10.0.0.0/8"],
    )  # fmt: skip
    assert row["created_by"] == "cli:tester" and row["last_used_at"] is None
    table = cli.ok("cred", "list", "--engagement", CODE).out
    assert "cache" in table and DB_SECRET not in table

    stdin(monkeypatch, DB_SECRET + "-new\n")
    rotated = cli.ok("cred", "rotate", "cache", "--engagement", CODE, "--password-stdin").out
    assert DB_SECRET not in rotated
    with session_scope(get_engine(), readonly=True) as db:
        stored = db.scalars(select(TargetCredential)).one()
        assert stored.secret_enc.startswith("v1:")
    assert DB_SECRET not in everything_stored()

    # a second credential of the same name is refused; an unknown one is named
    message = one_line_error(
        cli("cred", "add", "cache", "-e", CODE, "--kind", "db_password", "--user", "x",
            "--password-stdin")
    )  # fmt: skip
    assert "已有名为 cache 的凭据" in message
    assert "没有名为 nope 的凭据" in one_line_error(cli("cred", "remove", "nope", "-e", CODE))

    cli.ok("cred", "remove", "cache", "--engagement", CODE)
    assert cli.json("cred", "list", "--engagement", CODE) == {"credentials": []}
    actions = [e.action for e in audit_events() if e.action.startswith("credential.")]
    assert actions == ["credential.add", "credential.rotate", "credential.remove"]


def test_bad_input_before_any_prompt(cli: CliRunner, eng: str) -> None:
    # stdin is pytest's (reading it fails): every refusal must come before the secret
    message = one_line_error(
        cli("cred", "add", "x y", "-e", CODE, "--kind", "ssh_password", "--user", "ops")
    )
    assert message.endswith(
        "凭据名称 x y 无效：只能包含字母、汉字、数字、下划线、点和连字符，长度 1–64"
    )
    message = one_line_error(
        cli("cred", "add", "k", "-e", CODE, "--kind", "ssh_key", "--user", "ops")
    )
    assert "需要用 --key-file 指定私钥文件" in message
    message = one_line_error(
        cli("cred", "add", "k", "-e", "NOPE", "--kind", "ssh_key", "--user", "ops")
    )
    assert "NOPE" in message


# ---- baseline checks with stored credentials -----------------------------------------------


def _check(cli: CliRunner, *args: str) -> dict[str, Any]:
    result = cli("baseline", "check", "-e", CODE, *args, "--json", "-")
    assert result.code == 0, result
    data: dict[str, Any] = json.loads(result.out)
    return data


def statuses(data: dict[str, Any]) -> dict[str, str]:
    """rule id → status."""
    return {r["rule_id"]: r["status"] for r in data["results"]}


def test_redis_check_with_stored_password(
    cli: CliRunner, eng: str, monkeypatch: pytest.MonkeyPatch, redis_servers: RedisServers
) -> None:
    dsn = f"redis://127.0.0.1:{redis_servers.weak}/"
    # without a password the server refuses every query: no rule can be decided
    bare = statuses(_check(cli, "-p", "redis", "--target", dsn))
    assert bare["redis.limits.timeout"] == "error"
    assert not {"pass", "fail"} & set(bare.values())

    add(cli, monkeypatch, WEAK_PASSWORD, "redis-auth", "--kind", "db_password", "--user", "",
        "--target", "127.0.0.1")  # fmt: skip
    data = _check(cli, "-p", "redis", "--target", dsn, "--cred", "redis-auth")
    got = statuses(data)
    assert got["redis.network.protected-mode"] in {"pass", "fail"}
    assert got["redis.limits.timeout"] == "fail"  # timeout 0 on the test instance
    assert data["target"] == f"redis://127.0.0.1:{redis_servers.weak}/"
    assert isinstance(data["run_id"], int)
    assert WEAK_PASSWORD not in data["target"]

    used: Any = cli.json("cred", "list", "-e", CODE)
    assert used["credentials"][0]["last_used_at"] is not None
    (use,) = [e for e in audit_events() if e.action == "credential.use"]
    assert (use.outcome, use.target, use.actor) == ("success", "redis-auth", "cli:tester")
    assert json.loads(use.detail)["target"] == dsn


def test_target_outside_the_patterns_is_refused(
    cli: CliRunner, eng: str, monkeypatch: pytest.MonkeyPatch, redis_servers: RedisServers
) -> None:
    add(cli, monkeypatch, WEAK_PASSWORD, "narrow", "--kind", "db_password", "--user", "",
        "--target", "127.0.0.2")  # fmt: skip
    dsn = f"redis://127.0.0.1:{redis_servers.weak}/"
    result = cli(
        "baseline", "check", "-e", CODE, "-p", "redis", "--target", dsn, "--cred", "narrow"
    )
    message = one_line_error(result)
    assert message.endswith(f"凭据 narrow 不允许用于目标 {dsn}（允许的目标：127.0.0.2）")
    (refusal,) = [e for e in audit_events() if e.action == "credential.use"]
    assert refusal.outcome == "refused" and refusal.target == "narrow"
    # nothing was run or recorded
    runs: Any = cli.json("cred", "list", "-e", CODE)
    assert runs["credentials"][0]["last_used_at"] is None
    # the option's own rules, one line each
    for extra, expected in [
        (["--password", "x"], "--cred 不能与 --password、--key 同时使用"),
        (["--target", dsn], "使用 --cred 时只能指定一个 --target"),
    ]:
        args = ["baseline", "check", "-e", CODE, "-p", "redis", "--target", dsn]
        assert one_line_error(cli(*args, "--cred", "narrow", *extra)).endswith(expected)
    no_eng = cli("baseline", "check", "-p", "redis", "--target", dsn, "--cred", "narrow")
    assert one_line_error(no_eng).endswith("使用 --cred 时必须用 --engagement 指定服务项目")


def test_ssh_checks_with_stored_password_and_key(
    cli: CliRunner, eng: str, monkeypatch: pytest.MonkeyPatch, sshd: Sshd, tmp_path: Path
) -> None:
    url = f"ssh://127.0.0.1:{sshd.port}"
    add(cli, monkeypatch, SSH_PASSWORD, "ops-pw", "--kind", "ssh_password", "--user", sshd.user,
        "--target", "127.0.0.1")  # fmt: skip
    key = tmp_path / "id"
    key.write_text(sshd.key_pem, encoding="utf-8")
    stdin(monkeypatch, KEY_PASSPHRASE + "\n")
    cli.ok("cred", "add", "ops-key", "-e", CODE, "--kind", "ssh_key", "--user", sshd.user,
           "--key-file", str(key), "--password-stdin")  # fmt: skip
    wrong = tmp_path / "wrong"
    wrong.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n", encoding="utf-8")
    stdin(monkeypatch, "\n")
    bad = cli("cred", "add", "bad", "-e", CODE, "--kind", "ssh_key", "--user", "x",
              "--key-file", str(wrong), "--password-stdin")  # fmt: skip
    assert one_line_error(bad).endswith("无法读取 SSH 私钥：不是 OpenSSH/PEM 格式的私钥")

    for name in ("ops-pw", "ops-key"):
        data = _check(cli, "-p", "linux", "--target", url, "--cred", name, *SSH_RULES)
        assert data["target"] == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}"
        assert "error" not in statuses(data).values(), data
        assert len(data["results"]) == 2 and data["os"]
    # a target naming another user than the credential's is refused before connecting
    other = f"ssh://root@127.0.0.1:{sshd.port}"
    message = one_line_error(
        cli("baseline", "check", "-e", CODE, "-p", "linux", "--target", other, "--cred", "ops-pw")
    )
    assert message.endswith(f"凭据 ops-pw 的用户是 {sshd.user}，与目标 {other} 中的用户不一致")
    uses = [e for e in audit_events() if e.action == "credential.use"]
    assert [(e.target, e.outcome) for e in uses] == [
        ("ops-pw", "success"), ("ops-key", "success"), ("ops-pw", "refused"),
    ]  # fmt: skip
    text = everything_stored()
    assert SSH_PASSWORD not in text and KEY_PASSPHRASE not in text
    assert "PRIVATE KEY" not in text


def test_export_and_purge(
    cli: CliRunner, eng: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    add(cli, monkeypatch, DB_SECRET, "db", "--kind", "db_password", "--user", "audit")
    archive = tmp_path / "export.zip"
    cli.ok("engagement", "export", CODE, "--out", str(archive))
    with zipfile.ZipFile(archive) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    assert not any(DB_SECRET.encode() in data for data in members.values())
    # the row is exported with its ciphertext only (useless without the vault key)
    (line,) = members["tables/target_credentials.jsonl"].decode().splitlines()
    exported = json.loads(line)
    assert exported["name"] == "db" and exported["secret_enc"].startswith("v1:")

    assert purge_mod.uncovered_tables() == []
    assert "target_credentials" in purge_mod.ownership().names
    out = json.loads(cli.ok("engagement", "purge", CODE, "--yes", "--json", "-").out)
    assert out["record"]["counts"]["target_credentials"] == 1
    assert out["record"]["verification"]["ok"] is True
    with session_scope(get_engine(), readonly=True) as db:
        assert db.scalars(select(TargetCredential)).first() is None
