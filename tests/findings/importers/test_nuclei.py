"""Nuclei importer: JSON Lines and JSON-array output, 2.x and 3.x key spellings."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from shaobing.findings.importers import _web as w
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
)
from shaobing.findings.importers.nuclei import NucleiImporter
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.severity import Severity
from tests.findings.corpus import corpus_dir
from tests.findings.importers.common import parse_web, refusal


def run(path: Path) -> tuple[list[FindingInput], list[CoverageInput]]:
    return parse_web(NucleiImporter(), path)


def refused(path: Path) -> str:
    return refusal(NucleiImporter(), path)


def by_check(findings: list[FindingInput], check_id: str) -> FindingInput:
    (found,) = [f for f in findings if f.check_id == check_id]
    return found


# ------------------------------------------------------------------ corpus

CORPUS = {
    # file → (findings, severity counts)
    "issue_14071.json": (27, {"info": 23, "medium": 2, "low": 1, "critical": 1, "high": 0}),
    "many_findings.json": (18, {"info": 16, "low": 1, "medium": 1}),
    "multiple_v3.json": (6, {"info": 6}),
}


def test_corpus_is_covered() -> None:
    files = sorted(p.name for p in corpus_dir("nuclei").iterdir() if p.is_file())
    assert files == sorted(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_counts(name: str) -> None:
    path = corpus_dir("nuclei") / name
    count, severities = CORPUS[name]
    findings, coverage = run(path)
    assert len(findings) == count
    expected = Counter({k: v for k, v in severities.items() if v})
    assert Counter(f.severity.value for f in findings) == expected
    assert len(coverage) == 1
    assert all(f.source_tool == "nuclei" and f.tool_unique_id is None for f in findings)
    assert detect_importer(path).name == "nuclei"


def test_corpus_v3_jsonl_with_url_fields() -> None:
    findings, (coverage,) = run(corpus_dir("nuclei") / "issue_14071.json")
    login = by_check(findings, "dvwa-default-login")
    assert login.severity is Severity.CRITICAL
    assert login.title == "DVWA Default Login"
    assert login.url == "http://dvwa_dvwa_1/index.php"
    assert (login.host, login.port, login.protocol) == ("dvwa_dvwa_1", 80, "tcp")
    assert login.cwe_ids == [798]
    assert login.cve_ids == []
    assert login.references == ["https://opensourcelibs.com/lib/dvwa"]
    assert login.extra["ip"] == "172.18.0.3"
    assert login.extra["tags"] == ["dvwa", "default-login", "vuln"]
    evidence = login.evidence or ""
    assert evidence.startswith("curl-command:\ncurl -X 'GET' -d 'username=admin")
    assert "request:\nPOST /login.php HTTP/1.1" in evidence
    git = by_check(findings, "git-config")
    assert (git.cvss_v3_vector, git.cvss_v3_score) == (
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
        5.3,
    )
    assert by_check(findings, "waf-detect:apachegeneric").url == "http://dvwa_dvwa_1/"
    # javascript templates have no matched-at; their url field reads "/http://dvwa_dvwa_1/".
    cookies = by_check(findings, "cookies-without-httponly")
    assert (cookies.url, cookies.host, cookies.port) == ("http://dvwa_dvwa_1/", "dvwa_dvwa_1", 80)
    assert cookies.extra["extracted_results"] == ["security", "PHPSESSID"]
    assert cookies.remediation is not None and cookies.remediation.startswith("Ensure that all")
    phpinfo = by_check(findings, "phpinfo-files")
    response = (phpinfo.evidence or "").split("response:\n", 1)[1]
    assert len(response) == w.EVIDENCE_LIMIT + 1  # the response is cut at 20,000 characters
    headers = [f.check_id for f in findings if f.check_id.startswith("http-missing-security")]
    assert len(headers) == 11
    dns = by_check(findings, "nameserver-fingerprint")
    assert (dns.url, dns.host, dns.port) == (None, None, None)
    assert coverage.urls == ["http://dvwa_dvwa_1"]
    assert coverage.hosts == []


def test_corpus_v2_keys() -> None:
    findings, (coverage,) = run(corpus_dir("nuclei") / "many_findings.json")
    ssh = by_check(findings, "openssh5.3-detect")
    assert ssh.severity is Severity.LOW
    assert (ssh.url, ssh.host, ssh.port) == (None, "nuclei-example.com", 22)
    assert ssh.references == [
        "http://seclists.org/fulldisclosure/2016/Jul/51",
        "https://security-tracker.debian.org/tracker/CVE-2016-6210",
        "http://openwall.com/lists/oss-security/2016/08/01/2",
    ]
    assert ssh.extra["tags"] == ["network", "openssh"]
    nginx = by_check(findings, "nginx-version")
    assert nginx.url == "https://nuclei-example.com"
    assert nginx.evidence == "extracted-results:\nnginx/1.14.2"
    goat = [f for f in findings if f.url == "http://127.0.0.1:8080/WebGoat"]
    assert [f.check_id for f in goat] == [
        "tech-detect:animate.css",
        "tech-detect:bootstrap",
        "tech-detect:font-awesome",
    ]
    assert by_check(findings, "mysql-native-password-bruteforce").port == 3306
    assert coverage.urls == [
        "https://nuclei-example.com",
        "http://127.0.0.1:8080",
        "http://127.0.0.1:9090",
    ]
    assert coverage.hosts == ["nuclei-example.com"]


def test_corpus_json_export_array() -> None:
    findings, (coverage,) = run(corpus_dir("nuclei") / "multiple_v3.json")
    assert [f.check_id for f in findings] == [
        "dns-saas-service-detection:wix",
        "caa-fingerprint",
        "ssl-issuer",
        "ssl-dns-names",
        "tls-version",
        "tls-version",
    ]
    wix = findings[0]
    assert (wix.host, wix.port, wix.url) == ("www.asdf.de", None, None)
    assert wix.evidence is not None and wix.evidence.startswith(
        "extracted-results:\npointing.wixdns.net\n\nrequest:\n;; opcode: QUERY"
    )
    assert findings[1].cwe_ids == [200]
    assert (findings[2].host, findings[2].port) == ("www.asdf.de", 443)
    assert coverage.hosts == ["www.asdf.de"]
    assert coverage.urls == []


# --------------------------------------------------------------- synthetic


def result(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "template-id": "CVE-2021-44228",
        "info": {
            "name": "Apache Log4j2 RCE",
            "severity": "critical",
            "description": "JNDI lookup.",
            "remediation": "Upgrade.",
            "reference": "https://logging.apache.org/log4j/2.x/security.html",
            "tags": "cve,rce, log4j",
            "classification": {
                "cve-id": ["cve-2021-44228", "CVE-2021-44228", "CVE-2021-45046"],
                "cwe-id": "cwe-502,cwe-20",
                "cvss-metrics": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                "cvss-score": 10,
            },
        },
        "type": "http",
        "host": "https://www.example.com",
        "matched-at": "https://www.example.com:8443/api?x=1",
        "ip": "203.0.113.9",
        "timestamp": "2024-01-01T10:00:00Z",
        "fuzzing_parameter": "x",
    }
    obj.update(changes)
    return obj


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_fields_and_blank_lines(tmp_path: Path) -> None:
    network = result(
        **{"template-id": "redis-unauth", "type": "network", "matched-at": "192.0.2.10:6379"}
    )
    network["info"] = {"name": "Redis", "severity": "high", "classification": {"cwe-id": 0}}
    path = write_lines(
        tmp_path / "out.jsonl", ["", json.dumps(result()), "   ", json.dumps(network)]
    )
    (log4j, redis), (coverage,) = run(path)
    assert log4j.check_id == "CVE-2021-44228"
    assert log4j.cve_ids == ["CVE-2021-44228", "CVE-2021-45046"]
    assert log4j.cwe_ids == [502, 20]
    assert log4j.cvss_v3_vector is None
    assert log4j.cvss_v4_vector is not None and log4j.cvss_v4_vector.startswith("CVSS:4.0/")
    assert (log4j.cvss_v4_score, log4j.cvss_v3_score) == (10.0, None)
    assert log4j.extra["tags"] == ["cve", "rce", "log4j"]
    assert log4j.references == ["https://logging.apache.org/log4j/2.x/security.html"]
    assert (log4j.host, log4j.port, log4j.parameter) == ("www.example.com", 8443, "x")
    assert log4j.evidence is None
    assert "timestamp" not in json.dumps(log4j.extra)
    assert (redis.check_id, redis.severity) == ("redis-unauth", Severity.HIGH)
    assert (redis.url, redis.host, redis.port, redis.protocol) == (None, "192.0.2.10", 6379, "tcp")
    assert redis.cwe_ids == []
    assert coverage.urls == ["https://www.example.com:8443"]
    assert coverage.hosts == ["192.0.2.10"]
    assert detect_importer(path).name == "nuclei"


def test_jsonl_bad_line_is_named(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "out.jsonl", [json.dumps(result()), "", "{not json"])
    assert refused(path) == w.problem(
        "nuclei_line_json",
        line=3,
        column=2,
        error="Expecting property name enclosed in double quotes",
    )
    write_lines(path, [json.dumps(result()), "[1]"])
    assert refused(path) == w.problem("nuclei_line_not_object", line=2)
    write_lines(path, [json.dumps(result()), '{"info": {}}'])
    assert refused(path) == w.problem("nuclei_line_no_template", line=2)
    path.write_bytes(json.dumps(result()).encode() + b"\n\xff\xfe\n")
    assert refused(path) == w.problem("line_not_utf8", line=2)


def test_json_array_streams_across_chunks(tmp_path: Path) -> None:
    # ~3 MB: several read chunks, results cut at chunk edges, one very large result.
    items = [
        result(**{"matched-at": f"https://www.example.com/p{i}", "response": "r" * 1500})
        for i in range(2000)
    ]
    items.append(result(response="z" * 1_500_000))
    path = tmp_path / "export.json"
    path.write_text(json.dumps(items, indent=2), encoding="utf-8")
    findings, (coverage,) = run(path)
    assert len(findings) == 2001
    assert findings[1999].url == "https://www.example.com/p1999"
    assert findings[2000].url == "https://www.example.com:8443/api?x=1"
    assert coverage.urls == ["https://www.example.com", "https://www.example.com:8443"]


def test_empty_array_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text("[ ]\n", encoding="utf-8")
    assert run(path) == ([], [])


@pytest.mark.parametrize(
    ("content", "key", "params"),
    [
        ("", "empty", {}),
        ("\n\n  \n", "empty", {}),
        ("nope", "nuclei_not_json", {}),
        ("[1]", "nuclei_item_not_object", {"index": 0}),
        ('[{"info": {}}]', "nuclei_item_no_template", {"index": 0}),
        ('[{"template-id": "a"}', "json_truncated", {"line": 1, "column": 22}),
        ('[{"template-id": "a"} {}]', "json_separator", {"line": 1, "column": 23}),
        ('[{"template-id": "a"}]\n]', "json_extra", {"line": 2, "column": 1}),
        ('[{"template-id": "a", ', "json_syntax",
         {"line": 1, "column": 23, "error": "Expecting property name enclosed in double quotes"}),
    ],
)  # fmt: skip
def test_refused_files(tmp_path: Path, content: str, key: str, params: dict[str, object]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    assert refused(path) == w.problem(key, **params)


def test_sniff(tmp_path: Path) -> None:
    path = tmp_path / "x"
    line = json.dumps(result()).encode()
    assert NucleiImporter.sniff(path, b"\n\n" + line + b"\n")
    assert NucleiImporter.sniff(path, json.dumps([result()], indent=1).encode())
    old = json.dumps({"templateID": "x", "info": {"severity": "info"}}).encode()
    assert NucleiImporter.sniff(path, old)
    # A first result longer than the sniffed head is recognised by its keys.
    huge = json.dumps(result(response="y" * SNIFF_BYTES)).encode()
    assert NucleiImporter.sniff(path, huge[:SNIFF_BYTES])
    assert not NucleiImporter.sniff(path, b'{"info": {}, "id": "x"}\n')
    assert not NucleiImporter.sniff(path, b'{"template-id": "x", "info": "no"}\n')
    assert not NucleiImporter.sniff(path, b'[{"Target": "x"}]')
    assert not NucleiImporter.sniff(path, b"{broken\n")
    assert not NucleiImporter.sniff(path, b"[" * 70_000)
