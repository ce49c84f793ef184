"""Test helpers for out-of-band callbacks: the callback server on 127.0.0.1 free ports, a
tiny DNS client written independently of the server's codec, LDAP/RMI/HTTP/TLS callback
clients, and a "vulnerable application" that makes the callbacks a real one would.

Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

import pytest

from shaobing.core.settings import reset_settings
from shaobing.templates.oob import OobServer, reset_shared_server, shared_server

DOMAIN = "oob.test"
WAIT = 0.5
LOCAL = "127.0.0.1"


def serve(monkeypatch: pytest.MonkeyPatch, wait: float = WAIT) -> Iterator[OobServer]:
    """Configure the platform's callback server through the settings (as a deployment
    does) on 127.0.0.1 free ports, start it, stop it afterwards."""
    monkeypatch.setenv("SHAOBING_OOB_DOMAIN", DOMAIN)
    monkeypatch.setenv("SHAOBING_OOB_LISTEN", LOCAL)
    monkeypatch.setenv("SHAOBING_OOB_DNS_PORT", "0")
    monkeypatch.setenv("SHAOBING_OOB_TCP_PORTS", "0")
    monkeypatch.setenv("SHAOBING_OOB_WAIT", str(wait))
    reset_settings()
    reset_shared_server()
    server = shared_server()
    assert server is not None
    server.start()
    try:
        yield server
    finally:
        reset_shared_server()
        reset_settings()


# --------------------------------------------------------------- tiny DNS client


@dataclass
class DnsReply:
    """The parts of an answer the tests look at."""

    ident: int
    flags: int
    rcode: int
    question: bytes
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    authority: int = 0

    @property
    def addresses(self) -> list[str]:
        out = []
        for rtype, rdata in self.answers:
            if rtype == 1:
                out.append(socket.inet_ntop(socket.AF_INET, rdata))
            elif rtype == 28:
                out.append(socket.inet_ntop(socket.AF_INET6, rdata))
        return out


def build_query(name: str, qtype: int = 1, ident: int = 0x1234) -> bytes:
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.split(".") if p)
    return header + labels + b"\x00" + struct.pack("!HH", qtype, 1)


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        size = data[offset]
        if size & 0xC0 == 0xC0:
            return offset + 2
        if size == 0:
            return offset + 1
        offset += 1 + size


def parse_reply(data: bytes) -> DnsReply:
    ident, flags, qd, an, ns, _ar = struct.unpack_from("!HHHHHH", data)
    offset = 12
    question_start = offset
    for _ in range(qd):
        offset = _skip_name(data, offset) + 4
    reply = DnsReply(ident, flags, flags & 0xF, data[question_start:offset], authority=ns)
    for _ in range(an):
        offset = _skip_name(data, offset)
        rtype, _cls, _ttl, size = struct.unpack_from("!HHIH", data, offset)
        offset += 10
        reply.answers.append((rtype, data[offset : offset + size]))
        offset += size
    return reply


def dns_udp(
    port: int, name: str, qtype: int = 1, *, raw: bytes | None = None, timeout: float = 2
) -> DnsReply | None:
    """Ask the server on 127.0.0.1:``port``; None when it does not answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(raw if raw is not None else build_query(name, qtype), (LOCAL, port))
        try:
            data, _ = sock.recvfrom(4096)
        except TimeoutError:
            return None
    return parse_reply(data)


def dns_tcp(port: int, name: str, qtype: int = 1) -> DnsReply:
    """Ask over TCP (length-prefixed, RFC 1035 4.2.2)."""
    query = build_query(name, qtype)
    with socket.create_connection((LOCAL, port), timeout=2) as sock:
        sock.sendall(struct.pack("!H", len(query)) + query)
        head = _recv_exact(sock, 2)
        return parse_reply(_recv_exact(sock, struct.unpack("!H", head)[0]))


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


# ------------------------------------------------------------ callback clients


def _ber(tag: int, content: bytes) -> bytes:
    assert len(content) < 0x80 or len(content) < 0x10000
    if len(content) < 0x80:
        return bytes([tag, len(content)]) + content
    return bytes([tag, 0x82]) + struct.pack("!H", len(content)) + content


def ldap_bind_request(message_id: int = 1) -> bytes:
    bind = _ber(0x02, b"\x03") + _ber(0x04, b"") + _ber(0x80, b"")
    return _ber(0x30, _ber(0x02, bytes([message_id])) + _ber(0x60, bind))


def ldap_search_request(dn: str, message_id: int = 2) -> bytes:
    search = (
        _ber(0x04, dn.encode())
        + _ber(0x0A, b"\x00")
        + _ber(0x0A, b"\x03")
        + _ber(0x02, b"\x00")
        + _ber(0x02, b"\x00")
        + _ber(0x01, b"\x00")
        + _ber(0x87, b"objectClass")
        + _ber(0x30, b"")
    )
    return _ber(0x30, _ber(0x02, bytes([message_id])) + _ber(0x63, search))


