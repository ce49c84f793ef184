"""SSH password login adapter (B3) on asyncssh, several passwords per connection.

An SSH server lets a client try another password on the same connection until its limit
(OpenSSH ``MaxAuthTries``) is reached, but not another user name. So a session keeps one
connection per user: asyncssh drives the handshake and asks the client object for each
password (``password_auth_requested``, or a keyboard-interactive password prompt); the
session answers those requests one ``login()`` at a time. Another request means the last
password failed and the connection takes one more (``reusable``); the connection completing
means it was accepted; a refusal or the server's "too many authentication failures"
disconnect means it failed and the connection is spent.

Each session runs its own event loop in the runner's worker thread. The TCP connection is
opened with ``ctx.connect`` (scope guard and rate limit) and handed to asyncssh as ``sock``.
Host keys are not checked (``known_hosts=None``): the check tests the server's passwords,
not its identity, and no agent, client keys or local SSH configuration are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncssh

from shaobing.scan.checks import CheckContext, ServiceTarget
from shaobing.scan.credentials.base import Attempt, Authenticator, LoginSession, Outcome
from shaobing.scan.credentials.registry import register_authenticator
from shaobing.scan.credentials.runner import LoginUnavailable

_T = TypeVar("_T")
_DETAIL_LIMIT = 160
_PEEK = 255
_PASSWORD_PROMPT_WORDS = ("password", "passcode", "密码", "口令")
_KEY_ONLY_DETAIL = "no password login offered for this user"
# Distinct users refused every password method, with none ever asked for a password,
# before the server is taken to offer no password login at all.
_USERS_BEFORE_UNAVAILABLE = 2


class _Client(asyncssh.SSHClient):
    """asyncssh's view of the session: every password comes from the session's feed."""

    def __init__(self, session: SshSession) -> None:
        self._session = session

    async def password_auth_requested(self) -> str | None:
        """Hand over the next password of the running login() (or None: give up)."""
        return await self._session.next_password()

    def kbdint_auth_requested(self) -> str | None:
        """Accept keyboard-interactive; only single password prompts are answered."""
        return ""

    async def kbdint_challenge_received(
        self, name: str, instructions: str, lang: str, prompts: Any
    ) -> list[str] | None:
        """Answer a lone password prompt with the next password; decline anything else."""
        if not prompts:
            return []
        prompt = str(prompts[0][0]).lower()
        if len(prompts) == 1 and any(word in prompt for word in _PASSWORD_PROMPT_WORDS):
            password = await self._session.next_password()
            return None if password is None else [password]
        return None

    def password_change_requested(self, prompt: str, lang: str) -> Any:
        """The password was right but has expired: note it and decline to change it."""
        self._session.expired = True
        return NotImplemented


def _check_banner(sock: socket.socket) -> None:
    """Fail fast on peers that are silent or clearly not SSH servers.

    The banner is only peeked at (asyncssh reads it again). RFC 4253 allows text lines
    before the version line, so only a first complete line without any ``SSH-`` in sight
    is taken as another protocol.
    """
    data = sock.recv(_PEEK, socket.MSG_PEEK)
    if not data:
        raise ConnectionError("closed before the SSH version line")
    if b"SSH-" in data:
        return
    if b"\n" in data or len(data) >= _PEEK:
        raise ConnectionError(f"not an SSH server: {data[:40]!r}")


class SshSession(LoginSession):
    """Password attempts for one user at a time over one SSH connection."""

    def __init__(self, auth: SshAuthenticator, ctx: CheckContext, target: ServiceTarget) -> None:
        self._auth = auth
        self._ctx = ctx
        self._target = target
        # Connect first: a failure then leaves no event loop behind to close.
        self._sock: socket.socket | None = self._connect()
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[asyncssh.SSHClientConnection] | None = None
        self._user: str | None = None
        self._asked = asyncio.Event()
        self._pending: asyncio.Future[str | None] | None = None
        self.expired = False

    def _connect(self) -> socket.socket:
        sock = self._ctx.connect(self._target.address, self._target.port, timeout=self._ctx.timeout)
        try:
            _check_banner(sock)
        except OSError:
            sock.close()
            raise
        return sock

    # -- called inside the loop by _Client ---------------------------------------------

    async def next_password(self) -> str | None:
        """Wait for login() to supply the next password."""
        future: asyncio.Future[str | None] = self._loop.create_future()
        self._pending = future
        self._asked.set()
        return await future

    # -- driving the loop ------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return self._loop.run_until_complete(coro)

    async def _asked_or_done(self, timeout: float) -> bool:
        """True when asyncssh asks for a password, False when the connection task ended."""
        assert self._task is not None
        waiter = asyncio.ensure_future(self._asked.wait())
        done, _ = await asyncio.wait(
            {waiter, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
        if self._asked.is_set():
            self._asked.clear()
            return True
        if not done:
            raise TimeoutError("no answer from the SSH server")
        return False

    def _start(self, user: str) -> None:
        self._drop()
        sock = self._sock if self._sock is not None else self._connect()
        self._sock = None
        self._user = user
        self.expired = False
        self._task = self._loop.create_task(self._handshake(sock, user))

    async def _handshake(self, sock: socket.socket, user: str) -> asyncssh.SSHClientConnection:
        timeout = max(self._ctx.timeout, 1.0)
        return await asyncssh.connect(
            self._target.address,
            self._target.port,
            sock=sock,
            username=user,
            password=None,
            client_factory=lambda: _Client(self),
            known_hosts=None,
            client_keys=[],
            agent_path=None,
            agent_forwarding=False,
            config=[],
            preferred_auth=("password", "keyboard-interactive"),
            connect_timeout=timeout * 2,
            login_timeout=timeout * 4,
            keepalive_interval=0,
        )

    def login(self, username: str | None, password: str) -> Attempt:
        """Try ``password`` for ``username`` (a new connection when the user changes)."""
        user = username or "root"
        try:
            return self._attempt(user, password)
        except LoginUnavailable:
            self._drop()
            raise
        except (OSError, asyncssh.Error) as exc:
            self._drop()
            return Attempt(Outcome.ERROR, detail=f"{type(exc).__name__}: {exc}"[:_DETAIL_LIMIT])

    def _attempt(self, user: str, password: str) -> Attempt:
        if self._auth.password_refused(user):
            return Attempt(Outcome.FAILURE, reusable=True, detail=_KEY_ONLY_DETAIL)
        if self._task is None or self._task.done() or user != self._user:
            self._start(user)
            # The first request waits for the key exchange as well.
            if not self._run(self._asked_or_done(self._ctx.timeout * 2)):
                return self._ended(before_password=True)
        self._auth.password_asked()
        future, self._pending = self._pending, None
        if future is None or future.done():
            raise ConnectionError("SSH session lost its password request")
        future.set_result(password)
        if self._run(self._asked_or_done(self._ctx.timeout)):
            return Attempt(Outcome.FAILURE, reusable=True)
        return self._ended(before_password=False)

    def _ended(self, *, before_password: bool) -> Attempt:
        """Classify how the connection task finished."""
        assert self._task is not None
        task, self._task = self._task, None
        exc = task.exception()
        if exc is None:
            self._close_connection(task.result())
            if before_password:
                return Attempt(Outcome.NO_AUTH, detail="login accepted without a password")
            return Attempt(Outcome.SUCCESS, detail=self._banner(task))
        if self.expired:
            return Attempt(Outcome.SUCCESS, detail="password accepted but expired")
        if isinstance(exc, asyncssh.PermissionDenied):
            if before_password:
                # Refused before any password was asked: no password method for this user
                # (e.g. "Match User root / AuthenticationMethods publickey").
                self._auth.refuse_passwords(str(self._user))
                return Attempt(Outcome.FAILURE, detail=_KEY_ONLY_DETAIL)
            return Attempt(Outcome.FAILURE, detail=str(exc)[:_DETAIL_LIMIT])
        if isinstance(exc, asyncssh.DisconnectError) and not before_password:
            # OpenSSH disconnects on the failure that exhausts MaxAuthTries.
            return Attempt(Outcome.FAILURE, detail=str(exc)[:_DETAIL_LIMIT])
        raise ConnectionError(f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _banner(task: asyncio.Task[asyncssh.SSHClientConnection]) -> str:
        version = task.result().get_extra_info("server_version")
        return f"accepted by {version}"[:_DETAIL_LIMIT] if version else "accepted"

    def _drop(self) -> None:
        """Abandon the current connection (pending request answered with None)."""
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(None)
        self._pending = None
        self._asked.clear()
        task, self._task = self._task, None
        if task is None:
            return
        if task.done():
            if not task.cancelled() and task.exception() is None:
                self._close_connection(task.result())
        else:
            task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            self._run(asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 1.0))

    def _close_connection(self, conn: asyncssh.SSHClientConnection) -> None:
        conn.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            self._run(asyncio.wait_for(conn.wait_closed(), 1.0))

    def close(self) -> None:
        """Close the connection and the event loop."""
        if self._loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self._drop()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with contextlib.suppress(Exception):
            self._run(self._loop.shutdown_asyncgens())
        self._loop.close()


@register_authenticator
class SshAuthenticator(Authenticator):
    """SSH password (and keyboard-interactive password) logins."""

    protocol = "ssh"
    default_ports = frozenset({22})

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._no_password: set[str] = set()
        self._password_seen = False

    def refuse_passwords(self, user: str) -> None:
        """Record that ``user`` is offered no password method; when several users are and
        none was ever asked for a password, the server has no password login at all."""
        with self._lock:
            self._no_password.add(user)
            if not self._password_seen and len(self._no_password) >= _USERS_BEFORE_UNAVAILABLE:
                raise LoginUnavailable("SSH server offers no password login")

    def password_asked(self) -> None:
        """Record that the server asked some user for a password."""
        self._password_seen = True

    def password_refused(self, user: str) -> bool:
        """Whether ``user`` is known to be offered no password method."""
        with self._lock:
            return user in self._no_password

    def open(self, ctx: CheckContext, target: ServiceTarget) -> LoginSession:
        """Open the TCP connection through ``ctx``; the SSH handshake starts at login()."""
        return SshSession(self, ctx, target)
