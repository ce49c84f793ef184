"""SM2 keys in their standard containers: SubjectPublicKeyInfo (RFC 5480 / GM/T 0015),
PKCS#8 PrivateKeyInfo (RFC 5208) and SEC 1 ECPrivateKey (RFC 5915)."""

from __future__ import annotations

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.gm import asn1
from shaobing.gm.pem import decode_pem, encode_pem
from shaobing.gm.sm2 import COORD_BYTES, PrivateKey, PublicKey

EC_PUBLIC_KEY = "1.2.840.10045.2.1"
SM2_CURVE = "1.2.156.10197.1.301"

_ALGORITHM = asn1.sequence(asn1.oid(EC_PUBLIC_KEY), asn1.oid(SM2_CURVE))


def encode_spki(public: PublicKey) -> bytes:
    """SubjectPublicKeyInfo: id-ecPublicKey with the SM2 curve, uncompressed point."""
    return asn1.sequence(_ALGORITHM, asn1.bit_string(public.to_bytes()))


def algorithm_of(node: asn1.Node) -> tuple[str, str | None]:
    """An AlgorithmIdentifier's OID and, when its parameters are an OID, that OID."""
    parts = asn1.children(
        asn1.expect(node, asn1.SEQUENCE, "AlgorithmIdentifier"),
        "AlgorithmIdentifier",
        minimum=1,
        maximum=2,
    )
    algorithm = asn1.read_oid(parts[0])
    params = asn1.read_oid(parts[1]) if len(parts) == 2 and parts[1].tag == asn1.OID else None
    return algorithm, params


def decode_spki(node: asn1.Node) -> PublicKey:
    """The SM2 public key of a SubjectPublicKeyInfo; refuse other algorithms and curves."""
    alg_node, key_node = asn1.children(
        asn1.expect(node, asn1.SEQUENCE, "SubjectPublicKeyInfo"),
        "SubjectPublicKeyInfo",
        minimum=2,
        maximum=2,
    )
    algorithm, params = algorithm_of(alg_node)
    if algorithm != EC_PUBLIC_KEY or params != SM2_CURVE:
        raise ValidationError(t("gm.key.not_sm2", algorithm=algorithm, params=params or "-"))
    bits, unused = asn1.read_bits(key_node)
    if unused:
        raise ValidationError(t("gm.sm2.bad_point"))
    return PublicKey.from_bytes(bits)


def encode_pkcs8(key: PrivateKey) -> bytes:
    """PKCS#8 PrivateKeyInfo wrapping an ECPrivateKey with the public key included."""
    inner = asn1.sequence(
        asn1.integer(1),
        asn1.octet_string(key.to_bytes()),
        asn1.explicit(1, asn1.bit_string(key.public_key().to_bytes())),
    )
    return asn1.sequence(asn1.integer(0), _ALGORITHM, asn1.octet_string(inner))


def private_key_pem(key: PrivateKey) -> bytes:
    """PEM ``PRIVATE KEY`` (unencrypted PKCS#8), the form ``openssl genpkey`` writes."""
    return encode_pem("PRIVATE KEY", encode_pkcs8(key)).encode("ascii")


def _ec_private_key(node: asn1.Node, curve: str | None) -> PrivateKey:
    parts = asn1.children(
        asn1.expect(node, asn1.SEQUENCE, "ECPrivateKey"), "ECPrivateKey", minimum=2, maximum=4
    )
    if asn1.read_int(parts[0]) != 1:
        raise ValidationError(t("gm.key.bad_version"))
    scalar = asn1.read_octets(parts[1])
    if len(scalar) != COORD_BYTES:
        raise ValidationError(t("gm.sm2.bad_private_key"))
    key = PrivateKey(int.from_bytes(scalar, "big"))
    for extra in parts[2:]:
        if extra.tag == asn1.CONTEXT | asn1.CONSTRUCTED | 0:
            (param,) = asn1.children(extra, "ECParameters", minimum=1, maximum=1)
            curve = asn1.read_oid(param)
        elif extra.tag == asn1.CONTEXT | asn1.CONSTRUCTED | 1:
            (bits_node,) = asn1.children(extra, "publicKey", minimum=1, maximum=1)
            bits, _ = asn1.read_bits(bits_node)
            if PublicKey.from_bytes(bits) != key.public_key():
                raise ValidationError(t("gm.key.public_mismatch"))
        else:
            raise ValidationError(t("gm.key.unreadable"))
    if curve != SM2_CURVE:
        raise ValidationError(t("gm.key.not_sm2", algorithm=EC_PUBLIC_KEY, params=curve or "-"))
    return key


def decode_private_key(der: bytes) -> PrivateKey:
    """An SM2 key from PKCS#8 PrivateKeyInfo or a SEC 1 ECPrivateKey."""
    node = asn1.decode(der)
    parts = asn1.children(
        asn1.expect(node, asn1.SEQUENCE, "PrivateKeyInfo"),
        "PrivateKeyInfo",
        minimum=2,
        maximum=4,
    )
    if parts[1].tag == asn1.OCTET_STRING:
        return _ec_private_key(node, None)
    if len(parts) < 3 or asn1.read_int(parts[0]) not in (0, 1):
        raise ValidationError(t("gm.key.bad_version"))
    algorithm, params = algorithm_of(parts[1])
    if algorithm != EC_PUBLIC_KEY:
        raise ValidationError(t("gm.key.not_sm2", algorithm=algorithm, params=params or "-"))
    return _ec_private_key(asn1.decode(asn1.read_octets(parts[2])), params)


def load_private_key(data: bytes) -> PrivateKey:
    """An SM2 private key from a PEM file (``PRIVATE KEY`` or ``EC PRIVATE KEY``) or DER."""
    if data[:1] == b"\x30":
        return decode_private_key(bytes(data))
    try:
        _, der = decode_pem(data, ("PRIVATE KEY", "EC PRIVATE KEY"))
    except ValidationError:
        if b"ENCRYPTED PRIVATE KEY" in data[:4096]:
            raise ValidationError(t("gm.key.encrypted")) from None
        raise
    return decode_private_key(der)
