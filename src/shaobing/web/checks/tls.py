"""TLS of an https site (``web.tls``, active): old protocol versions, weak cipher suites,
certificate problems.

Every handshake starts with the scan context's ``connect`` (engagement scope and rate
limit), then wraps the socket with Python's ``ssl`` (the certificate is never verified
during the handshake: a scanner must see bad ones). Certificate facts, cipher names and
the handshake plumbing are reused from the Nuclei ssl support
(:mod:`shaobing.templates.certinfo`, :mod:`shaobing.templates.ciphers`,
:mod:`shaobing.templates.tls`) so both report the same facts.

* ``tls-protocol`` — SSLv3, TLS 1.0 or TLS 1.1 completes a handshake (one handshake per
  version the local OpenSSL can offer; versions it cannot offer — Debian/Ubuntu builds
  have no SSLv3 — are named in the issue and logged, never read as "not supported").
* ``tls-weak-cipher`` — the server accepts a suite that is insecure or weak for this
  platform. Decision (documented in the finding text): no encryption (NULL), export
  grade, anonymous key exchange (no authentication), RC4, RC2, DES and 3DES, IDEA, an MD5
  MAC, or a key exchange without forward secrecy (static RSA/DH/ECDH, plain PSK, SRP,
  Kerberos). ECDHE/DHE suites with CBC and SHA-1/SHA-2 MACs are *not* reported: they are
  still allowed by the usual national and Mozilla "intermediate" baselines, and reporting
  them would bury the real problems. When every accepted weak suite is weak only for
  lacking forward secrecy the issue is low instead of medium. Found by elimination: all
  candidates are offered at TLS 1.0–1.2, the chosen one is recorded and removed, until
  the server refuses (one handshake per accepted suite plus one).
* ``tls-certificate`` — expired, not yet valid, self-signed or not chained to a root of
  the system CA store, or issued for other names than the host (IP SANs count for IP
  hosts).

Handshakes per https site: 1 (2 when only unusual suites work) + up to 3 (versions) +
accepted weak suites + 1.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from shaobing.core.scope import ScopeRefused
from shaobing.findings.severity import Severity
from shaobing.scan.checks import Safety
from shaobing.templates.certinfo import certificate_fields, mismatched, system_roots
from shaobing.templates.ciphers import from_openssl, local_suites, version_available
from shaobing.templates.tls import DEFAULT_CIPHERS, _chain, _context
from shaobing.web.checks._support import QUOTE_ITEMS
from shaobing.web.checks.base import ScanState, SiteCheck, register
from shaobing.web.issues import WebIssue

log = logging.getLogger(__name__)

# Protocol versions reported when accepted, oldest first (RFC 7568 deprecates SSLv3,
# RFC 8996 deprecates TLS 1.0 and 1.1).
OLD_VERSIONS = ("sslv3", "tls10", "tls11")
_LABELS = {"sslv3": "SSLv3", "tls10": "TLS 1.0", "tls11": "TLS 1.1", "tls12": "TLS 1.2"}
_VERSION_NAMES = {"SSLv3": "sslv3", "TLSv1": "tls10", "TLSv1.1": "tls11", "TLSv1.2": "tls12"}
_VERSION_NAMES["TLSv1.3"] = "tls13"
# Every suite the build knows, at security level 0 (the Nuclei ssl support's list).
ALL_CIPHERS = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"
# Most weak suites enumerated per site (organisation-defined: real servers accept a few;
# the cap bounds the handshakes against a server that accepts everything).
MAX_WEAK_SUITES = 32
# Suites OpenSSL marks as usable with SSLv3/TLS 1.0 (needed to test those versions).
_PRE_TLS12 = ("SSLv3", "TLSv1")


def weak_reason(name: str) -> str | None:
    """Why the IANA suite ``name`` is weak (Chinese), None when it is acceptable; see the
    module docstring for the decision."""
    upper = name.upper()
    if not upper.startswith(("TLS_", "SSL_")):
        return None
    if "_WITH_" not in upper:
        return None  # TLS 1.3 suites: always AEAD with an ephemeral key exchange
    exchange, cipher = upper.split("_WITH_", 1)
    exchange = exchange.removeprefix("TLS_").removeprefix("SSL_")
    parts = set(exchange.split("_"))
    checks = (
        ("NULL" in cipher.split("_") or cipher.startswith("NULL"), "无加密（NULL）"),
        ("EXPORT" in parts or "EXPORT" in cipher, "出口级弱加密（EXPORT）"),
        ("ANON" in parts, "匿名密钥交换，无身份认证（anon）"),
        ("RC4" in cipher, "RC4"),
        ("RC2" in cipher, "RC2"),
        ("3DES" in cipher, "3DES"),
        ("DES" in cipher.split("_") or "DES40" in cipher, "DES"),
        ("IDEA" in cipher, "IDEA"),
        (upper.endswith("_MD5"), "MD5 消息认证"),
    )
    for matched, reason in checks:
        if matched:
            return reason
    if not (exchange.startswith(("DHE_", "ECDHE_")) or exchange in ("DHE", "ECDHE")):
        return f"不具备前向保密（{exchange} 密钥交换）"
    return None


FORWARD_SECRECY_ONLY = "不具备前向保密"


@dataclass
class Handshake:
    """What one completed handshake showed."""

    version: str
    cipher: str
    certificate: bytes | None
    chain: list[bytes] = field(default_factory=list)


def can_offer(version: str) -> bool:
    """Whether the local OpenSSL can offer ``version`` (compiled in, and suites usable
    with it exist at security level 0)."""
    if not version_available(version):
        return False
    if version in ("sslv3", "tls10", "tls11"):
        return any(s.protocol in _PRE_TLS12 for s in local_suites().values())
    return True


@dataclass
class Prober:
    """Handshakes with one server through the scan context."""

    state: ScanState
    host: str
    port: int
    handshakes: int = 0

    @property
    def sni(self) -> str | None:
        """The server name sent (none for IP addresses, as browsers do)."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return self.host
        return None

    def shake(self, low: str | None, high: str | None, ciphers: str) -> Handshake | None:
        """A completed handshake with these settings; None when the server refuses (an
        alert, a reset, a timeout) or the connection is not allowed."""
        context = _context(low, high, ciphers)
        self.handshakes += 1
        client = self.state.client
        try:
            sock = client.ctx.connect(self.host, self.port, timeout=client.timeout)
        except (ScopeRefused, OSError):
            return None
        try:
            tls = context.wrap_socket(sock, server_hostname=self.sni)
        except (OSError, ValueError):  # ssl.SSLError is an OSError
            sock.close()
            return None
        try:
            version = tls.version() or ""
            cipher = tls.cipher()
            return Handshake(
                version=_VERSION_NAMES.get(version, version.lower()),
                cipher=from_openssl(cipher[0]) if cipher else "",
                certificate=tls.getpeercert(binary_form=True),
                chain=_chain(tls),
            )
        finally:
            tls.close()

    def stopped(self) -> bool:
        """Whether the scan is stopping or out of time."""
        remaining = self.state.client.budget.remaining_seconds()
        return self.state.client.ctx.should_stop() or (remaining is not None and remaining <= 0)


