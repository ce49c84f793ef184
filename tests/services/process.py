"""Helpers shared by the service fixtures: free ports, readiness polling, clean shutdown."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tcp_banner(port: int, *, send: bytes = b"", timeout: float = 0.5) -> bytes:
    """What 127.0.0.1:port says first (after ``send``), b"" when nothing or refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            if send:
                sock.sendall(send)
            return sock.recv(256)
    except OSError:
        return b""


def wait_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    *,
    name: str,
    log: Path,
    timeout: float = 20.0,
) -> None:
    """Poll ``ready`` until true; raise with the log tail if the process dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{name} exited with {process.returncode}: {tail}")
        if ready():
            return
        time.sleep(0.05)
    stop_process(process)
    raise RuntimeError(f"{name} did not become ready within {timeout} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it lingers; never raises."""
    if process.poll() is not None:
        return
    with contextlib.suppress(OSError):
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            process.kill()
        process.wait(timeout=10)
