"""CPE parsing (2.3 formatted strings, 2.2 URIs), attribute matching and the alias table."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shaobing.vulndb.cpe import (
    ANY,
    NA,
    Cpe,
    CpeError,
    _parse_alias_table,
    alias_table,
    cpe_from_product,
    encode_value,
    parse_cpe,
    platform_cpes,
    try_parse_cpe,
    unescape,
    value_matches,
)


def test_parse_formatted_string() -> None:
    cpe = parse_cpe("cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*")
    assert (cpe.part, cpe.vendor, cpe.product, cpe.version) == ("a", "openbsd", "openssh", "9.2p1")
    assert cpe.update == ANY and cpe.other == ANY
    assert cpe.to23() == "cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*"


def test_escaped_colon_and_parentheses_stay_in_one_attribute() -> None:
    cpe = parse_cpe(r"cpe:2.3:a:jenkins:pipeline\:_groovy:2.6\(1\):-:*:*:*:jenkins:*:*")
    assert cpe.product == r"pipeline\:_groovy"
    assert unescape(cpe.product) == "pipeline:_groovy"
    assert unescape(cpe.version) == "2.6(1)"
    assert cpe.update == NA
    assert cpe.target_sw == "jenkins"
    assert parse_cpe(cpe.to23()) == cpe


def test_case_and_redundant_escapes_are_canonicalised() -> None:
    assert parse_cpe(r"CPE:2.3:A:Apache:HTTP_Server:2.4.57:*:*:*:*:*:*:*") == parse_cpe(
        r"cpe:2.3:a:apache:http\_server:2.4.57:*:*:*:*:*:*:*"
    )


def test_short_formatted_string_is_padded_with_any() -> None:
    assert parse_cpe("cpe:2.3:a:redis:redis").version == ANY


def test_cpe22_uri() -> None:
    cpe = parse_cpe("cpe:/a:openbsd:openssh:7.2p2")
    assert cpe.to23() == "cpe:2.3:a:openbsd:openssh:7.2p2:*:*:*:*:*:*:*"
    assert parse_cpe("cpe:/o:debian:debian_linux:-").version == NA
    assert parse_cpe("cpe:/a:foo%3abar:x%02").product == "x*"
    assert unescape(parse_cpe("cpe:/a:foo%3abar:x").vendor) == "foo:bar"


def test_cpe22_packed_edition() -> None:
    cpe = parse_cpe("cpe:/a:hp:insight:7.4.0.1570:-:~~online~win2003~x64~")
    assert cpe.update == NA and cpe.edition == ANY
    assert (cpe.sw_edition, cpe.target_sw, cpe.target_hw) == ("online", "win2003", "x64")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "openssh 9.2",
        "cpe:2.3:x:vendor:product:1:*:*:*:*:*:*:*",
        "cpe:2.3:a:v:p:1:*:*:*:*:*:*:*:extra",
        "cpe:2.3:a:v:p:1\\",
        "cpe:/a:v:p:%zz",
    ],
)
def test_invalid_names_raise(text: str) -> None:
    with pytest.raises(CpeError):
        parse_cpe(text)
    assert try_parse_cpe(text) is None


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (ANY, "openssh", True),
        ("openssh", ANY, True),  # an unknown host attribute does not prevent a match
        ("openssh", "openssh", True),
        ("openssh", "dropbear", False),
        (NA, NA, True),
        (NA, "x64", False),
        ("x64", NA, False),
        ("1.*", "1.2", True),
        ("1.*", "2.1", False),
        ("?.0", "9.0", True),
        ("windows_*", "windows_10", True),
    ],
)
def test_value_matches(pattern: str, value: str, expected: bool) -> None:
    assert value_matches(pattern, value) is expected


def test_encode_value_escapes_punctuation() -> None:
    assert encode_value("10.11.19-MariaDB-0+deb12u1") == r"10.11.19-mariadb-0\+deb12u1"
    assert encode_value("-") == NA and encode_value("*") == ANY and encode_value("") == ANY
    assert unescape(encode_value("1:2.0 (beta)")) == "1:2.0_(beta)"


@pytest.mark.parametrize(
    ("vendor", "product", "expected"),
    [
        (None, "OpenSSH", ["openbsd:openssh"]),
        (None, "nginx", ["f5:nginx", "nginx:nginx"]),
        (None, "Apache httpd", ["apache:http_server"]),
        (None, "MySQL", ["oracle:mysql", "mysql:mysql"]),
        (None, "MariaDB", ["mariadb:mariadb"]),
        (None, "Redis key-value store", ["redis:redis"]),
        (None, "PostgreSQL", ["postgresql:postgresql"]),
        (None, "PostgreSQL DB", ["postgresql:postgresql"]),
        (None, "vsftpd", ["beasts:vsftpd", "vsftpd_project:vsftpd"]),
        (None, "Memcached", ["memcached:memcached"]),
        (None, "Apache Tomcat", ["apache:tomcat"]),
        (None, "Apache Tomcat/Coyote JSP engine", ["apache:tomcat"]),
        ("Apache", "Tomcat", ["apache:tomcat"]),
        (None, "OpenSSL", ["openssl:openssl"]),
        (None, "Microsoft IIS httpd", ["microsoft:internet_information_services"]),
        (None, "Dovecot imapd", ["dovecot:dovecot"]),
        (None, "Kingbase KingbaseES", ["kingbase:kingbasees"]),
        (None, "DM Database Server", ["dameng:dm"]),
        (None, "Some Unknown Thing", ["some_unknown_thing:some_unknown_thing"]),
        ("Acme", "Widget Server", ["acme:widget_server"]),
    ],
)
def test_cpe_from_product(vendor: str | None, product: str, expected: list[str]) -> None:
    found = cpe_from_product(vendor, product, "1.2.3")
    assert [f"{c.vendor}:{c.product}" for c in found] == expected
    assert all(c.part == "a" and c.version == "1.2.3" for c in found)


def test_cpe_from_product_without_version_or_name() -> None:
    assert cpe_from_product(None, "OpenSSH")[0].version == ANY
    assert cpe_from_product(None, "  ") == []


def test_alias_table_covers_enough_products() -> None:
    table = alias_table()
    distinct = set(table.products.values())
    assert len(distinct) >= 40
    assert len(table.products) >= 100


def test_alias_table_rejects_duplicates_and_bad_targets() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        _parse_alias_table({"products": [{"names": ["x"], "cpe": ["a:b"]}] * 2})
    with pytest.raises(ValueError, match="bad CPE target"):
        _parse_alias_table({"products": [{"names": ["x"], "cpe": ["q:a:b"]}]})
    with pytest.raises(ValueError, match="non-empty"):
        _parse_alias_table({"products": [{"names": ["x"], "cpe": []}]})


def test_platform_hints() -> None:
    debian = {c.to23() for c in platform_cpes("Debian 12 (bookworm)")}
    assert "cpe:2.3:o:debian:debian_linux:*:*:*:*:*:*:*:*" in debian
    assert "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*" in debian
    assert platform_cpes("Windows Server 2019")[0].product == "windows"
    assert platform_cpes(None) == [] and platform_cpes("Plan 9") == []


# Pieces of a formatted-string attribute: plain characters, wildcards and escapes.
_attribute = st.lists(
    st.sampled_from([*"abcz019._-*?+()~ ", "\\:", "\\*", "\\?", "\\\\", "\\-"]), max_size=6
).map("".join)


@given(st.sampled_from(["a", "o", "h"]), st.lists(_attribute, min_size=10, max_size=10))
def test_formatted_string_round_trip(part: str, values: list[str]) -> None:
    text = "cpe:2.3:" + part + ":" + ":".join(values)
    cpe = parse_cpe(text)
    assert parse_cpe(cpe.to23()) == cpe
    assert isinstance(cpe, Cpe)


@given(st.text(max_size=60))
def test_parse_raises_only_cpe_error(text: str) -> None:
    for candidate in (text, "cpe:2.3:" + text, "cpe:/" + text):
        with contextlib.suppress(CpeError):
            parse_cpe(candidate)
