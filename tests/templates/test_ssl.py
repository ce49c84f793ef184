"""ssl templates against local TLS servers on 127.0.0.1 with certificates made here: every
response field, the corpus's ssl templates (with near misses that must not match),
version limits, cipher suites, enumeration, the scope guard and load-time refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import ssl
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from shaobing.templates.certinfo import (
    certificate_fields,
    distinguished_name,
    mismatched,
    serial_text,
    untrusted,
)
from shaobing.templates.ciphers import cipher_level, local_suites
from shaobing.templates.loader import load_template
from shaobing.templates.model import Template
from shaobing.templates.runner import RunReport, execute
from tests.templates.conftest import context_for, write_template

CORPUS = Path("/work/shared/corpora/nuclei-templates/ssl")
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not present at {CORPUS}")
pytestmark = [
    pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning"),
    # Raised by old roots of the system CA store (zero serials), not by the code tested.
    pytest.mark.filterwarnings("ignore:Parsed a serial number"),
]

NOW = dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------- certificates


@dataclass
class Issued:
    """A certificate, its key and both as PEM files."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    cert_file: Path
    key_file: Path

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


_KEYS: list[rsa.RSAPrivateKey] = []
_USED = [0]


def _key() -> rsa.RSAPrivateKey:
    # RSA (not EC) so that static-RSA suites such as AES256-SHA can be negotiated. Keys
    # are reused round-robin (generating them is the slow part); consecutive
    # certificates (a CA and the leaf it signs) always get different keys.
    _USED[0] += 1
    if len(_KEYS) < 3:
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _KEYS[-1]
    return _KEYS[_USED[0] % 3]


def dn(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def issue(
    folder: Path,
    stem: str,
    subject: x509.Name,
    *,
    serial: int,
    san: tuple[str, ...] = (),
    issuer: Issued | None = None,
    days: tuple[int, int] = (-1, 30),
    ca: bool = False,
) -> Issued:
    key = _key()
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False
        )
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in san]), False
        )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    cert = builder.sign(signer_key, hashes.SHA256())
    cert_file = folder / f"{stem}.crt"
    key_file = folder / f"{stem}.key"
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if issuer is not None:
        pem += issuer.cert.public_bytes(serialization.Encoding.PEM)  # send the chain
    cert_file.write_bytes(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Issued(cert, key, cert_file, key_file)


SHADOWPAD_DN = dn(
    (NameOID.COMMON_NAME, "myServer"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "mygroup"),
    (NameOID.ORGANIZATION_NAME, "myorganization"),
    (NameOID.LOCALITY_NAME, "mycity"),
    (NameOID.STATE_OR_PROVINCE_NAME, "myprovince"),
    (NameOID.COUNTRY_NAME, "CN"),
)


@dataclass
class Certs:
    """Every certificate the tests serve."""

    shadowpad: Issued
    shadowpad_near: Issued
    expired: Issued
    ca: Issued
    leaf: Issued
    dcrat: Issued
    fortigate: Issued
    fortiauth: Issued


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    folder = tmp_path_factory.mktemp("certs")
    ca = issue(
        folder,
        "ca",
        dn((NameOID.COMMON_NAME, "Shaobing Test CA"), (NameOID.ORGANIZATION_NAME, "Test CA Org")),
        serial=1,
        days=(-365, 365),
        ca=True,
    )
    near = list(SHADOWPAD_DN)
    near[1] = x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "mygroup2")
    fortinet = [
        (NameOID.COUNTRY_NAME, "US"),
        (NameOID.STATE_OR_PROVINCE_NAME, "California"),
        (NameOID.LOCALITY_NAME, "Sunnyvale"),
        (NameOID.ORGANIZATION_NAME, "Fortinet"),
    ]
    return Certs(
        shadowpad=issue(
            folder,
            "shadowpad",
            SHADOWPAD_DN,
            serial=0x08BB00EE,
            san=("localhost", "*.wild.test"),
        ),
        shadowpad_near=issue(folder, "near", x509.Name(near), serial=0x08BB00EF),
        expired=issue(
            folder,
            "expired",
            dn((NameOID.COMMON_NAME, "127.0.0.1")),
            serial=0x1234,
            days=(-60, -30),
        ),
        ca=ca,
        leaf=issue(
            folder,
            "leaf",
            dn((NameOID.COMMON_NAME, "leaf.test")),
            serial=0xABCDEF,
            san=("leaf.test",),
            issuer=ca,
        ),
        dcrat=issue(folder, "dcrat", dn((NameOID.COMMON_NAME, "DcRat Server")), serial=5),
        fortigate=issue(
            folder,
            "fortigate",
            dn(
                *fortinet,
                (NameOID.ORGANIZATIONAL_UNIT_NAME, "FortiGate"),
                (NameOID.COMMON_NAME, "FGT60F0000000001"),
            ),
            serial=6,
            san=("fgt.example.test",),
        ),
        fortiauth=issue(
            folder,
            "fortiauth",
            dn(
                (NameOID.COMMON_NAME, "FAC-VM0000000001"),
                (NameOID.ORGANIZATIONAL_UNIT_NAME, "FortiAuthenticator"),
                *reversed(fortinet),
                (NameOID.EMAIL_ADDRESS, "support@fortinet.com"),
            ),
            serial=7,
        ),
    )


