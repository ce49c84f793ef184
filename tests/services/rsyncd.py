"""Throw-away rsync daemons on 127.0.0.1 and free ports.

- ``open``: module ``public`` without authentication and module ``secret`` with
  ``auth users``
- ``closed``: only the ``secret`` module (every module asks for a password)
"""

from __future__ import annotations

import os
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

_SECRET_MODULE = """
[secret]
    path = {root}/secret
    comment = protected backups
    read only = yes
    auth users = backup
    secrets file = {root}/rsyncd.secrets
"""
_PUBLIC_MODULE = """
[public]
    path = {root}/public
    comment = public backups
    read only = yes
"""


@dataclass
class RsyncDaemons:
    """Ports of the two daemons; ``stop`` ends them."""

    root: Path
    open: int
    closed: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the daemons and remove the temp dir."""
        for process in self.processes:
            stop_process(process)
        shutil.rmtree(self.root, ignore_errors=True)


def _daemon(
    binary: str, root: Path, name: str, modules: str
) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    user = "uid = nobody\ngid = nogroup\n" if os.geteuid() == 0 else ""
    config = root / f"{name}.conf"
    config.write_text(
        f"pid file = {root}/{name}.pid\nuse chroot = no\n{user}" + modules.format(root=root)
    )
    log = root / f"{name}.log"
    process = subprocess.Popen(
        [
            binary,
            "--daemon",
            "--no-detach",
            "--address=127.0.0.1",
            f"--port={port}",
            f"--config={config}",
            f"--log-file={log}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(process, port, log)
    return port, process


def start_rsyncd() -> RsyncDaemons:
    """Start both daemons."""
    binary = require_binary("rsync")
    root = Path(tempfile.mkdtemp(prefix="shaobing-rsyncd-"))
    for folder in ("public", "secret"):
        (root / folder).mkdir()
        (root / folder / "README").write_text("test data\n")
    secrets = root / "rsyncd.secrets"
    secrets.write_text("backup:Rs9!long-secret\n")
    secrets.chmod(0o600)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        opened, proc = _daemon(binary, root, "open", _PUBLIC_MODULE + _SECRET_MODULE)
        processes.append(proc)
        closed, proc = _daemon(binary, root, "closed", _SECRET_MODULE)
        processes.append(proc)
    except BaseException:
        for process in processes:
            stop_process(process)
        shutil.rmtree(root, ignore_errors=True)
        raise
    return RsyncDaemons(root, opened, closed, processes)


@pytest.fixture(scope="session")
def rsync_daemons() -> Iterator[RsyncDaemons]:
    """The daemons, once per test process; skipped without rsync."""
    try:
        daemons = start_with_retries(start_rsyncd)
    except ServiceUnavailable as exc:
        pytest.skip(f"rsync not available here: {exc}")
    yield daemons
    daemons.stop()
