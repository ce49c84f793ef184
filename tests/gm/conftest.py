"""Shared pieces for the SM2 login tests: a test CA on disk and a builder for odd certificates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shaobing.gm import asn1, authority, x509
from shaobing.gm.keys import encode_spki, private_key_pem
from shaobing.gm.pem import encode_pem
from shaobing.gm.sm2 import PrivateKey

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class CaFixture:
    """A CA made by ``authority.init_ca`` and its parsed parts."""

    directory: Path
    cert_pem: bytes
    cert: x509.Certificate
    key: PrivateKey


@pytest.fixture
def test_ca(tmp_path: Path) -> CaFixture:
    """A fresh CA valid around NOW."""
    issued = authority.init_ca(
        tmp_path / "ca", common_name="测试 CA", days=3650, force=False, now=NOW - timedelta(days=1)
    )
    cert, key = authority.load_ca(tmp_path / "ca")
    return CaFixture(tmp_path / "ca", issued.cert_path.read_bytes(), cert, key)


def user_extensions(
    *, key_usage: Sequence[str] = ("digitalSignature",), eku: Sequence[str] | None = None
) -> list[bytes]:
    """The extensions of a login certificate, adjustable for refusal cases."""
    exts = [x509.extension(x509.BASIC_CONSTRAINTS, asn1.sequence(), critical=True)]
    if key_usage:
        exts.append(x509.extension(x509.KEY_USAGE, x509.key_usage_value(key_usage), critical=True))
    eku_oids = [x509.CLIENT_AUTH] if eku is None else list(eku)
    if eku_oids:
        exts.append(
            x509.extension(x509.EXT_KEY_USAGE, asn1.sequence(*(asn1.oid(o) for o in eku_oids)))
        )
    return exts


def make_cert(
    issuer_key: PrivateKey,
    issuer_name: bytes,
    *,
    cn: str = "alice",
    subject_key: PrivateKey | None = None,
    spki: bytes | None = None,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=30),
    extensions: Sequence[bytes] | None = None,
    serial: int = 0x1234ABCD,
) -> tuple[bytes, PrivateKey]:
    """A PEM certificate built with the library's own builders; returns it and the subject key."""
    key = subject_key or PrivateKey.generate()
    tbs = x509.build_tbs(
        serial=serial,
        issuer=issuer_name,
        subject=x509.build_name(cn),
        spki=spki if spki is not None else encode_spki(key.public_key()),
        not_before=not_before,
        not_after=not_after,
        extensions=user_extensions() if extensions is None else extensions,
    )
    der = x509.sign_tbs(tbs, issuer_key)
    return encode_pem("CERTIFICATE", der).encode("ascii"), key


def write_key(path: Path, key: PrivateKey) -> Path:
    """A PKCS#8 PEM key file."""
    path.write_bytes(private_key_pem(key))
    return path
