"""SM2 certificate login over HTTP: certificates from ``shaobing ca``, challenge signed with
the user's key, verified against the configured CA; refusals audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shaobing.cli.main import main
from shaobing.core.audit import AuditEvent
from shaobing.core.db import session_scope
from tests.server.conftest import World


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(list(args)) == 0, capsys.readouterr()
    return capsys.readouterr().out.strip()


@pytest.fixture
def certs(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A login CA in $SHAOBING_HOME/ca and certificates for engineer and viewer."""
    _cli(capsys, "ca", "init", "--cn", "哨兵测试 CA")
    out = tmp_path / "issued"
    _cli(capsys, "ca", "issue", "engineer", "--out", str(out))
    _cli(capsys, "ca", "issue", "viewer", "--out", str(out))
    return out


def _sign(capsys: pytest.CaptureFixture[str], key: Path, challenge: str, user: str) -> str:
    return _cli(capsys, "ca", "sign", "--key", str(key), "--challenge", challenge, "--user", user)


def _attempt(
    client: TestClient,
    capsys: pytest.CaptureFixture[str],
    certs: Path,
    *,
    user: str,
    cert_of: str,
    key_of: str,
    challenge: str | None = None,
) -> tuple[int, dict[str, object]]:
    fresh = client.post("/api/v1/auth/cert/challenge").json()["challenge"]
    used = challenge or fresh
    signature = _sign(capsys, certs / f"{key_of}.key", used, user)
    response = client.post(
        "/api/v1/auth/cert/login",
        json={
            "username": user,
            "challenge": used,
            "certificate": (certs / f"{cert_of}.crt").read_text(),
            "signature": signature,
        },
    )
    return response.status_code, response.json()


def test_certificate_login_opens_a_session(
    world: World, certs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = TestClient(world.app())
    status, data = _attempt(
        client, capsys, certs, user="engineer", cert_of="engineer", key_of="engineer"
    )
    assert status == 200, data
    assert data["user"]["username"] == "engineer"  # type: ignore[index]
    assert data["certificate"]["common_name"] == "engineer"  # type: ignore[index]
    assert client.get("/api/v1/auth/me").json()["username"] == "engineer"
    with session_scope(world.engine, readonly=True) as db:
        details = [
            e.detail
            for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login"))
        ]
    assert any('"sm2_certificate"' in d and '"serial"' in d for d in details)


def test_refusals_are_clear_and_audited(
    world: World, certs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = TestClient(world.app())
    # Someone else's certificate and key, claimed for another name.
    status, data = _attempt(
        client, capsys, certs, user="engineer", cert_of="viewer", key_of="viewer"
    )
    assert status == 401 and "不一致" in str(data["error"])
    # The right certificate with the wrong key: the signature does not verify.
    status, data = _attempt(
        client, capsys, certs, user="engineer", cert_of="engineer", key_of="viewer"
    )
    assert status == 401 and "签名" in str(data["error"])
    # A challenge the server never issued.
    status, data = _attempt(
        client,
        capsys,
        certs,
        user="engineer",
        cert_of="engineer",
        key_of="engineer",
        challenge="A" * 43,
    )
    assert status == 401 and "挑战码" in str(data["error"])
    with session_scope(world.engine, readonly=True) as db:
        failures = list(
            db.scalars(
                select(AuditEvent.detail).where(
                    AuditEvent.action == "auth.login", AuditEvent.outcome == "failure"
                )
            )
        )
    assert sum('"sm2_certificate"' in d for d in failures) == 3


def test_a_challenge_works_once(
    world: World, certs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = TestClient(world.app())
    challenge = client.post("/api/v1/auth/cert/challenge").json()["challenge"]
    body = {
        "username": "viewer",
        "challenge": challenge,
        "certificate": (certs / "viewer.crt").read_text(),
        "signature": _sign(capsys, certs / "viewer.key", challenge, "viewer"),
    }
    assert client.post("/api/v1/auth/cert/login", json=body).status_code == 200
    replay = TestClient(world.app()).post("/api/v1/auth/cert/login", json=body)
    assert replay.status_code == 401


def test_the_page_offers_certificate_login(world: World) -> None:
    page = TestClient(world.app()).get("/login/cert")
    assert page.status_code == 200
    assert "SM2 数字证书登录" in page.text and "/static/js/sm2-login.js" in page.text
    assert 'name="challenge" value="' in page.text
