"""SSLyze scan results: JSON of 5.x/6.x, 3.x/4.x and 1.x/2.x, and the XML of 1.x.

SSLyze reports facts (which protocol versions and cipher suites a server accepts, its
certificate, the outcome of each vulnerability probe) rather than findings, so this
importer draws its own conclusions with its own check ids and texts (titles, descriptions
and remediation from ``importers_code.yaml``, Chinese first):

* ``tls.protocol.ssl2_0`` / ``ssl3_0`` / ``tls1_0`` / ``tls1_1`` — one per old protocol the
  server accepts;
* ``tls.cipher.null`` / ``export`` / ``anon`` / ``rc4`` / ``des`` / ``3des`` — one per weak
  cipher family accepted under any protocol (CBC suites with SHA-1 are not a finding);
* ``tls.cert.expired`` / ``not_yet_valid`` / ``self_signed`` / ``untrusted`` /
  ``hostname_mismatch`` / ``weak_key`` (RSA/DSA under 2048 bits) / ``sha1_signature``;
* ``tls.vuln.heartbleed`` / ``ccs_injection`` / ``robot`` / ``compression`` (CRIME),
  ``tls.renegotiation.insecure`` / ``client_initiated`` and
  ``tls.fallback_scsv.missing``.

Expiry is judged from the trust-store validation SSLyze did at scan time, and from the
certificate dates only when the file records when the scan ran (5.x+) — never against
today's date, which would turn an old report into new findings. Each server becomes a
:class:`HostInput` (address, hostname, the TLS port as a service) and is listed in the
coverage; servers SSLyze could not connect to are neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped,unused-ignore]
from defusedxml.ElementTree import (  # type: ignore[import-untyped,unused-ignore]
    fromstring as _defused_fromstring,
)

from shaobing.core.i18n import t
from shaobing.findings.importers._json import (
    as_array,
    as_object,
    fail,
    get_bool,
    get_int,
    get_list,
    get_obj,
    get_str,
    guarded,
    objects,
    parse_json,
    read_text,
    sniff_text,
    to_int,
    to_str,
    truncate,
    unique,
)
from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
    HostInput,
    Importer,
    Record,
    ServiceInput,
)
from shaobing.findings.severity import Severity

TOOL = "sslyze"
_MIN_KEY_BITS = 2048
# expat error codes that mean "the document stopped before it was complete".
_TRUNCATION_CODES = {3, 5, 6}
_XML_ROOT_RE = re.compile(r"<document\b[^>]*\bSSLyzeVersion=")
_MODERN_RE = re.compile(r'"(scan_result|scan_commands|server_location|connectivity_status)"\s*:')
_LEGACY_RE = re.compile(r'"(commands_results|server_info)"\s*:')

# Protocol versions: (our key, label, key in 3.x+ JSON, key in 1.x/2.x JSON and XML).
_PROTOCOLS = (
    ("ssl2_0", "SSL 2.0", "ssl_2_0_cipher_suites", "sslv2"),
    ("ssl3_0", "SSL 3.0", "ssl_3_0_cipher_suites", "sslv3"),
    ("tls1_0", "TLS 1.0", "tls_1_0_cipher_suites", "tlsv1"),
    ("tls1_1", "TLS 1.1", "tls_1_1_cipher_suites", "tlsv1_1"),
    ("tls1_2", "TLS 1.2", "tls_1_2_cipher_suites", "tlsv1_2"),
    ("tls1_3", "TLS 1.3", "tls_1_3_cipher_suites", "tlsv1_3"),
)
_LABELS = {key: label for key, label, _, _ in _PROTOCOLS}
_OLD_PROTOCOLS = ("ssl2_0", "ssl3_0", "tls1_0", "tls1_1")
_CIPHER_FAMILIES = ("null", "export", "anon", "rc4", "des", "3des")


@dataclass(frozen=True)
class Check:
    """One conclusion this importer can draw; texts are ``importers_code.<id>.*``."""

    id: str
    severity: Severity
    cwe: tuple[int, ...]
    cves: tuple[str, ...] = ()


CHECKS: dict[str, Check] = {
    check.id: check
    for check in (
        Check("tls.protocol.ssl2_0", Severity.HIGH, (327,), ("CVE-2016-0800",)),
        Check("tls.protocol.ssl3_0", Severity.HIGH, (327,), ("CVE-2014-3566",)),
        Check("tls.protocol.tls1_0", Severity.MEDIUM, (327,)),
        Check("tls.protocol.tls1_1", Severity.LOW, (327,)),
        Check("tls.cipher.null", Severity.HIGH, (319,)),
        Check("tls.cipher.export", Severity.HIGH, (326,), ("CVE-2015-0204", "CVE-2015-4000")),
        Check("tls.cipher.anon", Severity.HIGH, (287,)),
        Check("tls.cipher.rc4", Severity.MEDIUM, (327,), ("CVE-2013-2566", "CVE-2015-2808")),
        Check("tls.cipher.des", Severity.HIGH, (326,)),
        Check("tls.cipher.3des", Severity.MEDIUM, (327,), ("CVE-2016-2183",)),
        Check("tls.cert.expired", Severity.MEDIUM, (298,)),
        Check("tls.cert.not_yet_valid", Severity.MEDIUM, (298,)),
        Check("tls.cert.self_signed", Severity.MEDIUM, (295,)),
        Check("tls.cert.untrusted", Severity.MEDIUM, (295,)),
        Check("tls.cert.hostname_mismatch", Severity.MEDIUM, (297,)),
        Check("tls.cert.weak_key", Severity.MEDIUM, (326,)),
        Check("tls.cert.sha1_signature", Severity.MEDIUM, (328,)),
        Check("tls.vuln.heartbleed", Severity.HIGH, (125,), ("CVE-2014-0160",)),
        Check("tls.vuln.ccs_injection", Severity.HIGH, (326,), ("CVE-2014-0224",)),
        Check("tls.vuln.robot", Severity.HIGH, (203,)),
        Check("tls.vuln.compression", Severity.MEDIUM, (310,), ("CVE-2012-4929",)),
        Check("tls.renegotiation.insecure", Severity.MEDIUM, (310,), ("CVE-2009-3555",)),
        Check("tls.renegotiation.client_initiated", Severity.LOW, (400,)),
        Check("tls.fallback_scsv.missing", Severity.LOW, (757,)),
    )
}


# --------------------------------------------------------------------------- facts
@dataclass
class _Cert:
    subject: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    key_algorithm: str | None = None
    key_size: int | None = None
    signature_hash: str | None = None


@dataclass
class _Validation:
    store: str
    error: str | None
    ok: bool


@dataclass
class _Deployment:
    leaf: _Cert | None = None
    matches_hostname: bool | None = None
    sha1_in_chain: bool | None = None
    validations: list[_Validation] = field(default_factory=list)


@dataclass
class _Server:
    """What SSLyze learned about one server, whatever the output version."""

    hostname: str | None
    ip: str | None
    port: int | None
    service: str | None = None
    accepted: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    heartbleed: bool | None = None
    ccs_injection: bool | None = None
    robot: str | None = None
    compression: bool | None = None
    secure_renegotiation: bool | None = None
    client_renegotiation: bool | None = None
    fallback_scsv: bool | None = None
    deployments: list[_Deployment] = field(default_factory=list)

    @property
    def host(self) -> str | None:
        """The address findings are attached to (IP when known, else the hostname)."""
        return self.ip or self.hostname


def _date(value: object) -> datetime | None:
    text = to_str(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _service(value: str | None, port: int | None) -> str:
    """``https``/``tls`` or the STARTTLS protocol (``smtp``, ``ldap``, ...)."""
    name = (value or "").strip().lower().removeprefix("starttls_")
    if name and name not in {"plain_tls", "none"}:
        return name
    return "https" if port == 443 else "tls"


# --------------------------------------------------------------------------- JSON 3.x+
def _result(commands: dict[str, Any], name: str, wrapped: bool) -> dict[str, Any] | None:
    """One scan command's result; 5.x+ wraps it as {"status", "result"}."""
    node = commands.get(name)
    if not isinstance(node, dict):
        return None
    if wrapped:
        if get_str(node, "status") not in {None, "COMPLETED"}:
            return None
        result = node.get("result")
        return result if isinstance(result, dict) else None
    return node


