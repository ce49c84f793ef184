"""SM3 (GB/T 32905) examples and SM2 (GB/T 32918) signing, verification and encodings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.gm import asn1, sm2
from shaobing.gm.sm3 import sm3


def test_sm3_examples_of_gbt_32905() -> None:
    # GB/T 32905-2016 Annex A, examples 1 and 2.
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert (
        sm3(b"abcd" * 16).hex()
        == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_curve_parameters_are_consistent() -> None:
    g = sm2.PublicKey(sm2.GX, sm2.GY)  # validates G is on the curve
    assert sm2._affine(sm2._multiply(sm2.N, (g.x, g.y, 1))) is None
    assert sm2._affine(sm2._multiply(sm2.N - 1, (g.x, g.y, 1))) == (g.x, (-g.y) % sm2.P)


def test_jacobian_multiplication_matches_repeated_addition() -> None:
    g = (sm2.GX, sm2.GY, 1)
    acc = sm2._INFINITY
    for k in range(1, 40):
        acc = sm2._add(acc, g)
        assert sm2._affine(sm2._multiply(k, g)) == sm2._affine(acc)


def test_round_trip_and_tampering() -> None:
    key = sm2.PrivateKey.generate()
    public = key.public_key()
    signature = sm2.sign(key, b"login")
    assert sm2.verify(public, b"login", signature)
    assert not sm2.verify(public, b"logon", signature)
    assert not sm2.verify(public, b"login", signature, user_id=b"another-id")
    assert not sm2.verify(sm2.PrivateKey.generate().public_key(), b"login", signature)
    r, s = signature
    assert not sm2.verify(public, b"login", (r, (s + 1) % sm2.N))
    for bad in [(0, s), (r, 0), (sm2.N, s), (r, sm2.N), (r, sm2.N - r)]:
        assert not sm2.verify(public, b"login", bad)


def test_signatures_are_randomised() -> None:
    key = sm2.PrivateKey.generate()
    assert sm2.sign(key, b"m") != sm2.sign(key, b"m")


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=40))
def test_round_trip_any_message_and_id(message: bytes, user_id: bytes) -> None:
    key = sm2.PrivateKey.generate()
    signature = sm2.sign(key, message, user_id=user_id)
    assert sm2.verify(key.public_key(), message, signature, user_id=user_id)


def test_private_key_range() -> None:
    for bad in (0, sm2.N - 1, sm2.N, -5):
        with pytest.raises(ValidationError):
            sm2.PrivateKey(bad)
    assert "d=" not in repr(sm2.PrivateKey(7))


def test_point_encodings() -> None:
    public = sm2.PrivateKey.generate().public_key()
    assert sm2.PublicKey.from_bytes(public.to_bytes()) == public
    compressed = bytes((2 + (public.y & 1),)) + public.x.to_bytes(32, "big")
    assert sm2.PublicKey.from_bytes(compressed) == public
    off_curve = (
        b"\x04" + public.x.to_bytes(32, "big") + ((public.y + 1) % sm2.P).to_bytes(32, "big")
    )
    for bad in (off_curve, b"\x04", b"", b"\x05" + public.to_bytes()[1:]):
        with pytest.raises(ValidationError):
            sm2.PublicKey.from_bytes(bad)


def test_signature_encodings() -> None:
    r, s = sm2.sign(sm2.PrivateKey.generate(), b"x")
    der = sm2.encode_signature((r, s))
    assert asn1.decode(der).tag == asn1.SEQUENCE
    assert sm2.decode_signature(der) == (r, s)
    assert sm2.decode_signature(r.to_bytes(32, "big") + s.to_bytes(32, "big")) == (r, s)
    for bad in (b"", b"\x30\x00", der + b"\x00", der[:-1], b"\x01" * 63):
        with pytest.raises(ValidationError):
            sm2.decode_signature(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_signature_decoder_fuzz(data: bytes) -> None:
    try:
        r, s = sm2.decode_signature(data)
    except ValidationError:
        return
    assert r >= 0 and s >= 0
