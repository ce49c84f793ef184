"""Nessus importer: .nessus XML, the Nessus CSV export and the Tenable VM CSV export."""

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
from shaobing.findings.importers.nessus import NessusImporter
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir
from tests.findings.importers.common import split


def run(path: Path) -> tuple[list[FindingInput], list[HostInput], CoverageInput]:
    return split(list(NessusImporter().parse(path)))


NESSUS = """<?xml version="1.0" ?>
<NessusClientData_v2>
<Policy><policyName>Basic</policyName><Preferences><ServerPreferences>
<preference><name>plugin_set</name><value>1;2;3</value></preference>
</ServerPreferences></Preferences></Policy>
<Report name="weekly" xmlns:cm="http://www.nessus.org/cm">
<ReportHost name="app.example.test"><HostProperties>
<tag name="host-ip">192.0.2.30</tag>
<tag name="host-fqdn">app.example.test</tag>
<tag name="host-rdns">rdns.example.test</tag>
<tag name="operating-system">Linux Kernel 5.4
Linux Kernel 4.19</tag>
<tag name="HOST_START">Mon Jan  1 00:00:00 2024</tag>
</HostProperties>
<ReportItem port="0" svc_name="general" protocol="tcp" severity="0" pluginID="19506"
  pluginName="Nessus Scan Information" pluginFamily="Settings">
<description>Scan information.</description><solution>n/a</solution>
<synopsis>Information about the Nessus scan.</synopsis><risk_factor>None</risk_factor>
<plugin_output>Nessus version : 10.6.0</plugin_output>
</ReportItem>
<ReportItem port="443" svc_name="https?" protocol="tcp" severity="0" pluginID="11219"
  pluginName="Nessus SYN scanner" pluginFamily="Port scanners"/>
<ReportItem port="443" svc_name="www" protocol="tcp" severity="4" pluginID="200162"
  pluginName="PHP 8.2.x &lt; 8.2.20 Multiple Vulnerabilities" pluginFamily="CGI abuses">
<cve>CVE-2024-4577</cve><cve>cve-2024-5458</cve><cve>CVE-2024-4577</cve>
<cwe>79</cwe><cwe>CWE-20</cwe>
<cvss3_base_score>9.8</cvss3_base_score>
<cvss3_vector>CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H</cvss3_vector>
<cvss4_base_score>9.3</cvss4_base_score>
<cvss4_vector>CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N</cvss4_vector>
<cvss_base_score>10.0</cvss_base_score>
<cvss_vector>CVSS2#AV:N/AC:L/Au:N/C:C/I:C/A:C</cvss_vector>
<description>The version of PHP is prior to 8.2.20.</description>
<synopsis>The PHP version is affected.</synopsis>
<solution>Upgrade to PHP version 8.2.20 or later.</solution>
<see_also>http://php.net/ChangeLog-8.php#8.2.20
https://www.php.net/ChangeLog-8.php</see_also>
<xref>CWE:79</xref><xref>CNVD:2024-01234</xref><xref>CNNVD:202406-1234</xref>
<xref>IAVA:2024-A-0330-S</xref>
<risk_factor>Critical</risk_factor><vpr_score>9.6</vpr_score>
<plugin_output>Installed version : 8.2.18
Fixed version     : 8.2.20</plugin_output>
</ReportItem>
<ReportItem port="161" svc_name="snmp" protocol="udp" pluginID="10264"
  pluginName="SNMP Agent Default Community Names">
<risk_factor>High</risk_factor><description>public</description>
</ReportItem>
<ReportItem port="0" svc_name="general" protocol="tcp" severity="3" pluginID="21157"
  pluginName="Unix Compliance Checks" pluginFamily="Policy Compliance">
<cm:compliance-check-name>1.1.1 Ensure cramfs is disabled</cm:compliance-check-name>
<cm:compliance-check-id>a1b2c3</cm:compliance-check-id>
<cm:compliance-result>FAILED</cm:compliance-result>
<cm:compliance-info>cramfs should be disabled.</cm:compliance-info>
<cm:compliance-solution>Add install cramfs /bin/true.</cm:compliance-solution>
<cm:compliance-actual-value>cramfs loaded</cm:compliance-actual-value>
<description>"1.1.1 Ensure cramfs is disabled" : [FAILED]</description>
</ReportItem>
</ReportHost>
<ReportHost name="198.51.100.40"><HostProperties>
<tag name="HOST_END">Mon Jan  1 00:10:00 2024</tag></HostProperties>
<ReportItem port="22" svc_name="ssh" protocol="tcp" severity="2" pluginID="187315"
  pluginName="SSH Terrapin Prefix Truncation Weakness (CVE-2023-48795)">
<cve>CVE-2023-48795</cve><plugin_output>Supports ChaCha20-Poly1305</plugin_output>
</ReportItem>
</ReportHost>
</Report>
</NessusClientData_v2>
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "scan.nessus"
    path.write_text(NESSUS, encoding="utf-8")
    return path


def test_report_items_become_findings(sample: Path) -> None:
    findings, _, _ = run(sample)
    assert [f.check_id for f in findings] == [
        "19506",
        "11219",
        "200162",
        "10264",
        "21157:a1b2c3",
        "187315",
    ]
    info, syn, php, snmp, compliance, terrapin = findings
    assert info.severity is Severity.INFO and info.port is None and info.protocol is None
    assert info.remediation is None and info.evidence == "Nessus version : 10.6.0"
    assert info.description == "Information about the Nessus scan.\n\nScan information."
    assert syn.host == "192.0.2.30" and syn.port == 443
    assert php.title == "PHP 8.2.x < 8.2.20 Multiple Vulnerabilities"
    assert php.severity is Severity.CRITICAL and php.source_tool == "nessus"
    assert (php.host, php.port, php.protocol) == ("192.0.2.30", 443, "tcp")
    assert php.cve_ids == ["CVE-2024-4577", "CVE-2024-5458"]
    assert php.cwe_ids == [79, 20]
    assert php.cnvd_ids == ["CNVD-2024-01234"] and php.cnnvd_ids == ["CNNVD-202406-1234"]
    assert php.cvss_v3_vector == "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert php.cvss_v3_score == 9.8 and php.cvss_v4_score == 9.3
    assert php.cvss_v4_vector is not None and php.cvss_v4_vector.startswith("CVSS:4.0/AV:N")
    assert php.extra["cvss_v2_vector"] == "AV:N/AC:L/Au:N/C:C/I:C/A:C"
    assert php.extra["xrefs"] == ["CNVD:2024-01234", "CNNVD:202406-1234", "IAVA:2024-A-0330-S"]
    assert php.references == [
        "http://php.net/ChangeLog-8.php#8.2.20",
        "https://www.php.net/ChangeLog-8.php",
    ]
    assert php.remediation == "Upgrade to PHP version 8.2.20 or later."
    assert php.evidence == "Installed version : 8.2.18\nFixed version     : 8.2.20"
    assert php.tool_unique_id is None
    assert snmp.severity is Severity.HIGH and snmp.protocol == "udp"  # from risk_factor
    assert compliance.title == "1.1.1 Ensure cramfs is disabled"
    assert compliance.severity is Severity.HIGH and compliance.evidence == "cramfs loaded"
    assert compliance.remediation == "Add install cramfs /bin/true."
    assert compliance.extra["compliance_result"] == "FAILED"
    assert terrapin.host == "198.51.100.40" and terrapin.severity is Severity.MEDIUM


def test_report_hosts(sample: Path) -> None:
    _, hosts, coverage = run(sample)
    app, bare = hosts
    assert app.address == "192.0.2.30" and app.os == "Linux Kernel 5.4"
    assert app.hostnames == ["app.example.test", "rdns.example.test"]
    assert [(s.port, s.protocol, s.service) for s in app.services] == [
        (443, "tcp", "www"),
        (161, "udp", "snmp"),
    ]
    assert bare.address == "198.51.100.40" and bare.hostnames == []
    assert [(s.port, s.service) for s in bare.services] == [(22, "ssh")]
    assert coverage.hosts == ["192.0.2.30", "app.example.test", "198.51.100.40"]


CLASSIC = (
    "Plugin ID,CVE,CVSS v2.0 Base Score,Risk,Host,Protocol,Port,Name,Synopsis,Description,"
    "Solution,See Also,Plugin Output,CVSS v3.0 Base Score,Risk Factor,BID,XREF\n"
    '97833,CVE-2017-0143,9.3,Critical,192.0.2.50,tcp,445,MS17-010,"SMB flaw.","Long text.",'
    '"Patch.","https://example.test/a\nhttps://example.test/b","SMBv1 on",8.1,High,96703,'
    '"CWE:20;CNVD:2017-04567"\n'
    '97833,CVE-2017-0144,9.3,Critical,192.0.2.50,tcp,445,MS17-010,"SMB flaw.","Long text.",'
    '"Patch.","https://example.test/a\nhttps://example.test/b","SMBv1 on",8.1,High,96703,'
    '"CWE:20;CNVD:2017-04567"\n'
    "10287,,,None,192.0.2.51,udp,0,Traceroute,,,n/a,,hops,,None,,\n"
)

TVM = (
    "asset.display_fqdn;asset.display_ipv4_address;asset.operating_system;definition.cve;"
    "definition.cvss3.base_score;definition.cvss3.base_vector;definition.cwe;;definition.id;"
    "definition.name;definition.see_also;definition.solution;definition.synopsis;output;port;"
    "protocol;risk_modified;severity;state\n"
    "app01;203.0.113.8;Ubuntu 22.04;CVE-2023-1111, CVE-2023-2222;7.5;"
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N;200, 22;Full description.;150001;"
    "Example flaw;https://example.test/1, https://example.test/2;Upgrade.;Flaw.;"
    '"\'\nInstalled: 1.0\n";443;TCP;NONE;High;ACTIVE\n'
    "app01;203.0.113.8;Ubuntu 22.04;;;;;Desc.;150002;Accepted one;;;;'x;0;TCP;ACCEPTED;Low;NEW\n"
    "app02;203.0.113.9;;;;;;Desc.;150003;Fixed one;;;;'y;22;TCP;NONE;Medium;FIXED\n"
)


def test_classic_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(CLASSIC, encoding="utf-8-sig")
    findings, hosts, coverage = run(path)
    smb, trace = findings  # the two MS17-010 rows differ only by CVE: one finding
    assert smb.check_id == "97833" and smb.cve_ids == ["CVE-2017-0143", "CVE-2017-0144"]
    assert smb.severity is Severity.CRITICAL and smb.cvss_v3_score == 8.1
    assert (smb.host, smb.port, smb.protocol) == ("192.0.2.50", 445, "tcp")
    assert smb.cwe_ids == [20] and smb.cnvd_ids == ["CNVD-2017-04567"]
    assert smb.references == ["https://example.test/a", "https://example.test/b"]
    assert smb.description == "SMB flaw.\n\nLong text." and smb.evidence == "SMBv1 on"
    assert smb.extra["cvss_v2_score"] == 9.3
    assert trace.severity is Severity.INFO and trace.port is None and trace.remediation is None
    assert [(h.address, [s.port for s in h.services]) for h in hosts] == [
        ("192.0.2.50", [445]),
        ("192.0.2.51", []),
    ]
    assert coverage.hosts == ["192.0.2.50", "192.0.2.51"]


def test_tenable_vm_csv(tmp_path: Path) -> None:
    path = tmp_path / "tvm.csv"
    path.write_text(TVM, encoding="utf-8")
    findings, hosts, coverage = run(path)
    assert [f.check_id for f in findings] == ["150001", "150002"]  # FIXED row skipped
    flaw, accepted = findings
    assert flaw.severity is Severity.HIGH and flaw.cwe_ids == [200, 22]
    assert flaw.cve_ids == ["CVE-2023-1111", "CVE-2023-2222"]
    assert flaw.cvss_v3_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"
    assert flaw.description == "Flaw.\n\nFull description."
    assert flaw.evidence == "Installed: 1.0" and flaw.port == 443 and flaw.protocol == "tcp"
    assert flaw.references == ["https://example.test/1", "https://example.test/2"]
    assert accepted.risk_accepted and accepted.port is None
    assert [(h.address, h.hostnames, h.os) for h in hosts] == [
        ("203.0.113.8", ["app01"], "Ubuntu 22.04"),
        ("203.0.113.9", ["app02"], None),
    ]
    assert coverage.hosts == ["203.0.113.8", "203.0.113.9"]


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("wrong.xml", "<NessusClientData/>", "根元素是 <NessusClientData>"),
        ("cut.nessus", NESSUS[:2500], "提前结束"),
        ("nohead.csv", "Plugin,Host\n1,2\n", "表头缺少列"),
        (
            "noid.nessus",
            "<NessusClientData_v2><Report><ReportHost name='192.0.2.1'>"
            "<ReportItem port='1'/></ReportHost></Report></NessusClientData_v2>",
            "pluginID",
        ),
    ],
)
def test_refused(tmp_path: Path, name: str, text: str, needle: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFormatError) as caught:
        list(NessusImporter().parse(path))
    assert needle in str(caught.value)


# --------------------------------------------------------------------------- corpus
def folder() -> Path:
    return corpus_dir("tenable") / "nessus"


def test_corpus_nessus_with_cwe() -> None:
    findings, hosts, coverage = run(folder() / "nessus_with_cwe-.nessus")
    (php,) = findings
    assert (php.check_id, php.severity) == ("31649", Severity.HIGH)
    assert php.title == "PHP 5.x < 5.2 Multiple Vulnerabilities"
    assert (php.host, php.port, php.protocol) == ("44.228.249.3", 80, "tcp")
    assert len(php.cve_ids) == 15 and php.cve_ids[0] == "CVE-2006-1015"
    assert php.cwe_ids == [94, 119, 399]
    assert php.cvss_v3_vector is None and php.extra["cvss_v2_score"] == 7.5
    assert php.references == [
        "http://www.hardened-php.net/advisory_092006.133.html",
        "http://www.php.net/releases/5_2_0.php",
    ]
    (host,) = hosts
    assert host.address == "44.228.249.3" and host.os == "Linux Kernel 2.6"
    assert host.hostnames == [
        "testphp.vulnweb.com",
        "ec2-44-228-249-3.us-west-2.compute.amazonaws.com",
    ]
    assert [(s.port, s.service) for s in host.services] == [(80, "www")]
    assert coverage.hosts == ["44.228.249.3", "testphp.vulnweb.com"]


def test_corpus_nessus_many_vuln_xml() -> None:
    findings, hosts, _ = run(folder() / "nessus_many_vuln.xml")
    assert len(findings) == 7 and {f.severity for f in findings} == {Severity.INFO}
    assert sum(f.port is None for f in findings) == 5
    (host,) = hosts
    assert (host.address, host.os) == ("12.233.108.201", "CISCO PIX 7.0")
    assert host.hostnames == ["preprod.boardvantage.net"]
    assert [(s.port, s.service) for s in host.services] == [
        (264, "fw1-topology-download"),
        (443, "https"),
    ]


def test_corpus_template_csv() -> None:
    findings, hosts, _ = run(folder() / "nessus-template.csv")
    assert [f.check_id for f in findings] == ["42873", "11213", "187315", "200162", "200798"]
    assert Counter(f.severity for f in findings) == {
        Severity.MEDIUM: 3,
        Severity.HIGH: 1,
        Severity.CRITICAL: 1,
    }
    trace = findings[1]
    assert trace.cwe_ids == [16, 200] and trace.cve_ids == ["CVE-2003-1567"]
    # Scores written without their decimal point ("75") are not taken as CVSS.
    assert all(f.cvss_v3_score is None for f in findings)
    assert [h.address for h in hosts] == ["192.168.0.100", "192.168.0.101"]


def test_corpus_many_vuln2_csv() -> None:
    findings, hosts, coverage = run(folder() / "nessus_many_vuln2-all.csv")
    assert len(findings) == 30
    assert Counter(f.severity for f in findings) == {Severity.INFO: 29, Severity.MEDIUM: 1}
    tls = next(f for f in findings if f.check_id == "104743")
    assert tls.cvss_v3_score == 6.5 and tls.port == 443
    (host,) = hosts
    assert host.address == "52.208.101.182"
    assert [(s.port, s.protocol) for s in host.services] == [(80, "tcp"), (443, "tcp")]
    assert coverage.hosts == ["52.208.101.182"]


def test_corpus_tenable_vm_csv() -> None:
    findings, hosts, coverage = run(folder() / "nessus_new.csv")
    assert len(findings) == 99 and {f.severity for f in findings} == {Severity.LOW}
    first = findings[0]
    assert (first.check_id, first.host, first.port) == ("33851", "10.0.0.1", None)
    assert first.cvss_v3_vector == "CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:U/C:N/I:L/A:N"
    assert first.evidence is not None and first.evidence.startswith("The following running")
    assert len(hosts) == 99 and hosts[0].hostnames == ["Blah1"]
    assert len(coverage.hosts) == 99
    assert Counter(f.check_id for f in findings)["33851"] == 31


def test_corpus_files_all_counted() -> None:
    expected = {
        "nessus-template.csv": (5, 2),
        "nessus_many_vuln.xml": (7, 1),
        "nessus_many_vuln2-all.csv": (30, 1),
        "nessus_new.csv": (99, 99),
        "nessus_with_cwe-.nessus": (1, 1),
    }
    assert {p.name for p in folder().iterdir() if p.is_file()} == set(expected)
    for name, counts in expected.items():
        findings, hosts, _ = run(folder() / name)
        assert (len(findings), len(hosts)) == counts, name


def test_detected_for_its_files() -> None:
    for path in folder().iterdir():
        assert detect_importer(path).name == "nessus"


def test_not_sniffed_on_other_tools_files() -> None:
    corpus_dir("tenable")
    wrongly = [
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file()
        and "tenable" not in p.relative_to(CORPUS).parts
        and NessusImporter.sniff(p, p.read_bytes()[:SNIFF_BYTES])
    ]
    assert wrongly == []