def _modern_cert(node: object) -> _Cert:
    key = get_obj(node, "public_key") or get_obj(node, "publicKey")
    subject = get_obj(node, "subject")
    signature = get_obj(node, "signature_hash_algorithm")
    return _Cert(
        subject=get_str(subject, "rfc4514_string") or get_str(node, "subject"),
        not_before=_date(get_str(node, "not_valid_before") or get_str(node, "notBefore")),
        not_after=_date(get_str(node, "not_valid_after") or get_str(node, "notAfter")),
        key_algorithm=get_str(key, "algorithm"),
        key_size=get_int(key, "key_size") or get_int(key, "size"),
        signature_hash=get_str(signature, "name") or get_str(node, "signatureAlgorithm"),
    )


def _modern_deployment(node: dict[str, Any]) -> _Deployment:
    chain = get_list(node, "received_certificate_chain")
    validations = []
    for result in get_list(node, "path_validation_results"):
        if not isinstance(result, dict):
            continue
        error = get_str(result, "openssl_error_string") or get_str(result, "validation_error")
        ok = get_bool(result, "was_validation_successful")
        if ok is None:  # 3.x/4.x: a verified chain means success
            ok = error is None and isinstance(result.get("verified_certificate_chain"), list)
        store = get_str(get_obj(result, "trust_store"), "name") or "?"
        validations.append(_Validation(store, error, ok))
    return _Deployment(
        leaf=_modern_cert(chain[0]) if chain and isinstance(chain[0], dict) else None,
        matches_hostname=get_bool(node, "leaf_certificate_subject_matches_hostname"),
        sha1_in_chain=get_bool(node, "verified_chain_has_sha1_signature"),
        validations=validations,
    )


