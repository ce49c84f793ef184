"""Whole Linux profile on realistic hardened and weak trees (``--root``), and a hardening
cycle on a weak tree: every offline-decidable rule passes on the hardened hosts, the weak
hosts fail the rules their weaknesses break, and hardening + rollback round-trips."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import pytest

from shaobing.baseline.collectors.filesystem import TreeCollector
from shaobing.baseline.engine import run_profile
from shaobing.baseline.loader import get_profile
from shaobing.baseline.probes import Context
from shaobing.baseline.results import ProfileReport, Status
from tests.baseline.roots import materialise
from tests.conftest import CliRunner

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="fixture roots need root to set owners")


def _check(root: Path) -> ProfileReport:
    return asyncio.run(run_profile(get_profile("linux"), Context(host=TreeCollector(root))))


def _by_status(report: ProfileReport, status: Status) -> dict[str, str]:
    return {r.rule_id: r.observed for r in report.results if r.status is status}


# Review items that list what a person must look at: informational by design, never "pass".
REVIEW_ONLY = {"linux.account.admin-group-members"}


@pytest.mark.parametrize(
    ("name", "os_label"), [("debian12-hardened", "Debian"), ("kylin10-hardened", "Kylin")]
)
def test_hardened_roots_pass(tmp_path: Path, name: str, os_label: str) -> None:
    """No rule fails or errors on a hardened host; the OS is recognised by name."""
    report = _check(materialise(name, tmp_path))
    assert report.os is not None and os_label in report.os
    failed = {k: v for k, v in _by_status(report, Status.FAIL).items() if k not in REVIEW_ONLY}
    assert not failed, failed
    assert not _by_status(report, Status.ERROR)
    assert len(_by_status(report, Status.PASS)) >= 120


WEAK_EXPECTED = {
    "debian12-weak": [
        "linux.account.uid0-only-root",
        "linux.account.empty-password",
        "linux.ssh.permit-root-login",
        "linux.file.shadow-perms",
    ],
    "rhel9-weak": ["linux.ssh.permit-root-login", "linux.account.duplicate-uid"],
}


@pytest.mark.parametrize("name", sorted(WEAK_EXPECTED))
def test_weak_roots_fail(tmp_path: Path, name: str) -> None:
    """The weak trees fail many rules, including the planted weaknesses, with quotes."""
    report = _check(materialise(name, tmp_path))
    failed = _by_status(report, Status.FAIL)
    known = {r.id for r in get_profile("linux").rules}
    for rule_id in WEAK_EXPECTED[name]:
        assert rule_id in known, rule_id
        assert rule_id in failed, (rule_id, report.counts())
        assert failed[rule_id].strip()
    assert len(failed) >= 60
    assert not _by_status(report, Status.ERROR)


def _digest(root: Path) -> dict[str, tuple[str, int, int, int]]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            info = path.stat()
            out[str(path.relative_to(root))] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                info.st_mode,
                info.st_uid,
                info.st_gid,
            )
    return out


def test_harden_and_rollback_weak_root(tmp_path: Path, cli: CliRunner) -> None:
    """Harden a weak tree through the CLI, re-check improves, rollback restores every byte."""
    root = materialise("debian12-weak", tmp_path / "trees")
    before_digest = _digest(root)
    before = _check(root)
    cli.ok("baseline", "harden", "--profile", "linux", "--root", str(root), "--json", "-")
    assert _digest(root) == before_digest  # a plan changes nothing
    applied = json.loads(
        cli.ok(
            "baseline", "harden", "--profile", "linux", "--root", str(root), "--yes", "--json", "-"
        ).out
    )
    assert applied["status"] == "applied", applied["message"]
    assert applied["score_after"] > applied["score_before"]
    after = _check(root)
    assert len(_by_status(after, Status.PASS)) > len(_by_status(before, Status.PASS)) + 20
    assert _digest(root) != before_digest
    # a second plan has nothing left to change in files (idempotent edits)
    again = json.loads(
        cli.ok("baseline", "harden", "--profile", "linux", "--root", str(root), "--json", "-").out
    )
    assert all(not files for item in again["plan"] for files in [item["files"]])
    cli.ok("baseline", "rollback", str(applied["run_id"]), "--json", "-")
    assert _digest(root) == before_digest
