"""``{{...}}`` marker replacement and unresolved-marker reporting."""

from __future__ import annotations

import pytest

from shaobing.templates.dsl import interpolate, make_randstr, unresolved

VARS = {
    "BaseURL": "http://127.0.0.1:8080",
    "Hostname": "127.0.0.1:8080",
    "randstr": "2Zx0abc",
    "num": 123,
    "ok": True,
    "ratio": 0.5,
    "raw": b"\xff\x00A",
    "http_1_xsrf-token": "a%3Db",
    "interactsh-url": "x.oast.example",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{BaseURL}}/path?x={{url_encode(randstr)}}", "http://127.0.0.1:8080/path?x=2Zx0abc"),
        ("{{ BaseURL }}/a", "http://127.0.0.1:8080/a"),
        ("Host: {{Hostname}}", "Host: 127.0.0.1:8080"),
        ("{{md5({{num}})}}", "202cb962ac59075b964b07152d234b70"),
        ("{{md5(num)}}", "202cb962ac59075b964b07152d234b70"),
        ("{{urldecode('{{http_1_xsrf-token}}')}}", "a=b"),
        ("{{interactsh-url}}", "x.oast.example"),
        ("n={{num}} b={{ok}} r={{ratio}}", "n=123 b=true r=0.5"),
        ("{{raw}}", "\xff\x00A"),
        ("{{base64(concat('a', 'b'))}}", "YWI="),
        ("{{num + 1}}", "124"),
        ("{{to_upper('x')}}{{to_lower('Y')}}", "Xy"),
        ("no markers", "no markers"),
        ("{{alert(1)}}", "{{alert(1)}}"),
        ("{{constructor.constructor('x')()}}", "{{constructor.constructor('x')()}}"),
        ("{{7*7}}", "49"),
        ("{{unclosed", "{{unclosed"),
        ("a}}b", "a}}b"),
    ],
)
def test_interpolate(text: str, expected: str) -> None:
    assert interpolate(text, VARS) == expected


def test_unresolved_markers_stay_and_are_reported() -> None:
    text = "{{BaseURL}}/{{token}}?h={{md5(session)}}&{{md5({{missing}})}}"
    assert interpolate(text, VARS) == (
        "http://127.0.0.1:8080/{{token}}?h={{md5(session)}}&{{md5({{missing}})}}"
    )
    assert unresolved(text, VARS) == {"token", "session", "missing"}
    assert unresolved("{{BaseURL}}", VARS) == set()


def test_failing_expression_is_left_in_place() -> None:
    assert interpolate("{{hex_decode('zz')}}", {}) == "{{hex_decode('zz')}}"


def test_substituted_values_are_not_rescanned() -> None:
    assert interpolate("{{a}}", {"a": "{{b}}", "b": "no"}) == "{{b}}"


def test_make_randstr() -> None:
    first, second = make_randstr(), make_randstr()
    assert len(first) == 27 and first.isalnum() and first != second
