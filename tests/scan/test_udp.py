"""UDP service probes (requirement B1): codecs against hand-built packets, fuzzing, and real
services on 127.0.0.1 (snmpd and dnsmasq from Debian, skipped when missing) plus fake DNS
and NTP servers written here from the RFCs. No packet goes anywhere but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.scan.udp import (
    MalformedPacket,
    encode_dns_query,
    encode_snmp_get,
    parse_dns_message,
    parse_ntp_control,
    parse_ntp_packet,
    parse_ntp_variables,
    parse_snmp_message,
    udp_probe,
    udp_scan,
)

# --------------------------------------------------------------------------- hand-built packets


def dns_name(*labels: str) -> bytes:
    return b"".join(bytes([len(x)]) + x.encode() for x in labels) + b"\x00"


def dns_header(ident: int, flags: int, qd: int, an: int) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, qd, an, 0, 0)


def dns_rr(name: bytes, rtype: int, rclass: int, ttl: int, rdata: bytes) -> bytes:
    return name + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def chaos_answer(ident: int, text: bytes, *, question: bytes | None = None) -> bytes:
    """A version.bind CH TXT answer: the answer's owner name points back at the question."""
    q = question if question is not None else dns_name("version", "bind")
    txt = bytes([len(text)]) + text
    return (
        dns_header(ident, 0x8400, 1, 1)
        + q
        + struct.pack("!HH", 16, 3)
        + dns_rr(b"\xc0\x0c", 16, 3, 0, txt)
    )


def test_dns_query_encoding_is_the_wire_format() -> None:
    query = encode_dns_query(0x1234, "version.bind", 16, 3)
    assert query == bytes.fromhex("123400000001000000000000") + dns_name("version", "bind") + (
        b"\x00\x10\x00\x03"
    )
    assert encode_dns_query(1, "localhost.", 1, recursion=True)[2:4] == b"\x01\x00"


def test_dns_parse_with_compression() -> None:
    # Question www.example.test A; answer 1 owner = pointer to the question name, CNAME
    # rdata = "alias" + pointer to "example.test" inside the question; answer 2 A record.
    question = dns_name("www", "example", "test")
    cname_rdata = b"\x05alias\xc0\x10"  # offset 16 = "example" label in the question
    packet = (
        dns_header(0xBEEF, 0x8180, 1, 2)
        + question
        + struct.pack("!HH", 1, 1)
        + dns_rr(b"\xc0\x0c", 5, 1, 300, cname_rdata)
        + dns_rr(b"\xc0\x2e", 1, 1, 60, bytes([127, 0, 0, 7]))  # 0x2e: the CNAME target
    )
    message = parse_dns_message(packet)
    assert message.ident == 0xBEEF and message.is_response and message.recursion_available
    assert message.rcode_name == "NOERROR"
    assert message.questions == (("www.example.test.", 1, 1),)
    cname, address = message.answers
    assert (cname.name, cname.rtype, cname.ttl, cname.value) == (
        "www.example.test.",
        5,
        300,
        "alias.example.test.",
    )
    assert (address.name, address.value) == ("alias.example.test.", "127.0.0.7")


@pytest.mark.parametrize(
    "name",
    [
        b"\xc0\x0c",  # points at itself
        b"\x01a\xc0\x0c",  # label, then back to its own start: a loop
        b"\xc0\x0e\x00",  # points forward
        b"\x41abc\x00",  # extended label type 01
        b"\x05ab",  # label runs past the end
        b"\x3f"
        + b"a" * 63
        + b"\x3f"
        + b"b" * 63
        + b"\x3f"
        + b"c" * 63
        + b"\x3f"
        + b"d" * 63
        + b"\x00",
    ],
)
def test_dns_bad_names_are_malformed(name: bytes) -> None:
    packet = dns_header(1, 0x8000, 1, 0) + name + b"\x00\x01\x00\x01"
    with pytest.raises(MalformedPacket):
        parse_dns_message(packet)


def test_dns_truncated_sections_are_malformed() -> None:
    full = chaos_answer(7, b"dnsmasq-2.90")
    assert parse_dns_message(full).answers[0].value == "dnsmasq-2.90"
    for cut in range(len(full)):
        with pytest.raises(MalformedPacket):
            parse_dns_message(full[:cut])


def ber(tag: int, content: bytes) -> bytes:
    assert len(content) < 128
    return bytes([tag, len(content)]) + content


