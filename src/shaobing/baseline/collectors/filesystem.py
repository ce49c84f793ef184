"""Collectors over a filesystem: the local host, or an offline tree given with ``--root``.

An offline tree (an unpacked image, a backup, a test fixture) is read as if it were ``/``:
absolute symbolic links inside it are resolved against the tree, never against the machine
running the check, so ``etc/shadow -> /etc/shadow`` in an image cannot leak this host's file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import signal
import stat as stat_module
from pathlib import Path
from typing import BinaryIO

from shaobing.baseline.collectors.base import (
    MAX_FILE_BYTES,
    CollectorUnavailable,
    CommandResult,
    FileStat,
    HostCollector,
)

# Symbolic link hops before a path is treated as missing (Linux's own limit is 40).
MAX_LINK_HOPS = 40
# Command output kept per stream (organisation-defined default).
MAX_OUTPUT_BYTES = 4 * 1024 * 1024


# /proc files refuse reads with very large buffers (ENOMEM): read in modest chunks.
READ_CHUNK = 64 * 1024


def _read_capped(handle: BinaryIO, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = handle.read(min(READ_CHUNK, limit - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _kind(mode: int) -> str:
    if stat_module.S_ISREG(mode):
        return "file"
    if stat_module.S_ISDIR(mode):
        return "dir"
    if stat_module.S_ISLNK(mode):
        return "link"
    return "other"


class TreeCollector(HostCollector):
    """Reads files below ``root`` as if ``root`` were ``/``; cannot run commands."""

    kind = "root"
    live = False

    def __init__(self, root: Path | str) -> None:
        super().__init__()
        self.root = Path(root).resolve()

    @property
    def label(self) -> str:
        """``root:/path/of/tree``."""
        return f"root:{self.root}"

    def _host_path(self, path: str) -> Path | None:
        """The real path on this machine for ``path`` inside the tree, links resolved inside it."""
        # no lexical normpath: like the kernel, ".." after a linked directory climbs from
        # the link's target, so ".." is applied while walking
        parts = [p for p in path.split("/") if p]
        resolved: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = self.root.joinpath(*resolved, part)
            try:
                if candidate.is_symlink():
                    hops += 1
                    if hops > MAX_LINK_HOPS:
                        return None
                    target = os.readlink(candidate)
                    if target.startswith("/"):
                        resolved = []
                    parts = [p for p in target.split("/") if p] + parts
                    continue
            except OSError:
                return None
            resolved.append(part)
        return self.root.joinpath(*resolved)

    async def read_file(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
        """The file's bytes inside the tree, or None."""
        real = self._host_path(path)
        if real is None:
            return None
        try:
            if not real.is_file():
                return None
            with real.open("rb") as handle:
                return _read_capped(handle, limit)
        except OSError:
            return None

    async def stat(self, path: str) -> FileStat | None:
        """Metadata of the path inside the tree (links followed inside the tree)."""
        real = self._host_path(path)
        if real is None:
            return None
        try:
            info = real.stat()
        except OSError:
            return None
        return FileStat(
            path=path,
            kind=_kind(info.st_mode),
            mode=stat_module.S_IMODE(info.st_mode),
            uid=info.st_uid,
            gid=info.st_gid,
            size=info.st_size,
        )

    async def list_dir(self, path: str) -> list[str] | None:
        """Sorted names in a directory of the tree."""
        real = self._host_path(path)
        if real is None:
            return None
        try:
            return sorted(os.listdir(real))
        except OSError:
            return None

    def _writable_path(self, path: str) -> Path:
        real = self._host_path(path)
        if real is None:
            raise CollectorUnavailable(f"cannot resolve {path}")
        return real

    async def write_file(self, path: str, data: bytes, mode: int | None = None) -> None:
        """Write through a temporary file and rename, keeping the old mode and owner."""
        real = self._writable_path(path)
        temp = real.with_name(f".{real.name}.shaobing-tmp")
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
            old = real.stat() if real.exists() else None
            with temp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if old is not None:
                os.chmod(temp, stat_module.S_IMODE(old.st_mode))
                with contextlib.suppress(PermissionError):
                    os.chown(temp, old.st_uid, old.st_gid)
            elif mode is not None:
                os.chmod(temp, mode)
            os.replace(temp, real)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise CollectorUnavailable(f"{path}: {exc.strerror or exc}") from exc
        self.forget(path)

    async def chmod_chown(
        self, path: str, mode: int | None, uid: int | None, gid: int | None
    ) -> None:
        """chmod/chown inside the tree."""
        real = self._writable_path(path)
        try:
            if mode is not None:
                os.chmod(real, mode)
            if uid is not None or gid is not None:
                os.chown(real, -1 if uid is None else uid, -1 if gid is None else gid)
        except OSError as exc:
            raise CollectorUnavailable(f"{path}: {exc.strerror or exc}") from exc

    async def remove_file(self, path: str) -> None:
        """Delete a file inside the tree."""
        real = self._writable_path(path)
        try:
            real.unlink(missing_ok=True)
        except OSError as exc:
            raise CollectorUnavailable(f"{path}: {exc.strerror or exc}") from exc
        self.forget(path)


class LocalCollector(TreeCollector):
    """The machine the check runs on: files, commands and processes are all real."""

    kind = "local"
    live = True

    def __init__(self) -> None:
        super().__init__("/")

    @property
    def label(self) -> str:
        """``local``."""
        return "local"

    def _host_path(self, path: str) -> Path | None:
        # normpath keeps a leading "//" (POSIX allows it a meaning): never produce one
        return Path(posixpath.normpath("/" + path.lstrip("/")))

    def _writable_path(self, path: str) -> Path:
        # write through links (Debian's /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf):
        # renaming a new file over the link itself would replace the link with a copy
        return Path(os.path.realpath(posixpath.normpath("/" + path.lstrip("/"))))

    async def run(self, command: str, timeout: float = 30.0) -> CommandResult:
        """Run ``command`` with /bin/sh; output capped, killed after ``timeout`` seconds."""
        try:
            proc = await asyncio.create_subprocess_exec(
                "/bin/sh",
                "-c",
                command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "LC_ALL": "C", "LANG": "C"},
                # its own process group, so a timeout ends the command's children too (they
                # would otherwise keep the pipes open and the wait would last as long as they do)
                start_new_session=True,
            )
        except OSError as exc:
            raise CollectorUnavailable(str(exc)) from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise CollectorUnavailable(f"timeout {timeout:g}s: {command}") from exc
        return CommandResult(
            rc=proc.returncode if proc.returncode is not None else -1,
            stdout=out[:MAX_OUTPUT_BYTES].decode("utf-8", "replace"),
            stderr=err[:MAX_OUTPUT_BYTES].decode("utf-8", "replace"),
        )