# --------------------------------------------------------------------------- servers


@dataclass
class TlsServer:
    """A TLS server on 127.0.0.1 handshaking once per connection, counting connections."""

    sock: socket.socket
    context: ssl.SSLContext
    accepted: int = 0
    versions: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.settimeout(3)
            try:
                tls = self.context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                continue
            self.versions.append(tls.version() or "")
            tls.close()


Start = Callable[..., TlsServer]


@pytest.fixture
def tls_server() -> Iterator[Start]:
    """Factory: a TLS server for one certificate with optional version/cipher limits."""
    started: list[TlsServer] = []

    def start(
        issued: Issued,
        *,
        low: ssl.TLSVersion | None = None,
        high: ssl.TLSVersion | None = None,
        ciphers: str | None = None,
    ) -> TlsServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(issued.cert_file, issued.key_file)
        if ciphers:
            context.set_ciphers(ciphers)
        if low:
            context.minimum_version = low
        if high:
            context.maximum_version = high
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.settimeout(0.1)
        server = TlsServer(sock, context)
        threading.Thread(target=server.serve, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop.set()
        server.sock.close()


def run(template: Template, server: TlsServer) -> RunReport:
    return execute(template, server.target, context_for(server.target))


FIELDS = """\
id: ssl-fields
info:
  name: every field
  severity: info
ssl:
  - address: "{{Host}}:{{Port}}"
    matchers:
      - type: dsl
        dsl:
          - "probe_status == true"
"""


def response_of(report: RunReport) -> dict[str, Any]:
    assert len(report.results) == 1, report.notes
    document = json.loads(report.results[0].response)
    assert isinstance(document, dict)
    return document


# ---------------------------------------------------------------------------- fields


def test_every_field_of_a_self_signed_certificate(
    tmp_path: Path, certs: Certs, tls_server: Start
) -> None:
    server = tls_server(certs.shadowpad, high=ssl.TLSVersion.TLSv1_2)
    report = run(write_template(tmp_path, FIELDS), server)
    got = response_of(report)
    cert = certs.shadowpad.cert
    assert got["host"] == "127.0.0.1"
    assert got["ip"] == "127.0.0.1"
    assert got["port"] == str(server.port)
    assert got["probe_status"] is True
    assert got["tls_version"] == "tls12"
    assert got["cipher"].startswith("TLS_ECDHE_RSA_WITH_")
    assert got["subject_dn"] == (
        "CN=myServer, OU=mygroup, O=myorganization, L=mycity, ST=myprovince, C=CN"
    )
    assert got["issuer_dn"] == got["subject_dn"]
    assert got["subject_cn"] == got["issuer_cn"] == "myServer"
    assert got["subject_org"] == got["issuer_org"] == ["myorganization"]
    assert got["subject_an"] == ["localhost", "*.wild.test"]
    assert got["domains"] == ["localhost", "wild.test", "myServer"]
    assert got["serial"] == "08:BB:00:EE"
    assert got["not_before"] == cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got["not_after"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    der = certs.shadowpad.der
    assert got["fingerprint_hash"] == {
        "md5": hashlib.md5(der).hexdigest(),  # a fingerprint, as tlsx gives
        "sha1": hashlib.sha1(der).hexdigest(),
        "sha256": hashlib.sha256(der).hexdigest(),
    }
    assert got["expired"] is False
    assert got["self_signed"] is True
    assert got["mismatched"] is True  # 127.0.0.1 is in neither the CN nor the DNS names
    assert got["wildcard_certificate"] is True
    assert got["untrusted"] is True
    assert got["revoked"] is False
    assert got["tls_connection"] == "ctls"
    assert got["sni"] == "127.0.0.1"
    assert server.accepted == 1


def test_expired_certificate_and_matching_host(
    tmp_path: Path, certs: Certs, tls_server: Start
) -> None:
    server = tls_server(certs.expired)
    text = FIELDS.replace('"probe_status == true"', '"expired == true && !mismatched"')
    got = response_of(run(write_template(tmp_path, text), server))
    assert got["expired"] is True
    assert got["mismatched"] is False  # the CN is the address connected to
    assert got["tls_version"] == "tls13"
    assert got["cipher"] in ("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256")
    assert "subject_an" not in got  # empty fields are left out, as tlsx does
    # Near miss: the same certificate is not "not expired".
    miss = FIELDS.replace('"probe_status == true"', '"expired == false"')
    assert run(write_template(tmp_path, miss, "m.yaml"), server).results == []


def test_chain_from_a_private_ca(tmp_path: Path, certs: Certs, tls_server: Start) -> None:
    server = tls_server(certs.leaf)
    got = response_of(run(write_template(tmp_path, FIELDS), server))
    assert got["issuer_dn"] == "CN=Shaobing Test CA, O=Test CA Org"
    assert got["issuer_org"] == ["Test CA Org"]
    assert got["self_signed"] is False
    assert got["untrusted"] is True  # the CA is not in the system store
    assert got["serial"] == "AB:CD:EF"


def test_untrusted_is_judged_against_the_given_roots(tmp_path: Path, certs: Certs) -> None:
    leaf, ca = certs.leaf.cert, certs.ca.cert
    assert untrusted(leaf, [ca], roots=(ca,)) is False
    assert untrusted(leaf, [], roots=(ca,)) is False  # the root itself is the issuer
    assert untrusted(leaf, [ca], roots=(certs.shadowpad.cert,)) is True
    assert untrusted(certs.shadowpad.cert, [], roots=(ca,)) is True
    fields = certificate_fields(certs.leaf.der, "leaf.test", [certs.ca.der], roots=(ca,))
    assert (fields.untrusted, fields.mismatched, fields.self_signed) == (False, False, False)
    # An expired leaf from a trusted CA is expired, not untrusted.
    old = issue(
        tmp_path,
        "old",
        dn((NameOID.COMMON_NAME, "old.test")),
        serial=9,
        issuer=certs.ca,
        days=(-90, -30),
    )
    fields = certificate_fields(old.der, "old.test", [], roots=(ca,))
    assert (fields.expired, fields.untrusted) == (True, False)


def test_certificate_helpers() -> None:
    assert serial_text(146473198) == "08:BB:00:EE"
    assert serial_text(0) == ""
    assert serial_text(255) == "FF"
    assert not mismatched("a.wild.test", ["x", "*.wild.test"])
    assert mismatched("a.b.wild.test", ["*.wild.test"])
    assert not mismatched("LOCALHOST", ["localhost"])
    assert mismatched("wild.test", ["*.wild.test"])
    name = x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(x509.ObjectIdentifier("1.2.3.4"), "odd, value")]
            ),
        ]
    )
    assert distinguished_name(name) == "C=US, 1.2.3.4=odd, value"


