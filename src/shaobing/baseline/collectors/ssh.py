"""SSH collector (C2): reads a remote host over one asyncssh connection, optionally via sudo.

Everything is done with ordinary POSIX tools on the far side (``cat``, ``stat``, ``ls``,
``base64``) so no agent is installed. Probes' file lists are prefetched in one command per
batch, which keeps a whole profile to a handful of round trips; that is what makes dozens
of hosts in parallel cheap. With ``sudo`` every command runs through ``sudo -S`` with the
password fed on standard input (or ``sudo -n`` for password-less sudo).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import asyncssh

from shaobing.baseline.collectors.base import (
    MAX_FILE_BYTES,
    CollectorUnavailable,
    CommandResult,
    FileStat,
    HostCollector,
)
from shaobing.baseline.collectors.snapshot import MAX_MEMBER_BYTES as SNAPSHOT_MEMBER_BYTES
from shaobing.baseline.collectors.snapshot import Entry as SnapshotEntry
from shaobing.baseline.collectors.snapshot import Snapshot
from shaobing.baseline.collectors.snapshot import command as snapshot_command

# Files per prefetch command: keeps each command line well below ARG_MAX.
PREFETCH_BATCH = 200
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)
# Base64 characters per staging command when writing a file.
WRITE_CHUNK = 64 * 1024
MARK = "__SHAOBING_"
# Commands in flight on one connection: OpenSSH refuses channels beyond MaxSessions (default
# 10), and a profile's rules run concurrently, so the collector keeps below that limit.
MAX_CHANNELS = 8
# Session opens refused by the server (sessions of killed commands not yet freed) are
# retried this many times with a growing pause.
OPEN_RETRIES = 6
DEFAULT_PORT = 22


@dataclass
class SshTarget:
    """Where and how to log in; parsed from ``ssh://user[:password]@host[:port]``."""

    host: str
    user: str
    port: int = DEFAULT_PORT
    password: str | None = None
    key_files: list[str] = field(default_factory=list)
    sudo: bool = False
    sudo_password: str | None = None
    known_hosts: str | None = None
    connect_timeout: float = 15.0

    @classmethod
    def parse(cls, url: str) -> SshTarget:
        """Parse an ``ssh://`` URL; raises ValueError naming the problem."""
        parts = urlsplit(url)
        if parts.scheme != "ssh" or not parts.hostname or not parts.username:
            raise ValueError(url)
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise ValueError(url) from exc
        return cls(
            host=parts.hostname,
            user=unquote(parts.username),
            port=port,
            password=unquote(parts.password) if parts.password else None,
        )

    @property
    def label(self) -> str:
        """``ssh://user@host:port`` without the password."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ssh://{self.user}@{host}:{self.port}"


def _kind(raw_mode: int) -> str:
    fmt = raw_mode & 0o170000
    return {0o100000: "file", 0o040000: "dir", 0o120000: "link"}.get(fmt, "other")


def _parse_stat(path: str, line: str) -> FileStat | None:
    # stat -L -c '%f %u %g %s': raw mode in hex, uid, gid, size
    fields = line.split()
    if len(fields) != 4:
        return None
    try:
        raw = int(fields[0], 16)
        return FileStat(
            path=path,
            kind=_kind(raw),
            mode=raw & 0o7777,
            uid=int(fields[1]),
            gid=int(fields[2]),
            size=int(fields[3]),
        )
    except ValueError:
        return None


class SshCollector(HostCollector):
    """One remote host over SSH."""

    kind = "ssh"
    live = True

    def __init__(self, target: SshTarget, *, sock: object | None = None) -> None:
        super().__init__()
        self.target = target
        self.login_user = target.user
        self._sock = sock
        self._conn: asyncssh.SSHClientConnection | None = None
        self._files: dict[str, bytes | None] = {}
        self._stats: dict[str, FileStat | None] = {}
        self._lock = asyncio.Lock()
        self._channels = asyncio.Semaphore(MAX_CHANNELS)
        #: whether the login used a key (hardening guard rails ask)
        self.key_login = False
        #: configuration folders fetched in one round trip (None until the first prefetch)
        self.snapshot: Snapshot | None = None
        self.use_snapshot = True

    @property
    def label(self) -> str:
        """``ssh://user@host:port``."""
        return self.target.label

    async def connect(self) -> None:
        """Open the connection (password or key); raises CollectorUnavailable with the reason."""
        if self._conn is not None:
            return
        options: dict[str, object] = {
            "username": self.target.user,
            "port": self.target.port,
            "known_hosts": self.target.known_hosts,
            "connect_timeout": self.target.connect_timeout,
            "login_timeout": self.target.connect_timeout,
            # AES-GCM runs in OpenSSL; asyncssh's chacha20-poly1305 costs Python time per
            # packet, which adds up over dozens of hosts (the others stay as fallbacks)
            "encryption_algs": PREFERRED_CIPHERS,
        }
        if self.target.password is not None:
            options["password"] = self.target.password
        if self.target.key_files:
            options["client_keys"] = self.target.key_files
        elif self.target.password is not None:
            options["client_keys"] = None
            options["agent_path"] = None
        if self._sock is not None:
            options["sock"] = self._sock
        try:
            self._conn = await asyncssh.connect(self.target.host, **options)
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise CollectorUnavailable(f"{self.label}: {exc}") from exc
        self.key_login = bool(self.target.key_files) or self.target.password is None

    def _wrap(self, command: str) -> tuple[str, str | None]:
        if not self.target.sudo:
            return command, None
        quoted = shlex.quote(command)
        secret = self.target.sudo_password or self.target.password
        if secret is None:
            return f"sudo -n sh -c {quoted}", None
        return f"sudo -S -p '' sh -c {quoted}", secret + "\n"

    async def run(self, command: str, timeout: float = 30.0) -> CommandResult:
        """Run a command on the remote host (through sudo when configured)."""
        await self.connect()
        assert self._conn is not None
        wrapped, feed = self._wrap(command)
        try:
            async with self._channels:
                process = await self._open_process(wrapped, feed)
                try:
                    result = await asyncio.wait_for(process.wait(check=False), timeout)
                except TimeoutError as exc:
                    # sshd keeps a session (and its MaxSessions slot) until the command
                    # exits: signal it, then close the channel
                    with contextlib.suppress(OSError, asyncssh.Error):
                        process.kill()
                    process.close()
                    raise CollectorUnavailable(f"timeout {timeout:g}s: {command}") from exc
        except (OSError, asyncssh.Error) as exc:
            raise CollectorUnavailable(f"{self.label}: {exc}") from exc
        out = result.stdout if isinstance(result.stdout, str) else ""
        err = result.stderr if isinstance(result.stderr, str) else ""
        # returncode is negative when the command died of a signal, None when it never ended
        rc = result.returncode if result.returncode is not None else -1
        return CommandResult(rc=rc, stdout=out, stderr=err)

    async def _open_process(self, wrapped: str, feed: str | None) -> asyncssh.SSHClientProcess[str]:
        """Open a session; a refusal while the server still frees earlier ones is retried."""
        assert self._conn is not None
        for attempt in range(OPEN_RETRIES):
            try:
                return await self._conn.create_process(
                    wrapped,
                    input=feed,
                    env={"LC_ALL": "C", "LANG": "C"},
                    encoding="utf-8",
                    errors="replace",
                )
            except asyncssh.ChannelOpenError:
                if attempt == OPEN_RETRIES - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    async def take_snapshot(self) -> None:
        """Fetch the configuration roots in one command (once per connection)."""
        if self.snapshot is not None or not self.use_snapshot:
            return
        async with self._lock:
            if self.snapshot is not None:
                return
            result = await self.run(snapshot_command(), timeout=300.0)
            try:
                self.snapshot = Snapshot.parse(result.stdout)
            except ValueError:
                self.use_snapshot = False

    def _invalidate(self) -> None:
        """Forget the snapshot after a change on the host (the next prefetch takes a new one)."""
        self.snapshot = None

    def _from_snapshot(self, path: str) -> tuple[str, SnapshotEntry | None] | None:
        """(resolved path, entry) when the snapshot answers for ``path``; None to ask the host."""
        snap = self.snapshot
        if snap is None or not snap.covers(path):
            return None
        resolved, inside = snap.resolve(path)
        if not inside:
            return None
        return resolved, snap.entries.get(resolved)

    async def prefetch(self, paths: Iterable[str]) -> None:
        """Snapshot the configuration roots, then read other files in one command per batch."""
        await self.take_snapshot()
        wanted = [
            p
            for p in dict.fromkeys(paths)
            if p not in self._files and self._from_snapshot(p) is None
        ]
        for start in range(0, len(wanted), PREFETCH_BATCH):
            await self._fetch(wanted[start : start + PREFETCH_BATCH])

    async def _fetch(self, paths: list[str]) -> None:
        script = []
        for path in paths:
            q = shlex.quote(path)
            script.append(
                f"printf '\\n{MARK}S %s\\n' \"$(stat -L -c '%f %u %g %s' -- {q} 2>/dev/null)\";"
                f"if [ -f {q} ] && [ -r {q} ]; then printf '{MARK}D\\n';"
                f" head -c {MAX_FILE_BYTES} -- {q} | base64 | tr -d '\\n'; fi"
            )
        # one shell line per file: "fi" must end a statement before the next "printf"
        result = await self.run("\n".join(script), timeout=120.0)
        chunks = result.stdout.split(f"\n{MARK}S ")[1:]
        for path, chunk in zip(paths, chunks, strict=False):
            head, _, rest = chunk.partition("\n")
            self._stats[path] = _parse_stat(path, head.strip())
            if rest.startswith(f"{MARK}D"):
                data = rest[len(MARK) + 1 :].strip()
                try:
                    self._files[path] = base64.b64decode(data)
                except ValueError:
                    self._files[path] = None
            else:
                self._files[path] = None
        for path in paths:
            self._files.setdefault(path, None)
            self._stats.setdefault(path, None)

    async def read_file(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
        """The remote file's bytes, or None."""
        known = self._from_snapshot(path)
        if known is not None:
            resolved, entry = known
            if entry is None or entry.kind != "f":
                return None
            assert self.snapshot is not None
            data = self.snapshot.data.get(resolved)
            small = entry.size <= SNAPSHOT_MEMBER_BYTES
            if data is not None or (small and self.snapshot.has_content(resolved)):
                # absent from the archive although small: unreadable for this user
                return None if data is None else data[:limit]
            path = resolved
        if path not in self._files:
            async with self._lock:
                if path not in self._files:
                    await self._fetch([path])
        data = self._files.get(path)
        return None if data is None else data[:limit]

    async def stat(self, path: str) -> FileStat | None:
        """The remote path's metadata (``stat -L``)."""
        known = self._from_snapshot(path)
        if known is not None:
            _, entry = known
            if entry is None:
                return None
            kind = {"f": "file", "d": "dir", "l": "link"}.get(entry.kind, "other")
            return FileStat(path, kind, entry.mode & 0o7777, entry.uid, entry.gid, entry.size)
        if path not in self._stats:
            async with self._lock:
                if path not in self._stats:
                    await self._fetch([path])
        return self._stats.get(path)

    async def list_dir(self, path: str) -> list[str] | None:
        """Names in a remote directory."""
        known = self._from_snapshot(path)
        if known is not None:
            resolved, entry = known
            if entry is None or entry.kind != "d":
                return None
            assert self.snapshot is not None
            return list(self.snapshot.children.get(resolved, []))
        q = shlex.quote(path)
        result = await self.run(f"[ -d {q} ] && ls -A1 -- {q}")
        if result.rc != 0:
            return None
        return sorted(line for line in result.stdout.splitlines() if line)

    async def processes(self) -> list[str]:
        """Command lines of the remote host's processes."""
        result = await self.run("ps -eo args=")
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    async def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        """Write via a temporary file next to the target and ``mv`` (keeps mode and owner)."""
        q = shlex.quote(path)
        tmp = shlex.quote(f"{path}.shaobing-tmp")
        payload = base64.b64encode(data).decode()
        staged = shlex.quote(f"{path}.shaobing-b64")
        # one argument may not exceed MAX_ARG_STRLEN (128 KiB): stage the content in chunks
        for start in range(0, max(len(payload), 1), WRITE_CHUNK):
            chunk = shlex.quote(payload[start : start + WRITE_CHUNK])
            redirect = ">" if start == 0 else ">>"
            staged_result = await self.run(
                f'mkdir -p -- "$(dirname -- {q})" && printf %s {chunk} {redirect} {staged}'
            )
            if staged_result.rc != 0:
                await self.run(f"rm -f -- {staged}")
                raise CollectorUnavailable(f"{path}: {staged_result.stderr.strip()}")
        chmod = f"chmod {mode:o} {tmp};" if mode is not None else ""
        # any failing step (e.g. the owner cannot be kept) leaves no staging files behind
        script = (
            f"base64 -d {staged} > {tmp} && rm -f {staged}"
            f" && if [ -e {q} ]; then chmod --reference={q} {tmp} && chown --reference={q} {tmp};"
            f" else {chmod} :; fi && mv -f -- {tmp} {q}"
            f" || {{ rc=$?; rm -f -- {tmp} {staged}; exit $rc; }}"
        )
        result = await self.run(script, timeout=60.0)
        if result.rc != 0:
            raise CollectorUnavailable(f"{path}: {result.stderr.strip() or result.rc}")
        self._files.pop(path, None)
        self._stats.pop(path, None)
        self.forget(path)
        self._invalidate()

    async def chmod_chown(
        self, path: str, mode: int | None, uid: int | None, gid: int | None
    ) -> None:
        """chmod/chown on the remote host."""
        q = shlex.quote(path)
        parts = []
        if mode is not None:
            parts.append(f"chmod {mode:o} -- {q}")
        if uid is not None or gid is not None:
            owner = "" if uid is None else str(uid)
            group = "" if gid is None else f":{gid}"
            parts.append(f"chown {owner}{group} -- {q}")
        if not parts:
            return
        result = await self.run(" && ".join(parts))
        if result.rc != 0:
            raise CollectorUnavailable(f"{path}: {result.stderr.strip() or result.rc}")
        self._stats.pop(path, None)
        self._invalidate()

    async def remove_file(self, path: str) -> None:
        """Delete a remote file."""
        result = await self.run(f"rm -f -- {shlex.quote(path)}")
        if result.rc != 0:
            raise CollectorUnavailable(f"{path}: {result.stderr.strip() or result.rc}")
        self._files.pop(path, None)
        self._stats.pop(path, None)
        self.forget(path)
        self._invalidate()

    async def close(self) -> None:
        """Close the SSH connection."""
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
            self._conn = None
