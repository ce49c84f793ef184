"""Throw-away local accounts for login tests (SSH, FTP), created as root and removed after.

Accounts are named ``sbt`` + random hex and tagged in their comment field with the creating
process id, so accounts left behind by a killed test run are removed by the next run.
Only root can create them; callers skip otherwise.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.services.postgres import ServiceUnavailable

TAG = "shaobing-test pid="
_RETRIES = 20


@dataclass(frozen=True)
class SystemUser:
    """A planted account: ``name`` and its ``password``."""

    name: str
    password: str
    home: Path


def require_root(what: str) -> None:
    """Raise ServiceUnavailable unless accounts can be created here."""
    if os.geteuid() != 0:
        raise ServiceUnavailable(f"{what} needs root to plant local accounts")
    for tool in ("useradd", "userdel", "chpasswd"):
        if shutil.which(tool) is None:
            raise ServiceUnavailable(f"{tool} not found (apt-get install passwd)")


def _retry(command: list[str], *, stdin: bytes | None = None) -> None:
    # Parallel test workers contend for the lock on /etc/passwd: retry briefly.
    for attempt in range(_RETRIES):
        done = subprocess.run(command, input=stdin, capture_output=True, check=False)
        if done.returncode == 0:
            return
        time.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"{command[0]} failed: {done.stderr.decode(errors='replace')}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_users() -> None:
    """Remove test accounts whose creating process no longer exists."""
    for entry in pwd.getpwall():
        if not entry.pw_gecos.startswith(TAG):
            continue
        try:
            pid = int(entry.pw_gecos.removeprefix(TAG))
        except ValueError:
            continue
        if not _alive(pid):
            subprocess.run(["userdel", entry.pw_name], capture_output=True, check=False)


def create_users(passwords: Mapping[str, str], home_root: Path) -> dict[str, SystemUser]:
    """One account per label with the given password; homes under ``home_root``."""
    require_root("creating test accounts")
    sweep_stale_users()
    created: dict[str, SystemUser] = {}
    try:
        for label, password in passwords.items():
            name = f"sbt{uuid.uuid4().hex[:9]}"
            home = home_root / name
            home.mkdir(parents=True)
            _retry(
                [
                    "useradd",
                    "--no-create-home",
                    "--home-dir",
                    str(home),
                    "--shell",
                    "/bin/sh",
                    "--comment",
                    f"{TAG}{os.getpid()}",
                    "--no-user-group",
                    name,
                ]
            )
            created[label] = SystemUser(name, password, home)
            entry = pwd.getpwnam(name)
            os.chown(home, entry.pw_uid, entry.pw_gid)
            _retry(["chpasswd"], stdin=f"{name}:{password}\n".encode())
    except BaseException:
        remove_users(created.values())
        raise
    return created


def remove_users(users: Iterable[SystemUser]) -> None:
    """Delete the accounts (never raises)."""
    for user in list(users):
        try:
            _retry(["userdel", user.name])
        except RuntimeError:
            continue