def _ciphers(result: dict[str, Any], list_key: str) -> list[tuple[str, bool]]:
    accepted = []
    for entry in get_list(result, list_key):
        suite = get_obj(entry, "cipher_suite") or (entry if isinstance(entry, dict) else {})
        name = get_str(suite, "name") or get_str(suite, "openssl_name")
        if name:
            accepted.append((name, get_bool(suite, "is_anonymous") is True))
    return accepted


def _modern_server(entry: dict[str, Any]) -> _Server | None:
    wrapped = "scan_result" in entry  # 5.x+; 3.x/4.x has scan_commands_results
    info = get_obj(entry, "server_info")
    location = get_obj(entry, "server_location") or get_obj(info, "server_location")
    network = get_obj(entry, "network_configuration") or get_obj(info, "network_configuration")
    if wrapped and get_str(entry, "connectivity_status") not in {None, "COMPLETED"}:
        return None
    commands = get_obj(entry, "scan_result" if wrapped else "scan_commands_results")
    port = get_int(location, "port", maximum=65535)
    server = _Server(
        hostname=get_str(location, "hostname"),
        ip=get_str(location, "ip_address"),
        port=port,
        service=_service(get_str(network, "tls_opportunistic_encryption"), port),
    )
    for key, _, modern_key, _ in _PROTOCOLS:
        result = _result(commands, modern_key, wrapped)
        if result is not None:
            server.accepted[key] = _ciphers(result, "accepted_cipher_suites")
    if (result := _result(commands, "heartbleed", wrapped)) is not None:
        server.heartbleed = get_bool(result, "is_vulnerable_to_heartbleed")
    if (result := _result(commands, "openssl_ccs_injection", wrapped)) is not None:
        server.ccs_injection = get_bool(result, "is_vulnerable_to_ccs_injection")
    if (result := _result(commands, "robot", wrapped)) is not None:
        server.robot = get_str(result, "robot_result")
    if (result := _result(commands, "tls_compression", wrapped)) is not None:
        server.compression = get_bool(result, "supports_compression")
    if (result := _result(commands, "tls_fallback_scsv", wrapped)) is not None:
        server.fallback_scsv = get_bool(result, "supports_fallback_scsv")
    if (result := _result(commands, "session_renegotiation", wrapped)) is not None:
        server.secure_renegotiation = get_bool(result, "supports_secure_renegotiation")
        server.client_renegotiation = get_bool(result, "is_vulnerable_to_client_renegotiation_dos")
        if server.client_renegotiation is None:
            server.client_renegotiation = get_bool(result, "accepts_client_renegotiation")
    if (result := _result(commands, "certificate_info", wrapped)) is not None:
        server.deployments = [
            _modern_deployment(node)
            for node in get_list(result, "certificate_deployments")
            if isinstance(node, dict)
        ]
    return server


