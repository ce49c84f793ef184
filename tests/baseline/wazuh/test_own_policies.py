"""Our own small policies on pass and fail fixture roots: every rule type and operator."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shaobing.baseline.collectors.filesystem import LocalCollector, TreeCollector
from shaobing.baseline.results import Status
from shaobing.baseline.wazuh import evaluate, load_sca_policy
from tests.baseline.wazuh.conftest import ROOTS, by_id, load, run

PASS, FAIL, NA, ERROR = Status.PASS, Status.FAIL, Status.NA, Status.ERROR

# check id: (status on the pass root, status on the fail root)
LEGACY = {
    "100": (PASS, PASS),  # f: existence
    "101": (PASS, FAIL),  # not f:
    "102": (PASS, FAIL),  # r: through a variable, OS_Regex ignores case
    "103": (PASS, FAIL),  # literal whole line, case-insensitive
    "104": (PASS, FAIL),  # !r: && r: && r:
    "105": (PASS, FAIL),  # n: <= over a list variable (OS_Regex \s is a space, not a tab)
    "106": (PASS, FAIL),  # n: >=
    "107": (PASS, FAIL),  # n: ==
    "108": (PASS, FAIL),  # n: !=
    "109": (PASS, FAIL),  # n: <
    "110": (PASS, FAIL),  # n: >
    "111": (PASS, FAIL),  # d: existence
    "112": (PASS, FAIL),  # d: -> r:name
    "113": (PASS, FAIL),  # d: -> r:name -> content, walking into subdirectories
    "114": (PASS, FAIL),  # none + d: with an sregex file name
    "115": (PASS, FAIL),  # any (a missing file does not stop a later match)
    "116": (PASS, FAIL),  # none
    "117": (NA, NA),  # c: on an offline tree
    "118": (NA, NA),  # r: registry on Linux
    "119": (NA, NA),  # content of a missing file
    "120": (NA, FAIL),  # all: not applicable unless another rule fails
    "121": (PASS, FAIL),  # regex_type: pcre2 on one check
    "122": (ERROR, ERROR),  # n: without a capture group
    "123": (ERROR, ERROR),  # regex that does not compile
}
AGENT5 = {
    "200": (PASS, FAIL),  # PCRE2 is case-sensitive
    "201": (PASS, FAIL),  # a lone !r: means "no line matches"
    "202": (PASS, FAIL),  # not f: with a character class
    "203": (PASS, FAIL),  # d: walk with content
    "204": (PASS, FAIL),  # globbed f: location
    "205": (PASS, FAIL),  # n:
    "206": (PASS, FAIL),  # literal line, case-sensitive
    "207": (PASS, FAIL),  # d: with a negated file-name minterm
}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("legacy_files.yml", LEGACY), ("agent5_files.yml", AGENT5)],
)
@pytest.mark.parametrize("side", [0, 1], ids=["pass_root", "fail_root"])
def test_statuses_on_fixture_roots(
    policy: str, expected: dict[str, tuple[Status, Status]], side: int
) -> None:
    root = ROOTS / f"{policy.split('_', maxsplit=1)[0]}_{'pass' if side == 0 else 'fail'}"
    report = run(load(policy), TreeCollector(root))
    results = by_id(report)
    assert sorted(results) == sorted(expected)
    got = {check: results[check].status for check in expected}
    assert got == {check: statuses[side] for check, statuses in expected.items()}
    for result in report.results:
        assert result.observed, result.rule_id


def test_observed_quotes_what_decided() -> None:
    passed = by_id(run(load("legacy_files.yml"), TreeCollector(ROOTS / "legacy_pass")))
    failed = by_id(run(load("legacy_files.yml"), TreeCollector(ROOTS / "legacy_fail")))
    assert passed["102"].observed == "/etc/ssh/sshd_config: permitrootlogin no"
    assert passed["105"].observed.endswith("/etc/login.defs.d/local.conf: PASS_MAX_DAYS 60")
    assert (
        "/etc/audit/rules.d/audit.rules: -w /etc/shadow -p wa -k identity" in passed["113"].observed
    )
    assert failed["101"].observed == "文件存在: /etc/hosts.equiv"
    assert "最接近的一行: PASS_MAX_DAYS 99999" in failed["105"].observed
    assert failed["114"].observed == "文件存在: /home/alice/.mysql_history"
    assert failed["116"].observed == "/etc/shadow: toor::19000:0:99999:7:::"
    assert "目录 /etc/audit/rules.d 中没有名称匹配" in failed["112"].observed
    assert "/etc/not-there.conf" in failed["119"].observed
    assert passed["117"].observed == "离线目录无法执行命令: lsmod"
    assert "Windows" in passed["118"].observed
    assert "捕获组" in passed["122"].observed
    assert "/etc/ssh/sshd_config" in passed["102"].paths
    assert passed["105"].paths == ["/etc/login.defs", "/etc/login.defs.d/local.conf"]


def test_result_fields() -> None:
    report = run(load("legacy_files.yml"), TreeCollector(ROOTS / "legacy_pass"))
    assert report.profile == "shaobing_test_legacy"
    assert report.title == "Shaobing test policy (Wazuh 4.x layout)"
    assert report.target == f"root:{(ROOTS / 'legacy_pass').resolve()}"
    first = by_id(report)["100"]
    assert first.title == "The account database exists"
    assert first.severity == "中"
    assert first.remediation == "Restore /etc/passwd from a backup."
    assert first.references == {
        "wazuh_policy": "shaobing_test_legacy",
        "compliance": {"cis": ["6.1.1"], "pci_dss": ["2.2", "8.1"]},
        "references": ["https://www.cisecurity.org/cis-benchmarks/"],
    }
    assert first.expected == "以下规则须全部满足：f:/etc/passwd"
    mixed = by_id(report)["115"]
    assert mixed.expected.startswith("以下规则满足任一即可：f:/etc/issue.net -> r:Authorized；")
    agent5 = by_id(run(load("agent5_files.yml"), TreeCollector(ROOTS / "agent5_pass")))
    assert agent5["200"].references["compliance"] == {"cis": ["5.1.20"], "nist_800_53": ["AC-6"]}
    assert agent5["200"].title == "Root login disabled (PCRE2 is case-sensitive)"


def test_requirements_unmet_makes_every_check_not_applicable(tmp_path: Path) -> None:
    empty = TreeCollector(str(tmp_path))
    report = run(load("legacy_files.yml"), empty)
    assert len(report.results) == len(LEGACY)
    assert {result.status for result in report.results} == {NA}
    assert all(
        result.observed.startswith("策略前提条件未满足（A Linux tree with an os-release file）")
        for result in report.results
    )


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process the p: rules look for, ended after the test."""
    process = subprocess.Popen(["sleep", "31.4159"])
    try:
        time.sleep(0.05)
        yield process
    finally:
        process.kill()
        process.wait()


