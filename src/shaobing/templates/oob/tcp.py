"""One TCP connection to the callback listener: sniff the protocol from the first bytes,
talk just enough of it for the client to reveal what it wanted, and capture the bytes.

HTTP gets a 200 answer, LDAP a successful bindResponse (the searchRequest with the DN
follows), RMI/JRMP a ProtocolAck (the call with the looked-up name follows), a client
that says nothing gets an SMTP banner, anything else is read as raw "tcp". The handler
only ever writes to the peer that connected; every read is capped in bytes and time.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from shaobing.templates.oob.ldap import (
    TAG_BIND_REQUEST,
    BerError,
    bind_success,
    message_size,
    parse_message,
)

# Organisation-defined limits for one connection: the bytes kept, the time it may take,
# the pause that ends a read once data flows, and how long a silent client is given
# before it gets an SMTP banner (SMTP clients wait for the server to speak first).
MAX_CAPTURE = 64 * 1024
CONNECTION_DEADLINE = 15.0
IDLE_WAIT = 0.5
BANNER_WAIT = 1.0
# Bytes enough to tell the protocols apart ("PROPFIND " is the longest prefix checked).
SNIFF_BYTES = 16
# An SMTP or LDAP client gets at most this many exchanges before the server hangs up.
MAX_EXCHANGES = 50
# SMTP clients answer each reply at once; a longer silence ends the conversation.
SMTP_LINE_WAIT = 5.0

_HTTP_METHOD = re.compile(
    rb"^(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH|TRACE|CONNECT|PROPFIND|MKCOL|COPY|MOVE"
    rb"|LOCK|UNLOCK|PROPPATCH|SEARCH|REPORT) "
)
_HTTP_LINE = re.compile(rb"^[A-Z][A-Z-]{1,15} \S+ HTTP/\d")
_SMTP_GREETING = re.compile(rb"^(HELO|EHLO)( |\r|\n)", re.IGNORECASE)
_CONTENT_LENGTH = re.compile(rb"\r?\ncontent-length:[ \t]*(\d{1,9})", re.IGNORECASE)
# Java RMI wire protocol (JRMP, Java RMI specification 10.2): the "JRMI" magic, the
# StreamProtocol byte and the ProtocolAck the server answers it with.
_JRMI = b"JRMI"
_JRMP_STREAM = 0x4B
_JRMP_ACK = 0x4E


def sniff(first: bytes) -> str:
    """The protocol a connection speaks, from its first bytes: ``http``, ``ldap``,
    ``rmi``, ``smtp``, ``https`` (a TLS ClientHello) or ``tcp``."""
    if first.startswith(_JRMI):
        return "rmi"
    if first[:2] == b"\x16\x03":
        return "https"
    if first[:1] == b"\x30":
        return "ldap"
    if _HTTP_METHOD.match(first) or _HTTP_LINE.match(first):
        return "http"
    if _SMTP_GREETING.match(first):
        return "smtp"
    return "tcp"


def _sniffable(data: bytes) -> bool:
    """Whether ``data`` is enough to sniff: binary protocols (LDAP, JRMP, TLS) send a
    short first message and wait for the answer, so their prefix must decide at once."""
    return (
        len(data) >= SNIFF_BYTES
        or b"\n" in data
        or data.startswith(_JRMI)
        or data[:1] == b"\x30"
        or data[:2] == b"\x16\x03"
    )


def printable(data: bytes) -> str:
    """Bytes as text: printable ASCII and line breaks kept, anything else as ``\\xNN``."""
    out = []
    for byte in data:
        if 0x20 <= byte < 0x7F or byte in (0x0A, 0x0D, 0x09):
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


class Stream:
    """The receiving side of one connection: everything read is kept in ``data``."""

    def __init__(self, sock: socket.socket, *, deadline: float, cap: int = MAX_CAPTURE) -> None:
        self.sock = sock
        self.deadline = deadline
        self.cap = cap
        self.data = bytearray()
        self.closed = False

    def fill(self, done: Callable[[bytes], bool], wait: float) -> bool:
        """Read until ``done(data)``, the cap, the peer closing, ``wait`` seconds without
        a byte or the deadline; return whether ``done`` held."""
        while not done(bytes(self.data)):
            if self.closed or len(self.data) >= self.cap:
                return False
            remaining = min(wait, self.deadline - time.monotonic())
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(min(65536, self.cap - len(self.data)))
            except (TimeoutError, BlockingIOError):
                return False
            except OSError:
                self.closed = True
                return False
            if not chunk:
                self.closed = True
                return False
            self.data.extend(chunk)
        return True

    def send(self, payload: bytes) -> None:
        """Write to the peer (errors end the conversation quietly)."""
        try:
            self.sock.settimeout(max(0.1, self.deadline - time.monotonic()))
            self.sock.sendall(payload)
        except OSError:
            self.closed = True


@dataclass
class Exchange:
    """What a connection amounted to."""

    protocol: str
    received: bytes
    request: str
    response: str


IdFinder = Callable[[bytes], list[str]]


def converse(
    sock: socket.socket,
    peer: tuple[str, int],
    *,
    domain: str,
    find_ids: IdFinder,
    banner_wait: float = BANNER_WAIT,
    idle_wait: float = IDLE_WAIT,
    deadline: float = CONNECTION_DEADLINE,
) -> Exchange:
    """Serve one accepted connection and report what was exchanged."""
    stream = Stream(sock, deadline=time.monotonic() + deadline)
    stream.fill(lambda data: len(data) > 0, banner_wait)
    if not stream.data:
        return _smtp(stream, domain, idle_wait, banner=True)
    stream.fill(_sniffable, idle_wait)
    protocol = sniff(bytes(stream.data[:SNIFF_BYTES]))
    if protocol == "http":
        return _http(stream, find_ids, idle_wait)
    if protocol == "ldap":
        return _ldap(stream, idle_wait)
    if protocol == "rmi":
        return _rmi(stream, peer, idle_wait)
    if protocol == "smtp":
        return _smtp(stream, domain, idle_wait, banner=False)
    if protocol == "https":
        return _tls(stream, idle_wait)
    stream.fill(lambda data: False, idle_wait)
    received = bytes(stream.data)
    return Exchange("tcp", received, printable(received), "")


# ------------------------------------------------------------------------ http


def _http_complete(data: bytes) -> bool:
    head_end = data.find(b"\r\n\r\n")
    separator = 4
    if head_end < 0:
        head_end = data.find(b"\n\n")
        separator = 2
    if head_end < 0:
        return False
    found = _CONTENT_LENGTH.search(data[:head_end])
    length = int(found.group(1)) if found else 0
    return len(data) >= head_end + separator + length


def _http(stream: Stream, find_ids: IdFinder, idle_wait: float) -> Exchange:
    stream.fill(_http_complete, idle_wait)
    received = bytes(stream.data)
    ids = find_ids(received)
    # Like interactsh: the body holds the reversed id, so a template can tell its own
    # callback's answer apart.
    body = f"<html><head></head><body>{ids[0][::-1] if ids else ''}</body></html>"
    response = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n" + body
    )
    stream.send(response.encode("ascii"))
    return Exchange("http", received, received.decode("utf-8", "replace"), response)


# ------------------------------------------------------------------------ ldap


def _ldap(stream: Stream, idle_wait: float) -> Exchange:
    lines: list[str] = []
    answers: list[str] = []
    offset = 0
    for _ in range(MAX_EXCHANGES):

        def complete(data: bytes, start: int = offset) -> bool:
            try:
                size = message_size(data[start:])
            except BerError:
                return True  # malformed: stop reading, parse below reports it
            return size is not None and len(data) - start >= size

        if not stream.fill(complete, idle_wait):
            break
        chunk = bytes(stream.data[offset:])
        try:
            size = message_size(chunk)
            if size is None:
                break
            message = parse_message(chunk[:size])
        except BerError as exc:
            lines.append(f"Malformed={exc}")
            break
        offset += size
        lines.append(message.describe())
        if message.operation == TAG_BIND_REQUEST:
            stream.send(bind_success(message.message_id))
            answers.append("Type=BindResponse\nResultCode=success")
            continue
        # The search carries the DN; nothing more to learn, so hang up (as interactsh).
        break
    received = bytes(stream.data)
    if not lines:
        lines.append(printable(received))
    return Exchange("ldap", received, "\n\n".join(lines), "\n\n".join(answers))


# ------------------------------------------------------------------------- tls


class _Reader:
    """Bounds-checked reads over a TLS ClientHello."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes; ValueError past the end."""
        end = self.position + size
        if size < 0 or end > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.position : end]
        self.position = end
        return chunk

    def number(self, size: int) -> int:
        """A big-endian unsigned integer of ``size`` bytes."""
        return int.from_bytes(self.take(size), "big")

    def vector(self, size: int) -> bytes:
        """A vector whose length prefix has ``size`` bytes (RFC 8446 3.4)."""
        return self.take(self.number(size))


