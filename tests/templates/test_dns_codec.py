"""The DNS message codec of the dns protocol: wire format against hand-built packets, the
miekg/dns text form Nuclei templates match against, hostile packets, and fuzzing."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.templates.dnscodec import (
    MAX_POINTER_JUMPS,
    TYPES,
    DnsError,
    Header,
    Message,
    Question,
    Record,
    decode_message,
    encode_message,
    message_text,
    name_from_text,
    name_text,
    query,
    question_text,
    record_data_text,
    record_text,
    records_text,
)


def wire_name(*labels: str) -> bytes:
    return b"".join(bytes([len(x)]) + x.encode() for x in labels) + b"\x00"


def header(qd: int = 0, an: int = 0, ns: int = 0, ar: int = 0, *, flags: int = 0x8180) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, flags, qd, an, ns, ar)


# ------------------------------------------------------------------------- encoding


def test_query_is_the_wire_format_dig_sends() -> None:
    message = query(name_from_text("example.com"), TYPES["A"], message_id=0xBEEF)
    expected = (
        struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 1)
        + wire_name("example", "com")
        + struct.pack("!HH", 1, 1)
        # OPT: root name, type 41, UDP size 4096, extended rcode/version/flags 0, no data
        + b"\x00"
        + struct.pack("!HHIH", 41, 4096, 0, 0)
    )
    assert encode_message(message) == expected


def test_txt_queries_set_ad_and_recursion_can_be_off() -> None:
    message = query(name_from_text("a.test."), TYPES["TXT"], message_id=1, recursion=False)
    flags = struct.unpack_from("!H", encode_message(message), 2)[0]
    assert flags & 0x0100 == 0  # RD off
    assert flags & 0x0020  # AD on, as Nuclei sets it for TXT


def test_names_are_compressed_and_decode_back() -> None:
    name = name_from_text("www.example.com")
    answers = (
        Record(name, TYPES["CNAME"], 1, 300, (name_from_text("cdn.example.com"),)),
        Record(name_from_text("cdn.example.com"), TYPES["A"], 1, 60, (bytes([192, 0, 2, 1]),)),
    )
    message = Message(Header(id=7, qr=True, rd=True, ra=True), (Question(name, 1),), answers)
    data = encode_message(message)
    # "example.com" is written once; the CNAME target and the A owner point back to it.
    assert data.count(b"\x07example\x03com\x00") == 1
    assert decode_message(data) == message


def test_presentation_names_with_escapes() -> None:
    assert name_from_text("a\\.b.c") == (b"a.b", b"c")
    assert name_from_text("x\\065.") == (b"xA",)
    assert name_from_text(".") == ()
    assert name_text((b"a.b", b"c d", b"\x00")) == "a\\.b.c\\ d.\\000."
    assert name_text(()) == "."
    with pytest.raises(DnsError):
        name_from_text("a..b")
    with pytest.raises(DnsError):
        name_from_text("x" * 64 + ".test")
    with pytest.raises(DnsError):
        name_from_text(".".join(["abcdefghi"] * 26))


# ------------------------------------------------------------------------- decoding


def test_decode_a_hand_built_reply_with_a_pointer() -> None:
    question = wire_name("ex", "test") + struct.pack("!HH", 1, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 3600, 4) + bytes([10, 0, 0, 5])
    message = decode_message(header(1, 1) + question + answer)
    assert message.header.qr and message.header.rd and message.header.ra
    assert message.questions == (Question((b"ex", b"test"), 1, 1),)
    assert message.answers[0].name == (b"ex", b"test")
    assert record_text(message.answers[0]) == "ex.test.\t3600\tIN\tA\t10.0.0.5"


def test_pointer_to_itself_or_forward_is_refused() -> None:
    question = b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(DnsError) as caught:
        decode_message(header(1) + question)
    assert caught.value.key == "pointer_forward"
    forward = b"\xc0\x20" + struct.pack("!HH", 1, 1) + b"\x00" * 20
    with pytest.raises(DnsError):
        decode_message(header(1) + forward)
    # A label followed by a pointer back to that label: backwards, yet a loop. It is
    # refused at the first jump, not after the jump or length limits.
    loop = b"\x01a\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(DnsError) as caught:
        decode_message(header(1) + loop)
    assert caught.value.key == "pointer_forward"


def test_pointer_cycle_between_two_names_is_refused() -> None:
    # Name 1 at 12: label "a" then a pointer to 17 (name 2); name 2 at 17 points back to 12.
    data = header(2) + b"\x01a\xc0\x11" + struct.pack("!HH", 1, 1) + b"\xc0\x0c"
    data += struct.pack("!HH", 1, 1)
    with pytest.raises(DnsError):
        decode_message(data)


def test_long_pointer_chains_stop() -> None:
    # Question k is the label "a" plus a pointer to question k-1: legal compression, but
    # reading question k follows k pointers; past the cap the decoder stops.
    count = MAX_POINTER_JUMPS + 2
    data = bytearray(header(count))
    previous = len(data)
    data += wire_name("z") + struct.pack("!HH", 1, 1)
    for _ in range(count - 1):
        here = len(data)
        data += b"\x01a" + struct.pack("!H", 0xC000 | previous) + struct.pack("!HH", 1, 1)
        previous = here
    with pytest.raises(DnsError) as caught:
        decode_message(bytes(data))
    assert caught.value.key == "pointer_loop"
    # One question fewer than the cap decodes.
    allowed = bytes(data[: len(data) - 2 * 8])
    allowed = allowed[:4] + struct.pack("!H", count - 2) + allowed[6:]
    assert len(decode_message(allowed).questions) == count - 2


def test_every_truncation_of_a_valid_reply_is_refused() -> None:
    name = name_from_text("cut.example")
    message = Message(
        Header(id=9, qr=True),
        (Question(name, TYPES["TXT"]),),
        (Record(name, TYPES["TXT"], 1, 5, ((b"hello", b"world"),)),),
        additional=(Record((), TYPES["OPT"], 1232, 0, (b"",)),),
    )
    data = encode_message(message)
    assert decode_message(data) == message
    for cut in range(len(data)):
        with pytest.raises(DnsError):
            decode_message(data[:cut])


def test_impossible_counts_and_reserved_label_types_are_refused() -> None:
    with pytest.raises(DnsError) as caught:
        decode_message(header(0, 0xFFFF))
    assert caught.value.key == "counts"
    with pytest.raises(DnsError) as caught:
        decode_message(header(1) + b"\x41a" + b"\x00" * 6)
    assert caught.value.key == "label_type"
    with pytest.raises(DnsError):
        decode_message(b"\x00" * 11)
    with pytest.raises(DnsError):
        decode_message(header() + b"\x00" * 70000)


def test_rdata_must_fit_its_type() -> None:
    question = wire_name("x") + struct.pack("!HH", 1, 1)
    bad_a = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 1, 5) + b"\x01\x02\x03\x04\x05"
    with pytest.raises(DnsError) as caught:
        decode_message(header(1, 1) + question + bad_a)
    assert caught.value.key == "rdata"
    # A CNAME whose target runs past the record's declared length.
    bad_cname = b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 1, 2) + b"\x03abc\x00"
    with pytest.raises(DnsError):
        decode_message(header(1, 1) + question + bad_cname)


# ------------------------------------------------------------------------ text form


def _record(rtype: str, *data: object, name: str = "example.com", ttl: int = 300) -> Record:
    return Record(name_from_text(name), TYPES[rtype], 1, ttl, tuple(data))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record", "text"),
    [
        (_record("A", bytes([127, 0, 0, 1])), "example.com.\t300\tIN\tA\t127.0.0.1"),
        (
            _record("AAAA", bytes.fromhex("fd000000000000000000000000000001")),
            "example.com.\t300\tIN\tAAAA\tfd00::1",
        ),
        (
            _record("AAAA", bytes(10) + b"\xff\xff" + bytes([192, 0, 2, 1])),
            "example.com.\t300\tIN\tAAAA\t::ffff:192.0.2.1",
        ),
        (
            _record("CNAME", name_from_text("target.example.net")),
            "example.com.\t300\tIN\tCNAME\ttarget.example.net.",
        ),
        (
            _record("MX", 10, name_from_text("mail.example.com")),
            "example.com.\t300\tIN\tMX\t10 mail.example.com.",
        ),
        (
            _record("TXT", (b'v=spf1 "x"', b"a\\b\x01")),
            'example.com.\t300\tIN\tTXT\t"v=spf1 \\"x\\"" "a\\\\b\\001"',
        ),
        (
            _record(
                "SOA",
                name_from_text("ns1.example.com"),
                name_from_text("hostmaster.example.com"),
                2024010101,
                7200,
                3600,
                1209600,
                300,
            ),
            "example.com.\t300\tIN\tSOA\tns1.example.com. hostmaster.example.com. "
            "2024010101 7200 3600 1209600 300",
        ),
        (
            _record("SRV", 0, 5, 5060, name_from_text("sip.example.com"), name="_sip._tcp.ex"),
            "_sip._tcp.ex.\t300\tIN\tSRV\t0 5 5060 sip.example.com.",
        ),
        (
            _record("CAA", 0, b"issue", b"letsencrypt.org"),
            'example.com.\t300\tIN\tCAA\t0 issue "letsencrypt.org"',
        ),
        (
            _record("DS", 12345, 13, 2, bytes.fromhex("abcdef01")),
            "example.com.\t300\tIN\tDS\t12345 13 2 ABCDEF01",
        ),
        (
            _record("TLSA", 3, 1, 1, bytes.fromhex("ABCDEF01")),
            "example.com.\t300\tIN\tTLSA\t3 1 1 abcdef01",
        ),
        (
            Record(name_from_text("odd.example"), 65280, 1, 1, (b"\x01\x02",)),
            "odd.example.\t1\tCLASS1\tTYPE65280\t\\# 2 0102",
        ),
    ],
)
def test_records_print_like_miekg_dns(record: Record, text: str) -> None:
    assert record_text(record) == text
    # Encoding and decoding keeps the record (and so its text).
    message = Message(Header(id=1, qr=True), answers=(record,))
    assert decode_message(encode_message(message)).answers == (record,)


def test_record_data_is_the_text_after_the_header() -> None:
    record = _record("CNAME", name_from_text("gone.example.net"))
    assert record_data_text(record) == "gone.example.net."


def test_message_text_is_the_dig_like_form_nuclei_matches() -> None:
    name = name_from_text("dangling.example")
    message = Message(
        Header(id=4242, qr=True, rd=True, ra=True, rcode=3),
        (Question(name, TYPES["A"]),),
        (Record(name, TYPES["CNAME"], 1, 60, (name_from_text("gone.example.net"),)),),
        additional=(Record((), TYPES["OPT"], 1232, 0, (b"",)),),
    )
    assert message_text(message) == (
        ";; opcode: QUERY, status: NXDOMAIN, id: 4242\n"
        ";; flags: qr rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1\n"
        "\n;; OPT PSEUDOSECTION:\n; EDNS: version 0; flags:; udp: 1232\n"
        "\n;; QUESTION SECTION:\n;dangling.example.\tIN\t A\n"
        "\n;; ANSWER SECTION:\ndangling.example.\t60\tIN\tCNAME\tgone.example.net.\n"
    )
    assert question_text(message.questions[0]) == ";dangling.example.\tIN\t A"
    assert records_text(message.answers) == "dangling.example.\t60\tIN\tCNAME\tgone.example.net."


def test_extended_rcode_comes_from_the_opt_record() -> None:
    opt = Record((), TYPES["OPT"], 512, 1 << 24, (b"",))  # upper bits 1: BADVERS/BADSIG 16
    message = Message(Header(id=1, qr=True, rcode=0), additional=(opt,))
    assert message.rcode == 16
    assert "status: BADSIG" in message_text(message)


# -------------------------------------------------------------------------- fuzzing


def _valid_reply() -> bytes:
    name = name_from_text("fuzz.example.com")
    return encode_message(
        Message(
            Header(id=77, qr=True, rd=True, ra=True),
            (Question(name, TYPES["MX"]),),
            (
                Record(name, TYPES["MX"], 1, 30, (5, name_from_text("mx.example.com"))),
                Record(name, TYPES["TXT"], 1, 30, ((b"a", b"b"),)),
            ),
            (Record(name_from_text("example.com"), TYPES["NS"], 1, 30, (name,)),),
            (Record((), TYPES["OPT"], 4096, 0, (b"\x00\x0a\x00\x02ab",)),),
        )
    )


def _decode_or_refuse(data: bytes) -> None:
    started = time.monotonic()
    try:
        message = decode_message(data)
    except DnsError:
        return
    finally:
        assert time.monotonic() - started < 1.0
    # Whatever decodes also prints.
    message_text(message)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_only_ever_raise_dns_error(data: bytes) -> None:
    _decode_or_refuse(data)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=8))
def test_mutated_replies_only_ever_raise_dns_error(changes: list[tuple[int, int]]) -> None:
    data = bytearray(_valid_reply())
    for position, value in changes:
        data[position % len(data)] = value
    _decode_or_refuse(bytes(data))


_labels = st.lists(st.binary(min_size=1, max_size=20), min_size=0, max_size=5).map(tuple)


@settings(max_examples=200)
@given(
    _labels,
    st.sampled_from(["A", "AAAA", "CNAME", "TXT", "MX"]),
    st.integers(0, 2**32 - 1),
    st.data(),
)
def test_records_survive_a_round_trip(
    owner: tuple[bytes, ...], rtype: str, ttl: int, data: st.DataObject
) -> None:
    values: tuple[object, ...]
    if rtype == "A":
        values = (data.draw(st.binary(min_size=4, max_size=4)),)
    elif rtype == "AAAA":
        values = (data.draw(st.binary(min_size=16, max_size=16)),)
    elif rtype == "CNAME":
        values = (data.draw(_labels),)
    elif rtype == "MX":
        values = (data.draw(st.integers(0, 65535)), data.draw(_labels))
    else:
        values = (tuple(data.draw(st.lists(st.binary(max_size=255), max_size=4))),)
    record = Record(owner, TYPES[rtype], 1, ttl, values)  # type: ignore[arg-type]
    message = Message(Header(id=3, qr=True), answers=(record,))
    decoded = decode_message(encode_message(message))
    assert decoded == message
    assert record_text(decoded.answers[0]) == record_text(record)
