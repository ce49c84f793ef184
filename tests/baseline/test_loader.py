"""Rule files are data from people: safe YAML, size cap, one-line errors, organisation overrides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shaobing.baseline.loader import (
    MAX_RULE_FILE_BYTES,
    _builtin,
    build_profile,
    get_profile,
    load_profile_file,
    raw_profiles,
    user_rule_dir,
)
from shaobing.baseline.model import SettingProbe
from shaobing.core.errors import ValidationError
from shaobing.core.settings import reset_settings


def a_rule(rule_id: str = "org.ssh.root", **extra: Any) -> dict[str, Any]:
    """A complete, valid rule."""
    return {
        "id": rule_id,
        "title": "禁止 root 远程登录",
        "description": "检查 PermitRootLogin",
        "rationale": "root 口令被猜中即失守",
        "severity": "高",
        "check": {
            "type": "setting",
            "path": "/etc/ssh/sshd_config",
            "key": "PermitRootLogin",
            "compare": {"op": "in", "value": "{{allowed}}"},
        },
        "expected": "PermitRootLogin 取值属于 {{allowed}}",
        "remediation": {"text": "设置 PermitRootLogin no"},
        "references": {"gb22239": ["8.1.4.1"], "control": "身份鉴别"},
        **extra,
    }


def write_rules(path: Path, data: Any) -> Path:
    """Write ``data`` as a YAML rule file."""
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def profile_doc(*rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A profile document with ``rules``."""
    return {
        "profile": "org",
        "title": "本单位基线",
        "variables": {"allowed": ["no"], "days": 90},
        "rules": list(rules),
        **extra,
    }


def refused(path: Path) -> str:
    """The one-line message of loading ``path``."""
    with pytest.raises(ValidationError) as caught:
        load_profile_file(path)
    message = caught.value.message
    assert "\n" not in message
    return message


# ---- valid files and variables ------------------------------------------------------------


def test_load_and_substitute_variables(tmp_path: Path) -> None:
    raw = load_profile_file(write_rules(tmp_path / "org.yaml", profile_doc(a_rule())))
    profile = build_profile(raw)
    rule = profile.rules[0]
    assert (profile.id, profile.title, rule.id) == ("org", "本单位基线", "org.ssh.root")
    assert isinstance(rule.check, SettingProbe) and rule.check.compare is not None
    # a whole-string variable keeps its type (a list for "in"); inside text it is joined
    assert rule.check.compare.value == ["no"]
    assert rule.expected == "PermitRootLogin 取值属于 no"
    # --var gives text: a list variable takes comma-separated values
    overridden = build_profile(raw, {"allowed": "no, prohibit-password"})
    assert overridden.rules[0].expected == "PermitRootLogin 取值属于 no, prohibit-password"
    check = overridden.rules[0].check
    assert isinstance(check, SettingProbe) and check.compare is not None
    assert check.compare.value == ["no", "prohibit-password"]
    assert profile.variables["days"] == 90