def server_name(record: bytes) -> str | None:
    """The SNI host name of a TLS ClientHello record (RFC 8446 4.1.2, RFC 6066 3); None
    when the record is not a ClientHello or carries none."""
    try:
        outer = _Reader(record)
        if outer.number(1) != 0x16:
            return None
        outer.take(2)
        hello = _Reader(outer.vector(2))
        if hello.number(1) != 1:
            return None
        body = _Reader(hello.take(hello.number(3)))
        body.take(2 + 32)  # client version, random
        body.vector(1)  # session id
        body.vector(2)  # cipher suites
        body.vector(1)  # compression methods
        extensions = _Reader(body.vector(2))
        while extensions.position < len(extensions.data):
            kind = extensions.number(2)
            content = extensions.vector(2)
            if kind != 0:
                continue
            names = _Reader(_Reader(content).vector(2))
            while names.position < len(names.data):
                name_type = names.number(1)
                name = names.vector(2)
                if name_type == 0:
                    return name.decode("ascii", "replace")
    except ValueError:
        return None
    return None


def _tls_record_complete(data: bytes) -> bool:
    return len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big")


def _tls(stream: Stream, idle_wait: float) -> Exchange:
    # No certificate for the zone: the handshake cannot complete, but the ClientHello
    # names the host the client wanted (SNI), which carries the correlation id.
    stream.fill(_tls_record_complete, idle_wait)
    received = bytes(stream.data)
    name = server_name(received)
    request = f"TLS ClientHello\nSNI={name or ''}"
    return Exchange("https", received, request, "")


