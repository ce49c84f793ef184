"""OpenSCAP XCCDF/ARF importer on real ``oscap xccdf eval`` output, and through the CLI.

The result files are made at test time by the Debian packages ``openscap-scanner`` (the
``oscap`` tool) and ``ssg-debian`` (SCAP Security Guide content for Debian); the tests skip,
saying which is missing, when either is absent. Two kinds of scan are run:

* this machine itself, with the unchanged content: whatever the results are here (on a
  Debian release other than the content's, every rule is "notapplicable"), the import must
  agree with the file;
* an offline file tree (``OSCAP_PROBE_ROOT``) that looks like the content's Debian release
  and that the test controls, so rules really fail and one of them can be fixed between two
  scans (``/boot/System.map-*`` made readable by root only).

What the importer reports is checked against the files read independently (a regular
expression over the raw XML), not against numbers written down here.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shaobing.findings.importers.base import FindingInput
from shaobing.findings.importers.xccdf import FINDING_RESULTS, XccdfImporter, XccdfSummary
from shaobing.findings.severity import Severity
from tests.conftest import CliRunner
from tests.findings.importers.common import split

OSCAP = shutil.which("oscap")
CONTENT = Path("/usr/share/xml/scap/ssg/content")
PREFERRED_PROFILE = "xccdf_org.ssgproject.content_profile_standard"
SYSTEMMAP = "xccdf_org.ssgproject.content_rule_file_permissions_systemmap"
OFFLINE_TARGET = "web01.example.test"
RULE_RESULT_RE = re.compile(
    r"<(?:[\w-]+:)?rule-result\b([^>]*)>\s*<(?:[\w-]+:)?result>(\w+)</(?:[\w-]+:)?result>"
)
SEVERITIES = {
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
    "unknown": Severity.LOW,
}


@dataclass(frozen=True)
class Content:
    """The SSG data stream used, the Debian release it targets, and the profile chosen."""

    datastream: Path
    release: str
    profile: str


@dataclass(frozen=True)
class Scan:
    """One ``oscap xccdf eval`` run: its plain XCCDF and its ARF result files."""

    xccdf: Path
    arf: Path


@dataclass(frozen=True)
class RuleResult:
    """A rule-result as read straight from the file."""

    idref: str
    result: str
    severity: str


@pytest.fixture(scope="module")
def content() -> Content:
    if OSCAP is None:
        pytest.skip("oscap is not installed (Debian package openscap-scanner)")
    found = [(r, CONTENT / f"ssg-debian{r}-ds.xml") for r in ("13", "12", "11", "10")]
    found = [(r, ds) for r, ds in found if ds.is_file()]
    if not found:
        pytest.skip(f"no SSG Debian data stream in {CONTENT} (Debian package ssg-debian)")
    release, datastream = found[0]
    listing = subprocess.run(
        [OSCAP, "info", "--profiles", str(datastream)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    profiles = [line.split(":", 1)[0] for line in listing.splitlines() if ":" in line]
    assert profiles, listing
    profile = PREFERRED_PROFILE if PREFERRED_PROFILE in profiles else profiles[0]
    return Content(datastream, release, profile)


def evaluate(content: Content, out: Path, root: Path | None = None) -> Scan:
    """Run oscap on this machine, or on the offline tree ``root``."""
    assert OSCAP is not None
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if root is not None:
        env["OSCAP_PROBE_ROOT"] = str(root)
        env["OSCAP_EVALUATION_TARGET"] = OFFLINE_TARGET
    xccdf, arf = out / "results-xccdf.xml", out / "results-arf.xml"
    done = subprocess.run(
        [
            OSCAP,
            "xccdf",
            "eval",
            "--profile",
            content.profile,
            "--results",
            str(xccdf),
            "--results-arf",
            str(arf),
            str(content.datastream),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=out,
        timeout=600,
    )
    # 0: every rule passed; 2: at least one failed; anything else: oscap itself failed.
    assert done.returncode in (0, 2), done.stderr[-3000:]
    return Scan(xccdf, arf)


def offline_root(base: Path, release: str) -> Path:
    """A file tree that passes the content's platform check, with a world-readable
    System.map (so that rule fails)."""
    root = base / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "debian_version").write_text(f"{release}.7\n", encoding="utf-8")
    (root / "etc" / "os-release").write_text(
        f'PRETTY_NAME="Debian GNU/Linux {release}"\nNAME="Debian GNU/Linux"\n'
        f'VERSION_ID="{release}"\nID=debian\n',
        encoding="utf-8",
    )
    (root / "boot").mkdir()
    systemmap = root / "boot" / "System.map-6.1.0-test"
    systemmap.write_text("ffffffff81000000 T _text\n", encoding="utf-8")
    systemmap.chmod(0o644)
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "var" / "lib" / "dpkg" / "status").write_text("", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def live_scan(content: Content, tmp_path_factory: pytest.TempPathFactory) -> Scan:
    return evaluate(content, tmp_path_factory.mktemp("oscap-live"))


@pytest.fixture(scope="module")
def offline_scan(content: Content, tmp_path_factory: pytest.TempPathFactory) -> Scan:
    base = tmp_path_factory.mktemp("oscap-offline")
    return evaluate(content, base / "out", offline_root(base, content.release))


def rule_results(path: Path) -> list[RuleResult]:
    """Every rule-result of the file, read with a regular expression (not the importer)."""
    out = []
    for attrs, result in RULE_RESULT_RE.findall(path.read_text("utf-8")):
        idref = re.search(r'\bidref="([^"]+)"', attrs)
        severity = re.search(r'\bseverity="([^"]+)"', attrs)
        assert idref is not None
        out.append(RuleResult(idref.group(1), result, severity.group(1) if severity else "unknown"))
    return out


def imported(path: Path) -> tuple[list[FindingInput], list[str], XccdfSummary]:
    importer = XccdfImporter()
    findings, _, coverage = split(list(importer.parse(path)))
    (summary,) = importer.summaries
    return findings, coverage.hosts, summary


def check_against_file(path: Path) -> list[FindingInput]:
    """The importer's findings and counts equal what the file says, rule by rule."""
    expected = rule_results(path)
    assert expected, f"no rule-result in {path}"
    findings, _, summary = imported(path)
    assert summary.counts == dict(Counter(r.result for r in expected))
    wanted = [r for r in expected if r.result in FINDING_RESULTS]
    assert [(f.check_id, f.extra["result"]) for f in findings] == [
        (r.idref, r.result) for r in wanted
    ]
    for finding, rule in zip(findings, wanted, strict=True):
        if rule.result == "fail":
            assert finding.severity is SEVERITIES[rule.severity], rule
        else:
            assert (finding.severity, finding.confidence) == (Severity.INFO, "low")
        assert finding.evidence is not None
        assert finding.evidence.startswith(f"检查结果：{rule.result}（")
    return findings


