"""The RE2-to-Python regex bridge and its catastrophic-backtracking guard."""

from __future__ import annotations

import time

import pytest

from shaobing.templates.dsl.errors import HelperFailure
from shaobing.templates.dsl.regex import check_safe, safe_regex


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "(a*)*b", "(?:x+y?)*z", "((ab)+c)+", "(a{1,3})+", "(\\w+\\s?)+$", "(.*a){2,}"],
)
def test_nested_quantifiers_are_refused(pattern: str) -> None:
    with pytest.raises(HelperFailure, match="嵌套量词"):
        check_safe(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "(?i)version ([0-9.]+)",
        "<title>([^<]+)</title>",
        "(\\d{1,3}\\.){3}\\d{1,3}",
        "((\\d{1,3}\\.\\d{1,3})|([a-z0-9]+(\\.[a-z]{2,3}){1,2}))",
        "(?:foo|bar)+baz",
        "[(a+)+]",
        "\\(a+\\)+",
        "(a+)?b",
    ],
)
def test_safe_patterns_are_accepted(pattern: str) -> None:
    safe_regex(pattern)


def test_re2_spellings_are_translated() -> None:
    assert safe_regex("abc\\z").search("xxabc")
    assert safe_regex("[[:digit:]]+").search("a12")
    assert safe_regex("key-(?i)ABC").search("key-abc")


def test_refused_pattern_never_runs() -> None:
    start = time.monotonic()
    with pytest.raises(HelperFailure):
        safe_regex("(a+)+$")
    assert time.monotonic() - start < 1


def test_backreferences_are_refused() -> None:
    with pytest.raises(HelperFailure, match="反向引用"):
        safe_regex("(a)\\1")
