"""Version comparator: real-world strings, distribution markers, and order properties."""

from __future__ import annotations

import functools
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.vulndb.versions import (
    compare_versions,
    distro_backport,
    distro_family,
    find_distro_marker,
    parse_version,
    upstream_version,
)

# (older, newer) pairs; each is checked in both orders.
OLDER_NEWER = [
    ("9.2", "9.2p1"),  # OpenSSH: the p-level is a patch after the base
    ("9.2p1", "9.2p2"),
    ("9.2p1", "9.3p1"),
    ("9.2p2", "9.3"),
    ("9.3p1", "9.3p2"),
    ("1.22.0", "1.22.1"),
    ("1.9.15", "1.22.1"),  # numeric, not lexical
    ("2.4.9", "2.4.57"),
    ("5.7.43", "5.7.44-log"),
    ("5.7.44-log", "5.7.45"),
    ("10.11.19-MariaDB-0+deb12u1", "10.11.20"),
    ("10.11.18", "10.11.19-MariaDB-0+deb12u1"),
    ("8.0.0-rc1", "8.0.0"),
    ("8.0.0-rc1", "8.0.0-rc2"),
    ("8.0.0-beta2", "8.0.0-rc1"),
    ("8.0.0-alpha", "8.0.0-beta"),
    ("8.0.0a1", "8.0.0b1"),
    ("8.0.0.dev1", "8.0.0a1"),
    ("2.0.0-M1", "2.0.0-RC1"),
    ("2.0.0-M1", "2.0.0-M2"),
    ("2.0.0-beta.2", "2.0.0-beta.10"),
    ("1.0-preview1", "1.0-rc1"),
    ("1.0.0-SNAPSHOT", "1.0.0"),
    ("1.2.3~rc1", "1.2.3"),  # Debian tilde pre-release
    ("7.9.9", "8.0.0-rc1"),
    ("1.0.2", "1.0.2a"),  # OpenSSL letter releases
    ("1.0.2j", "1.0.2k"),
    ("1.0.2k", "1.0.2l"),
    ("0.9.8z", "0.9.8za"),
    ("1.0.2zh", "1.1.0"),
    ("4.0.0.Final", "4.0.1.Final"),
    ("5.3.20.RELEASE", "5.3.21.RELEASE"),
    ("5.3.20.RC1", "5.3.20.RELEASE"),
    ("20221231", "20230101"),
    ("2.4.6-97.el7", "2.4.6-98.el7"),  # the revision breaks ties
    ("2.4.6-97.el7", "2.4.7"),  # ... but the upstream part decides
    ("9.2p1-2+deb12u2", "9.2p1-2+deb12u3"),
    ("9.2p1-2+deb12u3", "9.3p1"),
    ("9.2p1", "9.2p1-2+deb12u3"),
    ("10.11.20", "1:10.11.19-MariaDB-0+deb12u1"),  # the epoch comes first
    ("8.0", "8.0.1"),
    ("1.8.0_292", "1.8.0_302"),
    ("3.0", "3.0sp1"),
    ("-", "0"),  # NA first, ANY last: a total order
    ("99999", "*"),
]

EQUAL = [
    ("5.7.44-log", "5.7.44"),
    ("5.7.44-community", "5.7.44-enterprise"),
    ("8.0", "8.0.0"),
    ("4.0.0.Final", "4.0.0"),
    ("5.3.20.RELEASE", "5.3.20"),
    ("2.1.0.GA", "2.1"),
    ("v1.2.3", "1.2.3"),
    ("1.22.1", "1.22.1"),
    ("OpenSSL", "openssl"),
    ("5.5.5-10.11.19-MariaDB", "10.11.19-MariaDB"),
    ("0:1.2", "1.2"),
]


@pytest.mark.parametrize(("older", "newer"), OLDER_NEWER)
def test_order_of_real_version_strings(older: str, newer: str) -> None:
    assert compare_versions(older, newer) == -1
    assert compare_versions(newer, older) == 1
    assert parse_version(older) < parse_version(newer)


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal_versions_compare_and_hash_equal(a: str, b: str) -> None:
    assert compare_versions(a, b) == 0
    assert parse_version(a) == parse_version(b)
    assert hash(parse_version(a)) == hash(parse_version(b))


def test_any_and_na_are_flagged() -> None:
    assert parse_version("*").is_any and not parse_version("*").is_na
    assert parse_version("-").is_na and not parse_version("-").is_any
    assert not parse_version("1.0").is_any
    assert str(parse_version("9.2p1")) == "9.2p1"