def test_snmp_get_encoding_is_the_wire_format() -> None:
    # v2c, community "public", request-id 1, GET sysDescr.0: a packet every SNMP tool sends.
    expected = bytes.fromhex(
        "3026 020101 0406 7075626c6963 a019 020101 020100 020100"
        " 300e 300c 0608 2b06010201010100 0500"
    )
    assert encode_snmp_get(1, b"public", 1, ["1.3.6.1.2.1.1.1.0"]) == expected
    # Multi-byte sub-identifiers (8072 = 0xbf 0x08) and a 4-byte request id.
    packet = encode_snmp_get(0, b"x", 0x01020304, ["1.3.6.1.4.1.8072.3.2.10"])
    assert b"\x02\x04\x01\x02\x03\x04" in packet
    assert b"\x06\x0a\x2b\x06\x01\x04\x01\xbf\x08\x03\x02\x0a" in packet


def snmp_response(request_id: int, varbinds: bytes, *, community: bytes = b"public") -> bytes:
    pdu = ber(
        0xA2,
        ber(2, request_id.to_bytes(2, "big"))
        + ber(2, b"\x00")
        + ber(2, b"\x00")
        + ber(0x30, varbinds),
    )
    return ber(0x30, ber(2, b"\x01") + ber(4, community) + pdu)


def test_snmp_parse_response() -> None:
    descr = ber(0x30, ber(6, bytes.fromhex("2b06010201010100")) + ber(4, b"Linux test 6.1"))
    object_id = ber(
        0x30,
        ber(6, bytes.fromhex("2b06010201010200")) + ber(6, bytes.fromhex("2b06010401bf0803020a")),
    )
    name = ber(0x30, ber(6, bytes.fromhex("2b06010201010500")) + b"\x80\x00")
    ticks = ber(
        0x30, ber(6, bytes.fromhex("2b06010201010300")) + ber(0x43, b"\x00\xff\xff\xff\xff")
    )
    message = parse_snmp_message(snmp_response(0x1234, descr + object_id + name + ticks))
    assert (message.version, message.community, message.pdu_type, message.request_id) == (
        1,
        b"public",
        0xA2,
        0x1234,
    )
    assert message.value("1.3.6.1.2.1.1.1.0").value == b"Linux test 6.1"  # type: ignore[union-attr]
    assert message.value("1.3.6.1.2.1.1.2.0").value == "1.3.6.1.4.1.8072.3.2.10"  # type: ignore[union-attr]
    sys_name = message.value("1.3.6.1.2.1.1.5.0")
    assert sys_name is not None and sys_name.missing and sys_name.value is None
    assert message.value("1.3.6.1.2.1.1.3.0").value == 2**32 - 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x30\x80\x00\x00",  # indefinite length
        b"\x30\x85\x00\x00\x00\x00\x01\x00",  # 5-byte length
        b"\x30\x03\x02\x01",  # runs past the end
        b"\x31\x00",  # not a SEQUENCE
        ber(0x30, ber(2, b"\x01") + ber(4, b"p") + ber(0xA4, b"")),  # v1 trap layout
    ],
)
def test_snmp_bad_packets_are_malformed(packet: bytes) -> None:
    with pytest.raises(MalformedPacket):
        parse_snmp_message(packet)


def ntp_reply(origin: bytes, *, stratum: int = 2, refid: bytes = bytes([192, 0, 2, 1])) -> bytes:
    first = (0 << 6) | (4 << 3) | 4  # no leap warning, version 4, mode 4 (server)
    header = struct.pack("!BBbb", first, stratum, 6, -20) + struct.pack(
        "!II", 0x00000800, 0x00001000
    )
    ref_time = struct.pack("!II", 3_900_000_000, 0)  # 2023-08-02 21:20:00 UTC
    return header + refid + ref_time + origin + ref_time + ref_time


def test_ntp_parse() -> None:
    packet = parse_ntp_packet(ntp_reply(b"ABCDEFGH"))
    assert (packet.version, packet.mode, packet.stratum, packet.poll, packet.precision) == (
        4,
        4,
        2,
        6,
        -20,
    )
    assert packet.reference_id == "192.0.2.1" and packet.origin == b"ABCDEFGH"
    assert packet.root_delay == 0.03125 and packet.root_dispersion == 0.0625
    assert packet.reference_time == 3_900_000_000 - 2_208_988_800
    assert parse_ntp_packet(ntp_reply(b"x" * 8, stratum=1, refid=b"GPS\x00")).reference_id == "GPS"
    with pytest.raises(MalformedPacket):
        parse_ntp_packet(b"\x24" + bytes(46))
    with pytest.raises(MalformedPacket):
        parse_ntp_packet(b"\x16" + bytes(47))  # mode 6 is not a time packet


