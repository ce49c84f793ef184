"""Benchmark: the full Linux baseline on this host, side by side with lynis and OpenSCAP.

    .venv/bin/python bench/baseline_local.py [--repeat 5] [--profile linux] [--table]
        [--oscap-ds PATH] [--oscap-profile ID]

Goal (issue 7): the full Linux profile on this host in under 5 s. Measured three ways:

* ours, warm: ``run_profile`` of every rule on ``LocalCollector`` in this process (median of
  ``--repeat`` runs; the caches are per run, so every run reads the host again);
* ours, cold: the whole command ``shaobing baseline check --profile linux --json FILE`` in
  a fresh process (interpreter start and imports included), once;
* the anchors, run once each in the same script: ``lynis audit system --quick`` (Debian
  package; its own report file counts the tests it ran) and ``oscap xccdf eval`` of the SCAP
  Security Guide datastream for the nearest Debian release shipped by ``ssg-debderived``
  with its standard profile (results by status from the XCCDF result file).

``--table`` also prints a coverage table: for each topic, how many checks of each tool fall
in it (keywords over rule ids and titles, lynis test ids and descriptions, SSG rule ids), so
what one tool checks that the others do not stands out. Prints one JSON line first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaobing.baseline.collectors.filesystem import LocalCollector
from shaobing.baseline.engine import run_profile
from shaobing.baseline.loader import get_profile, raw_profiles
from shaobing.baseline.probes import Context

SSG = Path("/usr/share/xml/scap/ssg/content")
XCCDF_NS = "{http://checklists.nist.gov/xccdf/1.2}"
# topic → keyword regex, matched case-insensitively on "id title/description"
TOPICS = {
    "口令策略/复杂度/有效期": (
        r"passw|pwquality|pass_(max|min|warn)|remember|pwhistory|crypt|hash|login\.defs"
    ),
    "登录失败处理/锁定": r"faillock|tally|lockout|deny|unlock",
    "账户(多余/重复/空口令/UID0)": r"account|uid|empty|duplicate|user|group|shell|inactive",
    "sudo/su/提权": r"sudo|\bsu\b|wheel|pam_wheel|priv",
    "SSH 服务": r"ssh",
    "会话超时/umask/横幅": r"tmout|timeout|umask|banner|issue|motd",
    "文件权限": r"perm|chmod|owner|mode|world.?writ|sticky|suid|sgid|file_",
    "审计(auditd)": r"audit",
    "日志/远程转发/留存": r"log|syslog|journal|rotate|retention",
    "时间同步": r"time|ntp|chrony",
    "不必要服务/端口": (
        r"service|telnet|rsh|tftp|xinetd|avahi|cups|nfs|rpcbind|snmp|port|listen|inetd|ypbind|talk"
    ),
    "内核网络参数": (
        r"sysctl|ip_forward|redirect|source_route|martian|syncookie|rp_filter|icmp|accept_ra|net\."
    ),
    "内核加固/core dump": r"core|dump|aslr|randomize|kptr|dmesg|ptrace|kernel|krnl|module",
    "补丁/软件包": r"patch|update|upgrade|package|pkgs|apt|yum|dnf",
    "恶意代码防范": r"malw|clamav|antivirus|rkhunter|chkrootkit|aide|integrity|fint",
    "启动/引导": r"boot|grub",
    "挂载/分区": r"mount|partition|tmp|strg|usb|storage",
    "防火墙": r"firewall|iptables|nftables|ufw|fire",
    "数据库(MySQL/PG/Redis)": r"mysql|mariadb|postgres|redis|dbs",
    "Web 中间件(nginx/Apache/Tomcat)": r"nginx|apache|httpd|tomcat|http|php",
    "MAC(SELinux/AppArmor)": r"selinux|apparmor|macf",
}


def _topic_counts(items: list[str]) -> dict[str, int]:
    out = {}
    for topic, pattern in TOPICS.items():
        regex = re.compile(pattern, re.IGNORECASE)
        out[topic] = sum(1 for item in items if regex.search(item))
    return out


def _ours_warm(profile_name: str, repeat: int) -> tuple[float, dict[str, int], int]:
    profile = get_profile(profile_name)
    times = []
    counts: dict[str, int] = {}
    for _ in range(repeat):
        start = time.perf_counter()
        report = asyncio.run(run_profile(profile, Context(host=LocalCollector())))
        times.append(time.perf_counter() - start)
        counts = report.counts()
    return statistics.median(times), counts, len(profile.rules)


def _ours_cold(profile_name: str) -> float:
    shaobing = Path(sys.executable).parent / "shaobing"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [
                str(shaobing),
                "baseline",
                "check",
                "--profile",
                profile_name,
                "--json",
                f"{tmp}/o.json",
            ],
            capture_output=True,
            check=False,
        )
        return time.perf_counter() - start


def _lynis() -> dict[str, object] | None:
    lynis = shutil.which("lynis") or (
        "/usr/sbin/lynis" if Path("/usr/sbin/lynis").exists() else None
    )
    if lynis is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.dat"
        start = time.perf_counter()
        subprocess.run(
            [
                lynis,
                "audit",
                "system",
                "--quick",
                "--no-colors",
                "--logfile",
                f"{tmp}/l.log",
                "--report-file",
                str(report),
            ],
            capture_output=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        text = report.read_text(encoding="utf-8", errors="replace") if report.exists() else ""
    executed: list[str] = []
    warnings = suggestions = 0
    for line in text.splitlines():
        if line.startswith("tests_executed="):
            executed = [x for x in line.split("=", 1)[1].split("|") if x]
        warnings += line.startswith("warning[]=")
        suggestions += line.startswith("suggestion[]=")
    described = {}
    listing = subprocess.run(
        [lynis, "show", "tests"], capture_output=True, text=True, check=False
    ).stdout
    for line in listing.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and "-" in parts[0]:
            described[parts[0]] = parts[2]
    items = [f"{t} {described.get(t, '')}" for t in executed]
    return {
        "seconds": round(seconds, 2),
        "tests": len(executed),
        "warnings": warnings,
        "suggestions": suggestions,
        "items": items,
    }


def _nearest_ds() -> Path | None:
    for name in ("ssg-debian12-ds.xml", "ssg-debian11-ds.xml", "ssg-debian10-ds.xml"):
        if (SSG / name).exists():
            return SSG / name
    return None


def _widened(ds: Path, tmp: str) -> Path:
    """A copy of the Debian 11 datastream whose platform check also accepts Debian 12.

    ssg-debian 0.1.65 (bookworm) ships no Debian 12 content, and the Debian 11 content marks
    every rule notapplicable on Debian 12; widening the /etc/debian_version pattern lets its
    checks run here, which is what a side-by-side comparison needs.
    """
    text = ds.read_text(encoding="utf-8")
    copy = Path(tmp) / ds.name
    copy.write_text(text.replace("^11.[0-9]+$", "^1[12].[0-9]+$"), encoding="utf-8")
    return copy


def _oscap(ds: Path | None, profile: str) -> dict[str, object] | None:
    if shutil.which("oscap") is None or ds is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        release = Path("/etc/debian_version").read_text(encoding="utf-8").split(".")[0]
        if "debian11" in ds.name and release.strip() == "12":
            ds = _widened(ds, tmp)
        results = Path(tmp) / "results.xml"
        start = time.perf_counter()
        subprocess.run(
            ["oscap", "xccdf", "eval", "--profile", profile, "--results", str(results), str(ds)],
            capture_output=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        counts: dict[str, int] = {}
        items: list[str] = []
        if results.exists():
            # our own oscap output file, not untrusted input
            tree = ElementTree.parse(results)
            for node in tree.iter(f"{XCCDF_NS}rule-result"):
                status = node.findtext(f"{XCCDF_NS}result") or "unknown"
                counts[status] = counts.get(status, 0) + 1
                if status != "notselected":
                    items.append(
                        node.get("idref", "").removeprefix("xccdf_org.ssgproject.content_rule_")
                    )
    return {
        "seconds": round(seconds, 2),
        "datastream": ds.name,
        "profile": profile,
        "results": counts,
        "items": items,
    }


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", default="linux")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--oscap-ds", type=Path, default=None)
    parser.add_argument("--oscap-profile", default="xccdf_org.ssgproject.content_profile_standard")
    args = parser.parse_args()
    warm, counts, rules = _ours_warm(args.profile, args.repeat)
    cold = _ours_cold(args.profile)
    lynis = _lynis()
    oscap = _oscap(args.oscap_ds or _nearest_ds(), args.oscap_profile)
    all_rules = raw_profiles()
    ours_items = [
        f"{rid} {item.get('title', '')}"
        for raw in all_rules.values()
        for rid, item in raw.rules.items()
    ]
    line = {
        "bench": "baseline_local",
        "profile": args.profile,
        "rules": rules,
        "results": counts,
        "ours_warm_s": round(warm, 3),
        "ours_cold_cli_s": round(cold, 2),
        "goal_s": 5,
        "lynis_s": lynis["seconds"] if lynis else None,
        "lynis_tests": lynis["tests"] if lynis else None,
        "oscap_s": oscap["seconds"] if oscap else None,
        "oscap_results": oscap["results"] if oscap else None,
        "oscap_datastream": oscap["datastream"] if oscap else None,
        "ratio_vs_lynis": round(cold / float(str(lynis["seconds"])), 3)
        if lynis and lynis["seconds"]
        else None,
        "ratio_vs_oscap": round(cold / float(str(oscap["seconds"])), 3)
        if oscap and oscap["seconds"]
        else None,
    }
    print(json.dumps(line, ensure_ascii=False))
    if args.table:
        ours = _topic_counts(ours_items)
        ly = _topic_counts(list(lynis["items"]) if lynis else [])  # type: ignore[call-overload]
        os_ = _topic_counts(list(oscap["items"]) if oscap else [])  # type: ignore[call-overload]
        print("| 主题 | Shaobing（全部基线） | lynis | oscap (SSG) |")
        print("|---|---:|---:|---:|")
        for topic in TOPICS:
            print(f"| {topic} | {ours[topic]} | {ly[topic]} | {os_[topic]} |")


if __name__ == "__main__":
    main()
