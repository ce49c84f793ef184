"""Process helpers of the database and data-store fixtures (MariaDB, Redis, memcached,
password PostgreSQL): find the binary, wait until the port listens.

Shutdown uses ``tests.services.process.stop_process``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tests.services.postgres import ServiceUnavailable
from tests.services.process import stop_process

T = TypeVar("T")


def require_binary(*names: str) -> str:
    """The first of ``names`` found on PATH or in /usr/sbin; ServiceUnavailable otherwise."""
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
        if found:
            return found
    raise ServiceUnavailable(f"{' / '.join(names)} not installed (run make test)")


def wait_for_port(
    process: subprocess.Popen[bytes], port: int, log: Path | None, timeout: float = 30.0
) -> None:
    """Block until 127.0.0.1:port accepts connections; RuntimeError with the log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"service exited with {process.returncode}: {text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.05)
            continue
        # Someone else may own the port (chosen free, taken before our bind): ours then exits.
        time.sleep(0.05)
        if process.poll() is None:
            return
    stop_process(process)
    raise RuntimeError(f"service did not listen on 127.0.0.1:{port} within {timeout} s")


def start_with_retries(start: Callable[[], T], attempts: int = 3) -> T:
    """Call ``start`` again when it fails for a reason other than a missing binary.

    A free port can be taken by another test process between choosing and binding it;
    the server then exits at once and a second try on a new port succeeds.
    """
    for attempt in range(attempts):
        try:
            return start()
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
