"""A full scan with every built-in check survives hostile peers on loopback.

Peers that accept and never answer, reset every connection, trickle a banner one byte at a
time (slow loris) or send garbage: the scan must finish in bounded time, without a check
failing with an exception, and still report the well-behaved service next to them.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.services.fake import FakeServer, Handler, drain

_LINGER_RST = struct.pack("ii", 1, 0)


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    drain(conn, stop)


def _reset(conn: socket.socket, stop: threading.Event) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)


def _slow_loris(conn: socket.socket, stop: threading.Event) -> None:
    for byte in b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n" * 4:
        if stop.wait(0.5):
            return
        try:
            conn.sendall(bytes([byte]))
        except OSError:
            return


def _garbage(conn: socket.socket, stop: threading.Event) -> None:
    conn.settimeout(0.2)
    payload = bytes(range(256)) * 64
    for _ in range(20):
        try:
            conn.sendall(payload)
            conn.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return


def _redis_open(conn: socket.socket, stop: threading.Event) -> None:
    conn.settimeout(0.1)
    buffer = b""
    while not stop.is_set():
        try:
            data = conn.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return
        if not data:
            return
        buffer += data
        while b"\r\n" in buffer:
            line, _, buffer = buffer.partition(b"\r\n")
            if line.upper().startswith((b"PING", b"*1\r\n$4\r\nPING")):
                conn.sendall(b"+PONG\r\n")
            elif b"INFO" in line.upper():
                body = b"# Server\r\nredis_version:7.0.15\r\nos:Linux\r\nrole:master\r\n"
                conn.sendall(b"$%d\r\n%s\r\n" % (len(body), body))


@pytest.fixture
def hostile() -> Iterator[dict[str, int]]:
    handlers: dict[str, Handler] = {
        "silent": _silent,
        "reset": _reset,
        "slow_loris": _slow_loris,
        "garbage": _garbage,
    }
    servers = {name: FakeServer(handler) for name, handler in handlers.items()}
    yield {name: server.port for name, server in servers.items()}
    for server in servers.values():
        server.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_full_scan_survives_hostile_peers(cli: CliRunner, hostile: dict[str, int]) -> None:
    home = Path(os.environ["SHAOBING_HOME"])
    (home / "policies").mkdir(parents=True, exist_ok=True)
    (home / "policies" / "hostile.yaml").write_text(
        "hostile:\n  title: 全部检查\n  safety: [passive, active]\n  discovery: none\n"
        "  udp_ports: []\n  checks: ['*']\n  timeout: 1.0\n  concurrency: 16\n",
        encoding="utf-8",
    )
    ports = ",".join(str(p) for p in hostile.values())
    began = time.monotonic()
    result = cli("scan", "127.0.0.1", "--ports", ports, "--policy", "hostile", "--json", "-")
    elapsed = time.monotonic() - began

    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["status"] == "completed"
    assert data["stats"]["check_errors"] == 0, data["stats"]["errors"]
    found = {p["port"] for h in data["hosts"] for p in h["ports"]}
    # The resetting peer accepts the TCP handshake first, so it is open too.
    assert found == set(hostile.values())
    assert elapsed < 90, elapsed