# --------------------------------------------------------------------------- JSON 1.x/2.x
def _legacy_server(entry: dict[str, Any]) -> _Server:
    info = get_obj(entry, "server_info")
    commands = get_obj(entry, "commands_results")
    port = get_int(info, "port", maximum=65535)
    server = _Server(
        hostname=get_str(info, "hostname"),
        ip=get_str(info, "ip_address"),
        port=port,
        service=_service(get_str(info, "tls_wrapped_protocol"), port),
    )
    for key, _, _, legacy_key in _PROTOCOLS:
        if legacy_key in commands:
            server.accepted[key] = _ciphers(get_obj(commands, legacy_key), "accepted_cipher_list")
    if "heartbleed" in commands:
        server.heartbleed = get_bool(get_obj(commands, "heartbleed"), "is_vulnerable_to_heartbleed")
    if "openssl_ccs" in commands:
        server.ccs_injection = get_bool(
            get_obj(commands, "openssl_ccs"), "is_vulnerable_to_ccs_injection"
        )
    if "robot" in commands:
        server.robot = get_str(get_obj(commands, "robot"), "robot_result_enum")
    if "compression" in commands:
        server.compression = (
            get_str(get_obj(commands, "compression"), "compression_name") is not None
        )
    if "fallback" in commands:
        server.fallback_scsv = get_bool(get_obj(commands, "fallback"), "supports_fallback_scsv")
    if "reneg" in commands:
        reneg = get_obj(commands, "reneg")
        server.secure_renegotiation = get_bool(reneg, "supports_secure_renegotiation")
        server.client_renegotiation = get_bool(reneg, "accepts_client_renegotiation")
    if "certinfo" in commands:
        server.deployments = [_legacy_deployment(get_obj(commands, "certinfo"))]
    return server


def _legacy_deployment(certinfo: dict[str, Any]) -> _Deployment:
    chain = get_list(certinfo, "received_certificate_chain") or get_list(
        certinfo, "certificate_chain"
    )
    validations = []
    for result in get_list(certinfo, "path_validation_result_list"):
        verify = get_str(result, "verify_string")
        trusted = get_bool(result, "is_certificate_trusted")
        ok = trusted if trusted is not None else (verify or "").strip().lower() == "ok"
        store = get_str(get_obj(result, "trust_store"), "name") or "?"
        validations.append(_Validation(store, None if ok else verify, ok))
    for error in get_list(certinfo, "path_validation_error_list"):
        store = get_str(get_obj(error, "trust_store"), "name") or "?"
        validations.append(_Validation(store, get_str(error, "error_message"), False))
    leaf = chain[0] if chain and isinstance(chain[0], dict) else None
    sha1 = get_bool(certinfo, "verified_chain_has_sha1_signature")
    return _Deployment(
        leaf=_legacy_cert(leaf) if leaf is not None else None,
        matches_hostname=get_bool(certinfo, "certificate_matches_hostname"),
        sha1_in_chain=sha1
        if sha1 is not None
        else get_bool(certinfo, "has_sha1_in_certificate_chain"),
        validations=validations,
    )


def _legacy_cert(node: dict[str, Any]) -> _Cert:
    key = get_obj(node, "publicKey")
    return _Cert(
        subject=get_str(node, "subject"),
        not_before=_date(get_str(node, "notBefore")),
        not_after=_date(get_str(node, "notAfter")),
        key_algorithm=get_str(key, "algorithm"),
        key_size=get_int(key, "size"),
        signature_hash=get_str(node, "signatureAlgorithm"),
    )


