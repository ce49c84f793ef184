"""The TLS check against Python ``ssl`` servers on 127.0.0.1 with certificates made here:
old protocol versions, weak suites and bad certificates, each with a sound twin."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shaobing.templates.ciphers import local_suites
from shaobing.web.checks import tls
from shaobing.web.issues import WebIssue
from tests.web.helpers import make_state

# The check offers TLS 1.0/1.1 on purpose; Python warns about those enum members.
pytestmark = pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)
STRONG = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass
class Pki:
    """A test CA and a way to issue leaf certificates."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def issue(
        self,
        tmp: Path,
        *,
        names: list[x509.GeneralName] | None = None,
        before: datetime.datetime = NOW - DAY,
        after: datetime.datetime = NOW + 30 * DAY,
        self_signed: bool = False,
    ) -> tuple[Path, Path]:
        """(certificate, key) PEM files of a leaf for 127.0.0.1 unless ``names``."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name("127.0.0.1")
        sans = names if names is not None else [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(before)
            .not_valid_after(after)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        cert = builder.sign(key if self_signed else self.key, hashes.SHA256())
        cert_path = tmp / f"leaf-{cert.serial_number}.pem"
        key_path = tmp / f"leaf-{cert.serial_number}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path


@pytest.fixture(scope="module")
def pki() -> Pki:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("Shaobing Test CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - 10 * DAY)
        .not_valid_after(NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pki(key, cert)


class TlsServer:
    """Completes TLS handshakes on 127.0.0.1 with a given context, then hangs up."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.handshakes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.sock.getsockname()[1]}/"

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True):
                    self.handshakes += 1
            except (OSError, ValueError):
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def _context(
    files: tuple[Path, Path],
    *,
    low: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    high: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ciphers: str = STRONG,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*files)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
        context.minimum_version = low
        context.maximum_version = high
    context.set_ciphers(ciphers)
    return context


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[TlsServer] = []

    def start(context: ssl.SSLContext) -> TlsServer:
        server = TlsServer(context)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _check(server: TlsServer, pki: Pki | None) -> list[WebIssue]:
    state = make_state(server.url)
    try:
        check = tls.TlsCheck(roots=(pki.cert,) if pki is not None else None)
        return list(check.run(server.url.rstrip("/"), state))
    finally:
        state.client.close()


def _by_kind(issues: list[WebIssue]) -> dict[str, WebIssue]:
    return {issue.kind: issue for issue in issues}


