"""The rule-string grammar and the command splitting of the agent."""

from __future__ import annotations

import pytest

from shaobing.baseline.wazuh.evaluate import split_command
from shaobing.baseline.wazuh.rules import (
    Minterm,
    MintermKind,
    RuleSyntaxError,
    RuleType,
    parse_content,
    parse_minterm,
    parse_rule,
)


def test_file_rule_with_variables_and_content() -> None:
    rule = parse_rule(
        "f:$conf -> !r:^# && r:Port && n:^Port\\s+(\\d+) compare != 22",
        {"$conf": "/etc/ssh/sshd_config, /opt/ssh/sshd_config", "$c": "/wrong"},
    )
    assert rule.type is RuleType.FILE
    assert not rule.negated
    assert rule.locations == ("/etc/ssh/sshd_config", "/opt/ssh/sshd_config")
    assert rule.content is not None
    assert rule.content.minterms == (
        Minterm(True, MintermKind.REGEX, "^#"),
        Minterm(False, MintermKind.REGEX, "Port"),
        Minterm(False, MintermKind.NUMERIC, "^Port\\s+(\\d+)", "!=", 22),
    )


def test_not_prefix_and_existence() -> None:
    for text in ("not f:/etc/motd", "NOT f:/etc/motd", "  not   f:/etc/motd  "):
        rule = parse_rule(text)
        assert rule.negated
        assert rule.locations == ("/etc/motd",)
        assert rule.content is None


def test_directory_rule_parts() -> None:
    rule = parse_rule("d:/etc/audit/rules.d -> r:.+\\.rules$ -> r:^-w && r:-p wa")
    assert rule.type is RuleType.DIRECTORY
    assert rule.name_pattern == "r:.+\\.rules$"
    assert rule.content is not None and rule.content.text == "r:^-w && r:-p wa"
    assert parse_rule("d:/etc/audit/rules.d -> r:\\.rules$").content is None
    assert parse_rule("d:/etc,/var").locations == ("/etc", "/var")


def test_command_rule_keeps_later_arrows_in_the_content() -> None:
    # The first " -> " ends the location; the agent keeps the rest as the pattern.
    rule = parse_rule("c:auditctl -l -> r:.+\\.rules$ -> r:^-w")
    assert rule.type is RuleType.COMMAND
    assert rule.target == "auditctl -l"
    assert rule.content is not None
    assert rule.content.minterms[0].pattern == ".+\\.rules$ -> r:^-w"
    # A command with commas is one command, not a list.
    assert parse_rule("c:cut -d, -f1 /etc/passwd").locations == ("cut -d, -f1 /etc/passwd",)


def test_process_and_registry_rules() -> None:
    process = parse_rule("p:auditd")
    assert process.type is RuleType.PROCESS
    assert process.content is not None
    assert process.content.minterms == (Minterm(False, MintermKind.LITERAL, "auditd"),)
    registry = parse_rule("r:HKLM\\Software\\X -> Enabled -> 1")
    assert registry.type is RuleType.REGISTRY
    assert registry.name_pattern == "Enabled"
    assert registry.content is not None and registry.content.text == "1"


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("n:x(\\d+) compare < 1", "<", 1),
        ("n:x(\\d+) compare <= -2", "<=", -2),
        ("n:x(\\d+) compare == 3", "==", 3),
        ("n:x(\\d+) compare = 3", "==", 3),
        ("n:x(\\d+) compare != 4", "!=", 4),
        ("n:x(\\d+) compare >= 5", ">=", 5),
        ("n:x(\\d+) compare > +6", ">", 6),
    ],
)
def test_numeric_comparisons(text: str, op: str, value: int) -> None:
    minterm = parse_minterm(text)
    assert (minterm.kind, minterm.op, minterm.value) == (MintermKind.NUMERIC, op, value)
    assert minterm.compare(value) is (op in {"<=", "==", ">="})


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "not ",
        "x:/etc/passwd",
        "f/etc/passwd",
        "f:",
        "c: -> r:x",
        "f:/etc/x -> n:(\\d+)",
        "f:/etc/x -> n:(\\d+) compare ~ 3",
        "f:/etc/x -> n:(\\d+) compare <= three",
        "f:/etc/x -> n:(\\d+) compare <= " + "9" * 5000,
    ],
)
def test_syntax_errors_are_reported(text: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(text)
    assert caught.value.reason


def test_bang_before_the_type_is_dropped_like_the_agent_does() -> None:
    assert parse_rule("!f:/etc/passwd").negated is False


def test_literal_and_empty_pieces() -> None:
    assert parse_content("Protocol 2").minterms == (
        Minterm(False, MintermKind.LITERAL, "Protocol 2"),
    )
    assert [m.pattern for m in parse_content("r:a &&  && r:b").minterms] == ["a", "b"]
    assert parse_content("r:a && ").minterms == (Minterm(False, MintermKind.REGEX, "a"),)


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("sshd -T", ["sshd", "-T"]),
        ("echo  a   b", ["echo", "a", "b"]),
        ('stat -Lc "%a %U" /etc/passwd', ["stat", "-Lc", "%a %U", "/etc/passwd"]),
        (
            'sh -c "cut -f1 -d\\":\\" /etc/group | sort"',
            ["sh", "-c", 'cut -f1 -d":" /etc/group | sort'],
        ),
        ("grep a\\ b file", ["grep", "a b", "file"]),
        ("echo 'x y'", ["echo", "'x", "y'"]),
        ('echo ""', ["echo", ""]),
        ("", []),
    ],
)
def test_commands_split_like_w_strtok(command: str, args: list[str]) -> None:
    assert split_command(command) == args
