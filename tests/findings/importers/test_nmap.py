"""Nmap XML importer: hosts, services and NSE vulnerability findings."""

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
from shaobing.findings.importers.nmap import NmapImporter
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir
from tests.findings.importers.common import split


def run(path: Path) -> tuple[list[FindingInput], list[HostInput], CoverageInput]:
    return split(list(NmapImporter().parse(path)))


VULNERS = """<script id="vulners" output="&#xa;  cpe:/a:openbsd:openssh:7.4: &#xa;
    &#x9;CVE-2023-38408&#x9;9.8&#x9;https://vulners.com/cve/CVE-2023-38408&#xa;
    &#x9;cve-2016-10009&#x9;7.5&#x9;https://vulners.com/cve/CVE-2016-10009">
<table key="cpe:/a:openbsd:openssh:7.4">
<table><elem key="cvss">9.8</elem><elem key="id">CVE-2023-38408</elem>
<elem key="is_exploit">true</elem><elem key="type">cve</elem></table>
<table><elem key="cvss">7.5</elem><elem key="id">cve-2016-10009</elem>
<elem key="is_exploit">false</elem><elem key="type">cve</elem></table>
<table><elem key="cvss">9.8</elem><elem key="id">EDB-ID:46516</elem>
<elem key="is_exploit">true</elem><elem key="type">exploitdb</elem></table>
</table>
<table key="cpe:/a:openbsd:openssh">
<table><elem key="cvss">6.0</elem><elem key="id">CVE-2016-10009</elem>
<elem key="type">cve</elem></table>
</table>
</script>"""

HEARTBLEED = """<script id="ssl-heartbleed" output="&#xa;  VULNERABLE:&#xa;
  The Heartbleed Bug&#xa;    State: VULNERABLE&#xa;    Risk factor: High">
<table key="CVE-2014-0160">
<elem key="title">The Heartbleed Bug</elem>
<elem key="state">VULNERABLE</elem>
<table key="ids"><elem>CVE:CVE-2014-0160</elem></table>
<table key="description"><elem>OpenSSL 1.0.1 leaks memory.</elem></table>
<table key="refs"><elem>https://www.openssl.org/news/secadv/20140407.txt</elem></table>
<elem key="disclosure">2014-04-07</elem>
</table>
</script>"""

SAMBA = """<script id="smb-vuln-cve-2017-7494" output="">
<table key="CVE-2017-7494">
<elem key="title">SAMBA Remote Code Execution from Writable Share</elem>
<elem key="state">LIKELY VULNERABLE</elem>
<table key="ids"><elem>CVE:CVE-2017-7494</elem></table>
<table key="scores">
<elem key="CVSSv3">7.5 (HIGH) (CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H)</elem>
</table>
<table key="check_results"><elem>Samba Version: 4.3.9</elem></table>
</table>
<table key="CVE-2099-0001">
<elem key="title">Not this one</elem>
<elem key="state">NOT VULNERABLE</elem>
</table>
</script>"""

MS17_TEXT = """<script id="smb-vuln-ms17-010" output="&#xa;  VULNERABLE:&#xa;
  Remote Code Execution vulnerability in Microsoft SMBv1 servers (ms17-010)&#xa;
    State: VULNERABLE&#xa;    IDs:  CVE:CVE-2017-0143&#xa;    Risk factor: HIGH&#xa;"/>"""


