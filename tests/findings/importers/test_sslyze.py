"""SSLyze importer: conclusions per check, every output generation, errors and the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shaobing.core.i18n import catalogue
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    HostInput,
    ImportFormatError,
    Record,
)
from shaobing.findings.importers.registry import detect_importer
from shaobing.findings.importers.sslyze import CHECKS, SslyzeImporter, cipher_families
from shaobing.findings.severity import Severity
from tests.findings.corpus import CORPUS, corpus_dir

GOOD_SUITE = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


def _suite(name: str, anonymous: bool = False) -> dict[str, Any]:
    return {"cipher_suite": {"name": name, "is_anonymous": anonymous, "key_size": 128}}


def _completed(result: dict[str, Any] | None) -> dict[str, Any]:
    return {"status": "COMPLETED", "result": result, "error_reason": None}


def _cert(**changes: Any) -> dict[str, Any]:
    cert = {
        "subject": {"rfc4514_string": "CN=www.example.com"},
        "not_valid_before": "2024-01-01T00:00:00",
        "not_valid_after": "2025-01-01T00:00:00",
        "public_key": {"algorithm": "_RSAPublicKey", "key_size": 2048},
        "signature_hash_algorithm": {"name": "sha256"},
    }
    return cert | changes


def _v5(
    accepted: dict[str, list[dict[str, Any]]] | None = None,
    cert: dict[str, Any] | None = None,
    deployment: dict[str, Any] | None = None,
    validations: list[dict[str, Any]] | None = None,
    **results: dict[str, Any] | None,
) -> dict[str, Any]:
    """A minimal SSLyze 5.x document with one server and the given results."""
    accepted = {"tls_1_2_cipher_suites": [_suite(GOOD_SUITE)]} | (accepted or {})
    scan: dict[str, Any] = {
        key: _completed(
            {"accepted_cipher_suites": suites, "is_tls_version_supported": bool(suites)}
        )
        for key, suites in accepted.items()
    }
    if validations is None:
        validations = [
            {
                "trust_store": {"name": "Mozilla"},
                "openssl_error_string": None,
                "was_validation_successful": True,
            }
        ]
    scan["certificate_info"] = _completed(
        {
            "certificate_deployments": [
                {
                    "received_certificate_chain": [cert or _cert()],
                    "leaf_certificate_subject_matches_hostname": True,
                    "verified_chain_has_sha1_signature": False,
                    "path_validation_results": validations,
                }
                | (deployment or {})
            ]
        }
    )
    defaults: dict[str, dict[str, Any]] = {
        "heartbleed": {"is_vulnerable_to_heartbleed": False},
        "openssl_ccs_injection": {"is_vulnerable_to_ccs_injection": False},
        "robot": {"robot_result": "NOT_VULNERABLE_NO_ORACLE"},
        "tls_compression": {"supports_compression": False},
        "tls_fallback_scsv": {"supports_fallback_scsv": True},
        "session_renegotiation": {
            "supports_secure_renegotiation": True,
            "is_vulnerable_to_client_renegotiation_dos": False,
        },
    }
    for name, result in (defaults | results).items():
        scan[name] = _completed(result)
    return {
        "date_scans_started": "2024-06-01T10:00:00",
        "date_scans_completed": "2024-06-01T10:05:00",
        "sslyze_version": "5.2.0",
        "server_scan_results": [
            {
                "server_location": {
                    "hostname": "www.example.com",
                    "ip_address": "203.0.113.5",
                    "port": 443,
                    "connection_type": "DIRECT",
                },
                "network_configuration": {"tls_opportunistic_encryption": None},
                "connectivity_status": "COMPLETED",
                "scan_status": "COMPLETED",
                "scan_result": scan,
            }
        ],
    }


def _write(tmp_path: Path, document: Any, name: str = "sslyze.json") -> Path:
    path = tmp_path / name
    text = document if isinstance(document, str) else json.dumps(document)
    path.write_text(text, encoding="utf-8")
    return path


def _records(path: Path) -> list[Record]:
    return list(SslyzeImporter().parse(path))


def _checks(tmp_path: Path, document: Any) -> dict[str, FindingInput]:
    findings = [r for r in _records(_write(tmp_path, document)) if isinstance(r, FindingInput)]
    return {f.check_id: f for f in findings}


# --------------------------------------------------------------------------- texts
def test_every_check_has_texts_in_both_languages() -> None:
    for language in ("zh-CN", "en"):
        texts = catalogue(language)
        for check_id in CHECKS:
            for part in ("title", "description", "remediation"):
                assert texts.get(f"importers_code.{check_id}.{part}"), (language, check_id, part)


def test_clean_server_has_no_findings_but_a_host_and_coverage(tmp_path: Path) -> None:
    host, coverage = _records(_write(tmp_path, _v5()))
    assert isinstance(host, HostInput)
    assert host.address == "203.0.113.5"
    assert host.hostnames == ["www.example.com"]
    assert [(s.port, s.service) for s in host.services] == [(443, "https")]
    assert isinstance(coverage, CoverageInput)
    assert coverage.hosts == ["203.0.113.5"]


# --------------------------------------------------------------------------- protocols
def test_one_finding_per_old_protocol(tmp_path: Path) -> None:
    accepted = {
        "ssl_2_0_cipher_suites": [_suite("SSL_CK_RC4_128_WITH_MD5")],
        "ssl_3_0_cipher_suites": [_suite("TLS_RSA_WITH_AES_128_CBC_SHA")],
        "tls_1_0_cipher_suites": [_suite("TLS_RSA_WITH_AES_128_CBC_SHA")],
        "tls_1_1_cipher_suites": [_suite("TLS_RSA_WITH_AES_256_CBC_SHA")],
        "tls_1_3_cipher_suites": [_suite("TLS_AES_128_GCM_SHA256")],
    }
    checks = _checks(tmp_path, _v5(accepted))
    assert set(checks) == {
        "tls.protocol.ssl2_0",
        "tls.protocol.ssl3_0",
        "tls.protocol.tls1_0",
        "tls.protocol.tls1_1",
        "tls.cipher.rc4",
    }
    tls10 = checks["tls.protocol.tls1_0"]
    assert tls10.source_tool == "sslyze"
    assert tls10.severity is Severity.MEDIUM
    assert (tls10.host, tls10.port, tls10.protocol) == ("203.0.113.5", 443, "tcp")
    assert tls10.evidence == "TLS 1.0: TLS_RSA_WITH_AES_128_CBC_SHA"
    assert tls10.extra["hostname"] == "www.example.com"
    assert checks["tls.protocol.ssl3_0"].cve_ids == ["CVE-2014-3566"]
    assert checks["tls.protocol.ssl2_0"].severity is Severity.HIGH


@pytest.mark.parametrize(
    ("name", "anonymous", "families"),
    [
        ("TLS_RSA_WITH_NULL_SHA256", False, {"null"}),
        ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", False, {"export", "rc4"}),
        ("EXP1024-DES-CBC-SHA", False, {"export", "des"}),
        ("TLS_DH_anon_WITH_AES_128_CBC_SHA", False, {"anon"}),
        ("ADH-AES256-SHA", False, {"anon"}),
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", True, {"anon"}),
        ("TLS_RSA_WITH_RC4_128_SHA", False, {"rc4"}),
        ("TLS_RSA_WITH_DES_CBC_SHA", False, {"des"}),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", False, {"3des"}),
        ("DES-CBC3-SHA", False, {"3des"}),
        ("SSL_CK_DES_192_EDE3_CBC_WITH_MD5", False, {"3des"}),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", False, set()),  # CBC + SHA-1 is fine
        ("TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", False, set()),
        ("TLS_RSA_WITH_SEED_CBC_SHA", False, set()),
        ("TLS_CHACHA20_POLY1305_SHA256", False, set()),
    ],
)
def test_cipher_families(name: str, anonymous: bool, families: set[str]) -> None:
    assert cipher_families(name, anonymous) == families


def test_weak_ciphers_group_per_family_across_protocols(tmp_path: Path) -> None:
    accepted = {
        "tls_1_2_cipher_suites": [
            _suite(GOOD_SUITE),
            _suite("TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
            _suite("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
            _suite("TLS_RSA_WITH_NULL_SHA"),
            _suite("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", anonymous=True),
        ],
        "tls_1_3_cipher_suites": [],
    }
    checks = _checks(tmp_path, _v5(accepted))
    assert set(checks) == {"tls.cipher.3des", "tls.cipher.null", "tls.cipher.anon"}
    assert checks["tls.cipher.3des"].evidence == (
        "TLS 1.2: TLS_RSA_WITH_3DES_EDE_CBC_SHA\nTLS 1.2: TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"
    )
    assert checks["tls.cipher.3des"].cve_ids == ["CVE-2016-2183"]
    assert checks["tls.cipher.null"].severity is Severity.HIGH


# --------------------------------------------------------------------------- certificates
def test_certificate_dates_against_scan_date(tmp_path: Path) -> None:
    expired = _cert(not_valid_after="2024-05-01T00:00:00")
    assert set(_checks(tmp_path, _v5(cert=expired))) == {"tls.cert.expired"}
    early = _cert(not_valid_before="2024-07-01T00:00:00Z")
    assert set(_checks(tmp_path, _v5(cert=early))) == {"tls.cert.not_yet_valid"}


def test_no_scan_date_means_no_date_conclusion(tmp_path: Path) -> None:
    document = _v5(cert=_cert(not_valid_after="2000-01-01T00:00:00"))
    del document["date_scans_started"], document["date_scans_completed"]
    assert _checks(tmp_path, document) == {}


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        (["certificate has expired", "certificate has expired"], {"tls.cert.expired"}),
        (["self signed certificate", "self signed certificate"], {"tls.cert.self_signed"}),
        (["unable to get local issuer certificate"] * 2, {"tls.cert.untrusted"}),
        (["unable to get local issuer certificate", None], set()),  # one store trusts it
    ],
)
def test_path_validation(tmp_path: Path, errors: list[str | None], expected: set[str]) -> None:
    validations = [
        {
            "trust_store": {"name": f"store{i}"},
            "openssl_error_string": error,
            "was_validation_successful": error is None,
        }
        for i, error in enumerate(errors)
    ]
    checks = _checks(tmp_path, _v5(validations=validations))
    assert set(checks) == expected
    for finding in checks.values():
        assert finding.evidence is not None
        assert "store0: " in finding.evidence


def test_hostname_key_and_signature(tmp_path: Path) -> None:
    weak = _cert(
        public_key={"algorithm": "_RSAPublicKey", "key_size": 1024},
        signature_hash_algorithm={"name": "sha1"},
    )
    deployment = {"leaf_certificate_subject_matches_hostname": False}
    checks = _checks(tmp_path, _v5(cert=weak, deployment=deployment))
    assert set(checks) == {
        "tls.cert.hostname_mismatch",
        "tls.cert.weak_key",
        "tls.cert.sha1_signature",
    }
    assert checks["tls.cert.weak_key"].evidence is not None
    assert "public_key: _RSAPublicKey 1024" in checks["tls.cert.weak_key"].evidence
    ec_key = _cert(public_key={"algorithm": "_EllipticCurvePublicKey", "key_size": 256})
    assert _checks(tmp_path, _v5(cert=ec_key)) == {}
    chain_sha1 = {"verified_chain_has_sha1_signature": True}
    assert set(_checks(tmp_path, _v5(deployment=chain_sha1))) == {"tls.cert.sha1_signature"}


# --------------------------------------------------------------------------- vulnerabilities
def test_vulnerability_probes(tmp_path: Path) -> None:
    document = _v5(
        heartbleed={"is_vulnerable_to_heartbleed": True},
        openssl_ccs_injection={"is_vulnerable_to_ccs_injection": True},
        robot={"robot_result": "VULNERABLE_STRONG_ORACLE"},
        tls_compression={"supports_compression": True},
        tls_fallback_scsv={"supports_fallback_scsv": False},
        session_renegotiation={
            "supports_secure_renegotiation": False,
            "is_vulnerable_to_client_renegotiation_dos": True,
        },
    )
    checks = _checks(tmp_path, document)
    assert set(checks) == {
        "tls.vuln.heartbleed",
        "tls.vuln.ccs_injection",
        "tls.vuln.robot",
        "tls.vuln.compression",
        "tls.fallback_scsv.missing",
        "tls.renegotiation.insecure",
        "tls.renegotiation.client_initiated",
    }
    assert checks["tls.vuln.heartbleed"].cve_ids == ["CVE-2014-0160"]
    assert checks["tls.vuln.heartbleed"].cwe_ids == [125]
    assert checks["tls.vuln.robot"].severity is Severity.HIGH
    weak = _checks(tmp_path, _v5(robot={"robot_result": "VULNERABLE_WEAK_ORACLE"}))
    assert weak["tls.vuln.robot"].severity is Severity.MEDIUM


def test_commands_not_completed_and_unreachable_servers(tmp_path: Path) -> None:
    document = _v5(accepted={"tls_1_0_cipher_suites": [_suite("TLS_RSA_WITH_AES_128_CBC_SHA")]})
    scan = document["server_scan_results"][0]["scan_result"]
    scan["tls_1_0_cipher_suites"] = {"status": "ERROR", "result": None, "error_reason": "x"}
    scan["heartbleed"] = None
    unreachable = {
        "server_location": {"hostname": "down.example.com", "ip_address": None, "port": 443},
        "connectivity_status": "ERROR",
        "connectivity_error_trace": "timed out",
        "scan_result": None,
    }
    document["server_scan_results"].append(unreachable)
    records = _records(_write(tmp_path, document))
    assert [type(r).__name__ for r in records] == ["HostInput", "CoverageInput"]


def test_opportunistic_tls_service(tmp_path: Path) -> None:
    document = _v5()
    server = document["server_scan_results"][0]
    server["network_configuration"]["tls_opportunistic_encryption"] = "SMTP"
    server["server_location"]["port"] = 25
    host = _records(_write(tmp_path, document))[0]
    assert isinstance(host, HostInput)
    assert [(s.port, s.service) for s in host.services] == [(25, "smtp")]


# --------------------------------------------------------------------------- older formats
def test_sslyze_2_accepted_targets(tmp_path: Path) -> None:
    document = {
        "accepted_targets": [
            {
                "commands_results": {
                    "sslv3": {
                        "accepted_cipher_list": [
                            {"name": "TLS_RSA_WITH_RC4_128_SHA", "is_anonymous": False}
                        ],
                        "rejected_cipher_list": [],
                    },
                    "tlsv1_2": {"accepted_cipher_list": [{"name": GOOD_SUITE}]},
                    "heartbleed": {"is_vulnerable_to_heartbleed": True},
                    "openssl_ccs": {"is_vulnerable_to_ccs_injection": False},
                    "reneg": {
                        "accepts_client_renegotiation": False,
                        "supports_secure_renegotiation": True,
                    },
                    "robot": {"robot_result_enum": "NOT_VULNERABLE_NO_ORACLE"},
                    "compression": {"compression_name": "zlib compression"},
                    "fallback": {"supports_fallback_scsv": True},
                    "certinfo": {
                        "received_certificate_chain": [
                            {
                                "subject": "CN=old.example.com",
                                "notAfter": "2030-01-01 00:00:00",
                                "publicKey": {"algorithm": "RSA", "size": "1024"},
                                "signatureAlgorithm": "sha256",
                            }
                        ],
                        "certificate_matches_hostname": True,
                        "verified_chain_has_sha1_signature": False,
                        "path_validation_result_list": [
                            {"trust_store": {"name": "Mozilla"}, "verify_string": "ok"}
                        ],
                    },
                },
                "server_info": {
                    "hostname": "old.example.com",
                    "ip_address": "198.51.100.7",
                    "port": 8443,
                    "tls_wrapped_protocol": "PLAIN_TLS",
                },
            }
        ],
        "invalid_targets": [],
        "sslyze_version": "2.1.4",
    }
    path = _write(tmp_path, document)
    assert SslyzeImporter.sniff(path, path.read_bytes())
    records = _records(path)
    host = records[0]
    assert isinstance(host, HostInput)
    assert [(s.port, s.service) for s in host.services] == [(8443, "tls")]
    checks = {r.check_id for r in records if isinstance(r, FindingInput)}
    assert checks == {
        "tls.protocol.ssl3_0",
        "tls.cipher.rc4",
        "tls.vuln.heartbleed",
        "tls.vuln.compression",
        "tls.cert.weak_key",
    }


XML = """<?xml version="1.0" encoding="utf-8"?>
<document SSLyzeVersion="1.4.3" title="SSLyze Scan Results">
  <results totalScanTime="1.0">
    <target host="legacy.example.com" ip="192.0.2.9" port="443" tlsWrappedProtocol="https">
      <certinfo>
        <receivedCertificateChain>
          <certificate>
            <subject>commonName=legacy.example.com</subject>
            <notAfter>2019-01-01 00:00:00</notAfter>
            <signatureAlgorithm>sha1</signatureAlgorithm>
            <publicKey algorithm="RSA" size="2048"/>
          </certificate>
        </receivedCertificateChain>
        <certificateValidation>
          <hostnameValidation certificateMatchesServerHostname="True"/>
          <pathValidation usingTrustStore="Mozilla" validationResult="certificate has expired"/>
        </certificateValidation>
      </certinfo>
      <fallback><tlsFallbackScsv isSupported="False"/></fallback>
      <sslv2 isProtocolSupported="True">
        <acceptedCipherSuites>
          <cipherSuite anonymous="False" name="SSL_CK_RC4_128_EXPORT40_WITH_MD5"/>
        </acceptedCipherSuites>
      </sslv2>
    </target>
  </results>
