"""Fuzzing the parsers of untrusted input: only the documented errors may come out."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.baseline.collectors.filesystem import TreeCollector
from shaobing.baseline.results import Status
from shaobing.baseline.wazuh import load_sca_policy, run_sca_policy
from shaobing.baseline.wazuh.evaluate import split_command
from shaobing.baseline.wazuh.matching import NumericError, compile_content, scan
from shaobing.baseline.wazuh.regex import Engine, RegexError, compile_pattern, sregex_matches
from shaobing.baseline.wazuh.rules import RuleSyntaxError, parse_content, parse_rule
from shaobing.core.errors import ValidationError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RULE_PIECES = st.sampled_from(
    [
        "f:",
        "d:",
        "c:",
        "p:",
        "r:",
        "not ",
        "!",
        " -> ",
        " && ",
        "r:",
        "n:",
        " compare ",
        "<=",
        "==",
        "!=",
        ">",
        "(",
        ")",
        "\\d+",
        "\\s*",
        "\\",
        "$v",
        ",",
        "/etc/x",
        "^",
        "$",
        "|",
        "1",
        "*",
        "+",
        ".",
        "[",
        "]",
        " ",
        "a",
        "\n",
        "é",
    ]
)
rule_text = st.one_of(st.text(max_size=60), st.lists(RULE_PIECES, max_size=16).map("".join))


@FUZZ
@given(rule_text)
def test_rule_parser_only_raises_syntax_errors(text: str) -> None:
    try:
        rule = parse_rule(text, {"$v": "/a,/b"})
    except RuleSyntaxError as exc:
        error = exc.reason
    else:
        assert rule.locations and all(rule.locations)
        return
    assert error


@FUZZ
@given(rule_text, st.booleans())
def test_patterns_compile_or_refuse(pattern: str, pcre: bool) -> None:
    engine = Engine.PCRE2 if pcre else Engine.OSREGEX
    sregex_matches(pattern, "name.conf", ignore_case=True)
    try:
        compiled = compile_pattern(engine, pattern, ignore_case=not pcre, capture=True)
    except RegexError as exc:
        error = exc.reason
    else:
        compiled.search("PermitRootLogin no 42 /etc/x (a) $HOME")
        return
    assert error


@FUZZ
@given(rule_text, st.lists(st.text(max_size=40), max_size=5), st.booleans())
def test_content_scan_only_raises_documented_errors(
    text: str, lines: list[str], wazuh5: bool
) -> None:
    engine = Engine.PCRE2 if wazuh5 else Engine.OSREGEX
    try:
        matcher = compile_content(
            parse_content(text), engine, wazuh5=wazuh5, literal_ignore_case=not wazuh5
        )
        scan(matcher, lines)
    except (RuleSyntaxError, RegexError, NumericError) as exc:
        error = exc.reason
    else:
        return
    assert error


@FUZZ
@given(st.text(max_size=80))
def test_command_splitting_never_fails(command: str) -> None:
    assert all(isinstance(arg, str) for arg in split_command(command))


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 40000),
    st.text(max_size=20),
    st.sampled_from(
        [
            "all",
            "any",
            "none",
            "pcre2",
            "osregex",
            "f:/etc/passwd",
            "not d:/etc",
            "c:echo x -> r:x",
            "f:/etc/passwd -> n:^(\\d+) compare <= 3",
            "$x",
        ]
    ),
)
KEYS = st.sampled_from(
    [
        "policy",
        "checks",
        "requirements",
        "variables",
        "id",
        "title",
        "name",
        "file",
        "description",
        "condition",
        "rules",
        "compliance",
        "references",
        "regex_type",
        "$x",
        "remediation",
    ]
)
NODES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=25,
)


@FUZZ
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "policy": st.one_of(NODES, st.fixed_dictionaries({"id": SCALARS, "name": SCALARS})),
            "checks": st.one_of(
                NODES,
                st.lists(
                    st.fixed_dictionaries(
                        {"id": SCALARS, "title": SCALARS, "condition": SCALARS, "rules": NODES},
                        optional={"compliance": NODES, "regex_type": SCALARS},
                    ),
                    max_size=3,
                ),
            ),
            "requirements": NODES,
            "variables": NODES,
        },
    )
)
def test_policy_loader_only_raises_validation_errors(document: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz.yml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        try:
            policy = load_sca_policy(path)
        except ValidationError as exc:
            message = str(exc)
        else:
            message = ""
        if message:
            assert "\n" not in message
            return
        # A policy that loads also runs to the end on an empty tree.
        report = asyncio.run(run_sca_policy(policy, TreeCollector(directory)))
        assert len(report.results) == len(policy.checks)
        assert all(result.status in set(Status) for result in report.results)


@FUZZ
@given(st.binary(max_size=300))
def test_policy_loader_on_raw_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "raw.yml"
        path.write_bytes(raw)
        try:
            load_sca_policy(path)
        except ValidationError as exc:
            message = str(exc)
        else:
            message = ""
        assert "\n" not in message


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["all", "any", "none"]), st.lists(rule_text, min_size=1, max_size=4)
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_well_formed_policies_with_fuzzed_rules_run(
    checks: list[tuple[str, list[str]]], wazuh5: bool
) -> None:
    key = "name" if wazuh5 else "title"
    document = {
        "policy": {"id": "fuzz", "file": "fuzz.yml", "name": "Fuzz", "description": "x"},
        "variables": {"$v": "/etc/passwd,/etc/group"},
        "checks": [
            {"id": index + 1, key: f"check {index}", "condition": condition, "rules": rules}
            for index, (condition, rules) in enumerate(checks)
        ],
    }
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "etc").mkdir()
        (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n", encoding="utf-8")
        path = root / "fuzz.yml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        try:
            policy = load_sca_policy(path)
        except ValidationError as exc:
            message = str(exc)
        else:
            message = ""
        if message:
            assert "\n" not in message
            return
        report = asyncio.run(run_sca_policy(policy, TreeCollector(root)))
        assert [r.rule_id for r in report.results] == [str(i + 1) for i in range(len(checks))]
        for result in report.results:
            assert result.observed
            assert not result.observed.startswith("检查执行出错"), result.observed