# --------------------------------------------------------------------------- XML 1.x
def _xml_bool(element: Element | None, attribute: str) -> bool | None:
    if element is None:
        return None
    value = (element.get(attribute) or "").strip().lower()
    return {"true": True, "false": False}.get(value)


def _xml_server(target: Element) -> _Server:
    port = to_int(target.get("port"), maximum=65535)
    server = _Server(
        hostname=to_str(target.get("host")),
        ip=to_str(target.get("ip")),
        port=port,
        service=_service(target.get("tlsWrappedProtocol"), port),
    )
    for key, _, _, legacy_key in _PROTOCOLS:
        section = target.find(legacy_key)
        if section is not None:
            server.accepted[key] = [
                (name, (suite.get("anonymous") or "").lower() == "true")
                for suite in section.findall("acceptedCipherSuites/cipherSuite")
                if (name := to_str(suite.get("name")))
            ]
    server.heartbleed = _xml_bool(target.find("heartbleed/openSslHeartbleed"), "isVulnerable")
    server.ccs_injection = _xml_bool(target.find("openssl_ccs/openSslCcsInjection"), "isVulnerable")
    robot = target.find("robot/robotAttack")
    server.robot = to_str(robot.get("resultEnum")) if robot is not None else None
    server.compression = _xml_bool(target.find("compression/compressionMethod"), "isSupported")
    server.fallback_scsv = _xml_bool(target.find("fallback/tlsFallbackScsv"), "isSupported")
    reneg = target.find("reneg/sessionRenegotiation")
    server.secure_renegotiation = _xml_bool(reneg, "isSecure")
    server.client_renegotiation = _xml_bool(reneg, "canBeClientInitiated")
    certinfo = target.find("certinfo")
    if certinfo is not None:
        server.deployments = [_xml_deployment(certinfo)]
    return server


def _xml_deployment(certinfo: Element) -> _Deployment:
    leaf = certinfo.find("receivedCertificateChain/certificate")
    validations = [
        _Validation(
            path.get("usingTrustStore") or "?",
            None
            if (path.get("validationResult") or "").lower() == "ok"
            else path.get("validationResult"),
            (path.get("validationResult") or "").lower() == "ok",
        )
        for path in certinfo.iter("pathValidation")
    ]
    cert = None
    if leaf is not None:
        key = leaf.find("publicKey")
        cert = _Cert(
            subject=to_str(leaf.findtext("subject")),
            not_before=_date(leaf.findtext("notBefore")),
            not_after=_date(leaf.findtext("notAfter")),
            key_algorithm=key.get("algorithm") if key is not None else None,
            key_size=to_int(key.get("size")) if key is not None else None,
            signature_hash=to_str(leaf.findtext("signatureAlgorithm")),
        )
    return _Deployment(
        leaf=cert,
        matches_hostname=_xml_bool(
            certinfo.find("certificateValidation/hostnameValidation"),
            "certificateMatchesServerHostname",
        ),
        sha1_in_chain=_xml_bool(
            certinfo.find("certificateValidation/verifiedCertificateChain"),
            "hasSha1SignedCertificate",
        ),
        validations=validations,
    )


def _parse_xml(path: Path, text: str) -> Element:
    try:
        root: Element = _defused_fromstring(text)
    except ParseError as exc:
        line, column = exc.position
        key = "truncated_xml" if exc.code in _TRUNCATION_CODES else "bad_xml"
        raise fail(path, key, line=line, column=column, error=exc.msg) from exc
    except DefusedXmlException as exc:
        raise fail(path, "xml_forbidden") from exc
    return root


# --------------------------------------------------------------------------- findings
def cipher_families(name: str, anonymous: bool = False) -> set[str]:
    """Weak families a cipher suite belongs to (RFC or OpenSSL name)."""
    tokens = set(re.split(r"[_\-\s]+", name.upper()))
    families = set()
    if "NULL" in tokens:
        families.add("null")
    if any(token.startswith("EXP") for token in tokens):
        families.add("export")
    if anonymous or "ANON" in tokens or tokens & {"ADH", "AECDH"}:
        families.add("anon")
    if any(token.startswith("RC4") for token in tokens):
        families.add("rc4")
    if tokens & {"3DES", "CBC3", "EDE3"}:
        families.add("3des")
    elif tokens & {"DES", "DES40"}:
        families.add("des")
    return families


