"""Robustness of the code/TLS importers: garbage in, ImportFormatError (or records) out.

Random bytes, random JSON values, and small valid files of every format — truncated,
byte-mutated and with random subtrees swapped in — must never raise anything but
ImportFormatError, and never the catch-all "unexpected structure" error either: that one
exists only as a safety net, so hitting it here means a shape the importer should check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.core.i18n import catalogue, t
from shaobing.findings.importers.bandit import BanditImporter
from shaobing.findings.importers.base import Importer, ImportFormatError
from shaobing.findings.importers.gitleaks import GitleaksImporter
from shaobing.findings.importers.sarif import SarifImporter
from shaobing.findings.importers.semgrep import SemgrepImporter
from shaobing.findings.importers.sqlmap import SqlmapImporter
from shaobing.findings.importers.sslyze import SslyzeImporter
from shaobing.findings.importers.testssl import TestsslImporter

IMPORTERS: list[type[Importer]] = [
    SarifImporter,
    BanditImporter,
    SemgrepImporter,
    GitleaksImporter,
    SqlmapImporter,
    SslyzeImporter,
    TestsslImporter,
]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --------------------------------------------------------------------------- valid samples
SARIF = {
    "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
    "version": "2.1.0",
    "runs": [
        {
            "tool": {
                "driver": {
                    "name": "CodeQL",
                    "globalMessageStrings": {"g": {"text": "global {0}"}},
                    "rules": [
                        {
                            "id": "js/xss",
                            "shortDescription": {"text": "XSS"},
                            "fullDescription": {"text": "full"},
                            "help": {"text": "help"},
                            "helpUri": "https://example.com/help",
                            "messageStrings": {"default": {"text": "Use of {0} {{x}}"}},
                            "defaultConfiguration": {"level": "error"},
                            "relationships": [
                                {"target": {"id": "79", "toolComponent": {"name": "CWE"}}}
                            ],
                            "properties": {
                                "tags": ["external/cwe/cwe-079"],
                                "security-severity": "6.1",
                                "precision": "high",
                            },
                        }
                    ],
                },
                "extensions": [{"name": "pack", "rules": [{"id": "ext/rule"}]}],
            },
            "originalUriBaseIds": {
                "ROOT": {"uri": "file:///work/"},
                "SRC": {"uri": "src/", "uriBaseId": "ROOT"},
            },
            "artifacts": [{"location": {"uri": "a.js", "uriBaseId": "SRC"}}],
            "results": [
                {
                    "ruleId": "js/xss",
                    "ruleIndex": 0,
                    "rule": {"id": "js/xss", "index": 0, "toolComponent": {"index": 0}},
                    "kind": "fail",
                    "level": "warning",
                    "message": {"id": "default", "arguments": ["eval"]},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"index": 0},
                                "region": {"startLine": 3, "snippet": {"text": "eval(x)"}},
                                "contextRegion": {"snippet": {"text": "ctx"}},
                            },
                            "logicalLocations": [{"fullyQualifiedName": "f"}],
                        },
                        {"physicalLocation": {"artifactLocation": {"uri": "b.js"}}},
                    ],
                    "partialFingerprints": {"primaryLocationLineHash": "abc:1"},
                    "fingerprints": {"v1": "f"},
                    "suppressions": [{"kind": "inSource", "status": "accepted"}],
                    "baselineState": "new",
                    "taxa": [{"id": "CWE-80"}],
                    "properties": {"tags": ["CWE-81"], "security-severity": 9},
                    "analysisTarget": {"uri": "c.js"},
                    "correlationGuid": "g",
                }
            ],
        }
    ],
}
BANDIT = {
    "errors": [{"filename": "x.py", "reason": "r"}],
    "generated_at": "2024-01-01T00:00:00Z",
    "metrics": {"_totals": {"SEVERITY.HIGH": 1}, "a.py": {}},
    "results": [
        {
            "code": "1 import pickle\n",
            "filename": "a.py",
            "issue_confidence": "HIGH",
            "issue_cwe": {"id": 502, "link": "https://cwe.mitre.org/data/definitions/502.html"},
            "issue_severity": "LOW",
            "issue_text": "pickle",
            "line_number": 1,
            "line_range": [1],
            "more_info": "https://bandit.readthedocs.io/",
            "test_id": "B403",
            "test_name": "blacklist",
            "col_offset": 0,
        }
    ],
}
SEMGREP = {
    "results": [
        {
            "check_id": "rule.id",
            "path": "a.py",
            "start": {"line": 1, "col": 1},
            "end": {"line": 2, "col": 1},
            "extra": {
                "message": "msg",
                "severity": "ERROR",
                "metadata": {
                    "cwe": ["CWE-79: x"],
                    "owasp": "A1",
                    "references": ["https://r"],
                    "confidence": "HIGH",
                    "likelihood": "LOW",
                    "impact": "LOW",
                    "cve": "CVE-2020-1234",
                },
                "lines": "code",
                "fingerprint": "fp_0",
                "is_ignored": False,
                "fix": "fixed",
            },
        }
    ],
    "errors": [],
    "paths": {"scanned": ["a.py"]},
    "version": "1.50.0",
}
SEMGREP_SSC = {
    "vulns": [
        {
            "title": "t",
            "advisory": {
                "ruleId": "ssc-1",
                "severity": "HIGH",
                "description": "d",
                "references": {"cveIds": ["CVE-2023-1"], "cweIds": ["CWE-1"], "urls": ["u"]},
            },
            "repositoryName": "r",
            "matchedDependency": {"name": "p", "versionSpecifier": "1"},
            "closestSafeDependency": {"name": "p", "versionSpecifier": "2"},
            "dependencyFileLocation": {"path": "req.txt", "startLine": "3"},
            "triage": {"status": "NEW"},
            "groupKey": "k",
        }
    ],
    "hasMore": False,
}
GITLEAKS_V8 = [
    {
        "Description": "AWS",
        "StartLine": 1,
        "Match": "key=AKIAXXXXXXXXXXXX",
        "Secret": "AKIAXXXXXXXXXXXX",
        "File": "a.env",
        "Commit": "c",
        "Tags": ["t"],
        "Entropy": 3.2,
        "RuleID": "aws",
        "Fingerprint": "c:a.env:aws:1",
    }
]
GITLEAKS_V7 = [
    {
        "line": "x=secretsecret",
        "lineNumber": 2,
        "offender": "secretsecret",
        "rule": "Generic",
        "file": "b",
        "commit": "d",
        "tags": "a, b",
    }
]
SQLMAP = (
    "Target URL,Place,Parameter,Technique(s),Note(s)\n"
    "http://h:8080/p?id=1,GET,id,BEUSTQ,\n"
    "http://h/q,POST,name,T,false positive or unexploitable\n"
)


def _sslyze_v5() -> dict[str, Any]:
    def done(result: Any) -> dict[str, Any]:
        return {"status": "COMPLETED", "result": result}

    suites = {"accepted_cipher_suites": [{"cipher_suite": {"name": "TLS_RSA_WITH_RC4_128_SHA"}}]}
    return {
        "date_scans_completed": "2024-01-01T00:00:00",
        "server_scan_results": [
            {
                "server_location": {"hostname": "h", "ip_address": "192.0.2.1", "port": 443},
                "network_configuration": {"tls_opportunistic_encryption": None},
                "connectivity_status": "COMPLETED",
                "scan_result": {
                    "tls_1_0_cipher_suites": done(suites),
                    "heartbleed": done({"is_vulnerable_to_heartbleed": True}),
                    "openssl_ccs_injection": done({"is_vulnerable_to_ccs_injection": True}),
                    "robot": done({"robot_result": "VULNERABLE_WEAK_ORACLE"}),
                    "tls_compression": done({"supports_compression": True}),
                    "tls_fallback_scsv": done({"supports_fallback_scsv": False}),
                    "session_renegotiation": done({"supports_secure_renegotiation": False}),
                    "certificate_info": done(
                        {
                            "certificate_deployments": [
                                {
                                    "received_certificate_chain": [
                                        {
                                            "subject": {"rfc4514_string": "CN=h"},
                                            "not_valid_after": "2023-01-01T00:00:00",
                                            "public_key": {"algorithm": "RSA", "key_size": 1024},
                                            "signature_hash_algorithm": {"name": "sha1"},
                                        }
                                    ],
                                    "leaf_certificate_subject_matches_hostname": False,
                                    "path_validation_results": [
                                        {
                                            "trust_store": {"name": "M"},
                                            "openssl_error_string": "self signed certificate",
                                        }
                                    ],
                                }
                            ]
                        }
                    ),
                },
            }
        ],
    }


SSLYZE_V2 = {
    "accepted_targets": [
        {
            "server_info": {"hostname": "h", "ip_address": "192.0.2.2", "port": 443},
            "commands_results": {
                "sslv3": {"accepted_cipher_list": [{"name": "EXP-RC4-MD5"}]},
                "certinfo": {
                    "received_certificate_chain": [{"publicKey": {"size": "512"}}],
                    "path_validation_result_list": [{"verify_string": "certificate has expired"}],
                },
                "reneg": {"accepts_client_renegotiation": True},
                "robot": {"robot_result_enum": "VULNERABLE_STRONG_ORACLE"},
                "compression": {"compression_name": None},
            },
        }
    ]
}
SSLYZE_XML = """<?xml version="1.0" encoding="utf-8"?>
<document SSLyzeVersion="1.4.3"><results>
<target host="h" ip="192.0.2.3" port="443" tlsWrappedProtocol="https">
<certinfo><receivedCertificateChain><certificate><notAfter>2019-01-01 00:00:00</notAfter>
<publicKey algorithm="RSA" size="1024"/></certificate></receivedCertificateChain>
<certificateValidation><pathValidation usingTrustStore="M" validationResult="ok"/>
</certificateValidation></certinfo>
<heartbleed><openSslHeartbleed isVulnerable="True"/></heartbleed>
<tlsv1 isProtocolSupported="True"><acceptedCipherSuites>
<cipherSuite anonymous="True" name="TLS_DH_anon_WITH_DES_CBC_SHA"/></acceptedCipherSuites></tlsv1>
</target></results></document>
"""
TESTSSL_FLAT = [
    {"id": "service", "ip": "h/192.0.2.4", "port": "443", "severity": "INFO", "finding": "HTTP"},
    {
        "id": "SSLv3",
        "ip": "h/192.0.2.4",
        "port": "443",
        "severity": "HIGH",
        "finding": "offered",
        "cve": "CVE-2014-3566",
        "cwe": "CWE-310",
        "hint": "h",
    },
]
TESTSSL_PRETTY = {
    "Invocation": "testssl.sh",
    "scanResult": [
        {
            "targetHost": "h",
            "ip": "192.0.2.5",
            "port": "443",
            "vulnerabilities": [{"id": "BREACH", "severity": "MEDIUM", "finding": "x"}],
        }
    ],
}
TESTSSL_CSV = (
    '"id","fqdn/ip","port","severity","finding","cve","cwe"\n'
    '"DROWN","h/192.0.2.6","443","HIGH","vulnerable","CVE-2016-0800 CVE-2016-0703","CWE-310"\n'
)

SAMPLES: list[tuple[type[Importer], str]] = [
    (SarifImporter, json.dumps(SARIF)),
    (BanditImporter, json.dumps(BANDIT)),
    (SemgrepImporter, json.dumps(SEMGREP)),
    (SemgrepImporter, json.dumps(SEMGREP_SSC)),
    (GitleaksImporter, json.dumps(GITLEAKS_V8)),
    (GitleaksImporter, json.dumps(GITLEAKS_V7)),
    (SqlmapImporter, SQLMAP),
    (SslyzeImporter, json.dumps(_sslyze_v5())),
    (SslyzeImporter, json.dumps(SSLYZE_V2)),
    (SslyzeImporter, SSLYZE_XML),
    (TestsslImporter, json.dumps(TESTSSL_FLAT)),
    (TestsslImporter, json.dumps(TESTSSL_PRETTY)),
    (TestsslImporter, TESTSSL_CSV),
]
JSON_SAMPLES = [(cls, text) for cls, text in SAMPLES if text.lstrip().startswith(("{", "["))]

# Keys the importers look for, so random documents reach past the first checks.
_KEY_WORDS = """
        File Match RuleID Secret StartLine accepted_cipher_suites accepted_targets advisory
        arguments artifactLocation artifacts certificate_deployments certificate_info check_id
        cipher_suite commands_results cve cwe driver errors extensions extra filename finding
        fingerprints generated_at id ip ip_address issue_cwe issue_severity kind level line
        locations message metadata metrics name offender originalUriBaseIds partialFingerprints
        path path_validation_results paths physicalLocation port properties
        received_certificate_chain references region result results rule ruleId ruleIndex rules
        runs scanResult scan_commands_results scan_result scanned security-severity server_info
        server_location server_scan_results severity snippet start startLine status suppressions
        tags test_id text tool triage uri uriBaseId version vulns
        """
KEYS = sorted(set(_KEY_WORDS.split()))
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["0", "443", "HIGH", "error", "CVE-2020-1", "CWE-79", "a/b", "{0}"])
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)


def _guard_prefix() -> str:
    """The start of the catch-all message, in whatever language is current."""
    return t("importers_code.problem.unexpected", error="\x00").split("\x00")[0]


def _check(importer: type[Importer], path: Path, data: bytes) -> None:
    importer.sniff(path, data[:65536])
    problem = ""
    try:
        list(importer().parse(path))
    except ImportFormatError as exc:
        problem = exc.problem
    assert not (problem and problem.startswith(_guard_prefix())), (importer.name, problem)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scratch directory for every generated file of this module."""
    return tmp_path_factory.mktemp("code_fuzz")


