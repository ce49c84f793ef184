"""OWASP ZAP importer: the corpus reports and small XML/JSON reports of our own."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from shaobing.core.i18n import t
from shaobing.findings.importers import _web as w
from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
)
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.importers.zap import ZapImporter
from shaobing.findings.severity import Severity
from tests.findings.corpus import corpus_dir
from tests.findings.importers.common import parse_web, refusal


def run(path: Path) -> tuple[list[FindingInput], list[CoverageInput]]:
    return parse_web(ZapImporter(), path)


def refused(path: Path) -> str:
    return refusal(ZapImporter(), path)


def is_problem(problem: str, key: str) -> bool:
    """Whether ``problem`` is the catalogue message ``key`` (up to its first placeholder)."""
    return problem.startswith(t(f"importers_web.{key}").split("{")[0])


# ------------------------------------------------------------------ corpus

# file → (findings, severity counts, coverage urls)
CORPUS = {
    "dvwa_baseline_dojo_fabricated_internal_duplicates.xml": (
        123,
        {"medium": 44, "low": 41, "info": 38},
        ["http://172.17.0.2"],
    ),
    "juicy2.xml": (86, {"low": 40, "info": 24, "medium": 22}, ["https://juice-shop.herokuapp.com"]),
    "zap-results-second-scan.xml": (
        126,
        {"low": 52, "info": 44, "medium": 25, "high": 5},
        ["http://bodgeit.securecodebox-demo.svc:8080"],
    ),
    "zap-xml-plus-format.xml": (1, {"medium": 1}, ["http://localhost:8080"]),
    "zap_2.16.1_with_req_resp.xml": (13, {"info": 13}, ["https://example-domain.com"]),
}


def test_corpus_is_covered() -> None:
    files = sorted(p.name for p in corpus_dir("zap").iterdir() if p.is_file())
    assert files == sorted(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_counts(name: str) -> None:
    path = corpus_dir("zap") / name
    count, severities, urls = CORPUS[name]
    findings, coverage = run(path)
    assert len(findings) == count
    assert Counter(f.severity.value for f in findings) == severities
    assert [c.urls for c in coverage] == [urls]
    assert all(f.source_tool == "zap" and f.tool_unique_id is None for f in findings)
    assert detect_importer(path).name == "zap"


def test_corpus_dvwa_fields() -> None:
    findings, _ = run(corpus_dir("zap") / "dvwa_baseline_dojo_fabricated_internal_duplicates.xml")
    first = findings[0]
    assert first.check_id == "10020"
    assert first.title == "X-Frame-Options Header Not Set"
    assert first.severity is Severity.MEDIUM
    assert first.url == "http://172.17.0.2/vulnerabilities/brute/"
    assert (first.host, first.port, first.protocol) == ("172.17.0.2", 80, "tcp")
    assert first.parameter == "X-Frame-Options"
    assert first.cwe_ids == [16]
    assert first.confidence == "medium"
    assert first.extra["wasc_id"] == 15
    assert first.description is not None and first.description.startswith(
        "X-Frame-Options header is not included"
    )
    assert "<p>" not in first.description
    poison = [f for f in findings if f.check_id == "10029"]
    assert len(poison) == 1
    assert (poison[0].url, poison[0].parameter) == ("http://172.17.0.2/security.php", "security")
    assert poison[0].extra["method"] == "POST"


def test_corpus_second_scan_sql_injection() -> None:
    findings, _ = run(corpus_dir("zap") / "zap-results-second-scan.xml")
    (sqli,) = [f for f in findings if f.check_id == "40018"]
    assert sqli.title == "SQL Injection"
    assert sqli.severity is Severity.HIGH
    assert sqli.url == "http://bodgeit.securecodebox-demo.svc:8080/bodgeit/basket.jsp"
    assert (sqli.host, sqli.port, sqli.parameter) == (
        "bodgeit.securecodebox-demo.svc",
        8080,
        "productid",
    )
    assert sqli.cwe_ids == [89]
    assert sqli.references == [
        "https://cheatsheetseries.owasp.org/cheatsheets/SQL_Injection_Prevention_Cheat_Sheet.html"
    ]
    assert sqli.evidence is not None
    assert sqli.evidence.startswith("attack:\n8-2\n\notherinfo:\nThe original page results")
    assert sqli.remediation is not None
    assert sqli.remediation.startswith("Do not trust client side input")


def test_corpus_plus_format_keeps_request_and_response() -> None:
    (finding,), _ = run(corpus_dir("zap") / "zap-xml-plus-format.xml")
    assert finding.check_id == "90028"
    assert finding.extra["method"] == "PUT"
    assert finding.extra["wasc_id"] == 45
    assert finding.cwe_ids == [200]
    assert finding.parameter is None
    evidence = finding.evidence or ""
    assert "request-header:\nPUT http://localhost:8080/bodgeit/js/qndto7n63d HTTP/1.1" in evidence
    assert "response-header:\nHTTP/1.1 403 Forbidden" in evidence
    assert "response-body:\n<!DOCTYPE html>" in evidence


def test_corpus_216_dedents_and_reads_minus_one_as_no_cwe() -> None:
    findings, _ = run(corpus_dir("zap") / "zap_2.16.1_with_req_resp.xml")
    first = findings[0]
    assert first.check_id == "10111"
    assert first.cwe_ids == []
    assert "wasc_id" not in first.extra
    assert first.confidence == "low"
    assert first.parameter == "user_identifier"
    evidence = first.evidence or ""
    assert "otherinfo:\nuserParam=user_identifier\nuserValue=string" in evidence
    assert "\nhost: example-domain.com\n" in evidence
    assert Counter(f.check_id for f in findings) == {"10111": 1, "10029": 5, "10024": 3, "10015": 4}


# --------------------------------------------------------------- synthetic

XML_REPORT = """<?xml version="1.0"?>
<OWASPZAPReport programName="ZAP" version="2.15.0" generated="Mon, 1 Jan 2024 10:00:00">
  <site name="https://www.example.com" host="www.example.com" port="443" ssl="true">
    <alerts>
      <alertitem>
        <pluginid>40012</pluginid>
        <alertRef>40012-1</alertRef>
        <alert>Cross Site Scripting (Reflected)</alert>
        <name>Cross Site Scripting (Reflected)</name>
        <riskcode>3</riskcode>
        <confidence>0</confidence>
        <riskdesc>High (False Positive)</riskdesc>
        <desc>&lt;p&gt;XSS &amp;amp; more&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</desc>
        <instances>
          <instance>
            <uri>https://www.example.com/search?q=x</uri>
            <method>GET</method>
            <param>q</param>
            <attack>&lt;script&gt;alert(1)&lt;/script&gt;</attack>
            <evidence>&lt;script&gt;alert(1)&lt;/script&gt;</evidence>
          </instance>
          <instance>
            <uri>https://www.example.com/search?page=2</uri>
            <method>GET</method>
            <param>page</param>
          </instance>
        </instances>
        <solution>&lt;p&gt;Encode output.&lt;/p&gt;</solution>
        <reference>&lt;p&gt;https://owasp.org/www-community/attacks/xss/&lt;/p&gt;</reference>
        <cweid>79</cweid>
        <wascid>8</wascid>
        <tags>
          <tag><tag>OWASP_2021_A03</tag><link>https://owasp.org/Top10/A03_2021-Injection/</link></tag>
        </tags>
      </alertitem>
    </alerts>
  </site>
  <site name="http://198.51.100.7:8080" host="198.51.100.7" port="8080" ssl="false">
    <alerts></alerts>
  </site>
