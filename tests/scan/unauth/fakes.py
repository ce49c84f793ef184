"""Fake servers for the unauthorised-access checks, speaking the real formats on 127.0.0.1:
HTTP(S) JSON APIs (Elasticsearch, Docker, Kubernetes, CouchDB) and ZooKeeper."""

from __future__ import annotations

import contextlib
import datetime
import json
import shutil
import socket
import ssl
import struct
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Route = tuple[int, object]
Handler = Callable[[socket.socket, threading.Event], None]


def _read_request(conn: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return parts[1] if len(parts) > 1 else ""


def http_server(
    routes: dict[str, Route],
    *,
    server: str = "",
    tls: ssl.SSLContext | None = None,
    chunked: bool = False,
) -> Handler:
    """Answer GET requests by exact path (with query) with JSON bodies; 404 otherwise."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(3)
        sock = tls.wrap_socket(conn, server_side=True) if tls else conn
        path = _read_request(sock)
        status, payload = routes.get(path, (404, {"error": "not found"}))
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        if server:
            head += f"Server: {server}\r\n"
        if chunked:
            mid = len(body) // 2
            parts = [body[:mid], body[mid:]]
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
            head += "Transfer-Encoding: chunked\r\n"
        else:
            head += f"Content-Length: {len(body)}\r\n"
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
        if tls:
            sock.close()

    return handle


def self_signed_tls() -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubelet")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="shaobing-tls-"))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return context


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def zookeeper(*, four_letter: bool, acl_protected: bool, children: list[str]) -> Handler:
    """ZooKeeper: four-letter words on a fresh connection, or a jute session."""
    srvr = (
        "Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on "
        "2024-02-12 22:16 UTC\nLatency min/avg/max: 0/0.0/0\nReceived: 3\nSent: 2\n"
        "Connections: 1\nOutstanding: 0\nZxid: 0x2\nMode: standalone\nNode count: 6\n"
    )

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(3)
        head = _recv_exact(conn, 4)
        if head in (b"ruok", b"srvr", b"stat", b"envi"):
            word = head.decode()
            if not four_letter:
                conn.sendall(
                    f"{word} is not executed because it is not in the whitelist.\n".encode()
                )
            else:
                conn.sendall(b"imok" if word == "ruok" else srvr.encode())
            return
        length = struct.unpack("!i", head)[0]
        _recv_exact(conn, length)  # ConnectRequest
        reply = struct.pack("!iiq", 0, 30000, 0x1234) + struct.pack("!i", 16) + b"\0" * 16
        conn.sendall(struct.pack("!i", len(reply)) + reply)
        length = struct.unpack("!i", _recv_exact(conn, 4))[0]
        request = _recv_exact(conn, length)
        xid, kind = struct.unpack_from("!ii", request)
        assert kind == 8, kind  # getChildren
        if acl_protected:
            body = struct.pack("!iqi", xid, 2, -102)
        else:
            body = struct.pack("!iqi", xid, 2, 0) + struct.pack("!i", len(children))
            for child in children:
                body += struct.pack("!i", len(child)) + child.encode()
        conn.sendall(struct.pack("!i", len(body)) + body)
        with contextlib.suppress(OSError):  # ConnectionError is an OSError
            _recv_exact(conn, 4)  # closeSession

    return handle