# --------------------------------------------------------------------------- files
def test_offline_scan_import_matches_the_file(offline_scan: Scan) -> None:
    fails = [r.idref for r in rule_results(offline_scan.xccdf) if r.result == "fail"]
    assert fails, "the offline tree lacks most of a hardened system: rules must fail"
    for path in (offline_scan.xccdf, offline_scan.arf):
        findings = check_against_file(path)
        _, covered, summary = imported(path)
        assert {f.host for f in findings} == {OFFLINE_TARGET}
        assert covered == [OFFLINE_TARGET] and summary.host == OFFLINE_TARGET
        # The benchmark is embedded in both files: every finding has the rule's own texts.
        assert all(f.title != f.check_id and f.description for f in findings)


def test_xccdf_and_arf_give_the_same_findings(offline_scan: Scan) -> None:
    def shape(path: Path) -> list[tuple[Any, ...]]:
        return [
            (f.check_id, f.title, f.severity, f.description, f.remediation, f.references)
            for f in imported(path)[0]
        ]

    assert shape(offline_scan.xccdf) == shape(offline_scan.arf)


def test_live_scan_import_matches_the_file(live_scan: Scan) -> None:
    text = live_scan.xccdf.read_text("utf-8")
    addresses = [ipaddress.ip_address(a) for a in re.findall(r"<target-address>([^<]+)<", text)]
    routable = sorted(
        (a for a in addresses if not (a.is_loopback or a.is_link_local or a.is_unspecified)),
        key=lambda a: a.version,
    )
    target = re.search(r"<target>([^<]+)</target>", text)
    expected_host = str(routable[0]) if routable else (target.group(1) if target else None)
    for path in (live_scan.xccdf, live_scan.arf):
        findings = check_against_file(path)
        _, covered, summary = imported(path)
        assert summary.host == expected_host
        assert all(f.host == expected_host for f in findings)
        assert expected_host in covered


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def project(cli: CliRunner) -> CliRunner:
    cli.ok("client", "add", "某区大数据局", "--code", "dsj")
    cli.ok("engagement", "create", "基线核查", "--client", "dsj", "--scope", "192.0.2.0/24")
    return cli


def test_reimport_after_fixing_closes_the_finding(
    project: CliRunner, content: Content, tmp_path: Path
) -> None:
    root = offline_root(tmp_path, content.release)
    before = evaluate(content, tmp_path / "before", root)
    failing = [r for r in rule_results(before.arf) if r.result in FINDING_RESULTS]
    if SYSTEMMAP not in {r.idref for r in failing}:
        pytest.skip(f"profile {content.profile} does not check {SYSTEMMAP}")
    first: Any = project.json(
        "findings", "import", str(before.arf), "--engagement", "基线核查", "--format", "xccdf"
    )
    assert (first["format"], first["created"], first["closed"]) == ("xccdf", len(failing), 0)
    assert first["work_orders_created"] == len(failing)
    listed: Any = project.json("findings", "list", "--limit", "1000")
    assert sorted(f["check_id"] for f in listed["findings"]) == sorted(r.idref for r in failing)
    assert {f["host"] for f in listed["findings"]} == {OFFLINE_TARGET}
    assert {f["source_tool"] for f in listed["findings"]} == {"openscap"}

    for systemmap in (root / "boot").glob("System.map-*"):
        systemmap.chmod(0o600)
    after = evaluate(content, tmp_path / "after", root)
    passing = {r.idref: r.result for r in rule_results(after.xccdf)}
    assert passing[SYSTEMMAP] == "pass"
    # The plain XCCDF file of the second scan closes what the ARF of the first opened.
    second: Any = project.json("findings", "import", str(after.xccdf), "--engagement", "基线核查")
    assert (second["format"], second["created"], second["closed"]) == ("xccdf", 0, 1)
    assert second["duplicates"] == len(failing) - 1
    fixed: Any = project.json("findings", "list", "--status", "已修复")
    assert [(f["check_id"], f["status"]) for f in fixed["findings"]] == [(SYSTEMMAP, "fixed")]
    orders: Any = project.json("workorder", "list", "--limit", "1000")
    assert len(orders["work_orders"]) == len(failing)
