"""Checking an SM2 login: the user certificate against the configured CA, then the
signature over the challenge. This is the API the login endpoint calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.gm import sm2, x509
from shaobing.gm.pem import decode_pem

CA_DIR_NAME = "ca"
CA_CERT_NAME = "ca.crt"
# Extensions this module acts on or may safely ignore; any other critical one is refused
# (RFC 5280 4.2: a critical extension that is not understood must fail the certificate).
_UNDERSTOOD = frozenset(
    {
        x509.BASIC_CONSTRAINTS,
        x509.KEY_USAGE,
        x509.EXT_KEY_USAGE,
        x509.SUBJECT_KEY_ID,
        x509.AUTHORITY_KEY_ID,
    }
)


@dataclass(frozen=True)
class CertIdentity:
    """Who a verified certificate names, for the session and the audit log."""

    common_name: str
    serial_hex: str
    not_before: datetime
    not_after: datetime
    fingerprint_sm3: str


def default_ca_path() -> Path:
    """Where the server reads the login CA: ``$SHAOBING_HOME/ca/ca.crt``."""
    return get_settings().home / CA_DIR_NAME / CA_CERT_NAME


def load_certificate(data: bytes) -> x509.Certificate:
    """Parse a PEM (first ``CERTIFICATE`` block) or DER certificate."""
    if data[:1] == b"\x30":
        return x509.parse_certificate(bytes(data))
    _, der = decode_pem(data, ("CERTIFICATE",))
    return x509.parse_certificate(der)


def label(cert: x509.Certificate) -> str:
    """How a certificate is named in messages: its CN and serial number."""
    return t("gm.cert.label", cn=cert.common_name or "-", serial=cert.serial_hex)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _utc(now: datetime) -> datetime:
    # A naive time is taken as UTC, the zone certificates are written in.
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _parse(data: bytes, key: str) -> x509.Certificate:
    try:
        return load_certificate(data)
    except ValidationError as exc:
        raise ValidationError(t(key, detail=exc.message)) from None


def _check_ca(ca: x509.Certificate, now: datetime) -> sm2.PublicKey:
    if not ca.is_ca or (ca.key_usage is not None and "keyCertSign" not in ca.key_usage):
        raise ValidationError(t("gm.cert.ca_not_ca", name=label(ca)))
    try:
        public = ca.public_key()
    except ValidationError as exc:
        raise ValidationError(t("gm.cert.ca_not_sm2", name=label(ca), detail=exc.message)) from None
    if not ca.not_before <= now <= ca.not_after:
        raise ValidationError(
            t(
                "gm.cert.ca_expired",
                name=label(ca),
                not_before=_when(ca.not_before),
                not_after=_when(ca.not_after),
            )
        )
    return public


def _check_chain(ca: x509.Certificate, ca_key: sm2.PublicKey, cert: x509.Certificate) -> None:
    if cert.issuer != ca.subject:
        raise ValidationError(
            t(
                "gm.cert.issuer_mismatch",
                name=label(cert),
                issuer=x509.format_name(cert.issuer_attrs),
                ca=x509.format_name(ca.subject_attrs),
            )
        )
    if {cert.signature_algorithm, cert.tbs_signature_algorithm} != {x509.SM2_WITH_SM3}:
        raise ValidationError(
            t("gm.cert.bad_algorithm", name=label(cert), algorithm=cert.signature_algorithm)
        )
    if not x509.signature_valid(cert, ca_key):
        raise ValidationError(
            t("gm.cert.bad_cert_signature", name=label(cert), ca=x509.format_name(ca.subject_attrs))
        )


def _check_use(cert: x509.Certificate, now: datetime) -> sm2.PublicKey:
    name = label(cert)
    if now < cert.not_before:
        raise ValidationError(
            t("gm.cert.not_yet_valid", name=name, not_before=_when(cert.not_before))
        )
    if now > cert.not_after:
        raise ValidationError(t("gm.cert.expired", name=name, not_after=_when(cert.not_after)))
    if cert.version != 3:
        raise ValidationError(t("gm.cert.not_v3", name=name, version=cert.version))
    for ext in cert.extensions:
        if ext.critical and ext.oid not in _UNDERSTOOD:
            raise ValidationError(t("gm.cert.unknown_critical", name=name, oid=ext.oid))
    try:
        public = cert.public_key()
    except ValidationError as exc:
        raise ValidationError(t("gm.cert.not_sm2", name=name, detail=exc.message)) from None
    if cert.key_usage is None or "digitalSignature" not in cert.key_usage:
        raise ValidationError(t("gm.cert.no_digital_signature", name=name))
    if cert.ext_key_usage is None or x509.CLIENT_AUTH not in cert.ext_key_usage:
        raise ValidationError(t("gm.cert.no_client_auth", name=name))
    if not cert.common_name:
        raise ValidationError(t("gm.cert.no_common_name", name=name))
    return public


def _verified(
    ca_pem: bytes, cert_pem: bytes, now: datetime
) -> tuple[x509.Certificate, sm2.PublicKey]:
    moment = _utc(now)
    ca = _parse(ca_pem, "gm.cert.ca_unparsable")
    ca_key = _check_ca(ca, moment)
    cert = _parse(cert_pem, "gm.cert.unparsable")
    _check_chain(ca, ca_key, cert)
    return cert, _check_use(cert, moment)


def identity(cert: x509.Certificate) -> CertIdentity:
    """The identity fields of a certificate (no checks)."""
    return CertIdentity(
        common_name=cert.common_name or "",
        serial_hex=cert.serial_hex,
        not_before=cert.not_before,
        not_after=cert.not_after,
        fingerprint_sm3=cert.fingerprint_sm3,
    )


def verify_certificate(ca_pem: bytes, cert_pem: bytes, *, now: datetime) -> CertIdentity:
    """Check that ``cert_pem`` is a login certificate issued by ``ca_pem`` and valid at ``now``."""
    cert, _ = _verified(ca_pem, cert_pem, now)
    return identity(cert)


def verify_login(
    ca_pem: bytes, cert_pem: bytes, message: bytes, signature: bytes, *, now: datetime
) -> CertIdentity:
    """Check the certificate, then the SM2 signature (DER or raw r||s) over ``message``.

    ``message`` is :func:`shaobing.gm.challenge.challenge_message`; the caller still has
    to check that the returned common name is the user who is logging in.
    """
    cert, public = _verified(ca_pem, cert_pem, now)
    try:
        parsed = sm2.decode_signature(signature)
    except ValidationError as exc:
        raise ValidationError(t("gm.login.bad_signature_encoding", detail=exc.message)) from None
    if not sm2.verify(public, message, parsed):
        raise ValidationError(t("gm.login.bad_signature", name=label(cert)))
    return identity(cert)
