"""Greenbone / OpenVAS importer: XML reports (both roots) and the CSV results export."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    HostInput,
    ImportFormatError,
)
from shaobing.findings.importers.gvm import GvmImporter
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir
from tests.findings.importers.common import split


def run(path: Path) -> tuple[list[FindingInput], list[HostInput], CoverageInput]:
    return split(list(GvmImporter().parse(path)))


RESULTS = """<results start="1" max="-1">
<result id="r1">
  <name>OpenSSH Multiple Vulnerabilities</name>
  <host>192.0.2.20<asset asset_id="a1"/><hostname>db.example.test</hostname></host>
  <port>22/tcp</port>
  <nvt oid="1.3.6.1.4.1.25623.1.0.900001">
    <type>nvt</type><name>OpenSSH &lt; 9.3p2 Multiple Vulnerabilities</name>
    <family>General</family>
    <severities score="9.8">
      <severity type="cvss_base_v3"><score>9.8</score>
        <value>CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H</value></severity>
    </severities>
    <tags>summary=OpenSSH is prone to multiple vulnerabilities.|insight=A flaw in
      ssh-agent | and more.|affected=OpenSSH before 9.3p2.|impact=Remote code execution.
      |vuldetect=Checks the banner.|solution_type=VendorFix|qod_type=remote_banner</tags>
    <solution type="VendorFix">Update to version 9.3p2 or later.</solution>
    <refs>
      <ref type="cve" id="cve-2023-38408"/><ref type="cve" id="CVE-2023-38408"/>
      <ref type="url" id="https://www.openssh.com/txt/release-9.3p2"/>
      <ref type="cert-bund" id="WID-SEC-2023-1874"/><ref type="cwe" id="CWE-428"/>
      <ref type="cnvd" id="CNVD-2023-12345"/>
    </refs>
  </nvt>
  <threat>High</threat><severity>9.8</severity>
  <qod><value>80</value><type>remote_banner</type></qod>
  <description>Installed version: 8.9p1
Fixed version:     9.3p2</description>
  <overrides><override id="o1"><result id="r1"/></override></overrides>
  <delta>changed<result id="old"><name>old copy</name><severity>5.0</severity></result></delta>
</result>
<result id="r2">
  <name>OS Detection Consolidation and Reporting</name>
  <host>192.0.2.20</host><port>general/tcp</port>
  <nvt oid="1.3.6.1.4.1.25623.1.0.105937"><name>OS Detection Consolidation and Reporting</name>
    <tags>summary=Reports the best OS guess.</tags><refs/></nvt>
  <threat>Log</threat><severity>0.0</severity><qod><value>80</value></qod>
  <description>Best matching OS: Debian 12</description>
</result>
<result id="r3">
  <name>Weak cipher</name><host>192.0.2.21</host><port>443/tcp</port>
  <nvt oid="1.3.6.1.4.1.25623.1.0.900002"><name>Weak cipher</name>
    <cvss_base>5.0</cvss_base><cve>CVE-2016-2183, CVE-2016-6329</cve>
    <xref>URL:https://sweet32.info/, CERT-BUND:CB-K16/1828</xref>
    <tags>cvss_base_vector=AV:N/AC:L/Au:N/C:P/I:N/A:N|summary=Weak ciphers.</tags></nvt>
  <threat>False Positive</threat><severity>-1.0</severity>
  <original_threat>Medium</original_threat><original_severity>5.0</original_severity>
</result>
<result id="r4">
  <name>debug</name><host>192.0.2.21</host><port>general/tcp</port>
  <nvt oid="1.3.6.1.4.1.25623.1.0.1"><name>debug</name></nvt>
  <threat>Debug</threat><severity>-2.0</severity>
</result>
<result id="r5">
  <name>NVT timed out</name><host>192.0.2.21</host><port>general/tcp</port>
  <nvt oid="1.3.6.1.4.1.25623.1.0.2"><name>NVT timed out</name></nvt>
  <threat>Error</threat><severity>-3.0</severity>