def _lowest_offerable() -> str:
    return next((v for v in OLD_VERSIONS if can_offer(v)), "tls12")


def weak_candidates() -> list[tuple[str, str, str]]:
    """(OpenSSL name, IANA name, reason) of the weak suites this build can offer in a TLS
    1.2-or-older hello (PSK/SRP suites need credentials and are never sent)."""
    out = []
    for suite in local_suites().values():
        if suite.tls13 or not suite.offerable:
            continue
        iana = from_openssl(suite.openssl_name)
        reason = weak_reason(iana)
        if reason is not None:
            out.append((suite.openssl_name, iana, reason))
    return out


def _alt_names(cert: x509.Certificate) -> tuple[list[str], list[str]] | None:
    """(DNS names, IP addresses) of the SAN extension; None without one."""
    try:
        extension = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except (x509.ExtensionNotFound, ValueError):
        return None
    names = extension.value
    if not isinstance(names, x509.SubjectAlternativeName):
        return None
    dns = [str(n) for n in names.get_values_for_type(x509.DNSName)]
    ips = [str(a) for a in names.get_values_for_type(x509.IPAddress)]
    return dns, ips


def name_mismatch(cert: x509.Certificate, host: str, common_name: str) -> bool:
    """Whether ``cert`` does not cover ``host`` the way browsers judge it (RFC 6125, CA/B
    Baseline Requirements): the SAN names when present (the CN is then ignored), else the
    CN; IP hosts need an IP SAN. Wildcards follow the tlsx rule of ``certinfo``."""
    bare = host.strip("[]")
    alt = _alt_names(cert)
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        address = None
    if address is not None:
        if alt is None:
            return common_name != str(address)
        return str(address) not in {str(ipaddress.ip_address(ip)) for ip in alt[1]}
    names = alt[0] if alt is not None else [common_name]
    return mismatched(bare, names)


