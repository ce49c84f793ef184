"""Benchmark: service identification on the test services, against nmap -sV (issue 4, B2).

Starts the real test services on 127.0.0.1 free ports (sshd, vsftpd, MariaDB, PostgreSQL,
three Redis instances, two memcached instances, nginx HTTP and HTTPS) with the fixtures of
``tests/services``, then times Shaobing's ``identify()`` over every open port (one thread
per port, as the scan engine runs it) and ``nmap -sV -sT -n -Pn -p <ports> 127.0.0.1`` in
the same script. Prints one JSON line: both times, the ratio, per-port product agreement
and the disagreements. The issue's targets: the same product as nmap on >= 95 % of the
ports, in at most half of nmap's time (ratio <= 0.5). Only loopback is ever touched; run
as root (sshd and vsftpd plant local accounts).

    .venv/bin/python bench/service_id.py                 # the project's own database
    .venv/bin/python bench/service_id.py --nmap-probes   # own database, then nmap's file
    .venv/bin/python bench/service_id.py --skip memcached-sasl   # leave one service out
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests.services fixtures

from shaobing.findings.importers.base import HostInput
from shaobing.findings.importers.nmap import NmapImporter
from shaobing.scan.fingerprint import ServiceMatch, identify, load_database
from shaobing.scan.fingerprint_db import Database
from shaobing.scan.nmap_probes import load_nmap_database

TARGET = "127.0.0.1"
# nmap names some products differently from their vendors; the same software either way.
SAME_PRODUCT = {"mariadb": "mysql"}


@contextlib.contextmanager
def services() -> Iterator[dict[int, str]]:
    """Start every test service; yield {port: label}; stop them all afterwards."""
    from tests.services.mariadb import start_mariadb  # noqa: PLC0415
    from tests.services.memcached import start_memcached  # noqa: PLC0415
    from tests.services.nginx import start_nginx  # noqa: PLC0415
    from tests.services.postgres import start_postgres  # noqa: PLC0415
    from tests.services.redis import start_redis  # noqa: PLC0415
    from tests.services.sshd import start_sshd  # noqa: PLC0415
    from tests.services.vsftpd import start_vsftpd  # noqa: PLC0415

    ports: dict[int, str] = {}
    stoppers: list[Callable[[], None]] = []
    try:
        sshd = start_sshd({"user": "S3cure-Bench-Pass"})
        stoppers.append(sshd.stop)
        ports[sshd.port] = "sshd"
        ftp = start_vsftpd({"user": "S3cure-Bench-Pass"})
        stoppers.append(ftp.stop)
        ports[ftp.port] = "vsftpd"
        maria = start_mariadb()
        stoppers.append(maria.stop)
        ports[maria.port] = "mariadb"
        pg = start_postgres()
        stoppers.append(pg.stop)
        ports[pg.port] = "postgresql"
        redis = start_redis()
        stoppers.append(redis.stop)
        ports.update({redis.weak: "redis-auth", redis.strong: "redis-auth2", redis.open: "redis"})
        memcached = start_memcached()
        stoppers.append(memcached.stop)
        ports.update({memcached.open: "memcached", memcached.auth: "memcached-sasl"})
        nginx = start_nginx({"admin": "S3cure-Bench-Pass"})
        stoppers.append(nginx.stop)
        ports.update({nginx.port: "nginx-http", nginx.tls_port: "nginx-https"})
        yield ports
    finally:
        for stop in reversed(stoppers):
            stop()


def run_ours(
    ports: list[int], databases: tuple[Database, ...]
) -> tuple[float, dict[int, ServiceMatch | None]]:
    """Identify every port in parallel threads (one per port, as the engine does)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        found = list(pool.map(lambda p: identify(TARGET, p, databases=databases), ports))
    return time.perf_counter() - start, dict(zip(ports, found, strict=True))


def run_nmap(ports: list[int]) -> tuple[float, dict[int, tuple[str | None, str | None]]] | None:
    """Time nmap -sV on the ports; {port: (service, product)}; None without nmap."""
    nmap = shutil.which("nmap")
    if nmap is None:
        return None
    with tempfile.TemporaryDirectory(prefix="shaobing-bench-") as tmp:
        out = Path(tmp) / "nmap.xml"
        spec = ",".join(str(p) for p in ports)
        start = time.perf_counter()
        subprocess.run(
            [nmap, "-sV", "-sT", "-n", "-Pn", "-p", spec, TARGET, "-oX", str(out)],
            check=True,
            capture_output=True,
        )
        elapsed = time.perf_counter() - start
        hosts = [r for r in NmapImporter().parse(out) if isinstance(r, HostInput)]
    result: dict[int, tuple[str | None, str | None]] = {}
    for host in hosts:
        for svc in host.services:
            result[svc.port] = (svc.service, svc.product)
    return elapsed, result


def _norm(product: str | None) -> str | None:
    if product is None:
        return None
    key = product.strip().lower()
    return SAME_PRODUCT.get(key, key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--nmap-probes", action="store_true", help="also use nmap's probe file after our own"
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="LABEL",
        help="leave a service out of both runs (e.g. memcached-sasl, which nmap cannot name)",
    )
    args = parser.parse_args()
    databases: tuple[Database, ...] = (load_database(),)
    load_s = None
    if args.nmap_probes:
        start = time.perf_counter()
        databases += (load_nmap_database(),)
        load_s = round(time.perf_counter() - start, 3)
    with services() as labels:
        ports = sorted(port for port, label in labels.items() if label not in args.skip)
        ours_s, ours = run_ours(ports, databases)
        nmap = run_nmap(ports)
    rows: list[dict[str, Any]] = []
    for port in ports:
        match = ours[port]
        rows.append(
            {
                "port": port,
                "service": labels[port],
                "ours": None if match is None else [match.service, match.product, match.version],
                "tls": None if match is None else match.tls,
            }
        )
    record: dict[str, Any] = {
        "benchmark": "service_identification",
        "databases": [db.name for db in databases],
        "nmap_probe_load_s": load_s,
        "ports": len(ports),
        "skipped": args.skip,
        "shaobing_s": round(ours_s, 3),
        "nmap_s": None,
        "ratio": None,
        "agreement": None,
        "disagreements": [],
    }
    if nmap is None:
        print("nmap is not installed (apt-get install -y nmap); no ratio", file=sys.stderr)
    else:
        nmap_s, theirs = nmap
        # Agreement is measured where nmap named a product; ports where only one side
        # named one are listed (a product nmap does not know is not a disagreement).
        compared = same = strict = 0
        for row in rows:
            service, product = theirs.get(row["port"], (None, None))
            row["nmap"] = [service, product]
            ours_product = row["ours"][1] if row["ours"] else None
            if product is None:
                if ours_product is not None:
                    record.setdefault("only_shaobing", []).append(row)
                continue
            compared += 1
            strict += ours_product == product
            if _norm(ours_product) == _norm(product):
                same += 1
            else:
                record["disagreements"].append(row)
        record.update(
            nmap_s=round(nmap_s, 3),
            ratio=round(ours_s / nmap_s, 3),
            compared=compared,
            agreement=round(same / compared, 3) if compared else None,
            strict_agreement=round(strict / compared, 3) if compared else None,
        )
    print(json.dumps(record, ensure_ascii=False))
    for row in rows:
        print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