</result>
</results>"""

HOSTS = """<host><ip>192.0.2.20</ip><start>2024-01-01T00:00:00Z</start>
  <detail><name>hostname</name><value>db.example.test</value></detail>
  <detail><name>best_os_txt</name><value>Debian GNU/Linux 12</value></detail>
  <detail><name>best_os_cpe</name><value>cpe:/o:debian:debian_linux:12</value></detail>
</host>
<host><ip>192.0.2.99</ip></host>"""


def wrapped() -> str:
    return f"""<get_reports_response status="200" status_text="OK">
<report id="x" format_id="a994b278-1f62-11e1-96ac-406186ea4fc5" extension="xml">
<name>2024-01-01</name>
<report id="x"><gmp><version>22.4</version></gmp><scan_run_status>Done</scan_run_status>
<ports><port>22/tcp<host>192.0.2.20</host><severity>9.8</severity></port></ports>
{RESULTS}
<detection><result id="d1"><details><detail><name>product</name></detail></details>
<host>127.0.0.1</host></result></detection>
{HOSTS}
<scan><task><slave><host>scanner.example.test</host></slave></task></scan>
</report></report></get_reports_response>"""


def plain() -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<report id="x" format_id="a994b278-1f62-11e1-96ac-406186ea4fc5" content_type="text/xml">
<report id="x"><scan_run_status>Done</scan_run_status>{RESULTS}{HOSTS}</report></report>"""


