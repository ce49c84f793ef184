"""SNMP v1/v2c community adapter (B3) with its own minimal BER encoder and decoder.

A community is tried by sending a GET for ``sysDescr.0`` in both SNMPv2c and SNMPv1 (devices
that speak only v1 ignore v2c) over a connected UDP socket from ``ctx.connect(udp=True)``.
An agent drops requests with a wrong community silently, so an answer that echoes our
request id and community means the community is valid (even an error status: the agent
checked the community first) and silence until the wait ends means it is not. The request
is sent a second time half-way through the wait, in case a datagram was lost. An ICMP "port
unreachable" surfaces as ConnectionRefusedError: an ERROR, the agent is not there.

Only GET is ever sent: whether a community also grants write access is not tested (a SET
would change the device).
"""

from __future__ import annotations

import secrets
import select
import time
from dataclasses import dataclass

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
VERSION_V1 = 0
VERSION_V2C = 1
GET_REQUEST = 0xA0
GET_RESPONSE = 0xA2
_SEQUENCE, _INTEGER, _OCTETS, _NULL, _OID = 0x30, 0x02, 0x04, 0x05, 0x06
_MAX_DEPTH = 8
_MAX_DATAGRAM = 65535
_DETAIL_LIMIT = 160
# Waiting longer than this for a silent agent only slows the dictionary down.
MAX_WAIT = 1.5


class BerError(ValueError):
    """Malformed BER or not the SNMP message expected."""


# --------------------------------------------------------------------------- encoding


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def _integer(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)
    return _tlv(_INTEGER, value.to_bytes(size, "big", signed=True))


def _oid(arcs: tuple[int, ...]) -> bytes:
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise BerError("invalid OID")
    out = bytearray()
    for arc in (40 * arcs[0] + arcs[1], *arcs[2:]):
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return _tlv(_OID, bytes(out))


def encode_get(
    version: int, community: bytes, request_id: int, oid: tuple[int, ...] = SYS_DESCR
) -> bytes:
    """An SNMP GetRequest message for one OID."""
    varbind = _tlv(_SEQUENCE, _oid(oid) + _tlv(_NULL, b""))
    pdu = _tlv(
        GET_REQUEST,
        _integer(request_id) + _integer(0) + _integer(0) + _tlv(_SEQUENCE, varbind),
    )
    return _tlv(_SEQUENCE, _integer(version) + _tlv(_OCTETS, community) + pdu)


def encode_response(
    version: int,
    community: bytes,
    request_id: int,
    value: bytes,
    *,
    error_status: int = 0,
    oid: tuple[int, ...] = SYS_DESCR,
) -> bytes:
    """An SNMP GetResponse carrying one OCTET STRING value (for tests and fake agents)."""
    varbind = _tlv(_SEQUENCE, _oid(oid) + _tlv(_OCTETS, value))
    pdu = _tlv(
        GET_RESPONSE,
        _integer(request_id) + _integer(error_status) + _integer(0) + _tlv(_SEQUENCE, varbind),
    )
    return _tlv(_SEQUENCE, _integer(version) + _tlv(_OCTETS, community) + pdu)


# --------------------------------------------------------------------------- decoding


