"""FTP login adapter (B3): USER/PASS on one control connection, again and again.

FTP servers accept a new ``USER`` after a failed login, so one connection serves several
attempts until the server's own limit (vsftpd ``max_login_fails``, ProFTPD
``MaxLoginAttempts``) closes it. The adapter notices the close, remembers the limit for the
run's later sessions, and reconnects transparently when the server closed between two
attempts, so the limit costs no errors. A successful login is final for its connection
(servers refuse to change user afterwards).

Anonymous access is a login as ``anonymous``; :func:`probe_anonymous_write` checks whether an
anonymous user may store files (an intrusive check: it writes a uniquely named file and
deletes it again). Data connections use passive mode and connect to the target's address,
never to the address a PASV reply names (that would allow FTP bounce and leave the scope).
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import uuid
from dataclasses import dataclass

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials._stream import ProtocolError, Stream
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator

_LINE_LIMIT = 2048
_REPLY_LIMIT = 16384
_DETAIL_LIMIT = 160
_LOCK_WORDS = re.compile(r"lock|too many|锁定", re.IGNORECASE)
_EPSV = re.compile(r"\(([!-~])\1\1(\d{1,5})\1\)")
_PASV = re.compile(r"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
ANONYMOUS_PASSWORD = "anonymous@example.com"  # noqa: S105 - RFC 1635 convention, not a secret
"""The password sent for anonymous logins (an e-mail-like string, as RFC 1635 suggests)."""


def _sendable(*values: str) -> bool:
    # CR/LF in a value would inject a second FTP command.
    return not any(ch in value for value in values for ch in "\r\n\x00")


class FtpControl:
    """An FTP control connection: the greeting, commands, numbered (multi-line) replies."""

    def __init__(self, ctx: CheckContext, target: ServiceTarget) -> None:
        self._ctx = ctx
        self._target = target
        sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
        self.stream = Stream(sock, ctx.timeout)
        try:
            code, text = self.reply()
        except ProtocolError as exc:
            self.close()
            raise ConnectionError(f"not an FTP greeting: {exc}") from exc
        except OSError:
            self.close()
            raise
        if code != 220:
            self.close()
            raise ConnectionError(f"FTP greeting {code} {text}")
        self.greeting = text

    def _line(self, deadline: float) -> str:
        raw = self.stream.read_until(b"\n", _LINE_LIMIT, deadline)
        return raw.rstrip(b"\r\n").decode("utf-8", "replace")

    def reply(self) -> tuple[int, str]:
        """The next reply's code and text (continuation lines joined)."""
        deadline = self.stream.deadline()
        first = self._line(deadline)
        if len(first) < 3 or not first[:3].isdigit() or first[3:4] not in ("", " ", "-"):
            raise ProtocolError("not an FTP reply")
        lines, size = [first], len(first)
        if first[3:4] == "-":
            while True:
                line = self._line(deadline)
                lines.append(line)
                size += len(line)
                if size > _REPLY_LIMIT:
                    raise ProtocolError("FTP reply too long")
                if line[:3] == first[:3] and line[3:4] in ("", " "):
                    break
        code = first[:3]
        # Drop the "230 " / "230-" prefixes: the code is returned on its own.
        text = " ".join(
            (line[4:] if line[:3] == code and line[3:4] in (" ", "-") else line).strip()
            for line in lines
        )
        return int(code), text[:_DETAIL_LIMIT]

    def command(self, text: str) -> tuple[int, str]:
        """Send one command line and read its reply."""
        self.stream.send(text.encode("utf-8") + b"\r\n")
        return self.reply()

    def peer_closed(self) -> bool:
        """Whether the server has closed the connection (checked without waiting)."""
        try:
            readable, _, _ = select.select([self.stream.sock], [], [], 0)
            if not readable:
                return False
            return self.stream.sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def open_data(self) -> socket.socket:
        """A passive-mode data connection to the target's own address."""
        code, text = self.command("EPSV")
        port: int | None = None
        if code == 229 and (match := _EPSV.search(text)):
            port = int(match.group(2))
        else:
            code, text = self.command("PASV")
            if code == 227 and (match := _PASV.search(text)):
                port = int(match.group(5)) * 256 + int(match.group(6))
        if port is None or not 0 < port < 65536:
            raise ProtocolError(f"no passive port: {code} {text}")
        return self._ctx.connect(self._target.address, port, timeout=self._ctx.timeout)

    def close(self) -> None:
        """Drop the connection (no QUIT round trip: the server cleans up either way)."""
        with contextlib.suppress(OSError):
            self.stream.sock.close()