def control(sequence: int, offset: int, data: bytes, *, more: bool, error: bool = False) -> bytes:
    second = 0x80 | (0x40 if error else 0) | (0x20 if more else 0) | 2
    padded = data + b"\x00" * (-len(data) % 4)  # ntpd pads to 32-bit words
    return struct.pack("!BBHHHHH", 0x16, second, sequence, 0x0615, 0, offset, len(data)) + padded


def test_ntp_control_and_variables() -> None:
    message = parse_ntp_control(control(9, 100, b"abc", more=True))
    assert (message.response, message.more, message.opcode, message.sequence) == (True, True, 2, 9)
    assert (message.offset, message.data) == (100, b"abc")
    with pytest.raises(MalformedPacket):
        parse_ntp_control(control(9, 0, b"abcdef", more=False)[:15])
    assert parse_ntp_variables('version="ntpd 4.2.8p15, x", leap=0, stratum=2 , flag,') == {
        "version": "ntpd 4.2.8p15, x",
        "leap": "0",
        "stratum": "2",
        "flag": "",
    }


# --------------------------------------------------------------------------- fuzzing

_VALID = [
    chaos_answer(7, b"9.18.24-1-Debian"),
    snmp_response(5, ber(0x30, ber(6, bytes.fromhex("2b06010201010100")) + ber(4, b"x"))),
    ntp_reply(b"12345678"),
    control(3, 0, b'version="ntpd 4.2.8"', more=False),
]
_PARSERS: list[Callable[[bytes], object]] = [
    parse_dns_message,
    parse_snmp_message,
    parse_ntp_packet,
    parse_ntp_control,
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_VALID)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=8))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=600), mutated()))
def test_parsers_only_raise_malformed_packet(data: bytes) -> None:
    for parse in _PARSERS:
        with contextlib.suppress(MalformedPacket):
            parse(data)
    try:
        text = data.decode("latin-1")
        assert isinstance(parse_ntp_variables(text), dict)
    except MalformedPacket:
        pass


# --------------------------------------------------------------------------- fake UDP servers