def _rsa_leaf(tmp: Path) -> tuple[Path, Path]:
    """An RSA leaf (static-RSA suites need an RSA key), self-signed for 127.0.0.1."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = _name("127.0.0.1")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "rsa.pem", tmp / "rsa.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _local(name: str) -> bool:
    return any(s.openssl_name == name for s in local_suites().values())


# --------------------------------------------------------------------------- tests


def test_sound_server_has_no_issue(tmp_path: Path, pki: Pki, serve: object) -> None:
    server = serve(_context(pki.issue(tmp_path)))  # type: ignore[operator]
    assert _check(server, pki) == []
    # It was really probed: the first handshake, and refusals of the rest.
    assert server.handshakes >= 1


@pytest.mark.skipif(not tls.can_offer("tls10"), reason="local OpenSSL cannot offer TLS 1.0")
def test_old_protocols_reported(tmp_path: Path, pki: Pki, serve: object) -> None:
    context = _context(
        pki.issue(tmp_path),
        low=ssl.TLSVersion.TLSv1,
        high=ssl.TLSVersion.TLSv1_2,
        ciphers="ECDHE-ECDSA-AES128-SHA:" + STRONG + ":@SECLEVEL=0",
    )
    issues = _by_kind(_check(serve(context), pki))  # type: ignore[operator]
    assert set(issues) == {"tls-protocol"}
    detail = issues["tls-protocol"].detail
    assert "TLS 1.0" in detail and "TLS 1.1" in detail
    assert issues["tls-protocol"].extra["untestable"] == (
        ["SSLv3"] if not tls.can_offer("sslv3") else []
    )


@pytest.mark.skipif(not _local("AES128-SHA"), reason="local OpenSSL lacks AES128-SHA")
def test_non_forward_secret_suites_are_low(tmp_path: Path, serve: object) -> None:
    context = _context(
        _rsa_leaf(tmp_path),
        high=ssl.TLSVersion.TLSv1_2,
        ciphers="AES128-SHA:AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0",
    )
    server = serve(context)  # type: ignore[operator]
    issues = _by_kind(_check(server, None))
    weak = issues["tls-weak-cipher"]
    assert set(weak.extra["suites"]) == {
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
    }
    assert weak.severity is not None and weak.severity.value == "low"
    # Self-signed RSA certificate, no private roots given: untrusted and self-signed.
    assert "自签名" in issues["tls-certificate"].detail


@pytest.mark.skipif(not _local("NULL-SHA256"), reason="local OpenSSL lacks NULL-SHA256")
def test_null_cipher_is_medium(tmp_path: Path, serve: object) -> None:
    context = _context(
        _rsa_leaf(tmp_path), high=ssl.TLSVersion.TLSv1_2, ciphers="NULL-SHA256:@SECLEVEL=0"
    )
    weak = _by_kind(_check(serve(context), None))["tls-weak-cipher"]  # type: ignore[operator]
    assert weak.extra["suites"] == {"TLS_RSA_WITH_NULL_SHA256": "无加密（NULL）"}
    assert weak.severity is None  # the catalogue's medium


@pytest.mark.parametrize(
    ("when", "wanted"),
    [
        ({"before": NOW - 60 * DAY, "after": NOW - DAY}, "过期"),
        ({"before": NOW + 5 * DAY, "after": NOW + 60 * DAY}, "尚未生效"),
        ({"names": [x509.DNSName("portal.example")]}, "不一致"),
    ],
)
def test_certificate_problems(
    tmp_path: Path, pki: Pki, serve: object, when: dict[str, object], wanted: str
) -> None:
    server = serve(_context(pki.issue(tmp_path, **when)))  # type: ignore[operator, arg-type]
    issues = _by_kind(_check(server, pki))
    assert set(issues) == {"tls-certificate"}
    assert wanted in issues["tls-certificate"].detail
    assert "自签名" not in issues["tls-certificate"].detail


def test_self_signed_and_untrusted(tmp_path: Path, pki: Pki, serve: object) -> None:
    own = serve(_context(pki.issue(tmp_path, self_signed=True)))  # type: ignore[operator]
    assert "自签名" in _by_kind(_check(own, pki))["tls-certificate"].detail
    # Signed by a CA the roots do not hold: untrusted, not self-signed.
    chained = serve(_context(pki.issue(tmp_path)))  # type: ignore[operator]
    detail = _by_kind(_check(chained, None))["tls-certificate"].detail
    assert "无法验证到受信任的根证书" in detail


def test_host_names_and_wildcards(tmp_path: Path, pki: Pki) -> None:
    cert_path, _ = pki.issue(tmp_path, names=[x509.DNSName("*.example.com")])
    der = x509.load_pem_x509_certificate(cert_path.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    assert tls.certificate_problems(der, "www.example.com", [], roots=(pki.cert,)) == []
    (problem,) = tls.certificate_problems(der, "a.b.example.com", [], roots=(pki.cert,))
    assert "a.b.example.com" in problem
    (problem,) = tls.certificate_problems(der, "127.0.0.1", [], roots=(pki.cert,))
    assert "不一致" in problem


def test_plain_http_and_silent_ports_are_skipped() -> None:
    state = make_state("http://127.0.0.1:9/")
    assert list(tls.TlsCheck().run("http://127.0.0.1:9", state)) == []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens: no handshake, no issue
    closed = make_state(f"https://127.0.0.1:{port}/")
    assert list(tls.TlsCheck().run(f"https://127.0.0.1:{port}", closed)) == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("TLS_RSA_WITH_NULL_SHA256", "无加密（NULL）"),
        ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", "出口级弱加密（EXPORT）"),
        ("TLS_DH_anon_WITH_AES_128_CBC_SHA", "匿名密钥交换，无身份认证（anon）"),
        ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", "RC4"),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
        ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "3DES"),
        ("TLS_RSA_WITH_DES_CBC_SHA", "DES"),
        ("TLS_RSA_WITH_IDEA_CBC_SHA", "IDEA"),
        ("TLS_RSA_WITH_AES_128_GCM_SHA256", "不具备前向保密（RSA 密钥交换）"),
        ("TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", "不具备前向保密（ECDH_ECDSA 密钥交换）"),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", None),
        ("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", None),
        ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", None),
        ("TLS_AES_128_GCM_SHA256", None),
    ],
)
def test_weak_reason(name: str, reason: str | None) -> None:
    assert tls.weak_reason(name) == reason


def test_candidates_are_all_weak_and_offerable() -> None:
    candidates = tls.weak_candidates()
    assert candidates, "the local OpenSSL offers no weak suite at all"
    assert all(reason for _, _, reason in candidates)
    assert not any(iana.startswith("TLS_ECDHE_RSA_WITH_AES_128_GCM") for _, iana, _ in candidates)
