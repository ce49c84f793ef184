"""A real sshd whose account is locked in a target tree (ChrootDirectory) for hardening tests.

Hardening writes /etc/ssh/... on the target: over SSH to this machine that would be the test
host's own configuration. sshd's ``ChrootDirectory`` gives the account a root of its own
instead: a tree with copies of the shell tools the SSH collector runs (and their libraries),
/dev/null, and an /etc with a weak sshd_config. The tree's /etc/passwd and /etc/group name
the account's ids ``root``: on this target the account is the owner the rules ask for, so
the plan needs no chown (a non-root account could not do one). ``sshd`` and ``systemctl``
in the tree are scripts that log their arguments: the reload commands run and are recorded.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server.conftest import bearer, login, world
from tests.services.dbproc import start_with_retries
from tests.services.postgres import ServiceUnavailable
from tests.services.process import tcp_banner
from tests.services.sshd import SshServer, start_sshd

__all__ = ["bearer", "login", "world"]

PASSWORD = "Hd-7wQ3#harden-ssh"
WEAK_CONFIG = "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nMaxAuthTries 10\n"
TOOLS = (
    "sh", "dash", "find", "tar", "gzip", "base64", "tr", "head", "tail", "stat", "ls", "chmod",
    "chown", "mv", "rm", "cat", "cp", "mkdir", "sed", "grep", "id", "uname", "env", "sort",
    "wc", "xargs", "readlink", "dirname", "basename", "true", "false", "sleep", "date",
    "touch", "timeout", "ps",
)  # fmt: skip
STUB = '#!/bin/sh\necho "$(basename "$0") $*" >> /var/log/stub-calls.log\nexit 0\n'


@dataclass
class Target:
    """The sshd, its account and the account's root tree."""

    server: SshServer
    user: str
    tree: Path

    @property
    def port(self) -> int:
        """The server's port."""
        return self.server.port

    def file(self, path: str) -> Path:
        """A target path inside the tree."""
        return self.tree / path.lstrip("/")


def _copy(tree: Path, path: str) -> None:
    real = os.path.realpath(path)
    dest = tree / os.path.realpath(os.path.dirname(path)).lstrip("/") / os.path.basename(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists():
        shutil.copy2(real, dest)


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
    found = []
    for line in out.splitlines():
        words = line.replace("=>", " ").split()
        found += [w for w in words if w.startswith("/")]
    return found


def build_tree(tree: Path, uid: int, gid: int) -> None:
    """The account's root: tools, libraries, /dev/null, /etc with a weak sshd_config."""
    for name in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{name}"):
            (tree / name).symlink_to(os.readlink(f"/{name}"))
    for tool in TOOLS:
        found = shutil.which(tool)
        if found is None:
            continue
        _copy(tree, found)
        for library in _libraries(found):
            _copy(tree, library)
    (tree / "dev").mkdir()
    subprocess.run(["mknod", "-m", "666", str(tree / "dev/null"), "c", "1", "3"], check=True)
    etc = tree / "etc"
    (etc / "ssh/sshd_config.d").mkdir(parents=True)
    (etc / "ssh/sshd_config").write_text(WEAK_CONFIG, encoding="utf-8")
    (etc / "passwd").write_text(f"root:x:{uid}:{gid}:root:/:/bin/sh\n", encoding="utf-8")
    (etc / "group").write_text(f"root:x:{gid}:\n", encoding="utf-8")
    if Path("/etc/os-release").exists():
        shutil.copy(os.path.realpath("/etc/os-release"), etc / "os-release")
    for name in ("usr/sbin/sshd", "usr/bin/systemctl"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(STUB, encoding="utf-8")
        os.chmod(tree / name, 0o755)
    (tree / "var/log").mkdir(parents=True)
    (tree / "tmp").mkdir(mode=0o1777)
    # The account edits /etc/ssh (new files appear by rename inside the folders).
    for path in (etc / "ssh", etc / "ssh/sshd_config.d", etc / "ssh/sshd_config", tree / "var/log"):
        os.chown(path, uid, gid)
    os.chmod(etc / "ssh/sshd_config", 0o600)


def _chroot(server: SshServer, user: str, tree: Path) -> None:
    config = server.root / "sshd_config"
    text = config.read_text(encoding="utf-8")
    config.write_text(f"{text}Match User {user}\n    ChrootDirectory {tree}\n", encoding="utf-8")
    subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(config)], check=True, capture_output=True)
    # SIGHUP makes sshd re-execute itself with the new configuration.
    server.process.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    deadline = time.monotonic() + 10
    while not tcp_banner(server.port).startswith(b"SSH-"):
        if time.monotonic() > deadline or server.process.poll() is not None:
            raise RuntimeError("sshd did not come back after SIGHUP")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def target() -> Iterator[Target]:
    """An sshd on 127.0.0.1 whose account logs in with a password into its own tree."""
    if shutil.which("mknod") is None or shutil.which("ldd") is None:
        pytest.skip("mknod/ldd not installed (coreutils, libc-bin)")
    try:
        server = start_with_retries(lambda: start_sshd({"ops": PASSWORD}))
    except ServiceUnavailable as exc:
        pytest.skip(f"sshd not available here: {exc}")
    # Every component of a chroot path must be root's and not writable by others (not /tmp).
    tree = Path(tempfile.mkdtemp(prefix="shaobing-harden-", dir="/run"))
    try:
        account = pwd.getpwnam(server.users["ops"].name)
        os.chmod(tree, 0o755)
        build_tree(tree, account.pw_uid, account.pw_gid)
        _chroot(server, account.pw_name, tree)
        yield Target(server, account.pw_name, tree)
    finally:
        server.stop()
        shutil.rmtree(tree, ignore_errors=True)
