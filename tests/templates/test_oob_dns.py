"""The callback server's DNS responder: wire codec, answers, hostile packets (fuzzed),
and the live UDP/TCP listeners queried by a tiny independent client."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.templates.oob import OobServer
from shaobing.templates.oob.dns import (
    MAX_NAME,
    DnsFormatError,
    Zone,
    decode_name,
    describe_query,
    encode_name,
    parse_query,
)
from tests.templates import oob_support
from tests.templates.oob_support import DOMAIN, build_query, dns_tcp, dns_udp, parse_reply

ZONE = Zone(DOMAIN, "192.0.2.10")


@pytest.fixture
def oob(monkeypatch: pytest.MonkeyPatch) -> Iterator[OobServer]:
    yield from oob_support.serve(monkeypatch)


def _answer(name: str, qtype: int = 1) -> oob_support.DnsReply:
    answer = ZONE.respond(build_query(name, qtype))
    assert answer is not None
    return parse_reply(answer.wire)


# ------------------------------------------------------------------------ codec


def test_names_round_trip_and_keep_their_case() -> None:
    labels = (b"AbC", b"oob", b"test")
    wire = encode_name(labels)
    assert decode_name(wire, 0) == (labels, len(wire))


def test_compressed_names_follow_backward_pointers() -> None:
    # "oob.test" at 0, then "x" + pointer to 0 at 10.
    data = encode_name((b"oob", b"test")) + b"\x01x\xc0\x00"
    assert decode_name(data, 10) == ((b"x", b"oob", b"test"), len(data))


@pytest.mark.parametrize(
    "data",
    [
        b"\xc0\x00",  # points at itself
        b"\x01a\xc0\x00",  # points back into its own labels: a loop
        b"\x01a\x00\xc0\x05",  # forward pointer
        b"\x03ab",  # label past the end
        b"\x01a",  # no terminating zero
        b"\xc0",  # truncated pointer
        b"\x40abc",  # extended label type
        b"\x80abc",  # reserved label type
    ],
)
def test_hostile_names_are_format_errors(data: bytes) -> None:
    offset = 3 if data == b"\x01a\x00\xc0\x05" else 0
    with pytest.raises(DnsFormatError):
        decode_name(data, offset)


def test_a_pointer_chain_cannot_loop_between_two_names() -> None:
    # Name A at 0 points to B at 2, B points back to A: the second jump goes forward.
    data = b"\xc0\x02\xc0\x00"
    with pytest.raises(DnsFormatError):
        decode_name(data, 2)
    with pytest.raises(DnsFormatError):
        decode_name(data, 0)


def test_names_longer_than_255_octets_are_refused() -> None:
    label = b"a" * 63
    data = encode_name((label, label, label))
    long_name = b"".join(bytes([63]) + label for _ in range(5)) + b"\x00"
    assert len(long_name) > MAX_NAME
    with pytest.raises(DnsFormatError):
        decode_name(long_name, 0)
    with pytest.raises(DnsFormatError):
        encode_name((label,) * 5)
    assert decode_name(data, 0)[0] == (label, label, label)


def test_a_pointer_chain_cannot_exceed_the_name_limit() -> None:
    # Many one-label names each pointing at the previous: every jump goes backwards,
    # but the assembled name grows past 255 octets.
    data = bytearray(b"\x01a\x00")
    previous = 0
    for _ in range(200):
        here = len(data)
        data += b"\x01a" + struct.pack("!H", 0xC000 | previous)
        previous = here
    with pytest.raises(DnsFormatError):
        decode_name(bytes(data), previous)


@given(st.binary(max_size=600))
@settings(max_examples=400, deadline=None)
def test_decoder_never_fails_other_than_with_a_format_error(data: bytes) -> None:
    for offset in (0, 12, len(data) // 2):
        try:
            labels, end = decode_name(data, offset)
        except DnsFormatError:
            continue
        assert end <= len(data)
        assert sum(len(label) + 1 for label in labels) + 1 <= MAX_NAME
        assert all(0 < len(label) <= 63 for label in labels)


_TOKEN = st.one_of(
    st.binary(min_size=0, max_size=70).map(lambda b: bytes([min(len(b), 255)]) + b),
    st.integers(0, 0x3FFF).map(lambda target: struct.pack("!H", 0xC000 | target)),
    st.integers(0, 255).map(lambda byte: bytes([byte])),
)


@given(st.lists(_TOKEN, max_size=40))
@settings(max_examples=400, deadline=None)
def test_decoder_survives_labels_and_pointers_in_any_arrangement(tokens: list[bytes]) -> None:
    data = b"".join(tokens)
    for offset in range(0, min(len(data), 64), 3):
        try:
            labels, end = decode_name(data, offset)
        except DnsFormatError:
            continue
        assert end <= len(data)
        assert sum(len(label) + 1 for label in labels) + 1 <= MAX_NAME


@given(st.binary(max_size=600))
@settings(max_examples=400, deadline=None)
def test_responder_survives_any_packet(data: bytes) -> None:
    answer = ZONE.respond(data)
    describe_query(data)
    if answer is None:
        return
    reply = parse_reply(answer.wire)
    assert reply.flags & 0x8000  # always a response
    assert reply.ident == struct.unpack_from("!H", data)[0]
    assert len(answer.wire) <= 512


@given(
    st.lists(st.binary(min_size=1, max_size=63), min_size=1, max_size=4),
    st.sampled_from([1, 2, 6, 15, 16, 28, 255, 65]),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_question_gets_a_well_formed_answer(labels: list[bytes], qtype: int) -> None:
    header = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    query = header + encode_name([*labels, b"oob", b"test"]) + struct.pack("!HH", qtype, 1)
    answer = ZONE.respond(query)
    assert answer is not None
    reply = parse_reply(answer.wire)
    assert reply.rcode == 0 and reply.flags & 0x0400  # authoritative
    assert reply.question == query[12:]  # echoed exactly (case preserved)


# ---------------------------------------------------------------------- answers


def test_names_in_the_zone_resolve_to_the_advertised_address() -> None:
    reply = _answer("AbcDef.sub.OOB.test")
    assert reply.rcode == 0 and reply.flags & 0x0400
    assert reply.addresses == ["192.0.2.10"]


def test_aaaa_with_an_ipv4_address_is_nodata_with_soa() -> None:
    reply = _answer("x.oob.test", 28)
    assert reply.rcode == 0 and reply.answers == [] and reply.authority == 1
    six = Zone(DOMAIN, "2001:db8::5").respond(build_query("x.oob.test", 28))
    assert six is not None
    assert parse_reply(six.wire).addresses == ["2001:db8::5"]


def test_the_apex_answers_ns_and_soa() -> None:
    ns = _answer("oob.test", 2)
    assert ns.answers and ns.answers[0][0] == 2
    assert b"\x03ns1\x03oob\x04test\x00" in ns.answers[0][1]
    soa = _answer("oob.test", 6)
    assert soa.answers and soa.answers[0][0] == 6
    below = _answer("x.oob.test", 2)
    assert below.answers == [] and below.authority == 1


def test_names_outside_the_zone_are_refused_not_recursed() -> None:
    for name in ("example.com", "oob.test.example.com", "xoob.test"):
        reply = _answer(name)
        assert reply.rcode == 5 and not reply.answers and not reply.flags & 0x0400


def test_responses_and_other_opcodes_are_not_answered_as_queries() -> None:
    query = bytearray(build_query("x.oob.test"))
    query[2] |= 0x80  # QR: a response must never be answered (reflection loops)
    assert ZONE.respond(bytes(query)) is None
    update = bytearray(build_query("x.oob.test"))
    update[2] = (5 << 3) | 1  # opcode UPDATE
    answer = ZONE.respond(bytes(update))
    assert answer is not None and parse_reply(answer.wire).rcode == 4


def test_parse_query_reads_the_question() -> None:
    query = parse_query(build_query("A.oob.test", 16, ident=99))
    assert query.id == 99 and query.question is not None
    assert query.question.name == "A.oob.test" and query.question.qtype == 16


# ---------------------------------------------------------------- live listeners


def test_udp_and_tcp_answer_and_record_registered_ids(oob: OobServer) -> None:
    cid, host = oob.new_url()
    reply = dns_udp(oob.dns_port, "Log." + host.upper())
    assert reply is not None and reply.addresses == ["127.0.0.1"]
    assert dns_tcp(oob.dns_port, host).addresses == ["127.0.0.1"]
    found = oob.wait([cid], 2)
    assert [item.protocol for item in found] == ["dns", "dns"]
    assert found[0].remote_address == "127.0.0.1"
    assert f"Log.{host.upper()}." in found[0].request
    assert "127.0.0.1" in found[0].response


def test_unregistered_names_are_answered_but_not_recorded(oob: OobServer) -> None:
    cid = "a" * 24
    reply = dns_udp(oob.dns_port, f"{cid}.{DOMAIN}")
    assert reply is not None and reply.addresses
    assert oob.registry.interactions([cid]) == []


def test_garbage_datagrams_do_not_stop_the_responder(oob: OobServer) -> None:
    for raw in (b"", b"\x00", b"\xff" * 11, b"\x12\x34\x01\x00\x00\x01" + b"\xc0\x0c" * 8):
        dns_udp(oob.dns_port, "", raw=raw, timeout=0.2)
    reply = dns_udp(oob.dns_port, f"ok.{DOMAIN}")
    assert reply is not None and reply.addresses == ["127.0.0.1"]
