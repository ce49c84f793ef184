"""verify_login: the accepted case and every refusal, each with its one-line Chinese message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shaobing.core.errors import ConflictError, ValidationError
from shaobing.core.settings import reset_settings
from shaobing.gm import asn1, authority, certs, sm2, x509
from shaobing.gm.challenge import challenge_message, new_challenge
from shaobing.gm.keys import load_private_key, private_key_pem
from tests.gm.conftest import NOW, CaFixture, make_cert, user_extensions


def _login(ca: CaFixture, cert_pem: bytes, key: sm2.PrivateKey, **kw: object) -> certs.CertIdentity:
    message = challenge_message(new_challenge(), "alice")
    signature = sm2.encode_signature(sm2.sign(key, message))
    return certs.verify_login(ca.cert_pem, cert_pem, message, signature, now=kw.get("now", NOW))  # type: ignore[arg-type]


def _refused(ca_pem: bytes, cert_pem: bytes, key: sm2.PrivateKey, match: str) -> str:
    message = challenge_message(new_challenge(), "alice")
    signature = sm2.encode_signature(sm2.sign(key, message))
    with pytest.raises(ValidationError, match=match) as info:
        certs.verify_login(ca_pem, cert_pem, message, signature, now=NOW)
    text = info.value.message
    assert "\n" not in text and "Traceback" not in text
    return text


def test_issued_certificate_logs_in(test_ca: CaFixture, tmp_path: Path) -> None:
    issued = authority.issue_user(
        test_ca.directory, "Alice", out_dir=tmp_path / "u", days=30, now=NOW
    )
    key = load_private_key(issued.key_path.read_bytes())
    ident = _login(test_ca, issued.cert_path.read_bytes(), key)
    assert ident.common_name == "alice"
    assert ident.serial_hex == issued.cert.serial_hex and len(ident.serial_hex) >= 30
    assert ident.not_before <= NOW <= ident.not_after
    assert ident.fingerprint_sm3 == issued.cert.fingerprint_sm3 and len(ident.fingerprint_sm3) == 64
    assert issued.key_path.stat().st_mode & 0o777 == 0o600


def test_raw_signature_and_naive_time_are_accepted(test_ca: CaFixture) -> None:
    cert_pem, key = make_cert(test_ca.key, test_ca.cert.subject)
    message = challenge_message("c" * 43, "alice")
    r, s = sm2.sign(key, message)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    ident = certs.verify_login(
        test_ca.cert_pem, cert_pem, message, raw, now=NOW.replace(tzinfo=None)
    )
    assert ident.common_name == "alice"


def test_unparsable_certificate(test_ca: CaFixture) -> None:
    key = sm2.PrivateKey.generate()
    text = _refused(test_ca.cert_pem, b"not a certificate", key, "证书无法解析")
    assert "PEM" in text
    cert_pem, key = make_cert(test_ca.key, test_ca.cert.subject)
    _refused(test_ca.cert_pem, cert_pem.replace(b"MII", b"MIJ", 1), key, "证书无法解析")


def test_not_issued_by_the_ca(test_ca: CaFixture) -> None:
    other = sm2.PrivateKey.generate()
    # Another CA that uses the same name: the issuer matches, the signature does not.
    cert_pem, key = make_cert(other, test_ca.cert.subject)
    _refused(test_ca.cert_pem, cert_pem, key, "签名校验失败")
    # A different issuer name.
    cert_pem, key = make_cert(test_ca.key, x509.build_name("别的 CA"))
    text = _refused(test_ca.cert_pem, cert_pem, key, "不是由配置的 CA 签发")
    assert "别的 CA" in text and "测试 CA" in text


def test_tampered_certificate(test_ca: CaFixture) -> None:
    cert_pem, key = make_cert(test_ca.key, test_ca.cert.subject, cn="alice")
    der = certs.load_certificate(cert_pem).der
    forged = der.replace(b"alice", b"admin")
    assert forged != der
    _refused(test_ca.cert_pem, forged, key, "签名校验失败")


def test_expired_and_not_yet_valid(test_ca: CaFixture) -> None:
    cert_pem, key = make_cert(
        test_ca.key,
        test_ca.cert.subject,
        not_before=NOW - timedelta(days=60),
        not_after=NOW - timedelta(seconds=1),
    )
    assert "已过期" in _refused(test_ca.cert_pem, cert_pem, key, "alice")
    cert_pem, key = make_cert(
        test_ca.key, test_ca.cert.subject, not_before=NOW + timedelta(hours=1)
    )
    _refused(test_ca.cert_pem, cert_pem, key, "尚未生效")


def test_key_usage_and_eku_are_required(test_ca: CaFixture) -> None:
    for exts, match in [
        (user_extensions(key_usage=("keyEncipherment",)), "digitalSignature"),
        (user_extensions(key_usage=()), "digitalSignature"),
        (user_extensions(eku=["1.3.6.1.5.5.7.3.1"]), "clientAuth"),
        (user_extensions(eku=[]), "clientAuth"),
    ]:
        cert_pem, key = make_cert(test_ca.key, test_ca.cert.subject, extensions=exts)
        _refused(test_ca.cert_pem, cert_pem, key, match)


def test_unknown_critical_extension(test_ca: CaFixture) -> None:
    exts = [*user_extensions(), x509.extension("1.2.3.4.5", asn1.null(), critical=True)]
    cert_pem, key = make_cert(test_ca.key, test_ca.cert.subject, extensions=exts)
    _refused(test_ca.cert_pem, cert_pem, key, "1.2.3.4.5")


def test_not_an_sm2_key(test_ca: CaFixture) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = p256.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cert_pem, key = make_cert(test_ca.key, test_ca.cert.subject, spki=spki)
    text = _refused(test_ca.cert_pem, cert_pem, key, "不是 SM2 密钥")
    assert "1.2.840.10045.3.1.7" in text


def test_bad_signature_on_the_message(test_ca: CaFixture) -> None:
    cert_pem, key = make_cert(test_ca.key, test_ca.cert.subject)
    message = challenge_message(new_challenge(), "alice")
    wrong_key = sm2.encode_signature(sm2.sign(sm2.PrivateKey.generate(), message))
    other_message = sm2.encode_signature(sm2.sign(key, challenge_message(new_challenge(), "alice")))
    for signature in (wrong_key, other_message):
        with pytest.raises(ValidationError, match="挑战签名校验失败"):
            certs.verify_login(test_ca.cert_pem, cert_pem, message, signature, now=NOW)
    with pytest.raises(ValidationError, match="挑战签名无法解析"):
        certs.verify_login(test_ca.cert_pem, cert_pem, message, b"\x30\x02zz", now=NOW)


def test_ca_that_is_not_a_ca(test_ca: CaFixture) -> None:
    # A user certificate configured as the CA, and a CA certificate without basicConstraints.
    user_pem, user_key = make_cert(test_ca.key, test_ca.cert.subject, cn="fake-ca")
    cert_pem, key = make_cert(user_key, x509.build_name("fake-ca"))
    _refused(user_pem, cert_pem, key, "不是 CA 证书")
    no_bc_pem, no_bc_key = make_cert(
        test_ca.key, test_ca.cert.subject, cn="ca2", extensions=user_extensions()[1:]
    )
    _refused(no_bc_pem, make_cert(no_bc_key, x509.build_name("ca2"))[0], key, "不是 CA 证书")
    _refused(b"garbage", cert_pem, key, "CA 证书无法解析")


def test_expired_ca(tmp_path: Path) -> None:
    past = NOW - timedelta(days=400)
    authority.init_ca(tmp_path, common_name="old", days=10, force=False, now=past)
    cert, ca_key = authority.load_ca(tmp_path)
    cert_pem, key = make_cert(ca_key, cert.subject)
    _refused((tmp_path / "ca.crt").read_bytes(), cert_pem, key, "CA 证书 old.*不在有效期内")


def test_challenge_format() -> None:
    first, second = new_challenge(), new_challenge()
    assert first != second and len(first) >= 22
    message = challenge_message(first, " Alice ")
    assert message == b"shaobing-sm2-login-v1\n" + first.encode() + b"\nalice"
    for challenge, user in [("short", "alice"), ("a" * 43 + "\n", "alice"), ("a" * 43, "a\nb")]:
        with pytest.raises(ValidationError):
            challenge_message(challenge, user)


def test_default_ca_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "home"))
    reset_settings()
    try:
        assert certs.default_ca_path() == tmp_path / "home" / "ca" / "ca.crt"
        assert authority.default_ca_dir() == certs.default_ca_path().parent
    finally:
        reset_settings()


def test_issued_certificate_profile(test_ca: CaFixture, tmp_path: Path) -> None:
    issued = authority.issue_user(test_ca.directory, "bob", out_dir=tmp_path, days=3650, now=NOW)
    cert = issued.cert
    assert cert.version == 3 and cert.signature_algorithm == x509.SM2_WITH_SM3
    assert cert.key_algorithm == ("1.2.840.10045.2.1", "1.2.156.10197.1.301")
    assert cert.key_usage == frozenset({"digitalSignature"})
    assert cert.ext_key_usage == frozenset({x509.CLIENT_AUTH})
    assert cert.is_ca is False and cert.issuer == test_ca.cert.subject
    # A user certificate never outlives its CA.
    assert cert.not_after == test_ca.cert.not_after
    assert test_ca.cert.is_ca and test_ca.cert.key_usage == frozenset({"keyCertSign", "cRLSign"})
    assert x509.signature_valid(test_ca.cert, test_ca.cert.public_key())


def test_ca_files_are_not_overwritten(test_ca: CaFixture, tmp_path: Path) -> None:
    before = (test_ca.directory / "ca.crt").read_bytes()
    with pytest.raises(ConflictError, match="已存在"):
        authority.init_ca(test_ca.directory, common_name="x", days=1, force=False, now=NOW)
    assert (test_ca.directory / "ca.crt").read_bytes() == before
    authority.init_ca(test_ca.directory, common_name="x", days=1, force=True, now=NOW)
    assert (test_ca.directory / "ca.crt").read_bytes() != before
    assert (test_ca.directory / "ca.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValidationError):
        authority.init_ca(tmp_path / "n", common_name="x", days=0, force=False, now=NOW)


def test_ca_key_must_match_certificate(test_ca: CaFixture, tmp_path: Path) -> None:
    (test_ca.directory / "ca.key").write_bytes(private_key_pem(sm2.PrivateKey.generate()))
    with pytest.raises(ValidationError, match="不匹配"):
        authority.issue_user(test_ca.directory, "carol", out_dir=tmp_path, days=1, now=NOW)