# ------------------------------------------------------------------------- rmi


def _utf(text: str) -> bytes:
    data = text.encode("utf-8")[:0xFFFF]
    return struct.pack("!H", len(data)) + data


def _rmi(stream: Stream, peer: tuple[str, int], idle_wait: float) -> Exchange:
    stream.fill(lambda data: len(data) >= 7, idle_wait)
    response = ""
    if len(stream.data) >= 7 and stream.data[6] == _JRMP_STREAM:
        # JRMP StreamProtocol: the client waits for ProtocolAck with the endpoint it
        # connected from, then sends its own endpoint and the call (the looked-up name).
        stream.send(bytes([_JRMP_ACK]) + _utf(peer[0]) + struct.pack("!I", peer[1] & 0xFFFFFFFF))
        response = f"ProtocolAck {peer[0]}:{peer[1]}"
    stream.fill(lambda data: False, idle_wait)
    received = bytes(stream.data)
    return Exchange("rmi", received, printable(received), response)


# ------------------------------------------------------------------------ smtp


def _smtp(stream: Stream, domain: str, idle_wait: float, *, banner: bool) -> Exchange:
    answers: list[str] = []

    def say(line: str) -> None:
        answers.append(line)
        stream.send(line.encode("ascii", "replace") + b"\r\n")

    # Reply codes of RFC 5321 4.2.
    if banner:
        say(f"220 {domain} ESMTP")
    offset = 0
    in_data = False
    for _ in range(MAX_EXCHANGES):
        marker = b"\r\n.\r\n" if in_data else b"\n"
        # The end-of-data marker's first CRLF may be the one that ended the DATA line.
        start = max(0, offset - 2) if in_data else offset

        def arrived(data: bytes, start: int = start, marker: bytes = marker) -> bool:
            return marker in data[start:]

        if not stream.fill(arrived, SMTP_LINE_WAIT):
            break
        end = stream.data.index(marker, start) + len(marker)
        line = bytes(stream.data[offset:end])
        offset = end
        if in_data:
            in_data = False
            say("250 OK")
            continue
        verb = line.strip()[:4].upper()
        if verb in (b"HELO", b"EHLO"):
            say(f"250 {domain}")
        elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
            say("250 OK")
        elif verb == b"DATA":
            in_data = True
            say("354 End data with <CR><LF>.<CR><LF>")
        elif verb == b"QUIT":
            say("221 Bye")
            break
        else:
            say("502 Command not implemented")
    received = bytes(stream.data)
    if not received:
        return Exchange("smtp", received, "", "\n".join(answers))
    return Exchange("smtp", received, received.decode("utf-8", "replace"), "\n".join(answers))