def nmap_xml(hosts: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<?xml-stylesheet href="file:///usr/share/nmap/nmap.xsl" type="text/xsl"?>
<!-- Nmap 7.94 scan -->
<nmaprun scanner="nmap" args="nmap -sV" version="7.94" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="2" services="22,443"/>
{hosts}
<runstats><finished time="1"/><hosts up="2" down="1" total="3"/></runstats>
</nmaprun>
"""


SAMPLE = nmap_xml(f"""
<host><status state="up" reason="syn-ack"/>
<address addr="192.0.2.10" addrtype="ipv4"/>
<address addr="00:11:22:33:44:55" addrtype="mac" vendor="Test"/>
<hostnames><hostname name="www.example.test" type="user"/>
<hostname name="www.example.test" type="PTR"/><hostname name="alt.example.test" type="PTR"/>
</hostnames>
<ports><extraports state="closed" count="998"/>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/>
<service name="ssh" product="OpenSSH" version="7.4" extrainfo="protocol 2.0" method="probed">
<cpe>cpe:/a:openbsd:openssh:7.4</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service>
{VULNERS}</port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack"/>
<service name="http" product="nginx" tunnel="ssl" method="probed"/>
{HEARTBLEED}<script id="banner" output="HTTP/1.1 400 Bad Request"/></port>
<port protocol="udp" portid="445"><state state="open|filtered" reason="no-response"/>
{SAMBA}</port>
</ports>
<os><osmatch name="Linux 4.15" accuracy="95"/><osmatch name="Linux 5.0" accuracy="98"/>
<osmatch name="Linux 5.4" accuracy="98"/></os>
<hostscript>{MS17_TEXT}
<script id="smb-os-discovery" output="OS: Windows"/></hostscript>
</host>
<host><status state="up"/><address addr="2001:db8::5" addrtype="ipv6"/>
<hostnames/><ports/></host>
<host><status state="down" reason="no-response"/><address addr="198.51.100.7" addrtype="ipv4"/>
</host>
<host><status state="up"/><address addr="00:aa:bb:cc:dd:ee" addrtype="mac"/></host>
""")


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "scan.xml"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


def test_hosts_and_services(sample: Path) -> None:
    _, hosts, coverage = run(sample)
    assert [h.address for h in hosts] == ["192.0.2.10", "2001:db8::5", "198.51.100.7"]
    web, v6, down = hosts
    assert web.hostnames == ["www.example.test", "alt.example.test"]
    assert web.os == "Linux 5.0"  # best accuracy, first of equals
    assert web.status == "up" and down.status == "down" and v6.services == []
    ssh, https, smb = web.services
    assert (ssh.port, ssh.protocol, ssh.state, ssh.service) == (22, "tcp", "open", "ssh")
    assert (ssh.product, ssh.version) == ("OpenSSH", "7.4")
    assert ssh.cpe == [
        "cpe:2.3:a:openbsd:openssh:7.4:*:*:*:*:*:*:*",
        "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*",
    ]
    assert ssh.banner == "OpenSSH 7.4 (protocol 2.0)"
    assert https.service == "ssl/http" and https.banner == "HTTP/1.1 400 Bad Request"
    assert (smb.port, smb.protocol, smb.state) == (445, "udp", "open|filtered")
    # Up hosts only, with or without open ports; down hosts are not covered.
    assert coverage.hosts == ["192.0.2.10", "2001:db8::5"]


def test_vulners_one_finding_per_cve(sample: Path) -> None:
    findings, _, _ = run(sample)
    vulners = {f.check_id: f for f in findings if f.check_id.startswith("vulners:")}
    assert sorted(vulners) == ["vulners:CVE-2016-10009", "vulners:CVE-2023-38408"]
    agent = vulners["vulners:CVE-2023-38408"]
    assert agent.severity is Severity.CRITICAL
    assert (agent.host, agent.port, agent.protocol) == ("192.0.2.10", 22, "tcp")
    assert agent.cve_ids == ["CVE-2023-38408"]
    assert agent.extra["is_exploit"] is True and agent.extra["cvss"] == 9.8
    assert agent.references == ["https://vulners.com/cve/CVE-2023-38408"]
    assert agent.evidence == "CVE-2023-38408\t9.8\thttps://vulners.com/cve/CVE-2023-38408"
    assert agent.tool_unique_id is None and agent.source_tool == "nmap"
    # Listed under two CPEs: one finding, the higher score, both CPEs.
    double = vulners["vulners:CVE-2016-10009"]
    assert double.severity is Severity.HIGH and double.extra["cvss"] == 7.5
    assert double.extra["cpe"] == ["cpe:/a:openbsd:openssh:7.4", "cpe:/a:openbsd:openssh"]


def test_vulns_library_findings(sample: Path) -> None:
    findings, _, _ = run(sample)
    by_id = {f.check_id: f for f in findings if not f.check_id.startswith("vulners:")}
    assert sorted(by_id) == [
        "smb-vuln-cve-2017-7494:CVE-2017-7494",
        "smb-vuln-ms17-010",
        "ssl-heartbleed:CVE-2014-0160",
    ]
    bleed = by_id["ssl-heartbleed:CVE-2014-0160"]
    assert bleed.title == "The Heartbleed Bug" and bleed.severity is Severity.HIGH
    assert bleed.cve_ids == ["CVE-2014-0160"] and bleed.port == 443
    assert bleed.description == "OpenSSL 1.0.1 leaks memory."
    assert bleed.references == ["https://www.openssl.org/news/secadv/20140407.txt"]
    assert bleed.confidence == "confirmed" and bleed.extra["disclosure"] == "2014-04-07"
    samba = by_id["smb-vuln-cve-2017-7494:CVE-2017-7494"]
    assert samba.confidence == "likely" and samba.protocol == "udp"
    assert samba.cvss_v3_vector == "CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H"
    assert samba.cvss_v3_score == 7.5 and samba.severity is Severity.HIGH
    assert samba.evidence == "Samba Version: 4.3.9"
    ms17 = by_id["smb-vuln-ms17-010"]  # text output only, host script
    assert ms17.port is None and ms17.protocol is None and ms17.host == "192.0.2.10"
    assert ms17.title.startswith("Remote Code Execution vulnerability in Microsoft SMBv1")
    assert ms17.severity is Severity.HIGH and ms17.cve_ids == ["CVE-2017-0143"]


def test_open_ports_are_not_findings(sample: Path) -> None:
    findings, _, _ = run(sample)
    assert len(findings) == 5
    assert all(f.check_id != "smb-os-discovery" for f in findings)


def test_old_vulners_text_output(tmp_path: Path) -> None:
    path = tmp_path / "old.xml"
    path.write_text(
        nmap_xml("""<host><status state="up"/>
<address addr="203.0.113.4" addrtype="ipv4"/><ports>
<port protocol="tcp" portid="80"><state state="open"/><service name="http"/>
<script id="vulners" output="&#xa;  cpe:/a:apache:http_server:2.4.7: &#xa;
    &#x9;CVE-2017-7679&#x9;7.5&#x9;https://vulners.com/cve/CVE-2017-7679&#xa;
    &#x9;CVE-2014-0226&#x9;6.8&#x9;https://vulners.com/cve/CVE-2014-0226&#x9;*EXPLOIT*"/>
</port></ports></host>"""),
        encoding="utf-8",
    )
    findings, _, _ = run(path)
    assert [(f.check_id, f.severity) for f in findings] == [
        ("vulners:CVE-2017-7679", Severity.HIGH),
        ("vulners:CVE-2014-0226", Severity.MEDIUM),
    ]
    assert findings[1].extra["is_exploit"] is True
    assert findings[0].extra["cpe"] == ["cpe:/a:apache:http_server:2.4.7"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("<nmaprun><host><status state='up'/>", "提前结束"),
        ("<report/>", "根元素是 <report>"),
        (
            "<nmaprun><host><address addr='192.0.2.1' addrtype='ipv4'/><ports>"
            "<port portid='http' protocol='tcp'/></ports></host></nmaprun>",
            "portid",
        ),
        ("not xml at all", "XML 格式错误"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFormatError) as caught:
        list(NmapImporter().parse(path))
    assert key in str(caught.value) and "\n" not in str(caught.value)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    with pytest.raises(ImportFormatError, match="文件为空"):
        list(NmapImporter().parse(path))


# --------------------------------------------------------------------------- corpus
def test_corpus_no_open_ports() -> None:
    findings, hosts, coverage = run(corpus_dir("nmap") / "nmap_0port.xml")
    assert findings == []
    assert [(h.address, h.hostnames, h.services) for h in hosts] == [
        ("127.0.0.1", ["localhost.localdomain"], [])
    ]
    assert coverage.hosts == ["127.0.0.1"]


def test_corpus_multiple_ports() -> None:
    findings, hosts, coverage = run(corpus_dir("nmap") / "nmap_multiple_port.xml")
    assert findings == []
    (host,) = hosts
    assert host.address == "198.38.82.159"
    assert host.hostnames == ["joaquinlp.me", "mocha2005.mochahost.com"]
    assert len(host.services) == 13 and {s.state for s in host.services} == {"open"}
    assert [s.port for s in host.services][:3] == [21, 25, 53]
    assert (host.services[-1].port, host.services[-1].service) == (3306, "mysql")
    assert coverage.hosts == ["198.38.82.159"]


def test_corpus_vulners() -> None:
    findings, hosts, coverage = run(corpus_dir("nmap") / "nmap_script_vulners.xml")
    assert [f.check_id for f in findings] == ["vulners:CVE-2018-15919", "vulners:CVE-2017-15906"]
    assert {(f.host, f.port, f.protocol, f.severity) for f in findings} == {
        ("192.168.0.1", 5022, "tcp", Severity.MEDIUM)
    }
    assert findings[0].extra["cvss"] == 5.0
    (host,) = hosts
    (ssh,) = host.services
    assert (ssh.port, ssh.service, ssh.product, ssh.version) == (5022, "ssh", "OpenSSH", "7.4")
    assert ssh.cpe == ["cpe:2.3:a:openbsd:openssh:7.4:*:*:*:*:*:*:*"]
    assert coverage.hosts == ["192.168.0.1"]


def test_corpus_files_all_counted() -> None:
    expected = {
        "nmap_0port.xml": (0, 1),
        "nmap_multiple_port.xml": (0, 1),
        "nmap_script_vulners.xml": (2, 1),
    }
    files = {p.name for p in corpus_dir("nmap").iterdir() if p.is_file()}
    assert files == set(expected)
    for name, (n_findings, n_hosts) in expected.items():
        findings, hosts, _ = run(corpus_dir("nmap") / name)
        assert (len(findings), len(hosts)) == (n_findings, n_hosts), name


def test_detected_for_its_files() -> None:
    for path in corpus_dir("nmap").iterdir():
        assert detect_importer(path).name == "nmap"


def test_not_sniffed_on_other_tools_files() -> None:
    corpus_dir("nmap")
    wrongly = [
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file()
        and p.parent.name != "nmap"
        and NmapImporter.sniff(p, p.read_bytes()[:SNIFF_BYTES])
    ]
    assert wrongly == []


def test_severity_counts_are_stable(sample: Path) -> None:
    findings, _, _ = run(sample)
    assert Counter(f.severity for f in findings) == {Severity.CRITICAL: 1, Severity.HIGH: 4}
