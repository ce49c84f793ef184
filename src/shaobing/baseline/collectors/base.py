"""The interface every host collector implements, and what it returns.

A collector answers questions about one host: file contents and metadata, directory
listings, command output and the process list. Probes only ever ask these questions, so
the same rule runs on the local machine, on an offline filesystem tree (``--root``) and
over SSH. Offline trees cannot run commands or show running processes: those calls raise
:class:`CollectorUnavailable` with the reason, and the probe reports 不适用/错误.
"""

from __future__ import annotations

import fnmatch
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

# Files larger than this are not read whole: configuration files are small, and a rule that
# points at a multi-gigabyte log must not exhaust memory (organisation-defined default).
MAX_FILE_BYTES = 8 * 1024 * 1024
# Glob expansion stops after this many paths: a rule's pattern is a handful of drop-in files.
MAX_GLOB_RESULTS = 4096
GLOB_CHARS = frozenset("*?[")


class CollectorUnavailable(Exception):
    """The collector cannot answer this kind of question (e.g. commands on an offline tree)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FileStat:
    """Metadata of a path, following symbolic links like ``stat(1)``."""

    path: str
    kind: str  # file | dir | link | other
    mode: int  # permission bits including setuid/setgid/sticky (st_mode & 0o7777)
    uid: int
    gid: int
    size: int


@dataclass(frozen=True)
class CommandResult:
    """Exit code and output of a command run on the target."""

    rc: int
    stdout: str
    stderr: str


def has_glob(path: str) -> bool:
    """Whether a path contains shell wildcard characters."""
    return not GLOB_CHARS.isdisjoint(path)


class HostCollector(ABC):
    """Reads one host. Subclasses implement the primitives; helpers build on them."""

    #: local | root | ssh
    kind: str = "local"
    #: whether the host is running (commands, processes, /proc and listening ports are real)
    live: bool = True
    #: remote logins: the account used, and whether the login used a key (guard rails ask)
    login_user: str | None = None
    key_login: bool = False

    def __init__(self) -> None:
        self._text_cache: dict[str, str | None] = {}
        self._names: dict[str, dict[int, str]] | None = None

    @property
    @abstractmethod
    def label(self) -> str:
        """How the target is named in results (``local``, ``root:/srv/img``, ``ssh://u@h:22``)."""

    @abstractmethod
    async def read_file(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
        """The file's bytes (at most ``limit``), or None when it does not exist or is unreadable."""

    @abstractmethod
    async def stat(self, path: str) -> FileStat | None:
        """The path's metadata, or None when it does not exist."""

    @abstractmethod
    async def list_dir(self, path: str) -> list[str] | None:
        """Names in a directory (sorted), or None when it is not a readable directory."""

    async def connect(self) -> None:
        """Open the connection to the host (remote collectors); a no-op for local ones."""
        return

    async def run(self, command: str, timeout: float = 30.0) -> CommandResult:
        """Run a shell command on the host; offline trees raise CollectorUnavailable."""
        raise CollectorUnavailable("offline")

    async def processes(self) -> list[str]:
        """Command lines of running processes (from /proc on Linux)."""
        if not self.live:
            raise CollectorUnavailable("offline")
        names = await self.list_dir("/proc") or []
        lines: list[str] = []
        for name in names:
            if name.isdigit():
                raw = await self.read_file(f"/proc/{name}/cmdline", limit=65536)
                if raw:
                    lines.append(raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace"))
        return lines

    async def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        """Replace a file's content atomically (hardening); offline trees write into the tree."""
        raise CollectorUnavailable("read-only")

    async def chmod_chown(
        self, path: str, mode: int | None, uid: int | None, gid: int | None
    ) -> None:
        """Change permission bits and/or owner of a path (hardening)."""
        raise CollectorUnavailable("read-only")

    async def remove_file(self, path: str) -> None:
        """Delete a file the hardening created (rollback)."""
        raise CollectorUnavailable("read-only")

    def forget(self, path: str) -> None:
        """Drop cached content of a path after it changed."""
        self._text_cache.pop(path, None)
        self._names = None

    async def prefetch(self, paths: Iterable[str]) -> None:
        """Hint that these files will be read soon (remote collectors batch them)."""
        return

    async def close(self) -> None:
        """Release connections."""
        return

    async def text(self, path: str) -> str | None:
        """A file's content as text (UTF-8 with replacement), cached for the collector's life."""
        if path not in self._text_cache:
            raw = await self.read_file(path)
            self._text_cache[path] = None if raw is None else raw.decode("utf-8", "replace")
        return self._text_cache[path]

    async def glob(self, pattern: str) -> list[str]:
        """Existing paths matching a shell pattern (``*``, ``?``, ``[...]`` in any component)."""
        if not has_glob(pattern):
            return [pattern] if await self.stat(pattern) is not None else []
        parts = [p for p in pattern.split("/") if p]
        found = ["/"]
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            nxt: list[str] = []
            for base in found:
                if has_glob(part):
                    for name in await self.list_dir(base) or []:
                        if fnmatch.fnmatchcase(name, part) and not (
                            name.startswith(".") and not part.startswith(".")
                        ):
                            nxt.append(posixpath.join(base, name))
                else:
                    candidate = posixpath.join(base, part)
                    if last:
                        if await self.stat(candidate) is not None:
                            nxt.append(candidate)
                    else:
                        nxt.append(candidate)
                if len(nxt) > MAX_GLOB_RESULTS:
                    break
            found = nxt
        return sorted(found)[:MAX_GLOB_RESULTS]

    async def expand(self, paths: Iterable[str]) -> list[str]:
        """Globs expanded and plain paths kept (whether or not they exist), without duplicates."""
        out: list[str] = []
        for path in paths:
            for item in await self.glob(path) if has_glob(path) else [path]:
                if item not in out:
                    out.append(item)
        return out

    async def id_names(self, database: str) -> dict[int, str]:
        """uid→user or gid→group names from the host's own /etc/passwd or /etc/group."""
        if self._names is None:
            self._names = {}
        if database not in self._names:
            table: dict[int, str] = {}
            text = await self.text(f"/etc/{database}") or ""
            for line in text.splitlines():
                fields = line.split(":")
                if len(fields) >= 3 and fields[2].isdigit():
                    table.setdefault(int(fields[2]), fields[0])
            self._names[database] = table
        return self._names[database]

    async def owner_names(self, stat: FileStat) -> tuple[str, str]:
        """The owner's user and group names (numeric ids when the host has no name for them)."""
        users = await self.id_names("passwd")
        groups = await self.id_names("group")
        # Id 0 is root by definition of the kernel, also in a tree without /etc/passwd
        # (a configuration folder copied for an offline check).
        user = users.get(stat.uid, "root" if stat.uid == 0 else str(stat.uid))
        group = groups.get(stat.gid, "root" if stat.gid == 0 else str(stat.gid))
        return user, group
