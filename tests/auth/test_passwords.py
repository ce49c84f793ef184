"""Argon2id hashing: the stored parameters, verification, and upgrades of old hashes."""

from __future__ import annotations

from argon2 import extract_parameters

from shaobing.auth.passwords import Hasher
from shaobing.auth.policy import default_hasher
from tests.auth.conftest import CHEAP


def test_default_hash_is_argon2id_with_the_stated_parameters() -> None:
    encoded = default_hasher().hash("Tiger#Lamp2046")
    params = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$v=19$")
    assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 65536, 4)
    assert (params.salt_len, params.hash_len) == (16, 32)


def test_verify_accepts_the_password_and_nothing_else() -> None:
    hasher = default_hasher()
    encoded = hasher.hash("Tiger#Lamp2046")
    assert hasher.verify(encoded, "Tiger#Lamp2046")
    assert not hasher.verify(encoded, "tiger#Lamp2046")
    assert not hasher.verify(encoded, "Tiger#Lamp2046 ")
    assert "Tiger#Lamp2046" not in encoded


def test_same_password_gets_a_fresh_salt_each_time() -> None:
    assert CHEAP.hash("Tiger#Lamp2046") != CHEAP.hash("Tiger#Lamp2046")


def test_malformed_or_foreign_hashes_never_verify() -> None:
    for encoded in ["", "plaintext", "$argon2id$v=19$m=8,t=1,p=1$xx$yy", "$2b$12$abc"]:
        assert not CHEAP.verify(encoded, "plaintext")


def test_hash_with_other_parameters_needs_rehash() -> None:
    old = CHEAP.hash("Tiger#Lamp2046")
    assert default_hasher().needs_rehash(old)
    assert not CHEAP.needs_rehash(old)
    # Verification still works across parameters: they are read from the hash.
    assert default_hasher().verify(old, "Tiger#Lamp2046")
    assert Hasher().needs_rehash("garbage")


def test_unicode_passwords_round_trip() -> None:
    encoded = CHEAP.hash("哨兵口令Aa1!长一点")
    assert CHEAP.verify(encoded, "哨兵口令Aa1!长一点")
    assert not CHEAP.verify(encoded, "哨兵口令Aa1!长一")
