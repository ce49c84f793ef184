"""A local test CA on disk: ``ca.crt`` / ``ca.key`` and user certificates for SM2 login.

Keys are written unencrypted with mode 0600: these are test keys for trying the login
locally, not a production PKI (docs/sm2-login.md).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shaobing.auth.service import normalise_username
from shaobing.core.errors import ConflictError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.gm import asn1, x509
from shaobing.gm.certs import CA_CERT_NAME, CA_DIR_NAME, load_certificate
from shaobing.gm.keys import encode_spki, load_private_key, private_key_pem
from shaobing.gm.pem import MAX_PEM, encode_pem
from shaobing.gm.sm2 import PrivateKey

CA_KEY_NAME = "ca.key"
MAX_DAYS = 36500
# Clocks of the browser's machine and the server differ a little; a certificate that is
# valid from a few minutes ago works at once.
_BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class Issued:
    """A certificate written to disk, with its key file."""

    cert_path: Path
    key_path: Path
    cert: x509.Certificate


def default_ca_dir() -> Path:
    """``$SHAOBING_HOME/ca``."""
    return get_settings().home / CA_DIR_NAME


def read_small(path: Path) -> bytes:
    """A certificate or key file's bytes, refusing files larger than a PEM can be."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_PEM + 1)
    except OSError as exc:
        raise ValidationError(t("gm.ca.read_failed", path=path, detail=exc.strerror)) from None
    if len(data) > MAX_PEM:
        raise ValidationError(t("gm.pem.too_large", size=len(data), limit=MAX_PEM))
    return data


def _write(path: Path, data: bytes, *, private: bool, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600 if private else 0o644)
    except FileExistsError:
        raise ConflictError(t("gm.ca.exists", path=path)) from None
    except OSError as exc:
        raise ValidationError(t("gm.ca.write_failed", path=path, detail=exc.strerror)) from None
    with os.fdopen(fd, "wb") as fh:
        # An overwritten file keeps its old mode; a key must never stay world-readable.
        os.fchmod(fh.fileno(), 0o600 if private else 0o644)
        fh.write(data)


def _days(days: int) -> timedelta:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(t("gm.ca.bad_days", days=days, limit=MAX_DAYS))
    return timedelta(days=days)


def _serial() -> int:
    # 128 random bits; never zero (RFC 5280 4.1.2.2 wants a positive serial).
    return secrets.randbits(128) or 1


def _prepare_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ValidationError(
            t("gm.ca.write_failed", path=directory, detail=exc.strerror)
        ) from None


def init_ca(directory: Path, *, common_name: str, days: int, force: bool, now: datetime) -> Issued:
    """Create a self-signed SM2 CA in ``directory``; refuse to replace one without ``force``."""
    if not common_name.strip() or len(common_name) > 64:
        raise ValidationError(t("gm.ca.bad_cn", cn=common_name))
    lifetime = _days(days)
    cert_path, key_path = directory / CA_CERT_NAME, directory / CA_KEY_NAME
    if not force:
        for path in (cert_path, key_path):
            if path.exists():
                raise ConflictError(t("gm.ca.exists", path=path))
    _prepare_dir(directory)
    key = PrivateKey.generate()
    spki = encode_spki(key.public_key())
    name = x509.build_name(common_name.strip())
    start = now.astimezone(UTC).replace(microsecond=0) - _BACKDATE
    tbs = x509.build_tbs(
        serial=_serial(),
        issuer=name,
        subject=name,
        spki=spki,
        not_before=start,
        not_after=start + lifetime,
        extensions=[
            x509.extension(
                x509.BASIC_CONSTRAINTS, asn1.sequence(asn1.boolean(True)), critical=True
            ),
            x509.extension(
                x509.KEY_USAGE, x509.key_usage_value(["keyCertSign", "cRLSign"]), critical=True
            ),
            x509.extension(x509.SUBJECT_KEY_ID, asn1.octet_string(x509.key_id(spki))),
        ],
    )
    der = x509.sign_tbs(tbs, key)
    _write(key_path, private_key_pem(key), private=True, force=force)
    _write(cert_path, encode_pem("CERTIFICATE", der).encode("ascii"), private=False, force=force)
    return Issued(cert_path, key_path, x509.parse_certificate(der))


def load_ca(directory: Path) -> tuple[x509.Certificate, PrivateKey]:
    """The CA certificate and its key from ``directory``; refuse a key of another CA."""
    cert = load_certificate(read_small(directory / CA_CERT_NAME))
    key = load_private_key(read_small(directory / CA_KEY_NAME))
    if cert.public_key() != key.public_key():
        raise ValidationError(t("gm.ca.key_mismatch", path=directory / CA_KEY_NAME))
    return cert, key


def issue_user(
    ca_dir: Path, username: str, *, out_dir: Path, days: int, now: datetime, force: bool = False
) -> Issued:
    """A login certificate (CN = user name, digitalSignature, clientAuth) and its key."""
    name = normalise_username(username)
    lifetime = _days(days)
    ca, ca_key = load_ca(ca_dir)
    cert_path, key_path = out_dir / f"{name}.crt", out_dir / f"{name}.key"
    if not force:
        for path in (cert_path, key_path):
            if path.exists():
                raise ConflictError(t("gm.ca.exists", path=path))
    start = now.astimezone(UTC).replace(microsecond=0) - _BACKDATE
    end = min(start + lifetime, ca.not_after)
    key = PrivateKey.generate()
    spki = encode_spki(key.public_key())
    ca_key_id = ca.subject_key_id or x509.key_id(ca.spki.raw)
    tbs = x509.build_tbs(
        serial=_serial(),
        issuer=ca.subject,
        subject=x509.build_name(name),
        spki=spki,
        not_before=start,
        not_after=end,
        extensions=[
            x509.extension(x509.BASIC_CONSTRAINTS, asn1.sequence(), critical=True),
            x509.extension(
                x509.KEY_USAGE, x509.key_usage_value(["digitalSignature"]), critical=True
            ),
            x509.extension(x509.EXT_KEY_USAGE, asn1.sequence(asn1.oid(x509.CLIENT_AUTH))),
            x509.extension(x509.SUBJECT_KEY_ID, asn1.octet_string(x509.key_id(spki))),
            x509.extension(x509.AUTHORITY_KEY_ID, asn1.sequence(asn1.implicit(0, ca_key_id))),
        ],
    )
    der = x509.sign_tbs(tbs, ca_key)
    _prepare_dir(out_dir)
    _write(key_path, private_key_pem(key), private=True, force=force)
    _write(cert_path, encode_pem("CERTIFICATE", der).encode("ascii"), private=False, force=force)
    return Issued(cert_path, key_path, x509.parse_certificate(der))
