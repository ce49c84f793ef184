"""A handful of checks of the real CIS Debian 12 policy on trees built to pass and to fail.

The trees satisfy the policy's requirements (Debian 12 files) so the checks are evaluated;
only file and directory rules are chosen, which an offline tree can decide.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from shaobing.baseline.collectors.filesystem import TreeCollector
from shaobing.baseline.results import RuleResult, Status
from shaobing.baseline.wazuh import ScaPolicy, load_sca_policy
from tests.baseline.wazuh.conftest import CORPUS, by_id, run, write_tree

POLICY = CORPUS / "debian" / "cis_debian12.yml"

BASE = {
    "etc/debian_version": "12.7\n",
    "proc/sys/kernel/ostype": "Linux\n",
    "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n',
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
}
PAM = ["common-password", "common-auth", "common-account", "common-session"]
PASSING = {
    **BASE,
    "etc/sudoers": "Defaults env_reset\nDefaults use_pty\nroot ALL=(ALL:ALL) ALL\n",
    **{f"etc/pam.d/{name}": f"{name.split('-')[1]} required pam_unix.so\n" for name in PAM},
    "etc/pam.d/common-session-noninteractive": "session required pam_unix.so\n",
    "etc/login.defs": "PASS_MAX_DAYS 365\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\n",
    "etc/shadow": "root:$y$j9T$abc:19800:1:365:7:30:20500:0\n"
    "alice:$y$j9T$def:19800:1:90:7:30:20500:0\n",
    "etc/shells": "/bin/sh\n/bin/bash\n",
    "etc/systemd/journald.conf": "[Journal]\nForwardToSyslog=no\n",
    "etc/issue.net": "Authorized access only. Activity is monitored.\n",
}
FAILING = {
    **BASE,
    "etc/sudoers": "Defaults env_reset\n# Defaults use_pty\nroot ALL=(ALL:ALL) ALL\n",
    "etc/sudoers.d/README": "# Defaults use_pty would go here\n",
    **{f"etc/pam.d/{name}": f"{name.split('-')[1]} required pam_unix.so\n" for name in PAM},
    "etc/pam.d/common-session-noninteractive": "session required pam_unix.so\n",
    "etc/pam.d/common-auth": "auth [success=1 default=ignore] pam_unix.so nullok\n",
    "etc/login.defs": "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nPASS_WARN_AGE 3\n",
    "etc/shadow": "root:$y$j9T$abc:19800:0:99999:7:::\nalice::19800:0:99999:7:::\n",
    "etc/shells": "/bin/sh\n/bin/bash\n/usr/sbin/nologin\n",
    "etc/systemd/journald.conf": "[Journal]\n#ForwardToSyslog=no\n",
    "etc/systemd/journald.conf.d/90-forward.conf": "[Journal]\nForwardToSyslog=yes\n",
    "etc/issue.net": "Debian GNU/Linux 12\n",
}
CHECKS = {
    "33177": "Ensure sudo commands use pty.",
    "33204": "Ensure pam_unix does not include nullok.",
    "33208": "Ensure password expiration is configured.",
    "33209": "Ensure minimum password days is configured.",
    "33210": "Ensure password expiration warning days is configured.",
    "33222": "Ensure nologin is not listed in /etc/shells.",
    "33233": "Ensure journald ForwardToSyslog is disabled.",
    "33301": "Ensure /etc/shadow password fields are not empty.",
    "33050": "Ensure remote login warning banner is configured properly.",
}


@cache
def _policy() -> ScaPolicy:
    if not POLICY.is_file():
        pytest.skip(f"CIS Debian 12 policy not found at {POLICY} (shared/corpora is not present)")
    return load_sca_policy(POLICY)


def _results(tmp_path: Path, files: dict[str, str]) -> dict[str, RuleResult]:
    return by_id(run(_policy(), TreeCollector(write_tree(tmp_path, files))))


def test_checks_pass_on_a_hardened_tree(tmp_path: Path) -> None:
    results = _results(tmp_path, PASSING)
    for check, title in CHECKS.items():
        assert results[check].title == title
        assert results[check].status is Status.PASS, (check, results[check].observed)
    assert results["33177"].observed == "/etc/sudoers: Defaults use_pty"
    assert results["33222"].observed.startswith("/etc/shells 中没有满足 r:nologin 的行")


def test_checks_fail_on_a_weak_tree(tmp_path: Path) -> None:
    results = _results(tmp_path, FAILING)
    for check in CHECKS:
        assert results[check].status is Status.FAIL, (check, results[check].observed)
    assert results["33204"].observed == (
        "/etc/pam.d/common-auth: auth [success=1 default=ignore] pam_unix.so nullok"
    )
    assert "PASS_MAX_DAYS 99999" in results["33208"].observed
    assert results["33222"].observed == "/etc/shells: /usr/sbin/nologin"
    assert results["33233"].observed.startswith("/etc/systemd/journald.conf 中没有满足")
    assert results["33301"].observed == "/etc/shadow: alice::19800:0:99999:7:::"
    assert results["33050"].observed == "/etc/issue.net: Debian GNU/Linux 12"


def test_requirements_are_checked(tmp_path: Path) -> None:
    ubuntu = {**PASSING, "etc/debian_version": "bookworm/sid\n"}
    results = _results(tmp_path, ubuntu)
    assert {r.status for r in results.values()} == {Status.NA}
    assert "/etc/debian_version" in results["33177"].observed