</document>
"""


def test_sslyze_1_xml(tmp_path: Path) -> None:
    path = _write(tmp_path, XML, "sslyze.xml")
    assert SslyzeImporter.sniff(path, path.read_bytes())
    checks = {r.check_id for r in _records(path) if isinstance(r, FindingInput)}
    assert checks == {
        "tls.protocol.ssl2_0",
        "tls.cipher.export",
        "tls.cipher.rc4",
        "tls.cert.expired",
        "tls.cert.sha1_signature",
        "tls.fallback_scsv.missing",
    }


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (XML[: len(XML) // 2], "truncated.xml"),
        (
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><document SSLyzeVersion="1">&x;'
            "</document>",
            "xxe.xml",
        ),
        ("<other/>", "other.xml"),
        ('{"server_scan_results": {"a": 1}}', "a.json"),
        ('{"server_scan_results": [{"scan_result": {}}]}', "b.json"),
        ('{"something": []}', "c.json"),
        ('{"accepted_targets": [1]}', "d.json"),
        ('{"server_scan_results": [', "e.json"),
    ],
)
def test_malformed(tmp_path: Path, content: str, name: str) -> None:
    with pytest.raises(ImportFormatError):
        _records(_write(tmp_path, content, name))


# --------------------------------------------------------------------------- corpus
CORPUS_EXPECTED: dict[str, dict[str, list[str]]] = {
    "issue_9848.json": {
        "1.1.1.1": ["tls.protocol.tls1_0", "tls.protocol.tls1_1", "tls.cipher.3des"],
    },
    "one_target_many_vuln_new.json": {
        "1.1.1.1": ["tls.protocol.tls1_0", "tls.protocol.tls1_1", "tls.cipher.3des"],
    },
    "one_target_many_vuln_old.json": {
        "194.168.0.1": [
            "tls.protocol.tls1_1",
            "tls.cipher.rc4",
            "tls.vuln.heartbleed",
            "tls.vuln.ccs_injection",
            "tls.renegotiation.insecure",
            "tls.renegotiation.client_initiated",
        ],
    },
    "one_target_zero_vuln_new.json": {"40.76.4.15": []},
    "one_target_zero_vuln_old.json": {"194.168.0.1": []},
    "report_one_target_three_vuln.xml": {
        "172.217.167.14": ["tls.protocol.tls1_0", "tls.protocol.tls1_1", "tls.cipher.3des"],
    },
    "report_two_target_many_vuln.xml": {
        "35.231.145.151": [],
        "174.129.35.144": [
            "tls.protocol.tls1_0",
            "tls.protocol.tls1_1",
            "tls.cipher.3des",
            "tls.vuln.heartbleed",
            "tls.vuln.ccs_injection",
            "tls.renegotiation.insecure",
            "tls.renegotiation.client_initiated",
        ],
    },
    "two_targets_two_vuln_old.json": {"194.168.0.1": [], "192.168.0.2": ["tls.cipher.3des"]},
}


def test_corpus_lists_every_file() -> None:
    assert sorted(p.name for p in corpus_dir("sslyze").iterdir()) == sorted(CORPUS_EXPECTED)


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus(name: str) -> None:
    path = corpus_dir("sslyze") / name
    records = _records(path)
    expected = CORPUS_EXPECTED[name]
    hosts = [r for r in records if isinstance(r, HostInput)]
    assert [h.address for h in hosts] == list(expected)
    found: dict[str, list[str]] = {address: [] for address in expected}
    for finding in (r for r in records if isinstance(r, FindingInput)):
        assert finding.host is not None
        found[finding.host].append(finding.check_id)
        assert finding.port == 443
    assert found == expected
    (coverage,) = (r for r in records if isinstance(r, CoverageInput))
    assert coverage.hosts == list(expected)
    assert detect_importer(path).name == "sslyze"


def test_corpus_evidence() -> None:
    records = _records(corpus_dir("sslyze") / "one_target_many_vuln_old.json")
    rc4 = next(r for r in records if isinstance(r, FindingInput) and r.check_id == "tls.cipher.rc4")
    assert rc4.evidence == "TLS 1.1: TLS_RSA_WITH_RC4_128_SHA"
    host = records[0]
    assert isinstance(host, HostInput)
    assert host.hostnames == ["www.example.com"]


def test_sniff_rejects_every_other_corpus() -> None:
    corpus_dir("sslyze")
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        if path.parent.name == "sslyze" or path.parent == CORPUS:
            continue
        assert not SslyzeImporter.sniff(path, path.read_bytes()[:SNIFF_BYTES]), path