def ldap_lookup(port: int, dn: str) -> bytes:
    """A JNDI-style LDAP lookup: bind, wait for the bindResponse, search for ``dn``.
    Returns the bindResponse."""
    with socket.create_connection((LOCAL, port), timeout=3) as sock:
        sock.sendall(ldap_bind_request())
        response = sock.recv(4096)
        # bindResponse [APPLICATION 1] { resultCode ENUMERATED ... }: JNDI searches only
        # after success (0).
        at = response.find(b"\x61")
        if at < 0 or response[at + 2 : at + 5] != b"\x0a\x01\x00":
            return response
        sock.sendall(ldap_search_request(dn))
        with contextlib.suppress(OSError):
            sock.recv(4096)
    return response


def rmi_lookup(port: int, name: str) -> bytes:
    """A JRMP StreamProtocol handshake then a registry lookup call naming ``name``."""
    with socket.create_connection((LOCAL, port), timeout=3) as sock:
        sock.sendall(b"JRMI\x00\x02\x4b")
        ack = sock.recv(4096)
        sock.sendall(struct.pack("!H", 9) + b"127.0.0.1" + struct.pack("!I", 0))
        encoded = name.encode()
        call = (
            b"\x50\xac\xed\x00\x05\x77\x22" + bytes(34) + b"\x74" + struct.pack("!H", len(encoded))
        )
        sock.sendall(call + encoded)
        with contextlib.suppress(OSError):
            sock.recv(4096)
    return ack


def http_get(port: int, host: str, path: str = "/", user_agent: str = "Java/1.8.0_151") -> bytes:
    with socket.create_connection((LOCAL, port), timeout=3) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n"
        sock.sendall((request + "Accept: */*\r\nConnection: close\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data


def tls_hello(port: int, host: str) -> None:
    """Start a TLS handshake naming ``host`` (SNI); the server has no certificate, so it
    fails, as a verifying client's would."""
    context = ssl.create_default_context()
    with (
        socket.create_connection((LOCAL, port), timeout=3) as sock,
        contextlib.suppress(OSError),
        context.wrap_socket(sock, server_hostname=host),
    ):
        pass


# ----------------------------------------------------------- vulnerable application

_LOG4J_DEFAULT = re.compile(r"\$\{:-([^${}]*)\}")
_URL = re.compile(r"(ldap|rmi|https?)://([A-Za-z0-9.-]+\.oob\.test)(?::\d+)?(/[^\s\"'<>}&`]*)?")
_HOST = re.compile(r"[A-Za-z0-9.-]+\.oob\.test")


@dataclass
class Vulnerable:
    """What a vulnerable application does with callback names in a request: resolve
    them through the platform's DNS responder and, for URLs, connect to the platform's
    callback port (the address comes from the DNS answer)."""

    server: OobServer
    dns: bool = True
    connect: bool = True
    calls: list[str] = field(default_factory=list)

    def expand(self, text: str) -> str:
        """URL-decode twice and expand the Log4j lookups a JNDI payload uses."""
        text = unquote(unquote(text.replace("+", " ")))
        for _ in range(4):
            text = _LOG4J_DEFAULT.sub(lambda m: m.group(1), text)
        return text.replace("${hostName}", "victim-host")

    def resolve(self, host: str) -> str | None:
        reply = dns_udp(self.server.dns_port, host)
        self.calls.append(f"dns {host}")
        return reply.addresses[0] if reply and reply.addresses else None

    def react(self, text: str) -> None:
        expanded = self.expand(text)
        port = self.server.tcp_ports[0]
        done: set[str] = set()
        for match in _URL.finditer(expanded):
            scheme, host, path = match.group(1), match.group(2), match.group(3) or "/"
            done.add(host)
            address = self.resolve(host) if self.dns else LOCAL
            if address != LOCAL or not self.connect:
                continue
            self.calls.append(f"{scheme} {host}{path}")
            if scheme == "ldap":
                ldap_lookup(port, path.lstrip("/"))
            elif scheme == "rmi":
                rmi_lookup(port, path.lstrip("/"))
            elif scheme == "https":
                tls_hello(port, host)
            else:
                http_get(port, host, path)
        for host in _HOST.findall(expanded):
            if host not in done and self.dns:
                done.add(host)
                self.resolve(host)


def request_text(method: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """The parts of a received request a vulnerable application would process."""
    lines = [f"{method} {path}", *(f"{k}: {v}" for k, v in headers.items())]
    return "\n".join(lines) + "\n\n" + body.decode("utf-8", "replace")
