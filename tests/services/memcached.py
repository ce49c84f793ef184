"""Throw-away memcached instances on 127.0.0.1 and free ports.

- ``open``: no authentication, TCP and UDP on the same port number (UDP is the
  amplification vector of 2018 that makes an exposed memcached worse)
- ``auth``: ASCII authentication (``-Y``) with ``mcadmin`` / ``123456`` planted
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services.dbproc import require_binary, start_with_retries, wait_for_port
from tests.services.postgres import ServiceUnavailable, free_port
from tests.services.process import stop_process

AUTH_USER, AUTH_PASSWORD = "mcadmin", "123456"


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class MemcachedServers:
    """Ports of the instances; ``stop`` ends them."""

    root: Path
    open: int
    auth: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every instance and remove the temp dir."""
        for process in self.processes:
            stop_process(process)
        shutil.rmtree(self.root, ignore_errors=True)


def _start(binary: str, port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    # memcached refuses to run as root without -u.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [binary, "-l", "127.0.0.1", "-p", str(port), "-m", "16", "-c", "256", *user, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(process, port, None)
    return process


def start_memcached() -> MemcachedServers:
    """Start the open and the authenticating instance."""
    binary = require_binary("memcached")
    root = Path(tempfile.mkdtemp(prefix="shaobing-memcached-"))
    os.chmod(root, 0o755)
    auth_file = root / "auth"
    auth_file.write_text(f"{AUTH_USER}:{AUTH_PASSWORD}\n")
    os.chmod(auth_file, 0o644)  # read by the demoted memcached process
    processes: list[subprocess.Popen[bytes]] = []
    try:
        open_port = free_port()
        while not _udp_free(open_port):
            open_port = free_port()
        processes.append(_start(binary, open_port, ["-U", str(open_port)]))
        auth_port = free_port()
        processes.append(_start(binary, auth_port, ["-U", "0", "-Y", str(auth_file)]))
    except BaseException:
        for process in processes:
            stop_process(process)
        shutil.rmtree(root, ignore_errors=True)
        raise
    return MemcachedServers(root, open_port, auth_port, processes)


@pytest.fixture(scope="session")
def memcached_servers() -> Iterator[MemcachedServers]:
    """The instances, once per test process; skipped without memcached."""
    try:
        servers = start_with_retries(start_memcached)
    except ServiceUnavailable as exc:
        pytest.skip(f"memcached not available here: {exc}")
    yield servers
    servers.stop()
