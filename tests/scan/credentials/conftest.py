"""Real services with planted weak and strong credentials, one set per test process.

Each fixture skips with the reason when the service cannot run here (binary missing, not
root); ``make test`` installs the packages and CI runs as root, so there they all run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.services.nginx import NginxServer, start_nginx
from tests.services.postgres import ServiceUnavailable
from tests.services.snmpd import SnmpServer, start_snmpd
from tests.services.sshd import SshServer, start_sshd
from tests.services.vsftpd import FtpServer, start_vsftpd

# A password from the built-in dictionary and one no dictionary contains.
WEAK = "admin@123"
STRONG = "Vq8#pZ2!mL7$xR4"
SNMP_STRONG = "Zt9-kW3-qP8-community"

_S = TypeVar("_S")


def _started(start: Callable[[], _S], what: str) -> _S:
    try:
        return start()
    except ServiceUnavailable as exc:
        pytest.skip(f"{what} not available here: {exc}")


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshServer]:
    """sshd with users "weak" (WEAK), "strong" (STRONG), "keyonly"/"keyonly2" (no password
    login offered) and MaxAuthTries 4."""
    server = _started(
        lambda: start_sshd(
            {"weak": WEAK, "strong": STRONG, "keyonly": WEAK, "keyonly2": WEAK},
            key_only=("keyonly", "keyonly2"),
            max_auth_tries=4,
        ),
        "sshd",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vsftpd() -> Iterator[FtpServer]:
    """vsftpd with users "weak" and "strong", anonymous login and an upload directory."""
    server = _started(
        lambda: start_vsftpd(
            {"weak": WEAK, "strong": STRONG}, anonymous=True, anonymous_upload=True
        ),
        "vsftpd",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vsftpd_closed() -> Iterator[FtpServer]:
    """vsftpd without anonymous login."""
    server = _started(lambda: start_vsftpd({"weak": WEAK}), "vsftpd")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nginx() -> Iterator[NginxServer]:
    """nginx: /protected/ for "webweak" (WEAK) and "webstrong" (STRONG); the manager paths
    for "tomcat" (tomcat, has the role), "norole" (WEAK, no role) and "mgrstrong"."""
    server = _started(
        lambda: start_nginx(
            {"webweak": WEAK, "webstrong": STRONG},
            manager_users={"tomcat": "tomcat", "norole": WEAK, "mgrstrong": STRONG},
            manager_roles=("tomcat", "mgrstrong"),
        ),
        "nginx",
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def snmpd() -> Iterator[SnmpServer]:
    """snmpd answering "public" (read-only), "private" (read-write) and SNMP_STRONG."""
    server = _started(
        lambda: start_snmpd(read_only=("public", SNMP_STRONG), read_write=("private",)),
        "snmpd",
    )
    yield server
    server.stop()
