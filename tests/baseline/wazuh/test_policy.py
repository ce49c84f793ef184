"""Loading policy files: the two layouts, and one clear line for every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from shaobing.baseline.wazuh import is_sca_policy, load_sca_policy
from shaobing.baseline.wazuh.policy import MAX_POLICY_BYTES, Condition, Dialect
from shaobing.baseline.wazuh.regex import Engine
from shaobing.core.errors import ValidationError
from tests.baseline.wazuh.conftest import POLICIES

HEADER = "policy: {id: p1, file: p1.yml, name: Test, description: A test policy}\n"
CHECK = "checks:\n  - {id: 1, title: One, condition: all, rules: ['f:/etc/passwd']}\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ValidationError) as caught:
        load_sca_policy(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_layouts_and_engines() -> None:
    legacy = load_sca_policy(POLICIES / "legacy_files.yml")
    assert legacy.dialect is Dialect.WAZUH4
    assert legacy.variables == {
        "$sshd_file": "/etc/ssh/sshd_config",
        "$login_files": "/etc/login.defs,/etc/login.defs.d/local.conf",
    }
    checks = {check.id: check for check in legacy.checks}
    assert checks[100].engine is Engine.OSREGEX
    assert checks[121].engine is Engine.PCRE2
    assert checks[115].condition is Condition.ANY
    assert legacy.requirements is not None
    assert legacy.requirements.title == "A Linux tree with an os-release file"
    agent5 = load_sca_policy(POLICIES / "agent5_files.yml")
    assert agent5.dialect is Dialect.WAZUH5
    assert {check.engine for check in agent5.checks} == {Engine.PCRE2}
    assert agent5.checks[0].compliance == {"cis": ["5.1.20"], "nist_800_53": ["AC-6"]}


def test_variables_accept_lists_and_expand_in_locations_only(tmp_path: Path) -> None:
    policy = load_sca_policy(
        _write(
            tmp_path,
            HEADER + "variables:\n  $files: [/a, /b]\n  $f: /c\n"
            "checks:\n  - {id: 7, title: V, condition: any, rules: ['f:$files,$f -> r:$files']}\n",
        )
    )
    rule = policy.checks[0].rules[0]
    assert rule.locations == ("/a", "/b", "/c")
    assert rule.content is not None and rule.content.text == "r:$files"


def test_deprecated_conditions_are_accepted(tmp_path: Path) -> None:
    text = HEADER + CHECK.replace("condition: all", "condition: all required")
    assert load_sca_policy(_write(tmp_path, text)).checks[0].condition is Condition.ALL


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("policy: [\n", ["不是有效的 YAML", "第 2 行"]),
        ("- a\n- b\n", ["文件顶层", "键值映射"]),
        (CHECK, ["policy 段"]),
        ("policy: {name: T}\n" + CHECK, ["policy 段", "缺少字段 id"]),
        (HEADER, ["缺少 checks 段"]),
        (HEADER + "checks: []\n", ["缺少 checks 段"]),
        (HEADER + "checks:\n  - just text\n", ["checks 第 1 项", "键值映射"]),
        (HEADER + CHECK.replace("id: 1", "id: -4"), ["checks 第 1 项", "-4", "正整数"]),
        (HEADER + CHECK.replace("id: 1", "id: true"), ["True", "正整数"]),
        (HEADER + CHECK.replace("id: 1", "id: '" + "9" * 5000 + "'"), ["正整数"]),
        (HEADER + CHECK.replace("id: 1", "id: " + "9" * 5000), ["不是有效的 YAML"]),
        (HEADER + CHECK + CHECK[len("checks:\n") :], ["检查项 id=1", "重复"]),
        (
            HEADER + CHECK.replace("condition: all", "condition: most"),
            ["id=1", "condition", "'most'"],
        ),
        (HEADER + CHECK.replace("title: One, ", ""), ["id=1", "title/name"]),
        (HEADER + CHECK.replace("title: One", "title: [a]"), ["id=1", "title", "文本"]),
        (HEADER + CHECK.replace("['f:/etc/passwd']", "[]"), ["id=1", "rules"]),
        (HEADER + CHECK.replace("['f:/etc/passwd']", "'f:/etc/passwd'"), ["id=1", "rules"]),
        (HEADER + CHECK.replace("'f:/etc/passwd'", "42"), ["id=1", "第 1 条规则应为文本"]),
        (
            HEADER + CHECK.replace("f:/etc/passwd", "x:/etc/passwd"),
            ["id=1", "第 1 条规则", "x:/etc/passwd"],
        ),
        (
            HEADER + CHECK.replace("f:/etc/passwd", "f:/x -> n:(\\\\d+) compare ~ 1"),
            ["id=1", "第 1 条规则", "~ 1"],
        ),
        (
            HEADER + CHECK.replace("condition: all", "condition: all, regex_type: perl"),
            ["regex_type", "perl"],
        ),
        (HEADER + CHECK.replace("condition: all", "condition: all, compliance: 3"), ["compliance"]),
        (
            HEADER + CHECK.replace("condition: all", "condition: all, references: {a: b}"),
            ["references"],
        ),
        (HEADER + "variables: {sshd: /etc/ssh}\n" + CHECK, ["variables 段", "$"]),
        (HEADER + "variables: {$x: {a: b}}\n" + CHECK, ["variables 段", "$x"]),
        (
            HEADER + "requirements: {title: R, condition: any}\n" + CHECK,
            ["requirements 段", "rules"],
        ),
        (HEADER + "requirements: [a]\n" + CHECK, ["requirements 段"]),
        ("a: &x [1, 2]\nb: *x\n" + HEADER + CHECK, ["锚点/别名"]),
    ],
)
def test_mistakes_are_one_clear_line(tmp_path: Path, text: str, fragments: list[str]) -> None:
    message = _error(tmp_path, text)
    for fragment in fragments:
        assert fragment in message, message


def test_too_many_rules(tmp_path: Path) -> None:
    rules = ", ".join(["'f:/etc/passwd'"] * 256)
    message = _error(
        tmp_path, HEADER + f"checks:\n  - {{id: 3, title: T, condition: all, rules: [{rules}]}}\n"
    )
    assert "255" in message and "id=3" in message


def test_deep_nesting_is_refused_before_it_reaches_the_c_composer(tmp_path: Path) -> None:
    # A million open brackets overflow libyaml's recursive composer (a segfault).
    assert "嵌套超过 32 层" in _error(tmp_path, "[" * 1_000_000)
    assert "嵌套超过 32 层" in _error(tmp_path, HEADER + "x: " + "[" * 40 + "]" * 40 + "\n")


def test_size_limit_encoding_and_missing_file(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_bytes(b"#" * (MAX_POLICY_BYTES + 1))
    with pytest.raises(ValidationError, match="字节上限"):
        load_sca_policy(big)
    latin = tmp_path / "latin.yml"
    latin.write_bytes(HEADER.encode() + b"# caf\xe9\n" + CHECK.encode())
    with pytest.raises(ValidationError, match="UTF-8"):
        load_sca_policy(latin)
    with pytest.raises(ValidationError, match="无法读取"):
        load_sca_policy(tmp_path / "absent.yml")


def test_sniffing(tmp_path: Path) -> None:
    assert is_sca_policy(POLICIES / "agent5_files.yml")
    assert not is_sca_policy(_write(tmp_path, "id: linux.ssh.root\ntitle: ours\n"))
    assert not is_sca_policy(_write(tmp_path, "policy: [\n"))
    assert not is_sca_policy(tmp_path / "absent.yml")
    assert is_sca_policy(_write(tmp_path, HEADER + "checks: 3\n"))  # shape only, not validity
