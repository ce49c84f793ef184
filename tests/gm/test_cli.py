"""``shaobing ca ...`` run through Typer's test runner (the group is wired into main.py later)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shaobing.cli import ca
from shaobing.core.errors import ConflictError, ShaobingError, ValidationError
from shaobing.core.settings import reset_settings
from shaobing.gm import certs
from shaobing.gm.challenge import challenge_message, new_challenge

root = typer.Typer()
root.add_typer(ca.app, name="ca")
runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(root, ["ca", *args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def _error(*args: str) -> ShaobingError:
    result = runner.invoke(root, ["ca", *args])
    assert isinstance(result.exception, ShaobingError), (result.output, result.exception)
    assert "\n" not in result.exception.message
    return result.exception


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "home"))
    reset_settings()
    yield tmp_path / "home"
    reset_settings()


def test_init_issue_sign_verify_in_default_home(home: Path, tmp_path: Path) -> None:
    created = json.loads(_ok("init", "--cn", "单位测试 CA", "--json", "-"))
    assert created["cert"] == str(home / "ca" / "ca.crt") and created["is_ca"] is True
    assert (home / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600
    issued = json.loads(_ok("issue", "alice", "--json", "-"))
    assert issued["common_name"] == "alice"
    assert issued["extended_key_usage"] == ["1.3.6.1.5.5.7.3.2"]
    assert issued["issuer"] == "CN=单位测试 CA"
    assert int(issued["serial_hex"], 16) > 0
    key_path = Path(issued["key"])
    assert key_path == home / "ca" / "users" / "alice.key"
    assert key_path.stat().st_mode & 0o777 == 0o600

    challenge = new_challenge()
    signature = base64.b64decode(
        _ok("sign", "--key", str(key_path), "--challenge", challenge, "--user", "alice").strip(),
        validate=True,
    )
    ident = certs.verify_login(
        (home / "ca" / "ca.crt").read_bytes(),
        Path(issued["cert"]).read_bytes(),
        challenge_message(challenge, "alice"),
        signature,
        now=datetime.now(UTC),
    )
    assert ident.serial_hex == issued["serial_hex"]

    verified = json.loads(_ok("verify", issued["cert"], "--json", "-"))
    assert verified["valid"] is True and verified["fingerprint_sm3"] == ident.fingerprint_sm3
    shown = json.loads(_ok("show", issued["cert"], "--json", "-"))
    assert shown["key_usage"] == ["digitalSignature"] and shown["is_ca"] is False
    assert "alice" in _ok("verify", issued["cert"])


def test_refusals(home: Path, tmp_path: Path) -> None:
    _ok("init", "--dir", str(tmp_path / "ca"))
    assert isinstance(_error("init", "--dir", str(tmp_path / "ca")), ConflictError)
    _ok("init", "--dir", str(tmp_path / "ca"), "--force", "--cn", "new")
    _ok("issue", "bob", "--dir", str(tmp_path / "ca"), "--out", str(tmp_path / "out"))
    assert (tmp_path / "out" / "bob.crt").exists()
    assert (
        "已存在"
        in _error(
            "issue", "bob", "--dir", str(tmp_path / "ca"), "--out", str(tmp_path / "out")
        ).message
    )
    assert isinstance(_error("issue", "../x", "--dir", str(tmp_path / "ca")), ValidationError)
    assert isinstance(_error("issue", "carol", "--dir", str(tmp_path / "nowhere")), ValidationError)
    assert "天数" in _error("issue", "dave", "--dir", str(tmp_path / "ca"), "--days", "0").message
    # A certificate from another CA fails `verify` against this one.
    _ok("init", "--dir", str(tmp_path / "other"), "--cn", "new")
    _ok("issue", "eve", "--dir", str(tmp_path / "other"), "--out", str(tmp_path / "o"))
    message = _error(
        "verify", str(tmp_path / "o" / "eve.crt"), "--dir", str(tmp_path / "ca")
    ).message
    assert "签名校验失败" in message
    assert (
        "挑战"
        in _error(
            "sign", "--key", str(tmp_path / "out" / "bob.key"), "--challenge", "x", "--user", "bob"
        ).message
    )
    assert (
        "证书无法解析"
        in _error(
            "verify", str(tmp_path / "out" / "bob.key"), "--dir", str(tmp_path / "ca")
        ).message
    )
