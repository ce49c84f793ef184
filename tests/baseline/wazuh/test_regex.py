"""The three pattern languages and the guard against catastrophic backtracking."""

from __future__ import annotations

import time

import pytest

from shaobing.baseline.wazuh.matching import Matcher, compile_content, scan, strtol
from shaobing.baseline.wazuh.regex import (
    MAX_LINE,
    Engine,
    RegexError,
    compile_pattern,
    sregex_matches,
    subject_pieces,
    translate_osregex,
)
from shaobing.baseline.wazuh.rules import parse_content


def osregex(pattern: str, text: str) -> bool:
    return compile_pattern(Engine.OSREGEX, pattern, ignore_case=True).search(text) is not None


def pcre2(pattern: str, text: str) -> bool:
    return compile_pattern(Engine.PCRE2, pattern, ignore_case=False).search(text) is not None


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("^\\s*PermitRootLogin\\s+no", "  permitrootlogin no", True),  # ignores case
        ("\\s", "\t", False),  # \s is a space only
        ("\\t", "\t", True),
        ("^\\w+$", "user-name@host_1", True),  # \w includes - @ _
        ("^\\w+$", "a.b", False),
        ("1.2", "1x2", False),  # a bare dot is literal
        ("1\\.2", "1x2", True),  # \. is any character
        ("^\\d\\d$", "42", True),
        ("^\\D+$", "abc", True),
        ("^\\S+$", "a b", False),
        ("^\\W$", " ", True),
        ("^\\p+$", "()*+,-.:;<=>?[]!\"'#$%&|{}", True),
        ("\\$HOME", "$HOME", True),
        ("a\\|b", "a|b", True),
        ("\\(x\\)", "(x)", True),
        ("\\<", "<", True),
        ("^foo|bar$", "xbar", True),  # alternatives carry their own anchors
        ("^foo|bar$", "barx", False),
        ("a^b", "a^b", True),  # ^ in the middle is literal
        ("a$b", "a$b", True),  # $ in the middle is literal
        ("0+", "0+", True),  # + after a bare character is literal
        ("Port\\.+22", "Port 22", True),
        ("x\\\\$", "x\\", True),  # escaped backslash, then the end anchor
        ("[\\w]", "[a]", True),  # brackets are literal in OS_Regex
    ],
)
def test_osregex(pattern: str, text: str, expected: bool) -> None:
    assert osregex(pattern, text) is expected


def test_osregex_repetition_is_possessive_only_where_it_cannot_matter() -> None:
    assert translate_osregex("^\\s*\\t*no") == "^[ ]*+\\t*+no"
    assert translate_osregex("\\w+:") == "[A-Za-z0-9@_\\-]++:"
    # \. overlaps what follows: it must be able to give characters back.
    assert translate_osregex("Port\\.+22") == "Port.+22"
    assert translate_osregex("(\\d+)") == "([0-9]++)"


