"""Burp Suite XML issues importer."""

from __future__ import annotations

import base64
from collections import Counter
from pathlib import Path

import pytest

from shaobing.findings.importers._xml import EVIDENCE_LIMIT
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    HostInput,
    ImportFormatError,
    Record,
)
from shaobing.findings.importers.burp import BurpImporter, html_to_text
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir


def split(records: list[Record]) -> tuple[list[FindingInput], CoverageInput]:
    findings = [r for r in records if isinstance(r, FindingInput)]
    assert not any(isinstance(r, HostInput) for r in records)
    coverage = [r for r in records if isinstance(r, CoverageInput)]
    assert len(coverage) == 1 and records[-1] is coverage[0]
    return findings, coverage[0]


def run(path: Path) -> tuple[list[FindingInput], CoverageInput]:
    return split(list(BurpImporter().parse(path)))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


DOCTYPE = """<!DOCTYPE issues [
<!ELEMENT issues (issue*)>
<!ATTLIST issues burpVersion CDATA "">
<!ELEMENT host (#PCDATA)>
<!ATTLIST host ip CDATA "">
<!ATTLIST request base64 (true|false) "false">
]>"""

REQUEST = "GET /search.php?q=x HTTP/1.1\r\nHost: app.example.test\r\nCookie: s=1\r\n\r\n"
BIG_RESPONSE = "HTTP/1.1 200 OK\r\n\r\n" + "A" * 60_000


def issue(
    *,
    type_: str,
    name: str,
    path: str,
    location: str,
    severity: str,
    host: str = "https://app.example.test",
    extra: str = "",
) -> str:
    return f"""<issue>
<serialNumber>1234567890</serialNumber><type>{type_}</type>
<name><![CDATA[{name}]]></name><host ip="192.0.2.80">{host}</host>
<path><![CDATA[{path}]]></path><location><![CDATA[{location}]]></location>
<severity>{severity}</severity><confidence>Firm</confidence>{extra}
</issue>"""