class FtpSession(LoginSession):
    """Login attempts on one FTP control connection (reconnecting when the server closed)."""

    def __init__(self, auth: FtpAuthenticator, ctx: CheckContext, target: ServiceTarget) -> None:
        self._auth = auth
        self._ctx = ctx
        self._target = target
        self._control: FtpControl | None = FtpControl(ctx, target)
        self._failures = 0

    def login(self, username: str | None, password: str) -> Attempt:
        """USER then PASS; 230 is success, 530 failure, 421 or a lock message LOCKED."""
        user = username if username is not None else "anonymous"
        if not _sendable(user, password):
            return Attempt(Outcome.FAILURE, reusable=True, detail="unsendable characters")
        try:
            return self._attempt(user, password)
        except (OSError, ProtocolError) as exc:
            self.close()
            return Attempt(Outcome.ERROR, detail=f"{type(exc).__name__}: {exc}"[:_DETAIL_LIMIT])

    def _user(self, user: str) -> tuple[int, str]:
        if self._control is None:
            self._control = FtpControl(self._ctx, self._target)
            self._failures = 0
        try:
            return self._control.command(f"USER {user}")
        except (OSError, ProtocolError):
            if self._failures == 0:
                raise
        # The server closed after its per-connection limit: remember it, reconnect once.
        self._auth.learn_limit(self._failures)
        self._control.close()
        self._control = FtpControl(self._ctx, self._target)
        self._failures = 0
        return self._control.command(f"USER {user}")

    def _attempt(self, user: str, password: str) -> Attempt:
        code, text = self._user(user)
        assert self._control is not None
        if code == 230:
            return Attempt(Outcome.SUCCESS, detail=f"{code} {text} (no password asked)")
        if code in (331, 332):
            code, text = self._control.command(f"PASS {password}")
            if code in (230, 202):
                return Attempt(Outcome.SUCCESS, detail=f"{code} {text}")
        if code == 421 or (code == 530 and _LOCK_WORDS.search(text)):
            return Attempt(Outcome.LOCKED, detail=f"{code} {text}")
        if 500 <= code < 600 or code == 332:
            self._failures += 1
            return Attempt(Outcome.FAILURE, reusable=self._reusable(), detail=f"{code} {text}")
        return Attempt(Outcome.ERROR, detail=f"unexpected reply {code} {text}")

    def _reusable(self) -> bool:
        assert self._control is not None
        if self._control.peer_closed():
            self._auth.learn_limit(self._failures)
            return False
        limit = self._auth.limit
        return limit is None or self._failures < limit

    def close(self) -> None:
        """Drop the control connection."""
        if self._control is not None:
            self._control.close()
            self._control = None


@register_authenticator
class FtpAuthenticator(Authenticator):
    """FTP USER/PASS logins (``username=None`` means anonymous)."""

    protocol = "ftp"
    default_ports = frozenset({21})

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.limit: int | None = None
        """Failed logins the server allows per connection, once observed."""

    def learn_limit(self, failures: int) -> None:
        """Record that the server closed a connection after ``failures`` failed logins."""
        if failures < 1:
            return
        with self._lock:
            self.limit = failures if self.limit is None else min(self.limit, failures)

    def open(self, ctx: CheckContext, target: ServiceTarget) -> LoginSession:
        """Connect and read the 220 greeting (ConnectionError for anything else)."""
        return FtpSession(self, ctx, target)


# --------------------------------------------------------------------------- anonymous write


@dataclass(frozen=True)
class WriteProbe:
    """What the anonymous write test did.

    ``directory`` is where the test file could be stored (None: nowhere), ``file_name`` its
    name, ``removed`` whether deleting it again succeeded.
    """

    logged_in: bool
    directory: str | None = None
    file_name: str | None = None
    removed: bool = False
    detail: str = ""


WRITE_DIRECTORIES = ("/", "/upload", "/uploads", "/incoming", "/pub", "/pub/incoming")
"""Directories (relative to the anonymous root) tried by the anonymous write test."""

TEST_FILE_BODY = (
    "Shaobing authorised security test: anonymous FTP write access check.\n"
    "哨兵授权安全测试：匿名 FTP 写入检测文件，可安全删除。\n"
).encode()


def _store(control: FtpControl, name: str) -> tuple[bool, str]:
    data = control.open_data()
    try:
        code, text = control.command(f"STOR {name}")
        if code not in (125, 150):
            return False, f"{code} {text}"
        data.sendall(TEST_FILE_BODY)
    finally:
        with contextlib.suppress(OSError):
            data.shutdown(socket.SHUT_WR)
        data.close()
    code, text = control.reply()
    return code in (226, 250), f"{code} {text}"


def probe_anonymous_write(
    ctx: CheckContext,
    target: ServiceTarget,
    directories: tuple[str, ...] = WRITE_DIRECTORIES,
    *,
    username: str = "anonymous",
    password: str = ANONYMOUS_PASSWORD,
) -> WriteProbe:
    """Log in anonymously and try to store a small, uniquely named file in ``directories``
    (stopping at the first that accepts it), then delete it. Raises OSError when the service
    cannot be reached."""
    name = f"shaobing-write-test-{uuid.uuid4().hex[:12]}.txt"
    control = FtpControl(ctx, target)
    try:
        code, text = control.command(f"USER {username}")
        if code in (331, 332):
            code, text = control.command(f"PASS {password}")
        if code not in (230, 202):
            return WriteProbe(False, detail=f"{code} {text}")
        control.command("TYPE I")
        last = ""
        for directory in directories:
            path = "/" + directory.strip("/")
            if not _sendable(path) or control.command(f"CWD {path}")[0] != 250:
                continue
            stored, last = _store(control, name)
            if stored:
                code, text = control.command(f"DELE {name}")
                return WriteProbe(True, path, name, removed=code == 250, detail=f"{code} {text}")
        return WriteProbe(True, detail=last)
    except ProtocolError as exc:
        raise ConnectionError(str(exc)) from exc
    finally:
        control.close()
