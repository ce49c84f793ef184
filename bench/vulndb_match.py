"""Benchmark: matching 10,000 services against a vulnerability database of 300,000 CVEs (issue 5).

Step 1 (not timed as matching) fills a fresh, migrated SQLite database through the store's
own writer (``CveWriter`` + ``write_enrichment``, what ``vulndb import`` uses) with a
generated feed: ``--products`` products (the first ones real NVD names from the alias table,
the rest synthetic) with ``--cves`` CVEs spread evenly over them. Each CVE has one
configuration: mostly one or two version ranges of a release line
(``[M.m.0, M.m.p)``), some "everything before X" ranges, some exact versions, and one in
twenty an AND configuration with a "running on" platform node. 1 % are in KEV, all have an
EPSS score and a CVSS v3.1 score.

Step 2, in a child process (so its peak RSS is its own), builds ``--services`` services the
way an estate looks: products drawn with a Zipf-like skew from the first 60, a handful of
deployed versions per product, one in five with a distribution revision
(``-1+deb12u1``, ``.el8``), most with a CPE and the rest with only the product name (alias
table), OS hints from a few values. It then times ``match_services`` over them.

Prints one JSON line.

    .venv/bin/python bench/vulndb_match.py [--cves 300000] [--products 300] [--services 10000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

from shaobing.core.db import make_engine, session_scope, upgrade_database
from shaobing.vulndb.assess import match_services, service_facts
from shaobing.vulndb.enrich import EpssEntry, KevEntry
from shaobing.vulndb.records import CriterionInput, CveRecord
from shaobing.vulndb.store import Counts, CveWriter, write_enrichment

# Real products (vendor, product, the name service identification reports).
REAL = [
    ("openbsd", "openssh", "OpenSSH"),
    ("f5", "nginx", "nginx"),
    ("apache", "http_server", "Apache httpd"),
    ("oracle", "mysql", "MySQL"),
    ("mariadb", "mariadb", "MariaDB"),
    ("redis", "redis", "Redis"),
    ("apache", "tomcat", "Apache Tomcat"),
    ("postgresql", "postgresql", "PostgreSQL"),
    ("isc", "bind", "ISC BIND"),
    ("proftpd", "proftpd", "ProFTPD"),
    ("php", "php", "PHP"),
    ("eclipse", "jetty", "Jetty"),
    ("haproxy", "haproxy", "HAProxy"),
    ("squid-cache", "squid", "Squid http proxy"),
    ("lighttpd", "lighttpd", "lighttpd"),
]
PLATFORMS = [
    "cpe:2.3:o:linux:linux_kernel:-:*:*:*:*:*:*:*",
    "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*",
    "cpe:2.3:o:debian:debian_linux:12.0:*:*:*:*:*:*:*",
]
MODIFIED = datetime(2024, 2, 1, 10, 0, tzinfo=UTC)


def products(count: int) -> list[tuple[str, str, str]]:
    """(vendor, product, display name) for every product of the generated feed."""
    synthetic = [(f"vendor{i:03d}", f"product{i:03d}", f"Product{i:03d}") for i in range(count)]
    return (REAL + synthetic)[:count]


def _criterion(vendor: str, product: str, **bounds: str | None) -> CriterionInput:
    return CriterionInput(
        config_index=0,
        config_operator="OR",
        config_negate=False,
        node_index=0,
        node_operator="OR",
        node_negate=False,
        vulnerable=True,
        criteria=f"cpe:2.3:a:{vendor}:{product}:*:*:*:*:*:*:*:*",
        part="a",
        vendor=vendor,
        product=product,
        version="*",
        **bounds,
    )


def _criteria(rng: random.Random, vendor: str, product: str) -> list[CriterionInput]:
    kind = rng.random()
    major = rng.randint(1, 3)
    if kind < 0.03:  # everything before a release
        return [
            _criterion(vendor, product, version_end_excluding=f"{major}.{rng.randint(0, 19)}.0")
        ]
    if kind < 0.13:  # named versions
        out = []
        for _ in range(rng.randint(1, 3)):
            version = f"{major}.{rng.randint(0, 19)}.{rng.randint(0, 29)}"
            crit = _criterion(vendor, product)
            crit.criteria = f"cpe:2.3:a:{vendor}:{product}:{version}:*:*:*:*:*:*:*"
            crit.version = version
            out.append(crit)
        return out
    out = []
    for _ in range(rng.randint(1, 2)):  # one or two release lines
        minor = rng.randint(0, 19)
        out.append(
            _criterion(
                vendor,
                product,
                version_start_including=f"{major}.{minor}.0",
                version_end_excluding=f"{major}.{minor}.{rng.randint(1, 30)}",
            )
        )
    if kind > 0.95:  # "running on" a platform: an AND configuration
        platform = rng.choice(PLATFORMS)
        _, _, part, pvendor, pproduct, pversion, *_ = platform.split(":")
        for crit in out:
            crit.config_operator = "AND"
        out.append(
            CriterionInput(
                config_index=0,
                config_operator="AND",
                config_negate=False,
                node_index=1,
                node_operator="OR",
                node_negate=False,
                vulnerable=False,
                criteria=platform,
                part=part,
                vendor=pvendor,
                product=pproduct,
                version=pversion,
            )
        )
    return out


def records(count: int, product_list: list[tuple[str, str, str]]) -> Iterator[CveRecord]:
    """The generated CVEs, products spread evenly."""
    rng = random.Random(5)
    for i in range(count):
        vendor, product, _ = product_list[i % len(product_list)]
        score = round(rng.uniform(2.0, 10.0), 1)
        yield CveRecord(
            id=f"CVE-{2000 + i % 25}-{100000 + i}",
            source="nvd",
            published=MODIFIED,
            modified=MODIFIED,
            description=f"Generated flaw {i} in {product}.",
            cvss3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            cvss3_score=score,
            cvss3_severity="critical" if score >= 9 else "high" if score >= 7 else "medium",
            cwe_ids=[f"CWE-{i % 900 + 1}"],
            reference_urls=[f"https://example.org/advisories/{i}"],
            criteria=_criteria(rng, vendor, product),
        )


def kev_entries(count: int) -> Iterator[KevEntry]:
    """KEV for about 1 % of the CVEs."""
    rng = random.Random(6)
    for i in range(count):
        if rng.random() < 0.01:
            yield KevEntry(
                f"CVE-{2000 + i % 25}-{100000 + i}", date(2024, 1, 2), date(2024, 1, 23), None
            )


def epss_entries(count: int) -> Iterator[EpssEntry]:
    """An EPSS score for every CVE: mostly tiny, as real EPSS scores are."""
    rng = random.Random(7)
    for i in range(count):
        epss = min(1.0, rng.expovariate(200))
        yield EpssEntry(
            f"CVE-{2000 + i % 25}-{100000 + i}",
            round(epss, 5),
            round(rng.random(), 5),
            date(2024, 3, 1),
        )


def populate(db: Path, cves: int, product_count: int) -> float:
    """Fill the database; returns seconds."""
    engine = make_engine(f"sqlite:///{db}")
    upgrade_database(engine)
    started = time.perf_counter()
    product_list = products(product_count)
    counts = Counts()
    stream = records(cves, product_list)
    for _ in range(0, cves, 20_000):  # one transaction per 20,000 CVEs
        with session_scope(engine) as session:
            writer = CveWriter(session, counts)
            for record in itertools.islice(stream, 20_000):
                writer.add(record)
            writer.flush()
    # One feed per call, as ``vulndb import`` does (entries of one batch are keyed by CVE).
    for entries in (kev_entries(cves), epss_entries(cves)):
        with session_scope(engine) as session:
            write_enrichment(session, entries, Counts())
    engine.dispose()
    return time.perf_counter() - started


def services(count: int, product_count: int) -> list[object]:
    """An estate: skewed product mix, few deployed versions each, some distro builds."""
    rng = random.Random(7)
    product_list = products(product_count)[:60]
    weights = [1 / (rank + 1) for rank in range(len(product_list))]
    deployed = {
        p: [f"{rng.randint(1, 3)}.{rng.randint(0, 19)}.{rng.randint(0, 29)}" for _ in range(6)]
        for p in product_list
    }
    revisions = ["-1+deb12u1", "-2+deb11u3", ".el8", "-0ubuntu0.22.04.1"]
    oses = [None, "Linux", "Linux", "Windows", "Debian 12"]
    out: list[object] = []
    for _ in range(count):
        vendor, product, name = rng.choices(product_list, weights)[0]
        version = rng.choice(deployed[vendor, product, name])
        shown = version + (rng.choice(revisions) if rng.random() < 0.2 else "")
        real = (vendor, product, name) in REAL
        cpes = (
            [f"cpe:2.3:a:{vendor}:{product}:{version}:*:*:*:*:*:*:*"]
            if not real or rng.random() < 0.7
            else []
        )
        out.append(service_facts(name, shown, cpes, os=rng.choice(oses)))
    return out


def child(db: str, count: int, product_count: int) -> None:
    """Match the generated services and print the step's figures."""
    facts = services(count, product_count)
    engine = make_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    with session_scope(engine, readonly=True) as session:
        matches = match_services(session, facts)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    matched_services = len({m.service_index for m in matches})
    print(
        json.dumps(
            {
                "services": count,
                "distinct_services": len(set(facts)),
                "seconds": round(seconds, 2),
                "services_per_s": round(count / seconds),
                "matches": len(matches),
                "services_with_matches": matched_services,
                "kev_matches": sum(m.kev for m in matches),
                "peak_rss_mib": round(peak_mib, 1),
            }
        )
    )


def main() -> None:
    """Populate, match in a child process, print one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cves", type=int, default=300_000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--db", help="reuse (or create) this database file")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        db, count, product_count = args.child
        child(db, int(count), int(product_count))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "vulndb.db"
        populate_seconds = None
        if not db.exists():
            populate_seconds = round(populate(db, args.cves, args.products), 1)
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(db), str(args.services), str(args.products)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        print(
            json.dumps(
                {
                    "cves": args.cves,
                    "products": args.products,
                    "populate_seconds": populate_seconds,
                    "db_mib": round(db.stat().st_size / 2**20, 1),
                    **result,
                }
            )
        )


if __name__ == "__main__":
    main()
