"""The Telnet adapter against fake Telnet servers (no telnetd is easy to run here).

The fakes speak real option negotiation (IAC DO/WILL and a subnegotiation) and prompts,
and record what the client answered.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.scan.checks import ServiceTarget
from shaobing.scan.credentials._stream import ProtocolError
from shaobing.scan.credentials.base import Outcome
from shaobing.scan.credentials.runner import CredentialReport, StopReason, run_credentials
from shaobing.scan.credentials.telnet import (
    DO,
    DONT,
    IAC,
    SB,
    SE,
    WILL,
    WONT,
    Negotiator,
    Screen,
    TelnetAuthenticator,
    classify,
)
from tests.scan.credentials.context import RecordingContext
from tests.services.fake import Handler, drain, greeter

TTYPE, ECHO, SGA, NAWS = 24, 1, 3, 31
NEGOTIATION = bytes(
    [IAC, DO, TTYPE, IAC, WILL, ECHO, IAC, WILL, SGA, IAC, DO, NAWS, IAC, SB, TTYPE, 1, IAC, SE]
)


@dataclass
class FakeTelnet:
    """A login(1)-like server: ``tries`` attempts per connection."""

    accounts: dict[str, str]
    tries: int = 3
    login_prompt: bytes = b"\r\nDebian GNU/Linux 12\r\nfake login: "
    password_prompt: bytes = b"Password: "
    failure: bytes = b"\r\nLogin incorrect\r\n"
    shell: bytes = b"\r\nLast login: Mon Jan  1 00:00:00 2024\r\nuser@fake:~$ "
    password_only: bool = False
    client_bytes: bytearray = field(default_factory=bytearray)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _line(self, conn: socket.socket) -> str | None:
        line = bytearray()
        while True:
            chunk = conn.recv(1)
            if not chunk:
                return None
            with self.lock:
                self.client_bytes += chunk
            if chunk == b"\n":
                break
            line += chunk
        # Drop the client's IAC replies that arrived before the text.
        text = bytes(line)
        while text.startswith(bytes([IAC])):
            text = text[3:]
        return text.rstrip(b"\r").decode()

    def handle(self, conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(5)
        conn.sendall(NEGOTIATION)
        for _ in range(self.tries):
            user = ""
            if not self.password_only:
                conn.sendall(self.login_prompt)
                got = self._line(conn)
                if got is None:
                    return
                user = got
            conn.sendall(self.password_prompt)
            password = self._line(conn)
            if password is None:
                return
            if self.accounts.get(user) == password:
                conn.sendall(self.shell)
                drain(conn, stop)
                return
            time.sleep(0.01)
            conn.sendall(self.failure)


def _run(port: int, pairs: list[tuple[str | None, str]], **kw: object) -> CredentialReport:
    ctx = kw.pop("ctx", None) or RecordingContext(timeout=1.0)
    kw.setdefault("max_attempts_per_account", None)
    target = ServiceTarget("127.0.0.1", port, service="telnet")
    return run_credentials(TelnetAuthenticator(), target, ctx, pairs, **kw)  # type: ignore[arg-type]


WRONG = ["123456", "root", "password", "admin", "1qaz@WSX"]


def test_finds_the_weak_password_and_refuses_every_option(
    serve: Callable[[Handler], int],
) -> None:
    fake = FakeTelnet({"admin": "admin@123", "ops": "Vq8#pZ2!mL7$xR4"})
    port = serve(fake.handle)
    pairs: list[tuple[str | None, str]] = [
        (u, p) for p in [*WRONG, "admin@123"] for u in ("admin", "ops")
    ]
    ctx = RecordingContext(timeout=1.0)
    report = _run(port, pairs, ctx=ctx, parallelism=2)
    assert [(f.username, f.password) for f in report.found] == [("admin", "admin@123")]
    assert "user@fake:~$" in report.found[0].detail
    assert report.errors == 0
    # Three tries per connection: far fewer connections than attempts.
    assert len(ctx.connections) < report.attempts
    sent = bytes(fake.client_bytes)
    for refusal in ([IAC, WONT, TTYPE], [IAC, DONT, ECHO], [IAC, DONT, SGA], [IAC, WONT, NAWS]):
        assert bytes(refusal) in sent
    assert bytes([IAC, WILL]) not in sent and bytes([IAC, DO]) not in sent


def test_password_only_device(serve: Callable[[Handler], int]) -> None:
    fake = FakeTelnet(
        {"": "cisco"},
        password_only=True,
        password_prompt=b"\r\nUser Access Verification\r\n\r\nPassword: ",
        shell=b"\r\nRouter>",
    )
    port = serve(fake.handle)
    report = _run(port, [(None, "x"), (None, "cisco")], parallelism=1)
    assert [f.password for f in report.found] == ["cisco"]


def test_chinese_prompts_and_messages(serve: Callable[[Handler], int]) -> None:
    fake = FakeTelnet(
        {"admin": "Admin@123"},
        login_prompt="\r\n用户名：".encode(),
        password_prompt="密码：".encode(),
        failure="\r\n密码错误，请重试\r\n".encode(),
        shell=b"\r\n<Huawei>",
    )
    port = serve(fake.handle)
    report = _run(port, [("admin", "wrong"), ("admin", "Admin@123")], parallelism=1)
    assert [f.password for f in report.found] == ["Admin@123"]
    assert report.failures == 1


def test_unauthenticated_shell_is_no_auth(serve: Callable[[Handler], int]) -> None:
    port = serve(greeter(NEGOTIATION + b"\r\nBusyBox v1.36 built-in shell\r\n/ # "))
    report = _run(port, [("root", "x"), ("admin", "y")])
    assert report.no_auth and report.stop_reason is StopReason.NO_AUTH


def test_lockout_message_is_locked(serve: Callable[[Handler], int]) -> None:
    fake = FakeTelnet({}, failure=b"\r\nAccount locked: too many failures\r\n")
    port = serve(fake.handle)
    session = TelnetAuthenticator().open(RecordingContext(timeout=1.0), _target(port))
    try:
        assert session.login("root", "x").outcome is Outcome.LOCKED
    finally:
        session.close()


def test_output_without_prompt_or_failure_counts_as_success(
    serve: Callable[[Handler], int],
) -> None:
    fake = FakeTelnet({"admin": "pw"}, shell=b"\r\nWelcome to the management console\r\n")
    port = serve(fake.handle)
    session = TelnetAuthenticator().open(RecordingContext(timeout=0.6), _target(port))
    try:
        attempt = session.login("admin", "pw")
    finally:
        session.close()
    assert attempt.outcome is Outcome.SUCCESS
    assert attempt.detail.startswith("no failure message")


def test_echoed_password_never_reaches_the_detail(serve: Callable[[Handler], int]) -> None:
    fake = FakeTelnet({"admin": "S3cr3t!x"}, shell=b"\r\nS3cr3t!x\r\n$ ")
    port = serve(fake.handle)
    report = _run(port, [("admin", "S3cr3t!x")])
    assert report.found and "S3cr3t!x" not in report.found[0].detail


def _target(port: int) -> ServiceTarget:
    return ServiceTarget("127.0.0.1", port, service="telnet")


def _reset(conn: socket.socket, stop: threading.Event) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def _endless_subnegotiation(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(bytes([IAC, SB, TTYPE]) + b"\x00" * 10000)
    drain(conn, stop)


@pytest.mark.parametrize(
    "handler",
    [
        drain,
        _reset,
        greeter(b"SSH-2.0-OpenSSH_9.2\r\n"),
        greeter(bytes(range(256)) * 40),
        _endless_subnegotiation,
    ],
    ids=["silent", "reset", "ssh-banner", "garbage", "endless-subnegotiation"],
)
def test_broken_peers_give_errors_not_hangs(
    serve: Callable[[Handler], int], handler: Handler
) -> None:
    port = serve(handler)
    started = time.monotonic()
    report = _run(
        port,
        [("root", p) for p in WRONG],
        ctx=RecordingContext(timeout=0.3),
        parallelism=2,
        max_consecutive_errors=3,
    )
    assert time.monotonic() - started < 5
    assert report.found == [] and report.failures == 0 and report.errors > 0
    assert report.stop_reason in (StopReason.ERRORS, StopReason.UNREACHABLE)


@pytest.mark.parametrize(
    ("text", "screen"),
    [
        ("Debian GNU/Linux 12\r\nhost login: ", Screen.LOGIN),
        ("Username:", Screen.LOGIN),
        ("用户名：", Screen.LOGIN),
        ("Password: ", Screen.PASSWORD),
        ("\x1b[1;32mroot@host:~#\x1b[0m ", Screen.SHELL),
        ("<Huawei>", Screen.SHELL),
        ("[admin@host ~]$ ", Screen.SHELL),
        ("Last login: Mon from 10.0.0.1\r\nWelcome", None),
        ("", None),
    ],
)
def test_prompt_classification(text: str, screen: Screen | None) -> None:
    assert classify(text) is screen


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=1, max_value=50), max_size=10))
def test_negotiator_is_split_invariant_and_never_agrees(data: bytes, cuts: list[int]) -> None:
    whole = Negotiator()
    try:
        text, reply = whole.feed(data)
    except ProtocolError:
        return
    pieces, offset = [], 0
    for cut in cuts:
        pieces.append(data[offset : offset + cut])
        offset += cut
    pieces.append(data[offset:])
    split = Negotiator()
    outputs = [split.feed(piece) for piece in pieces]
    assert b"".join(t for t, _ in outputs) == text
    assert b"".join(r for _, r in outputs) == reply
    # Every reply is a refusal.
    assert len(reply) % 3 == 0
    assert all(reply[i] == IAC and reply[i + 1] in (WONT, DONT) for i in range(0, len(reply), 3))
