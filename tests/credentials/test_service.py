"""The vault's service layer: validation, encryption round trip, audit, patterns, planning."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from shaobing.core.audit import AuditEvent
from shaobing.core.db import session_scope
from shaobing.core.errors import ConflictError, NotFoundError, ValidationError
from shaobing.core.settings import reset_settings
from shaobing.credentials import service
from shaobing.credentials.models import TargetCredential
from shaobing.credentials.patterns import matches, normalise_pattern, normalise_patterns
from shaobing.credentials.use import CredentialRef, plan_use, reveal_ref, safe_label
from shaobing.engagements.models import Engagement
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from tests.credentials.conftest import KEY_PASSPHRASE

PASSWORD = "S3cret!vault-Ωmega"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory of its own (the vault key is created there)."""
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "home"))
    reset_settings()
    yield tmp_path / "home"
    reset_settings()


@pytest.fixture
def engagement_id(engine: Engine, home: Path) -> int:
    """One engagement with scope 127.0.0.0/24."""
    with session_scope(engine) as db:
        client = add_client(db, "凭据测试单位", code="CRED", actor="test")
        found = create_engagement(
            db,
            client,
            EngagementInput(name="凭据项目", scope=["127.0.0.0/24"], code="CR"),
            actor="t",
        )
        return found.id


def _add(engine: Engine, engagement_id: int, **kw: object) -> int:
    data = service.CredentialInput(
        str(kw.get("name", "web-root")),
        str(kw.get("kind", service.SSH_PASSWORD)),
        str(kw.get("username", "root")),
        list(kw.get("targets", ["127.0.0.0/24"])),  # type: ignore[call-overload]
    )
    secret = kw.get("secret", service.Secret(PASSWORD))
    assert isinstance(secret, service.Secret)
    with session_scope(engine) as db:
        engagement = db.get_one(Engagement, engagement_id)
        return service.add_credential(db, engagement, data, secret, actor="cli:tester").id


def test_round_trip_and_nothing_secret_outside(engine: Engine, engagement_id: int) -> None:
    cred_id = _add(engine, engagement_id)
    with session_scope(engine, readonly=True) as db:
        row = db.get_one(TargetCredential, cred_id)
        assert row.secret_enc.startswith("v1:") and PASSWORD not in row.secret_enc
        assert service.reveal(row).value == PASSWORD
        shown = service.credential_as_dict(row)
        ref = CredentialRef.of(row)
    assert PASSWORD not in json.dumps(shown, ensure_ascii=False)
    assert "secret" not in " ".join(shown) and shown["targets"] == ["127.0.0.0/24"]
    assert PASSWORD not in repr(ref) and PASSWORD not in repr(service.Secret(PASSWORD))
    assert reveal_ref(ref).value == PASSWORD
    # two encryptions of the same secret differ (fresh nonce)
    again = _add(engine, engagement_id, name="second")
    with session_scope(engine, readonly=True) as db:
        assert db.get_one(TargetCredential, again).secret_enc != row.secret_enc


def test_changes_are_audited_by_name_only(engine: Engine, engagement_id: int) -> None:
    cred_id = _add(engine, engagement_id)
    with session_scope(engine) as db:
        row = db.get_one(TargetCredential, cred_id)
        service.rotate_credential(db, row, service.Secret(PASSWORD + "-2"), actor="cli:tester")
        service.remove_credential(db, row, actor="cli:tester")
    with session_scope(engine, readonly=True) as db:
        events = list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        assert db.scalars(select(TargetCredential)).first() is None
    mine = [e for e in events if e.action.startswith("credential.")]
    assert [e.action for e in mine] == ["credential.add", "credential.rotate", "credential.remove"]
    for event in mine:
        assert (event.target, event.engagement_id) == ("web-root", engagement_id)
        assert json.loads(event.detail)["username"] == "root"
    assert not any(PASSWORD in f"{e.detail}{e.target}" for e in events)


def test_wrong_vault_key_is_one_clear_line(
    engine: Engine, engagement_id: int, home: Path, tmp_path: Path
) -> None:
    cred_id = _add(engine, engagement_id)
    other = tmp_path / "other.key"
    other.write_bytes(bytes(range(32)))
    with session_scope(engine, readonly=True) as db:
        row = db.get_one(TargetCredential, cred_id)
        with pytest.raises(ValidationError) as caught:
            service.reveal(row, key_path=other)
        assert service.reveal(row).value == PASSWORD  # the right key still works
    message = caught.value.message
    assert message.startswith("无法解密：保密库密钥") and str(other) in message
    assert "\n" not in message


def test_validation_refusals(engine: Engine, engagement_id: int) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"name": "bad name"}, "凭据名称 bad name 无效"),
        ({"kind": "telnet"}, "凭据类型 telnet 无效"),
        ({"username": "ro ot"}, "用户名 ro ot 无效"),
        ({"targets": ["10.0.0.0/33"]}, "适用目标 10.0.0.0/33 无效"),
        ({"targets": []}, "请至少指定一个适用目标"),
        ({"secret": service.Secret("")}, "凭据的密码或私钥不能为空"),
        ({"secret": service.Secret("x" * 1025)}, "密码过长"),
        ({"secret": service.Secret("pw", "pp")}, "只有 SSH 私钥凭据可以设置私钥口令"),
        ({"kind": "ssh_key", "secret": service.Secret("not a key")}, "无法读取 SSH 私钥"),
    ]
    for kw, expected in cases:
        with pytest.raises(ValidationError, match=expected):
            _add(engine, engagement_id, **kw)
    _add(engine, engagement_id)
    with pytest.raises(ConflictError, match="已有名为 web-root 的凭据"):
        _add(engine, engagement_id)
    with session_scope(engine, readonly=True) as db, pytest.raises(NotFoundError, match="nope"):
        service.get_credential(db, db.get_one(Engagement, engagement_id), "nope")
    # an empty user is allowed for a database password only (Redis requirepass)
    _add(engine, engagement_id, name="redis", kind=service.DB_PASSWORD, username="")