@pytest.fixture(params=["wrapped", "plain"])
def sample(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "report.xml"
    path.write_text(wrapped() if request.param == "wrapped" else plain(), encoding="utf-8")
    return path


def test_results_become_findings(sample: Path) -> None:
    findings, _, _ = run(sample)
    # Debug messages are dropped; delta/override/detection copies are not results.
    assert [f.check_id for f in findings] == [
        "1.3.6.1.4.1.25623.1.0.900001",
        "1.3.6.1.4.1.25623.1.0.105937",
        "1.3.6.1.4.1.25623.1.0.900002",
        "1.3.6.1.4.1.25623.1.0.2",
    ]
    ssh, log, weak, error = findings
    assert ssh.title == "OpenSSH < 9.3p2 Multiple Vulnerabilities"
    assert ssh.severity is Severity.CRITICAL and ssh.source_tool == "openvas"
    assert (ssh.host, ssh.port, ssh.protocol) == ("192.0.2.20", 22, "tcp")
    assert ssh.cvss_v3_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert ssh.cvss_v3_score == 9.8
    assert ssh.cve_ids == ["CVE-2023-38408"] and ssh.cwe_ids == [428]
    assert ssh.cnvd_ids == ["CNVD-2023-12345"]
    assert ssh.references == ["https://www.openssh.com/txt/release-9.3p2"]
    assert ssh.description == (
        "OpenSSH is prone to multiple vulnerabilities.\n\n"
        "A flaw in\nssh-agent | and more.\n\nRemote code execution."
    )
    assert ssh.remediation == "Update to version 9.3p2 or later."
    assert ssh.evidence == "Installed version: 8.9p1\nFixed version:     9.3p2"
    assert ssh.confidence == "80" and ssh.tool_unique_id is None
    assert ssh.extra["hostname"] == "db.example.test"
    assert ssh.extra["certs"] == ["WID-SEC-2023-1874"]
    assert log.severity is Severity.INFO and log.port is None and log.protocol is None
    assert log.extra["location"] == "general/tcp"
    # A false positive keeps the level it had before the override.
    assert weak.false_positive and weak.severity is Severity.MEDIUM
    assert weak.cve_ids == ["CVE-2016-2183", "CVE-2016-6329"]
    assert weak.references == ["https://sweet32.info/"]
    assert weak.cvss_v3_vector is None and weak.extra["cvss_v2_vector"] == (
        "AV:N/AC:L/Au:N/C:P/I:N/A:N"
    )
    assert error.severity is Severity.INFO


def test_hosts_and_coverage(sample: Path) -> None:
    _, hosts, coverage = run(sample)
    assert [(h.address, h.hostnames, h.os) for h in hosts] == [
        ("192.0.2.20", ["db.example.test"], "Debian GNU/Linux 12"),
        ("192.0.2.99", [], None),
        ("192.0.2.21", [], None),
    ]
    # Every host of the report, also one without results; never the scanner.
    assert sorted(coverage.hosts) == ["192.0.2.20", "192.0.2.21", "192.0.2.99"]


CSV_HEADER = (
    "IP,Hostname,Port,Port Protocol,CVSS,Severity,QoD,Solution Type,NVT Name,Summary,"
    "Specific Result,NVT OID,CVEs,Task ID,Task Name,Timestamp,Result ID,Impact,"
    "Solution,Affected Software/OS,Vulnerability Insight,"
    "Vulnerability Detection Method,Product Detection Result,BIDs,CERTs,"
    "Other References\n"
)


def test_csv_export(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text(
        CSV_HEADER + '203.0.113.5,web.example.test,443,tcp,7.5,High,98,VendorFix,"Apache < 2.4.58",'
        '"Apache is outdated.","Installed: 2.4.10",1.3.6.1.4.1.25623.1.0.9,'
        '"CVE-2023-45802,cve-2023-43622",t,task,2024-01-01T00:00:00Z,r1,"DoS",'
        '"Update.","Apache","Flaws.","Banner",,,CB-K23/1,"https://httpd.apache.org/ '
        'https://example.test/x"\n'
        + "203.0.113.5,,,,0.0,Log,80,,Traceroute,Route.,hop 1,1.3.6.1.4.1.25623.1.0.51662"
        ",,t,task,2024,r2,,,,,,,,,\n"
        + "203.0.113.6,,80,tcp,-1.0,False Positive,80,,Old,,,1.3.6.1.4.1.25623.1.0.7"
        ",,t,task,2024,r3,,,,,,,,,\n" + "\n",
        encoding="utf-8",
    )
    findings, hosts, coverage = run(path)
    assert [f.check_id for f in findings] == [
        "1.3.6.1.4.1.25623.1.0.9",
        "1.3.6.1.4.1.25623.1.0.51662",
        "1.3.6.1.4.1.25623.1.0.7",
    ]
    apache, trace, old = findings
    assert (apache.host, apache.port, apache.protocol) == ("203.0.113.5", 443, "tcp")
    assert apache.severity is Severity.HIGH and apache.confidence == "98"
    assert apache.cve_ids == ["CVE-2023-45802", "CVE-2023-43622"]
    assert apache.description == "Apache is outdated.\n\nFlaws.\n\nDoS"
    assert apache.remediation == "Update." and apache.evidence == "Installed: 2.4.10"
    assert apache.references == ["https://httpd.apache.org/", "https://example.test/x"]
    assert apache.extra["certs"] == ["CB-K23/1"]
    assert trace.severity is Severity.INFO and trace.port is None
    assert old.false_positive and old.severity is Severity.INFO
    assert [(h.address, h.hostnames) for h in hosts] == [
        ("203.0.113.5", ["web.example.test"]),
        ("203.0.113.6", []),
    ]
    assert coverage.hosts == ["203.0.113.5", "203.0.113.6"]


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("no_header.csv", "a,b,c\n1,2,3\n", "表头缺少列"),
        ("wrong_root.xml", "<report><foo/></report>", None),
        ("other.xml", "<nmaprun/>", "根元素是 <nmaprun>"),
        ("truncated.xml", plain()[:900], "提前结束"),
        ("quote.csv", CSV_HEADER + '192.0.2.1,"unterminated', "CSV 格式错误"),
        ("short.csv", CSV_HEADER + "192.0.2.1,,22,tcp,5.0\n", "CSV 第2行只有 5 列"),
    ],
)
def test_refused(tmp_path: Path, name: str, text: str, needle: str | None) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    if needle is None:
        # A bare <report> with no results is an empty report, not an error.
        records = list(GvmImporter().parse(path))
        assert isinstance(records[-1], CoverageInput)
        return
    with pytest.raises(ImportFormatError) as caught:
        list(GvmImporter().parse(path))
    assert needle in str(caught.value)


