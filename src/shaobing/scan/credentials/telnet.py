"""Telnet login adapter (B3): prompt-driven, with its own minimal option negotiation.

Every option the server proposes is refused (``DO x`` → ``WONT x``, ``WILL x`` →
``DONT x``, once per option, so a confused server cannot start a negotiation loop);
subnegotiations are skipped. What remains is text, read until it ends in a prompt:

* ``login:`` / ``Username:`` → send the user name; ``Password:`` → send the password;
* a shell prompt (a last line ending in ``$ # > % ]``) after the password, with no failure
  message, is a success; the login prompt again or a failure message ("Login incorrect",
  "Authentication failed", 密码错误 ...) is a failure;
* when the server prints something and then nothing recognisable until the timeout, the
  absence of any failure message counts as success (devices with unusual prompts);
* a shell prompt before any credentials were asked for is unauthenticated access (NO_AUTH).

Servers that ask only for a password (many network devices) get the password alone.
"""

from __future__ import annotations

import contextlib
import re
import time
from enum import Enum

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials._stream import ProtocolError
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
_SCREEN_LIMIT = 64 * 1024
_SUBNEG_LIMIT = 4096
_DETAIL_LIMIT = 160
# After a shell-like prompt, wait this long for more output before believing it.
SETTLE = 0.3
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]")
_LOGIN = re.compile(r"(?:login|username|user name|user|用户名|帐号|账号)\s*[:：]$", re.IGNORECASE)
_PASSWORD = re.compile(r"(?:password|passwd|passcode|密码|口令)\s*[:：]$", re.IGNORECASE)
_SHELL = re.compile(r"[$#>%\]]$")
_FAILED = re.compile(
    r"incorrect|fail|invalid|denied|wrong|bad password|not allowed|错误|失败|无效|拒绝",
    re.IGNORECASE,
)
_LOCKED = re.compile(r"locked|too many|锁定|次数过多", re.IGNORECASE)


class Screen(Enum):
    """What the server's output ended with."""

    LOGIN = "login"
    PASSWORD = "password"  # noqa: S105 - a prompt kind, not a secret
    SHELL = "shell"
    CLOSED = "closed"
    SILENT = "silent"
    """The deadline passed without a recognisable ending."""


class Negotiator:
    """Removes Telnet commands from received bytes and produces the refusals to send."""

    def __init__(self) -> None:
        self._state = "data"
        self._verb = 0
        self._subneg = 0
        self._answered: set[tuple[int, int]] = set()

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """(text bytes, reply bytes) for a chunk; partial commands carry over."""
        text = bytearray()
        reply = bytearray()
        for byte in data:
            state = self._state
            if state == "data":
                if byte == IAC:
                    self._state = "iac"
                elif byte:  # NUL pads a bare CR
                    text.append(byte)
            elif state == "iac":
                if byte == IAC:
                    text.append(IAC)
                    self._state = "data"
                elif byte in (WILL, WONT, DO, DONT):
                    self._verb, self._state = byte, "option"
                elif byte == SB:
                    self._subneg, self._state = 0, "sb"
                else:
                    self._state = "data"  # NOP, GA, stray SE, ...
            elif state == "option":
                self._state = "data"
                if self._verb in (DO, WILL) and (self._verb, byte) not in self._answered:
                    self._answered.add((self._verb, byte))
                    reply += bytes([IAC, WONT if self._verb == DO else DONT, byte])
            elif state == "sb":
                self._subneg += 1
                if self._subneg > _SUBNEG_LIMIT:
                    raise ProtocolError("endless Telnet subnegotiation")
                if byte == IAC:
                    self._state = "sb_iac"
            else:  # sb_iac
                self._state = "data" if byte == SE else "sb"
        return bytes(text), bytes(reply)


def _last_line(text: str) -> str:
    lines = _ANSI.sub("", text).replace("\r", "\n").rstrip().split("\n")
    return lines[-1].strip() if lines else ""


def classify(text: str) -> Screen | None:
    """The prompt the text ends with, None when it ends with none."""
    last = _last_line(text)
    if not last:
        return None
    if _PASSWORD.search(last):
        return Screen.PASSWORD
    if _LOGIN.search(last):
        return Screen.LOGIN
    if _SHELL.search(last) and len(last) < 200:
        return Screen.SHELL
    return None