def _write(workdir: Path, data: bytes) -> Path:
    path = workdir / "input"
    path.write_bytes(data)
    return path


def test_valid_samples_import(workdir: Path) -> None:
    for importer, text in SAMPLES:
        path = _write(workdir, text.encode("utf-8"))
        assert importer.sniff(path, path.read_bytes()), importer.name
        assert list(importer().parse(path)), importer.name


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes(workdir: Path, data: bytes) -> None:
    path = _write(workdir, data)
    for importer in IMPORTERS:
        _check(importer, path, data)


@FUZZ
@given(value=JSON_VALUES)
def test_random_json_values(workdir: Path, value: Any) -> None:
    data = json.dumps(value).encode("utf-8")
    path = _write(workdir, data)
    for importer in IMPORTERS:
        _check(importer, path, data)


@FUZZ
@given(sample=st.sampled_from(SAMPLES), cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_samples(workdir: Path, sample: tuple[type[Importer], str], cut: float) -> None:
    importer, text = sample
    raw = text.encode("utf-8")
    data = raw[: int(len(raw) * cut)]
    _check(importer, _write(workdir, data), data)


def _mutations() -> st.SearchStrategy[Callable[[bytes], bytes]]:
    def flip(position: float, byte: int) -> Callable[[bytes], bytes]:
        def apply(raw: bytes) -> bytes:
            index = int(position * (len(raw) - 1))
            return raw[:index] + bytes([byte]) + raw[index + 1 :]

        return apply

    def delete(position: float, length: int) -> Callable[[bytes], bytes]:
        def apply(raw: bytes) -> bytes:
            index = int(position * len(raw))
            return raw[:index] + raw[index + length :]

        return apply

    def insert(position: float, chunk: bytes) -> Callable[[bytes], bytes]:
        def apply(raw: bytes) -> bytes:
            index = int(position * len(raw))
            return raw[:index] + chunk + raw[index:]

        return apply

    unit = st.floats(min_value=0.0, max_value=1.0)
    return st.one_of(
        st.builds(flip, unit, st.integers(0, 255)),
        st.builds(delete, unit, st.integers(1, 40)),
        st.builds(
            insert,
            unit,
            st.sampled_from([b"{", b"]", b'"', b",", b"\x00", b"\xff", b"<"])
            | st.binary(max_size=8),
        ),
    )


@FUZZ
@given(sample=st.sampled_from(SAMPLES), mutations=st.lists(_mutations(), min_size=1, max_size=4))
def test_mutated_samples(
    workdir: Path, sample: tuple[type[Importer], str], mutations: list[Callable[[bytes], bytes]]
) -> None:
    importer, text = sample
    data = text.encode("utf-8")
    for mutate in mutations:
        data = mutate(data)
    _check(importer, _write(workdir, data), data)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(node[path[0]], path[1:], value)
    return copy


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(sample=st.sampled_from(JSON_SAMPLES), pick=st.floats(0.0, 1.0), value=JSON_VALUES)
def test_subtree_swapped_samples(
    workdir: Path, sample: tuple[type[Importer], str], pick: float, value: Any
) -> None:
    importer, text = sample
    document = json.loads(text)
    paths = _paths(document)
    target = paths[min(int(pick * len(paths)), len(paths) - 1)]
    data = json.dumps(_replace(document, target, value)).encode("utf-8")
    _check(importer, _write(workdir, data), data)


# --------------------------------------------------------------------------- messages
_SOURCES = [
    Path(__file__).resolve().parents[3] / "src/shaobing/findings/importers" / name
    for name in (
        "_json.py",
        "sarif.py",
        "bandit.py",
        "semgrep.py",
        "gitleaks.py",
        "sqlmap.py",
        "sslyze.py",
        "testssl.py",
    )
]


def test_every_problem_key_exists_in_both_catalogues() -> None:
    keys: set[str] = set()
    for source in _SOURCES:
        text = source.read_text(encoding="utf-8")
        keys |= {f"problem.{k}" for k in re.findall(r'fail\(\s*\w+,\s*"(\w+)"', text)}
        keys |= set(re.findall(r't\(\s*"importers_code\.([\w.]+)"', text))
    keys |= {f"type.{name}" for name in ("object", "array")}
    assert "problem.not_sarif" in keys
    for language in ("zh-CN", "en"):
        texts = catalogue(language)
        missing = sorted(k for k in keys if f"importers_code.{k}" not in texts)
        assert not missing, (language, missing)
    zh = {k for k in catalogue("zh-CN") if k.startswith("importers_code.")}
    en = {k for k in catalogue("en") if k.startswith("importers_code.")}
    assert zh == en
