"""testssl.sh importer: flat JSON, pretty JSON, CSV, severities, hosts and the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    HostInput,
    ImportFormatError,
    Record,
)
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.importers.testssl import TestsslImporter, split_host
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir

IP = "testssl.sh/81.169.166.184"
FLAT: list[dict[str, Any]] = [
    {"id": "engine_problem", "severity": "WARN", "finding": "No engine or GOST support"},
    {"id": "service", "ip": IP, "port": "443", "severity": "INFO", "finding": "HTTP"},
    {
        "id": "SSLv3",
        "ip": IP,
        "port": "443",
        "severity": "HIGH",
        "cve": "",
        "cwe": "CWE-327",
        "finding": "offered",
    },
    {
        "id": "heartbleed",
        "ip": IP,
        "port": "443",
        "severity": "OK",
        "cve": "CVE-2014-0160",
        "cwe": "CWE-119",
        "finding": "not vulnerable, no heartbeat extension",
    },
    {
        "id": "POODLE_SSL",
        "ip": IP,
        "port": "443",
        "severity": "HIGH",
        "cve": "CVE-2014-3566 cve-2014-3566",
        "cwe": "CWE-310",
        "finding": "VULNERABLE, uses SSLv3+CBC",
        "hint": "disable SSLv3",
    },
    {
        "id": "LUCKY13",
        "ip": IP,
        "port": "443",
        "severity": "LOW",
        "cve": "CVE-2013-0169",
        "cwe": "CWE-310",
        "finding": "potentially vulnerable,   uses TLS CBC ciphers",
    },
    {
        "id": "DROWN",
        "ip": IP,
        "port": "443",
        "severity": "CRITICAL",
        "cve": "CVE-2016-0800 CVE-2016-0703",
        "cwe": "CWE-310",
        "finding": "vulnerable",
    },
    {"id": "overall_grade", "ip": IP, "port": "443", "severity": "MEDIUM", "finding": "B"},
    {"id": "scanProblem", "ip": IP, "port": "443", "severity": "FATAL", "finding": "aborted"},
    {"id": "debug", "ip": IP, "port": "443", "severity": "DEBUG", "finding": "x"},
]


def _write(tmp_path: Path, content: Any, name: str = "testssl.json") -> Path:
    path = tmp_path / name
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    return path


def _records(path: Path) -> list[Record]:
    return list(TestsslImporter().parse(path))


def _findings(path: Path) -> list[FindingInput]:
    return [r for r in _records(path) if isinstance(r, FindingInput)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("testssl.sh/81.169.166.184", ("testssl.sh", "81.169.166.184")),
        ("host.example/", ("host.example", None)),
        ("/10.0.0.1", (None, "10.0.0.1")),
        ("asdf.com", ("asdf.com", None)),
        ("10.0.0.2", (None, "10.0.0.2")),
        ("v6.example/2001:db8::1", ("v6.example", "2001:db8::1")),
        ("[2001:db8::2]", (None, "2001:db8::2")),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_split_host(value: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_host(value) == expected


def test_flat_json(tmp_path: Path) -> None:
    records = _records(_write(tmp_path, FLAT))
    findings = [r for r in records if isinstance(r, FindingInput)]
    assert [(f.check_id, f.severity) for f in findings] == [
        ("SSLv3", Severity.HIGH),
        ("POODLE_SSL", Severity.HIGH),
        ("LUCKY13", Severity.LOW),
        ("DROWN", Severity.CRITICAL),
        ("overall_grade", Severity.MEDIUM),
    ]
    poodle = findings[1]
    assert poodle.source_tool == "testssl"
    assert poodle.title == "POODLE_SSL: VULNERABLE, uses SSLv3+CBC"
    assert (poodle.host, poodle.port, poodle.protocol) == ("81.169.166.184", 443, "tcp")
    assert poodle.cve_ids == ["CVE-2014-3566"]
    assert poodle.cwe_ids == [310]
    assert poodle.remediation == "disable SSLv3"
    assert poodle.evidence == "VULNERABLE, uses SSLv3+CBC"
    assert poodle.extra == {"hostname": "testssl.sh"}
    assert findings[2].title == "LUCKY13: potentially vulnerable, uses TLS CBC ciphers"
    assert findings[3].cve_ids == ["CVE-2016-0800", "CVE-2016-0703"]
    (host,) = (r for r in records if isinstance(r, HostInput))
    assert host.address == "81.169.166.184"
    assert host.hostnames == ["testssl.sh"]
    assert [(s.port, s.service) for s in host.services] == [(443, "https")]
    (coverage,) = (r for r in records if isinstance(r, CoverageInput))
    assert coverage.hosts == ["81.169.166.184"]


def test_pretty_json(tmp_path: Path) -> None:
    document = {
        "Invocation": "testssl.sh --jsonfile-pretty out.json example.com",
        "at": "box:/usr/bin/openssl",
        "version": "3.0.8",
        "startTime": "1700000000",
        "scanResult": [
            {
                "targetHost": "example.com",
                "ip": "93.184.216.34",
                "port": "443",
                "rDNS": "",
                "service": "HTTP",
                "protocols": [
                    {"id": "TLS1", "severity": "LOW", "finding": "offered (deprecated)"},
                    {"id": "TLS1_2", "severity": "OK", "finding": "offered"},
                ],
                "vulnerabilities": [
                    {
                        "id": "BREACH",
                        "severity": "MEDIUM",
                        "cve": "CVE-2013-3587",
                        "cwe": "CWE-310",
                        "finding": "potentially VULNERABLE",
                    },
                ],
            },
            {"id": "scanProblem", "severity": "FATAL", "finding": "no connection"},
        ],
        "scanTime": 50,
    }
    path = _write(tmp_path, document)
    assert TestsslImporter.sniff(path, path.read_bytes())
    records = _records(path)
    findings = [r for r in records if isinstance(r, FindingInput)]
    assert [f.check_id for f in findings] == ["TLS1", "BREACH"]
    assert {f.host for f in findings} == {"93.184.216.34"}
    assert findings[1].cve_ids == ["CVE-2013-3587"]
    (host,) = (r for r in records if isinstance(r, HostInput))
    assert (host.address, host.hostnames) == ("93.184.216.34", ["example.com"])


def test_csv_with_hint_column(tmp_path: Path) -> None:
    text = (
        '"id","fqdn/ip","port","severity","finding","cve","cwe","hint"\n'
        '"BEAST","mail.example/192.0.2.1","465","LOW","VULNERABLE","CVE-2011-3389","CWE-20",'
        '"use TLS 1.2"\n'
        '"service","mail.example/192.0.2.1","465","INFO","SMTP","",""\n'
    )
    records = _records(_write(tmp_path, text, "out.csv"))
    (finding,) = (r for r in records if isinstance(r, FindingInput))
    assert (finding.check_id, finding.port, finding.remediation) == ("BEAST", 465, "use TLS 1.2")
    (host,) = (r for r in records if isinstance(r, HostInput))
    assert [(s.port, s.service) for s in host.services] == [(465, "smtp")]


@pytest.mark.parametrize(
    ("content", "name"),
    [
        ('"id","fqdn/ip","port"\n"a","b","1"\n', "short.csv"),
        ("id;host\n", "other.csv"),
        ('{"scanResult": 5}', "a.json"),
        ('{"other": []}', "b.json"),
        ("[1, 2]", "c.json"),
        ('{"scanResult": [5]}', "d.json"),
        ('[{"id": "x", "ip": "h/1.2.3.4", "severity": "HIGH", "finding": "y"', "e.json"),
    ],
)
def test_malformed(tmp_path: Path, content: str, name: str) -> None:
    with pytest.raises(ImportFormatError):
        _records(_write(tmp_path, content, name))


def test_sniff(tmp_path: Path) -> None:
    flat = _write(tmp_path, FLAT)
    assert TestsslImporter.sniff(flat, flat.read_bytes())
    assert detect_importer(flat).name == "testssl"
    assert not TestsslImporter.sniff(flat, b'[{"id": 1, "severity": "high", "name": "x"}]')
    assert not TestsslImporter.sniff(flat, b"Target URL,Place,Parameter,Technique(s),Note(s)\n")


# --------------------------------------------------------------------------- corpus
CORPUS_EXPECTED: dict[str, dict[str, Any]] = {
    "defectdojo_many_vuln.csv": {
        "count": 16,
        "severities": {"low": 12, "high": 4},
        "hosts": ["185.199.110.153", "185.199.108.153", "185.199.109.153", "185.199.111.153"],
    },
    "defectdojo_no_vuln.csv": {"count": 0, "severities": {}, "hosts": []},
    "demo.csv": {"count": 0, "severities": {}, "hosts": ["104.131.110.75"]},
    "many_cves.csv": {"count": 1, "severities": {"high": 1}, "hosts": ["185.199.109.153"]},
    "overall_medium.csv": {"count": 1, "severities": {"medium": 1}, "hosts": ["127.0.0.1"]},
    "references.csv": {
        "count": 39,
        "severities": {"high": 11, "medium": 5, "low": 23},
        "hosts": [None],  # "asdf.com" has no IP: the host is known by name only
    },
}


def test_corpus_lists_every_file() -> None:
    assert sorted(p.name for p in corpus_dir("testssl").iterdir()) == sorted(CORPUS_EXPECTED)


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus(name: str) -> None:
    path = corpus_dir("testssl") / name
    expected = CORPUS_EXPECTED[name]
    records = _records(path)
    findings = [r for r in records if isinstance(r, FindingInput)]
    assert len(findings) == expected["count"]
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity.value] = counts.get(finding.severity.value, 0) + 1
    assert counts == expected["severities"]
    assert [r.address for r in records if isinstance(r, HostInput)] == expected["hosts"]
    assert detect_importer(path).name == "testssl"


def test_corpus_fields() -> None:
    folder = corpus_dir("testssl")
    (drown,) = _findings(folder / "many_cves.csv")
    assert drown.title == "DROWN: vulnerable to DROWN on this host and port"
    assert drown.cve_ids == ["CVE-2016-0800", "CVE-2016-0703"]
    assert drown.cwe_ids == [310]
    assert (drown.host, drown.port) == ("185.199.109.153", 443)
    many = _findings(folder / "defectdojo_many_vuln.csv")
    breach = [f for f in many if f.check_id == "BREACH"]
    assert len(breach) == 4
    assert {f.cve_ids[0] for f in breach} == {"CVE-2013-3587"}
    refs = _findings(folder / "references.csv")
    assert refs[0].check_id == "cipherlist_LOW"
    assert (refs[0].host, refs[0].cwe_ids) == ("asdf.com", [327])
    assert refs[3].title.startswith("cipher-ssl2_x010080: SSLv2 x010080 RC4-MD5 RSA RC4 128")
    records = _records(folder / "references.csv")
    (host,) = (r for r in records if isinstance(r, HostInput))
    assert (host.hostnames, host.services[0].service) == (["asdf.com"], "https")


def test_sniff_rejects_every_other_corpus() -> None:
    corpus_dir("testssl")
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        if path.parent.name == "testssl" or path.parent == CORPUS:
            continue
        assert not TestsslImporter.sniff(path, path.read_bytes()[:SNIFF_BYTES]), path
