"""Network side of service identification: one bounded exchange, plain or inside TLS.

Every function here takes an absolute ``deadline`` (``time.monotonic()``) and never blocks
past it, so a peer that accepts and never answers, trickles bytes or stalls a TLS
handshake costs at most the caller's timeout. Certificates are read with verification
off on purpose: identification must describe self-signed and expired certificates too.
"""

from __future__ import annotations

import hashlib
import select
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

# Chinese commercial cryptography (GM/T) identifiers, common on government certificates.
_GM_OIDS = {
    "1.2.156.10197.1.501": "SM2-with-SM3",
    "1.2.156.10197.1.301": "SM2",
    "1.2.156.10197.1.401": "SM3",
}
# Once some data has arrived, stop reading after this long without more.
QUIET_AFTER_DATA = 0.3
_RECV_CHUNK = 4096


def wait(sock: socket.socket, event: int, seconds: float) -> bool:
    """Wait for ``event`` (or an error/hang-up) on ``sock``; poll, not select, so
    descriptors above FD_SETSIZE (busy scanner processes) work too."""
    poller = select.poll()
    poller.register(sock, event | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(max(1, int(seconds * 1000))))


@cache
def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Old appliances still speak TLS 1.0 with weak suites; identification must reach them.
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    try:
        context.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:  # pragma: no cover - OpenSSL builds without security levels
        context.set_ciphers("ALL")
    context.options |= getattr(ssl, "OP_LEGACY_SERVER_CONNECT", 0)
    return context