@pytest.mark.parametrize("pattern", ["\\q", "abc\\", "((a))", "(a", "a)", "x" * 5000])
def test_osregex_errors(pattern: str) -> None:
    with pytest.raises(RegexError) as caught:
        compile_pattern(Engine.OSREGEX, pattern, ignore_case=True)
    assert caught.value.reason


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("^PermitRootLogin\\s+no$", "permitrootlogin no", False),  # case-sensitive
        ("^[\\w@-]+::", "svc-backup::1", True),
        ("^\\d+$", "٣", False),  # ASCII classes, as PCRE2 without UCP
        ("(?<n>\\d+) (?P=n)", "1 1", None),  # back-reference refused by the guard
        ("^\\h*x", " \tx", True),
        ("[[:digit:]]+x", "12x", True),
        ("\\Qa.b\\E", "a.b", True),
        ("\\Qa.b\\E", "axb", False),
        ("a(?i)B", "ab", True),  # inline flag moved to the front
        (".*ACCEPT.*lo.*0\\.0\\.0\\.0/0", "ACCEPT all lo * 0.0.0.0/0", True),
        ("^\\s*kernel\\.randomize_va_space\\s*=\\s*2\\z", "kernel.randomize_va_space = 2", True),
    ],
)
def test_pcre2(pattern: str, text: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(RegexError):
            pcre2(pattern, text)
    else:
        assert pcre2(pattern, text) is expected


@pytest.mark.parametrize("pattern", ["(a+)+$", "(x*y?)*z", "a\\Kb", "(?R)", "(*FAIL)", "(unclosed"])
def test_pcre2_refused(pattern: str) -> None:
    with pytest.raises(RegexError) as caught:
        compile_pattern(Engine.PCRE2, pattern, ignore_case=False)
    assert caught.value.reason


def test_catastrophic_patterns_are_refused_before_they_run() -> None:
    matcher_line = "a" * 40 + "!"
    with pytest.raises(RegexError):
        compile_pattern(Engine.PCRE2, "^(a+)+$", ignore_case=False)
    # What OS_Regex can express stays fast on a long hostile line.
    started = time.monotonic()
    assert not osregex("^\\w*\\w*\\w*\\w*:$", matcher_line * 50)
    assert not osregex("\\.*\\.*x", "y" * (MAX_LINE * 3))
    assert time.monotonic() - started < 5


def test_lines_are_cut_like_the_agent_reads_them() -> None:
    assert subject_pieces("x" * MAX_LINE) == ["x" * MAX_LINE]
    assert [len(p) for p in subject_pieces("x" * (MAX_LINE * 2 + 3))] == [MAX_LINE, MAX_LINE, 3]
    content = compile_content(
        parse_content("r:^tail"), Engine.PCRE2, wazuh5=True, literal_ignore_case=False
    )
    # The second piece of a long line starts a "line" of its own, as with fgets.
    assert scan(content, ["x" * MAX_LINE + "tail"]).found


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("^.mysql_history$", ".mysql_history", True),
        ("^.mysql_history$", "x.mysql_history", False),
        ("^.mysql_history$", ".MYSQL_HISTORY", True),
        ("history$", ".mysql_history", True),
        ("a|b", "xbx", True),
        ("!^a", "ba", True),
        ("!^a", "ab", False),
        ("a.b", "axb", False),
    ],
)
def test_sregex(pattern: str, name: str, expected: bool) -> None:
    assert sregex_matches(pattern, name, ignore_case=True) is expected


def _matcher(text: str, *, wazuh5: bool) -> Matcher:
    engine = Engine.PCRE2 if wazuh5 else Engine.OSREGEX
    return compile_content(
        parse_content(text), engine, wazuh5=wazuh5, literal_ignore_case=not wazuh5
    )


def test_lone_negation_differs_between_the_agents() -> None:
    lines = ["PermitRootLogin yes", "Port 22"]
    # Wazuh 5: holds when no line matches. Wazuh 4: holds when some line does not match.
    assert not scan(_matcher("!r:PermitRootLogin", wazuh5=True), lines).found
    assert scan(_matcher("!r:PermitRootLogin", wazuh5=False), lines).found
    assert scan(_matcher("!r:PermitEmptyPasswords", wazuh5=True), lines).found
    assert not scan(_matcher("!r:anything", wazuh5=True), []).found


def test_minterms_hold_on_the_same_line() -> None:
    matcher = _matcher("r:^-w && r:/etc/shadow && r:-p wa", wazuh5=True)
    assert not scan(matcher, ["-w /etc/passwd -p wa", "-a /etc/shadow"]).found
    result = scan(matcher, ["-w /etc/passwd -p wa", "-w /etc/shadow -p wa -k id"])
    assert result.found and result.line == "-w /etc/shadow -p wa -k id"


def test_numeric_capture_reads_like_strtol() -> None:
    assert strtol("027") == 27
    assert strtol("  -5x") == -5
    assert strtol("x5") is None
    assert strtol("9223372036854775807") == 2**63 - 1
    assert strtol("9223372036854775808") is None  # ERANGE
    assert strtol("0" * 40 + "12") == 12
    assert strtol("9" * 5000) is None
    matcher = _matcher("n:^UMASK\\s+(\\S+) compare == 27", wazuh5=False)
    assert scan(matcher, ["UMASK 027"]).found
    near = scan(_matcher("n:^MAX\\s+(\\d+) compare <= 5", wazuh5=True), ["MAX 9"])
    assert not near.found and near.near == "MAX 9"
