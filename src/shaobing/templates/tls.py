"""ssl request blocks (Nuclei's ssl protocol): a TLS handshake through the scope guard,
the session and certificate facts in the JSON shape tlsx (Nuclei's TLS library) gives,
and on request the protocol versions and cipher suites the server accepts.

Every handshake starts with ``ctx.connect`` (scope guard and rate limit), then wraps the
socket with Python's ``ssl`` module. The handshake never verifies the certificate (a
scanner must see bad certificates too); ``untrusted`` is computed separately against the
system CA store. What the local OpenSSL build cannot offer (SSLv3, suites it was built
without, TLS 1.3 suites one by one, PSK/SRP suites without credentials) is reported in
the run's notes, never counted as "not supported by the server".
"""

from __future__ import annotations

import json
import ssl
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shaobing.core.i18n import t
from shaobing.core.scope import ScopeRefused
from shaobing.templates.certinfo import certificate_fields, go_time
from shaobing.templates.ciphers import (
    LEVELS,
    SUITES,
    VERSIONS,
    LocalSuite,
    cipher_level,
    from_openssl,
    iana_name,
    local_suites,
    usable_suites,
    version_available,
)
from shaobing.templates.dsl import interpolate, unresolved
from shaobing.templates.model import SslRequest
from shaobing.templates.state import RunState

_PROTOCOLS = {
    "sslv3": ssl.TLSVersion.SSLv3,
    "tls10": ssl.TLSVersion.TLSv1,
    "tls11": ssl.TLSVersion.TLSv1_1,
    "tls12": ssl.TLSVersion.TLSv1_2,
    "tls13": ssl.TLSVersion.TLSv1_3,
}
_NAMES = {"SSLv3": "sslv3", "TLSv1": "tls10", "TLSv1.1": "tls11", "TLSv1.2": "tls12"}
_NAMES["TLSv1.3"] = "tls13"
# Every suite that authenticates and encrypts, as Go's full list does (tlsx offers all
# of crypto/tls's suites, insecure ones included); level 0 lets OpenSSL 3 use TLS 1.0/1.1.
DEFAULT_CIPHERS = "ALL:!aNULL:!eNULL:@SECLEVEL=0"
DEFAULT_PORT = 443
# OpenSSL errors raised before any hello is sent: the local library could not offer the
# version or suite, which says nothing about the server.
_LOCAL_FAILURES = frozenset({"NO_CIPHERS_AVAILABLE", "NO_PROTOCOLS_AVAILABLE"})
# Python deprecates offering TLS 1.0/1.1 and SSLv3; testing whether servers still accept
# them is the point of these templates, so the warning is silenced for this module only.
warnings.filterwarnings(
    "ignore",
    message=r"ssl\.TLSVersion\.(SSLv3|TLSv1|TLSv1_1) is deprecated",
    category=DeprecationWarning,
    module=__name__,
)


@dataclass
class Handshake:
    """What one completed handshake showed."""

    version: str
    cipher: str
    ip: str
    certificate: bytes | None
    chain: list[bytes] = field(default_factory=list)


def _context(low: str | None, high: str | None, ciphers: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers(ciphers)
    # Go's crypto/tls (tlsx's ctls mode) offers TLS 1.0 and up unless told otherwise; the
    # library's lowest is the same where it has no SSLv3 (and avoids the deprecation).
    if low:
        context.minimum_version = _PROTOCOLS[low]
    elif ssl.HAS_SSLv3:
        context.minimum_version = ssl.TLSVersion.TLSv1
    else:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    if high:
        context.maximum_version = _PROTOCOLS[high]
    # Old servers without RFC 5746 renegotiation info are still worth describing.
    context.options |= getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0)
    return context


