"""Running scans launched from the console in a detached background process.

The request plans the scan (``plan_scan`` / ``plan_webscan``: plan recorded, scope checked)
and then starts ``python -m shaobing.server.scan_runner KIND ID ACTOR`` in a new session, so
a slow scan never holds a web worker and survives a reload of the server. The child runs the
same service call as ``shaobing scan resume`` / ``shaobing webscan`` and writes its output to
``$SHAOBING_HOME/logs/scan-ID.log``. Secrets of a web scan (login password, cookie) reach the
child through its standard input, never its command line or a file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from shaobing.core.db import make_engine, session_scope
from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.scan import service as scan_service
from shaobing.scan.engine import ScanEngine
from shaobing.scan.models import ScanRun, ScanStatus
from shaobing.scan.policy import get_policy
from shaobing.web.service import DEFAULT_POLICY, WebScanRequest, execute_webscan, scan_options

KINDS = ("network", "web")
# The largest web-scan request accepted on standard input (headers and cookie included).
MAX_PAYLOAD = 256 * 1024


def log_path(scan_id: int) -> Path:
    """Where the background process of ``scan_id`` writes its output."""
    folder = get_settings().home / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"scan-{scan_id}.log"


def launch(
    engine: Engine,
    scan_id: int,
    kind: str,
    *,
    actor: str,
    payload: dict[str, Any] | None = None,
) -> int:
    """Start the detached process running scan ``scan_id``; returns its process id."""
    if kind not in KINDS:
        raise ValueError(kind)
    env = dict(os.environ)
    # The child must use the server's database even when it was configured in code.
    env["SHAOBING_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["SHAOBING_HOME"] = str(get_settings().home)
    command = [sys.executable, "-m", "shaobing.server.scan_runner", kind, str(scan_id), actor]
    log = log_path(scan_id)
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - fixed interpreter and module, no shell
            command,
            stdin=subprocess.PIPE if payload is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(get_settings().home),
            start_new_session=True,
            close_fds=True,
        )
    if payload is not None and process.stdin is not None:
        process.stdin.write(json.dumps(payload).encode("utf-8"))
        process.stdin.close()
    # Reap the child when it ends so finished scans leave no zombie behind the server.
    threading.Thread(target=process.wait, name=f"scan-{scan_id}-reaper", daemon=True).start()
    return process.pid


def mark_failed(engine: Engine, scan_id: int, message: str) -> None:
    """Record that the background run of a scan failed (unless it already ended)."""
    with session_scope(engine) as session:
        run = session.get(ScanRun, scan_id)
        if run is None or run.status in (ScanStatus.COMPLETED.value, ScanStatus.CANCELLED.value):
            return
        run.status = ScanStatus.FAILED.value
        run.message = message[:2000]
        run.finished_at = datetime.now(UTC)


def _run_network(engine: Engine, scan_id: int, actor: str) -> str:
    holder: list[ScanEngine] = []

    def pause(signum: int, frame: FrameType | None) -> None:
        # Stopping the server's children (or a kill by the operator) pauses with state saved.
        if holder:
            holder[0].request("pause")

    signal.signal(signal.SIGTERM, pause)
    signal.signal(signal.SIGINT, pause)
    outcome = scan_service.execute_scan(engine, scan_id, actor=actor, on_engine=holder.append)
    return outcome.status


def _run_web(engine: Engine, scan_id: int, actor: str, payload: dict[str, Any]) -> str:
    request = WebScanRequest(**payload)
    options = scan_options(request, get_policy(request.policy or DEFAULT_POLICY))
    execute_webscan(engine, scan_id, options, actor=actor)
    return ScanStatus.COMPLETED.value


def _read_payload() -> dict[str, Any]:
    raw = sys.stdin.buffer.read(MAX_PAYLOAD + 1)
    if len(raw) > MAX_PAYLOAD:
        raise ValueError("payload too large")
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("payload is not an object")
    allowed = set(WebScanRequest.__dataclass_fields__)
    return {k: v for k, v in data.items() if k in allowed}


def main(argv: list[str]) -> int:
    """Child entry: ``KIND SCAN_ID ACTOR``; exit 0 when the scan ended normally."""
    if len(argv) != 3 or argv[0] not in KINDS or not argv[1].isdigit():
        print("usage: python -m shaobing.server.scan_runner network|web SCAN_ID ACTOR")
        return 2
    kind, scan_id, actor = argv[0], int(argv[1]), argv[2]
    engine = make_engine(os.environ["SHAOBING_DATABASE_URL"])
    started = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"{started} {kind} scan {scan_id} by {actor}", flush=True)
    try:
        if kind == "network":
            status = _run_network(engine, scan_id, actor)
        else:
            status = _run_web(engine, scan_id, actor, _read_payload())
    except ShaobingError as exc:
        print(exc.message, flush=True)
        mark_failed(engine, scan_id, t("server_work.scan.runner_failed", detail=exc.message))
        return 1
    except Exception as exc:  # noqa: BLE001 - the log keeps the details; the run says it failed
        traceback.print_exc()
        mark_failed(engine, scan_id, t("server_work.scan.runner_failed", detail=type(exc).__name__))
        return 1
    finally:
        engine.dispose()
    print(f"{datetime.now(UTC).isoformat(timespec='seconds')} status {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