def test_several_files_of_one_profile_merge(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    write_rules(folder / "a.yaml", profile_doc(a_rule("org.a.one")))
    write_rules(
        folder / "b.yml",
        {"profile": "org", "variables": {"allowed": ["no", "x"]}, "rules": [a_rule("org.b.two")]},
    )
    raw = raw_profiles(extra_dir=folder)["org"]
    assert list(raw.rules) == ["org.a.one", "org.b.two"]
    assert raw.title == "本单位基线"
    assert raw.variables["allowed"] == ["no", "x"]
    assert raw.sources == [str(folder / "a.yaml"), str(folder / "b.yml")]


# ---- refusals: one line naming file, rule and field ---------------------------------------


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("profile: org\nrules: [\n  - id: x\n", encoding="utf-8")
    message = refused(path)
    assert message.startswith(f"基线规则文件 {path} 不是有效的 YAML：")


def test_python_object_tags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    marker = tmp_path / "pwned"
    path.write_text(
        f"profile: org\nrules:\n  - !!python/object/apply:os.system\n    - touch {marker}\n",
        encoding="utf-8",
    )
    message = refused(path)
    assert "不是有效的 YAML" in message and "python/object" in message
    assert not marker.exists()


@pytest.mark.parametrize("document", ["- a\n- b\n", "title: x\n", "profile: [a]\n", "42\n"])
def test_not_a_profile(tmp_path: Path, document: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(document, encoding="utf-8")
    assert refused(path) == f"基线规则文件 {path} 缺少 profile（所属基线）字段，或不是 YAML 映射"


def test_rules_must_be_a_list(tmp_path: Path) -> None:
    path = write_rules(tmp_path / "x.yaml", {"profile": "org", "rules": {"id": "x"}})
    assert refused(path) == f"基线规则文件 {path}：规则 - 的字段 rules 无效：list"


def test_rule_without_id(tmp_path: Path) -> None:
    rule = a_rule()
    del rule["id"]
    path = write_rules(tmp_path / "x.yaml", profile_doc(a_rule("org.ok.one"), rule))
    assert refused(path) == f"基线规则文件 {path}：规则 #2 的字段 id 无效：缺少规则编号"


@pytest.mark.parametrize(
    ("change", "field", "detail"),
    [
        ({"severity": "很高"}, "severity", "Input should be"),
        ({"id": "Org.Bad"}, "id", "规则编号只能用小写字母"),
        ({"tags": "ssh"}, "tags", "valid list"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"references": {"control": "身份鉴别"}}, "references.gb22239", "Field required"),
        (
            {"check": {"type": "setting", "path": "/x", "key": "k", "syntax": "toml"}},
            "check.setting.syntax",
            "Input should be",
        ),
        ({"check": {"type": "file", "path": "/x", "match": "("}}, "check.file.match", "正则"),
        ({"check": {"type": "registry", "key": "x"}}, "check", "does not match any"),
        ({"check": {"type": "mode", "path": "/x", "max": "0999"}}, "check.mode.max", "八进制"),
        (
            {"remediation": {"text": "x", "edits": [{"file": "/x", "comment_out": "["}]}},
            "remediation.edits.0.comment_out",
            "正则",
        ),
    ],
)
def test_wrong_fields_name_file_rule_and_field(
    tmp_path: Path, change: dict[str, Any], field: str, detail: str
) -> None:
    rule = {**a_rule("org.bad.one"), **change}
    path = write_rules(tmp_path / "x.yaml", profile_doc(rule))
    message = refused(path)
    rule_id = rule["id"]
    assert message.startswith(f"基线规则文件 {path}：规则 {rule_id} 的字段 {field} 无效：")
    assert detail in message


def test_unknown_variable(tmp_path: Path) -> None:
    rule = a_rule(expected="至少 {{ min_len }} 位")
    path = write_rules(tmp_path / "x.yaml", profile_doc(rule))
    assert refused(path) == (
        f"基线规则文件 {path}：规则 org.ssh.root 引用了未定义的变量 min_len"
        "（可用 --var min_len=值 指定）"
    )
    # the same file works once the variable is given on the command line
    raw = load_profile_file(write_rules(tmp_path / "y.yaml", profile_doc(a_rule())))
    raw.rules["org.ssh.root"]["expected"] = "至少 {{ min_len }} 位"
    assert build_profile(raw, {"min_len": "12"}).rules[0].expected == "至少 12 位"


def test_size_cap(tmp_path: Path) -> None:
    path = write_rules(tmp_path / "big.yaml", profile_doc(a_rule()))
    with path.open("a", encoding="utf-8") as handle:
        handle.write(("# " + "x" * 1022 + "\n") * (MAX_RULE_FILE_BYTES // 1024 + 1))
    assert refused(path) == f"基线规则文件 {path} 过大（上限 {MAX_RULE_FILE_BYTES} 字节）"


def test_unreadable_files(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"profile: org\n\xff\xfe\n")
    assert refused(binary).startswith(f"无法读取基线规则文件 {binary}：")
    assert refused(tmp_path / "missing.yaml").startswith("无法读取基线规则文件")


# ---- the organisation's rule folder -------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A SHAOBING_HOME with an empty rule folder."""
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "home"))
    reset_settings()
    folder = user_rule_dir()
    folder.mkdir(parents=True)
    yield folder
    reset_settings()


def test_user_rule_replaces_a_builtin_rule(home: Path) -> None:
    builtin = _builtin()
    assert builtin, "no built-in profiles loaded"
    pid, raw = next(iter(sorted(builtin.items())))
    rule_id = next(iter(raw.rules))
    original_title = raw.rules[rule_id]["title"]
    mine = {**a_rule(rule_id), "title": "本单位自定的同名规则"}
    mine["check"] = {"type": "file", "path": "/etc/issue.net", "match": "授权"}
    mine["expected"] = "有告警"
    write_rules(home / "override.yaml", {"profile": pid, "rules": [mine]})
    profile = get_profile(pid)
    replaced = [r for r in profile.rules if r.id == rule_id]
    assert [r.title for r in replaced] == ["本单位自定的同名规则"]
    assert len(profile.rules) == len(raw.rules)
    # the cached built-in set is not changed by the override
    assert _builtin()[pid].rules[rule_id]["title"] == original_title
    assert raw_profiles(extra_dir=home / "none")[pid].rules[rule_id]["title"] == original_title


def test_user_profile_is_listed_and_errors_name_the_file(home: Path) -> None:
    write_rules(home / "org.yaml", profile_doc(a_rule()))
    assert "org" in raw_profiles()
    assert get_profile("org").rules[0].id == "org.ssh.root"
    bad = home / "zz-broken.yaml"
    bad.write_text("profile: org\nrules: [\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=f"基线规则文件 {bad} 不是有效的 YAML"):
        raw_profiles()


def test_unknown_profile_lists_the_known_ones(home: Path) -> None:
    write_rules(home / "org.yaml", profile_doc(a_rule()))
    with pytest.raises(ValidationError) as caught:
        get_profile("nope")
    assert caught.value.message.startswith("没有名为 nope 的基线（可用：")
    assert "org" in caught.value.message


def test_profile_given_as_a_path(tmp_path: Path) -> None:
    path = write_rules(tmp_path / "mine.yaml", profile_doc(a_rule()))
    assert (
        get_profile(str(path), {"allowed": "no"}).rules[0].expected == "PermitRootLogin 取值属于 no"
    )