# --------------------------------------------------------------------------- corpus
def test_corpus_many_vuln() -> None:
    findings, hosts, coverage = run(corpus_dir("openvas") / "many_vuln.xml")
    assert len(findings) == 44
    assert Counter(f.severity for f in findings) == {
        Severity.CRITICAL: 8,
        Severity.HIGH: 11,
        Severity.MEDIUM: 25,
    }
    first = findings[0]
    assert (first.check_id, first.title) == (
        "1.3.6.1.4.1.25623.1.0.100111",
        "The rexec service is running",
    )
    assert (first.host, first.port, first.protocol) == ("192.168.1.1001", 512, "tcp")
    assert first.cve_ids == ["CVE-1999-0618"] and first.confidence == "80"
    assert first.remediation == "Disable the rexec service\nand use alternatives like SSH\ninstead."
    general = [f for f in findings if f.extra.get("location") == "general/tcp"]
    assert len(general) == 1 and general[0].port is None
    assert [(h.address, h.hostnames) for h in hosts] == [("192.168.1.1001", ["b6b9f466d63"])]
    assert coverage.hosts == ["192.168.1.1001"]


def test_corpus_no_vuln() -> None:
    assert run(corpus_dir("openvas") / "no_vuln.xml") == ([], [], CoverageInput())


def test_corpus_one_vuln_csv() -> None:
    findings, hosts, coverage = run(corpus_dir("openvas") / "one_vuln.csv")
    (finding,) = findings
    assert finding.check_id == "1.3.6.1.4.1.25623.1.0.105611"
    assert finding.title == "SSH Weak Encryption Algorithms Supported"
    assert (finding.host, finding.port, finding.protocol) == ("10.0.0.8", 22, "tcp")
    assert finding.severity is Severity.MEDIUM and finding.confidence is None
    assert finding.remediation == "Disable the weak encryption algorithms."
    assert [h.address for h in hosts] == ["10.0.0.8"] and coverage.hosts == ["10.0.0.8"]


def test_corpus_combine_v2_csv() -> None:
    findings, hosts, _ = run(corpus_dir("openvas") / "report_combine_v2.csv")
    assert [(f.check_id, f.severity, f.port, f.confidence) for f in findings] == [
        ("1.3.6.1.4.1.25623.1.0.80091", Severity.LOW, None, "80")
    ] * 2
    assert findings[0].evidence is not None and "Packet 1: 1912048204" in findings[0].evidence
    assert [h.address for h in hosts] == ["45.33.32.156"]


def test_corpus_cve_csv() -> None:
    findings, hosts, _ = run(corpus_dir("openvas") / "report_using_CVE.csv")
    assert len(findings) == 43
    assert Counter(f.severity for f in findings) == {
        Severity.CRITICAL: 8,
        Severity.HIGH: 13,
        Severity.MEDIUM: 22,
    }
    first = findings[0]
    assert (first.check_id, first.cve_ids) == ("CVE-2021-26690", ["CVE-2021-26690"])
    assert first.confidence == "75"
    assert all(f.cve_ids == [f.check_id] for f in findings)
    assert [h.address for h in hosts] == ["45.33.32.156"]


def test_corpus_files_all_counted() -> None:
    expected = {
        "many_vuln.xml": 44,
        "no_vuln.xml": 0,
        "one_vuln.csv": 1,
        "report_combine_v2.csv": 2,
        "report_using_CVE.csv": 43,
    }
    folder = corpus_dir("openvas")
    assert {p.name for p in folder.iterdir() if p.is_file()} == set(expected)
    for name, count in expected.items():
        assert len(run(folder / name)[0]) == count, name


def test_detected_for_its_files() -> None:
    for path in corpus_dir("openvas").iterdir():
        assert detect_importer(path).name == "openvas"


def test_not_sniffed_on_other_tools_files() -> None:
    corpus_dir("openvas")
    wrongly = [
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file()
        and p.parent.name != "openvas"
        and GvmImporter.sniff(p, p.read_bytes()[:SNIFF_BYTES])
    ]
    assert wrongly == []