class FakeUdp:
    """A UDP server on 127.0.0.1 answering each datagram with ``answer(data)`` (list of replies)."""

    def __init__(self, answer: Callable[[bytes], list[bytes]]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self.received: list[bytes] = []
        self._answer = answer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append(data)
            for reply in self._answer(data):
                self.sock.sendto(reply, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def fake_udp() -> Iterator[Callable[[Callable[[bytes], list[bytes]]], int]]:
    servers: list[FakeUdp] = []

    def start(answer: Callable[[bytes], list[bytes]]) -> int:
        server = FakeUdp(answer)
        servers.append(server)
        return server.port

    yield start
    for server in servers:
        server.close()


def fake_bind(data: bytes) -> list[bytes]:
    """A BIND-like server: answers version.bind, refuses recursion, ignores everything else."""
    if len(data) < 12:
        return []
    ident = data[:2]
    question = data[12:]
    if question.startswith(dns_name("version", "bind")):
        # Junk first, then an answer with a wrong id, then the real one: only the last counts.
        wrong = bytes([ident[0] ^ 0xFF, ident[1]])
        return [
            b"\x00garbage",
            chaos_answer(int.from_bytes(wrong, "big"), b"evil"),
            chaos_answer(
                int.from_bytes(ident, "big"),
                b"9.18.24-1-Debian",
                question=dns_name("VERSION", "Bind"),
            ),
        ]
    if question.startswith(dns_name("localhost")):
        return [dns_header(int.from_bytes(ident, "big"), 0x8005, 1, 0) + question]  # REFUSED, no RA
    return []


def fake_ntp(data: bytes, *, readvar: bool = True, copy_origin: bool = True) -> list[bytes]:
    if len(data) == 48 and data[0] & 0x07 == 3:
        origin = data[40:48] if copy_origin else b"\x00" * 8
        return [ntp_reply(origin)]
    if readvar and len(data) >= 12 and data[0] & 0x07 == 6 and data[1] == 2:
        sequence = int.from_bytes(data[2:4], "big")
        text = (
            b'version="ntpd 4.2.8p15@1.3728-o Wed Sep 23 11:46:38 UTC 2020 (1)", '
            b'processor="x86_64", system="Linux/6.1.0", leap=0, stratum=2'
        )
        half = 40
        # The second fragment first: the probe must reassemble by offset.
        return [
            control(sequence, half, text[half:], more=False),
            control(sequence, 0, text[:half], more=True),
        ]
    return []


def test_dns_probe_against_a_fake_bind(
    fake_udp: Callable[[Callable[[bytes], list[bytes]]], int],
) -> None:
    port = fake_udp(fake_bind)
    result = udp_probe("127.0.0.1", port, "dns", timeout=0.5, retries=0)
    assert result is not None
    assert (result.service, result.product, result.version) == ("dns", "ISC BIND", "9.18.24")
    assert result.cpe == ("cpe:2.3:a:isc:bind:9.18.24:*:*:*:*:*:*:*",)
    assert result.extra["version_bind"] == "9.18.24-1-Debian"
    assert result.extra["localhost_rcode"] == "REFUSED"
    assert result.extra["recursion_available"] == "no"
    assert result.flags == ("dns_version_disclosed",)
    assert result.rtt_ms is not None and result.protocol == "udp"
    assert result.to_service_match().product == "ISC BIND"


def test_ntp_probe_reads_mode3_and_readvar(
    fake_udp: Callable[[Callable[[bytes], list[bytes]]], int],
) -> None:
    port = fake_udp(fake_ntp)
    result = udp_probe("127.0.0.1", port, "ntp", timeout=0.5, retries=0)
    assert result is not None
    assert (result.service, result.product, result.version) == ("ntp", "ntpd", "4.2.8p15")
    assert result.cpe == ("cpe:2.3:a:ntp:ntp:4.2.8:p15:*:*:*:*:*:*",)
    assert result.extra["stratum"] == "2" and result.extra["reference_id"] == "192.0.2.1"
    assert result.extra["readvar_system"] == "Linux/6.1.0"
    assert result.extra["reference_time"] == "2023-08-02T21:20:00+00:00"
    assert result.flags == ("ntp_mode6_readvar",)
    assert result.info == "stratum 2, refid 192.0.2.1, NTPv4"


def test_ntp_without_readvar_and_spoofed_origin(
    fake_udp: Callable[[Callable[[bytes], list[bytes]]], int],
) -> None:
    quiet = fake_udp(lambda d: fake_ntp(d, readvar=False))
    result = udp_probe("127.0.0.1", quiet, "ntp", timeout=0.3, retries=0)
    assert result is not None and result.product is None and result.flags == ()
    assert result.probe == "ntp-mode3"
    # A reply that does not echo our transmit timestamp answers someone else's request.
    spoof = fake_udp(lambda d: fake_ntp(d, copy_origin=False))
    assert udp_probe("127.0.0.1", spoof, "ntp", timeout=0.3, retries=0) is None


def test_retries_resend_until_answered(
    fake_udp: Callable[[Callable[[bytes], list[bytes]]], int],
) -> None:
    seen: list[bytes] = []

    def deaf_twice(data: bytes) -> list[bytes]:
        seen.append(data)
        return fake_ntp(data, readvar=False) if len(seen) > 2 else []

    port = fake_udp(deaf_twice)
    result = udp_probe("127.0.0.1", port, "ntp", timeout=0.2, retries=2, ntp_readvar=False)
    assert result is not None and result.service == "ntp"
    assert len(seen) == 3 and seen[0] == seen[2]  # the same request, resent


def test_closed_port_ends_at_once() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    started = time.monotonic()
    assert udp_scan(["127.0.0.1"], [port], timeout=2.0, retries=2) == []
    assert time.monotonic() - started < 1.0  # ICMP port unreachable, no timeouts spent


def test_unknown_port_tries_every_service(
    fake_udp: Callable[[Callable[[bytes], list[bytes]]], int],
) -> None:
    ntp_port = fake_udp(lambda d: fake_ntp(d, readvar=False))
    dns_port = fake_udp(fake_bind)
    found: list[str] = []
    results = udp_scan(
        ["127.0.0.1"],
        [ntp_port, dns_port],
        timeout=0.2,
        retries=0,
        on_result=lambda r: found.append(r.service),
    )
    assert sorted((r.port, r.service) for r in results) == sorted(
        [(ntp_port, "ntp"), (dns_port, "dns")]
    )
    assert [r.port for r in results] == sorted([ntp_port, dns_port])
    assert sorted(found) == ["dns", "ntp"]


def test_should_stop_and_bad_input() -> None:
    assert udp_scan(["127.0.0.1"], [9], should_stop=lambda: True) == []
    for kwargs, needle in (
        ({"addresses": ["localhost"]}, "localhost"),
        ({"addresses": ["127.0.0.1"], "ports": [0]}, "UDP"),
        ({"addresses": ["127.0.0.1"], "timeout": -1}, "timeout"),
        ({"addresses": ["127.0.0.1"], "service": "http"}, "service"),
        ({"addresses": ["127.0.0.1"], "concurrency": 0}, "concurrency"),
    ):
        with pytest.raises(ValidationError) as caught:
            udp_scan(**kwargs)
        assert needle in str(caught.value) and "\n" not in str(caught.value)


# --------------------------------------------------------------------------- real services


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_udp_and_tcp_port() -> int:
    """A port free on UDP and on TCP right now (DNS servers bind both)."""
    for _ in range(50):
        port = _free_udp_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free on both UDP and TCP")


def _udp_bound(port: int) -> bool:
    wanted = f"0100007F:{port:04X}"
    text = Path("/proc/net/udp").read_text()
    return any(line.split()[1] == wanted for line in text.splitlines()[1:])


def _start(
    argv: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{argv[0]} exited: {log.read_text(errors='replace')[-1500:]}")
        if _udp_bound(port):
            return process
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"{argv[0]} did not bind 127.0.0.1:{port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def snmpd(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("snmpd") or shutil.which("snmpd", path="/usr/sbin")
    if binary is None:
        pytest.skip("snmpd is not installed (Debian package snmpd; make test installs it)")
    port = _free_udp_port()
    conf = tmp_path / "snmpd.conf"
    conf.write_text("rocommunity public 127.0.0.1\nsysName sb-test-agent\nsysLocation lab\n")
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(tmp_path), "MIBS": "", "MIBDIRS": str(tmp_path)}
    process = _start(
        [
            binary,
            "-f",
            "-C",
            "-c",
            str(conf),
            "-Lf",
            str(tmp_path / "log"),
            f"udp:127.0.0.1:{port}",
        ],
        port,
        tmp_path / "out",
        env,
    )
    yield port
    _stop(process)


def test_snmp_against_real_snmpd(snmpd: int) -> None:
    version = re.search(
        r"NET-SNMP version:\s*(\S+)",
        subprocess.run(
            [shutil.which("snmpd") or "/usr/sbin/snmpd", "--version"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout,
    )
    result = udp_probe("127.0.0.1", snmpd, "snmp", timeout=1.0, retries=1)
    assert result is not None
    assert (result.service, result.product) == ("snmp", "Net-SNMP")
    assert version is not None and result.version == version.group(1)
    assert result.extra["sysName"] == "sb-test-agent"
    assert result.extra["sysObjectID"].startswith("1.3.6.1.4.1.8072.")
    assert result.info == result.extra["sysDescr"] and result.info.startswith(os.uname().sysname)
    assert result.extra["snmp_version"] == "v2c"
    assert result.flags == ("snmp_default_community",)
    assert result.cpe == (f"cpe:2.3:a:net-snmp:net-snmp:{result.version}:*:*:*:*:*:*:*",)


def test_snmp_wrong_community_gets_no_answer(snmpd: int) -> None:
    started = time.monotonic()
    assert (
        udp_probe("127.0.0.1", snmpd, "snmp", timeout=0.3, retries=0, snmp_community="s3cret")
        is None
    )
    # v2c then v1, one timeout each: the agent stays silent, so the probe must not hang.
    assert 0.5 < time.monotonic() - started < 3.0


@pytest.fixture
def dnsmasq(tmp_path: Path) -> Iterator[int]:
    binary = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin")
    if binary is None:
        pytest.skip("dnsmasq is not installed (Debian package dnsmasq-base)")
    # Another test may take the port between the probe and dnsmasq's bind: try again.
    for attempt in range(3):
        port = _free_udp_and_tcp_port()
        (tmp_path / "log").unlink(missing_ok=True)
        try:
            process = _start_dnsmasq(binary, port, tmp_path)
            break
        except pytest.fail.Exception:
            if attempt == 2 or "in use" not in (tmp_path / "log").read_text(errors="replace"):
                raise
    yield port
    _stop(process)


def _start_dnsmasq(binary: str, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    return _start(
        [
            binary,
            "--keep-in-foreground",
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",  # no upstream: nothing is ever forwarded anywhere
            "--no-hosts",
            "--conf-file=/dev/null",
            f"--pid-file={tmp_path / 'pid'}",
            "--address=/localhost/127.0.0.1",
        ],
        port,
        tmp_path / "log",
    )


def test_dns_against_real_dnsmasq(dnsmasq: int) -> None:
    banner = subprocess.run(
        [shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    version = re.search(r"Dnsmasq version (\S+)", banner)
    [result] = udp_scan(["127.0.0.1"], [dnsmasq], service="dns", timeout=1.0)
    assert (result.service, result.product) == ("dns", "dnsmasq")
    assert version is not None and result.version == version.group(1)
    assert result.extra["localhost_a"] == "127.0.0.1"
    assert "dns_version_disclosed" in result.flags