def _cert_lines(cert: _Cert | None) -> list[str]:
    if cert is None:
        return []
    lines = [
        f"subject: {cert.subject}" if cert.subject else "",
        f"not_before: {cert.not_before.isoformat()}" if cert.not_before else "",
        f"not_after: {cert.not_after.isoformat()}" if cert.not_after else "",
        f"public_key: {cert.key_algorithm} {cert.key_size}" if cert.key_algorithm else "",
        f"signature_hash: {cert.signature_hash}" if cert.signature_hash else "",
    ]
    return [line for line in lines if line]


def _certificate_problems(server: _Server, scan_date: datetime | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}

    def add(check: str, lines: list[str]) -> None:
        found.setdefault(check, []).extend(lines)

    for deployment in server.deployments:
        leaf = deployment.leaf
        errors = [(v.store, v.error) for v in deployment.validations if v.error]
        texts = [error.lower() for _, error in errors]
        store_lines = [f"{store}: {error}" for store, error in errors]
        expired = any("expired" in text for text in texts) or bool(
            scan_date and leaf and leaf.not_after and leaf.not_after < scan_date
        )
        early = any("not yet valid" in text for text in texts) or bool(
            scan_date and leaf and leaf.not_before and leaf.not_before > scan_date
        )
        if expired:
            add("tls.cert.expired", _cert_lines(leaf) + store_lines)
        if early:
            add("tls.cert.not_yet_valid", _cert_lines(leaf) + store_lines)
        trusted = any(v.ok for v in deployment.validations)
        date_only = all("expired" in text or "not yet valid" in text for text in texts)
        if deployment.validations and not trusted and not date_only:
            self_signed = any("self signed" in text or "self-signed" in text for text in texts)
            add(
                "tls.cert.self_signed" if self_signed else "tls.cert.untrusted",
                _cert_lines(leaf) + store_lines,
            )
        if deployment.matches_hostname is False:
            add("tls.cert.hostname_mismatch", [f"hostname: {server.hostname}", *_cert_lines(leaf)])
        if (
            leaf
            and leaf.key_size is not None
            and leaf.key_size < _MIN_KEY_BITS
            and re.search(r"rsa|dsa", leaf.key_algorithm or "", re.IGNORECASE)
        ):
            add("tls.cert.weak_key", _cert_lines(leaf))
        weak_hash = (leaf.signature_hash or "").lower() in {"sha1", "md5", "md2"} if leaf else False
        if deployment.sha1_in_chain or weak_hash:
            add(
                "tls.cert.sha1_signature",
                _cert_lines(leaf) or ["verified_chain_has_sha1_signature"],
            )
    return found


def server_conclusions(server: _Server, scan_date: datetime | None) -> dict[str, list[str]]:
    """Check id → evidence lines for everything wrong with one server."""
    found: dict[str, list[str]] = {}
    for key in _OLD_PROTOCOLS:
        accepted = server.accepted.get(key)
        if accepted:
            names = ", ".join(name for name, _ in accepted)
            found[f"tls.protocol.{key}"] = [f"{_LABELS[key]}: {names}"]
    for key, label, _, _ in _PROTOCOLS:
        for name, anonymous in server.accepted.get(key, []):
            for family in sorted(cipher_families(name, anonymous)):
                found.setdefault(f"tls.cipher.{family}", []).append(f"{label}: {name}")
    found.update(_certificate_problems(server, scan_date))
    if server.heartbleed:
        found["tls.vuln.heartbleed"] = ["is_vulnerable_to_heartbleed: true"]
    if server.ccs_injection:
        found["tls.vuln.ccs_injection"] = ["is_vulnerable_to_ccs_injection: true"]
    if server.robot and server.robot.upper().startswith("VULNERABLE"):
        found["tls.vuln.robot"] = [f"robot_result: {server.robot}"]
    if server.compression:
        found["tls.vuln.compression"] = ["supports_compression: true"]
    if server.secure_renegotiation is False:
        found["tls.renegotiation.insecure"] = ["supports_secure_renegotiation: false"]
    if server.client_renegotiation:
        found["tls.renegotiation.client_initiated"] = ["accepts_client_renegotiation: true"]
    if server.fallback_scsv is False:
        found["tls.fallback_scsv.missing"] = ["supports_fallback_scsv: false"]
    return found


