"""Fixtures of the credential vault tests: a real sshd (password and key login), helpers.

The sshd comes from tests/services/sshd.py (as in tests/baseline/test_ssh_collector.py):
one planted account that may log in with its password or with an ed25519 key whose private
half is encrypted with a passphrase.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import shaobing.credentials.models  # noqa: F401 - the table, until core/schema.py imports it
from shaobing.cli import credentials as cred_cli
from shaobing.cli import main as cli_main
from shaobing.core.i18n import t
from tests.services.dbproc import start_with_retries
from tests.services.postgres import ServiceUnavailable
from tests.services.sshd import SshServer, allow_authorized_keys, start_sshd

# ``shaobing cred`` until cli/main.py registers it (then this does nothing).
if not any(group.name == "cred" for group in cli_main.app.registered_groups):
    cli_main.app.add_typer(cred_cli.app, name="cred", help=t("credentials.cli.help_group"))

SSH_PASSWORD = "Vt-4kQ9#cred-ssh"
KEY_PASSPHRASE = "horse battery 9 staple"


@dataclass
class Sshd:
    """The server, its account and the account's (passphrase-protected) key."""

    server: SshServer
    user: str
    key_pem: str
    key_file: Path

    @property
    def port(self) -> int:
        """The server's port."""
        return self.server.port

    @property
    def url(self) -> str:
        """``ssh://user@127.0.0.1:port``."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    """One sshd on 127.0.0.1 whose account logs in with a password or a key."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen not installed (apt-get install openssh-client)")
    try:
        server = start_with_retries(lambda: start_sshd({"ops": SSH_PASSWORD}))
    except ServiceUnavailable as exc:
        pytest.skip(f"sshd not available here: {exc}")
    keys = Path(tempfile.mkdtemp(prefix="shaobing-credkeys-"))
    try:
        account = server.users["ops"]
        os.chmod(keys, 0o755)
        key = keys / "client_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", KEY_PASSPHRASE, "-f", str(key)],
            check=True,
            capture_output=True,
        )
        (keys / account.name).write_text((keys / "client_ed25519.pub").read_text())
        os.chmod(keys / account.name, 0o644)
        pwd.getpwnam(account.name)
        allow_authorized_keys(server, keys)
        yield Sshd(server, account.name, key.read_text(encoding="utf-8"), key)
    finally:
        server.stop()
        shutil.rmtree(keys, ignore_errors=True)
