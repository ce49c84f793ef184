"""A one-round-trip picture of a remote host's configuration folders (SSH collection).

Reading a profile file by file costs a few hundred SSH round trips per host; instead the
collector asks once for the metadata of everything under the configuration roots
(``find -printf``) plus a compressed tar of the small regular files, and answers reads,
stats and listings below those roots from memory. Symbolic links are resolved inside the
picture; a link that leads outside the roots is reported so the caller asks the host.

The archive comes from the target, which may be hostile: it is parsed in memory only (never
extracted), its size is capped, and names are normalised before use.
"""

from __future__ import annotations

import base64
import binascii
import io
import posixpath
import tarfile
from dataclasses import dataclass

# Configuration roots taken in the snapshot (what baseline rules read on Linux).
ROOTS = (
    "/etc",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/var/lib/dpkg/status",
    "/boot/grub",
    "/boot/grub2",
    "/boot/efi/EFI",
    "/run/systemd/system",
    "/usr/lib/systemd/journald.conf.d",
    "/run/systemd/journald.conf.d",
    "/usr/lib/systemd/timesyncd.conf.d",
    "/run/systemd/timesyncd.conf.d",
    "/usr/lib/systemd/coredump.conf.d",
)
# Bulky files no rule reads: CA bundles, Java trust stores, SSH moduli (read on demand).
_PRUNE = (
    "\\( -path /etc/ssl/certs -o -path '/etc/java-*' -o -path /etc/ssh/moduli"
    " -o -path /etc/alternatives \\) -prune -o"
)
# The same paths as prefixes: their contents are read from the host when asked for.
PRUNED = ("/etc/ssl/certs", "/etc/java-", "/etc/ssh/moduli", "/etc/alternatives")
# Folders whose listing and metadata are taken, not their contents (logs are large).
META_ROOTS = ("/var/log", "/boot/loader/entries")
# Depth of the metadata-only listing.
META_DEPTH = 3
# Regular files larger than this are left out of the archive (read on demand instead).
MAX_MEMBER_BYTES = 1024 * 1024
# The whole answer (base64 of the compressed archive plus metadata) may not exceed this.
MAX_SNAPSHOT_BYTES = 96 * 1024 * 1024
MAX_HOPS = 40
MARK = "__SHAOBING_SNAPSHOT__"


@dataclass(frozen=True)
class Entry:
    """One path's metadata from ``find -printf``."""

    kind: str  # f, d, l, other
    mode: int
    uid: int
    gid: int
    size: int
    link: str


def command(roots: tuple[str, ...] = ROOTS, meta_roots: tuple[str, ...] = META_ROOTS) -> str:
    """The shell command producing the snapshot on the target (no file is written there)."""
    fmt = "%y\\t%m\\t%U\\t%G\\t%s\\t%l\\t%p\\n"
    return (
        f'r=\'\'; for p in {" ".join(roots)}; do [ -e "$p" ] && r="$r $p"; done;'
        f' m=\'\'; for p in {" ".join(meta_roots)}; do [ -e "$p" ] && m="$m $p"; done;'
        f" [ -n \"$r\" ] && find $r -xdev -printf '{fmt}' 2>/dev/null;"
        f" [ -n \"$m\" ] && find $m -maxdepth {META_DEPTH} -xdev -printf '{fmt}' 2>/dev/null;"
        f" printf '{MARK}\\n';"
        f' [ -n "$r" ] && find $r -xdev {_PRUNE} -type f -size -{MAX_MEMBER_BYTES // 1024}k -print0'
        " 2>/dev/null | tar --null --no-recursion -T - -czf - 2>/dev/null | base64 | tr -d '\\n'"
    )


class Snapshot:
    """Files, metadata and listings below the snapshot roots."""

    def __init__(
        self, roots: tuple[str, ...] = ROOTS, meta_roots: tuple[str, ...] = META_ROOTS
    ) -> None:
        self.content_roots = roots
        self.meta_roots = meta_roots
        self.roots = roots + meta_roots
        # prefix tuples for str.startswith: resolution asks this for every path component
        self._all = tuple(r.rstrip("/") + "/" for r in self.roots)
        self._exact = frozenset(self.roots)
        self._meta = tuple(r.rstrip("/") + "/" for r in meta_roots)
        self._meta_exact = frozenset(meta_roots)
        self.entries: dict[str, Entry] = {}
        self.data: dict[str, bytes] = {}
        self.children: dict[str, list[str]] = {}

    @classmethod
    def parse(cls, output: str, roots: tuple[str, ...] = ROOTS) -> Snapshot:
        """Build the snapshot from the command's output; malformed parts are skipped."""
        snap = cls(roots)
        if len(output) > MAX_SNAPSHOT_BYTES:
            raise ValueError("snapshot too large")
        meta, _, archive = output.partition(f"{MARK}\n")
        for line in meta.splitlines():
            fields = line.split("\t")
            if len(fields) != 7:
                continue
            kind, mode, uid, gid, size, link, path = fields
            try:
                entry = Entry(kind, int(mode, 8), int(uid), int(gid), int(size), link)
            except ValueError:
                continue
            path = posixpath.normpath("/" + path.lstrip("/"))
            snap.entries[path] = entry
            parent = posixpath.dirname(path)
            if parent != path:
                snap.children.setdefault(parent, []).append(posixpath.basename(path))
        archive = archive.strip()
        if archive:
            try:
                raw = base64.b64decode(archive, validate=False)
                with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
                    total = 0
                    for member in tar:
                        if not member.isfile() or member.size > MAX_MEMBER_BYTES:
                            continue
                        total += member.size
                        if total > MAX_SNAPSHOT_BYTES:
                            break
                        handle = tar.extractfile(member)
                        if handle is not None:
                            path = posixpath.normpath("/" + member.name.lstrip("/"))
                            snap.data[path] = handle.read(MAX_MEMBER_BYTES)
            except (binascii.Error, tarfile.TarError, EOFError, OSError, ValueError):
                snap.data.clear()
        for names in snap.children.values():
            names.sort()
        return snap

    def covers(self, path: str) -> bool:
        """Whether ``path`` lies below one of the roots."""
        return path in self._exact or path.startswith(self._all)

    def has_content(self, path: str) -> bool:
        """Whether the archive holds the contents of files at ``path`` (not metadata only)."""
        if path in self._meta_exact or path.startswith(self._meta) or path.startswith(PRUNED):
            return False
        return self.covers(path)

    def resolve(self, path: str) -> tuple[str, bool]:
        """(resolved path, inside): links followed while inside the roots.

        ``inside`` is False when resolution leaves the roots (or loops): the caller then asks
        the host about the returned path.
        """
        parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
        done: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            current = "/" + "/".join([*done, part])
            entry = self.entries.get(current)
            if entry is not None and entry.kind == "l":
                hops += 1
                if hops > MAX_HOPS:
                    return current, False
                target = entry.link
                if target.startswith("/"):
                    done = []
                parts = [p for p in target.split("/") if p] + parts
                continue
            done.append(part)
        resolved = "/" + "/".join(done)
        return resolved, self.covers(resolved)
