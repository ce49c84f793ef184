"""Benchmark: the Linux baseline over SSH on 50 targets (issue 7, C2). Goal: under 60 s.

    .venv/bin/python bench/baseline_ssh.py [--targets 50] [--concurrency 10] [--profile linux]

Starts one real OpenSSH server on 127.0.0.1 (``tests/services/sshd.py``: a planted account
with a password, MaxStartups raised so the server's own connection throttling is not what is
measured) and checks it as ``--targets`` separate targets — each its own SSH connection,
login, prefetch and evaluation, exactly as distinct hosts are handled — through
``shaobing.baseline.service.check_many``. Side by side, the anchor: the same number of
plain ``ssh`` logins that each read the same files with ``cat`` (OpenSSH client, password via
``sshpass`` when present, else skipped), which is the floor of any agentless collector.

Prints one JSON line: seconds, rules per target, results per status, and the ratio to the
anchor. Needs root (the service helper creates a system account). Only 127.0.0.1 is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services.sshd import start_sshd

from shaobing.baseline.engine import static_paths
from shaobing.baseline.loader import get_profile
from shaobing.baseline.service import Access, check_many, open_target

PASSWORD = "Bench-Pass-2026!"


def _anchor(port: int, user: str, paths: list[str], count: int, concurrency: int) -> float | None:
    if shutil.which("sshpass") is None or shutil.which("ssh") is None:
        return None
    command = "cat " + " ".join(paths) + " >/dev/null 2>&1; true"
    ssh = [
        "sshpass",
        "-p",
        PASSWORD,
        "ssh",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "PubkeyAuthentication=no",
        "-p",
        str(port),
        f"{user}@127.0.0.1",
        command,
    ]
    start = time.perf_counter()
    running: list[subprocess.Popen[bytes]] = []
    for _ in range(count):
        running.append(subprocess.Popen(ssh, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if len(running) >= concurrency:
            running.pop(0).wait()
    for proc in running:
        proc.wait()
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print its JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", default="linux")
    parser.add_argument(
        "--skip", action="append", default=[], help="leave out a rule (e.g. to isolate its cost)"
    )
    args = parser.parse_args()
    profile = get_profile(args.profile)
    kept = [r.id for r in profile.rules if r.id not in set(args.skip)]
    server = start_sshd({"bench": PASSWORD})
    try:
        user = server.users["bench"].name
        url = f"ssh://{user}@127.0.0.1:{server.port}"
        access = Access(password=PASSWORD)
        targets = [open_target(url, access) for _ in range(args.targets)]
        start = time.perf_counter()
        reports = asyncio.run(
            check_many(profile, targets, concurrency=args.concurrency, rules=kept)
        )
        seconds = time.perf_counter() - start
        counts: dict[str, int] = {}
        for report in reports:
            for key, value in report.counts().items():
                counts[key] = counts.get(key, 0) + value
        paths = sorted({p for r in profile.rules for p in static_paths(r.check)})
        anchor = _anchor(server.port, user, paths, args.targets, args.concurrency)
    finally:
        server.stop()
    print(
        json.dumps(
            {
                "bench": "baseline_ssh",
                "profile": args.profile,
                "targets": args.targets,
                "concurrency": args.concurrency,
                "rules_per_target": len(kept),
                "skipped": args.skip,
                "seconds": round(seconds, 2),
                "per_target_s": round(seconds / max(1, args.targets), 3),
                "results": counts,
                "anchor": "ssh+cat of the same files (sshpass)",
                "anchor_s": round(anchor, 2) if anchor is not None else None,
                "ratio": round(seconds / anchor, 2) if anchor else None,
                "goal_s": 60,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
