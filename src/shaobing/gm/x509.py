"""X.509 v3 certificates with SM2 keys signed with SM2-with-SM3 (RFC 5280, GM/T 0015-2012).

Parsing is strict DER and eager: every extension this module understands is decoded
while parsing, so a malformed one is refused before anyone relies on the certificate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.gm import asn1, sm2
from shaobing.gm.keys import algorithm_of, decode_spki
from shaobing.gm.sm3 import sm3

# GM/T 0006-2012 (cryptographic application identifiers).
SM2_WITH_SM3 = "1.2.156.10197.1.501"
# RFC 5280 4.2.1 and X.520.
BASIC_CONSTRAINTS = "2.5.29.19"
KEY_USAGE = "2.5.29.15"
EXT_KEY_USAGE = "2.5.29.37"
SUBJECT_KEY_ID = "2.5.29.14"
AUTHORITY_KEY_ID = "2.5.29.35"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
ANY_EKU = "2.5.29.37.0"
ATTRIBUTE_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.5": "serialNumber",
}
# Names shown by ``ca show`` next to the OIDs (JSON output keeps the bare OIDs).
OID_NAMES = {
    "1.2.840.10045.2.1": "id-ecPublicKey",
    "1.2.156.10197.1.301": "SM2",
    "1.2.156.10197.1.501": "SM2-with-SM3",
    "1.2.840.10045.3.1.7": "prime256v1",
    "1.2.840.113549.1.1.1": "rsaEncryption",
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}
COMMON_NAME = "2.5.4.3"
ORGANIZATION = "2.5.4.10"
# RFC 5280 4.2.1.3, in bit order.
KEY_USAGE_BITS = (
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
)
# RFC 5280 4.1.2.2: at most 20 octets.
MAX_SERIAL_BYTES = 20

SIGNATURE_ALGORITHM = asn1.sequence(asn1.oid(SM2_WITH_SM3))
OPENSSL_DEFAULT_ID = b""


@dataclass(frozen=True)
class Extension:
    """One certificate extension as encoded."""

    oid: str
    critical: bool
    value: bytes = field(repr=False)


@dataclass(frozen=True)
class Certificate:
    """A parsed certificate; ``tbs`` is the exact signed byte range."""

    der: bytes = field(repr=False)
    tbs: bytes = field(repr=False)
    version: int
    serial: int
    signature_algorithm: str
    tbs_signature_algorithm: str
    signature: bytes = field(repr=False)
    issuer: bytes = field(repr=False)
    subject: bytes = field(repr=False)
    issuer_attrs: tuple[tuple[str, str], ...]
    subject_attrs: tuple[tuple[str, str], ...]
    not_before: datetime
    not_after: datetime
    spki: asn1.Node = field(repr=False)
    key_algorithm: tuple[str, str | None]
    extensions: tuple[Extension, ...]
    is_ca: bool | None
    key_usage: frozenset[str] | None
    ext_key_usage: frozenset[str] | None
    subject_key_id: bytes | None

    @property
    def common_name(self) -> str | None:
        """The subject's (last) commonName."""
        names = [v for k, v in self.subject_attrs if k == COMMON_NAME]
        return names[-1] if names else None

    @property
    def serial_hex(self) -> str:
        """The serial number as lowercase hex (two digits per octet)."""
        size = max(1, (self.serial.bit_length() + 7) // 8)
        return self.serial.to_bytes(size, "big").hex()

    @property
    def fingerprint_sm3(self) -> str:
        """SM3 of the whole DER certificate, lowercase hex."""
        return sm3(self.der).hex()

    def public_key(self) -> sm2.PublicKey:
        """The subject's SM2 public key; ValidationError when it is not one."""
        return decode_spki(self.spki)


def oid_label(oid: str | None) -> str:
    """An OID with its common name when known (``SM2 (1.2.156.10197.1.301)``)."""
    if oid is None:
        return "-"
    name = OID_NAMES.get(oid)
    return f"{name} ({oid})" if name else oid


def format_name(attrs: Sequence[tuple[str, str]]) -> str:
    """A distinguished name for display (``CN=alice, O=...``)."""
    return ", ".join(f"{ATTRIBUTE_NAMES.get(k, k)}={v}" for k, v in attrs) or "-"


def _name_attrs(node: asn1.Node) -> tuple[tuple[str, str], ...]:
    asn1.expect(node, asn1.SEQUENCE, "Name")
    out: list[tuple[str, str]] = []
    for rdn in node.children:
        asn1.expect(rdn, asn1.SET, "RelativeDistinguishedName")
        for atv in asn1.children(rdn, "RelativeDistinguishedName", minimum=1, maximum=16):
            kind, value = asn1.children(
                asn1.expect(atv, asn1.SEQUENCE, "AttributeTypeAndValue"),
                "AttributeTypeAndValue",
                minimum=2,
                maximum=2,
            )
            out.append((asn1.read_oid(kind), asn1.read_text(value)))
    return tuple(out)


def _named_bits(octets: bytes) -> frozenset[str]:
    names = set()
    for index, name in enumerate(KEY_USAGE_BITS):
        if index // 8 < len(octets) and octets[index // 8] & (0x80 >> (index % 8)):
            names.add(name)
    return frozenset(names)


def _extensions(node: asn1.Node) -> tuple[Extension, ...]:
    (seq,) = asn1.children(node, "extensions", minimum=1, maximum=1)
    asn1.expect(seq, asn1.SEQUENCE, "Extensions")
    out: list[Extension] = []
    for ext in asn1.children(seq, "Extensions", minimum=1, maximum=64):
        parts = asn1.children(
            asn1.expect(ext, asn1.SEQUENCE, "Extension"), "Extension", minimum=2, maximum=3
        )
        critical = False
        if len(parts) == 3:
            critical = asn1.read_bool(parts[1])
            if not critical:
                # DER: a DEFAULT value is never encoded (X.690 11.5).
                raise ValidationError(t("gm.der.invalid", detail=t("gm.der.default_encoded")))
        out.append(Extension(asn1.read_oid(parts[0]), critical, asn1.read_octets(parts[-1])))
    oids = [e.oid for e in out]
    if len(set(oids)) != len(oids):
        raise ValidationError(t("gm.cert.duplicate_extension"))
    return tuple(out)


def _basic_constraints(value: bytes) -> bool:
    node = asn1.expect(asn1.decode(value), asn1.SEQUENCE, "BasicConstraints")
    parts = asn1.children(node, "BasicConstraints", minimum=0, maximum=2)
    if parts and parts[0].tag == asn1.BOOLEAN:
        return asn1.read_bool(parts[0])
    return False


def _ext_key_usage(value: bytes) -> frozenset[str]:
    node = asn1.expect(asn1.decode(value), asn1.SEQUENCE, "ExtKeyUsageSyntax")
    return frozenset(
        asn1.read_oid(p) for p in asn1.children(node, "ExtKeyUsageSyntax", minimum=1, maximum=64)
    )


def parse_certificate(der: bytes) -> Certificate:
    """Parse one DER certificate (v1-v3); ValidationError naming what is wrong."""
    root = asn1.decode(der)
    tbs, sig_alg, sig_value = asn1.children(
        asn1.expect(root, asn1.SEQUENCE, "Certificate"), "Certificate", minimum=3, maximum=3
    )
    fields = list(
        asn1.children(
            asn1.expect(tbs, asn1.SEQUENCE, "TBSCertificate"),
            "TBSCertificate",
            minimum=6,
            maximum=10,
        )
    )
    version = 0
    if fields[0].tag == asn1.CONTEXT | asn1.CONSTRUCTED | 0:
        (version_node,) = asn1.children(fields.pop(0), "version", minimum=1, maximum=1)
        version = asn1.read_int(version_node)
        if version not in (1, 2):
            raise ValidationError(t("gm.cert.bad_version", version=version))
    if len(fields) < 6:
        raise ValidationError(
            t("gm.der.invalid", detail=t("gm.der.bad_structure", what="TBSCertificate"))
        )
    serial_node, inner_alg, issuer, validity, subject, spki, *rest = fields
    serial = asn1.read_int(serial_node)
    if serial <= 0 or len(serial_node.value) > MAX_SERIAL_BYTES:
        raise ValidationError(t("gm.cert.bad_serial"))
    not_before, not_after = (
        asn1.read_time(n)
        for n in asn1.children(
            asn1.expect(validity, asn1.SEQUENCE, "Validity"), "Validity", minimum=2, maximum=2
        )
    )
    extensions: tuple[Extension, ...] = ()
    for extra in rest:
        if extra.tag == asn1.CONTEXT | asn1.CONSTRUCTED | 3 and version == 2 and not extensions:
            extensions = _extensions(extra)
        elif extra.tag not in (asn1.CONTEXT | 1, asn1.CONTEXT | 2):
            raise ValidationError(
                t("gm.der.invalid", detail=t("gm.der.bad_structure", what="TBSCertificate"))
            )
    by_oid = {e.oid: e for e in extensions}
    ku = by_oid.get(KEY_USAGE)
    eku = by_oid.get(EXT_KEY_USAGE)
    bc = by_oid.get(BASIC_CONSTRAINTS)
    ski = by_oid.get(SUBJECT_KEY_ID)
    signature, unused = asn1.read_bits(sig_value)
    if unused:
        raise ValidationError(t("gm.der.invalid", detail=t("gm.der.bad_bit_string")))
    return Certificate(
        der=bytes(der),
        tbs=tbs.raw,
        version=version + 1,
        serial=serial,
        signature_algorithm=algorithm_of(sig_alg)[0],
        tbs_signature_algorithm=algorithm_of(inner_alg)[0],
        signature=signature,
        issuer=issuer.raw,
        subject=subject.raw,
        issuer_attrs=_name_attrs(issuer),
        subject_attrs=_name_attrs(subject),
        not_before=not_before,
        not_after=not_after,
        spki=asn1.expect(spki, asn1.SEQUENCE, "SubjectPublicKeyInfo"),
        key_algorithm=algorithm_of(
            asn1.children(spki, "SubjectPublicKeyInfo", minimum=2, maximum=2)[0]
        ),
        extensions=extensions,
        is_ca=_basic_constraints(bc.value) if bc else None,
        key_usage=_named_bits(asn1.read_bits(asn1.decode(ku.value))[0]) if ku else None,
        ext_key_usage=_ext_key_usage(eku.value) if eku else None,
        subject_key_id=asn1.read_octets(asn1.decode(ski.value)) if ski else None,
    )


# --- building ----------------------------------------------------------------------------


def build_name(common_name: str, organization: str | None = None) -> bytes:
    """A Name with an optional O and a CN, UTF8String values (RFC 5280 4.1.2.4)."""
    rdns = []
    if organization:
        rdns.append(
            asn1.set_of(asn1.sequence(asn1.oid(ORGANIZATION), asn1.utf8_string(organization)))
        )
    rdns.append(asn1.set_of(asn1.sequence(asn1.oid(COMMON_NAME), asn1.utf8_string(common_name))))
    return asn1.sequence(*rdns)


def key_usage_value(names: Sequence[str]) -> bytes:
    """A KeyUsage BIT STRING with trailing zero bits removed (DER)."""
    bits = 0
    for name in names:
        bits |= 1 << (15 - KEY_USAGE_BITS.index(name))
    octets = bits.to_bytes(2, "big").rstrip(b"\x00") or b"\x00"
    last = octets[-1]
    unused = (last & -last).bit_length() - 1 if last else 0
    return asn1.bit_string(octets, unused)


def extension(oid: str, value: bytes, *, critical: bool = False) -> bytes:
    """One Extension; ``value`` is the DER that goes inside the OCTET STRING."""
    parts = [asn1.oid(oid)]
    if critical:
        parts.append(asn1.boolean(True))
    parts.append(asn1.octet_string(value))
    return asn1.sequence(*parts)


def key_id(spki_der: bytes) -> bytes:
    """A key identifier: the first 20 octets of SM3 over the public key bits.

    RFC 5280 4.2.1.2 allows any method; SM3 keeps the profile free of SHA-1.
    """
    node = asn1.decode(spki_der)
    bits, _ = asn1.read_bits(node.children[1])
    return sm3(bits)[:20]


def build_tbs(
    *,
    serial: int,
    issuer: bytes,
    subject: bytes,
    spki: bytes,
    not_before: datetime,
    not_after: datetime,
    extensions: Sequence[bytes],
) -> bytes:
    """A v3 TBSCertificate signed with SM2-with-SM3."""
    parts = [
        asn1.explicit(0, asn1.integer(2)),
        asn1.integer(serial),
        SIGNATURE_ALGORITHM,
        issuer,
        asn1.sequence(asn1.time(not_before), asn1.time(not_after)),
        subject,
        spki,
    ]
    if extensions:
        parts.append(asn1.explicit(3, asn1.sequence(*extensions)))
    return asn1.sequence(*parts)


def sign_tbs(tbs: bytes, issuer_key: sm2.PrivateKey) -> bytes:
    """The complete certificate: TBS, algorithm, SM2 signature (default user ID)."""
    signature = sm2.encode_signature(sm2.sign(issuer_key, tbs))
    return asn1.sequence(tbs, SIGNATURE_ALGORITHM, asn1.bit_string(signature))


def signature_valid(cert: Certificate, issuer_public: sm2.PublicKey) -> bool:
    """Whether ``cert`` carries a valid SM2-with-SM3 signature by ``issuer_public``."""
    if cert.signature_algorithm != SM2_WITH_SM3 or cert.tbs_signature_algorithm != SM2_WITH_SM3:
        return False
    try:
        signature = sm2.decode_signature(cert.signature)
    except ValidationError:
        return False
    if sm2.verify(issuer_public, cert.tbs, signature):
        return True
    # OpenSSL 3.0 signs and checks certificates with an empty user ID unless told
    # otherwise (-sigopt distid:...), unlike GB/T 35276; accept those CAs too. Forging
    # either form still needs the CA's private key.
    return sm2.verify(issuer_public, cert.tbs, signature, user_id=OPENSSL_DEFAULT_ID)
