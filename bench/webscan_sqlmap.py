"""Benchmark: the SQL injection check (web.sqli) against sqlmap (issue 6, B7).

    .venv/bin/python bench/webscan_sqlmap.py          # root for MariaDB; needs sqlmap
    .venv/bin/python bench/webscan_sqlmap.py --only sqli-time --delay 2

Starts the vulnerable application (``tests/targets/vulnapp``) on 127.0.0.1 with SQLite,
plus MariaDB and PostgreSQL (the real test servers of ``tests/services``) when they are
installed, and takes every SQL-injection entry of its manifest that the running instance
serves: the vulnerable endpoints and their parameterised ``/v2`` twins, in every parameter
location (query, form, JSON, cookie, header). For each entry, side by side:

* Shaobing: ``SqlInjectionCheck().test(Probe(state, request, point))`` on the entry's
  request and parameter, in this already started process, with the engine's real scan
  context (scope gate, rate limiter at 0 = unlimited), a ``WebClient`` with the web scan's
  default timeout (10 s) and the check's default delay D = 2 s (``--delay``);
* sqlmap (Debian package) at its default level 1 and risk 1, each run with a fresh
  ``--output-dir``:

      query    sqlmap -u 'URL?p=v' -p p --batch --output-dir DIR
      form     sqlmap -u URL --data 'p=v' -p p --batch --output-dir DIR
      json     sqlmap -u URL --data '{"p": "v"}' -p p --batch --output-dir DIR
      cookie   sqlmap -u URL --cookie 'p=v' -p p --level 2 --answers 'URI injections=N' ...
      header   sqlmap -u URL --headers 'P: v' -p P --level 3 --answers 'URI injections=N' ...
               (an empty v: --headers 'P: *' without -p, sqlmap skips empty headers)

  (cookies are tested from level 2 and headers from level 3; without a query string
  sqlmap would otherwise also inject into the URL path — about 400–2,400 extra requests
  per endpoint — which the ``--answers`` declines; ``-p`` names the one parameter the
  entry is about, as our check tests one parameter).

Requests are counted by the application itself (``/__test__/events``, reset before each
run); seconds are wall time (sqlmap: the whole process; ours: the ``test()`` call — one
more run of all entries in a fresh interpreter, ``ours_cold_total_s``, shows what the
interpreter start and imports add once per scan). Found parameters: ours, the parameter of
the issue; sqlmap, its ``Parameter: … (…)`` summary lines. The order alternates per
entry (ours first, then sqlmap first, ...).

Prints one JSON line per entry and one summary line. Target (issue 6): the same
injectable parameters found, at most 0.5 × sqlmap's requests and time, and nothing on the
safe twins. Only 127.0.0.1 is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.targets / services

from tests.targets.vulnapp.manifest import Entry, load_manifest
from tests.web.sqli_targets import entry_request, entry_value

from shaobing.cli.templates import build_context
from shaobing.web.checks.base import Probe, ScanState
from shaobing.web.checks.sqli import SqlInjectionCheck
from shaobing.web.client import Budget, WebClient
from shaobing.web.issues import IssueSink
from shaobing.web.urls import WebScope

# The web scan's default request timeout (web/scan.py DEFAULT_TIMEOUT).
TIMEOUT = 10.0
# Longest one sqlmap run may take (organisation-defined: its time-based tests wait 5 s
# per delayed request, a few dozen at most).
SQLMAP_TIMEOUT = 900.0
SQLMAP_LEVEL = {"cookie": 2, "header": 3}
_PARAMETER = re.compile(r"^Parameter: (.+?) \(([^()]*(?:\([^()]*\))?[^()]*)\)\s*$", re.MULTILINE)
_TYPE = re.compile(r"^\s+Type: (.+)$", re.MULTILINE)
_MARKER = re.compile(r" #\d+\*$")  # "X-Search-Keyword #1*": a custom-marker parameter
_LOCATIONS = {
    "GET": "query",
    "POST": "form",
    "Cookie": "cookie",
    "(custom) POST": "json",
    "(custom) HEADER": "header",
}


# --------------------------------------------------------------------------- the target


@contextlib.contextmanager
def start_app(*, databases: bool) -> Iterator[Any]:
    """The vulnerable application with SQLite and, where installed, MariaDB/PostgreSQL."""
    from tests.services.dbproc import start_with_retries  # noqa: PLC0415
    from tests.services.mariadb import start_mariadb  # noqa: PLC0415
    from tests.services.postgres import ServiceUnavailable, start_postgres  # noqa: PLC0415
    from tests.targets.vulnapp import fixture  # noqa: PLC0415

    with contextlib.ExitStack() as stack:
        mysql_dsn = pg_dsn = None
        if databases:
            try:
                maria = start_with_retries(start_mariadb)
                stack.callback(maria.stop)
                mysql_dsn = stack.enter_context(fixture._mariadb_database(maria))
            except (ServiceUnavailable, RuntimeError) as exc:
                print(f"MariaDB not used: {exc}", file=sys.stderr)
            try:
                pg = start_postgres()
                stack.callback(pg.stop)
                pg_dsn = stack.enter_context(fixture._postgres_database(pg))
            except (ServiceUnavailable, RuntimeError) as exc:
                print(f"PostgreSQL not used: {exc}", file=sys.stderr)
        root = Path(tempfile.mkdtemp(prefix="shaobing-bench-vulnapp-"))
        stack.callback(shutil.rmtree, root, True)
        app = fixture.start_vulnapp(root, mysql_dsn=mysql_dsn, pg_dsn=pg_dsn)
        stack.callback(app.stop)
        yield app


def entries_for(app: Any, only: str | None) -> list[Entry]:
    """The manifest's SQL injection entries this instance serves."""
    chosen = [
        e
        for e in load_manifest().entries
        if e.vuln_class.startswith("sqli-") and e.available(app.backends)
    ]
    return [e for e in chosen if only is None or only in e.id]


