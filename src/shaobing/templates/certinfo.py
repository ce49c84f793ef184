"""The certificate fields of Nuclei's ssl protocol response (tlsx's ``CertificateResponse``),
computed from a DER certificate with the ``cryptography`` package.

Distinguished names are written the way zcrypto (which tlsx uses) writes them: the
attributes in the order the certificate stores them, the first value of each relative
name, short names such as ``CN``/``OU``/``emailAddress``, joined by ``", "`` with no
escaping, e.g. ``CN=myServer, OU=mygroup, O=myorganization, L=mycity, ST=myprovince, C=CN``.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

# Short names of the attribute types; others are written as dotted OIDs, as zcrypto does.
_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "street",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.12": "title",
    "2.5.4.15": "businessCategory",
    "2.5.4.17": "postalCode",
    "2.5.4.42": "GN",
    "2.5.4.43": "initials",
    "2.5.4.46": "dnQualifier",
    "2.5.4.65": "pseudonym",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
    "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
    "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}

# The Debian/Ubuntu bundle first, then the other usual locations of the system CA store.
CA_BUNDLES = (
    Path("/etc/ssl/certs/ca-certificates.crt"),
    Path("/etc/pki/tls/certs/ca-bundle.crt"),
    Path("/etc/ssl/cert.pem"),
)


def go_time(moment: datetime) -> str:
    """``moment`` as Go's JSON encoding of a time.Time writes it (RFC 3339, ``Z`` for UTC)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def distinguished_name(name: x509.Name) -> str:
    """The DN in zcrypto's form (certificate order, first value per RDN, no escaping)."""
    parts: list[str] = []
    for rdn in name.rdns:
        attributes = list(rdn)
        if not attributes:
            continue
        attribute = attributes[0]
        value = attribute.value
        if not isinstance(value, str):
            continue  # zcrypto skips values that are not strings (bit strings)
        oid = attribute.oid.dotted_string
        parts.append(f"{_SHORT_NAMES.get(oid, oid)}={value}")
    return ", ".join(parts)


def _values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid) if isinstance(a.value, str)]


def common_name(name: x509.Name) -> str:
    """The CN as Go reads it: the last common name attribute of the DN."""
    names = _values(name, NameOID.COMMON_NAME)
    return names[-1] if names else ""


def serial_text(serial: int) -> str:
    """tlsx's serial format: big-endian bytes as upper-case hex pairs joined by ``:``;
    empty for a zero serial."""
    number = abs(serial)
    if number == 0:
        return ""
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return ":".join(f"{byte:02X}" for byte in data)


def _key_ids(cert: x509.Certificate) -> tuple[bytes, bytes]:
    authority = b""
    subject = b""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
        authority = aki.value.key_identifier or b""
    except (x509.ExtensionNotFound, ValueError):
        pass
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        subject = ski.value.digest
    except (x509.ExtensionNotFound, ValueError):
        pass
    return authority, subject


def _alternative_names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, ValueError):
        return [], []
    names = san.value.get_values_for_type(x509.DNSName)
    emails = san.value.get_values_for_type(x509.RFC822Name)
    return list(names), list(emails)


def self_signed(authority_key_id: bytes, subject_key_id: bytes) -> bool:
    """tlsx's rule: no authority key identifier, or one equal to the subject key id."""
    return not authority_key_id or authority_key_id == subject_key_id


def _wildcard_token(name: str, host: str) -> bool:
    if "*" not in name:
        return name.lower() == host.lower()
    pieces = name.split("*")
    if name.startswith("*"):
        return host.endswith(pieces[1])
    if name.endswith("*"):
        return host.startswith(pieces[0])
    return host.startswith(pieces[0]) and host.endswith(pieces[1])


def mismatched(host: str, names: Iterable[str]) -> bool:
    """tlsx's rule: True unless one name (CN or DNS SAN) equals ``host`` or is a wildcard
    whose labels line up with the host's."""
    host_labels = host.split(".")
    for name in names:
        if "*" not in name:
            if name.lower() == host.lower():
                return False
            continue
        labels = name.split(".")
        if len(labels) != len(host_labels):
            continue
        matched = False
        for index, label in enumerate(labels):
            if index == 0:
                matched = _wildcard_token(label, host_labels[0])
            else:
                matched = label.lower() == host_labels[index].lower()
            if not matched:
                break
        if matched:
            return False
    return True


# Some long-lived roots break today's rules (a zero serial); they are still the system's
# trust anchors, so they load without the warning (for this module's loads only).
warnings.filterwarnings(
    "ignore", message="Parsed a serial number which wasn't positive", module=__name__
)
_ROOTS_LOCK = threading.Lock()


def system_roots() -> tuple[x509.Certificate, ...]:
    """The system CA store's certificates (empty when no bundle is found), read once."""
    with _ROOTS_LOCK:
        return _system_roots()


