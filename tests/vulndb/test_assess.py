"""Ledger services matched against an imported real-schema NVD feed, recorded as findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from shaobing.core.db import make_engine, session_scope
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.findings.importers.base import FindingInput, HostInput, ServiceInput
from shaobing.findings.ingest import ingest
from shaobing.findings.models import Finding
from shaobing.findings.severity import Severity
from shaobing.vulndb.assess import (
    SOURCE_TOOL,
    AssessmentSummary,
    LedgerService,
    ServiceMatcher,
    assess_engagement,
    ledger_services,
    match_services,
    service_facts,
    with_vendor_aliases,
)
from shaobing.vulndb.cpe import parse_cpe
from shaobing.vulndb.match import assess
from shaobing.vulndb.models import Cve
from shaobing.vulndb.query import criteria_for_cves
from shaobing.vulndb.service import import_paths
from tests.conftest import CliRunner
from tests.findings.helpers import make_engagement
from tests.vulndb import feeds

OPENSSH = "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*"
# CVE ids of the test feed (shapes of real advisories; the data is written for these tests).
SSH_RANGE = "CVE-2023-38408"  # OpenSSH < 9.3p2, CVSS 9.8
SSH_KEV = "CVE-2024-6387"  # OpenSSH [8.5p1, 9.8p1), CVSS 5.9 but in KEV with a high EPSS
SSH_OLD = "CVE-2016-0777"  # OpenSSH [5.4, 7.1p2): not 9.2p1
SSH_ON_WINDOWS = "CVE-2024-90001"  # OpenSSH < 9.6 AND running on Windows (platform node)
SSH_REJECTED = "CVE-2024-90002"  # rejected: never matched
NGINX_IN = "CVE-2022-41741"  # f5:nginx [1.1.3, 1.23.2)
NGINX_OLD = "CVE-2021-23017"  # nginx:nginx [0.6.18, 1.20.1)
NGINX_EDGE = "CVE-2024-90003"  # f5:nginx < 1.22.1 (excluding): not 1.22.1
NGINX_LEGACY = "CVE-2024-90004"  # nginx:nginx (the older vendor) [1.22.0, 1.22.2)
MYSQL_IN = "CVE-2024-20961"  # oracle:mysql [5.7.0, 5.7.44] (including)
MYSQL_OUT = "CVE-2024-90005"  # oracle:mysql [5.7.0, 5.7.44) (excluding)
MARIADB_IN = "CVE-2024-90006"  # mariadb [10.11.0, 10.11.20)
MARIADB_OUT = "CVE-2024-90007"  # mariadb [10.11.0, 10.11.19)


def _config(*matches: dict[str, Any], operator: str = "OR") -> list[dict[str, Any]]:
    return [{"operator": operator, "nodes": [{"operator": "OR", "cpeMatch": list(matches)}]}]


def _cpe(vendor: str, product: str, **bounds: str) -> dict[str, Any]:
    return feeds.cpe_match(
        f"cpe:2.3:a:{vendor}:{product}:*:*:*:*:*:*:*:*", vulnerable=True, **bounds
    )


def _nvd_items() -> list[dict[str, Any]]:
    on_windows = [
        {
            "operator": "AND",
            "nodes": [
                {
                    "operator": "OR",
                    "cpeMatch": [_cpe("openbsd", "openssh", versionEndExcluding="9.6")],
                },
                {
                    "operator": "OR",
                    "cpeMatch": [
                        feeds.cpe_match(
                            "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*", vulnerable=False
                        )
                    ],
                },
            ],
        }
    ]
    return [
        feeds.nvd_cve(
            SSH_RANGE,
            text="ssh-agent remote code execution.",
            configurations=_config(_cpe("openbsd", "openssh", versionEndExcluding="9.3p2")),
        ),
        feeds.nvd_cve(
            SSH_KEV,
            score=5.9,
            severity="MEDIUM",
            configurations=_config(
                _cpe(
                    "openbsd",
                    "openssh",
                    versionStartIncluding="8.5p1",
                    versionEndExcluding="9.8p1",
                )
            ),
        ),
        feeds.nvd_cve(
            SSH_OLD,
            configurations=_config(
                _cpe("openbsd", "openssh", versionStartIncluding="5.4", versionEndExcluding="7.1p2")
            ),
        ),
        feeds.nvd_cve(SSH_ON_WINDOWS, score=7.5, severity="HIGH", configurations=on_windows),
        feeds.nvd_cve(
            SSH_REJECTED,
            status="Rejected",
            configurations=_config(_cpe("openbsd", "openssh", versionEndExcluding="99")),
        ),
        feeds.nvd_cve(
            NGINX_IN,
            score=7.8,
            severity="HIGH",
            configurations=_config(
                _cpe("f5", "nginx", versionStartIncluding="1.1.3", versionEndExcluding="1.23.2")
            ),
        ),
        feeds.nvd_cve(
            NGINX_OLD,
            configurations=_config(
                _cpe("nginx", "nginx", versionStartIncluding="0.6.18", versionEndExcluding="1.20.1")
            ),
        ),
        feeds.nvd_cve(
            NGINX_EDGE, configurations=_config(_cpe("f5", "nginx", versionEndExcluding="1.22.1"))
        ),
        feeds.nvd_cve(
            NGINX_LEGACY,
            score=5.3,
            severity="MEDIUM",
            configurations=_config(
                _cpe("nginx", "nginx", versionStartIncluding="1.22.0", versionEndExcluding="1.22.2")
            ),
        ),
        feeds.nvd_cve(
            MYSQL_IN,
            score=4.9,
            severity="MEDIUM",
            configurations=_config(
                _cpe("oracle", "mysql", versionStartIncluding="5.7.0", versionEndIncluding="5.7.44")
            ),
        ),
        feeds.nvd_cve(
            MYSQL_OUT,
            configurations=_config(
                _cpe("oracle", "mysql", versionStartIncluding="5.7.0", versionEndExcluding="5.7.44")
            ),
        ),
        feeds.nvd_cve(
            MARIADB_IN,
            score=6.5,
            severity="MEDIUM",
            configurations=_config(
                _cpe(
                    "mariadb",
                    "mariadb",
                    versionStartIncluding="10.11.0",
                    versionEndExcluding="10.11.20",
                )
            ),
        ),
        feeds.nvd_cve(
            MARIADB_OUT,
            configurations=_config(
                _cpe(
                    "mariadb",
                    "mariadb",
                    versionStartIncluding="10.11.0",
                    versionEndExcluding="10.11.19",
                )
            ),
        ),
    ]


def _import_feed(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    folder.mkdir()
    feeds.write_json(folder / "nvdcve-2.0-2024.json", feeds.nvd_document(_nvd_items()))
    feeds.write_json(
        folder / "kev.json",
        feeds.kev_document(
            [
                (SSH_KEV, "2024-07-01", "2024-07-22", "Known"),
                (NGINX_LEGACY, "2024-07-01", "2024-07-22", "Unknown"),
            ]
        ),
    )
    (folder / "epss_scores-2024-08-01.csv").write_text(
        "#model_version:v2023.03.01,score_date:2024-08-01T00:00:00+0000\n"
        "cve,epss,percentile\n"
        f"{SSH_KEV},0.91000,0.99500\n{SSH_RANGE},0.50000,0.98000\n"
        f"{MARIADB_IN},0.20000,0.96000\n{NGINX_IN},0.00200,0.50000\n"
    )
    (folder / "map.csv").write_text(
        f"cve,cnvd,cnnvd\n{SSH_RANGE},CNVD-2023-56789,CNNVD-202307-1681\n"
    )
    import_paths(engine, [folder])


def _ssh(version: str, cpe_version: str, banner: str | None = None) -> ServiceInput:
    return ServiceInput(
        port=22,
        service="ssh",
        product="OpenSSH",
        version=version,
        cpe=[f"cpe:2.3:a:openbsd:openssh:{cpe_version}:*:*:*:*:*:*:*"],
        banner=banner,
    )


def _ledger() -> list[HostInput]:
    return [
        HostInput(address="127.0.0.1", os="Linux", services=[_ssh("9.2p1", "9.2p1")]),
        HostInput(
            address="127.0.0.2",
            os="Linux",
            services=[
                # Nmap's spelling: distribution words after the version.
                _ssh("9.2p1 Debian 2+deb12u3", "9.2p1", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"),
                # Nmap's CPE vendor for nginx, which NVD never uses.
                ServiceInput(
                    port=80,
                    service="http",
                    product="nginx",
                    version="1.22.1",
                    cpe=["cpe:2.3:a:igor_sysoev:nginx:1.22.1:*:*:*:*:*:*:*"],
                ),
            ],
        ),
        HostInput(
            address="127.0.0.3",
            services=[
                # No CPE: found through the product alias table.
                ServiceInput(port=3306, service="mysql", product="MySQL", version="5.7.44-log"),
                ServiceInput(
                    port=3307,
                    service="mysql",
                    product="MariaDB",
                    version="10.11.19-MariaDB-0+deb12u1",
                    cpe=["cpe:2.3:a:mariadb:mariadb:10.11.19:*:*:*:*:*:*:*"],
                ),
                ServiceInput(port=8080, service="http"),  # nothing identified: skipped
                ServiceInput(port=6379, state="closed", service="redis", product="Redis"),
            ],
        ),
    ]


EXPECTED = {
    ("127.0.0.1", 22, SSH_RANGE),
    ("127.0.0.1", 22, SSH_KEV),
    ("127.0.0.1", 22, SSH_ON_WINDOWS),
    ("127.0.0.2", 22, SSH_RANGE),
    ("127.0.0.2", 22, SSH_KEV),
    ("127.0.0.2", 22, SSH_ON_WINDOWS),
    ("127.0.0.2", 80, NGINX_IN),
    ("127.0.0.2", 80, NGINX_LEGACY),
    ("127.0.0.3", 3306, MYSQL_IN),
    ("127.0.0.3", 3307, MARIADB_IN),
}


def _setup(engine: Engine, tmp_path: Path, hosts: list[HostInput] | None = None) -> Engagement:
    _import_feed(engine, tmp_path)
    with session_scope(engine) as session:
        engagement = make_engagement(session)
        ingest(session, engagement, hosts or _ledger(), format_name="nmap")
        session.expunge(engagement)
    return engagement


def _run(engine: Engine, engagement: Engagement) -> AssessmentSummary:
    with session_scope(engine) as session:
        target = session.get(Engagement, engagement.id)
        assert target is not None
        return assess_engagement(session, target, actor="tester")


def _findings(engine: Engine) -> dict[tuple[str, int, str], Finding]:
    with session_scope(engine, readonly=True) as session:
        rows = session.scalars(select(Finding).where(Finding.source_tool == SOURCE_TOOL)).all()
        for row in rows:
            session.expunge(row)
    return {(f.host or "", f.port or 0, f.check_id): f for f in rows}


def test_matches_real_version_strings_and_records_findings(engine: Engine, tmp_path: Path) -> None:
    engagement = _setup(engine, tmp_path)
    result = _run(engine, engagement)
    found = {(m["host"], m["port"], m["cve"]) for m in result.matches}
    assert found == EXPECTED
    assert (result.services, result.hosts, result.matched) == (5, 3, len(EXPECTED))
    assert (result.ingest.created, result.ingest.closed) == (len(EXPECTED), 0)
    # KEV first (whatever the CVSS), then EPSS ≥ 0.1, then CVSS; ties by CVE, then service.
    assert [(m["cve"], m["host"]) for m in result.matches] == [
        (SSH_KEV, "127.0.0.1"),
        (SSH_KEV, "127.0.0.2"),
        (NGINX_LEGACY, "127.0.0.2"),  # KEV without EPSS, CVSS 5.3
        (SSH_RANGE, "127.0.0.1"),  # EPSS 0.5, CVSS 9.8
        (SSH_RANGE, "127.0.0.2"),
        (MARIADB_IN, "127.0.0.3"),  # EPSS 0.2, CVSS 6.5
        (NGINX_IN, "127.0.0.2"),  # EPSS 0.002, CVSS 7.8
        (SSH_ON_WINDOWS, "127.0.0.1"),  # no EPSS, CVSS 7.5
        (SSH_ON_WINDOWS, "127.0.0.2"),
        (MYSQL_IN, "127.0.0.3"),
    ]

    rows = {(m["host"], m["port"], m["cve"]): m for m in result.matches}
    plain, debian = rows["127.0.0.1", 22, SSH_RANGE], rows["127.0.0.2", 22, SSH_RANGE]
    assert plain["status"] == debian["status"] == "potential"
    assert t("vulndb_match.version_range", version="9.2p1", range="(-∞, 9.3p2)") in plain["reasons"]
    backport = t("vulndb_match.backport", tag="deb12u3", distro="Debian")
    assert backport not in plain["reasons"] and backport in debian["reasons"]
    assert debian["confidence"] < plain["confidence"]
    assert (
        t("vulndb_match.platform_unconfirmed") in rows["127.0.0.1", 22, SSH_ON_WINDOWS]["reasons"]
    )
    mysql = rows["127.0.0.3", 3306, MYSQL_IN]
    assert (
        t("vulndb_match.version_range", version="5.7.44", range="[5.7.0, 5.7.44]")
        in (mysql["reasons"])
    )
    assert any("MySQL" in r and "oracle:mysql" in r for r in mysql["reasons"])  # alias only
    mariadb = rows["127.0.0.3", 3307, MARIADB_IN]
    assert t("vulndb_match.backport", tag="deb12u1", distro="Debian") in mariadb["reasons"]

    findings = _findings(engine)
    assert set(findings) == EXPECTED
    ssh = findings["127.0.0.1", 22, SSH_RANGE]
    assert ssh.title == t(
        "vulndb_findings.title",
        cve=SSH_RANGE,
        product="OpenSSH",
        version="9.2p1",
        status=t("vulndb_findings.status.potential"),
    )
    assert "潜在" in ssh.title
    assert (ssh.severity, ssh.confidence, ssh.cve_ids) == ("critical", "potential", [SSH_RANGE])
    assert (ssh.cnvd_ids, ssh.cnnvd_ids) == (["CNVD-2023-56789"], ["CNNVD-202307-1681"])
    assert ssh.cvss_v3_score == 9.8 and ssh.cwe_ids == [787]
    assert ssh.references[0] == f"https://nvd.nist.gov/vuln/detail/{SSH_RANGE}"
    assert "ssh-agent remote code execution." in (ssh.description or "")
    assert "9.3p2" in (ssh.remediation or "") and "升级" in (ssh.remediation or "")
    assert ssh.evidence is not None and OPENSSH in ssh.evidence and "(-∞, 9.3p2)" in ssh.evidence
    assert ssh.extra["kev"] is False and ssh.extra["epss"] == 0.5
    assert ssh.extra["confidence"] == plain["confidence"]
    kev = findings["127.0.0.1", 22, SSH_KEV]
    # CVSS 5.9 is 中; KEV raises it to 高 (organisation-defined).
    assert kev.severity == Severity.HIGH.value and kev.extra["kev"] is True
    assert kev.evidence is not None and "2024-07-22" in kev.evidence and "勒索" in kev.evidence
    assert findings["127.0.0.2", 80, NGINX_LEGACY].severity == Severity.HIGH.value
    assert findings["127.0.0.2", 80, NGINX_IN].severity == Severity.HIGH.value
    assert findings["127.0.0.3", 3306, MYSQL_IN].severity == Severity.MEDIUM.value
    debian_ssh = findings["127.0.0.2", 22, SSH_RANGE]
    assert "9.2p1 Debian 2+deb12u3" in debian_ssh.title
    assert "Debian" in (debian_ssh.remediation or "")


def _proof(host: str, port: int | None, cve: str, check: str) -> FindingInput:
    return FindingInput(
        source_tool="shaobing-template",
        check_id=check,
        title=f"{cve} proved by {check}",
        severity=Severity.HIGH,
        host=host,
        port=port,
        cve_ids=[cve],
    )


def test_template_findings_confirm_matches_on_the_same_service(
    engine: Engine, tmp_path: Path
) -> None:
    engagement = _setup(engine, tmp_path)
    with session_scope(engine) as session:
        target = session.get(Engagement, engagement.id)
        assert target is not None
        proofs = [
            _proof("127.0.0.1", 22, SSH_RANGE.lower(), "CVE-2023-38408-check"),
            _proof("127.0.0.3", None, MYSQL_IN, "mysql-host-check"),  # host-level proof
            _proof("127.0.0.2", 80, SSH_KEV, "wrong-port"),  # another service: proves nothing
            _proof("127.0.0.2", 22, SSH_RANGE, "fixed-since"),  # closed below: proves nothing
        ]
        ingest(session, target, proofs, format_name="test", source_tool="shaobing-template")
    with session_scope(engine) as session:
        closed = session.scalars(select(Finding).where(Finding.check_id == "fixed-since")).one()
        closed.is_open = False
    result = _run(engine, engagement)
    rows = {(m["host"], m["port"], m["cve"]): m for m in result.matches}
    confirmed = {key for key, row in rows.items() if row["status"] == "confirmed"}
    assert confirmed == {("127.0.0.1", 22, SSH_RANGE), ("127.0.0.3", 3306, MYSQL_IN)}
    ssh = rows["127.0.0.1", 22, SSH_RANGE]
    assert ssh["confidence"] == 100
    by = "shaobing-template:CVE-2023-38408-check"
    assert ssh["reasons"][0] == t("vulndb_match.confirmed", check=by)
    findings = _findings(engine)
    proved = findings["127.0.0.1", 22, SSH_RANGE]
    assert proved.confidence == "confirmed" and "已确认" in proved.title
    assert findings["127.0.0.2", 22, SSH_KEV].confidence == "potential"
    assert findings["127.0.0.2", 22, SSH_RANGE].confidence == "potential"


def test_rerun_is_idempotent_and_upgrade_closes(engine: Engine, tmp_path: Path) -> None:
    engagement = _setup(engine, tmp_path)
    _run(engine, engagement)
    again = _run(engine, engagement)
    ingested = again.ingest
    assert (ingested.created, ingested.updated, ingested.closed, ingested.reopened) == (0, 0, 0, 0)
    assert ingested.duplicates == len(EXPECTED)
    # 127.0.0.1 upgrades OpenSSH past every range; 127.0.0.3's MySQL stops listening.
    with session_scope(engine) as session:
        target = session.get(Engagement, engagement.id)
        assert target is not None
        ingest(
            session,
            target,
            [
                HostInput(address="127.0.0.1", services=[_ssh("9.9p1", "9.9p1")]),
                HostInput(address="127.0.0.3", services=[ServiceInput(port=3306, state="closed")]),
            ],
            format_name="nmap",
            source_tool="nmap-upgrade",
        )
    after = _run(engine, engagement)
    assert after.ingest.closed == 4 and after.ingest.created == 0
    assert {(m["host"], m["port"]) for m in after.matches} == {
        ("127.0.0.2", 22),
        ("127.0.0.2", 80),
        ("127.0.0.3", 3307),
    }
    findings = _findings(engine)
    closed = {key for key, f in findings.items() if not f.is_open}
    assert closed == {
        ("127.0.0.1", 22, SSH_RANGE),
        ("127.0.0.1", 22, SSH_KEV),
        ("127.0.0.1", 22, SSH_ON_WINDOWS),
        ("127.0.0.3", 3306, MYSQL_IN),
    }
    assert {f.status for key, f in findings.items() if key in closed} == {"fixed"}


def test_match_services_caches_and_limits(engine: Engine, tmp_path: Path) -> None:
    _import_feed(engine, tmp_path)
    plain = service_facts("OpenSSH", "9.2p1", [OPENSSH.replace(":*:*:*:*:*:*:*:*", ":9.2p1")])
    unknown = service_facts("Unheard-of Server", "1.0")
    with session_scope(engine, readonly=True) as session:
        matches = match_services(session, [plain, unknown, plain])
        assert {(m.service_index, m.cve_id) for m in matches} == {
            (i, cve) for i in (0, 2) for cve in (SSH_RANGE, SSH_KEV, SSH_ON_WINDOWS)
        }
        assert [m.cve_id for m in matches[:2]] == [SSH_KEV, SSH_KEV]
        assert matches[0].kev and matches[0].epss == 0.91
        assert matches[0].criteria[0].version_end_excluding == "9.8p1"
        one = match_services(session, [plain], limit_per_service=1)
        assert [m.cve_id for m in one] == [SSH_KEV]
        # A version outside every range, and one with no version at all, match nothing.
        assert match_services(session, [service_facts("OpenSSH", "9.9p1")]) == []
        assert match_services(session, [service_facts("OpenSSH", None)]) == []


def test_prefilter_and_caches_agree_with_plain_assess(engine: Engine, tmp_path: Path) -> None:
    _import_feed(engine, tmp_path)
    # A CVE whose second configuration lists a distribution as vulnerable (NVD does that):
    # the OS hint of a Debian host matches it, but only an OpenSSH inside the range is the
    # vulnerable software; nginx on the same Debian host is not.
    debian = [
        *_config(_cpe("openbsd", "openssh", versionEndExcluding="9.0")),
        *_config(
            feeds.cpe_match("cpe:2.3:o:debian:debian_linux:*:*:*:*:*:*:*:*"),
        ),
    ]
    extra = tmp_path / "extra.json"
    feeds.write_json(
        extra, feeds.nvd_document([feeds.nvd_cve("CVE-2024-90008", configurations=debian)])
    )
    import_paths(engine, [extra])
    ssh = "cpe:2.3:a:openbsd:openssh:{}:*:*:*:*:*:*:*"
    services = [
        service_facts("OpenSSH", version, [ssh.format(cpe)] if cpe else [], os=os, banner=banner)
        for version, cpe in (("9.2p1", "9.2p1"), ("8.9p1", None), ("9.9p1", "9.9p1"), ("", "9.2p1"))
        for os in (None, "Linux", "Debian 12")
        for banner in (None, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
    ]
    services += [
        service_facts("nginx", "1.22.1", ["cpe:2.3:a:igor_sysoev:nginx:1.22.1:*:*:*:*:*:*:*"]),
        service_facts("nginx", "1.22.1", os="Debian 12"),
        service_facts("MySQL", "5.7.44-log"),
        service_facts("MariaDB", "10.11.19-MariaDB-0+deb12u1"),
    ]
    with session_scope(engine, readonly=True) as session:
        ids = list(session.scalars(select(Cve.id).where(Cve.rejected.is_(False))))
        matcher = ServiceMatcher(session, limit_per_service=None)
        everything = {
            cve: matcher._configurations(rows)
            for cve, rows in criteria_for_cves(session, ids).items()
        }
        expected: set[tuple[int, str]] = set()
        for index, facts in enumerate(services):
            for cve, configs in everything.items():
                # Reference: some configuration matches with an application criterion.
                verdicts = [assess(with_vendor_aliases(facts), (c,)) for c in configs]
                if any(
                    v is not None and any(parse_cpe(c).part == "a" for c in v.matched_criteria)
                    for v in verdicts
                ):
                    expected.add((index, cve))
        got = {(m.service_index, m.cve_id) for m in matcher.match(services)}
        # Again with warm caches, in a different order.
        again = {(m.service_index, m.cve_id) for m in matcher.match(services[::-1])}
    assert got == expected
    assert again == {(len(services) - 1 - i, cve) for i, cve in expected}
    assert {i for i, cve in expected if cve == "CVE-2024-90008"} == set(range(6, 12))  # 8.9p1
    on_debian = services[25]  # nginx: assess() alone matches the OS-only configuration
    assert on_debian.os == "Debian 12"
    assert assess(with_vendor_aliases(on_debian), everything["CVE-2024-90008"]) is not None
    assert len({cve for _, cve in expected}) >= 8


def test_ledger_services_and_facts(engine: Engine, tmp_path: Path) -> None:
    facts = service_facts(
        "OpenSSH", "9.2p1 Debian 2+deb12u3", banner="SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
    )
    assert (facts.version, facts.distro) == ("9.2p1", "Debian deb12u3")
    assert service_facts("Apache httpd", "2.4.57", banner="Apache/2.4.57 (Debian)").distro is None
    marker = service_facts("OpenSSH", "8.0", banner="SSH-2.0-OpenSSH_8.0 el8_6")
    assert marker.distro == "Red Hat Enterprise Linux el8_6"
    cpe_only = service_facts(None, None, [OPENSSH.replace(":*:*:*:*:*:*:*:*", ":9.2p1")])
    shown = LedgerService(1, "127.0.0.9", 22, "tcp", "ssh", None, None, cpe_only)
    assert (shown.display_product, shown.display_version) == ("openssh", "9.2p1")
    engagement = _setup(engine, tmp_path)
    with session_scope(engine, readonly=True) as session:
        services, covered = ledger_services(session, engagement.client_id)
    assert covered == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
    assert sorted((s.host, s.port) for s in services) == [
        ("127.0.0.1", 22),
        ("127.0.0.2", 22),
        ("127.0.0.2", 80),
        ("127.0.0.3", 3306),
        ("127.0.0.3", 3307),
    ]


def test_empty_database_is_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        engagement = make_engagement(session)
        ingest(session, engagement, _ledger(), format_name="nmap")
    with session_scope(engine) as session:
        target = session.get(Engagement, engagement.id)
        assert target is not None
        with pytest.raises(ValidationError) as caught:
            assess_engagement(session, target, actor="tester")
    assert str(caught.value) == t("vulndb_findings.empty_database")


@pytest.fixture
def _registered() -> None:
    """Register ``vulndb match`` until cli/main.py does it itself."""
    from shaobing.cli import vulndb, vulndb_match
    from shaobing.cli.main import app

    if not any(group.name == "vulndb" for group in app.registered_groups):
        app.add_typer(vulndb.app, name="vulndb")
    if not any(command.name == "match" for command in vulndb.app.registered_commands):
        vulndb_match.register(vulndb.app)


@pytest.mark.usefixtures("_registered")
def test_cli_match(
    cli: CliRunner, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shaobing.cli.output import console

    monkeypatch.setattr(console, "width", 200)  # a table row per line, whatever the terminal
    engine = make_engine(db_url)
    try:
        engagement = _setup(engine, tmp_path)
    finally:
        engine.dispose()
    data = cli.json("vulndb", "match", "-e", engagement.name)
    assert isinstance(data, dict)
    assert (data["matched"], data["created"], data["updated"], data["closed"]) == (
        len(EXPECTED),
        len(EXPECTED),
        0,
        0,
    )
    assert data["matches"][0]["cve"] == SSH_KEV and data["matches"][0]["kev"] is True
    table = cli.ok("vulndb", "match", "--engagement", engagement.name).out
    assert SSH_RANGE in table and "127.0.0.1:22" in table and "潜在" in table
    assert "OpenSSH 9.2p1" in table and "0.9100" in table
    assert "重复 10" in table
    listed = cli.json("findings", "list", "--engagement", engagement.name, "--source", SOURCE_TOOL)
    assert isinstance(listed, dict) and listed["total"] == len(EXPECTED)
    missing = cli("vulndb", "match", "-e", "没有这个项目")
    assert missing.code == 1 and "没有这个项目" in missing.err