# --------------------------------------------------------------------------- the two tools


def make_state(url: str, delay: int) -> ScanState:
    """A scan state whose scope is the application's origin (127.0.0.1 only)."""
    ctx = build_context([url], TIMEOUT)
    scope = WebScope.for_start(url.rstrip("/") + "/")
    client = WebClient(ctx, scope, budget=Budget(), timeout=TIMEOUT)
    return ScanState(client=client, sink=IssueSink(), options={"time_delay": delay})


def run_ours(app: Any, entry: Entry, delay: int) -> dict[str, Any]:
    """Our check on the entry's parameter; its figures."""
    request, point = entry_request(app.url, entry)
    state = make_state(app.url, delay)
    app.reset()
    started = time.perf_counter()
    issues = list(SqlInjectionCheck().test(Probe(state, request, point)))
    seconds = time.perf_counter() - started
    served = app.events()["requests"]
    state.client.close()
    found = sorted(f"{entry.location}:{entry.parameter}" for _ in issues)
    return {
        "seconds": seconds,
        "requests": served,
        "client_requests": state.client.requests,
        "found": found,
        "technique": issues[0].extra["technique"] if issues else [],
        "dbms": issues[0].extra["dbms"] if issues else None,
    }


def sqlmap_command(sqlmap: str, app: Any, entry: Entry, output: Path) -> list[str]:
    """sqlmap's command line for the entry (default level and risk unless the location
    needs more: cookies 2, headers 3)."""
    assert entry.parameter is not None and entry.location is not None
    name, value, url = entry.parameter, entry_value(entry, app.url), app.url + entry.path
    command = [sqlmap]
    if entry.location == "query":
        command += ["-u", f"{url}?{urlencode({name: value})}"]
    else:
        command += ["-u", url]
    if entry.location == "form":
        command += ["--data", urlencode({name: value})]
    elif entry.location == "json":
        command += ["--data", json.dumps({name: value}, ensure_ascii=False)]
    elif entry.location == "cookie":
        command += ["--cookie", f"{name}={value}"]
    elif entry.location == "header" and not value:
        # sqlmap leaves a header with an empty value out of its tests ("all testable
        # parameters you provided are not present"): its custom marker names it instead.
        command += ["--headers", f"{name}: *"]
    elif entry.location == "header":
        command += ["--headers", f"{name}: {value}"]
    if entry.location != "header" or value:
        command += ["-p", name]
    level = SQLMAP_LEVEL.get(entry.location)
    if level is not None:
        command += ["--level", str(level), "--answers", "URI injections=N"]
    return [*command, "--batch", "--output-dir", str(output)]


