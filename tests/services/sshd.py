"""A throw-away OpenSSH server on 127.0.0.1 and a free port, with planted accounts.

``sshd -D -e -f own.conf`` with its own host key in a temporary directory, password
authentication only (by default ``UsePAM no``: sshd checks the shadow password itself,
without PAM's failure delay), limited to the planted accounts (``AllowUsers``). ``MaxStartups`` is
generous so parallel login benchmarks are not throttled by the server. Needs root (sshd's
privilege separation and the planted system accounts).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.services.postgres import ServiceUnavailable, free_port
from tests.services.process import stop_process, tcp_banner, wait_ready
from tests.services.sysusers import SystemUser, create_users, remove_users, require_root

SSHD = Path("/usr/sbin/sshd")


@dataclass
class SshServer:
    """A running sshd; ``users`` maps the caller's labels to the planted accounts."""

    port: int
    root: Path
    users: dict[str, SystemUser]
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop sshd, remove the accounts and the files."""
        stop_process(self.process)
        remove_users(self.users.values())
        shutil.rmtree(self.root, ignore_errors=True)


def start_sshd(
    accounts: Mapping[str, str],
    *,
    max_auth_tries: int = 6,
    key_only: tuple[str, ...] = (),
    use_pam: bool = False,
    password_auth: bool = True,
    kbd_interactive: bool = False,
) -> SshServer:
    """Start sshd with one account per ``label: password`` entry of ``accounts``.

    Accounts whose label is in ``key_only`` may log in with a public key only (no password
    method is offered to them). ``use_pam`` with ``kbd_interactive`` serves passwords as a
    keyboard-interactive prompt, as many PAM-based servers do.
    """
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        raise ServiceUnavailable("OpenSSH server not installed (apt-get install openssh-server)")
    require_root("sshd")
    # sshd refuses to start without its privilege separation directory.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="shaobing-sshd-"))
    users: dict[str, SystemUser] = {}
    try:
        users = create_users(accounts, root / "home")
        key = root / "host_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
            check=True,
            capture_output=True,
        )
        port = free_port()
        match = "".join(
            f"Match User {users[label].name}\n    AuthenticationMethods publickey\n"
            for label in key_only
        )
        config = root / "sshd_config"
        config.write_text(
            f"""Port {port}
ListenAddress 127.0.0.1
HostKey {key}
PidFile {root}/sshd.pid
UsePAM {"yes" if use_pam else "no"}
PasswordAuthentication {"yes" if password_auth else "no"}
KbdInteractiveAuthentication {"yes" if kbd_interactive else "no"}
PubkeyAuthentication yes
PermitRootLogin no
PermitEmptyPasswords no
AllowUsers {" ".join(u.name for u in users.values())}
MaxAuthTries {max_auth_tries}
MaxStartups 500:30:1000
MaxSessions 10
LoginGraceTime 30
StrictModes no
UseDNS no
PrintMotd no
AuthorizedKeysFile none
{match}""",
            encoding="utf-8",
        )
        subprocess.run([str(SSHD), "-t", "-f", str(config)], check=True, capture_output=True)
        log = root / "sshd.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=out
            )
        wait_ready(process, lambda: tcp_banner(port).startswith(b"SSH-"), name="sshd", log=log)
    except BaseException:
        remove_users(users.values())
        shutil.rmtree(root, ignore_errors=True)
        raise
    return SshServer(port, root, users, process)


def allow_authorized_keys(server: SshServer, folder: Path) -> None:
    """Let the server's accounts log in with the keys in ``folder/<user>`` (the server starts
    with no authorized_keys file); sshd re-reads its configuration (SIGHUP re-executes it)."""
    config = server.root / "sshd_config"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("AuthorizedKeysFile none", f"AuthorizedKeysFile {folder}/%u"))
    server.process.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    deadline = time.monotonic() + 10
    while not tcp_banner(server.port).startswith(b"SSH-"):
        if time.monotonic() > deadline or server.process.poll() is not None:
            raise RuntimeError("sshd did not come back after SIGHUP")
        time.sleep(0.05)