def test_ssh_key_checked_with_its_passphrase(
    engine: Engine, engagement_id: int, tmp_path: Path
) -> None:
    key = tmp_path / "k"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", KEY_PASSPHRASE, "-f", str(key)], check=True
    )
    pem = key.read_text(encoding="utf-8")
    with pytest.raises(ValidationError, match="私钥口令错误或缺失"):
        _add(engine, engagement_id, kind="ssh_key", secret=service.Secret(pem, "wrong"))
    with pytest.raises(ValidationError, match="私钥口令错误或缺失"):
        _add(engine, engagement_id, kind="ssh_key", secret=service.Secret(pem))
    cred_id = _add(
        engine, engagement_id, kind="ssh_key", secret=service.Secret(pem, KEY_PASSPHRASE)
    )
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{key}.pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    with session_scope(engine, readonly=True) as db:
        row = db.get_one(TargetCredential, cred_id)
        assert row.fingerprint == listed
        assert row.passphrase_enc is not None and KEY_PASSPHRASE not in row.passphrase_enc
        assert service.reveal(row) == service.Secret(pem, KEY_PASSPHRASE)


# ---- patterns and planning a use -----------------------------------------------------------


def test_patterns() -> None:
    assert normalise_patterns(["127.0.0.1", "10.1.2.0/24, Web-01.Example.COM.", "10.1.2.9/24"]) == [
        "127.0.0.1",
        "10.1.2.0/24",
        "web-01.example.com",
    ]
    assert normalise_patterns(["127.0.0.1", "*"]) == ["*"]
    assert normalise_pattern("::1") == "::1"
    for bad in ("1.2.3", "a..b", "-x.com", "300.1.1.1", "host name", "10.0.0.0/40"):
        with pytest.raises(ValidationError):
            normalise_pattern(bad)
    pats = ["10.1.2.0/24", "db.example.com", "::1"]
    assert matches(pats, "10.1.2.200") and not matches(pats, "10.1.3.1")
    assert matches(pats, "DB.example.com.") and not matches(pats, "db2.example.com")
    assert matches(pats, "[::1]") and not matches(pats, "10.1.2")
    assert not matches(["10.0.0.0/8"], "db.example.com")  # no DNS: names match names only
    assert matches(["*"], "anything")


@given(st.text(max_size=80))
def test_pattern_parser_never_crashes(text: str) -> None:
    try:
        value = normalise_pattern(text)
    except ValidationError:
        return  # refused with the one-line message (checked in test_patterns)
    assert value == normalise_pattern(value)  # canonical forms are stable
    assert matches([value], value) or value == "*"


@given(st.ip_addresses(v=4), st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_cidr_matching_agrees_with_ipaddress(
    address: ipaddress.IPv4Address, base: ipaddress.IPv4Address, prefix: int
) -> None:
    network = ipaddress.ip_network(f"{base}/{prefix}", strict=False)
    assert matches([normalise_pattern(f"{base}/{prefix}")], str(address)) == (address in network)


def _ref(kind: str = service.SSH_PASSWORD, username: str = "ops") -> CredentialRef:
    return CredentialRef(1, 1, 1, "web-root", kind, username, ("127.0.0.0/24",), "v1:x", None)


def test_plan_use_rules() -> None:
    planned = plan_use(_ref(), "ssh://127.0.0.5:2222")
    assert (planned.target, planned.host) == ("ssh://ops@127.0.0.5:2222", "127.0.0.5")
    assert plan_use(_ref(), "ssh://ops@127.0.0.5").target == "ssh://ops@127.0.0.5"
    db = plan_use(_ref(service.DB_PASSWORD, ""), "redis://127.0.0.9:6379/")
    assert db.target == "redis://127.0.0.9:6379/"
    refusals = [
        (
            _ref(),
            "ssh://ops@127.0.1.5",
            "凭据 web-root 不允许用于目标 ssh://ops@127.0.1.5（允许的目标：127.0.0.0/24）",
        ),
        (
            _ref(),
            "ssh://root@127.0.0.5",
            "凭据 web-root 的用户是 ops，与目标 ssh://root@127.0.0.5 中的用户不一致",
        ),
        (_ref(), "ssh://ops:pw@127.0.0.5", "目标 ssh://ops@127.0.0.5 中已含密码"),
        (_ref(), "redis://127.0.0.5/", "凭据 web-root 是SSH 密码，不能用于目标 redis://127.0.0.5/"),
        (_ref(service.DB_PASSWORD), "ssh://ops@127.0.0.5", "是数据库密码，不能用于目标"),
        (_ref(), "local", "凭据 web-root 只能用于 ssh://"),
    ]
    for ref, target, expected in refusals:
        with pytest.raises(ValidationError) as caught:
            plan_use(ref, target)
        assert expected in caught.value.message, caught.value.message
        assert "pw@" not in caught.value.message
    assert safe_label("mysql://u:p%40ss@db:3306/x") == "mysql://u@db:3306/x"