def parse_sqlmap(text: str) -> tuple[list[str], list[str]]:
    """The injectable parameters (``location:name``) and techniques sqlmap reports."""
    found = set()
    for shown, place in _PARAMETER.findall(text):
        location, name = _LOCATIONS.get(place, place), shown
        if shown.startswith("JSON "):
            location, name = "json", shown[len("JSON ") :]
        found.add(f"{location}:{_MARKER.sub('', name)}")
    return sorted(found), sorted(set(_TYPE.findall(text)))


def run_sqlmap(sqlmap: str, app: Any, entry: Entry) -> dict[str, Any]:
    """sqlmap on the entry; its figures."""
    with tempfile.TemporaryDirectory(prefix="shaobing-bench-sqlmap-") as name:
        command = sqlmap_command(sqlmap, app, entry, Path(name))
        app.reset()
        started = time.perf_counter()
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=SQLMAP_TIMEOUT,
            check=False,
            cwd=name,
        )
        seconds = time.perf_counter() - started
        served = app.events()["requests"]
    found, techniques = parse_sqlmap(done.stdout)
    shown = ["sqlmap", *("DIR" if part == name else part for part in command[1:])]
    shown = [part.replace(app.url, "URL") for part in shown]
    return {
        "seconds": seconds,
        "requests": served,
        "found": found,
        "technique": techniques,
        "exit_code": done.returncode,
        "command": shlex.join(shown),
    }


def run_ours_cold(app: Any, entries: list[Entry], delay: int) -> dict[str, Any]:
    """All entries in a fresh interpreter: start-up and imports counted once."""
    spec = {"url": app.url, "ids": [e.id for e in entries], "delay": delay}
    app.reset()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=SQLMAP_TIMEOUT * 4,
        check=True,
    )
    seconds = time.perf_counter() - started
    result: dict[str, Any] = json.loads(done.stdout)
    result["seconds"] = seconds
    result["requests"] = app.events()["requests"]
    return result


class _Remote:
    """The part of a running application the child needs: its address."""

    def __init__(self, url: str) -> None:
        self.url = url


def child(spec_text: str) -> int:
    """``--child``: our check on the given entries, one after the other."""
    spec = json.loads(spec_text)
    wanted = set(spec["ids"])
    entries = [e for e in load_manifest().entries if e.id in wanted]
    app = _Remote(spec["url"])
    found = []
    for entry in entries:
        request, point = entry_request(app.url, entry)
        state = make_state(app.url, spec["delay"])
        for issue in SqlInjectionCheck().test(Probe(state, request, point)):
            found.append(f"{entry.id} {issue.parameter}")
        state.client.close()
    print(json.dumps({"found": len(found)}))
    return 0


# --------------------------------------------------------------------------- the comparison


def compare(sqlmap: str | None, app: Any, entry: Entry, index: int, delay: int) -> dict[str, Any]:
    """Both tools on one entry, in alternating order."""
    steps = ["ours", "sqlmap"] if index % 2 == 0 else ["sqlmap", "ours"]
    results: dict[str, dict[str, Any]] = {}
    for step in steps:
        print(f"{entry.id}: {step}", file=sys.stderr, flush=True)
        if step == "ours":
            results["ours"] = run_ours(app, entry, delay)
        elif sqlmap is not None:
            results["sqlmap"] = run_sqlmap(sqlmap, app, entry)
    ours, theirs = results["ours"], results.get("sqlmap")
    expected = [f"{entry.location}:{entry.parameter}"] if entry.vulnerable else []
    record: dict[str, Any] = {
        "benchmark": "webscan_sqlmap",
        "entry": entry.id,
        "class": entry.vuln_class,
        "vulnerable": entry.vulnerable,
        "dbms": entry.dbms,
        "ours_found": ours["found"],
        "ours_correct": ours["found"] == expected,
        "ours_technique": ours["technique"],
        "ours_requests": ours["requests"],
        "ours_s": round(ours["seconds"], 3),
    }
    if theirs is not None:
        record |= {
            "sqlmap_found": theirs["found"],
            "sqlmap_correct": theirs["found"] == expected,
            "sqlmap_technique": theirs["technique"],
            "sqlmap_requests": theirs["requests"],
            "sqlmap_s": round(theirs["seconds"], 3),
            "found_equal": ours["found"] == theirs["found"],
            "ratio_requests": round(ours["requests"] / max(1, theirs["requests"]), 3),
            "ratio_s": round(ours["seconds"] / theirs["seconds"], 3),
            "sqlmap_command": theirs["command"],
        }
    return record


