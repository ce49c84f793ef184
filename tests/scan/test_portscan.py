"""TCP connect sweep against listeners of our own on loopback (requirement B1).

Every connection goes to 127.0.0.1 or ::1 only.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from shaobing.core.errors import ValidationError
from shaobing.scan.portscan import PortResult, tcp_connect_scan

T = TypeVar("T")


def within(seconds: float, func: Callable[[], T]) -> T:
    """Run ``func`` in a thread and fail (instead of hanging) if it takes too long."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"scan did not finish within {seconds} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def _listener(
    family: int = socket.AF_INET, host: str = "127.0.0.1", backlog: int = 16
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(backlog)
    return sock


@pytest.fixture
def listeners() -> Iterator[list[socket.socket]]:
    socks = [_listener() for _ in range(5)]
    yield socks
    for sock in socks:
        sock.close()


def _free_port(family: int = socket.AF_INET, host: str = "127.0.0.1") -> int:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def _proc_listening_ports() -> set[int]:
    """Ports in LISTEN state reachable at 127.0.0.1, read independently from /proc."""
    wildcard_or_loopback = {
        "00000000",  # 0.0.0.0
        "0100007F",  # 127.0.0.1 (little-endian hex)
        "00000000000000000000000000000000",  # :: (dual-stack sockets accept IPv4 too)
        "0000000000000000FFFF00000100007F",  # ::ffff:127.0.0.1
    }
    ports: set[int] = set()
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, _, port = local.partition(":")
            if state == "0A" and address.upper() in wildcard_or_loopback:
                ports.add(int(port, 16))
    return ports


def test_finds_exactly_the_listening_ports_among_closed_neighbours(
    listeners: list[socket.socket],
) -> None:
    open_ports = {int(s.getsockname()[1]) for s in listeners}
    # Closed neighbours: each listener's port +-2 that nothing listens on.
    probe = set(open_ports)
    for port in open_ports:
        probe.update(p for p in range(port - 2, port + 3) if 1 <= p <= 65535)
    results = within(10, lambda: tcp_connect_scan(["127.0.0.1"], sorted(probe), timeout=1.0))
    assert all(isinstance(r, PortResult) and r.state == "open" for r in results)
    found = {r.port for r in results}
    assert open_ports <= found
    # Anything else open must be something else on the machine, never a closed port.
    assert found - open_ports <= _proc_listening_ports()
    assert all(r.address == "127.0.0.1" and r.rtt_ms is not None for r in results)
    assert [r.port for r in results] == sorted(found)


def test_report_closed_gives_every_port_a_state(listeners: list[socket.socket]) -> None:
    port = int(listeners[0].getsockname()[1])
    closed = _free_port()
    seen: list[PortResult] = []
    results = within(
        10,
        lambda: tcp_connect_scan(
            ["127.0.0.1"], [port, closed], report_closed=True, on_result=seen.append
        ),
    )
    states = {r.port: r.state for r in results}
    assert states == {port: "open", closed: "closed"}
    assert sorted(seen, key=lambda r: r.port) == sorted(results, key=lambda r: r.port)


def test_on_result_is_called_for_each_open_port(listeners: list[socket.socket]) -> None:
    ports = [int(s.getsockname()[1]) for s in listeners]
    seen: list[PortResult] = []
    results = within(10, lambda: tcp_connect_scan(["127.0.0.1"], ports, on_result=seen.append))
    assert {r.port for r in seen} == set(ports) == {r.port for r in results}


def test_ipv6_loopback() -> None:
    if not _ipv6_available():
        pytest.skip("IPv6 loopback (::1) is not available in this environment")
    listener = _listener(socket.AF_INET6, "::1")
    try:
        port = int(listener.getsockname()[1])
        closed = _free_port(socket.AF_INET6, "::1")
        results = within(
            10,
            lambda: tcp_connect_scan(["::1"], [port, closed], report_closed=True),
        )
        assert {(r.address, r.port, r.state) for r in results} == {
            ("::1", port, "open"),
            ("::1", closed, "closed"),
        }
    finally:
        listener.close()


def test_full_sweep_matches_proc_and_filters_self_connect(
    listeners: list[socket.socket],
) -> None:
    mine = {int(s.getsockname()[1]) for s in listeners}
    # Other tests (other pytest workers) open and close listeners while the sweep runs, so
    # the oracle is every port seen in LISTEN state at any moment of the sweep. A
    # self-connected ephemeral port is ESTABLISHED, never LISTEN, so it can never hide here.
    seen_listening = _proc_listening_ports()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen_listening.update(_proc_listening_ports())
            done.wait(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    try:
        results = within(30, lambda: tcp_connect_scan(["127.0.0.1"], range(1, 65536), timeout=1.0))
    finally:
        done.set()
        watcher.join(timeout=5)
    elapsed = time.monotonic() - start
    seen_listening.update(_proc_listening_ports())
    found = {r.port for r in results}
    assert mine <= found
    # Nothing reported open may be absent from /proc: a self-connected ephemeral port
    # (source port == target port) would show up here as a phantom open port.
    assert found <= seen_listening, sorted(found - seen_listening)
    assert elapsed < 30


def test_listener_that_never_answers_is_open() -> None:
    # Accepts (the kernel completes the handshake) but the application never reads/writes.
    silent = _listener(backlog=1)
    try:
        port = int(silent.getsockname()[1])
        results = within(10, lambda: tcp_connect_scan(["127.0.0.1"], [port], timeout=0.5))
        assert [(r.port, r.state) for r in results] == [(port, "open")]
    finally:
        silent.close()


def test_full_backlog_does_not_hang() -> None:
    # backlog 0 and never accept(): once the accept queue is full Linux drops further SYNs,
    # so the probe times out (filtered) or, if a slot was free, is open. Either is sane;
    # hanging is not.
    full = _listener(backlog=0)
    fillers: list[socket.socket] = []
    try:
        port = int(full.getsockname()[1])
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.05)
        start = time.monotonic()
        results = within(
            10,
            lambda: tcp_connect_scan(
                ["127.0.0.1"], [port], timeout=0.3, retries=1, report_closed=True
            ),
        )
        assert len(results) == 1 and results[0].state in {"open", "filtered"}
        if results[0].state == "filtered":
            assert results[0].rtt_ms is None
        assert time.monotonic() - start < 5
    finally:
        for filler in fillers:
            filler.close()
        full.close()


@pytest.mark.parametrize("address", ["localhost", "example.invalid", "127.0.0.1.5", "", "::g"])
def test_non_ip_addresses_are_refused_without_resolving(address: str) -> None:
    with pytest.raises(ValidationError) as info:
        tcp_connect_scan([address], [80])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_bad_ports_are_refused(port: int) -> None:
    with pytest.raises(ValidationError):
        tcp_connect_scan(["127.0.0.1"], [port])


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValidationError):
        tcp_connect_scan(["127.0.0.1"], [80], timeout=0)
    with pytest.raises(ValidationError):
        tcp_connect_scan(["127.0.0.1"], [80], batch=0)
    with pytest.raises(ValidationError):
        tcp_connect_scan(["127.0.0.1"], [80], retries=-1)