def _read_tlv(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """(tag, value, offset after it) of the TLV at ``offset``; BerError when malformed."""
    if offset + 2 > len(data):
        raise BerError("truncated TLV")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise BerError("multi-byte tags are not used by SNMP")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        size = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise BerError("unsupported length")
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + size
    if end > len(data):
        raise BerError("length beyond the data")
    return tag, data[pos:end], end


def _children(value: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(value):
        tag, inner, offset = _read_tlv(value, offset)
        out.append((tag, inner))
    return out


def _expect(item: tuple[int, bytes], tag: int, what: str) -> bytes:
    if item[0] != tag:
        raise BerError(f"{what}: tag 0x{item[0]:02x}, expected 0x{tag:02x}")
    return item[1]


def _int(value: bytes) -> int:
    if not value or len(value) > 9:
        raise BerError("bad INTEGER")
    return int.from_bytes(value, "big", signed=True)


def _decode_oid(value: bytes) -> tuple[int, ...]:
    if not value or value[-1] & 0x80:
        raise BerError("bad OID")
    arcs: list[int] = []
    current = 0
    for byte in value:
        current = (current << 7) | (byte & 0x7F)
        if current.bit_length() > 64:
            raise BerError("OID arc too large")
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = arcs[0]
    head = (min(first // 40, 2), first - 40 * min(first // 40, 2))
    return (*head, *arcs[1:])


@dataclass(frozen=True)
class SnmpResponse:
    """The parts of a GetResponse the adapter needs."""

    version: int
    community: bytes
    request_id: int
    error_status: int
    values: tuple[tuple[tuple[int, ...], int, bytes], ...]
    """(OID, value tag, raw value) per variable binding."""

    def text(self, oid: tuple[int, ...] = SYS_DESCR) -> str | None:
        """The OCTET STRING value of ``oid`` as text, None when absent."""
        for name, tag, raw in self.values:
            if name == oid and tag == _OCTETS:
                return raw.decode("utf-8", "replace")
        return None


def decode_response(data: bytes) -> SnmpResponse:
    """Parse an SNMP v1/v2c GetResponse; BerError for anything else."""
    tag, body, end = _read_tlv(data, 0)
    if tag != _SEQUENCE or end != len(data):
        raise BerError("not an SNMP message")
    parts = _children(body)
    if len(parts) != 3:
        raise BerError("SNMP message must have three parts")
    version = _int(_expect(parts[0], _INTEGER, "version"))
    community = _expect(parts[1], _OCTETS, "community")
    pdu = _children(_expect(parts[2], GET_RESPONSE, "PDU"))
    if len(pdu) != 4:
        raise BerError("GetResponse must have four parts")
    request_id = _int(_expect(pdu[0], _INTEGER, "request-id"))
    error_status = _int(_expect(pdu[1], _INTEGER, "error-status"))
    _int(_expect(pdu[2], _INTEGER, "error-index"))
    values: list[tuple[tuple[int, ...], int, bytes]] = []
    for binding in _children(_expect(pdu[3], _SEQUENCE, "varbinds")):
        pair = _children(_expect(binding, _SEQUENCE, "varbind"))
        if len(pair) != 2:
            raise BerError("varbind must have two parts")
        oid = _decode_oid(_expect(pair[0], _OID, "name"))
        values.append((oid, pair[1][0], pair[1][1]))
    return SnmpResponse(version, community, request_id, error_status, tuple(values))


# --------------------------------------------------------------------------- adapter


class SnmpSession(LoginSession):
    """Community guesses over one connected UDP socket."""

    def __init__(self, ctx: CheckContext, target: ServiceTarget, wait: float) -> None:
        self._sock = ctx.connect(target.address, target.port, timeout=wait, udp=True)
        self._wait = wait

    def login(self, username: str | None, password: str) -> Attempt:
        """Send the GETs for community ``password``; an echoed answer means valid."""
        community = password.encode("utf-8")
        ids = {secrets.randbelow(2**31 - 1) + 1: v for v in (VERSION_V2C, VERSION_V1)}
        requests = [encode_get(v, community, rid) for rid, v in ids.items()]
        start = time.monotonic()
        deadline, resend_at = start + self._wait, start + self._wait / 2
        resent = False
        try:
            for request in requests:
                self._sock.send(request)
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return Attempt(Outcome.FAILURE, reusable=True, detail="no answer")
                if not resent and now >= resend_at:
                    for request in requests:
                        self._sock.send(request)
                    resent = True
                until = deadline if resent else resend_at
                readable, _, _ = select.select([self._sock], [], [], max(until - now, 0))
                if readable:
                    answer = self._match(self._sock.recv(_MAX_DATAGRAM), community, ids)
                    if answer is not None:
                        return answer
        except OSError as exc:
            return Attempt(Outcome.ERROR, detail=f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _match(data: bytes, community: bytes, ids: dict[int, int]) -> Attempt | None:
        try:
            response = decode_response(data)
        except BerError:
            return None  # stray or garbled datagram: keep waiting
        if response.request_id not in ids or response.community != community:
            return None  # a late answer to an earlier guess
        version = "v2c" if ids[response.request_id] == VERSION_V2C else "v1"
        descr = response.text() or f"error-status {response.error_status}"
        clean = " ".join(descr.split())
        return Attempt(
            Outcome.SUCCESS, reusable=True, detail=f"SNMP{version}: {clean}"[:_DETAIL_LIMIT]
        )

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()


@register_authenticator
class SnmpAuthenticator(Authenticator):
    """SNMP v1/v2c community strings (password-only)."""

    protocol = "snmp"
    default_ports = frozenset({161})
    needs_username = False

    def __init__(self, wait: float | None = None) -> None:
        self._wait = wait

    def open(self, ctx: CheckContext, target: ServiceTarget) -> LoginSession:
        """A connected UDP socket; the wait per community is ``ctx.timeout`` (capped)."""
        wait = self._wait if self._wait is not None else min(ctx.timeout, MAX_WAIT)
        return SnmpSession(ctx, target, wait)
