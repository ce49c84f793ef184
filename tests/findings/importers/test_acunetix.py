"""Acunetix importer: AWVS XML exports and Acunetix 360 JSON reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shaobing.findings.importers import _web as w
from shaobing.findings.importers.acunetix import AcunetixImporter
from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
)
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.severity import Severity
from tests.findings.corpus import corpus_dir
from tests.findings.importers.common import parse_web, refusal


def run(path: Path) -> tuple[list[FindingInput], list[CoverageInput]]:
    return parse_web(AcunetixImporter(), path)


def refused(path: Path) -> str:
    return refusal(AcunetixImporter(), path)


# ------------------------------------------------------------------ corpus

CORPUS_FILES = {
    "acunetix360_multiple_cwe.json",
    "acunetix360_one_finding_accepted_risk.json",
    "acunetix360_one_finding_false_positive.json",
    "issue_11206.json",
    "one_finding_with_port_num.xml",
    "watson_test_unique.xml",
}
LOOKUP_ID = "735f4503-e9eb-4b4c-4306-ad49020a4c4b"
VECTOR = "CVSS:3.0/AV:N/AC:L/PR:L/UI:R/S:U/C:H/I:N/A:N/E:H/RL:O/RC:C"


def test_corpus_is_covered() -> None:
    files = {p.name for p in corpus_dir("acunetix").iterdir() if p.is_file()}
    assert files == CORPUS_FILES


@pytest.mark.parametrize("name", sorted(CORPUS_FILES))
def test_corpus_detected(name: str) -> None:
    path = corpus_dir("acunetix") / name
    assert detect_importer(path).name == "acunetix"
    findings, coverage = run(path)
    assert len(findings) == 1
    assert len(coverage) == 1


@pytest.mark.parametrize(
    ("name", "cwes", "vector", "false_positive", "risk_accepted", "state"),
    [
        ("acunetix360_multiple_cwe.json", [16, 200], VECTOR, False, False, "Present"),
        ("acunetix360_one_finding_accepted_risk.json", [16], VECTOR, False, True,
         "Present, AcceptedRisk"),
        ("acunetix360_one_finding_false_positive.json", [16], VECTOR, True, False,
         "Present, FalsePositive"),
        ("issue_11206.json", [], None, False, False, "Present"),  # "Classification": null
    ],
)  # fmt: skip
def test_corpus_json(
    name: str,
    cwes: list[int],
    vector: str | None,
    false_positive: bool,
    risk_accepted: bool,
    state: str,
) -> None:
    (finding,), (coverage,) = run(corpus_dir("acunetix") / name)
    assert finding.source_tool == "acunetix"
    assert finding.check_id == "CookieNotMarkedAsHttpOnly"
    assert finding.title == "Cookie Not Marked as HttpOnly"
    assert finding.severity is Severity.MEDIUM
    assert finding.url == "http://php.testsparker.com/auth/login.php"
    assert (finding.host, finding.port, finding.protocol) == ("php.testsparker.com", 80, "tcp")
    assert finding.cwe_ids == cwes
    assert finding.cvss_v3_vector == vector
    assert finding.cvss_v3_score == (5.7 if vector else None)
    assert finding.tool_unique_id == LOOKUP_ID
    assert finding.confidence == "confirmed"
    assert (finding.false_positive, finding.risk_accepted) == (false_positive, risk_accepted)
    assert finding.extra["state"] == state
    assert len(finding.references) == 3
    assert finding.references[0] == (
        "https://www.acunetix.com/security-cookies-whitepaper/#httpOnlyFlag"
    )
    assert finding.description is not None
    assert finding.description.startswith("Acunetix360 identified a cookie not marked as HTTPOnly.")
    assert "<p>" not in finding.description
    evidence = finding.evidence or ""
    assert "Identified Cookie(s): PHPSESSID" in evidence
    assert "HttpRequest:\nGET /auth/login.php HTTP/1.1" in evidence
    assert "HttpResponse:\nHTTP/1.1 200 OK" in evidence
    assert coverage.urls == ["http://php.testsparker.com"]


@pytest.mark.parametrize(
    ("name", "title", "severity", "url", "cwe", "coverage"),
    [
        ("one_finding_with_port_num.xml", "VijayReportItem1", Severity.MEDIUM,
         "https://vijaytest.com/some/path", 352, "https://vijaytest.com"),
        ("watson_test_unique.xml", "WatsonUniqueReportItem2025", Severity.HIGH,
         "https://watson-unique-test.com/watson/unique/path", 79,
         "https://watson-unique-test.com"),
    ],
)  # fmt: skip
def test_corpus_xml(
    name: str, title: str, severity: Severity, url: str, cwe: int, coverage: str
) -> None:
    (finding,), (cov,) = run(corpus_dir("acunetix") / name)
    assert (finding.check_id, finding.title, finding.severity) == (title, title, severity)
    assert finding.url == url
    assert finding.port == 443
    assert finding.cwe_ids == [cwe]
    assert finding.parameter is None
    assert finding.tool_unique_id is None
    assert finding.false_positive is False
    assert cov.urls == [coverage]


def test_corpus_xml_text_fields() -> None:
    (finding,), _ = run(corpus_dir("acunetix") / "watson_test_unique.xml")
    assert finding.description == (
        "Watson Unique Test Description GHI000\n\nWatson Unique Test Detailed Information ABC456"
    )
    assert finding.remediation == "Watson Unique Test Recommendation DEF789"
    assert finding.references == ["https://watson-unique-ref.com"]
    assert finding.evidence == "Details:\nWatson Unique Test Details"
    assert finding.extra == {
        "module": "WatsonUniqueTestModule",
        "type": "xss",
        "affects": "/watson/unique/path",
        "impact": "Watson Unique Test Impact XYZ123",
    }


# --------------------------------------------------------------- synthetic

XML_EXPORT = """<?xml version="1.0" encoding="utf-8"?>
<ScanGroup ExportedOn="01/01/2024, 10:00:00">
  <Scan>
    <Name><![CDATA[Example]]></Name>
    <StartURL><![CDATA[http://www.example.com:8080/app/]]></StartURL>
    <Crawler StartUrl="http://www.example.com:8080/app/">
      <SiteFiles><SiteFile id="1"><Name>index.php</Name></SiteFile></SiteFiles>
    </Crawler>
    <ReportItems>
      <ReportItem id="0" color="red">
        <Name><![CDATA[PHP-CGI remote code execution]]></Name>
        <ModuleName><![CDATA[PHP_CGI_RCE]]></ModuleName>
        <Details><![CDATA[Query <b>-s</b> returned the source.]]></Details>
        <Affects><![CDATA[/app/index.php]]></Affects>
        <Parameter><![CDATA[id]]></Parameter>
        <AOP_SourceFile><![CDATA[/var/www/app/index.php]]></AOP_SourceFile>
        <AOP_SourceLine><![CDATA[42]]></AOP_SourceLine>
        <IsFalsePositive><![CDATA[True]]></IsFalsePositive>
        <Severity><![CDATA[high]]></Severity>
        <Type><![CDATA[rce]]></Type>
        <Impact><![CDATA[Remote code execution.]]></Impact>
        <Description><![CDATA[<p>PHP-CGI is <i>vulnerable</i>.</p>]]></Description>
        <DetailedInformation><![CDATA[]]></DetailedInformation>
        <Recommendation><![CDATA[Upgrade PHP.<br/>Then restart.]]></Recommendation>
        <TechnicalDetails>
          <Request><![CDATA[GET /app/index.php?-s HTTP/1.1
Host: www.example.com:8080

]]></Request>
          <Response><![CDATA[HTTP/1.1 200 OK]]></Response>
        </TechnicalDetails>
        <CWEList>
          <CWE id="20"><![CDATA[CWE-20]]></CWE><CWE id="20"><![CDATA[CWE-20]]></CWE>
        </CWEList>
        <CVEList>
          <CVE id="1823" year="2012"><![CDATA[cve-2012-1823]]></CVE>
          <CVE id="2311" year="2012"></CVE>
          <CVE id="1823" year="2012"><![CDATA[CVE-2012-1823]]></CVE>
        </CVEList>
        <CVSS><Descriptor><![CDATA[AV:N/AC:L/Au:N/C:P/I:P/A:P]]></Descriptor><Score>7.5</Score></CVSS>
        <CVSS3><Descriptor><![CDATA[CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H]]></Descriptor>
          <Score><![CDATA[9.8]]></Score></CVSS3>
        <References><Reference><Database>PHP</Database><URL>https://www.php.net/</URL></Reference>
        </References>
      </ReportItem>
      <ReportItem id="1" color="blue">
        <Name><![CDATA[Clickjacking: X-Frame-Options header missing]]></Name>
        <Affects><![CDATA[Web Server]]></Affects>
        <Severity><![CDATA[informational]]></Severity>
      </ReportItem>
    </ReportItems>
  </Scan>
  <Scan>
    <StartURL><![CDATA[https://192.0.2.8/]]></StartURL>
    <ReportItems></ReportItems>
  </Scan>
</ScanGroup>
"""


def test_xml_fields(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    path.write_text(XML_EXPORT, encoding="utf-8")
    (rce, clickjacking), (coverage,) = run(path)
    assert rce.check_id == "PHP-CGI remote code execution"
    assert rce.url == "http://www.example.com:8080/app/index.php"
    assert (rce.host, rce.port, rce.parameter) == ("www.example.com", 8080, "id")
    assert (rce.file_path, rce.line) == ("/var/www/app/index.php", 42)
    assert rce.false_positive is True
    assert rce.severity is Severity.HIGH
    assert rce.cve_ids == ["CVE-2012-1823", "CVE-2012-2311"]
    assert rce.cwe_ids == [20]
    assert (rce.cvss_v3_vector, rce.cvss_v3_score) == (
        "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        9.8,
    )
    assert rce.extra["cvss_v2_vector"] == "AV:N/AC:L/Au:N/C:P/I:P/A:P"
    assert rce.description == "PHP-CGI is vulnerable."
    assert rce.remediation == "Upgrade PHP.\nThen restart."
    assert rce.references == ["https://www.php.net/"]
    assert rce.evidence == (
        "Details:\nQuery -s returned the source.\n\n"
        "Request:\nGET /app/index.php?-s HTTP/1.1\nHost: www.example.com:8080\n\n"
        "Response:\nHTTP/1.1 200 OK"
    )
    # "Web Server" is the scanned site itself.
    assert clickjacking.url == "http://www.example.com:8080/app/"
    assert clickjacking.severity is Severity.INFO
    assert clickjacking.extra["affects"] == "Web Server"
    assert coverage.urls == ["http://www.example.com:8080", "https://192.0.2.8"]
    assert detect_importer(path).name == "acunetix"


def vulnerability(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "Certainty": 90,
        "Classification": {
            "Cwe": "89",
            "Cvss": {"BaseScore": {"Value": "8.6"}, "Vector": "CVSS:3.0/AV:N/AC:L/PR:N/UI:N"},
            "Cvss31": {"BaseScore": {"Value": "9.1"}, "Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R"},
        },
        "Confirmed": False,
        "Description": "<p>SQL injection.</p>",
        "HttpRequest": {
            "Content": "GET /item?id=1' HTTP/1.1\r\n",
            "Method": "GET",
            "Parameters": [
                {"Name": "page", "Value": "1", "Vulnerable": False},
                {"Name": "id", "Value": "1'", "Vulnerable": True},
            ],
        },
        "HttpResponse": {"Content": "HTTP/1.1 500 Internal Server Error\r\n"},
        "KnownVulnerabilities": [{"Title": "jQuery XSS (cve-2020-11022)", "Severity": "Medium"}],
        "LookupId": "00000000-1111-2222-3333-444444444444",
        "Name": "SQL Injection",
        "RemedialActions": "",
        "RemedialProcedure": "<div>Use parameterised queries.</div>",
        "RemedyReferences": "<a href='https://owasp.org/sqli'>OWASP</a>",
        "Severity": "Critical",
        "State": "Present",
        "Type": "SqlInjection",
        "Url": "https://shop.example.com/item?id=1",
    }
    item.update(changes)
    return item


def write_json(path: Path, items: list[Any], target: object = None) -> Path:
    report = {
        "Generated": "01/01/2024 10:00 AM",
        "Target": target
        if target is not None
        else {"ScanId": "abc", "Url": "https://shop.example.com/"},
        "Vulnerabilities": items,
    }
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def test_json_fields(tmp_path: Path) -> None:
    path = write_json(tmp_path / "a360.json", [vulnerability()])
    (finding,), (coverage,) = run(path)
    assert finding.check_id == "SqlInjection"
    assert finding.severity is Severity.CRITICAL
    assert finding.parameter == "id"
    assert (finding.cvss_v3_vector, finding.cvss_v3_score) == ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R", 9.1)
    assert finding.cve_ids == ["CVE-2020-11022"]
    assert finding.cwe_ids == [89]
    assert finding.confidence == "90%"
    assert finding.references == ["https://owasp.org/sqli"]
    assert finding.remediation == "Use parameterised queries."
    assert finding.tool_unique_id == "00000000-1111-2222-3333-444444444444"
    assert coverage.urls == ["https://shop.example.com"]


def test_json_severity_words_and_missing_fields(tmp_path: Path) -> None:
    items = [
        vulnerability(Severity="Information", Classification=None, LookupId=None),
        vulnerability(Severity="BestPractice", HttpRequest=None, HttpResponse="x"),
        {"Type": "Bare", "Url": "http://198.51.100.4:8000/x"},
    ]
    path = write_json(tmp_path / "a360.json", items, target={"Url": None})
    findings, (coverage,) = run(path)
    assert [f.severity for f in findings] == [Severity.INFO, Severity.INFO, Severity.INFO]
    assert findings[0].tool_unique_id is None
    assert findings[0].cvss_v3_vector is None
    assert findings[1].evidence is None  # HttpRequest null, HttpResponse not an object
    assert findings[2].title == "Bare"
    assert (findings[2].host, findings[2].port) == ("198.51.100.4", 8000)
    # Without Target.Url the findings' sites are the coverage.
    assert coverage.urls == ["https://shop.example.com", "http://198.51.100.4:8000"]


@pytest.mark.parametrize(
    ("content", "key", "params"),
    [
        ("", "empty", {}),
        ('{"Generated": "x"}', "acunetix_json_shape", {}),
        ('{"Vulnerabilities": {}}', "acunetix_json_shape", {}),
        ('{"Vulnerabilities": [3]}', "item_not_object", {"field": "Vulnerabilities", "index": 0}),
        ('{"Vulnerabilities": [{"Severity": "High"}]}', "acunetix_item_unnamed", {}),
        ("<ScanGroup><Scan><ReportItems><ReportItem><Severity>high</Severity></ReportItem>"
         "</ReportItems></Scan></ScanGroup>", "acunetix_item_unnamed", {}),
        ("<OWASPZAPReport/>", "xml_root", {"found": "OWASPZAPReport", "expected": "ScanGroup"}),
        ("Name,Severity\n", "not_xml_or_json", {}),
    ],
)  # fmt: skip
def test_refused_files(tmp_path: Path, content: str, key: str, params: dict[str, object]) -> None:
    path = tmp_path / "bad"
    path.write_text(content, encoding="utf-8")
    assert refused(path) == w.problem(key, **params)


def test_sniff_is_specific(tmp_path: Path) -> None:
    path = tmp_path / "x"
    assert AcunetixImporter.sniff(path, XML_EXPORT.encode())
    good = write_json(tmp_path / "a.json", [vulnerability()]).read_bytes()
    assert AcunetixImporter.sniff(path, good)
    # Trivy's JSON also has "Target" and "Vulnerabilities", but not this shape.
    trivy = b'{"SchemaVersion": 2, "Results": [{"Target": "x", "Vulnerabilities": []}]}'
    assert not AcunetixImporter.sniff(path, trivy)
    assert not AcunetixImporter.sniff(path, b"<OWASPZAPReport/>")
    assert not AcunetixImporter.sniff(path, b"")