LIVE = {
    "300": PASS,
    "301": FAIL,
    "302": PASS,
    "303": PASS,
    "304": NA,
    "305": PASS,
    "306": FAIL,
    "307": PASS,
    "308": PASS,
    "309": FAIL,
}


@pytest.mark.usefixtures("sleeper")
def test_commands_and_processes_on_this_machine() -> None:
    report = run(load("live_commands.yml"), LocalCollector())
    results = by_id(report)
    assert {check: result.status for check, result in results.items()} == LIVE
    assert results["300"].observed == "命令 echo hello   world 输出: hello world"
    assert results["303"].observed == '命令 sh -c "echo oops 1>&2; exit 3" 输出: oops'
    assert "退出码 127" in results["304"].observed
    assert results["307"].observed == "进程在运行: sleep 31.4159"
    assert "shaobing-no-such-process" in results["309"].observed


def test_commands_can_be_refused_and_time_out() -> None:
    refused = by_id(run(load("live_commands.yml"), LocalCollector(), allow_commands=False))
    assert refused["300"].status is NA
    assert refused["300"].observed == "已禁止执行策略中的命令: echo hello   world"
    assert refused["308"].status is PASS  # processes are still read


def test_a_slow_command_times_out(tmp_path: Path) -> None:
    policy_file = tmp_path / "slow.yml"
    policy_file.write_text(
        "policy: {id: slow, file: slow.yml, name: Slow, description: A slow command}\n"
        "checks:\n"
        "  - {id: 1, title: Sleeps, condition: all, rules: ['c:sleep 5 -> r:x']}\n",
        encoding="utf-8",
    )
    started = time.monotonic()
    result = run(load_sca_policy(policy_file), LocalCollector(), command_timeout=0.3).results[0]
    assert time.monotonic() - started < 4
    assert result.status is NA
    assert result.observed.startswith("命令 sleep 5 执行失败: timeout 0.3s")


def test_offline_tree_cannot_run_commands_or_list_processes() -> None:
    report = run(load("live_commands.yml"), TreeCollector(ROOTS / "legacy_pass"))
    assert {result.status for result in report.results} == {NA}
    assert by_id(report)["307"].observed == "离线目录无法查看运行中的进程"


def test_directory_walks_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    (root / "etc" / "app").mkdir(parents=True)
    (root / "etc" / "app" / "loop").symlink_to("..")  # a link back up: an endless walk
    for index in range(30):
        (root / "etc" / f"file{index}.conf").write_text("x\n", encoding="utf-8")
    policy_file = tmp_path / "walk.yml"
    policy_file.write_text(
        "policy: {id: walk, file: walk.yml, name: Walk, description: Bounded walks}\n"
        "checks:\n"
        "  - {id: 1, title: Loop, condition: all, rules: ['d:/etc/app -> r:\\.rules$']}\n"
        "  - {id: 2, title: Wide, condition: all, rules: ['d:/etc -> r:\\.rules$']}\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(evaluate, "MAX_WALK_ENTRIES", 1000)
    results = by_id(run(load_sca_policy(policy_file), TreeCollector(root)))
    assert results["1"].status is NA
    assert "层级超过 24 层" in results["1"].observed
    monkeypatch.setattr(evaluate, "MAX_WALK_ENTRIES", 20)
    results = by_id(run(load_sca_policy(policy_file), TreeCollector(root)))
    assert results["2"].status is NA
    assert results["2"].observed == "目录 /etc 下的条目超过 20 个，停止遍历"
