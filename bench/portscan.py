"""Benchmark: full TCP connect sweep of 127.0.0.1, ports 1-65535, against nmap -sT (issue 4, B1).

Starts 30 listeners on random free loopback ports, then times
``tcp_connect_scan(["127.0.0.1"], range(1, 65536))`` and, in the same process run,
``nmap -sT -n -Pn -p- 127.0.0.1 -oX -`` (the anchor tool; install it with
``apt-get install -y nmap``). Compares the two open-port sets and prints one JSON line.
The issue's target is ratio (shaobing_s / nmap_s) <= 1.0. Only loopback is ever touched.

    .venv/bin/python bench/portscan.py
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time

from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped, unused-ignore]

from shaobing.scan.portscan import tcp_connect_scan

TARGET = "127.0.0.1"
LISTENERS = 30


def run_nmap() -> tuple[float, set[int]] | None:
    """Time nmap's full connect sweep of loopback; None when nmap is not installed."""
    nmap = shutil.which("nmap")
    if nmap is None:
        return None
    start = time.perf_counter()
    out = subprocess.run(
        [nmap, "-sT", "-n", "-Pn", "-p-", TARGET, "-oX", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    elapsed = time.perf_counter() - start
    root = fromstring(out)
    open_ports = {
        int(port.get("portid"))
        for port in root.iter("port")
        if port.get("protocol") == "tcp"
        and (state := port.find("state")) is not None
        and state.get("state") == "open"
    }
    return elapsed, open_ports


def main() -> int:
    listeners = []
    for _ in range(LISTENERS):
        sock = socket.socket()
        sock.bind((TARGET, 0))
        sock.listen(128)
        listeners.append(sock)
    mine = {int(s.getsockname()[1]) for s in listeners}
    try:
        start = time.perf_counter()
        results = tcp_connect_scan([TARGET], range(1, 65536))
        shaobing_s = time.perf_counter() - start
        ours = {r.port for r in results}
        if not mine <= ours:
            print(f"missed listeners: {sorted(mine - ours)}", file=sys.stderr)
        nmap = run_nmap()
    finally:
        for sock in listeners:
            sock.close()
    record: dict[str, object] = {
        "benchmark": "portscan_full_tcp",
        "ports": 65535,
        "shaobing_s": round(shaobing_s, 3),
        "nmap_s": None,
        "ratio": None,
        "same_open_set": None,
        "open": len(ours),
    }
    if nmap is None:
        print("nmap is not installed (apt-get install -y nmap); no ratio", file=sys.stderr)
    else:
        nmap_s, theirs = nmap
        record.update(
            nmap_s=round(nmap_s, 3),
            ratio=round(shaobing_s / nmap_s, 3),
            same_open_set=ours == theirs,
        )
        if ours != theirs:
            print(
                f"only shaobing: {sorted(ours - theirs)}; only nmap: {sorted(theirs - ours)}",
                file=sys.stderr,
            )
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
