"""The strict DER codec and PEM armour: round trips, refusals, and fuzzing with random bytes."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.gm import asn1, certs, keys, pem, x509
from shaobing.gm.sm2 import PrivateKey
from tests.gm.conftest import NOW, make_cert


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 256, -1, -128, -129, 2**255, -(2**200)])
def test_integer_round_trip(value: int) -> None:
    assert asn1.read_int(asn1.decode(asn1.integer(value))) == value


@pytest.mark.parametrize(
    "dotted", ["1.2.156.10197.1.301", "1.2.840.10045.2.1", "2.5.29.37.0", "2.999.3", "0.0"]
)
def test_oid_round_trip(dotted: str) -> None:
    assert asn1.read_oid(asn1.decode(asn1.oid(dotted))) == dotted


def test_known_oid_encoding() -> None:
    # The SM2 curve OID as it appears in OpenSSL-written keys.
    assert asn1.oid("1.2.156.10197.1.301").hex() == "06082a811ccf5501822d"


def test_long_lengths_and_nesting() -> None:
    payload = b"x" * 300
    node = asn1.decode(asn1.sequence(asn1.octet_string(payload), asn1.null(), asn1.boolean(True)))
    assert asn1.read_octets(node.children[0]) == payload
    assert asn1.read_bool(node.children[2]) is True


@pytest.mark.parametrize(
    "moment",
    [datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2051, 12, 31, 23, 59, 59, tzinfo=UTC)],
)
def test_time_round_trip(moment: datetime) -> None:
    encoded = asn1.time(moment)
    assert encoded[0] == (asn1.UTC_TIME if moment.year < 2050 else asn1.GENERALIZED_TIME)
    assert asn1.read_time(asn1.decode(encoded)) == moment


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (bytes.fromhex("30800201000000"), "indefinite length"),
        (bytes.fromhex("30810302 0100"), "long form for a short length"),
        (bytes.fromhex("3082000302 0100"), "length with a leading zero octet"),
        (bytes.fromhex("02020001"), "non-minimal positive INTEGER"),
        (bytes.fromhex("0202ff80"), "non-minimal negative INTEGER"),
        (bytes.fromhex("0200"), "empty INTEGER"),
        (bytes.fromhex("010101"), "BOOLEAN neither 00 nor FF"),
        (bytes.fromhex("050100"), "NULL with contents"),
        (bytes.fromhex("030208ff"), "BIT STRING with 8 unused bits"),
        (bytes.fromhex("030201ff"), "BIT STRING with non-zero padding"),
        (bytes.fromhex("0602808a"), "OID with a padded subidentifier"),
        (bytes.fromhex("060181"), "OID ending mid-subidentifier"),
        (bytes.fromhex("2203000101"), "constructed INTEGER"),
        (bytes.fromhex("1000"), "primitive SEQUENCE"),
        (bytes.fromhex("1f0100"), "high tag number"),
        (bytes.fromhex("300302010000"), "trailing byte"),
        (bytes.fromhex("3005020100"), "truncated contents"),
        (bytes.fromhex("30"), "missing length"),
        (b"", "empty input"),
    ],
)
def test_decoder_refuses_non_der(data: bytes, why: str) -> None:
    with pytest.raises(asn1.DerError):
        asn1.decode(data)


def test_decoder_bounds() -> None:
    deep = b"\x05\x00"
    for _ in range(asn1.MAX_DEPTH + 2):
        deep = asn1.sequence(deep)
    with pytest.raises(asn1.DerError):
        asn1.decode(deep)
    with pytest.raises(asn1.DerError):
        asn1.decode(asn1.octet_string(b"a" * 200), max_size=100)


def test_strings_and_times_are_checked() -> None:
    assert asn1.read_text(asn1.decode(asn1.utf8_string("张三"))) == "张三"
    with pytest.raises(asn1.DerError):
        asn1.read_text(asn1.decode(asn1.tlv(asn1.UTF8_STRING, b"\xff\xfe")))
    with pytest.raises(asn1.DerError):
        asn1.read_text(asn1.decode(asn1.tlv(asn1.PRINTABLE_STRING, b"a@b")))
    for bad in (b"300101000000", b"3001010000Z", b"301301000000Z", b"300101000000+0800"):
        with pytest.raises(asn1.DerError):
            asn1.read_time(asn1.decode(asn1.tlv(asn1.UTC_TIME, bad)))


def test_pem_round_trip_and_refusals() -> None:
    der = asn1.sequence(asn1.integer(5))
    armoured = pem.encode_pem("CERTIFICATE", der)
    assert pem.decode_pem(("junk before\n" + armoured).encode(), ("CERTIFICATE",)) == (
        "CERTIFICATE",
        der,
    )
    with pytest.raises(ValidationError, match="PRIVATE KEY"):
        pem.decode_pem(armoured.encode(), ("PRIVATE KEY",))
    with pytest.raises(ValidationError):
        pem.decode_pem(armoured.replace("MAMC", "M*MC").encode(), ("CERTIFICATE",))
    with pytest.raises(ValidationError):
        pem.decode_pem("证书".encode(), ("CERTIFICATE",))
    with pytest.raises(ValidationError):
        pem.decode_pem(b"A" * (pem.MAX_PEM + 1), ("CERTIFICATE",))
    legacy = (
        "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n"
        "-----END EC PRIVATE KEY-----\n"
    )
    with pytest.raises(ValidationError, match="加密"):
        keys.load_private_key(legacy.encode())


# --- fuzzing: only ValidationError may escape -------------------------------------------

_FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FUZZ
@given(st.binary(max_size=200))
def test_fuzz_der_decoder(data: bytes) -> None:
    try:
        node = asn1.decode(data)
    except ValidationError:
        return
    # Whatever decodes is DER: re-encoding the tree gives exactly the same bytes.
    assert _reencode(node) == data


def _reencode(node: asn1.Node) -> bytes:
    if node.constructed:
        return asn1.tlv(node.tag, b"".join(_reencode(c) for c in node.children))
    return asn1.tlv(node.tag, node.value)


def _sample_certificate() -> bytes:
    ca_key = PrivateKey.generate()
    cert_pem, _ = make_cert(ca_key, x509.build_name("CA"))
    return pem.decode_pem(cert_pem, ("CERTIFICATE",))[1]


_CERT = _sample_certificate()


@_FUZZ
@given(st.lists(st.tuples(st.integers(0, len(_CERT) - 1), st.integers(0, 255)), max_size=6))
def test_fuzz_certificate_parser_with_mutations(edits: list[tuple[int, int]]) -> None:
    data = bytearray(_CERT)
    for index, value in edits:
        data[index] = value
    try:
        cert = x509.parse_certificate(bytes(data))
    except ValidationError:
        return
    assert cert.der == bytes(data)


@_FUZZ
@given(st.integers(0, len(_CERT)))
def test_fuzz_certificate_truncations(size: int) -> None:
    with pytest.raises(ValidationError):
        x509.parse_certificate(_CERT[:size] if size < len(_CERT) else _CERT + b"\x00")


@_FUZZ
@given(st.binary(max_size=400))
def test_fuzz_pem_and_loaders_with_random_bytes(data: bytes) -> None:
    for load in (certs.load_certificate, keys.load_private_key):
        with contextlib.suppress(ValidationError):
            load(data)


@_FUZZ
@given(st.text(alphabet="ABCDEFGH+/=\n- :abcxyz0123", max_size=300))
def test_fuzz_pem_text_around_armour(body: str) -> None:
    text = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()
    with contextlib.suppress(ValidationError):
        certs.load_certificate(text)
    with contextlib.suppress(ValidationError):
        keys.load_private_key(text.replace(b"CERTIFICATE", b"PRIVATE KEY"))


def test_fuzz_helpers_are_alive() -> None:
    # The mutation fuzzer starts from a certificate that really parses and verifies.
    cert = x509.parse_certificate(_CERT)
    assert cert.common_name == "alice" and cert.not_after > NOW
