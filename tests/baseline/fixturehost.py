"""Builds a host from a fixture description: a real file tree plus scripted live answers.

Files, permissions, owners and symbolic links are real (a temporary directory read through
the same TreeCollector that ``--root`` uses). For live-host rules the fixture scripts the
answers a running system would give: command output, /proc files (written into the tree),
database rows and HTTP responses.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from shaobing.baseline.collectors.base import CollectorUnavailable, CommandResult
from shaobing.baseline.collectors.database import DatabaseCollector
from shaobing.baseline.collectors.filesystem import TreeCollector
from shaobing.baseline.probes import Context

OS_RELEASE = {
    "debian12": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n',
    "ubuntu2204": 'NAME="Ubuntu"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nID=ubuntu\n'
    'ID_LIKE=debian\nVERSION_ID="22.04"\n',
    "rhel9": 'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\n'
    'ID_LIKE="fedora"\nVERSION_ID="9.4"\n',
    "rocky9": 'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\n'
    'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
    "kylin10": 'NAME="Kylin Linux Advanced Server"\nVERSION="V10 (Lance)"\nID="kylin"\n'
    'VERSION_ID="V10"\nPRETTY_NAME="Kylin Linux Advanced Server V10 (Lance)"\n',
    "uos20": 'PRETTY_NAME="UnionTech OS Server 20"\nNAME="UnionTech OS Server 20"\n'
    'VERSION_ID="20"\nVERSION="20"\nID=uos\n',
}
# rpm-based fixtures get an rpm database folder so the family is detected as on real hosts
RPM_OSES = {"rhel9", "rocky9", "kylin10"}
DEFAULT_IDS = {
    "root": 0,
    "daemon": 1,
    "bin": 2,
    "sys": 3,
    "adm": 4,
    "tty": 5,
    "disk": 6,
    "lp": 7,
    "mail": 8,
    "wheel": 10,
    "shadow": 42,
    "utmp": 43,
    "nogroup": 65534,
    "nobody": 65534,
    "syslog": 110,
    "mysql": 105,
    "postgres": 106,
    "redis": 107,
    "www-data": 33,
    "tomcat": 997,
    "nginx": 996,
    "apache": 48,
    "ssh_keys": 998,
    "sshd": 74,
}


def _ids(root: Path, database: str) -> dict[str, int]:
    table = dict(DEFAULT_IDS)
    path = root / "etc" / database
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[2].isdigit():
                table[fields[0]] = int(fields[2])
    return table


class FixtureHost(TreeCollector):
    """A fixture tree that may pretend to be a running host."""

    def __init__(
        self, root: Path, *, live: bool, commands: dict[str, Any], processes: list[str]
    ) -> None:
        super().__init__(root)
        self.live = live
        self.kind = "fixture"
        self._commands = commands
        self._processes = processes

    async def run(self, command: str, timeout: float = 30.0) -> CommandResult:
        """The scripted answer, or 'command not found' for anything unscripted."""
        if not self.live:
            raise CollectorUnavailable("offline")
        answer = self._commands.get(command)
        if answer is None:
            normal = " ".join(command.split())
            answer = next(
                (v for k, v in self._commands.items() if " ".join(k.split()) == normal), None
            )
        if answer is None:
            if command.startswith("systemctl is-enabled"):
                return CommandResult(rc=0, stdout="", stderr="")
            return CommandResult(rc=127, stdout="", stderr=f"unscripted: {command}")
        if isinstance(answer, str):
            return CommandResult(rc=0, stdout=answer, stderr="")
        return CommandResult(
            rc=int(answer.get("rc", 0)),
            stdout=str(answer.get("stdout", "")),
            stderr=str(answer.get("stderr", "")),
        )

    async def processes(self) -> list[str]:
        """The scripted process list."""
        if not self.live:
            raise CollectorUnavailable("offline")
        return list(self._processes)


class FixtureDatabase(DatabaseCollector):
    """Scripted query results (whitespace-insensitive match of the statement)."""

    def __init__(self, engine: str, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.engine = engine
        self.host, self.port, self.user, self.password, self.database = (
            "fixture",
            0,
            None,
            None,
            None,
        )
        self.params = {}
        self._rows = {" ".join(k.split()).lower(): v for k, v in rows.items()}

    async def query(self, statement: str) -> list[dict[str, Any]]:
        """Rows scripted for the statement; unscripted statements are an error."""
        key = " ".join(statement.split()).lower()
        if key not in self._rows:
            raise CollectorUnavailable(f"no fixture rows for: {statement}")
        return [dict(r) for r in self._rows[key] or []]


def build_tree(root: Path, case: dict[str, Any]) -> None:
    """Write the fixture's files, links and modes under ``root``."""
    os_name = case.get("os", "debian12")
    if os_name and os_name != "none":
        target = root / "etc" / "os-release"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(OS_RELEASE[os_name], encoding="utf-8")
        if os_name in RPM_OSES:
            (root / "var" / "lib" / "rpm").mkdir(parents=True, exist_ok=True)
    for path, content in (case.get("files") or {}).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.write_text(str(content), encoding="utf-8")
    for path, link in (case.get("links") or {}).items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(link)
    users = _ids(root, "passwd")
    groups = _ids(root, "group")
    for path, spec in (case.get("modes") or {}).items():
        target = root / path.lstrip("/")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("", encoding="utf-8")
        parts = str(spec).split()
        os.chmod(target, int(parts[0], 8))
        if len(parts) >= 2:
            uid = users.get(parts[1], int(parts[1]) if parts[1].isdigit() else 0)
            gid = (
                groups.get(parts[2], int(parts[2]) if parts[2].isdigit() else 0)
                if len(parts) >= 3
                else -1
            )
            os.chown(target, uid, gid, follow_symlinks=False)


def fixture_context(root: Path, case: dict[str, Any], engine: str | None) -> Context:
    """A probe context over a built fixture tree."""
    build_tree(root, case)
    host = FixtureHost(
        root,
        live=bool(case.get("live", False)),
        commands=case.get("commands") or {},
        processes=case.get("processes") or [],
    )
    db = None
    # `dsn: false` evaluates a database profile from files only (``--root`` without a DSN)
    if engine in {"mysql", "postgresql", "redis"} and case.get("dsn", True) is not False:
        db = FixtureDatabase(engine, case.get("sql") or {})
    responses = case.get("http") or {}

    async def fetch(method: str, url: str) -> tuple[int, dict[str, str], str]:
        path = "/" + re.sub(r"^[a-z]+://[^/]+/?", "", url)
        answer = responses.get(f"{method} {path}") or (
            responses.get(path) if method in {"GET", "HEAD"} else None
        )
        if answer is None:
            return 405 if method in {"TRACE", "OPTIONS"} else 404, {}, ""
        return (
            int(answer.get("status", 200)),
            dict(answer.get("headers") or {}),
            str(answer.get("body", "")),
        )

    return Context(
        host=host,
        db=db,
        http=fetch if responses else None,
        http_url="http://fixture" if responses else None,
    )