def certificate_problems(
    der: bytes,
    host: str,
    chain: list[bytes],
    *,
    roots: tuple[x509.Certificate, ...] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """What is wrong with the leaf ``der`` served for ``host`` (Chinese, empty when
    nothing): expired, not yet valid, self-signed/untrusted, name mismatch."""
    moment = now or datetime.now(UTC)
    facts = certificate_fields(der, host, chain, now=moment, roots=roots)
    cert = x509.load_der_x509_certificate(der)
    problems: list[str] = []
    if facts.expired:
        problems.append(f"证书已于 {facts.not_after} 过期")
    if cert.not_valid_before_utc > moment:
        problems.append(f"证书尚未生效（生效时间 {facts.not_before}）")
    if facts.untrusted:
        if cert.issuer == cert.subject:
            problems.append(f"自签名证书（签发者 {facts.issuer_dn or '空'}）")
        else:
            problems.append(f"证书链无法验证到受信任的根证书（签发者 {facts.issuer_dn or '空'}）")
    if name_mismatch(cert, host, facts.subject_cn):
        alt = _alt_names(cert)
        listed = [*alt[0], *alt[1]] if alt is not None else [facts.subject_cn]
        names = ", ".join(n for n in listed[:QUOTE_ITEMS] if n)
        problems.append(f"证书中的名称（{names or '无'}）与访问地址 {host} 不一致")
    return problems


class TlsCheck(SiteCheck):
    """Protocols, cipher suites and certificate of an https site."""

    id = "web.tls"
    kinds = ("tls-protocol", "tls-weak-cipher", "tls-certificate")
    safety = Safety.ACTIVE

    def __init__(self, roots: tuple[x509.Certificate, ...] | None = None) -> None:
        # Roots other than the system store (tests; an organisation's private CA).
        self.roots = roots

    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """All three checks on ``base`` when it is https."""
        parts = urlsplit(base)
        if parts.scheme != "https" or not parts.hostname:
            return
        prober = Prober(state, parts.hostname, parts.port or 443)  # RFC 9110 §4.2.2
        # Authenticated suites first (a server preferring an anonymous one sends no
        # certificate), then everything, so a server speaking only NULL suites is judged.
        first = prober.shake(None, None, DEFAULT_CIPHERS) or prober.shake(None, None, ALL_CIPHERS)
        if first is None:
            return  # no TLS spoken at all (or not reachable): nothing to judge
        url = f"https://{parts.netloc}/"
        if first.certificate:
            yield from self._certificate(url, parts.hostname, first)
        yield from self._protocols(url, prober)
        yield from self._ciphers(url, prober)

    def _certificate(self, url: str, host: str, shook: Handshake) -> Iterator[WebIssue]:
        assert shook.certificate is not None
        try:
            problems = certificate_problems(
                shook.certificate, host, shook.chain, roots=self._roots()
            )
        except ValueError:
            problems = ["服务器发送的证书无法解析"]
        if problems:
            yield WebIssue(
                kind="tls-certificate",
                url=url,
                method="TLS",
                detail="；".join(problems) + "。",
                extra={"problems": problems},
            )

    def _roots(self) -> tuple[x509.Certificate, ...]:
        return self.roots if self.roots is not None else system_roots()

    def _protocols(self, url: str, prober: Prober) -> Iterator[WebIssue]:
        accepted: list[str] = []
        untestable: list[str] = []
        for version in OLD_VERSIONS:
            if prober.stopped():
                return
            if not can_offer(version):
                untestable.append(_LABELS[version])
                continue
            shook = prober.shake(version, version, DEFAULT_CIPHERS)
            if shook is not None and shook.version == version:
                accepted.append(f"{_LABELS[version]}（协商套件 {shook.cipher}）")
        if untestable:
            log.info("local OpenSSL cannot offer %s; not tested on %s", untestable, url)
        if accepted:
            note = (
                f"（本机 OpenSSL 无法发起 {'、'.join(untestable)} 握手，未检测）"
                if untestable
                else ""
            )
            yield WebIssue(
                kind="tls-protocol",
                url=url,
                method="TLS",
                detail="服务器接受以下不安全的协议版本：" + "；".join(accepted) + "。" + note,
                extra={"accepted": accepted, "untestable": untestable},
            )

    def _ciphers(self, url: str, prober: Prober) -> Iterator[WebIssue]:
        remaining = {name: (iana, reason) for name, iana, reason in weak_candidates()}
        low = _lowest_offerable()
        found: dict[str, str] = {}
        while remaining and len(found) < MAX_WEAK_SUITES and not prober.stopped():
            shook = prober.shake(low, "tls12", ":".join(remaining) + ":@SECLEVEL=0")
            if shook is None:
                break
            chosen = next((n for n, (iana, _) in remaining.items() if iana == shook.cipher), None)
            if chosen is None:
                break  # the server picked a suite we did not offer: stop, do not loop
            found[shook.cipher] = remaining.pop(chosen)[1]
        if not found:
            return
        only_fs = all(reason.startswith(FORWARD_SECRECY_ONLY) for reason in found.values())
        listed = "；".join(f"{name}（{reason}）" for name, reason in found.items())
        yield WebIssue(
            kind="tls-weak-cipher",
            url=url,
            method="TLS",
            detail=f"服务器接受以下弱加密套件：{listed}。",
            severity=Severity.LOW if only_fs else None,
            extra={"suites": dict(found)},
        )


register(TlsCheck())
