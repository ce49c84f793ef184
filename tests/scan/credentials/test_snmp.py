"""SNMP communities against Net-SNMP's snmpd, fake agents, and the BER codec."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.scan.checks import ServiceTarget
from shaobing.scan.credentials import dictionaries
from shaobing.scan.credentials.runner import CredentialReport, StopReason, run_credentials
from shaobing.scan.credentials.snmp import (
    SYS_DESCR,
    BerError,
    SnmpAuthenticator,
    decode_response,
    encode_get,
    encode_response,
)
from tests.scan.credentials.conftest import SNMP_STRONG
from tests.scan.credentials.context import RecordingContext
from tests.services.snmpd import SYS_DESCR as AGENT_DESCR
from tests.services.snmpd import SnmpServer


def _run(port: int, pairs: list[tuple[str | None, str]], **kw: object) -> CredentialReport:
    ctx = kw.pop("ctx", None) or RecordingContext(timeout=0.4)
    kw.setdefault("max_attempts_per_account", None)
    kw.setdefault("stop_account_on_success", False)
    target = ServiceTarget("127.0.0.1", port, protocol="udp", service="snmp")
    return run_credentials(SnmpAuthenticator(), target, ctx, pairs, **kw)  # type: ignore[arg-type]


def test_default_communities_found_strong_one_not(snmpd: SnmpServer) -> None:
    pairs = dictionaries.pairs_for("snmp")
    assert (None, SNMP_STRONG) not in pairs
    ctx = RecordingContext(timeout=0.4)
    started = time.monotonic()
    report = _run(snmpd.port, pairs, ctx=ctx, parallelism=16)
    assert sorted(f.password for f in report.found) == ["private", "public"]
    assert all(AGENT_DESCR in f.detail for f in report.found)
    assert report.errors == 0 and report.stop_reason is StopReason.FINISHED
    assert all(udp for _, _, udp in ctx.connections)
    assert time.monotonic() - started < 5


def test_a_community_given_by_the_policy_is_found(snmpd: SnmpServer) -> None:
    report = _run(snmpd.port, [(None, "nope"), (None, SNMP_STRONG)], parallelism=2)
    assert [f.password for f in report.found] == [SNMP_STRONG]


def test_closed_udp_port_is_an_error_not_a_wait() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    report = _run(
        port, [(None, c) for c in ("public", "private", "x", "y")], max_consecutive_errors=3
    )
    assert report.found == [] and report.errors > 0
    assert time.monotonic() - started < 2


@contextlib.contextmanager
def fake_agent(answer: Callable[[bytes], bytes | None]) -> Iterator[int]:
    """A UDP responder on 127.0.0.1; ``answer`` maps a request to a reply (or silence)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            reply = answer(data)
            if reply is not None:
                sock.sendto(reply, peer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def _request_id(data: bytes) -> int:
    # Our own request encoding: version, community, then the PDU's request-id INTEGER.
    community_len = data[6]
    offset = 7 + community_len + 2
    size = data[offset + 1]
    return int.from_bytes(data[offset + 2 : offset + 2 + size], "big", signed=True)


def test_answers_with_the_wrong_request_id_or_community_are_ignored() -> None:
    def liar(data: bytes) -> bytes:
        return encode_response(1, b"public", _request_id(data) + 1, b"spoofed")

    with fake_agent(liar) as port:
        report = _run(port, [(None, "public")])
    assert report.found == [] and report.failures == 1

    def other_community(data: bytes) -> bytes:
        return encode_response(1, b"other", _request_id(data), b"x")

    with fake_agent(other_community) as port:
        assert _run(port, [(None, "public")]).found == []


def test_v1_only_agent_with_an_error_status_still_proves_the_community() -> None:
    def v1_only(data: bytes) -> bytes | None:
        if data[4] != 0:  # version INTEGER value: only answer SNMPv1
            return None
        return encode_response(0, b"secret", _request_id(data), b"", error_status=2)

    with fake_agent(v1_only) as port:
        report = _run(port, [(None, "public"), (None, "secret")], parallelism=1)
    assert [f.password for f in report.found] == ["secret"]
    assert report.found[0].detail == "SNMPv1: error-status 2"


def test_garbage_answers_are_ignored() -> None:
    with fake_agent(lambda data: b"\x30\x84\xff\xff\xff\xff garbage") as port:
        report = _run(port, [(None, "public")])
    assert report.found == [] and report.errors == 0


# --- BER codec ------------------------------------------------------------------------------


def test_encode_get_matches_the_wire_format() -> None:
    # SEQUENCE { version 1, "public", GetRequest { id 1337, 0, 0, { { sysDescr.0, NULL } } } }
    expected = bytes.fromhex(
        "302702010104067075626c6963a01a02020539020100020100300e300c06082b060102010101000500"
    )
    assert encode_get(1, b"public", 1337) == expected


@given(
    st.sampled_from([0, 1]),
    st.binary(max_size=300),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.binary(max_size=400),
    st.lists(st.integers(min_value=0, max_value=2**32), min_size=0, max_size=12),
)
def test_response_round_trip(
    version: int, community: bytes, request_id: int, value: bytes, arcs: list[int]
) -> None:
    oid = (1, 3, *arcs)
    response = decode_response(encode_response(version, community, request_id, value, oid=oid))
    assert (response.version, response.community, response.request_id) == (
        version,
        community,
        request_id,
    )
    assert response.values == ((oid, 0x04, value),)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_decoder_rejects_garbage_cleanly(data: bytes) -> None:
    with contextlib.suppress(BerError):
        decode_response(data)


@given(st.binary(min_size=1, max_size=120), st.integers(min_value=0, max_value=119))
def test_decoder_survives_truncation_and_bit_flips(value: bytes, where: int) -> None:
    good = encode_response(1, b"public", 7, value)
    for broken in (good[: where % len(good)], _flip(good, where % len(good))):
        with contextlib.suppress(BerError):
            decode_response(broken)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]


def test_text_of_sys_descr() -> None:
    response = decode_response(encode_response(1, b"c", 1, "交换机 S5700".encode()))
    assert response.text(SYS_DESCR) == "交换机 S5700"
    assert response.text((1, 3, 6, 1)) is None


@pytest.mark.parametrize("arcs", [(1,), (3, 1), (1, 40)])
def test_invalid_oids_are_refused(arcs: tuple[int, ...]) -> None:
    with pytest.raises(BerError):
        encode_get(1, b"x", 1, arcs)
