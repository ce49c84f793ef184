"""Helper functions against the documented Nuclei examples and reference values."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest

from shaobing.templates.dsl import KNOWN_FUNCTIONS, DslError, evaluate, render
from shaobing.templates.dsl.helpers.mmh3 import mmh3_signed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('len("Hello")', 5),
        ('len("中文")', 6),
        ('to_upper("hello")', "HELLO"),
        ('tolower("HeLLo")', "hello"),
        ('sort("cba")', "abc"),
        ('uniq("aabbc")', "abc"),
        ('repeat("../", 3)', "../../../"),
        ('replace("Hello", "He", "Ha")', "Hallo"),
        ('replace_regex("He123llo", "(\\\\d+)", "")', "Hello"),
        ('replace_regex("ab", "(a)(b)", "$2$1")', "ba"),
        ('trim("aaaHelloddd", "ad")', "Hello"),
        ('trim_left("aaaHelloddd", "ad")', "Helloddd"),
        ('trim_right("aaaHelloddd", "ad")', "aaaHello"),
        ('trim_prefix("aaHelloaa", "aa")', "Helloaa"),
        ('trim_suffix("aaHelloaa", "aa")', "aaHello"),
        ('trim_space("  Hello  ")', "Hello"),
        ('reverse("abc")', "cba"),
        ('base64("Hello")', "SGVsbG8="),
        ('base64_decode("SGVsbG8=")', b"Hello"),
        ('base64_py("Hello")', "SGVsbG8=\n"),
        (
            'url_encode("https://projectdiscovery.io/test?a=1")',
            "https%3A%2F%2Fprojectdiscovery.io%2Ftest%3Fa%3D1",
        ),
        (
            'url_decode("https:%2F%2Fprojectdiscovery.io%3Ftest=1")',
            "https://projectdiscovery.io?test=1",
        ),
        ('urldecode("a+b%21")', "a b!"),
        ('hex_encode("aa")', "6161"),
        ('hex_decode("6161")', b"aa"),
        ('html_escape("<body>test</body>")', "&lt;body&gt;test&lt;/body&gt;"),
        ('html_unescape("&lt;body&gt;test&lt;/body&gt;")', "<body>test</body>"),
        ('md5("Hello")', "8b1a9953c4611296a827abf8c47804d7"),
        ('sha1("Hello")', "f7ff9e8b7bb2e09b70935a5d785e0cc5d9d0abf0"),
        ('sha256("Hello")', "185f8db32271fe25f561a6fc938b2e264306ec304eda518007d1764826381969"),
        ('mmh3("Hello")', "316307400"),
        ('hmac("sha1", "test", "scrt")', "8856b111056d946d5c6c92a21b43c233596623c6"),
        ('crc32("Hello")', 4157704578),
        ('contains("Hello", "lo")', True),
        ('starts_with("Hello", "x", "He")', True),
        ('ends_with("Hello", "lo")', True),
        ('line_starts_with(lines, "He")', True),
        ('line_ends_with(lines, "lo")', True),
        ('starts_with(lines, "He")', False),
        ('"a\\nb"', "anb"),  # govaluate keeps the escaped character literally
        ('concat("Hello", 123, "world")', "Hello123world"),
        ('join("_", 123, "hello", "world")', "123_hello_world"),
        ('join(",", split("a-b-c", "-"))', "a,b,c"),
        ('split("abcdef", 2)', ["ab", "cd", "ef"]),
        ('regex("H([a-z]+)o", "Hello")', True),
        ('regex_any("Hello", "^x", "l+")', True),
        ('regex_all("Hello", "^H", "z")', False),
        ('equals_any("a", "b", "a")', True),
        ('remove_bad_chars("abcd", "bc")', "ad"),
        ("dec_to_hex(7001)", "1b59"),
        ('hex_to_dec("0xff")', 255),
        ('oct_to_dec("0o1234567")', 342391),
        ('bin_to_dec("0b1010")', 10),
        ("bin_to_dec(1010)", 10),
        ('to_number("42") + 1', 43),
        ('to_string(content_length) + " bytes"', "12 bytes"),
        ('substr("Hello", 1, 3)', "el"),
        ('index(split("a,b", ","), 1)', "b"),
        ('count("banana", "a")', 3),
        ('padding("abc", "0", 6, "prefix")', "000abc"),
        ('xor("abc", "def") == hex_decode("050705")', True),
        (
            'json_minify("{ \\"name\\": \\"John Doe\\", \\"foo\\": \\"bar\\" }")',
            '{"foo":"bar","name":"John Doe"}',
        ),
        ('json_prettify("{\\"foo\\":\\"bar\\"}")', '{\n    "foo": "bar"\n}'),
        (
            'gzip_decode(hex_decode("1f8b08000000000000fff248cdc9c907040000ffff8289d1f705000000"))',
            b"Hello",
        ),
        ('zlib_decode(hex_decode("789cf248cdc9c907040000ffff058c01f5"))', b"Hello"),
        ('gzip_decode(gzip("round trip"))', b"round trip"),
        ('inflate(deflate("round trip"))', b"round trip"),
        ('zlib_decode(zlib("round trip"))', b"round trip"),
        ('unpack(">I", hex_decode("acd709d0"))', 2899773904),
        ('ip_format("127.0.0.1", 1)', "127.0.0.1"),
        ('ip_format("127.0.0.1", 5)', "2130706433"),
        ('ip_format("127.0.0.1", 4)', "0x7f.0x0.0x0.0x1"),
        ('date_time("%Y-%M-%D %H:%m", 1654870680)', "2022-06-10 14:18"),
        ('date_time("2006-01-02 15:04:05", 1654870680)', "2022-06-10 14:18:00"),
        ('to_unix_time("2022-01-13T16:30:10+00:00")', 1642091410),
        ('to_unix_time("2022-01-13 16:30:10")', 1642091410),
        ('to_unix_time("13-01-2022 16:30:10", "02-01-2006 15:04:05")', 1642091410),
        ('print_debug(1, "x")', True),
        ('getNetworkPort("", "8080")', "8080"),
    ],
)
def test_documented_examples(text: str, expected: Any) -> None:
    assert evaluate(text, {"content_length": 12, "lines": "Hi\nHello"}) == expected


@pytest.mark.parametrize(
    ("version", "constraints", "expected"),
    [
        ("v1.0.0", ("> v0.0.1", "< v1.0.1"), True),
        ("2.4.49", ("< 2.4.50",), True),
        ("2.4.50", ("< 2.4.50",), False),
        ("1.5", (">= 1.0, < 2.0",), True),
        ("2.0", (">= 1.0, < 2.0",), False),
        ("5.7.44-log", ("> 5.0",), False),  # a pre-release only meets pre-release bounds
        ("1.2.3-beta", (">= 1.2.3-alpha",), True),
        ("1.2.9", ("~> 1.2.3",), True),
        ("1.3.0", ("~> 1.2.3",), False),
        ("1.9", ("~> 1.2",), True),
        ("3.0", ("!= 3.0",), False),
        ("10.11.19", ("= 10.11.19",), True),
    ],
)
def test_compare_versions(version: str, constraints: tuple[str, ...], expected: bool) -> None:
    args = ", ".join(repr(c) for c in (version, *constraints))
    assert evaluate(f"compare_versions({args})", {}) is expected


@pytest.mark.parametrize(
    "text", ['compare_versions("abc", "< 1")', 'compare_versions("1.0", "<<1")']
)
def test_compare_versions_rejects_garbage(text: str) -> None:
    with pytest.raises(DslError):
        evaluate(text, {})


def test_mmh3_matches_reference_values() -> None:
    assert mmh3_signed(b"hello world") == 1586663183
    assert mmh3_signed(b"") == 0
    favicon = b"\x00\x01fake icon bytes" * 20
    encoded = base64.encodebytes(favicon)
    assert evaluate("mmh3(base64_py(icon))", {"icon": favicon}) == str(mmh3_signed(encoded))


def test_random_helpers_shape() -> None:
    assert re.fullmatch(r"[A-Za-z0-9]{8}", evaluate("rand_base(8)", {}))
    assert re.fullmatch(r"[abc]{5}", evaluate('rand_base(5, "abc")', {}))
    assert re.fullmatch(r"[A-Za-z]{10}", evaluate("rand_text_alpha(10)", {}))
    assert re.fullmatch(r"[0-9]{4}", evaluate("rand_text_numeric(4)", {}))
    assert re.fullmatch(r"[B-Zb-z0-9]{6}", evaluate('rand_text_alphanumeric(6, "aA")', {}))
    assert 111 <= evaluate("rand_int(111, 999)", {}) < 999
    assert evaluate('rand_ip("192.168.0.0/24")', {}).startswith("192.168.0.")
    assert len(evaluate("rand_char()", {})) == 1
    assert evaluate("unix_time(10)", {}) > evaluate("unix_time()", {})


def test_generate_jwt_hs256_verifies() -> None:
    import hmac

    token = evaluate('generate_jwt("{\\"foo\\":\\"bar\\"}", "HS256", "secret")', {})
    head, claims, signature = token.split(".")
    expected = hmac.new(b"secret", f"{head}.{claims}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == signature
    assert evaluate('generate_jwt("{}", "none")', {}).endswith(".")


def test_aes_helpers_produce_ciphertext() -> None:
    assert (
        len(evaluate('aes_gcm("AES256Key-32Characters1234567890", "exampleplaintext")', {}))
        == 12 + 16 + 16
    )
    assert len(evaluate('aes_cbc("x", "0123456789abcdef", "0123456789abcdef")', {})) == 16


@pytest.mark.parametrize(
    "text",
    [
        'repeat("a", 1000000000)',
        'repeat(repeat("a", 10000), 10000)',
        'padding("a", "b", 1000000000, "suffix")',
        "rand_base(1000000000)",
        "wait_for(3600)",
        'base64_decode("%%%")',
        'hex_decode("zz")',
        'gzip_decode("not gzip")',
        'substr("abc", 5)',
        'to_number("abc")',
        'regex("(a+)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")',
        'regex("(\\\\w)\\\\1", "aa")',
        'regex("(", "x")',
        'hmac("md4x", "a", "b")',
        'generate_jwt("{}", "RS256", "k")',
    ],
)
def test_refusals_and_failures_are_dsl_errors(text: str) -> None:
    with pytest.raises(DslError):
        evaluate(text, {})


def test_decompression_bomb_is_bounded() -> None:
    import zlib

    bomb = zlib.compress(b"\0" * (11 * 1024 * 1024))
    with pytest.raises(DslError, match="解压"):
        evaluate("zlib_decode(x)", {"x": bomb})


def test_underscore_free_aliases_exist() -> None:
    for name in ("tolower", "toupper", "urlencode", "urldecode", "base64decode", "startswith"):
        assert name in KNOWN_FUNCTIONS
    assert "jarm" not in KNOWN_FUNCTIONS


def test_binary_results_render_as_latin1() -> None:
    assert render(evaluate('hex_decode("ff41")', {})) == "\xffA"
    assert evaluate('"A" + hex_decode("ff")', {}) == b"A\xff"
