"""A throw-away Net-SNMP agent on udp:127.0.0.1 and a free port with planted communities.

``snmpd -f -Lo -C -c own.conf`` reads only its own configuration (``-C``), keeps its
persistent state in the temporary directory (``SNMP_PERSISTENT_DIR``) and loads no MIB
files. Communities are limited to 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.services.postgres import ServiceUnavailable
from tests.services.process import free_udp_port, stop_process, wait_ready

SNMPD = Path("/usr/sbin/snmpd")
SYS_DESCR = "Shaobing test agent"


@dataclass
class SnmpServer:
    """A running snmpd on UDP ``port``."""

    port: int
    root: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop snmpd and remove its files."""
        stop_process(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def start_snmpd(
    read_only: tuple[str, ...] = ("public",), read_write: tuple[str, ...] = ()
) -> SnmpServer:
    """Start snmpd answering the given v1/v2c communities."""
    if not SNMPD.exists():
        raise ServiceUnavailable("snmpd not installed (apt-get install snmpd)")
    root = Path(tempfile.mkdtemp(prefix="shaobing-snmpd-"))
    try:
        port = free_udp_port()
        lines = [f"agentaddress udp:127.0.0.1:{port}", f"sysdescr {SYS_DESCR}"]
        lines += [f"rocommunity {c} 127.0.0.1" for c in read_only]
        lines += [f"rwcommunity {c} 127.0.0.1" for c in read_write]
        config = root / "snmpd.conf"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        log = root / "snmpd.log"
        env = {
            **os.environ,
            "SNMP_PERSISTENT_DIR": str(root / "state"),
            "MIBS": "",
            "MIBDIRS": str(root),
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(SNMPD), "-f", "-Lo", "-C", "-c", str(config), "-p", str(root / "snmpd.pid")],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        # -Lo prints the version line once the agent is initialised and listening.
        wait_ready(
            process,
            lambda: "NET-SNMP version" in log.read_text(errors="replace"),
            name="snmpd",
            log=log,
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return SnmpServer(port, root, process)
