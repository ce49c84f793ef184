"""A throw-away vsftpd on 127.0.0.1 and a free port, with planted local accounts.

vsftpd runs in the foreground (``listen=YES``, ``background=NO``) with its own
configuration. Local users authenticate through a PAM service file written for this server
only (``pam_unix`` with ``nodelay``, so a failed login is not followed by PAM's two-second
delay) and removed at stop. Optionally anonymous logins are enabled, with an ``upload``
directory anonymous users may write to. Needs root (PAM, chroot, planted accounts).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.services.postgres import ServiceUnavailable, free_port
from tests.services.process import stop_process, tcp_banner, wait_ready
from tests.services.sysusers import SystemUser, create_users, remove_users, require_root

VSFTPD = Path("/usr/sbin/vsftpd")
PAM_DIR = Path("/etc/pam.d")
PAM_PREFIX = "shaobing-test-ftp-"


def _sweep_stale_pam_files() -> None:
    """Remove PAM files left by test processes that no longer exist (killed runs)."""
    for path in PAM_DIR.glob(f"{PAM_PREFIX}*"):
        pid = path.name.removeprefix(PAM_PREFIX).split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            path.unlink(missing_ok=True)


@dataclass
class FtpServer:
    """A running vsftpd; ``users`` maps labels to planted accounts, ``anon_root`` is the
    anonymous root and ``upload`` its writable directory (None when not enabled)."""

    port: int
    root: Path
    users: dict[str, SystemUser]
    anon_root: Path
    upload: Path | None
    pam_file: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop vsftpd and remove its accounts, PAM file and files."""
        stop_process(self.process)
        remove_users(self.users.values())
        self.pam_file.unlink(missing_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _yes(flag: bool) -> str:
    return "YES" if flag else "NO"


def start_vsftpd(
    accounts: Mapping[str, str],
    *,
    anonymous: bool = False,
    anonymous_upload: bool = False,
    max_login_fails: int = 3,
) -> FtpServer:
    """Start vsftpd with one local account per ``label: password`` entry."""
    if not VSFTPD.exists():
        raise ServiceUnavailable("vsftpd not installed (apt-get install vsftpd)")
    require_root("vsftpd")
    _sweep_stale_pam_files()
    root = Path(tempfile.mkdtemp(prefix="shaobing-ftp-"))
    root.chmod(0o755)
    service = f"{PAM_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    pam_file = PAM_DIR / service
    users: dict[str, SystemUser] = {}
    try:
        users = create_users(accounts, root / "home")
        pam_file.write_text(
            "auth required pam_unix.so nodelay\naccount required pam_unix.so\n",
            encoding="utf-8",
        )
        empty = root / "empty"
        empty.mkdir(mode=0o755)
        # vsftpd refuses a writable anonymous root: the root stays read-only, uploads go
        # into a subdirectory owned by the anonymous "ftp" account.
        anon_root = root / "anon"
        (anon_root / "pub").mkdir(parents=True)
        (anon_root / "pub" / "readme.txt").write_text("public file\n", encoding="utf-8")
        upload: Path | None = None
        if anonymous_upload:
            upload = anon_root / "upload"
            upload.mkdir()
            ftp = pwd.getpwnam("ftp")
            os.chown(upload, ftp.pw_uid, ftp.pw_gid)
        anon_root.chmod(0o555)
        port = free_port()
        config = root / "vsftpd.conf"
        config.write_text(
            f"""listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable={_yes(anonymous)}
anon_root={anon_root}
anon_upload_enable={_yes(anonymous_upload)}
write_enable={_yes(anonymous_upload)}
local_enable=YES
pam_service_name={service}
secure_chroot_dir={empty}
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
delay_failed_login=0
delay_successful_login=0
max_login_fails={max_login_fails}
max_clients=0
max_per_ip=0
xferlog_enable=NO
pasv_enable=YES
check_shell=NO
""",
            encoding="utf-8",
        )
        log = root / "vsftpd.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(VSFTPD), str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_ready(process, lambda: tcp_banner(port).startswith(b"220"), name="vsftpd", log=log)
    except BaseException:
        remove_users(users.values())
        pam_file.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)
        raise
    return FtpServer(port, root, users, anon_root, upload, pam_file, process)
