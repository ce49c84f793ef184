"""The FTP adapter and the anonymous checks against vsftpd and against broken peers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest

from shaobing.scan.checks import ServiceTarget
from shaobing.scan.credentials.base import Outcome
from shaobing.scan.credentials.ftp import FtpAuthenticator, probe_anonymous_write
from shaobing.scan.credentials.runner import CredentialReport, StopReason, run_credentials
from tests.scan.credentials.conftest import WEAK
from tests.scan.credentials.context import RecordingContext
from tests.services.fake import Handler, drain, greeter
from tests.services.vsftpd import FtpServer

WRONG = ["123456", "admin", "password", "qwe123!@#", "1qaz@WSX", "P@ssw0rd", "Aa123456"]


def _target(port: int) -> ServiceTarget:
    return ServiceTarget("127.0.0.1", port, service="ftp")


def _run(port: int, pairs: list[tuple[str | None, str]], **kw: object) -> CredentialReport:
    ctx = kw.pop("ctx", None) or RecordingContext(timeout=2.0)
    kw.setdefault("max_attempts_per_account", None)
    return run_credentials(FtpAuthenticator(), _target(port), ctx, pairs, **kw)  # type: ignore[arg-type]


def test_finds_the_weak_password_and_not_the_strong_one(vsftpd: FtpServer) -> None:
    weak, strong = vsftpd.users["weak"].name, vsftpd.users["strong"].name
    pairs: list[tuple[str | None, str]] = [(u, p) for p in [*WRONG, WEAK] for u in (weak, strong)]
    ctx = RecordingContext(timeout=2.0)
    report = _run(vsftpd.port, pairs, ctx=ctx, parallelism=2)
    assert [(f.username, f.password) for f in report.found] == [(weak, WEAK)]
    assert report.found[0].detail.startswith("230")
    # vsftpd closes after max_login_fails=3: the adapter learns it, so no errors.
    assert report.errors == 0 and report.failures == 2 * len(WRONG) + 1
    assert report.connections < report.attempts


def test_user_rejected_before_the_password_is_a_failure(vsftpd: FtpServer) -> None:
    # vsftpd asks unknown users for a password too and then answers 530.
    report = _run(vsftpd.port, [("no-such-user-x", "pw"), ("root", "pw")], parallelism=1)
    assert report.found == [] and report.failures == 2 and report.errors == 0


def test_anonymous_login_is_detected(vsftpd: FtpServer, vsftpd_closed: FtpServer) -> None:
    pairs: list[tuple[str | None, str]] = [(None, "guest@example.com")]
    assert [f.username for f in _run(vsftpd.port, pairs).found] == [None]
    assert _run(vsftpd_closed.port, pairs).found == []


def test_anonymous_write_stores_a_file_and_reports_it(vsftpd: FtpServer) -> None:
    assert vsftpd.upload is not None
    ctx = RecordingContext(timeout=2.0)
    probe = probe_anonymous_write(ctx, _target(vsftpd.port))
    assert probe.logged_in and probe.directory == "/upload"
    assert probe.file_name is not None and probe.file_name.startswith("shaobing-write-test-")
    stored = vsftpd.upload / probe.file_name
    # vsftpd lets anonymous users upload but not delete (anon_other_write_enable=NO).
    assert probe.removed is False and stored.exists()
    assert "哨兵" in stored.read_text(encoding="utf-8")
    stored.unlink()
    # The data connection went to the target's own address.
    assert {address for address, _, _ in ctx.connections} == {"127.0.0.1"}


def test_anonymous_write_refused_without_upload(vsftpd_closed: FtpServer) -> None:
    probe = probe_anonymous_write(RecordingContext(timeout=2.0), _target(vsftpd_closed.port))
    assert probe.logged_in is False and probe.directory is None


class FakeFtp:
    """A scripted FTP server whose PASV reply names a foreign address (FTP bounce)."""

    def __init__(self) -> None:
        self.data = socket.socket()
        self.data.bind(("127.0.0.1", 0))
        self.data.listen(1)
        self.data.settimeout(3)
        self.received = b""
        self.commands: list[str] = []

    def handle(self, conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"220-Welcome\r\n220 fake ftp\r\n")
        reader = conn.makefile("rb")
        while not stop.is_set():
            line = reader.readline()
            if not line:
                return
            command = line.decode().strip()
            self.commands.append(command)
            verb = command.split(" ")[0]
            port = self.data.getsockname()[1]
            # The foreign address 10.1.2.3 must be ignored: only the port is used.
            pasv = f"227 Entering Passive Mode (10,1,2,3,{port // 256},{port % 256})\r\n"
            replies = {
                "USER": b"331 Password please\r\n",
                "PASS": b"230 Logged in\r\n",
                "TYPE": b"200 Binary\r\n",
                "CWD": b"250 OK\r\n",
                "EPSV": b"500 Unknown command\r\n",
                "PASV": pasv.encode(),
                "DELE": b"250 Deleted\r\n",
            }
            if verb == "STOR":
                conn.sendall(b"150 Go ahead\r\n")
                data_conn, _ = self.data.accept()
                with data_conn:
                    data_conn.settimeout(3)
                    while chunk := data_conn.recv(4096):
                        self.received += chunk
                conn.sendall(b"226 Done\r\n")
                continue
            reply = replies.get(verb, b"502 Not implemented\r\n")
            conn.sendall(reply)


def test_passive_address_in_the_reply_is_never_contacted(
    serve: Callable[[Handler], int],
) -> None:
    fake = FakeFtp()
    port = serve(fake.handle)
    ctx = RecordingContext(timeout=2.0)
    probe = probe_anonymous_write(ctx, _target(port), ("/",))
    fake.data.close()
    assert probe.directory == "/" and probe.removed
    assert fake.received.startswith(b"Shaobing authorised security test")
    assert [c.split(" ")[0] for c in fake.commands][-3:] == ["PASV", "STOR", "DELE"]
    assert {address for address, _, _ in ctx.connections} == {"127.0.0.1"}


def _reset(conn: socket.socket, stop: threading.Event) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def _greet_then_reset_on_user(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"220 ready\r\n")
    conn.recv(100)
    _reset(conn, stop)


@pytest.mark.parametrize(
    "handler",
    [
        drain,
        _reset,
        greeter(b"SSH-2.0-OpenSSH_9.2\r\n"),
        greeter(b"\xff\xfe\x00garbage" * 100),
        greeter(b"421 Too many connections\r\n"),
        _greet_then_reset_on_user,
        greeter(b"220" + b"x" * 5000),
    ],
    ids=["silent", "reset", "ssh-banner", "garbage", "421", "reset-on-user", "endless-line"],
)
def test_broken_peers_give_errors_not_hangs(
    serve: Callable[[Handler], int], handler: Handler
) -> None:
    port = serve(handler)
    started = time.monotonic()
    report = _run(
        port,
        [("u", p) for p in WRONG],
        ctx=RecordingContext(timeout=0.3),
        parallelism=2,
        max_consecutive_errors=3,
    )
    assert time.monotonic() - started < 5
    assert report.found == [] and report.failures == 0 and report.errors > 0
    assert report.stop_reason in (StopReason.ERRORS, StopReason.UNREACHABLE)


def test_lockout_reply_backs_off(serve: Callable[[Handler], int]) -> None:
    def locked(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"220 ready\r\n")
        reader = conn.makefile("rb")
        while line := reader.readline():
            if line.startswith(b"USER"):
                conn.sendall(b"331 Password\r\n")
            else:
                conn.sendall(b"530 Account locked: too many failures\r\n")

    port = serve(locked)
    session = FtpAuthenticator().open(RecordingContext(timeout=1.0), _target(port))
    try:
        assert session.login("admin", "x").outcome is Outcome.LOCKED
    finally:
        session.close()