SAMPLE = f"""<?xml version="1.0"?>
{DOCTYPE}
<issues burpVersion="2023.10.3" exportTime="Mon Jan 01 00:00:00 CST 2024">
{
    issue(
        type_="1049088",
        name="SQL injection",
        path="/search.php",
        location="/search.php [q parameter]",
        severity="High",
        extra=f'''
<issueBackground><![CDATA[<p>SQL injection &amp;lt;b&amp;gt; lets attackers
run <b>queries</b>.</p><script>alert(1)</script><ul><li>one</li><li>two</li></ul>]]>
</issueBackground>
<remediationBackground><![CDATA[<p>Use parameterized queries.</p>]]></remediationBackground>
<references><![CDATA[<ul><li><a href="https://portswigger.net/web-security/sql-injection">
SQL injection</a></li><li><a href="javascript:alert(1)">x</a></li></ul>]]></references>
<vulnerabilityClassifications><![CDATA[<ul>
<li><a href="https://cwe.mitre.org/data/definitions/89.html">CWE-89: SQL Injection</a></li>
<li><a href="https://cwe.mitre.org/data/definitions/94.html">CWE-94: Code Injection</a></li>
</ul>]]></vulnerabilityClassifications>
<issueDetail><![CDATA[The <b>q</b> parameter appears to be vulnerable.]]></issueDetail>
<issueDetailItems><issueDetailItem><![CDATA[payload <i>'</i>]]></issueDetailItem>
</issueDetailItems>
<remediationDetail><![CDATA[Escape q.]]></remediationDetail>
<requestresponse>
<request method="GET" base64="true"><![CDATA[{b64(REQUEST)}]]></request>
<response base64="true"><![CDATA[{b64(BIG_RESPONSE)}]]></response>
<responseRedirected>false</responseRedirected>
</requestresponse>
<requestresponse><request base64="true"><![CDATA[{b64("GET /second")}]]></request>
</requestresponse>''',
    )
}
{
    issue(
        type_="5243136",
        name="Cookie without HttpOnly flag set",
        path="/",
        location="/ [session cookie]",
        severity="Low",
    )
}
{
    issue(
        type_="1050112",
        name="XML injection",
        path="/api",
        location="/api [here XML attribute within the name parameter]",
        severity="Medium",
    )
}
{
    issue(
        type_="6291968",
        name="Backup file",
        path="/index.php",
        location="/index.bak",
        severity="Information",
        extra='''
<requestresponse><request method="GET" base64="false"><![CDATA[GET /index.bak HTTP/1.1]]>
</request><response base64="true">!!not base64!!</response></requestresponse>''',
    )
}
{
    issue(
        type_="5245344",
        name="Frameable response",
        path="/login",
        location="/login",
        severity="False positive",
        host="http://admin.example.test:8080/",
    )
}
</issues>
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "burp.xml"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


def test_issues_become_findings(sample: Path) -> None:
    findings, coverage = run(sample)
    assert [f.check_id for f in findings] == ["1049088", "5243136", "1050112", "6291968", "5245344"]
    sqli, cookie, xml, backup, frame = findings
    assert sqli.title == "SQL injection" and sqli.severity is Severity.HIGH
    assert sqli.url == "https://app.example.test/search.php" and sqli.parameter == "q"
    assert sqli.host is None and sqli.extra["ip"] == "192.0.2.80"
    assert sqli.confidence == "Firm" and sqli.source_tool == "burp"
    assert sqli.tool_unique_id is None and sqli.extra["serial_number"] == "1234567890"
    assert sqli.cwe_ids == [89, 94]
    assert sqli.references == ["https://portswigger.net/web-security/sql-injection"]
    assert sqli.description == (
        "The q parameter appears to be vulnerable.\n- payload '\n\n"
        "SQL injection &lt;b&gt; lets attackers\nrun queries.\n\n- one\n- two"
    )
    assert sqli.remediation == "Escape q.\n\nUse parameterized queries."
    assert sqli.extra["request_responses"] == 2
    assert cookie.parameter == "session" and cookie.url == "https://app.example.test/"
    assert xml.parameter == "here XML attribute within the name parameter"
    assert backup.url == "https://app.example.test/index.bak" and backup.parameter is None
    assert backup.severity is Severity.INFO
    assert frame.false_positive and frame.severity is Severity.INFO
    assert frame.url == "http://admin.example.test:8080/login"
    assert coverage.urls == ["https://app.example.test", "http://admin.example.test:8080"]
    assert coverage.hosts == []


def test_request_and_response_are_decoded_and_cut(sample: Path) -> None:
    findings, _ = run(sample)
    evidence = findings[0].evidence
    assert evidence is not None
    request, response = evidence.split("\n\n" + "-" * 40 + "\n\n")
    assert request == REQUEST.strip()
    assert response.startswith("HTTP/1.1 200 OK") and response.endswith("[…]")
    assert len(response) <= EVIDENCE_LIMIT + 10
    assert "GET /second" not in evidence  # only the first request/response pair
    # Plain-text request kept; an undecodable base64 response is left out.
    assert findings[3].evidence == "GET /index.bak HTTP/1.1"


def test_html_to_text() -> None:
    assert html_to_text(None) == (None, [])
    text, links = html_to_text('<p>a &amp; b<br>c</p><a href="http://x.test/">x</a>')
    assert text == "a & b\nc\nx" and links == ["http://x.test/"]
    assert html_to_text("<![if !x]>y<![endif]><!bogus")[0] is not None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("<issues burpVersion='1'><issue><severity>High</severity></issue></issues>", "type"),
        ("<issues burpVersion='1'><issue><type>1</type>", "提前结束"),
        ("<items burpVersion='1'/>", "根元素是 <items>"),
    ],
)
def test_refused(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFormatError) as caught:
        list(BurpImporter().parse(path))
    assert needle in str(caught.value)


# --------------------------------------------------------------------------- corpus
def test_corpus_issue4399() -> None:
    findings, coverage = run(corpus_dir("burp") / "issue4399.xml")
    assert len(findings) == 441
    assert Counter(f.severity for f in findings) == {
        Severity.LOW: 343,
        Severity.INFO: 71,
        Severity.HIGH: 24,
        Severity.MEDIUM: 3,
    }
    assert Counter(f.confidence for f in findings) == {"Certain": 404, "Tentative": 21, "Firm": 16}
    # 401 request/response pairs spread over 366 issues (and 2 more inside Collaborator
    # interactions); the other issues carry none.
    assert sum(f.evidence is not None for f in findings) == 366
    assert sum(int(str(f.extra.get("request_responses", 0))) for f in findings) == 401
    collaborator = [f for f in findings if "collaborator" in f.extra]
    assert len(collaborator) == 3
    assert collaborator[0].extra["collaborator"] == [
        {"interactionType": "HTTP", "originIp": "18.192.172.30", "time": "2021-Apr-28 08:43:47 UTC"}
    ]
    params = Counter(f.parameter for f in findings if f.parameter)
    assert params["file"] == 6 and params["name"] == 5 and params["searchFor"] == 2
    first = findings[0]
    assert (first.check_id, first.title) == ("16777728", "Unencrypted communications")
    assert first.url == "http://testphp.vulnweb.com/" and first.cwe_ids == [326]
    assert first.extra["ip"] == "18.192.172.30"
    backups = [f.url for f in findings if f.url and f.url.endswith(("index.bak", "index.zip"))]
    assert backups == [
        "http://testphp.vulnweb.com/index.bak",
        "http://testphp.vulnweb.com/index.zip",
    ]
    assert coverage.urls == ["http://testphp.vulnweb.com"]


def test_corpus_one_finding_with_cwe() -> None:
    (finding,), coverage = run(corpus_dir("burp") / "one_finding_with_cwe.xml")
    assert (finding.check_id, finding.title) == ("7340288", "Cacheable HTTPS response")
    assert finding.severity is Severity.INFO and finding.confidence == "Certain"
    assert finding.cwe_ids == [524, 525]
    assert finding.url == "https://example.com/test/v4/public/users/fake"
    assert finding.evidence is not None
    assert finding.evidence.startswith("GET /test/v4/public/users/fake HTTP/1.1\nHost:")
    assert finding.remediation is not None and "- Cache-control: no-store" in finding.remediation
    assert coverage.urls == ["https://example.com"]


def test_corpus_seven_findings() -> None:
    findings, coverage = run(corpus_dir("burp") / "seven_findings.xml")
    assert len(findings) == 16
    assert Counter(f.severity for f in findings) == {
        Severity.INFO: 9,
        Severity.HIGH: 5,
        Severity.LOW: 2,
    }
    assert {f.parameter for f in findings} == {None, "q", "b_id", "username", "password"}
    assert all(f.url and f.url.startswith("http://bwa/") for f in findings)
    assert coverage.urls == ["http://bwa"]


def test_corpus_files_all_counted() -> None:
    expected = {"issue4399.xml": 441, "one_finding_with_cwe.xml": 1, "seven_findings.xml": 16}
    folder = corpus_dir("burp")
    assert {p.name for p in folder.iterdir() if p.is_file()} == set(expected)
    for name, count in expected.items():
        assert len(run(folder / name)[0]) == count, name


def test_detected_for_its_files() -> None:
    for path in corpus_dir("burp").iterdir():
        assert detect_importer(path).name == "burp"


def test_not_sniffed_on_other_tools_files() -> None:
    corpus_dir("burp")
    wrongly = [
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file()
        and p.parent.name != "burp"
        and BurpImporter.sniff(p, p.read_bytes()[:SNIFF_BYTES])
    ]
    assert wrongly == []
