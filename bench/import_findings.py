"""Benchmark: importing 100,000 findings with de-duplication into SQLite (issue 3).

Generates a Nuclei JSONL file and a Nessus (.nessus) file, each with N findings over 5,000
hosts, and for each format measures, in a fresh child process per step (so peak memory is
that step's own):

1. first import into an empty database          (target: <= 30 s, <= 1 GB peak RSS)
2. re-import of the same file                    (target: <= 15 s, zero changes)
3. import of the file with 10% of findings gone  (target: exactly 10% marked fixed)

The anchor named in the issue, DefectDojo, cannot be run side by side here (it needs a
Django deployment with its own services); its users report about 10 minutes for 30,000
findings, which is printed as the reference figure (findings per second).

    .venv/bin/python bench/import_findings.py [--findings 100000] [--hosts 5000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

SEVERITIES = ["critical", "high", "medium", "low", "info"]
DEFECTDOJO_REPORTED = 30_000 / 600  # findings per second (10 minutes for 30,000)


def host_of(i: int, hosts: int) -> str:
    """A loopback address per host index (documentation-safe: never a real target)."""
    h = i % hosts
    return f"127.{h // 250 + 1}.{h % 250 + 1}.1"


def write_nuclei(path: Path, count: int, hosts: int, skip_every: int = 0) -> None:
    """Nuclei -jsonl output; when ``skip_every`` > 0, every ``skip_every``-th template's
    findings are left out on every host (so each host is still in the result and its
    absent findings are inside the result's coverage)."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            if skip_every and (i // hosts) % skip_every == 0:
                continue
            host = host_of(i, hosts)
            template = f"bench-template-{(i // hosts) % 200}"
            fh.write(
                json.dumps(
                    {
                        "template-id": template,
                        "matcher-name": f"m{i // (hosts * 200)}",
                        "info": {
                            "name": f"基准漏洞 {template}",
                            "severity": SEVERITIES[i % 5],
                            "description": "generated for the benchmark",
                            "classification": {
                                "cve-id": [f"CVE-2024-{10000 + i % 5000}"],
                                "cwe-id": ["cwe-79"],
                            },
                        },
                        "type": "http",
                        "host": f"http://{host}:8080",
                        "matched-at": f"http://{host}:8080/p/{i}",
                        "ip": host,
                        "timestamp": "2026-11-21T10:00:00.000000000+08:00",
                        "request": "GET /p HTTP/1.1\r\nHost: x\r\n\r\n",
                        "response": "HTTP/1.1 200 OK",
                    },
                    ensure_ascii=False,
                )
            )
            fh.write("\n")


def write_nessus(path: Path, count: int, hosts: int, skip_every: int = 0) -> None:
    """A .nessus (NessusClientData_v2) file; every ``skip_every``-th item left out when > 0."""
    per_host = count // hosts
    with path.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" ?>\n<NessusClientData_v2><Report name="bench">\n')
        for h in range(hosts):
            host = host_of(h, hosts)
            fh.write(
                f'<ReportHost name="{host}"><HostProperties>'
                f'<tag name="host-ip">{host}</tag>'
                '<tag name="operating-system">Linux Kernel 5.10</tag></HostProperties>\n'
            )
            for k in range(per_host):
                i = h * per_host + k
                if skip_every and i % skip_every == 0:
                    continue
                sev = (4, 3, 2, 1, 0)[i % 5]
                fh.write(
                    f'<ReportItem port="{8000 + k % 50}" svc_name="www" protocol="tcp" '
                    f'severity="{sev}" pluginID="{100000 + k}" pluginName="Bench {k}" '
                    f'pluginFamily="Web Servers"><description>{escape("描述 & detail")}'
                    f"</description><solution>Upgrade.</solution><risk_factor>High"
                    f"</risk_factor><cve>CVE-2023-{1000 + k}</cve>"
                    f"<cvss3_vector>CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H</cvss3_vector>"
                    f"<plugin_output>output {i}</plugin_output></ReportItem>\n"
                )
            fh.write("</ReportHost>\n")
        fh.write("</Report></NessusClientData_v2>\n")


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from shaobing.core.db import make_engine, session_scope, upgrade_database, is_initialised
from shaobing.engagements.models import Engagement
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from shaobing.findings.ingest import IngestOptions
from shaobing.findings.service import import_file
url, path, fmt = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
engine = make_engine(url)
if not is_initialised(engine):
    upgrade_database(engine)
    with session_scope(engine) as s:
        c = add_client(s, "基准客户")
        create_engagement(s, c, EngagementInput(name="基准", scope=["127.0.0.0/8"]))
t0 = time.perf_counter()
with session_scope(engine) as s:
    eng = s.get_one(Engagement, 1)
    summary = import_file(s, eng, path, fmt=fmt, options=IngestOptions(actor="bench"))
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": round(seconds, 2), "peak_mb": round(peak_mb, 1)}
                 | summary.as_dict()))
"""


def run_step(url: str, path: Path, fmt: str) -> dict[str, object]:
    """Import ``path`` in a fresh interpreter and return its timing and summary."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(path), fmt],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"import step failed ({fmt}):\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Run the benchmark for both formats and print one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=5_000)
    parser.add_argument("--formats", default="nuclei,nessus")
    args = parser.parse_args()
    report: dict[str, object] = {
        "benchmark": "import_findings",
        "findings": args.findings,
        "hosts": args.hosts,
        "defectdojo_reported_findings_per_s": DEFECTDOJO_REPORTED,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wanted = set(args.formats.split(","))
        for fmt, writer, suffix in (
            ("nuclei", write_nuclei, "jsonl"),
            ("nessus", write_nessus, "nessus"),
        ):
            if fmt not in wanted:
                continue
            full, partial = root / f"full.{suffix}", root / f"partial.{suffix}"
            writer(full, args.findings, args.hosts)
            writer(partial, args.findings, args.hosts, skip_every=10)
            url = f"sqlite:///{root / (fmt + '.db')}"
            first = run_step(url, full, fmt)
            again = run_step(url, full, fmt)
            fewer = run_step(url, partial, fmt)
            report[fmt] = {
                "first": first,
                "reimport": again,
                "ten_percent_absent": fewer,
                "findings_per_s": round(args.findings / float(first["seconds"]), 1),  # type: ignore[arg-type]
                "ratio_vs_defectdojo_reported": round(
                    args.findings / float(first["seconds"]) / DEFECTDOJO_REPORTED, 1
                ),  # type: ignore[arg-type]
                "targets_met": {
                    "first_le_30s": float(first["seconds"]) <= 30,  # type: ignore[arg-type]
                    "peak_le_1gb": float(first["peak_mb"]) <= 1024,  # type: ignore[arg-type]
                    "reimport_le_15s": float(again["seconds"]) <= 15,  # type: ignore[arg-type]
                    "reimport_zero_changes": again["created"]
                    == again["updated"]
                    == again["closed"]
                    == again["reopened"]
                    == 0,
                    "closed_exactly_10pct": fewer["closed"] == args.findings // 10,
                },
            }
    report["child_peak_rss_mb_max"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
    )
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
