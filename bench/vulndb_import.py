"""Benchmark: importing a generated NVD CVE API 2.0 feed of 300,000 CVEs into SQLite (issue 5).

Writes a gzip-compressed NVD-2.0-shaped file (each CVE with descriptions, CVSS v3.1,
a weakness, references and a configuration of a few cpeMatch criteria), then in a fresh
child process per step (so peak memory is that step's own):

1. first import into an empty, migrated SQLite database
2. incremental update: a second file with the same CVEs where every tenth has a newer
   lastModified and changed criteria (record-level comparison, no whole-file shortcut)

The issue's anchor is "flat memory": peak RSS must not grow with the feed size (the
``--cves`` option lets one compare sizes). Prints one JSON line.

    .venv/bin/python bench/vulndb_import.py [--cves 300000] [--criteria 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shaobing.core.db import make_engine, upgrade_database
from shaobing.vulndb.service import import_paths
from shaobing.vulndb.sources import FeedKind

PRODUCTS = [
    ("openbsd", "openssh"),
    ("apache", "http_server"),
    ("nginx", "nginx"),
    ("oracle", "mysql"),
    ("mariadb", "mariadb"),
    ("redis", "redis"),
]


def _cve(i: int, criteria: int, modified: str, bump: int) -> dict[str, object]:
    vendor, product = PRODUCTS[i % len(PRODUCTS)]
    matches = [
        {
            "vulnerable": True,
            "criteria": f"cpe:2.3:a:{vendor}:{product}:*:*:*:*:*:*:*:*",
            "versionStartIncluding": f"{k}.0",
            "versionEndExcluding": f"{k}.{(i + bump) % 50 + 1}",
            "matchCriteriaId": "00000000-0000-0000-0000-000000000000",
        }
        for k in range(1, criteria + 1)
    ]
    cve_id = f"CVE-{2000 + i % 25}-{100000 + i}"
    return {
        "cve": {
            "id": cve_id,
            "sourceIdentifier": "cna@example.org",
            "published": "2024-01-15T08:30:00.000",
            "lastModified": modified,
            "vulnStatus": "Analyzed",
            "descriptions": [{"lang": "en", "value": f"Generated flaw number {i} in {product}."}],
            "metrics": {
                "cvssMetricV31": [
                    {
                        "source": "nvd@nist.gov",
                        "type": "Primary",
                        "cvssData": {
                            "version": "3.1",
                            "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                            "baseScore": 9.8,
                            "baseSeverity": "CRITICAL",
                        },
                    }
                ]
            },
            "weaknesses": [
                {
                    "source": "nvd@nist.gov",
                    "type": "Primary",
                    "description": [{"lang": "en", "value": f"CWE-{i % 900 + 1}"}],
                }
            ],
            "configurations": [
                {"nodes": [{"operator": "OR", "negate": False, "cpeMatch": matches}]}
            ],
            "references": [{"url": f"https://example.org/advisories/{cve_id}"}],
        }
    }


def write_feed(path: Path, count: int, criteria: int, *, update_every: int = 0) -> None:
    """The NVD 2.0 document, written item by item (the generator keeps memory flat too)."""
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
        fh.write(
            f'{{"resultsPerPage":{count},"startIndex":0,"totalResults":{count},'
            '"format":"NVD_CVE","version":"2.0","timestamp":"2024-03-01T00:00:00.000",'
            '"vulnerabilities":['
        )
        for i in range(count):
            newer = update_every and i % update_every == 0
            modified = "2024-03-01T00:00:00.000" if newer else "2024-02-01T10:00:00.000"
            fh.write(
                ("," if i else "") + json.dumps(_cve(i, criteria, modified, 7 if newer else 0))
            )
        fh.write("]}")


def child(db: str, feed: str) -> None:
    """Import ``feed`` into ``db`` and print the step's figures."""
    engine = make_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    [summary] = import_paths(engine, [Path(feed)], FeedKind.NVD)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(
        json.dumps(
            {**summary.as_dict(), "seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1)}
        )
    )


def _run_child(db: Path, feed: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(db), str(feed)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    """Generate, import twice, print one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cves", type=int, default=300_000)
    parser.add_argument("--criteria", type=int, default=3)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        first, second = root / "nvd-full.json.gz", root / "nvd-update.json.gz"
        started = time.perf_counter()
        write_feed(first, args.cves, args.criteria)
        write_feed(second, args.cves, args.criteria, update_every=10)
        generated = time.perf_counter() - started
        db = root / "vulndb.db"
        engine = make_engine(f"sqlite:///{db}")
        upgrade_database(engine)
        engine.dispose()
        initial = _run_child(db, first)
        update = _run_child(db, second)
        result = {
            "cves": args.cves,
            "criteria_per_cve": args.criteria,
            "feed_gzip_mib": round(first.stat().st_size / 2**20, 1),
            "generate_seconds": round(generated, 1),
            "import_seconds": initial["seconds"],
            "import_records_per_s": round(args.cves / float(initial["seconds"])),  # type: ignore[arg-type]
            "import_peak_rss_mib": initial["peak_rss_mib"],
            "update_seconds": update["seconds"],
            "update_changed": update["updated"],
            "update_unchanged": update["unchanged"],
            "update_peak_rss_mib": update["peak_rss_mib"],
            "db_mib": round(db.stat().st_size / 2**20, 1),
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
