"""The real Wazuh policies (shared/corpora/wazuh-sca): they load, and they run to the end.

Before a policy runs on this machine every one of its commands is checked against a list
of read-only programs; a policy with any other command runs on an offline tree instead.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from shaobing.baseline.collectors.filesystem import LocalCollector, TreeCollector
from shaobing.baseline.results import ProfileReport, Status
from shaobing.baseline.wazuh import ScaPolicy, is_sca_policy, load_sca_policy
from shaobing.baseline.wazuh.evaluate import split_command
from shaobing.baseline.wazuh.rules import Rule, RuleType
from shaobing.core.i18n import t
from tests.baseline.wazuh.conftest import CORPUS, corpus_policies, run, write_tree

# Programs that only read (with the argument checks below).
READ_ONLY: dict[str, Callable[[list[str]], bool]] = {
    "auditctl": lambda a: a == ["-l"],
    "augenrules": lambda a: a == ["--check"],
    "awk": lambda a: True,
    "curl": lambda a: a == ["-I", "127.0.0.1"],  # loopback only
    "cut": lambda a: True,
    "dpkg": lambda a: a[:1] == ["-s"],
    "dpkg-query": lambda a: a[:1] == ["-s"],
    "find": lambda a: (
        "-delete" not in a
        and all(a[i + 1] == "grep" for i, arg in enumerate(a) if arg.startswith("-exec"))
    ),
    "findmnt": lambda a: True,
    "getent": lambda a: True,
    "grep": lambda a: True,
    "groups": lambda a: True,
    "ip6tables": lambda a: a[:1] == ["-L"],
    "iptables": lambda a: a[:1] == ["-L"],
    "journalctl": lambda a: a == [],
    "ls": lambda a: True,
    "lsmod": lambda a: a == [],
    "modprobe": lambda a: "-n" in a,  # dry run
    "/sbin/modprobe": lambda a: "-n" in a,
    "my_print_defaults": lambda a: True,
    "nft": lambda a: a[:1] == ["list"],
    "nginx": lambda a: a in (["-v"], ["-V"]),
    "nmcli": lambda a: a[:1] == ["radio"] and len(a) == 2,
    "passwd": lambda a: a[:1] == ["-S"],
    "rpm": lambda a: a[:1] == ["-q"],
    "sestatus": lambda a: a == [],
    "sort": lambda a: True,
    "ss": lambda a: True,
    "sshd": lambda a: a == ["-T"],
    "stat": lambda a: True,
    "sudo": lambda a: a == ["-V"] or a[:2] == ["-l", "-U"],
    "sysctl": lambda a: not any(x.startswith("-w") or "=" in x for x in a),
    "systemctl": lambda a: (
        a[:1] in (["is-enabled"], ["is-active"], ["status"], ["show"])
        or a in (["list-units"], ["list-unit-files"])
    ),
    "ufw": lambda a: a[:1] == ["status"],
    "uniq": lambda a: True,
    "useradd": lambda a: a == ["-D"],
    "wc": lambda a: True,
    "which": lambda a: True,
}
_SEPARATORS = {"|", "||", "&", "&&", ";"}


def _read_only(args: list[str]) -> bool:
    if not args:
        return False
    if args[0] == "sh" and len(args) == 3 and args[1] == "-c":
        # Pipelines and lists of read-only programs; no redirection into or out of files.
        lexer = shlex.shlex(args[2].replace("2>&1", " "), posix=True, punctuation_chars=True)
        words: list[str] = []
        for token in [*lexer, "|"]:
            if token in _SEPARATORS:
                if not _read_only(words):
                    return False
                words = []
            elif set(token) & set("<>()"):
                return False
            else:
                words.append(token)
        return True
    check = READ_ONLY.get(args[0])
    return check is not None and bool(check(args[1:]))


def _commands(policy: ScaPolicy) -> list[Rule]:
    rules = [rule for check in policy.checks for rule in check.rules]
    if policy.requirements is not None:
        rules.extend(policy.requirements.rules)
    return [rule for rule in rules if rule.type is RuleType.COMMAND]


def _assert_consistent(policy: ScaPolicy, report: ProfileReport) -> None:
    assert report.profile == policy.id
    assert report.title == policy.name
    assert [r.rule_id for r in report.results] == [str(c.id) for c in policy.checks]
    assert sum(report.counts().values()) == len(policy.checks)
    internal = t("baseline_wazuh.eval.internal_error", kind="", detail="").split("（")[0]
    for result in report.results:
        assert result.status in set(Status)
        assert result.observed and result.expected, result.rule_id
        assert not result.observed.startswith(internal), (result.rule_id, result.observed)


def _corpus_ids() -> list[str]:
    return [p.relative_to(CORPUS).as_posix() for p in sorted(CORPUS.rglob("*.yml"))] or ["none"]


@pytest.fixture(params=_corpus_ids())
def corpus_file(request: pytest.FixtureRequest) -> Path:
    files = {p.relative_to(CORPUS).as_posix(): p for p in corpus_policies()}
    return files[request.param]


def test_corpus_policies_load(corpus_file: Path) -> None:
    assert is_sca_policy(corpus_file)
    policy = load_sca_policy(corpus_file)
    raw = corpus_file.read_text(encoding="utf-8")
    # Every "- id:" entry of the file became a check.
    assert len(policy.checks) == len(re.findall(r"^  - id: \d+", raw, re.MULTILINE))
    assert all(check.rules and check.title for check in policy.checks)


def test_corpus_policies_run_on_this_machine(corpus_file: Path) -> None:
    policy = load_sca_policy(corpus_file)
    unsafe = [r.target for r in _commands(policy) if not _read_only(split_command(r.target))]
    collector = LocalCollector() if not unsafe else TreeCollector("/nonexistent-root")
    report = run(policy, collector, command_timeout=20)
    _assert_consistent(policy, report)
    assert not unsafe, f"not obviously read-only, ran offline instead: {unsafe}"


DEBIAN_TREE = {
    "etc/debian_version": "12.7\n",
    "proc/sys/kernel/ostype": "Linux\n",
    "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n',
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
    "etc/group": "root:x:0:\nalice:x:1000:\n",
    "etc/shadow": "root:$y$j9T$abc:19800:1:365:7:30::\nalice:$y$j9T$def:19800:1:365:7:30::\n",
    "etc/login.defs": "PASS_MAX_DAYS 365\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\n",
    "etc/ssh/sshd_config": "PermitRootLogin no\n",
    "etc/mysql/my.cnf": "[mysqld]\nlocal-infile = 0\n",
    "etc/nginx/nginx.conf": "server_tokens off;\n",
    "home/alice/.bashrc": "umask 027\n",
    "root/.profile": "umask 027\n",
}


def test_corpus_policies_run_on_an_offline_tree(corpus_file: Path, tmp_path: Path) -> None:
    policy = load_sca_policy(corpus_file)
    report = run(policy, TreeCollector(write_tree(tmp_path, DEBIAN_TREE)))
    _assert_consistent(policy, report)
    counts = report.counts()
    commands_only = all(
        all(rule.type is RuleType.COMMAND for rule in check.rules) for check in policy.checks
    )
    requirement_commands = policy.requirements is not None and any(
        rule.type is RuleType.COMMAND for rule in policy.requirements.rules
    )
    if commands_only or requirement_commands:
        # Offline, no command runs: nothing can be decided.
        assert counts["pass"] + counts["fail"] == 0
    else:
        # File and directory rules are decided offline.
        assert counts["pass"] + counts["fail"] > 0, counts