def _chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The certificates the server sent after the leaf (DER)."""
    getter = getattr(tls, "get_unverified_chain", None)  # public from Python 3.13
    if getter is None:
        # Python 3.10-3.12 have the same method on the private SSL object only.
        getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if getter is None:
        return []
    try:
        chain = getter() or []
    except (ssl.SSLError, ValueError):
        return []
    out: list[bytes] = []
    for item in chain:
        if isinstance(item, bytes):
            out.append(item)
            continue
        public_bytes = getattr(item, "public_bytes", None)
        if public_bytes is not None:
            out.append(ssl.PEM_cert_to_DER_cert(str(public_bytes())))
    return out[1:]


def _handshake(
    state: RunState, host: str, port: int, sni: str, context: ssl.SSLContext
) -> Handshake:
    sock = state.ctx.connect(host, port, timeout=state.ctx.timeout)
    state.requests += 1
    try:
        tls = context.wrap_socket(sock, server_hostname=sni or None)
    except BaseException:
        sock.close()
        raise
    try:
        version = tls.version() or ""
        cipher = tls.cipher()
        peer = tls.getpeername()
        return Handshake(
            version=_NAMES.get(version, version.lower()),
            cipher=from_openssl(cipher[0]) if cipher else "",
            ip=str(peer[0]) if peer else "",
            certificate=tls.getpeercert(binary_form=True),
            chain=_chain(tls),
        )
    finally:
        tls.close()


def _address(text: str) -> tuple[str, int] | None:
    """(host, port) of ``host:port`` or ``[v6]:port``."""
    parts = urlsplit(f"//{text.strip()}")
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname, port


def _target_port(target: str) -> int:
    """The target's explicit port, else 443 (Nuclei's ssl protocol default)."""
    try:
        port = urlsplit(target if "://" in target else f"//{target}").port
    except ValueError:
        port = None
    return port or DEFAULT_PORT


class _Enumerator:
    """Version and cipher enumeration: one handshake per candidate, each through the
    scope guard and rate limit."""

    def __init__(self, state: RunState, host: str, port: int, sni: str, where: str) -> None:
        self.state = state
        self.host = host
        self.port = port
        self.sni = sni
        self.where = where
        self.unsent: list[str] = []
        """Candidates the local library refused to put in a hello (not the server)."""

    def accepts(self, low: str, high: str, ciphers: str, label: str) -> Handshake | None:
        """The handshake when the server completes one with these settings; None when it
        refuses (an alert or a closed connection) or when nothing could be offered."""
        try:
            context = _context(low, high, ciphers)
            return _handshake(self.state, self.host, self.port, self.sni, context)
        except ssl.SSLError as exc:
            if exc.reason in _LOCAL_FAILURES:
                self.unsent.append(label)
            return None
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            return None

    def versions(self) -> list[str]:
        """The protocol versions the server accepts, of those this build can offer."""
        found: list[str] = []
        for version in VERSIONS:
            if not version_available(version):
                self.state.note(
                    t(
                        "templates_ssl.run.version_untestable",
                        version=version,
                        openssl=ssl.OPENSSL_VERSION,
                        address=self.where,
                    )
                )
                continue
            if self.state.ctx.should_stop():
                break
            if self.accepts(version, version, DEFAULT_CIPHERS, version) is not None:
                found.append(version)
        self._report_unsent()
        return found

    def ciphers(self, versions: list[str], levels: tuple[str, ...]) -> list[dict[str, Any]]:
        """Per accepted version, the suites of ``levels`` the server accepts."""
        candidates, untestable = self._candidates(levels)
        if untestable:
            self.state.note(
                t(
                    "templates_ssl.run.cipher_untestable",
                    count=len(untestable),
                    names=", ".join(untestable[:20]),
                    openssl=ssl.OPENSSL_VERSION,
                )
            )
        out: list[dict[str, Any]] = []
        for version in versions:
            if version == "tls13":
                self.state.note(t("templates_ssl.run.cipher_tls13", address=self.where))
                continue
            accepted: dict[str, list[str]] = {}
            for suite in candidates:
                if self.state.ctx.should_stop():
                    return out
                if version in ("sslv3", "tls10", "tls11") and suite.protocol == "TLSv1.2":
                    continue  # TLS 1.2-only suites (AEAD, SHA-256 MACs) cannot be offered
                offer = f"{suite.openssl_name}:@SECLEVEL=0"
                label = f"{version}/{iana_name(suite.code)}"
                shook = self.accepts(version, version, offer, label)
                if shook is not None:
                    accepted.setdefault(cipher_level(shook.cipher), []).append(shook.cipher)
            if accepted:
                # tlsx's CipherTypes order: weak, insecure, secure.
                order = ("weak", "insecure", "secure")
                ciphers = {level: accepted[level] for level in order if level in accepted}
                out.append({"version": version, "ciphers": ciphers})
        self._report_unsent()
        return out

    def _report_unsent(self) -> None:
        if self.unsent:
            names = ", ".join(self.unsent[:20])
            self.state.note(t("templates_ssl.run.unsent", address=self.where, names=names))
            self.unsent = []

    @staticmethod
    def _candidates(levels: tuple[str, ...]) -> tuple[list[LocalSuite], list[str]]:
        local = local_suites()
        candidates: list[LocalSuite] = []
        untestable: list[str] = []
        for code, name in SUITES.items():
            if cipher_level(name) not in levels:
                continue
            suite = local.get(code)
            if suite is not None and suite.tls13:
                continue  # reported once per version instead
            if suite is None or not suite.offerable:
                untestable.append(name)
            else:
                candidates.append(suite)
        return candidates, untestable


def _levels(block: SslRequest) -> tuple[str, ...]:
    types = block.cipher_types or ("insecure",)
    return LEVELS if "all" in types else tuple(level for level in LEVELS if level in types)


def _omit_empty(record: dict[str, Any]) -> dict[str, Any]:
    # tlsx marks its fields omitempty; booleans are kept so ".expired" reads false.
    return {k: v for k, v in record.items() if isinstance(v, bool) or v not in ("", [], {}, None)}


def _response(
    state: RunState, block: SslRequest, host: str, port: int, shook: Handshake
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "timestamp": go_time(datetime.now(UTC)),
        "host": host,
        "ip": shook.ip,
        "port": str(port),
        "probe_status": True,
        "tls_version": shook.version,
        "cipher": shook.cipher,
    }
    if shook.certificate:
        try:
            record.update(certificate_fields(shook.certificate, host, shook.chain).record())
        except ValueError as exc:
            state.note(t("templates_ssl.run.certificate", address=f"{host}:{port}", detail=exc))
    record["tls_connection"] = "openssl" if block.scan_mode == "openssl" else "ctls"
    record["sni"] = host
    return record


def _enumerate(
    state: RunState, block: SslRequest, host: str, port: int, record: dict[str, Any]
) -> None:
    where = f"{host}:{port}"
    enumerator = _Enumerator(state, host, port, host, where)
    versions = enumerator.versions()
    record["version_enum"] = versions
    if block.cipher_enum:
        record["cipher_enum"] = enumerator.ciphers(versions, _levels(block))


def _cipher_string(state: RunState, block: SslRequest) -> str:
    if not block.cipher_suites:
        return DEFAULT_CIPHERS
    usable, missing = usable_suites(block.cipher_suites)
    if missing:
        state.note(
            t(
                "templates_ssl.run.cipher_missing",
                names=", ".join(missing[:20]),
                openssl=ssl.OPENSSL_VERSION,
            )
        )
    if not usable:
        return DEFAULT_CIPHERS if not missing else ""
    return ":".join(suite.openssl_name for suite in usable) + ":@SECLEVEL=0"


def run_ssl_block(state: RunState, block: SslRequest) -> bool:
    """Run ``block`` against the target; True when its matchers matched."""
    values = state.base_variables()
    port = _target_port(state.target)
    host = str(values.get("Host", ""))
    values.update(Host=host, Port=str(port), Hostname=f"{host}:{port}")
    missing = unresolved(block.address, values)
    if missing:
        state.note(t("templates.run.unresolved", names=", ".join(sorted(missing))))
        return False
    address = interpolate(block.address, values)
    parsed = _address(address)
    if parsed is None:
        state.note(t("templates_ssl.run.address", address=address[:200]))
        return False
    host, port = parsed
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if block.min_version == "sslv3" and not version_available("sslv3"):
        state.note(t("templates_ssl.run.sslv3", address=where, openssl=ssl.OPENSSL_VERSION))
    low = block.min_version if block.min_version and version_available(block.min_version) else None
    ciphers = _cipher_string(state, block)
    if not ciphers:
        return False
    if state.ctx.should_stop():
        return False
    try:
        shook = _handshake(state, host, port, host, _context(low, block.max_version, ciphers))
    except ScopeRefused as exc:
        state.note(t("templates.run.refused", detail=exc.message))
        return False
    except (OSError, ValueError) as exc:
        # ssl.SSLError is an OSError: the server refused the versions or suites offered.
        state.note(t("templates_ssl.run.handshake", address=where, detail=exc))
        return False
    record = _response(state, block, host, port, shook)
    if block.version_enum or block.cipher_enum:
        try:
            _enumerate(state, block, host, port, record)
        except ScopeRefused as exc:
            state.note(t("templates.run.refused", detail=exc.message))
        except OSError as exc:
            state.note(t("templates_ssl.run.enumeration", address=where, detail=exc))
    text = json.dumps(_omit_empty(record), ensure_ascii=False, separators=(",", ":"))
    variables: dict[str, Any] = {
        **values,
        **record,
        "response": text,
        "raw": text,
        "body": text,
        "matched": address,
        "type": "ssl",
    }
    evaluation = state.evaluate(block.operators, variables, default_part="response")
    if not evaluation.found:
        return False
    state.report(
        "ssl", block.operators, evaluation, matched_at=where, request=address, response=text
    )
    return True
