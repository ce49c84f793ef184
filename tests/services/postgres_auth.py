"""A PostgreSQL cluster that asks for passwords, with planted roles (tests/services/postgres.py
starts trust-only clusters; this one writes its own pg_hba.conf).

Roles, all reachable over TCP from 127.0.0.1:

- ``pgadmin`` / ``123456``: weak, SCRAM-SHA-256 (the default method)
- ``md5user`` / ``password``: weak, stored and checked as md5
- ``clearuser`` / ``qwerty``: weak, the ``password`` (cleartext) method
- ``trustuser``: admitted by ``trust`` without any password
- ``appsvc`` / ``STRONG_PASSWORD``: strong
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.services.dbproc import start_with_retries, wait_for_port
from tests.services.postgres import ServiceUnavailable, _bindir, free_port
from tests.services.process import stop_process

WEAK_USER, WEAK_PASSWORD = "pgadmin", "123456"
MD5_USER, MD5_PASSWORD = "md5user", "password"
CLEAR_USER, CLEAR_PASSWORD = "clearuser", "qwerty"
TRUST_USER = "trustuser"
STRONG_USER, STRONG_PASSWORD = "appsvc", "Hn4#tW9!eQ2@rL7$"

_HBA = f"""\
local all all trust
host all {TRUST_USER} 127.0.0.1/32 trust
host all {MD5_USER} 127.0.0.1/32 md5
host all {CLEAR_USER} 127.0.0.1/32 password
host all all 127.0.0.1/32 scram-sha-256
"""


@dataclass
class PasswordPostgres:
    """A running cluster on 127.0.0.1:``port``."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop the server and remove its files."""
        stop_process(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def _plant(sockets: Path, port: int) -> None:
    with psycopg.connect(
        host=str(sockets), port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE ROLE {WEAK_USER} LOGIN PASSWORD '{WEAK_PASSWORD}'")
        conn.execute(f"CREATE ROLE {CLEAR_USER} LOGIN PASSWORD '{CLEAR_PASSWORD}'")
        conn.execute(f"CREATE ROLE {STRONG_USER} LOGIN PASSWORD '{STRONG_PASSWORD}'")
        conn.execute(f"CREATE ROLE {TRUST_USER} LOGIN")
        conn.execute("SET password_encryption = 'md5'")
        conn.execute(f"CREATE ROLE {MD5_USER} LOGIN PASSWORD '{MD5_PASSWORD}'")


def _plant_when_ready(
    process: subprocess.Popen[bytes], sockets: Path, port: int, log: Path, timeout: float
) -> None:
    # The TCP listener opens before recovery finishes and before the Unix socket exists;
    # "starting up" and "connection refused" mean: wait a little.
    deadline = time.monotonic() + timeout
    while True:
        try:
            _plant(sockets, port)
            return
        except psycopg.OperationalError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"postgres not ready: {tail}") from exc
            time.sleep(0.1)


def start_password_postgres(timeout: float = 60.0) -> PasswordPostgres:
    """initdb a cluster in a temp dir, install the pg_hba.conf above, start on 127.0.0.1."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="shaobing-pgauth-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    uid = gid = None
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        uid, gid = entry.pw_uid, entry.pw_gid
        for path in (root, sockets):
            os.chown(path, uid, gid)

    def demote() -> None:
        if gid is not None and uid is not None:
            os.setgid(gid)
            os.setuid(uid)

    preexec = demote if uid is not None else None
    subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        preexec_fn=preexec,
    )
    (data / "pg_hba.conf").write_text(_HBA)
    port = free_port()
    process = subprocess.Popen(
        [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(sockets),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=100",
            "-c",
            "password_encryption=scram-sha-256",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        preexec_fn=preexec,  # noqa: PLW1509
    )
    try:
        wait_for_port(process, port, log, timeout)
        _plant_when_ready(process, sockets, port, log, timeout)
    except BaseException:
        stop_process(process)
        shutil.rmtree(root, ignore_errors=True)
        raise
    return PasswordPostgres(root, port, process)


@pytest.fixture(scope="session")
def password_postgres() -> Iterator[PasswordPostgres]:
    """One password-protected cluster per test process; skipped without PostgreSQL."""
    try:
        server = start_with_retries(start_password_postgres)
    except ServiceUnavailable as exc:
        pytest.skip(f"PostgreSQL not available here: {exc}")
    yield server
    server.stop()