def _finding(server: _Server, check_id: str, lines: list[str], version: str | None) -> FindingInput:
    check = CHECKS[check_id]
    severity = check.severity
    if check_id == "tls.vuln.robot" and "WEAK" in (server.robot or "").upper():
        severity = Severity.MEDIUM
    extra: dict[str, Any] = {"hostname": server.hostname} if server.hostname else {}
    if version:
        extra["sslyze_version"] = version
    return FindingInput(
        source_tool=TOOL,
        check_id=check_id,
        title=t(f"importers_code.{check_id}.title"),
        severity=severity,
        description=t(f"importers_code.{check_id}.description"),
        remediation=t(f"importers_code.{check_id}.remediation"),
        host=server.host,
        port=server.port,
        protocol="tcp",
        cve_ids=list(check.cves),
        cwe_ids=list(check.cwe),
        evidence=truncate("\n".join(unique(lines))),
        extra=extra,
    )


# --------------------------------------------------------------------------- importer
class SslyzeImporter(Importer):
    """SSLyze JSON (1.x–6.x) and XML (1.x) scan results — TLS configuration findings."""

    name: ClassVar[str] = "sslyze"
    label: ClassVar[str] = "SSLyze JSON / XML"
    suffixes: ClassVar[tuple[str, ...]] = (".json", ".xml")
    priority: ClassVar[int] = 5

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """SSLyze's XML root, or JSON with server_scan_results / accepted_targets."""
        text = sniff_text(head)
        if text.startswith("<"):
            return bool(_XML_ROOT_RE.search(text))
        if not text.startswith("{"):
            return False
        if '"server_scan_results"' in text and _MODERN_RE.search(text):
            return True
        return '"accepted_targets"' in text and bool(_LEGACY_RE.search(text))

    def parse(self, path: Path) -> Iterator[Record]:
        """Stream hosts and findings server by server, then the coverage."""
        return guarded(path, self._parse(path))

    def _parse(self, path: Path) -> Iterator[Record]:
        text = read_text(path)
        scan_date: datetime | None = None
        version: str | None
        if text.lstrip().startswith("<"):
            root = _parse_xml(path, text)
            if root.tag != "document" or root.get("SSLyzeVersion") is None:
                raise fail(path, "not_sslyze")
            version = to_str(root.get("SSLyzeVersion"))
            servers = [_xml_server(target) for target in root.iter("target")]
        else:
            document = as_object(path, parse_json(path, text), "$")
            version = get_str(document, "sslyze_version")
            if "server_scan_results" in document:
                scan_date = _date(document.get("date_scans_completed")) or _date(
                    document.get("date_scans_started")
                )
                entries = objects(path, document["server_scan_results"], "server_scan_results")
                servers = [s for _, entry in entries if (s := _modern_server(entry))]
            elif "accepted_targets" in document:
                as_array(path, document["accepted_targets"], "accepted_targets")
                entries = objects(path, document["accepted_targets"], "accepted_targets")
                servers = [_legacy_server(entry) for _, entry in entries]
            else:
                raise fail(path, "not_sslyze")
        covered: list[str] = []
        for index, server in enumerate(servers):
            if server.host is None:
                raise fail(path, "missing_field", where=f"server {index + 1}", field="ip_address")
            covered.append(server.host)
            yield _host(server)
            for check_id, lines in server_conclusions(server, scan_date).items():
                yield _finding(server, check_id, lines, version)
        if covered:
            yield CoverageInput(hosts=unique(covered))


def _host(server: _Server) -> HostInput:
    services = []
    if server.port is not None:
        services.append(ServiceInput(port=server.port, protocol="tcp", service=server.service))
    hostnames = [server.hostname] if server.hostname and server.hostname != server.ip else []
    return HostInput(address=server.ip, hostnames=hostnames, services=services)
