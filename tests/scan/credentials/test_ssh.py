"""The SSH adapter against a real OpenSSH server and against broken peers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest

from shaobing.scan.checks import ServiceTarget
from shaobing.scan.credentials.runner import CredentialReport, StopReason, run_credentials
from shaobing.scan.credentials.ssh import SshAuthenticator
from tests.scan.credentials.conftest import WEAK, _started
from tests.scan.credentials.context import RecordingContext
from tests.services.fake import Handler, drain, greeter
from tests.services.sshd import SshServer, start_sshd

WRONG = ["123456", "root", "password", "qwe123!@#", "1qaz@WSX", "P@ssw0rd", "Aa123456"]


def _run(port: int, pairs: list[tuple[str | None, str]], **kw: object) -> CredentialReport:
    ctx = kw.pop("ctx", None) or RecordingContext(timeout=2.0)
    kw.setdefault("max_attempts_per_account", None)
    target = ServiceTarget("127.0.0.1", port, service="ssh")
    return run_credentials(SshAuthenticator(), target, ctx, pairs, **kw)  # type: ignore[arg-type]


def test_finds_the_weak_password_and_not_the_strong_one(sshd: SshServer) -> None:
    weak, strong = sshd.users["weak"].name, sshd.users["strong"].name
    pairs: list[tuple[str | None, str]] = [(u, p) for p in [*WRONG, WEAK] for u in (weak, strong)]
    ctx = RecordingContext(timeout=2.0)
    report = _run(sshd.port, pairs, ctx=ctx, parallelism=2)
    assert [(f.username, f.password) for f in report.found] == [(weak, WEAK)]
    assert "OpenSSH" in report.found[0].detail
    assert report.errors == 0 and report.stop_reason is StopReason.FINISHED
    assert report.attempts == 2 * len(WRONG) + 2
    # MaxAuthTries 4: several passwords per connection, and the disconnect after the
    # fourth failure counts as a failure, not an error.
    assert report.connections < report.attempts / 2
    assert all(address == "127.0.0.1" for address, _, _ in ctx.connections)


def test_username_change_opens_a_new_connection(sshd: SshServer) -> None:
    weak, strong = sshd.users["weak"].name, sshd.users["strong"].name
    pairs: list[tuple[str | None, str]] = [(strong, "x1"), (weak, "x2"), (weak, WEAK)]
    ctx = RecordingContext(timeout=2.0)
    report = _run(sshd.port, pairs, ctx=ctx, parallelism=1)
    assert [f.username for f in report.found] == [weak]
    assert report.errors == 0
    assert len(ctx.connections) == 2


def test_users_without_password_login_are_skipped_after_one_try(sshd: SshServer) -> None:
    weak, key_only = sshd.users["weak"].name, sshd.users["keyonly"].name
    pairs: list[tuple[str | None, str]] = [(key_only, p) for p in [*WRONG, WEAK]]
    pairs.append((weak, WEAK))
    ctx = RecordingContext(timeout=2.0)
    report = _run(sshd.port, pairs, ctx=ctx, parallelism=1)
    assert [f.username for f in report.found] == [weak]
    assert report.stop_reason is StopReason.FINISHED
    # One connection learnt that keyonly has no password method; one for weak.
    assert len(ctx.connections) == 2


def test_server_without_any_password_login_is_unavailable(sshd: SshServer) -> None:
    users = [sshd.users["keyonly"].name, sshd.users["keyonly2"].name]
    pairs: list[tuple[str | None, str]] = [(u, p) for u in users for p in WRONG]
    ctx = RecordingContext(timeout=2.0)
    report = _run(sshd.port, pairs, ctx=ctx, parallelism=1)
    assert report.stop_reason is StopReason.UNAVAILABLE
    assert report.found == [] and report.untried > 0
    # One connection per user, the second user's refusal ends the run.
    assert len(ctx.connections) == 2


def test_keyboard_interactive_password_prompt() -> None:
    server = _started(
        lambda: start_sshd({"weak": WEAK}, use_pam=True, password_auth=False, kbd_interactive=True),
        "sshd",
    )
    try:
        user = server.users["weak"].name
        report = _run(server.port, [(user, WEAK)])
        assert [f.username for f in report.found] == [user]
    finally:
        server.stop()


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    drain(conn, stop)


def _reset(conn: socket.socket, stop: threading.Event) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def _banner_then_garbage(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + bytes(range(256)) * 8)
    drain(conn, stop)


@pytest.mark.parametrize(
    "handler",
    [
        _silent,
        _reset,
        greeter(b"220 ProFTPD Server ready.\r\n"),
        greeter(b"\x00\xff\x13garbage\r\n" * 50),
        _banner_then_garbage,
    ],
    ids=["silent", "reset", "ftp-banner", "garbage", "banner-then-garbage"],
)
def test_broken_peers_give_errors_not_hangs(
    serve: Callable[[Handler], int], handler: Handler
) -> None:
    port = serve(handler)
    started = time.monotonic()
    ctx = RecordingContext(timeout=0.3)
    report = _run(
        port, [("root", p) for p in WRONG], ctx=ctx, parallelism=2, max_consecutive_errors=3
    )
    assert time.monotonic() - started < 5
    assert report.found == []
    assert report.failures == 0 and report.errors > 0
    assert report.stop_reason in (StopReason.ERRORS, StopReason.UNREACHABLE)
