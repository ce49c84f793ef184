"""The browser signer (server/static/js/sm2-login.js) under node; Python verifies its output."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shaobing.core.errors import ValidationError
from shaobing.gm import authority, certs
from shaobing.gm.challenge import challenge_message, new_challenge

NODE = shutil.which("node")
SCRIPT = Path(__file__).parents[2] / "src/shaobing/server/static/js/sm2-login.js"
pytestmark = pytest.mark.skipif(NODE is None, reason="node not installed (Debian package nodejs)")


def _node(code: str, **inputs: str) -> object:
    assert NODE
    program = (
        f"const m = require({json.dumps(str(SCRIPT))});\n"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        f"const out = (() => {{ {code} }})();\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    done = subprocess.run(
        [NODE, "-e", program],
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_sm3_examples() -> None:
    out = _node("return [m.sm3Hex('abc'), m.sm3Hex('abcd'.repeat(16)), m.sm3Hex('')]")
    assert out == [
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
        # The empty message crosses no block boundary; compared with cryptography's SM3.
        __import__("shaobing.gm.sm3", fromlist=["sm3"]).sm3(b"").hex(),
    ]


def test_js_signatures_verify_in_python(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    authority.init_ca(tmp_path / "ca", common_name="JS CA", days=30, force=False, now=now)
    issued = authority.issue_user(tmp_path / "ca", "alice", out_dir=tmp_path, days=10, now=now)
    challenges = [new_challenge() for _ in range(3)]
    out = _node(
        "const cs = input.challenges.split(',');"
        "return {sigs: cs.map(c => m.signChallenge(input.key, c, 'Alice')),"
        " msg: Buffer.from(m.challengeMessage(cs[0], ' ALICE ')).toString('hex'),"
        " info: m.certificateInfo(input.cert),"
        " match: m.keyMatchesCertificate(input.key, input.cert),"
        " pub: m.publicKeyHex(input.key)}",
        key=issued.key_path.read_text(encoding="ascii"),
        cert=issued.cert_path.read_text(encoding="ascii"),
        challenges=",".join(challenges),
    )
    assert isinstance(out, dict)
    assert bytes.fromhex(out["msg"]) == challenge_message(challenges[0], "alice")
    ca_pem = (tmp_path / "ca" / "ca.crt").read_bytes()
    cert_pem = issued.cert_path.read_bytes()
    for challenge, sig in zip(challenges, out["sigs"], strict=True):
        signature = base64.b64decode(sig, validate=True)
        assert signature[0] == 0x30
        ident = certs.verify_login(
            ca_pem, cert_pem, challenge_message(challenge, "alice"), signature, now=now
        )
        assert ident.common_name == "alice"
    assert len(set(out["sigs"])) == 3
    assert out["info"]["commonName"] == "alice"
    assert out["info"]["serialHex"] == issued.cert.serial_hex
    assert out["info"]["publicKeyHex"] == issued.cert.public_key().to_bytes().hex() == out["pub"]
    assert out["match"] is True
    # A signature over one challenge does not log in with another.
    with pytest.raises(ValidationError):
        certs.verify_login(
            ca_pem,
            cert_pem,
            challenge_message(challenges[1], "alice"),
            base64.b64decode(out["sigs"][0]),
            now=now,
        )


def test_js_refuses_wrong_inputs(tmp_path: Path) -> None:
    p256 = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    out = _node(
        "const tryIt = f => { try { f(); return 'ok'; } catch (e) { return String(e.message); } };"
        "return [tryIt(() => m.signChallenge(input.p256, 'a'.repeat(43), 'alice')),"
        " tryIt(() => m.signChallenge('junk', 'a'.repeat(43), 'alice')),"
        " tryIt(() => m.challengeMessage('short', 'alice')),"
        " tryIt(() => m.challengeMessage('a'.repeat(43), 'a\\nb'))]",
        p256=p256,
    )
    assert out == [
        "not an SM2 private key",
        "no PEM block PRIVATE KEY/EC PRIVATE KEY",
        "invalid login challenge",
        "invalid user name",
    ]
