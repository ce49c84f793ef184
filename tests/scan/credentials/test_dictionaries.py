"""Built-in dictionaries, pair generation, and loading untrusted dictionary files."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.scan.credentials import dictionaries as d


def test_built_in_lists_are_clean_and_contain_china_typical_passwords() -> None:
    common = d.common_passwords()
    assert len(common) == len(set(common)) >= 150
    for password in ("123456", "a123456", "Aa123456", "admin@123", "P@ssw0rd", "qwe123!@#"):
        assert password in common
    assert "1qaz@WSX" in common and "5201314" in common and "woaini1314" in common
    assert "" in common  # the empty password
    users = d.common_usernames()
    assert len(users) == len(set(users)) and users[0] == "root"
    for protocol in d.known_protocols():
        pairs = d.pairs_for(protocol)
        assert pairs and len(pairs) == len(set(pairs)), protocol


def test_vendor_defaults_come_first() -> None:
    assert d.pairs_for("tomcat")[:3] == [
        ("tomcat", "tomcat"),
        ("admin", "admin"),
        ("tomcat", "s3cret"),
    ]
    assert d.pairs_for("snmp")[:2] == [(None, "public"), (None, "private")]
    assert d.is_default_pair("tomcat", "tomcat", "s3cret")
    assert not d.is_default_pair("tomcat", "tomcat", "x")


def test_spray_order_each_account_before_anyone_s_next_guess() -> None:
    pairs = d.pairs_for("ssh", users=["alice", "bob"], include_defaults=False)
    assert pairs[:4] == [
        ("alice", "alice"),
        ("bob", "bob"),
        ("alice", "alice123"),
        ("bob", "bob123"),
    ]
    assert d.pairs_for("ssh", users=["alice", "bob"], include_defaults=False, limit=3) == pairs[:3]


def test_templates_expand_per_user_and_organisation_word() -> None:
    pairs = d.pairs_for(
        "ssh", users=["zhangwei"], words=["szga"], include_defaults=False, year=2024
    )
    passwords = [p for _, p in pairs]
    for expected in (
        "zhangwei",
        "zhangwei123",
        "Zhangwei@123",
        "szga@123",
        "Szga@2024",
        "zhangwei@2023",
        "ZHANGWEI",
        "SZGA@123",
    ):
        assert expected in passwords
    # Without words, no {word} template leaks through unexpanded.
    plain = [p for _, p in d.pairs_for("ssh", users=["x"], include_defaults=False)]
    assert not any("{" in p for p in plain)


def test_replacing_and_extending_the_lists() -> None:
    pairs = d.pairs_for(
        "ftp",
        users=["u1"],
        passwords=["p1", "p2"],
        extra_passwords=["e1"],
        extra_pairs=[("first", "pair")],
        include_defaults=False,
    )
    assert pairs == [("first", "pair"), ("u1", "e1"), ("u1", "p1"), ("u1", "p2")]
    assert d.pairs_for("redis", passwords=["x"], include_defaults=False) == [(None, "x")]
    with_extra = d.pairs_for("ssh", extra_users=["ops"], include_defaults=False)
    assert with_extra[0] == ("ops", "ops")


def test_bad_entries_are_one_line_errors_that_never_show_the_password() -> None:
    with pytest.raises(ValidationError, match="口令列表第 2 条") as caught:
        d.pairs_for("ssh", passwords=["ok", "sec\nret"])
    assert "sec" not in str(caught.value)
    with pytest.raises(ValidationError, match="bad"):
        d.pairs_for("ssh", users=["bad\x00user"])
    with pytest.raises(ValidationError, match="空用户名"):
        d.pairs_for("ssh", users=[""])
    with pytest.raises(ValidationError, match="gopher"):
        d.pairs_for("gopher")
    with pytest.raises(ValidationError, match="limit"):
        d.pairs_for("ssh", limit=0)


# --- dictionary files ---------------------------------------------------------------------


def test_load_text_files_in_common_encodings(tmp_path: Path) -> None:
    words = ["123456", "密码123", "Admin@123", "  spaced  "]
    text = "\r\n".join([*words, "", "123456"]) + "\n"
    for encoding, prefix in (
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("gb18030", b""),
        ("utf-16-le", codecs.BOM_UTF16_LE),
    ):
        path = tmp_path / f"{encoding}-{len(prefix)}.txt"
        path.write_bytes(prefix + text.encode(encoding))
        assert d.load_dictionary(path) == words, encoding


def test_pair_files(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text("root:toor\nadmin:\nweb:pa:ss\n", encoding="utf-8")
    assert d.load_pair_file(path) == [("root", "toor"), ("admin", ""), ("web", "pa:ss")]
    path.write_text("root:toor\njustaword\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="第 2 行"):
        d.load_pair_file(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"abc\n\x00\x01\x02binary", "第 2 行"),
        (b"ok\nbell\x07here\n", "第 2 行"),
        (b"x" * 300 + b"\n", "超过 256 个字符"),
        (b"\n\n\r\n", "没有任何条目"),
        (b"\x81\x30\xff\xfe\xfd\x80", "UTF-8"),
    ],
    ids=["nul", "control", "long-line", "empty", "undecodable"],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "dict.txt"
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=message) as caught:
        d.load_dictionary(path)
    assert "\n" not in str(caught.value) and "dict.txt" in str(caught.value)


def test_size_and_count_limits(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"password\n" * 1000)
    with pytest.raises(ValidationError, match="字节"):
        d.load_dictionary(path, max_bytes=4096)
    path.write_bytes(b"".join(b"p%d\n" % i for i in range(100)))
    with pytest.raises(ValidationError, match="条的上限"):
        d.load_dictionary(path, max_entries=50)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="不存在"):
        d.load_dictionary(tmp_path / "nope.txt")
    with pytest.raises(ValidationError, match="不存在"):
        d.load_dictionary(tmp_path)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_any_bytes_give_entries_or_a_clean_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.txt"
    path.write_bytes(data)
    try:
        entries = d.load_dictionary(path, max_bytes=1500)
    except ValidationError as exc:
        message = str(exc)
        entries = []
    else:
        message = ""
    assert "\n" not in message
    if message:
        return
    assert entries and len(entries) == len(set(entries))
    for entry in entries:
        assert entry and len(entry) <= d.MAX_ENTRY_CHARS
        assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in entry)


# --- benchmarks --------------------------------------------------------------------------------


def test_benchmark_dictionary_is_fixed_and_plants_the_valid_pair_last(tmp_path: Path) -> None:
    pairs = d.benchmark_pairs(200, user="bench", planted=("bench", "Admin@123"))
    assert len(pairs) == len(set(pairs)) == 200
    assert pairs[-1] == ("bench", "Admin@123")
    assert ("bench", "Admin@123") not in pairs[:-1]
    assert pairs == d.benchmark_pairs(200, user="bench", planted=("bench", "Admin@123"))
    path = d.write_colon_file(pairs, tmp_path / "hydra.txt")
    assert d.load_pair_file(path) == pairs
    assert len(d.benchmark_pairs(1000)) == 1000
    with pytest.raises(ValidationError):
        d.benchmark_pairs(0)
