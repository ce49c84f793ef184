"""Interoperability with OpenSSL 3 (Debian's openssl): signatures both ways, keys, certificates.

OpenSSL 3.0 uses an empty SM2 user ID unless given ``distid``; GB/T 35276 and this
platform use ``1234567812345678``, so the commands below pass it explicitly.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shaobing.gm import authority, certs, keys, sm2
from shaobing.gm.challenge import challenge_message, new_challenge

OPENSSL = shutil.which("openssl")
DISTID = "distid:1234567812345678"


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert OPENSSL
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, check=check, timeout=60)


def _sm2_supported() -> str | None:
    if OPENSSL is None:
        return "openssl command not installed (Debian package openssl)"
    probe = subprocess.run(
        [OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if probe.returncode != 0:
        return "the local OpenSSL is built without SM2"
    return None


_REASON = _sm2_supported()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


def _openssl_key(path: Path) -> Path:
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", str(path))
    return path


def test_we_verify_openssl_signatures(tmp_path: Path) -> None:
    key_path = _openssl_key(tmp_path / "k.pem")
    key = keys.load_private_key(key_path.read_bytes())
    message = challenge_message(new_challenge(), "alice")
    (tmp_path / "m").write_bytes(message)
    _run(
        "pkeyutl",
        "-sign",
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        DISTID,
        "-inkey",
        str(key_path),
        "-in",
        str(tmp_path / "m"),
        "-out",
        str(tmp_path / "sig"),
    )
    signature = sm2.decode_signature((tmp_path / "sig").read_bytes())
    assert sm2.verify(key.public_key(), message, signature)
    assert not sm2.verify(key.public_key(), message + b"x", signature)


def test_openssl_verifies_our_signatures_and_reads_our_keys(tmp_path: Path) -> None:
    key = sm2.PrivateKey.generate()
    (tmp_path / "k.pem").write_bytes(keys.private_key_pem(key))
    _run("pkey", "-in", str(tmp_path / "k.pem"), "-pubout", "-out", str(tmp_path / "pub.pem"))
    text = _run("pkey", "-in", str(tmp_path / "k.pem"), "-noout", "-text").stdout
    assert "ASN1 OID: SM2" in text
    flat = text.replace(":", "").replace(" ", "").replace("\n", "")
    assert key.public_key().to_bytes().hex() in flat
    message = b"shaobing interop"
    (tmp_path / "m").write_bytes(message)
    (tmp_path / "sig").write_bytes(sm2.encode_signature(sm2.sign(key, message)))
    args = [
        "pkeyutl",
        "-verify",
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        DISTID,
        "-pubin",
        "-inkey",
        str(tmp_path / "pub.pem"),
        "-in",
        str(tmp_path / "m"),
        "-sigfile",
        str(tmp_path / "sig"),
    ]
    assert "Verified Successfully" in _run(*args).stdout
    (tmp_path / "m").write_bytes(message + b"!")
    assert _run(*args, check=False).returncode != 0


def test_openssl_parses_and_verifies_our_certificates(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    authority.init_ca(tmp_path / "ca", common_name="哨兵测试 CA", days=30, force=False, now=now)
    issued = authority.issue_user(tmp_path / "ca", "alice", out_dir=tmp_path, days=10, now=now)
    text = _run("x509", "-in", str(issued.cert_path), "-text", "-noout").stdout
    for expected in (
        "Version: 3",
        "Signature Algorithm: SM2-with-SM3",
        "ASN1 OID: SM2",
        "Digital Signature",
        "TLS Web Client Authentication",
        "CA:FALSE",
        "Subject: CN = alice",
    ):
        assert expected in text
    assert issued.cert.serial_hex in text.replace(":", "").replace(" ", "")
    ca_text = _run("x509", "-in", str(tmp_path / "ca" / "ca.crt"), "-text", "-noout").stdout
    assert "CA:TRUE" in ca_text and "Certificate Sign" in ca_text
    verify = ["verify", "-vfyopt", DISTID, "-CAfile", str(tmp_path / "ca" / "ca.crt")]
    assert _run(*verify, str(issued.cert_path)).stdout.strip().endswith("OK")
    # A certificate from another CA with the same name is refused by OpenSSL too.
    authority.init_ca(tmp_path / "other", common_name="哨兵测试 CA", days=30, force=False, now=now)
    foreign = authority.issue_user(
        tmp_path / "other", "alice", out_dir=tmp_path / "f", days=10, now=now
    )
    assert _run(*verify, str(foreign.cert_path), check=False).returncode != 0


def test_we_accept_an_openssl_made_ca_and_user_certificate(tmp_path: Path) -> None:
    ca_key = _openssl_key(tmp_path / "ca.key")
    user_key = _openssl_key(tmp_path / "user.key")
    _run(
        "req",
        "-x509",
        "-new",
        "-key",
        str(ca_key),
        "-sm3",
        "-subj",
        "/CN=OpenSSL SM2 CA",
        "-days",
        "30",
        "-out",
        str(tmp_path / "ca.crt"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    _run(
        "req",
        "-new",
        "-key",
        str(user_key),
        "-sm3",
        "-subj",
        "/CN=alice",
        "-out",
        str(tmp_path / "user.csr"),
    )
    (tmp_path / "ext.cnf").write_text(
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n", encoding="ascii"
    )
    _run(
        "x509",
        "-req",
        "-in",
        str(tmp_path / "user.csr"),
        "-CA",
        str(tmp_path / "ca.crt"),
        "-CAkey",
        str(ca_key),
        "-sm3",
        "-days",
        "10",
        "-set_serial",
        "0x5eed",
        "-extfile",
        str(tmp_path / "ext.cnf"),
        "-out",
        str(tmp_path / "user.crt"),
    )
    message = challenge_message(new_challenge(), "alice")
    (tmp_path / "m").write_bytes(message)
    _run(
        "pkeyutl",
        "-sign",
        "-rawin",
        "-digest",
        "sm3",
        "-pkeyopt",
        DISTID,
        "-inkey",
        str(user_key),
        "-in",
        str(tmp_path / "m"),
        "-out",
        str(tmp_path / "sig"),
    )
    ident = certs.verify_login(
        (tmp_path / "ca.crt").read_bytes(),
        (tmp_path / "user.crt").read_bytes(),
        message,
        (tmp_path / "sig").read_bytes(),
        now=datetime.now(UTC),
    )
    assert ident.common_name == "alice" and ident.serial_hex == "5eed"
