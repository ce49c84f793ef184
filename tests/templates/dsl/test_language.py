"""Operators, precedence, coercion and errors of the expression language."""

from __future__ import annotations

import math
from typing import Any

import pytest

from shaobing.core.i18n import catalogue
from shaobing.templates.dsl import (
    DslError,
    UnknownFunction,
    UnknownVariable,
    UnsupportedFunction,
    compile_expression,
    evaluate,
    truthy,
)

RESPONSE: dict[str, Any] = {
    "status_code": 200,
    "content_length": 1234,
    "body": "<html><title>Apache Tomcat</title>Welcome</html>",
    "header": "Server: nginx\r\nContent-Type: text/html",
    "all_headers": "Server: nginx",
    "content_type": "text/html",
    "duration": 6.2,
    "body_1": "first",
    "status_code_2": 302,
    "interactsh-protocol": "dns",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("2 * 3 % 4", 2),
        ("2 ** 10", 1024),
        ("-2 + 5", 3),
        ("7 / 2", 3.5),
        ("1 << 4 | 1", 17),
        ("6 & 3 ^ 1", 3),
        ("256 >> 4", 16),
        ("~0", -1),
        ("true || false && false", True),
        ("!true || true", True),
        ("1 < 2 == true", True),
        ("1 + 2 == 3 && 4 > 3", True),
        ("true ? 1 : 2", 1),
        ("false ? 1 : 2 > 1 ? 3 : 4", 3),
        ("nil ?? 'x'", "x"),
        ("missing_var ?? 'fallback'", "fallback"),
        ("'a' + 'b' + 1", "ab1"),
        ("1 + 2 + 'a'", "3a"),
        ("'abc' < 'abd'", True),
        ("'x' in ('a', 'x')", True),
        ("3 in (1, 2)", False),
        ("'Hello' =~ '^H.l+o$'", True),
        ("'Hello' !~ 'z'", True),
        ('"it\\"s"', 'it"s'),
        ("'a\\'b'", "a'b"),
        ("0x1F", 31),
        ("1.5e1", 15.0),
        ("200 == 200.0", True),
        ("200 == '200'", False),
        ("true == 1", False),
        ("1 / 0", math.inf),
    ],
)
def test_operators_and_precedence(text: str, expected: Any) -> None:
    assert evaluate(text, {}) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status_code == 200", True),
        ("status_code != 200", False),
        ("content_length > 100", True),
        ("content_length <= 100", False),
        ("duration >= 6", True),
        ('contains(body, "Tomcat") && !contains(tolower(body), "nginx")', True),
        ('contains(to_lower(header), "nginx") && status_code_2 == 302', True),
        ('contains_any(to_lower(body), "foo", "apache tomcat")', True),
        ('contains_all(body, "Apache", "Welcome", "absent")', False),
        ('regex("<title>([^<]+)</title>", body)', True),
        ("len(body_1) == 5", True),
        ("interactsh-protocol == 'dns'", True),
        ("status_code_2-status_code", 102),
        ("[interactsh-protocol] == 'dns'", True),
    ],
)
def test_matcher_expressions(text: str, expected: Any) -> None:
    assert evaluate(text, RESPONSE) == expected


def test_top_level_comma_list_is_an_array() -> None:
    assert evaluate("tls_version, cipher", {"tls_version": "tls12", "cipher": "x"}) == [
        "tls12",
        "x",
    ]


def test_logical_operators_short_circuit() -> None:
    assert evaluate("false && undefined_thing", {}) is False
    assert evaluate("true || undefined_thing", {}) is True


def test_free_names() -> None:
    expression = compile_expression('contains(to_lower(body_2), "x") && status_code_2 == 200')
    assert expression.functions == frozenset({"contains", "to_lower"})
    assert expression.variables == frozenset({"body_2", "status_code_2"})


def test_truthy_is_only_boolean_true() -> None:
    assert truthy(True)
    assert not truthy(1)
    assert not truthy("true")
    assert not truthy(False)


def test_unknown_function_names_expression_in_chinese() -> None:
    with pytest.raises(UnknownFunction) as caught:
        compile_expression("no_such_helper(body)")
    assert caught.value.name == "no_such_helper"
    assert "no_such_helper(body)" in str(caught.value)
    assert "未知的辅助函数" in str(caught.value)


@pytest.mark.parametrize("name", ["jarm", "resolve", "public_ip", "generate_java_gadget"])
def test_unsupported_helpers_are_refused_with_reason(name: str) -> None:
    with pytest.raises(UnsupportedFunction) as caught:
        compile_expression(f"{name}('a', 'b', 'c')")
    assert caught.value.name == name
    assert "不受支持" in str(caught.value)
    assert caught.value.reason


def test_wrong_arity() -> None:
    with pytest.raises(DslError, match="参数个数错误") as caught:
        evaluate("md5('a', 'b')", {})
    assert "md5('a', 'b')" in str(caught.value)


@pytest.mark.parametrize(
    "text", ["'a' - 1", "1 && true", "!'x'", "-'x'", "'a' < 1", "1 in 'abc'", "1 =~ 'x'"]
)
def test_type_errors(text: str) -> None:
    with pytest.raises(DslError, match="类型错误"):
        evaluate(text, {})


def test_unknown_variable() -> None:
    with pytest.raises(UnknownVariable) as caught:
        evaluate("status_code == 200", {})
    assert caught.value.name == "status_code"


@pytest.mark.parametrize(
    "text", ["1 +", "(1", "'open", "a ? b", "f(,)", "1 2", "#", "[unclosed", "()()"]
)
def test_syntax_errors(text: str) -> None:
    with pytest.raises(DslError, match=r"语法错误|嵌套|求值|未知"):
        compile_expression(text).evaluate({"a": True, "b": 1})


def test_nesting_is_bounded() -> None:
    with pytest.raises(DslError, match="嵌套过深"):
        compile_expression("(" * 500 + "1" + ")" * 500)
    with pytest.raises(DslError, match="嵌套过深"):
        compile_expression("+".join(["1"] * 2000))
    assert evaluate("+".join(["1"] * 200), {}) == 200


def test_huge_numbers_stay_bounded() -> None:
    assert evaluate("10 ** 400", {}) == math.inf
    assert evaluate("2 ** 3 ** 2", {}) == 64  # one level associates left, as govaluate
    assert evaluate("1 << 1000000000", {}) == 0
    assert isinstance(evaluate("9" * 5000, {}), float)


def test_messages_exist_in_both_languages() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    ours = {k for k in zh if k.startswith("template_dsl.")}
    assert ours
    english = {k for k in en if k.startswith("template_dsl.")}
    assert english <= ours
    for key in english:
        assert sorted(_params(zh[key])) == sorted(_params(en[key])), key


def _params(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]
