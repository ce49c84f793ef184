"""``shaobing user ...`` end to end, in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from shaobing.auth import service
from shaobing.auth.policy import AuthContext
from shaobing.core.audit import AuditEvent
from shaobing.core.db import get_engine, session_scope
from tests.auth.conftest import CHEAP, GOOD_PASSWORD
from tests.conftest import CliRunner


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Feed a line to the next command's standard input."""

    def feed(text: str) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO(text))

    return feed


def _users(cli: CliRunner) -> dict[str, dict[str, object]]:
    data = json.loads(cli.ok("user", "list", "--json", "-").out)
    return {u["username"]: u for u in data["users"]}


def test_add_list_and_roles(cli: CliRunner, stdin) -> None:  # type: ignore[no-untyped-def]
    cli.ok("client", "add", "甲单位", "--code", "JIA")
    stdin(GOOD_PASSWORD + "\n")
    out = cli.ok("user", "add", "Zhang", "--role", "admin", "--password-stdin").out
    assert "已新增用户 zhang（系统管理员）" in out
    stdin(GOOD_PASSWORD + "\n")
    cli.ok("user", "add", "li", "--role", "client_viewer", "--client", "JIA", "--password-stdin")
    users = _users(cli)
    assert set(users) == {"zhang", "li"}
    assert users["zhang"]["role"] == "admin" and users["zhang"]["client_id"] is None
    assert users["li"]["client_id"] is not None and users["li"]["must_change_password"]
    assert "password_hash" not in users["li"] and "recent_failures" not in users["li"]
    cli.ok("user", "role", "li", "client_owner")
    assert _users(cli)["li"]["role"] == "client_owner"
    only = json.loads(cli.ok("user", "list", "--client", "JIA", "--json", "-").out)
    assert [u["username"] for u in only["users"]] == ["li"]


def test_list_json_to_file(cli: CliRunner, stdin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stdin(GOOD_PASSWORD + "\n")
    cli.ok("user", "add", "zhang", "--role", "auditor", "--password-stdin")
    target = tmp_path / "users.json"
    cli.ok("user", "list", "--json", str(target))
    data = json.loads(target.read_text("utf-8"))
    assert [u["role"] for u in data["users"]] == ["auditor"]


@pytest.mark.parametrize(
    ("args", "password", "fragment"),
    [
        (["user", "add", "zhang", "--role", "admin"], "Short1!", "密码过短"),
        (["user", "add", "zhang", "--role", "admin"], "Zhang#Lamp2046", "不得包含用户名"),
        (["user", "add", "zhang", "--role", "admin"], "", "标准输入中没有密码"),
        (["user", "add", "zhang", "--role", "boss"], GOOD_PASSWORD, "未知角色：boss"),
        (["user", "add", "zhang", "--role", "client_owner"], GOOD_PASSWORD, "必须指定所属客户"),
        (
            ["user", "add", "zhang", "--role", "admin", "--client", "无此单位"],
            GOOD_PASSWORD,
            "无此单位",
        ),
        (["user", "add", "张三", "--role", "admin"], GOOD_PASSWORD, "用户名无效：张三"),
        (["user", "passwd", "ghost"], GOOD_PASSWORD, "用户不存在：ghost"),
    ],
)
def test_errors_are_one_line(  # type: ignore[no-untyped-def]
    cli: CliRunner, stdin, args: list[str], password: str, fragment: str
) -> None:
    stdin(password + "\n" if password else "")
    result = cli(*args, "--password-stdin")
    assert result.code == 1
    assert fragment in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err
    if password:
        assert password not in result.err + result.out


def test_password_is_never_taken_from_the_command_line(cli: CliRunner) -> None:
    result = cli("user", "add", "zhang", "--role", "admin", "--password", GOOD_PASSWORD)
    assert result.code == 2


def test_passwd_lock_unlock_disable_enable(cli: CliRunner, stdin) -> None:  # type: ignore[no-untyped-def]
    stdin(GOOD_PASSWORD + "\n")
    cli.ok("user", "add", "zhang", "--role", "engineer", "--password-stdin")
    stdin("Second#Lamp2047\n")
    assert "已重置用户 zhang 的密码" in cli.ok("user", "passwd", "zhang", "--password-stdin").out
    stdin(GOOD_PASSWORD + "\n")
    reused = cli("user", "passwd", "zhang", "--password-stdin")
    assert reused.code == 1 and "最近 5 次" in reused.err

    cli.ok("user", "lock", "zhang")
    assert _users(cli)["zhang"]["locked"] is True
    cli.ok("user", "unlock", "zhang")
    assert _users(cli)["zhang"]["locked"] is False
    cli.ok("user", "disable", "zhang")
    assert _users(cli)["zhang"]["active"] is False
    cli.ok("user", "enable", "zhang")
    assert _users(cli)["zhang"]["active"] is True

    # The reset password is the one that logs in now.
    ctx = AuthContext(hasher=CHEAP)
    with session_scope(get_engine()) as db:
        assert service.authenticate(db, "zhang", "Second#Lamp2047", ctx=ctx).ok
        events = [
            (e.action, e.actor)
            for e in db.query(AuditEvent).order_by(AuditEvent.seq)
            if e.action.startswith("user.")
        ]
        details = " ".join(e.detail for e in db.query(AuditEvent))
    assert events == [
        ("user.create", "cli:tester"),
        ("user.password_reset", "cli:tester"),
        ("user.lock", "cli:tester"),
        ("user.unlock", "cli:tester"),
        ("user.disable", "cli:tester"),
        ("user.enable", "cli:tester"),
    ]
    assert GOOD_PASSWORD not in details and "Second#Lamp2047" not in details


def test_table_output_lists_the_user(cli: CliRunner, stdin) -> None:  # type: ignore[no-untyped-def]
    stdin(GOOD_PASSWORD + "\n")
    cli.ok("user", "add", "zhang", "--role", "auditor", "--password-stdin")
    out = cli.ok("user", "list").out
    assert "zhang" in out and "平台用户" in out