class TelnetSession(LoginSession):
    """Logins at the prompts of one Telnet connection."""

    def __init__(self, ctx: CheckContext, target: ServiceTarget) -> None:
        self._timeout = ctx.timeout
        self._sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
        self._negotiator = Negotiator()
        try:
            screen, text = self._read()
        except ProtocolError as exc:
            self.close()
            raise ConnectionError(f"Telnet negotiation: {exc}") from exc
        except BaseException:
            self.close()
            raise
        if screen in (Screen.CLOSED, Screen.SILENT):
            self.close()
            raise ConnectionError(f"no login prompt: {_excerpt(text)!r}")
        self._screen: Screen = screen

    def _read(self) -> tuple[Screen, str]:
        """Output until it ends in a prompt, the server closes, or the deadline passes."""
        deadline = time.monotonic() + self._timeout
        received = bytearray()
        settled_at: float | None = None
        while True:
            text = received.decode("utf-8", "replace")
            screen = classify(text)
            if screen in (Screen.LOGIN, Screen.PASSWORD):
                return screen, text
            now = time.monotonic()
            # A ">" or "#" can end a line of a banner: believe a shell prompt once output
            # has paused for SETTLE seconds.
            if screen is Screen.SHELL:
                settled_at = settled_at or now + SETTLE
                if now >= settled_at:
                    return Screen.SHELL, text
            else:
                settled_at = None
            if now >= deadline or len(received) > _SCREEN_LIMIT:
                return Screen.SILENT, text
            self._sock.settimeout(min(deadline, settled_at or deadline) - now)
            try:
                chunk = self._sock.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                return Screen.CLOSED, text
            data, reply = self._negotiator.feed(chunk)
            if reply:
                self._sock.settimeout(self._timeout)
                self._sock.sendall(reply)
            if data:
                received += data
                settled_at = None

    def _send(self, line: str) -> None:
        self._sock.settimeout(self._timeout)
        self._sock.sendall(line.encode("utf-8").replace(b"\xff", b"\xff\xff") + b"\r\n")

    def login(self, username: str | None, password: str) -> Attempt:
        """Answer the login and password prompts and judge the result."""
        if self._screen is Screen.SHELL:
            return Attempt(Outcome.NO_AUTH, detail="shell prompt without login")
        if any(ch in value for value in (username or "", password) for ch in "\r\n"):
            return Attempt(Outcome.FAILURE, reusable=True, detail="unsendable characters")
        try:
            return self._attempt(username or "", password)
        except (OSError, ProtocolError) as exc:
            return Attempt(Outcome.ERROR, detail=f"{type(exc).__name__}: {exc}")

    def _attempt(self, username: str, password: str) -> Attempt:
        if self._screen is Screen.LOGIN:
            self._send(username)
            screen, text = self._read()
            if screen is not Screen.PASSWORD:
                return self._judge(screen, text, False)
        elif self._screen is not Screen.PASSWORD:
            return Attempt(Outcome.ERROR, detail=f"at {self._screen.value}")
        self._send(password)
        screen, text = self._read()
        # A broken server might echo the password: keep it out of the detail.
        return self._judge(screen, text.replace(password, "***") if password else text, True)

    def _judge(self, screen: Screen, text: str, asked_password: bool) -> Attempt:
        self._screen = screen
        detail = _excerpt(text)
        if _LOCKED.search(text):
            return Attempt(Outcome.LOCKED, reusable=screen is Screen.LOGIN, detail=detail)
        failed = _FAILED.search(text) is not None
        if screen in (Screen.LOGIN, Screen.PASSWORD):
            return Attempt(Outcome.FAILURE, reusable=True, detail=detail)
        if screen is Screen.SHELL and not failed:
            note = "" if asked_password else " (no password asked)"
            return Attempt(Outcome.SUCCESS, detail=f"{detail}{note}"[:_DETAIL_LIMIT])
        if screen is Screen.CLOSED or failed:
            return Attempt(Outcome.FAILURE, detail=detail)
        if asked_password and text.strip():
            return Attempt(Outcome.SUCCESS, detail=f"no failure message: {detail}"[:_DETAIL_LIMIT])
        return Attempt(Outcome.ERROR, detail=f"no answer: {detail}"[:_DETAIL_LIMIT])

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(OSError):
            self._sock.close()


def _excerpt(text: str) -> str:
    return " ".join(_ANSI.sub("", text).split())[-_DETAIL_LIMIT:]


@register_authenticator
class TelnetAuthenticator(Authenticator):
    """Telnet logins at login/password prompts."""

    protocol = "telnet"
    default_ports = frozenset({23})

    def open(self, ctx: CheckContext, target: ServiceTarget) -> LoginSession:
        """Connect and read up to the first prompt (ConnectionError when there is none)."""
        return TelnetSession(ctx, target)