@lru_cache(maxsize=1)
def _system_roots() -> tuple[x509.Certificate, ...]:
    for bundle in CA_BUNDLES:
        try:
            data = bundle.read_bytes()
        except OSError:
            continue
        certificates: list[x509.Certificate] = []
        for block in data.split(b"-----END CERTIFICATE-----"):
            start = block.find(b"-----BEGIN CERTIFICATE-----")
            if start < 0:
                continue
            pem = block[start:] + b"-----END CERTIFICATE-----\n"
            try:
                certificates.append(x509.load_pem_x509_certificate(pem))
            except ValueError:
                continue  # one unparsable root must not hide the others
        if certificates:
            return tuple(certificates)
    return ()


def untrusted(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    roots: tuple[x509.Certificate, ...] | None = None,
) -> bool:
    """True when no path leads from ``leaf`` to a root of the system CA store.

    Only the chain is judged: the host name is not (that is ``mismatched``), and the
    check is made at a moment inside the leaf's validity period so that an expired
    certificate from a trusted CA reads ``expired``, not ``untrusted``.
    """
    store_roots = system_roots() if roots is None else roots
    if not store_roots:
        return True
    now = datetime.now(UTC)
    moment = min(max(now, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
    builder = (
        verification.PolicyBuilder()
        .store(verification.Store(list(store_roots)))
        .time(moment)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            # Server certificates carry serverAuth, not the clientAuth the client
            # verifier expects by default; accept any end-entity extensions.
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
    )
    try:
        builder.build_client_verifier().verify(leaf, intermediates)
    except (verification.VerificationError, ValueError):
        return True
    return False


@dataclass
class CertificateFields:
    """The fields of tlsx's CertificateResponse for one leaf certificate."""

    expired: bool
    self_signed: bool
    mismatched: bool
    revoked: bool
    untrusted: bool
    not_before: str
    not_after: str
    subject_dn: str
    subject_cn: str
    subject_org: list[str]
    subject_an: list[str]
    domains: list[str]
    serial: str
    issuer_dn: str
    issuer_cn: str
    issuer_org: list[str]
    emails: list[str]
    fingerprint_hash: dict[str, str]
    wildcard_certificate: bool

    def record(self) -> dict[str, Any]:
        """The fields in tlsx's JSON order."""
        return {
            "expired": self.expired,
            "self_signed": self.self_signed,
            "mismatched": self.mismatched,
            "revoked": self.revoked,
            "untrusted": self.untrusted,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "subject_dn": self.subject_dn,
            "subject_cn": self.subject_cn,
            "subject_org": self.subject_org,
            "subject_an": self.subject_an,
            "domains": self.domains,
            "serial": self.serial,
            "issuer_dn": self.issuer_dn,
            "issuer_cn": self.issuer_cn,
            "issuer_org": self.issuer_org,
            "emails": self.emails,
            "fingerprint_hash": self.fingerprint_hash,
            "wildcard_certificate": self.wildcard_certificate,
        }


def certificate_fields(
    der: bytes,
    host: str,
    chain: list[bytes] | None = None,
    *,
    now: datetime | None = None,
    roots: tuple[x509.Certificate, ...] | None = None,
) -> CertificateFields:
    """Parse the leaf ``der`` seen when connecting to ``host``; ``chain`` holds the other
    certificates the server sent (for ``untrusted``). Raises ValueError when the DER is
    not a certificate."""
    cert = x509.load_der_x509_certificate(der)
    intermediates: list[x509.Certificate] = []
    for item in chain or []:
        try:
            intermediates.append(x509.load_der_x509_certificate(item))
        except ValueError:
            continue
    subject_cn = common_name(cert.subject)
    dns_names, emails = _alternative_names(cert)
    names = [subject_cn, *dns_names]
    domains = list(dict.fromkeys(n.removeprefix("*.") for n in [*dns_names, subject_cn] if n))
    authority, subject = _key_ids(cert)
    moment = now or datetime.now(UTC)
    return CertificateFields(
        expired=moment > cert.not_valid_after_utc,
        self_signed=self_signed(authority, subject),
        mismatched=mismatched(host, names),
        # Revocation needs CRL/OCSP fetches from hosts outside the scan's scope.
        revoked=False,
        untrusted=untrusted(cert, intermediates, roots),
        not_before=go_time(cert.not_valid_before_utc),
        not_after=go_time(cert.not_valid_after_utc),
        subject_dn=distinguished_name(cert.subject),
        subject_cn=subject_cn,
        subject_org=_values(cert.subject, NameOID.ORGANIZATION_NAME),
        subject_an=dns_names,
        domains=domains,
        serial=serial_text(cert.serial_number),
        issuer_dn=distinguished_name(cert.issuer),
        issuer_cn=common_name(cert.issuer),
        issuer_org=_values(cert.issuer, NameOID.ORGANIZATION_NAME),
        emails=emails,
        fingerprint_hash={
            "md5": hashlib.md5(der, usedforsecurity=False).hexdigest(),
            "sha1": hashlib.sha1(der, usedforsecurity=False).hexdigest(),
            "sha256": hashlib.sha256(der).hexdigest(),
        },
        wildcard_certificate=any("*." in n for n in names),
    )
