"""Throw-away redis-server instances on 127.0.0.1 and free ports, without persistence.

- ``weak``: ``requirepass 123456`` and an ACL user ``ops`` / ``admin123`` (read-only)
- ``strong``: ``requirepass`` set to a long random password
- ``open``: no password at all (unauthorised access; loopback so protected mode allows it)
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services.dbproc import require_binary, start_with_retries, wait_for_port
from tests.services.postgres import ServiceUnavailable, free_port
from tests.services.process import stop_process

WEAK_PASSWORD = "123456"
ACL_USER, ACL_PASSWORD = "ops", "admin123"
STRONG_PASSWORD = "Zr8&kP3!nV6@yT1#"


@dataclass
class RedisServers:
    """Ports of the three instances; ``stop`` ends them all."""

    root: Path
    weak: int
    strong: int
    open: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop every instance and remove the temp dir."""
        for process in self.processes:
            stop_process(process)
        shutil.rmtree(self.root, ignore_errors=True)


def _start(
    binary: str, root: Path, name: str, extra: list[str]
) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    workdir = root / name
    workdir.mkdir()
    log = workdir / "redis.log"
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(workdir),
            "--logfile",
            str(log),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(process, port, log)
    return port, process


def start_redis() -> RedisServers:
    """Start the weak, strong and open instances."""
    binary = require_binary("redis-server")
    root = Path(tempfile.mkdtemp(prefix="shaobing-redis-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        weak, proc = _start(
            binary,
            root,
            "weak",
            [
                "--requirepass",
                WEAK_PASSWORD,
                "--user",
                ACL_USER,
                "on",
                f">{ACL_PASSWORD}",
                "~*",
                "+@read",
                "+ping",
                "+info",
            ],
        )
        processes.append(proc)
        strong, proc = _start(binary, root, "strong", ["--requirepass", STRONG_PASSWORD])
        processes.append(proc)
        opened, proc = _start(binary, root, "open", [])
        processes.append(proc)
    except BaseException:
        for process in processes:
            stop_process(process)
        shutil.rmtree(root, ignore_errors=True)
        raise
    return RedisServers(root, weak, strong, opened, processes)


@pytest.fixture(scope="session")
def redis_servers() -> Iterator[RedisServers]:
    """The three instances, once per test process; skipped without redis-server."""
    try:
        servers = start_with_retries(start_redis)
    except ServiceUnavailable as exc:
        pytest.skip(f"Redis not available here: {exc}")
    yield servers
    servers.stop()