def summary(records: list[dict[str, Any]], cold: dict[str, Any] | None) -> dict[str, Any]:
    """Totals and ratios over every entry."""
    ours_requests = sum(r["ours_requests"] for r in records)
    ours_s = sum(r["ours_s"] for r in records)
    result: dict[str, Any] = {
        "benchmark": "webscan_sqlmap",
        "summary": True,
        "entries": len(records),
        "vulnerable": sum(r["vulnerable"] for r in records),
        "ours_correct": sum(r["ours_correct"] for r in records),
        "ours_false_positives": sum(bool(r["ours_found"]) and not r["vulnerable"] for r in records),
        "ours_requests": ours_requests,
        "ours_s": round(ours_s, 2),
    }
    if cold is not None:
        result["ours_cold_total_s"] = round(cold["seconds"], 2)
        result["ours_cold_requests"] = cold["requests"]
    with_sqlmap = [r for r in records if "sqlmap_requests" in r]
    if with_sqlmap:
        theirs_requests = sum(r["sqlmap_requests"] for r in with_sqlmap)
        theirs_s = sum(r["sqlmap_s"] for r in with_sqlmap)
        result |= {
            "sqlmap_correct": sum(r["sqlmap_correct"] for r in with_sqlmap),
            "sqlmap_false_positives": sum(
                bool(r["sqlmap_found"]) and not r["vulnerable"] for r in with_sqlmap
            ),
            "found_equal": sum(r["found_equal"] for r in with_sqlmap),
            "ours_only": sorted(
                r["entry"] for r in with_sqlmap if r["ours_found"] and not r["sqlmap_found"]
            ),
            "sqlmap_only": sorted(
                r["entry"] for r in with_sqlmap if r["sqlmap_found"] and not r["ours_found"]
            ),
            "sqlmap_requests": theirs_requests,
            "sqlmap_s": round(theirs_s, 2),
            "ratio_requests": round(ours_requests / max(1, theirs_requests), 3),
            "ratio_s": round(ours_s / theirs_s, 3),
            "median_ratio_requests": round(
                statistics.median(r["ratio_requests"] for r in with_sqlmap), 3
            ),
            "median_ratio_s": round(statistics.median(r["ratio_s"] for r in with_sqlmap), 3),
            "max_ratio_requests": max(r["ratio_requests"] for r in with_sqlmap),
        }
        if cold is not None:
            result["ratio_cold_s"] = round(cold["seconds"] / theirs_s, 3)
    return result


def sqlmap_version(sqlmap: str) -> str:
    """``sqlmap --version``."""
    done = subprocess.run([sqlmap, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "?"


def main() -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="entries whose id contains this text")
    parser.add_argument("--delay", type=int, default=2, help="our time-based delay D (s)")
    parser.add_argument("--sqlite-only", action="store_true", help="no MariaDB/PostgreSQL")
    parser.add_argument("--no-cold", action="store_true", help="skip the fresh-interpreter run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    sqlmap = shutil.which("sqlmap")
    if sqlmap is None:
        message = "sqlmap not installed: apt-get install -y sqlmap (Debian package)"
        print(message, file=sys.stderr)
        print(json.dumps({"benchmark": "webscan_sqlmap", "skipped": message}))
        return 0
    with start_app(databases=not args.sqlite_only) as app:
        entries = entries_for(app, args.only)
        print(
            f"{len(entries)} entries, backends {sorted(app.backends)}, {sqlmap_version(sqlmap)}",
            file=sys.stderr,
        )
        records = []
        for index, entry in enumerate(entries):
            record = compare(sqlmap, app, entry, index, args.delay)
            records.append(record)
            print(json.dumps(record, ensure_ascii=False), flush=True)
        cold = None if args.no_cold else run_ours_cold(app, entries, args.delay)
        result = summary(records, cold)
        result["backends"] = sorted(app.backends)
        result["sqlmap_version"] = sqlmap_version(sqlmap)
        result["delay_s"] = args.delay
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