@pytest.mark.parametrize(
    ("text", "upstream"),
    [
        ("9.2p1-2+deb12u3", "9.2p1"),
        ("1:9.2p1-2+deb12u3", "9.2p1"),
        ("10.11.19-MariaDB-0+deb12u1", "10.11.19"),
        ("1:10.11.19-MariaDB-0+deb12u1", "10.11.19"),
        ("5.5.5-10.11.19-MariaDB-log", "10.11.19"),
        ("5.7.44-log", "5.7.44"),
        ("8.0.36-0ubuntu0.22.04.1", "8.0.36"),
        ("2.4.6-97.el7", "2.4.6"),
        ("8.0.0-rc1", "8.0.0-rc1"),
        ("1.0.2k", "1.0.2k"),
        ("4.0.0.Final", "4.0.0.Final"),
        ("2.4.57", "2.4.57"),
        ("*", "*"),
        ("-", "-"),
    ],
)
def test_upstream_version(text: str, upstream: str) -> None:
    assert upstream_version(text) == upstream


@pytest.mark.parametrize(
    ("text", "tag", "family"),
    [
        ("9.2p1-2+deb12u3", "deb12u3", "Debian"),
        ("10.11.19-MariaDB-0+deb12u1", "deb12u1", "Debian"),
        ("8.0.36-0ubuntu0.22.04.1", "0ubuntu0.22.04.1", "Ubuntu"),
        ("2.4.6-97.el7", "el7", "Red Hat Enterprise Linux"),
        ("2.4.6-99.el7_9.6", "el7_9", "Red Hat Enterprise Linux"),
        ("9.2p1-2~bpo11+1", "bpo11", "Debian"),
        ("2.4.54-1.amzn2", "amzn2", "Amazon Linux"),
        ("2.4.43-4.p03.ky10", "ky10", "Kylin"),
        ("1.1.1f-1.oe1", "oe1", "openEuler"),
        ("1.21.5-2.oe2203", "oe2203", "openEuler"),
        ("2.4.37-51.module+el8", "el8", "Red Hat Enterprise Linux"),
    ],
)
def test_distro_backport_markers(text: str, tag: str, family: str) -> None:
    assert distro_backport(text) == tag
    assert distro_family(text) == family


@pytest.mark.parametrize("text", ["9.2p1", "1.22.1", "5.7.44-log", "8.0.0-rc1", "1.0.2k", "*"])
def test_upstream_only_versions_have_no_backport_marker(text: str) -> None:
    assert distro_backport(text) is None
    assert distro_family(text) is None


def test_marker_in_free_text_hint() -> None:
    assert find_distro_marker("Debian 2+deb12u3") == ("deb12u3", "Debian")
    assert find_distro_marker("Ubuntu 3ubuntu0.10") == ("3ubuntu0.10", "Ubuntu")
    assert find_distro_marker("Linux") is None


# --- properties -------------------------------------------------------------------------

_WORDS = ["", "p1", "p2", "a", "k", "rc1", "-rc2", "-beta", "-M1", ".Final", ".RELEASE", "za"]
_SUFFIXES = ["", "-log", "-community", "-MariaDB", "-1", "-2+deb12u3", "-97.el7", "~bpo11+1"]

version_strings = st.builds(
    lambda epoch, numbers, word, suffix: f"{epoch}{'.'.join(map(str, numbers))}{word}{suffix}",
    st.sampled_from(["", "", "1:", "2:"]),
    st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=4),
    st.sampled_from(_WORDS),
    st.sampled_from(_SUFFIXES),
)
any_version = st.one_of(version_strings, st.text(max_size=30), st.sampled_from(["*", "-", ""]))


@given(any_version, any_version)
def test_antisymmetry(a: str, b: str) -> None:
    assert compare_versions(a, b) == -compare_versions(b, a)
    assert (compare_versions(a, b) == 0) == (parse_version(a) == parse_version(b))


@settings(max_examples=200)
@given(st.lists(any_version, min_size=3, max_size=8))
def test_transitivity(values: list[str]) -> None:
    ordered = sorted(values, key=functools.cmp_to_key(compare_versions))
    for low, high in itertools.combinations(ordered, 2):
        assert compare_versions(low, high) <= 0


@given(version_strings, version_strings, version_strings)
def test_transitivity_triples(a: str, b: str, c: str) -> None:
    if compare_versions(a, b) <= 0 and compare_versions(b, c) <= 0:
        assert compare_versions(a, c) <= 0


@given(st.text())
def test_never_raises_and_is_reflexive(text: str) -> None:
    assert compare_versions(text, text) == 0
    assert compare_versions(text, "1.0") in {-1, 0, 1}
    assert isinstance(upstream_version(text), str)
    distro_backport(text)
    hash(parse_version(text))


@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=4))
def test_qualifiers_relative_to_release(numbers: list[int]) -> None:
    base = ".".join(map(str, numbers))
    assert compare_versions(f"{base}-rc1", base) == -1
    assert compare_versions(f"{base}p1", base) == 1
    assert compare_versions(f"{base}-log", base) == 0
    assert compare_versions(f"{base}-1+deb12u1", base) == 1
    assert compare_versions(f"{base}.1", base) == 1


def test_huge_numbers_do_not_raise() -> None:
    assert compare_versions("9" * 5000, "1") == 1