def test_cipher_levels() -> None:
    assert cipher_level("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == "secure"
    assert cipher_level("TLS_AES_256_GCM_SHA384") == "secure"
    assert cipher_level("TLS_RSA_WITH_AES_128_GCM_SHA256") == "weak"  # no forward secrecy
    assert cipher_level("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA") == "weak"  # CBC
    assert cipher_level("TLS_RSA_WITH_3DES_EDE_CBC_SHA") == "weak"
    assert cipher_level("TLS_RSA_WITH_RC4_128_SHA") == "insecure"
    assert cipher_level("TLS_DH_anon_WITH_AES_128_GCM_SHA256") == "insecure"
    assert cipher_level("TLS_RSA_WITH_NULL_SHA256") == "insecure"
    assert cipher_level("TLS_DHE_RSA_WITH_DES_CBC_SHA") == "insecure"


# --------------------------------------------------------------------- corpus templates


def corpus(name: str) -> Template:
    return load_template(CORPUS / name, root=CORPUS.parent)


@needs_corpus
def test_shadowpad_matches_the_dn_and_a_near_miss_does_not(certs: Certs, tls_server: Start) -> None:
    template = corpus("c2/shadowpad-c2.yaml")
    assert template.runnable
    report = run(template, tls_server(certs.shadowpad))
    assert len(report.results) == 1
    assert report.results[0].extracted == [
        "CN=myServer, OU=mygroup, O=myorganization, L=mycity, ST=myprovince, C=CN"
    ]
    assert report.results[0].type == "ssl"
    assert run(template, tls_server(certs.shadowpad_near)).results == []


@needs_corpus
def test_cobalt_strike_serial(certs: Certs, tls_server: Start) -> None:
    template = corpus("c2/cobalt-strike-c2.yaml")
    report = run(template, tls_server(certs.shadowpad))
    assert [r.extracted for r in report.results] == [["08:BB:00:EE"]]
    assert run(template, tls_server(certs.shadowpad_near)).results == []  # 08:BB:00:EF


@needs_corpus
def test_dcrat_issuer_common_name(certs: Certs, tls_server: Start) -> None:
    template = corpus("c2/dcrat-server-c2.yaml")
    assert [r.extracted for r in run(template, tls_server(certs.dcrat)).results] == [
        ["DcRat Server"]
    ]
    assert run(template, tls_server(certs.shadowpad)).results == []


@needs_corpus
def test_issuer_organisation_is_extracted(certs: Certs, tls_server: Start) -> None:
    template = corpus("detect-ssl-issuer.yaml")
    report = run(template, tls_server(certs.leaf))
    assert [r.extracted for r in report.results] == [["Test CA Org"]]
    # A certificate without an issuer organisation extracts nothing, so nothing reports.
    assert run(template, tls_server(certs.dcrat)).results == []


@needs_corpus
def test_fortinet_templates(certs: Certs, tls_server: Start) -> None:
    fortigate = corpus("fortinet/fortigate-certificate.yaml")
    report = run(fortigate, tls_server(certs.fortigate))
    assert len(report.results) == 1
    assert run(fortigate, tls_server(certs.fortiauth)).results == []
    fortiauth = corpus("fortinet/fortiauthenticator-certificate.yaml")
    report = run(fortiauth, tls_server(certs.fortiauth))
    assert [r.extracted for r in report.results] == [["FAC-VM0000000001"]]
    # Both words are needed (matchers-condition: and): the FortiGate DN has neither.
    assert run(fortiauth, tls_server(certs.fortigate)).results == []


@needs_corpus
def test_weak_cipher_suites_on_a_tls10_only_server(certs: Certs, tls_server: Start) -> None:
    template = corpus("weak-cipher-suites.yaml")
    server = tls_server(
        certs.shadowpad,
        low=ssl.TLSVersion.TLSv1,
        high=ssl.TLSVersion.TLSv1,
        ciphers="AES256-SHA:@SECLEVEL=0",
    )
    report = run(template, server)
    assert [r.matcher_name for r in report.results] == ["tls-1.0"]
    # The tls11, tls12 and tls13 blocks each tried and were refused by the server.
    assert server.accepted == 4
    assert sum("TLS" in note for note in report.notes) >= 3
    # A modern server accepts tls12 and tls13 only, with suites not on the weak list.
    modern = tls_server(certs.shadowpad, low=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE+AESGCM")
    assert run(template, modern).results == []


# ------------------------------------------------------------ versions, suites, enum


def test_min_version_above_the_server_maximum_does_not_match(
    tmp_path: Path, certs: Certs, tls_server: Start
) -> None:
    server = tls_server(certs.shadowpad, high=ssl.TLSVersion.TLSv1_2)
    text = FIELDS.replace("    matchers:", "    min_version: tls13\n    matchers:")
    report = run(write_template(tmp_path, text), server)
    assert report.results == []
    assert any("TLS" in note and server.target in note for note in report.notes)
    # The same server at tls12 matches: the miss above was the version.
    text = FIELDS.replace("    matchers:", "    max_version: tls12\n    matchers:")
    got = response_of(run(write_template(tmp_path, text, "ok.yaml"), server))
    assert got["tls_version"] == "tls12"


def test_max_version_below_the_server_minimum_does_not_match(
    tmp_path: Path, certs: Certs, tls_server: Start
) -> None:
    server = tls_server(certs.shadowpad, low=ssl.TLSVersion.TLSv1_3)
    text = FIELDS.replace("    matchers:", "    max_version: tls12\n    matchers:")
    assert run(write_template(tmp_path, text), server).results == []


def test_cipher_suites_restrict_what_is_offered(
    tmp_path: Path, certs: Certs, tls_server: Start
) -> None:
    # The server prefers AES-GCM; only the template's list makes it pick CBC.
    server = tls_server(
        certs.shadowpad,
        high=ssl.TLSVersion.TLSv1_2,
        ciphers="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
    )
    text = FIELDS.replace(
        "    matchers:",
        "    cipher_suites:\n      - TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\n    matchers:",
    )
    got = response_of(run(write_template(tmp_path, text), server))
    assert got["cipher"] == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
    # A server that does not accept that suite: no handshake, no match.
    strict = tls_server(certs.shadowpad, high=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE+AESGCM")
    assert run(write_template(tmp_path, text, "s.yaml"), strict).results == []


def test_version_and_cipher_enumeration(tmp_path: Path, certs: Certs, tls_server: Start) -> None:
    server = tls_server(
        certs.shadowpad,
        low=ssl.TLSVersion.TLSv1_2,
        high=ssl.TLSVersion.TLSv1_2,
        ciphers="ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:@SECLEVEL=0",
    )
    text = FIELDS.replace(
        "    matchers:",
        "    tls_cipher_enum: true\n    tls_cipher_types: [all]\n    matchers:",
    )
    report = run(write_template(tmp_path, text), server)
    got = response_of(report)
    assert got["version_enum"] == ["tls12"]
    assert got["cipher_enum"] == [
        {
            "version": "tls12",
            "ciphers": {
                "weak": ["TLS_RSA_WITH_AES_128_CBC_SHA"],
                "secure": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
            },
        }
    ]
    if not ssl.HAS_SSLv3:
        assert any("sslv3" in note for note in report.notes)  # untested, and said so


def test_version_enumeration_alone(tmp_path: Path, certs: Certs, tls_server: Start) -> None:
    server = tls_server(certs.shadowpad, low=ssl.TLSVersion.TLSv1_2)
    text = FIELDS.replace("    matchers:", "    tls_version_enum: true\n    matchers:")
    got = response_of(run(write_template(tmp_path, text), server))
    assert got["version_enum"] == ["tls12", "tls13"]
    assert "cipher_enum" not in got


def test_json_extractor_and_word_matcher_on_fields(
    tmp_path: Path, certs: Certs, tls_server: Start
) -> None:
    text = """\
    id: ssl-json
    info:
      name: json
      severity: info
    ssl:
      - address: "{{Host}}:{{Port}}"
        matchers-condition: and
        matchers:
          - type: word
            part: subject_an
            words: ["*.wild.test"]
          - type: regex
            part: serial
            regex: ["^08:BB"]
        extractors:
          - type: json
            json: [".fingerprint_hash.sha256", ".domains[]"]
    """
    template = write_template(tmp_path, textwrap.dedent(text))
    report = run(template, tls_server(certs.shadowpad))
    assert len(report.results) == 1
    assert report.results[0].extracted == [
        hashlib.sha256(certs.shadowpad.der).hexdigest(),
        "localhost",
        "wild.test",
        "myServer",
    ]
    assert run(template, tls_server(certs.dcrat)).results == []


def test_flow_runs_ssl_blocks_by_id(tmp_path: Path, certs: Certs, tls_server: Start) -> None:
    text = """\
    id: ssl-flow
    info:
      name: flow
      severity: info
    flow: ssl("first") && ssl("second")
    ssl:
      - id: first
        address: "{{Host}}:{{Port}}"
        matchers:
          - type: dsl
            dsl: ["self_signed == true"]
      - id: second
        address: "{{Host}}:{{Port}}"
        matchers:
          - type: word
            part: issuer_cn
            words: ["myServer"]
    """
    template = write_template(tmp_path, textwrap.dedent(text))
    server = tls_server(certs.shadowpad)
    assert len(run(template, server).results) == 2
    assert server.accepted == 2
    other = tls_server(certs.leaf)  # not self-signed: the second block never runs
    assert run(template, other).results == []
    assert other.accepted == 1


# ------------------------------------------------------------------- scope and refusals


def test_no_packet_outside_the_scope(tmp_path: Path, certs: Certs, tls_server: Start) -> None:
    server = tls_server(certs.shadowpad)
    template = write_template(tmp_path, FIELDS)
    report = execute(template, server.target, context_for("127.0.0.2"))
    assert report.results == []
    assert report.notes
    assert server.accepted == 0


def test_address_elsewhere_is_refused(tmp_path: Path, certs: Certs, tls_server: Start) -> None:
    inside = tls_server(certs.shadowpad)
    outside = tls_server(certs.dcrat)
    text = FIELDS.replace('"{{Host}}:{{Port}}"', f'"127.0.0.1:{outside.port}"')
    report = execute(write_template(tmp_path, text), inside.target, context_for(inside.target))
    assert report.results == []
    assert outside.accepted == 0 and inside.accepted == 0


def _features(tmp_path: Path, block: str) -> list[str]:
    head = "id: x\ninfo:\n  name: x\n  severity: info\nssl:\n"
    text = f"{head}  - address: '{{{{Host}}}}:443'\n{block}"
    return write_template(tmp_path, text).features


def test_load_time_refusals(tmp_path: Path) -> None:
    assert _features(tmp_path, "    scan_mode: ztls\n") == ["ssl-scan-mode:ztls"]
    assert _features(tmp_path, "    scan_mode: ctls\n") == []
    assert _features(tmp_path, "    scan_mode: openssl\n") == []
    assert _features(tmp_path, "    min_version: tls99\n") == ["ssl-version:tls99"]
    assert _features(tmp_path, "    cipher_suites: [TLS_NOT_A_SUITE]\n") == [
        "ssl-cipher:TLS_NOT_A_SUITE"
    ]
    assert _features(tmp_path, "    tls_cipher_types: [bad]\n") == ["ssl-cipher-type:bad"]
    assert _features(tmp_path, "    bogus: 1\n") == ["ssl-field:bogus"]
    with pytest.raises(Exception, match="min_version"):
        _features(tmp_path, "    min_version: tls13\n    max_version: tls10\n")


@pytest.mark.skipif(ssl.HAS_SSLv3, reason="this OpenSSL build offers SSLv3")
def test_sslv3_only_is_refused_where_openssl_lacks_it(tmp_path: Path) -> None:
    features = _features(tmp_path, "    min_version: sslv3\n    max_version: sslv3\n")
    assert features == ["ssl-version:sslv3"]
    assert _features(tmp_path, "    min_version: sslv3\n") == []  # TLS 1.0 and up remain


def test_suites_this_build_cannot_offer_are_refused(tmp_path: Path) -> None:
    local = {suite.openssl_name for suite in local_suites().values()}
    if "RC4-SHA" in local:
        pytest.skip("this OpenSSL build offers RC4")
    block = "    cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"
    assert _features(tmp_path, block) == ["ssl-cipher-unavailable:TLS_RSA_WITH_RC4_128_SHA"]
    # With one offerable suite beside it the block runs (the other is noted at run time).
    block = "    cipher_suites: [TLS_RSA_WITH_RC4_128_SHA, TLS_RSA_WITH_AES_128_CBC_SHA]\n"
    assert _features(tmp_path, block) == []
