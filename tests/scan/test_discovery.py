"""Host liveness on loopback (requirement B1): TCP ping, ICMP echo, cancellation.

Every probe goes to 127.0.0.0/8 or ::1. Hosts that do not answer at all only exist inside
network namespaces: see test_discovery_netns.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from shaobing.core.errors import ValidationError
from shaobing.scan.discovery import (
    HostAlive,
    _echo_request,
    _EchoSweep,
    discover_hosts,
    icmp_available,
    icmp_checksum,
    icmp_echo_sweep,
)

needs_raw = pytest.mark.skipif(not icmp_available(), reason="raw ICMP sockets need root")


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield int(sock.getsockname()[1])
    sock.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tcp_ping_open_port_is_alive(listener: int) -> None:
    [verdict] = discover_hosts(["127.0.0.1"], method="tcp", ports=[listener])
    assert verdict.alive and verdict.method == "tcp"
    assert verdict.reason == "tcp_open" and verdict.port == listener
    assert verdict.rtt_ms is not None and 0 < verdict.rtt_ms < 1000


def test_tcp_ping_reset_means_alive() -> None:
    closed = _free_port()
    [verdict] = discover_hosts(["127.0.0.3"], method="tcp", ports=[closed])
    assert (verdict.address, verdict.alive, verdict.reason, verdict.port) == (
        "127.0.0.3",
        True,
        "tcp_reset",
        closed,
    )


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_tcp_ping_ipv6() -> None:
    [verdict] = discover_hosts(["0:0::1"], method="tcp", ports=[_free_port()])
    assert verdict.address == "::1" and verdict.alive and verdict.reason == "tcp_reset"


def test_a_slash_24_is_fast_and_complete() -> None:
    addresses = [f"127.1.2.{i}" for i in range(256)]
    seen: list[HostAlive] = []
    started = time.monotonic()
    results = discover_hosts(addresses, method="tcp", on_result=seen.append)
    elapsed = time.monotonic() - started
    assert [r.address for r in results] == addresses
    assert all(r.alive and r.reason == "tcp_reset" for r in results)
    assert sorted(r.address for r in seen) == sorted(addresses)  # once per host
    assert elapsed < 5.0


def test_duplicates_collapse_and_order_is_kept() -> None:
    results = discover_hosts(
        ["127.0.0.9", "127.0.0.8", "127.0.0.9"], method="tcp", ports=[_free_port()]
    )
    assert [r.address for r in results] == ["127.0.0.9", "127.0.0.8"]


def test_method_none_assumes_up() -> None:
    results = discover_hosts(["127.0.0.1", "::1"], method="none")
    assert [(r.alive, r.method, r.reason) for r in results] == [(True, "none", "assumed")] * 2


def test_should_stop_before_anything_is_sent() -> None:
    results = discover_hosts(
        [f"127.0.3.{i}" for i in range(10)], method="tcp", should_stop=lambda: True
    )
    assert {(r.alive, r.reason) for r in results} == {(False, "stopped")}


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"addresses": ["localhost"]}, "localhost"),
        ({"addresses": "127.0.0.1"}, "127.0.0.1"),
        ({"addresses": ["127.0.0.1"], "method": "ping"}, "method"),
        ({"addresses": ["127.0.0.1"], "timeout": 0}, "timeout"),
        ({"addresses": ["127.0.0.1"], "retries": -1}, "retries"),
        ({"addresses": ["127.0.0.1"], "ports": []}, "ports"),
    ],
)
def test_bad_input_is_one_line(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError) as caught:
        discover_hosts(**kwargs)  # type: ignore[arg-type]
    assert needle in str(caught.value) and "\n" not in str(caught.value)


# --------------------------------------------------------------------------- ICMP


def test_checksum_known_vector_and_self_check() -> None:
    # RFC 1071 section 3 example: the one's complement sum of these words is 0xddf2.
    assert icmp_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    packet = _echo_request(4, 0x1234, 7, b"odd-length-payload!")
    assert packet[0] == 8 and struct.unpack("!HH", packet[4:8]) == (0x1234, 7)
    assert icmp_checksum(packet) == 0  # a correct checksum makes the total zero


def _reply(
    sweep: _EchoSweep, index: int, *, ident: int | None = None, token: bytes | None = None
) -> bytes:
    payload = (token or sweep.token) + index.to_bytes(4, "big")
    body = struct.pack("!BBHHH", 0, 0, 0, sweep.ident if ident is None else ident, index) + payload
    header = bytes([0x45]) + bytes(19)  # a minimal IPv4 header: raw sockets deliver it
    return header + body


def test_replies_must_match_identifier_token_and_sender() -> None:
    sweep = _EchoSweep(["127.0.0.5", "127.0.0.6"], 1.0, 0)
    assert sweep._parse_reply(4, _reply(sweep, 1), "127.0.0.6") == 1
    assert sweep._parse_reply(4, _reply(sweep, 1), "127.0.0.5") is None  # wrong sender
    assert sweep._parse_reply(4, _reply(sweep, 1, ident=sweep.ident ^ 1), "127.0.0.6") is None
    assert sweep._parse_reply(4, _reply(sweep, 1, token=b"x" * 8), "127.0.0.6") is None
    assert sweep._parse_reply(4, _reply(sweep, 7), "127.0.0.6") is None  # no such index
    assert sweep._parse_reply(4, b"\x45" + bytes(10), "127.0.0.6") is None  # truncated


@needs_raw
def test_icmp_echo_on_loopback() -> None:
    targets = ["127.0.0.1", "127.0.0.77"] + (["::1"] if _ipv6_loopback() else [])
    answered = icmp_echo_sweep(targets, timeout=1.0)
    assert sorted(answered) == sorted(targets)
    assert all(0 < rtt < 1000 for rtt in answered.values())
    results = discover_hosts(targets, method="icmp")
    assert all(r.alive and r.method == "icmp" and r.reason == "echo_reply" for r in results)


@needs_raw
def test_concurrent_sweeps_do_not_answer_for_each_other() -> None:
    first = [f"127.0.4.{i}" for i in range(1, 40)]
    second = [f"127.0.5.{i}" for i in range(1, 40)]
    found: dict[str, dict[str, float]] = {}

    def sweep(name: str, targets: list[str]) -> None:
        found[name] = icmp_echo_sweep(targets, timeout=1.0)

    threads = [
        threading.Thread(target=sweep, args=("a", first)),
        threading.Thread(target=sweep, args=("b", second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(found["a"]) == sorted(first)
    assert sorted(found["b"]) == sorted(second)


@needs_raw
def test_auto_uses_both_and_finishes_early() -> None:
    started = time.monotonic()
    results = discover_hosts(["127.0.0.1", "127.0.0.2"], method="auto", timeout=2.0)
    assert all(r.alive and r.method in ("icmp", "tcp") for r in results)
    # Both hosts answer at once, so neither sweep waits for its 2 s timeout.
    assert time.monotonic() - started < 1.5


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv (util-linux) to drop CAP_NET_RAW",
)
def test_icmp_without_privilege_is_a_clear_error() -> None:
    code = (
        "from shaobing.scan.discovery import discover_hosts\n"
        "from shaobing.core.errors import ValidationError\n"
        "try:\n"
        "    discover_hosts(['127.0.0.1'], method='icmp')\n"
        "except ValidationError as exc:\n"
        "    print(exc)\n"
        "print([r.method for r in discover_hosts(['127.0.0.1'], method='auto')])\n"
    )
    # Without CAP_NET_RAW in the bounding set even root cannot open raw sockets.
    done = subprocess.run(
        ["setpriv", "--bounding-set=-net_raw", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "CAP_NET_RAW" in lines[0] and "\n" not in lines[0]
    assert lines[1] == "['tcp']"  # auto falls back to TCP silently
