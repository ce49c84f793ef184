"""Scan policies as data: the built-in set, custom files, selection and severity floor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shaobing.core.errors import ValidationError
from shaobing.findings.severity import Severity
from shaobing.scan.checks import Safety
from shaobing.scan.policy import load_policies
from tests.conftest import CliRunner


def test_at_least_twenty_builtin_policies_all_valid(tmp_path: Path) -> None:
    policies = load_policies(tmp_path / "none")
    assert len(policies) >= 20
    for name, policy in policies.items():
        assert policy.name == name
        assert policy.title and any("\u4e00" <= ch <= "\u9fff" for ch in policy.title), name
        assert Safety.DOS not in policy.safety, name  # never in a built-in policy
    assert {
        "default",
        "high-risk",
        "medium-high",
        "web-components",
        "host-info",
        "weak-password",
        "database",
        "cloud-virtualization",
        "emergency",
    } <= set(policies)


def test_policy_selection_and_severity_floor(tmp_path: Path) -> None:
    policies = load_policies(tmp_path / "none")
    weak = policies["weak-password"]
    assert weak.allows("weak-credential.ssh", Safety.ACTIVE)
    assert not weak.allows("unauth.redis", Safety.PASSIVE)
    assert not policies["quick"].allows("weak-credential.ssh", Safety.ACTIVE)
    assert not policies["default"].allows("weak-credential.ftp-anonymous-write", Safety.INTRUSIVE)
    assert policies["intrusive"].allows("weak-credential.ftp-anonymous-write", Safety.INTRUSIVE)
    high = policies["high-risk"]
    assert high.keeps(Severity.CRITICAL) and high.keeps(Severity.HIGH)
    assert not high.keeps(Severity.MEDIUM)
    assert policies["default"].keeps(Severity.INFO)


def test_custom_policy_file_adds_and_overrides(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "site.yaml").write_text(
        "default:\n  title: 本单位默认\n  ports: top100\n  checks: ['unauth.*']\n"
        "nightly:\n  title: 夜间巡检\n  rate: 200\n",
        encoding="utf-8",
    )
    policies = load_policies(folder)
    assert policies["default"].title == "本单位默认"
    assert policies["default"].ports == "top100"
    assert policies["nightly"].rate == 200


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("bad:\n  title: x\n  ports: 70000\n", "bad"),
        ("bad:\n  title: x\n  unknown_field: 1\n", "unknown_field"),
        ("bad:\n  title: x\n  safety: [explosive]\n", "safety"),
        ("bad: [1, 2\n", "YAML"),
        ("- just a list\n", "映射"),
    ],
)
def test_bad_policy_files_give_one_line(tmp_path: Path, text: str, needle: str) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_policies(folder)
    assert needle in caught.value.message and "\n" not in caught.value.message


def test_policy_cli_list_and_show(cli: CliRunner) -> None:
    listed = cli.json("policy", "list")
    assert len(listed) >= 20  # type: ignore[arg-type]
    shown = cli.json("policy", "show", "weak-password")
    ids = {c["id"] for c in shown["checks"]}  # type: ignore[index]
    assert ids and all(i.startswith("weak-credential.") for i in ids)
    assert "weak-credential.ftp-anonymous-write" not in ids  # intrusive, not allowed
    missing = cli("policy", "show", "no-such")
    assert missing.code == 1 and "no-such" in missing.err
    assert os.environ["SHAOBING_HOME"]