def test_should_stop_stops_between_batches(listeners: list[socket.socket]) -> None:
    calls = 0

    def stop_after_first_batch() -> bool:
        nonlocal calls
        calls += 1
        return calls > 1

    seen: list[PortResult] = []
    results = within(
        10,
        lambda: tcp_connect_scan(
            ["127.0.0.1"],
            range(1, 65536),
            batch=100,
            report_closed=True,
            on_result=seen.append,
            should_stop=stop_after_first_batch,
        ),
    )
    assert calls == 2
    # One batch of 100 was started and every started probe was decided.
    assert len(results) == 100 == len(seen)
    assert [r.port for r in results] == list(range(1, 101))


def test_should_stop_before_anything_starts() -> None:
    assert tcp_connect_scan(["127.0.0.1"], [1, 2, 3], should_stop=lambda: True) == []


def test_multiple_addresses_keep_address_order(listeners: list[socket.socket]) -> None:
    port = int(listeners[0].getsockname()[1])
    results = within(
        10, lambda: tcp_connect_scan(["127.0.0.1", "127.0.0.2"], [port], report_closed=True)
    )
    assert [(r.address, r.state) for r in results] == [
        ("127.0.0.1", "open"),
        ("127.0.0.2", "closed"),
    ]


def test_peer_that_accepts_then_resets_is_open() -> None:
    import struct

    from tests.services.fake import FakeServer

    def reset(conn: socket.socket, stop: threading.Event) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    server = FakeServer(reset)
    try:
        results = tcp_connect_scan(["127.0.0.1"], [server.port], timeout=1.0)
    finally:
        server.close()
    assert [(r.port, r.state) for r in results] == [(server.port, "open")]
