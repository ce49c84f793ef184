"""Adapters reach the network only through the check context: a refusing scope means
not a single packet, proved by listeners that see nothing."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from shaobing.core.scope import ScopeRefused
from shaobing.scan.checks import ServiceTarget
from shaobing.scan.credentials.base import Authenticator
from shaobing.scan.credentials.ftp import FtpAuthenticator, probe_anonymous_write
from shaobing.scan.credentials.http_basic import HttpBasicAuthenticator, TomcatManagerAuthenticator
from shaobing.scan.credentials.runner import StopReason, run_credentials
from shaobing.scan.credentials.snmp import SnmpAuthenticator
from shaobing.scan.credentials.ssh import SshAuthenticator
from shaobing.scan.credentials.telnet import TelnetAuthenticator
from shaobing.scan.plugins.weak_credentials import FtpAnonymousWrite
from tests.scan.credentials.context import RecordingContext


@pytest.fixture
def tcp_listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _no_connection(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def _refusing() -> RecordingContext:
    # Only another loopback address is in scope: 127.0.0.1 must not be contacted.
    return RecordingContext(allowed=frozenset({"127.0.0.2"}), timeout=0.5)


ADAPTERS: list[Callable[[], Authenticator]] = [
    SshAuthenticator,
    FtpAuthenticator,
    TelnetAuthenticator,
    HttpBasicAuthenticator,
    TomcatManagerAuthenticator,
]


@pytest.mark.parametrize("make", ADAPTERS, ids=lambda m: m.__name__)
def test_tcp_adapters_send_nothing_out_of_scope(
    make: Callable[[], Authenticator], tcp_listener: socket.socket
) -> None:
    port = tcp_listener.getsockname()[1]
    ctx = _refusing()
    target = ServiceTarget("127.0.0.1", port)
    report = run_credentials(make(), target, ctx, [("root", "toor"), ("admin", "admin")])
    assert report.stop_reason is StopReason.SCOPE and report.attempts == 0
    assert ctx.refused and ctx.connections == []
    assert _no_connection(tcp_listener)


def test_snmp_sends_no_datagram_out_of_scope() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent:
        agent.bind(("127.0.0.1", 0))
        agent.setblocking(False)
        ctx = _refusing()
        target = ServiceTarget("127.0.0.1", agent.getsockname()[1], protocol="udp")
        report = run_credentials(SnmpAuthenticator(), target, ctx, [(None, "public")])
        assert report.stop_reason is StopReason.SCOPE and ctx.connections == []
        with pytest.raises(BlockingIOError):
            agent.recvfrom(100)


def test_anonymous_write_probe_is_refused_before_connecting(tcp_listener: socket.socket) -> None:
    target = ServiceTarget("127.0.0.1", tcp_listener.getsockname()[1], service="ftp")
    with pytest.raises(ScopeRefused):
        probe_anonymous_write(_refusing(), target)
    with pytest.raises(ScopeRefused):
        list(FtpAnonymousWrite().run(target, _refusing()))
    assert _no_connection(tcp_listener)


def test_scope_refusal_is_not_an_os_error() -> None:
    # The runner tells "unreachable" (OSError) from "refused by scope" by type.
    assert not issubclass(ScopeRefused, OSError)
