"""Benchmark: 64 hosts x top-1000 TCP ports behind a 10 ms delay, against nmap -sT (issue 4, B1).

Creates a network namespace test network (tests/services/netns.py): 64 host addresses
10.77.0.1-64, each with a few listeners on ports that are in both Shaobing's top-1000 list and
nmap's, plus one listener outside both lists (must not be reported), and a 10 ms delay per
direction (tc netem on lo when the kernel has it, otherwise a TUN delay line between a scanner
namespace and a hosts namespace). Then, inside the scanner namespace, times

    tcp_connect_scan(hosts, top_ports(1000))                  (in a child interpreter)
    nmap -sT -n -Pn -T4 --top-ports 1000 -oX - <hosts>        (the anchor tool)

checks that both report exactly the planted open ports and prints one JSON line. ``ratio`` is
shaobing_s (time inside the scan function) / nmap_s (nmap's wall time); ``ratio_wall`` also
counts our interpreter start-up. Needs root; sends nothing outside the namespaces.

    .venv/bin/python bench/hosts_top1000.py [--hosts 64] [--delay-ms 10] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

# The namespace helper lives with the test services; the bench runs from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped, unused-ignore]
from tests.services.netns import NetnsUnavailable, host_network, unavailable_reason

from shaobing.scan.ports import top_ports

LISTENERS_PER_HOST = 3
SEED = 20261122


def nmap_top_ports(nmap: str) -> set[int]:
    """The ports nmap's --top-ports 1000 selects (read from its XML header, no scan)."""
    out = subprocess.run(
        [nmap, "-sT", "-n", "-Pn", "--top-ports", "1000", "-oX", "-"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    info = fromstring(out).find("scaninfo")
    ports: set[int] = set()
    for item in (info.get("services") or "").split(","):
        low, _, high = item.partition("-")
        ports.update(range(int(low), int(high or low) + 1))
    return ports


def open_ports_from_xml(text: str) -> set[tuple[str, int]]:
    """(address, port) of every open TCP port in nmap's XML output."""
    found: set[tuple[str, int]] = set()
    for host in fromstring(text).iter("host"):
        address = host.find("address")
        if address is None:
            continue
        for port in host.iter("port"):
            state = port.find("state")
            if port.get("protocol") == "tcp" and state is not None and state.get("state") == "open":
                found.add((address.get("addr"), int(port.get("portid"))))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=64)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--delay-mode", choices=("auto", "netem", "tun"), default="auto")
    args = parser.parse_args()

    reason = unavailable_reason()
    nmap = shutil.which("nmap")
    if reason is not None or nmap is None:
        print(reason or "nmap is not installed (apt-get install -y nmap)", file=sys.stderr)
        return 1
    ours_list = top_ports(1000)
    theirs_list = nmap_top_ports(nmap)
    shared = sorted(set(ours_list) & theirs_list)
    # One listener per host on a port in neither list: no one may report it.
    control_port = next(
        p for p in range(47000, 65536) if p not in ours_list and p not in theirs_list
    )
    hosts = [f"10.77.{i // 250}.{i % 250 + 1}" for i in range(args.hosts)]
    rng = random.Random(SEED)
    planted = {(host, port) for host in hosts for port in rng.sample(shared, LISTENERS_PER_HOST)}
    control = {(host, control_port) for host in hosts}

    try:
        with host_network(hosts, delay_ms=args.delay_ms, delay_mode=args.delay_mode) as net:
            net.listen(sorted(planted | control))
            started = time.perf_counter()
            answer = net.call(
                "shaobing.scan.portscan:tcp_connect_scan",
                addresses=hosts,
                ports=list(ours_list),
                batch=args.batch,
                timeout=args.timeout,
            )
            ours_wall = time.perf_counter() - started
            ours = {(r["address"], r["port"]) for r in answer["result"] if r["state"] == "open"}

            started = time.perf_counter()
            done = net.exec(
                [nmap, "-sT", "-n", "-Pn", "-T4", "--top-ports", "1000", "-oX", "-", *hosts]
            )
            nmap_s = time.perf_counter() - started
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            theirs = open_ports_from_xml(done.stdout)
            mode = net.delay_mode
    except NetnsUnavailable as exc:
        print(f"cannot build the test network: {exc}", file=sys.stderr)
        return 1

    shaobing_s = float(answer["seconds"])
    record = {
        "benchmark": "hosts_top1000",
        "hosts": args.hosts,
        "ports": len(ours_list),
        "delay_ms": args.delay_ms,
        "delay_mode": mode,
        "batch": args.batch,
        "timeout": args.timeout,
        "shaobing_s": round(shaobing_s, 3),
        "shaobing_wall_s": round(ours_wall, 3),
        "nmap_s": round(nmap_s, 3),
        "ratio": round(shaobing_s / nmap_s, 3),
        "ratio_wall": round(ours_wall / nmap_s, 3),
        "shared_ports": len(shared),
        "planted": len(planted),
        "open_shaobing": len(ours),
        "open_nmap": len(theirs),
        "same_open_set": ours == theirs,
        "exactly_planted": ours == planted,
    }
    if ours != theirs or ours != planted:
        print(
            f"only shaobing: {sorted(ours - theirs)[:10]}; "
            f"only nmap: {sorted(theirs - ours)[:10]}; missed: {sorted(planted - ours)[:10]}",
            file=sys.stderr,
        )
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
