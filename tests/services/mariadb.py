"""A throw-away MariaDB server with planted accounts, on 127.0.0.1 and a free port.

Accounts (TCP from 127.0.0.1; ``--skip-name-resolve`` keeps the socket-only
``root@localhost`` out of the way):

- ``dbadmin`` / ``123456``: the planted weak password
- ``root`` / ``root``: a weak root password, valid from 127.0.0.1 only
- ``appsvc`` / ``STRONG_PASSWORD``: a long random password no dictionary holds
- ``locked_user`` / ``123456``: an account that is locked (``ACCOUNT LOCK``)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from tests.services.dbproc import require_binary, start_with_retries, wait_for_port
from tests.services.postgres import ServiceUnavailable, free_port
from tests.services.process import stop_process

WEAK_USER, WEAK_PASSWORD = "dbadmin", "123456"
ROOT_PASSWORD = "root"
STRONG_USER, STRONG_PASSWORD = "appsvc", "Xq7!vR2#pL9@mZ4$wK8^"
LOCKED_USER = "locked_user"


@dataclass
class MariaDBServer:
    """A running server; ``port`` on 127.0.0.1."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop the server and remove its files."""
        stop_process(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def _plant_accounts(socket_path: Path) -> None:
    conn = pymysql.connect(unix_socket=str(socket_path), user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            for statement in (
                f"CREATE USER '{WEAK_USER}'@'%' IDENTIFIED BY '{WEAK_PASSWORD}'",
                f"CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '{ROOT_PASSWORD}'",
                "GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
                f"CREATE USER '{STRONG_USER}'@'%' IDENTIFIED BY '{STRONG_PASSWORD}'",
                f"CREATE USER '{LOCKED_USER}'@'%' IDENTIFIED BY '{WEAK_PASSWORD}' ACCOUNT LOCK",
            ):
                cur.execute(statement)
    finally:
        conn.close()


def start_mariadb(timeout: float = 60.0) -> MariaDBServer:
    """mariadb-install-db a fresh datadir in a temp dir and start mariadbd on 127.0.0.1."""
    server_bin = require_binary("mariadbd", "mysqld")
    install_bin = require_binary("mariadb-install-db", "mysql_install_db")
    root = Path(tempfile.mkdtemp(prefix="shaobing-mariadb-"))
    data, sock, log = root / "data", root / "mysqld.sock", root / "server.log"
    # mariadbd refuses to run as root unless told to; it stays confined to the temp dir.
    user = ["--user=root"] if os.geteuid() == 0 else []
    install = subprocess.run(
        [
            install_bin,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ],
        capture_output=True,
        check=False,
    )
    if install.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"mariadb-install-db failed: {install.stderr[-2000:]!r}")
    port = free_port()
    process = subprocess.Popen(
        [
            server_bin,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={sock}",
            f"--pid-file={root / 'mysqld.pid'}",
            f"--log-error={log}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=16M",
            "--innodb-log-file-size=4M",
            "--performance-schema=OFF",
            "--max-connections=300",
            # Aborted handshakes (the robustness tests make some) must not block 127.0.0.1.
            "--max-connect-errors=1000000",
            *user,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(process, port, log, timeout)
        try:
            _plant_accounts(sock)
        except pymysql.MySQLError as exc:
            raise RuntimeError(f"could not plant accounts: {exc}") from exc
    except BaseException:
        stop_process(process)
        shutil.rmtree(root, ignore_errors=True)
        raise
    return MariaDBServer(root, port, process)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """One MariaDB server per test process, skipped when MariaDB is not installed."""
    try:
        server = start_with_retries(start_mariadb)
    except ServiceUnavailable as exc:
        pytest.skip(f"MariaDB not available here: {exc}")
    yield server
    server.stop()