</OWASPZAPReport>
"""


def test_xml_one_finding_per_instance(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    path.write_text(XML_REPORT, encoding="utf-8")
    findings, coverage = run(path)
    assert [(f.url, f.parameter) for f in findings] == [
        ("https://www.example.com/search?q=x", "q"),
        ("https://www.example.com/search?page=2", "page"),
    ]
    first = findings[0]
    assert first.check_id == "40012-1"
    assert first.extra["plugin_id"] == "40012"
    assert first.extra["alert_ref"] == "40012-1"
    assert first.extra["tags"] == ["OWASP_2021_A03"]
    assert first.severity is Severity.HIGH
    assert first.false_positive is True
    assert first.confidence == "false_positive"
    assert first.description == "XSS & more"  # tags and script content gone, entities decoded
    assert first.remediation == "Encode output."
    assert first.references == [
        "https://owasp.org/www-community/attacks/xss/",
        "https://owasp.org/Top10/A03_2021-Injection/",
    ]
    assert first.evidence == (
        "attack:\n<script>alert(1)</script>\n\nevidence:\n<script>alert(1)</script>"
    )
    assert findings[1].evidence is None
    assert (first.host, first.port) == ("www.example.com", 443)
    # The site without alerts is still part of what was scanned.
    assert [c.urls for c in coverage] == [["https://www.example.com", "http://198.51.100.7:8080"]]
    assert detect_importer(path).name == "zap"


def test_xml_alert_without_instances_uses_alert_fields(tmp_path: Path) -> None:
    path = tmp_path / "old.xml"
    path.write_text(
        '<OWASPZAPReport version="2.4.0"><site name="http://127.0.0.1" host="127.0.0.1" '
        'port="80" ssl="false"><alerts><alertitem><pluginid>10016</pluginid>'
        "<alert>Web Browser XSS Protection Not Enabled</alert><riskcode>1</riskcode>"
        "<confidence>2</confidence><uri>http://127.0.0.1/login</uri><param>X-XSS-Protection"
        "</param></alertitem><alertitem><pluginid>10017</pluginid><alert>No location</alert>"
        "<riskcode>9</riskcode><riskdesc>Medium (Low)</riskdesc></alertitem></alerts></site>"
        "</OWASPZAPReport>",
        encoding="utf-8",
    )
    findings, _ = run(path)
    assert [(f.check_id, f.title, f.url, f.parameter, f.severity) for f in findings] == [
        ("10016", "Web Browser XSS Protection Not Enabled", "http://127.0.0.1/login",
         "X-XSS-Protection", Severity.LOW),
        # No uri anywhere: the site; an unknown riskcode falls back to riskdesc.
        ("10017", "No location", "http://127.0.0.1", None, Severity.MEDIUM),
    ]  # fmt: skip


def json_report() -> dict[str, object]:
    return {
        "@programName": "ZAP",
        "@version": "2.15.0",
        "@generated": "Mon, 1 Jan 2024 10:00:00",
        "site": [
            {
                "@name": "https://app.example.gov.cn",
                "@host": "app.example.gov.cn",
                "@port": "443",
                "@ssl": "true",
                "alerts": [
                    {
                        "pluginid": "10038",
                        "alertRef": "10038-1",
                        "alert": "Content Security Policy (CSP) Header Not Set",
                        "name": "Content Security Policy (CSP) Header Not Set",
                        "riskcode": "2",
                        "confidence": "3",
                        "riskdesc": "Medium (High)",
                        "desc": "<p>CSP is missing.</p><p>Second&nbsp;paragraph.</p>",
                        "instances": [
                            {
                                "id": "17",
                                "uri": "https://app.example.gov.cn/",
                                "method": "GET",
                                "param": "",
                                "attack": "",
                                "evidence": "",
                                "otherinfo": "",
                                "request-header": "GET https://app.example.gov.cn/ HTTP/1.1\r\n",
                                "request-body": "",
                                "response-header": "HTTP/1.1 200 OK\r\n",
                                "response-body": "x" * 30_000,
                            }
                        ],
                        "count": "1",
                        "solution": "<p>Set the header.</p>",
                        "otherinfo": "",
                        "reference": "<p>https://developer.mozilla.org/en-US/docs/Web/HTTP/CSP</p>",
                        "cweid": "693",
                        "wascid": "15",
                        "sourceid": "1",
                        "tags": [{"tag": "OWASP_2021_A05", "link": "https://owasp.org/Top10/A05/"}],
                    }
                ],
            },
            {"@name": "http://203.0.113.5", "@host": "203.0.113.5", "@port": "80", "alerts": []},
        ],
    }


def test_json_report(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(json_report()), encoding="utf-8")
    findings, coverage = run(path)
    (finding,) = findings
    assert finding.check_id == "10038-1"
    assert finding.severity is Severity.MEDIUM
    assert finding.confidence == "high"
    assert finding.false_positive is False
    assert finding.description == "CSP is missing.\n\nSecond\xa0paragraph."
    assert finding.parameter is None
    assert finding.cwe_ids == [693]
    assert finding.tool_unique_id is None  # the instance "id" is a per-session row id
    assert finding.references == [
        "https://developer.mozilla.org/en-US/docs/Web/HTTP/CSP",
        "https://owasp.org/Top10/A05/",
    ]
    evidence = finding.evidence or ""
    assert evidence.startswith("request-header:\nGET https://app.example.gov.cn/ HTTP/1.1")
    body = evidence.split("response-body:\n", 1)[1]
    assert len(body) == w.EVIDENCE_LIMIT + 1 and body.endswith("…")
    assert [c.urls for c in coverage] == [["https://app.example.gov.cn", "http://203.0.113.5"]]
    assert ZapImporter.sniff(path, path.read_bytes()[:65536])
    assert detect_importer(path).name == "zap"


def test_json_single_site_object_and_missing_alerts(tmp_path: Path) -> None:
    report = json_report()
    report["site"] = {"@name": "http://127.0.0.1:8080", "@host": "127.0.0.1", "@port": "8080"}
    path = tmp_path / "one.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    findings, coverage = run(path)
    assert findings == []
    assert [c.urls for c in coverage] == [["http://127.0.0.1:8080"]]


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ("", "empty"),
        ("  \n\t", "empty"),
        ("hello", "not_xml_or_json"),
        ('{"@version": "2.15.0"}', "zap_json_shape"),
        ("[1, 2]", "not_xml_or_json"),
    ],
)
def test_refused_files(tmp_path: Path, content: str, key: str) -> None:
    path = tmp_path / "bad"
    path.write_text(content, encoding="utf-8")
    assert refused(path) == w.problem(key)


def test_refused_structures(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"@version": "2", "site": [1]}', encoding="utf-8")
    assert refused(path) == w.problem("item_not_object", field="site", index=0)
    path.write_text('{"@version": "2", "site": [{"alerts": [{"riskcode": "1"}]}]}')
    assert refused(path) == w.problem("zap_alert_unnamed")
    path.write_text('{"@version": "2", "site": [')
    assert refused(path) == w.problem("json_syntax", line=1, column=28, error="Expecting value")


def test_wrong_root_and_truncated_xml(tmp_path: Path) -> None:
    path = tmp_path / "other.xml"
    path.write_text("<ScanGroup><Scan/></ScanGroup>", encoding="utf-8")
    assert refused(path) == w.problem("xml_root", found="ScanGroup", expected="OWASPZAPReport")
    path.write_text(XML_REPORT[: len(XML_REPORT) // 2], encoding="utf-8")
    assert is_problem(refused(path), "xml_syntax")


def test_sniff_is_specific(tmp_path: Path) -> None:
    path = tmp_path / "x"
    assert ZapImporter.sniff(path, XML_REPORT.encode())
    assert ZapImporter.sniff(path, b"\xef\xbb\xbf  " + XML_REPORT.encode())
    assert not ZapImporter.sniff(path, b"<ScanGroup></ScanGroup>")
    assert not ZapImporter.sniff(path, b'{"site": []}')
    assert not ZapImporter.sniff(path, b'{"@generated": "x", "sites": []}')
    assert not ZapImporter.sniff(path, b"\x00\xff garbage")