def connect(
    family: int, address: str, port: int, deadline: float, *, tls: bool
) -> socket.socket | None:
    """A non-blocking connected socket (TLS-wrapped when ``tls``), or None on failure."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        sock.connect((address, port))
        sock.setblocking(False)
        if not tls:
            return sock
        wrapped = _handshake(sock, deadline)
        if wrapped is None:
            sock.close()
        return wrapped
    except OSError:
        sock.close()
        return None


def _handshake(sock: socket.socket, deadline: float) -> ssl.SSLSocket | None:
    try:
        wrapped = _client_context().wrap_socket(sock, do_handshake_on_connect=False)
    except (ssl.SSLError, OSError, ValueError):
        return None
    while True:
        try:
            wrapped.do_handshake()
            return wrapped
        except ssl.SSLWantReadError:
            event = select.POLLIN
        except ssl.SSLWantWriteError:
            event = select.POLLOUT
        except (OSError, ValueError):
            wrapped.close()
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not wait(wrapped, event, remaining):
            wrapped.close()
            return None


def talk(
    sock: socket.socket,
    payload: bytes,
    *,
    deadline: float,
    wait_first: float,
    max_bytes: int,
    done: Callable[[bytes], bool],
) -> bytes:
    """Send ``payload`` and read the answer on an open non-blocking socket.

    Reading stops at the deadline, at ``max_bytes``, when the peer closes, after a quiet
    spell once data has arrived, or as soon as ``done(data)`` says the answer is decisive.
    """
    data = bytearray()
    if payload:
        try:
            _send_all(sock, payload, deadline)
        except OSError:
            return bytes(data)
    first_deadline = min(deadline, time.monotonic() + wait_first)
    while len(data) < max_bytes:
        now = time.monotonic()
        limit = deadline if data else first_deadline
        if data:
            limit = min(limit, now + QUIET_AFTER_DATA)
        remaining = limit - now
        if remaining <= 0:
            break
        # Decrypted bytes may already sit in the TLS buffer, invisible to poll().
        buffered = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
        if not buffered and not wait(sock, select.POLLIN, remaining):
            break
        try:
            chunk = sock.recv(min(_RECV_CHUNK, max_bytes - len(data)))
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            continue
        except OSError:
            break
        if not chunk:
            break
        data.extend(chunk)
        if done(bytes(data)):
            break
    return bytes(data)


def _send_all(sock: socket.socket, payload: bytes, deadline: float) -> None:
    view = memoryview(payload)
    event = select.POLLOUT
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not wait(sock, event, remaining):
            raise TimeoutError
        try:
            sent = sock.send(view)
        except (BlockingIOError, ssl.SSLWantWriteError):
            event = select.POLLOUT
            continue
        except ssl.SSLWantReadError:
            event = select.POLLIN
            continue
        event = select.POLLOUT
        view = view[sent:]


# --------------------------------------------------------------------------- TLS details


def session_details(sock: ssl.SSLSocket) -> dict[str, Any]:
    """Protocol version, cipher suite and certificate details of a finished handshake."""
    details: dict[str, Any] = {"version": sock.version()}
    cipher = sock.cipher()
    if cipher is not None:
        details["cipher"] = cipher[0]
    der = sock.getpeercert(binary_form=True)
    if der:
        details["certificate"] = certificate_details(der)
    return details


def certificate_details(der: bytes) -> dict[str, Any]:
    """What a DER certificate says about its holder, for reports; never raises."""
    digest = hashlib.sha256(der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return {"sha256": digest, "error": "unparsable certificate"}
    details: dict[str, Any] = {
        "subject": _safe(cert.subject.rfc4514_string),
        "subject_cn": _first_cn(cert.subject),
        "issuer": _safe(cert.issuer.rfc4514_string),
        "issuer_cn": _first_cn(cert.issuer),
        "serial": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "expired": cert.not_valid_after_utc < datetime.now(UTC),
        "sans": _sans(cert),
        "self_signed": _self_signed(cert),
        "signature_algorithm": _signature_name(cert),
        "sha256": digest,
    }
    details.update(_key(cert))
    return details


def _safe(render: Callable[[], str]) -> str | None:
    try:
        return render()
    except ValueError:
        return None


def _first_cn(name: x509.Name) -> str | None:
    try:
        values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return None
    for attribute in values:
        value = attribute.value
        return value if isinstance(value, str) else value.decode("latin-1")
    return None


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        extension = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except (x509.ExtensionNotFound, ValueError):
        return []
    names = extension.value
    if not isinstance(names, x509.SubjectAlternativeName):
        return []
    found: list[str] = [f"DNS:{name}" for name in names.get_values_for_type(x509.DNSName)]
    found += [f"IP:{ip}" for ip in names.get_values_for_type(x509.IPAddress)]
    found += [f"email:{mail}" for mail in names.get_values_for_type(x509.RFC822Name)]
    found += [f"URI:{uri}" for uri in names.get_values_for_type(x509.UniformResourceIdentifier)]
    return found


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    except Exception:  # noqa: BLE001 - unsupported key types: the names alone decide
        return True
    return True


def _oid_name(oid: x509.ObjectIdentifier) -> str:
    known = _GM_OIDS.get(oid.dotted_string)
    if known:
        return known
    name = oid._name  # cryptography's registry name, e.g. sha256WithRSAEncryption
    return name if name and name != "Unknown OID" else oid.dotted_string


def _signature_name(cert: x509.Certificate) -> str:
    return _oid_name(cert.signature_algorithm_oid)


def _key(cert: x509.Certificate) -> dict[str, Any]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        # SM2 keys and other curves OpenSSL's bindings do not load: name the algorithm.
        try:
            return {"key_type": _oid_name(cert.public_key_algorithm_oid), "key_bits": None}
        except ValueError:
            return {"key_type": "unknown", "key_bits": None}
    if isinstance(key, rsa.RSAPublicKey):
        return {"key_type": "RSA", "key_bits": key.key_size}
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"key_type": "EC", "key_bits": key.curve.key_size, "curve": key.curve.name}
    if isinstance(key, ed25519.Ed25519PublicKey):
        return {"key_type": "Ed25519", "key_bits": 256}
    if isinstance(key, ed448.Ed448PublicKey):
        return {"key_type": "Ed448", "key_bits": 456}
    if isinstance(key, dsa.DSAPublicKey):
        return {"key_type": "DSA", "key_bits": key.key_size}
    return {"key_type": type(key).__name__, "key_bits": None}
