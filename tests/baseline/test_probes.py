"""Every probe type's verdicts and observed texts, the combinators, applicability and compare.

Targets are real: file trees, this host (/proc, dpkg status, sockets it opens on loopback,
commands), a Redis and a PostgreSQL started on loopback, an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from shaobing.baseline.collectors.base import HostCollector
from shaobing.baseline.collectors.database import open_database
from shaobing.baseline.collectors.filesystem import LocalCollector, TreeCollector
from shaobing.baseline.compare import describe, matches
from shaobing.baseline.engine import evaluate_check, evaluate_rule, run_profile
from shaobing.baseline.http import fetch
from shaobing.baseline.model import Check, Compare, Profile, Rule
from shaobing.baseline.probes import Context, Outcome, expected_text
from shaobing.baseline.results import Status
from shaobing.baseline.system import detect_os, parse_dpkg_status, parse_proc_net
from shaobing.core.i18n import t
from tests.services.dbproc import start_with_retries
from tests.services.postgres import PostgresServer, ServiceUnavailable
from tests.services.redis import STRONG_PASSWORD, RedisServers, start_redis

CHECK: TypeAdapter[Any] = TypeAdapter(Check)

DEBIAN = 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'


class LiveTree(TreeCollector):
    """A tree that stands for a running host: /proc and listeners come from its files."""

    live = True


def tree(root: Path, files: dict[str, str], *, live: bool = False) -> TreeCollector:
    """A tree with ``files`` (path → text)."""
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return LiveTree(root) if live else TreeCollector(root)


def probe(host: HostCollector | None, check: dict[str, Any], **ctx: Any) -> Outcome:
    """Evaluate one check (validated like a rule's) on ``host``."""
    return asyncio.run(evaluate_check(CHECK.validate_python(check), Context(host=host, **ctx)))


def status(host: HostCollector | None, check: dict[str, Any], **ctx: Any) -> Status:
    """Only the verdict."""
    return probe(host, check, **ctx).status


def rule(check: dict[str, Any], **extra: Any) -> Rule:
    """A complete rule around ``check``."""
    return Rule.model_validate(
        {
            "id": "t.rule.one",
            "title": "测试规则",
            "description": "d",
            "rationale": "r",
            "severity": "中",
            "check": check,
            "expected": "期望",
            "remediation": {"text": "整改"},
            "references": {"gb22239": ["8.1.4.1"], "control": "身份鉴别"},
            **extra,
        }
    )


# ---- file ---------------------------------------------------------------------------------


def test_file_present_absent_and_comments(tmp_path: Path) -> None:
    host = tree(
        tmp_path,
        {"/etc/issue.net": "# Ubuntu \\n \\l\nAuthorized uses only\n", "/etc/motd": ""},
    )
    found = probe(host, {"type": "file", "path": "/etc/issue.net", "match": r"Authorized"})
    assert (found.status, found.observed) == (
        Status.PASS,
        "/etc/issue.net:2: Authorized uses only",
    )
    # a commented line is not configuration ...
    assert (
        status(host, {"type": "file", "path": "/etc/issue.net", "match": "Ubuntu"}) is Status.FAIL
    )
    # ... unless comments are kept on purpose
    kept = {"type": "file", "path": "/etc/issue.net", "match": "Ubuntu", "comments": ""}
    assert status(host, kept) is Status.PASS
    absent = probe(
        host, {"type": "file", "path": "/etc/issue.net", "match": "uses", "expect": "absent"}
    )
    assert (absent.status, absent.observed) == (
        Status.FAIL,
        "/etc/issue.net:2: Authorized uses only",
    )
    clean = probe(host, {"type": "file", "path": "/etc/motd", "match": "x", "expect": "absent"})
    assert (clean.status, clean.observed) == (Status.PASS, "未发现匹配的配置行")
    none = probe(host, {"type": "file", "path": "/etc/motd", "match": "x"})
    assert (none.status, none.observed) == (Status.FAIL, "/etc/motd 中未发现要求的配置")


def test_file_missing_statuses(tmp_path: Path) -> None:
    host = tree(tmp_path, {})
    base = {"type": "file", "path": "/etc/issue.net", "match": "x"}
    missing = probe(host, base)
    assert (missing.status, missing.observed) == (Status.FAIL, "文件不存在：/etc/issue.net")
    assert status(host, {**base, "missing": "na"}) is Status.NA
    assert status(host, {**base, "missing": "pass"}) is Status.PASS


def test_file_group_compare_and_files_all(tmp_path: Path) -> None:
    host = tree(
        tmp_path,
        {
            "/etc/login.defs": "PASS_MAX_DAYS\t99999\n",
            "/etc/profile.d/a.sh": "umask 027\n",
            "/etc/profile.d/b.sh": "UMASK 022\n",
            "/etc/profile.d/c.sh": "echo hi\n",
        },
    )
    days = {
        "type": "file",
        "path": "/etc/login.defs",
        "match": r"^\s*PASS_MAX_DAYS\s+(\d+)",
        "group": 1,
        "compare": {"op": "<=", "value": 90},
    }
    result = probe(host, days)
    assert (result.status, result.observed) == (
        Status.FAIL,
        "/etc/login.defs:1: PASS_MAX_DAYS\t99999",
    )
    umask = {
        "type": "file",
        "path": "/etc/profile.d/*.sh",
        "match": r"^\s*umask\s+(?P<u>\d+)",
        "group": "u",
        "ignore_case": True,
        "compare": {"op": "==", "value": "027"},
    }
    any_file = probe(host, umask)
    assert (any_file.status, any_file.observed) == (Status.PASS, "/etc/profile.d/a.sh:1: umask 027")
    every = probe(host, {**umask, "files": "all"})
    assert every.status is Status.FAIL
    assert every.observed == "/etc/profile.d/b.sh:1: UMASK 022"


def test_file_quotes_at_most_five_lines(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/hosts.equiv": "".join(f"+ host{i}\n" for i in range(8))})
    result = probe(
        host, {"type": "file", "path": "/etc/hosts.equiv", "match": r"^\+", "expect": "absent"}
    )
    assert result.status is Status.FAIL
    assert result.observed.count("/etc/hosts.equiv:") == 5
    assert result.observed.endswith("；另有 3 处")


# ---- setting ------------------------------------------------------------------------------


SSHD = {
    "type": "setting",
    "path": "/etc/ssh/sshd_config",
    "key": "PermitRootLogin",
    "include": "Include",
    "compare": {"op": "in", "value": ["no"]},
}


def test_setting_first_wins_with_drop_in(tmp_path: Path) -> None:
    host = tree(
        tmp_path,
        {
            "/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n",
            "/etc/ssh/sshd_config.d/50-x.conf": "permitrootlogin yes\n",
        },
    )
    result = probe(host, SSHD)
    assert (result.status, result.observed) == (
        Status.FAIL,
        "/etc/ssh/sshd_config.d/50-x.conf:1: permitrootlogin yes",
    )
    assert set(result.paths) == {"/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/50-x.conf"}
    # compared case-sensitively, the drop-in's lower-case key is someone else's
    strict = probe(host, {**SSHD, "ignore_case_key": False})
    assert (strict.status, strict.observed) == (
        Status.PASS,
        "/etc/ssh/sshd_config:2: PermitRootLogin no",
    )
    assert probe(host, {**SSHD, "pick": "last"}).status is Status.PASS
    assert probe(host, {**SSHD, "pick": "all"}).status is Status.FAIL
    assert (
        probe(host, {**SSHD, "pick": "any"}).observed
        == "/etc/ssh/sshd_config:2: PermitRootLogin no"
    )


def test_setting_default_missing_and_no_file(tmp_path: Path) -> None:
    host = tree(
        tmp_path, {"/etc/ssh/sshd_config": "# PermitRootLogin yes\nMatch all\nPermitRootLogin no\n"}
    )
    with_default = probe(host, {**SSHD, "default": "prohibit-password"})
    assert (with_default.status, with_default.observed) == (
        Status.FAIL,
        "未设置 PermitRootLogin（默认值 prohibit-password）",
    )
    good_default = {**SSHD, "default": "no"}
    assert status(host, good_default) is Status.PASS
    unset = probe(host, SSHD)
    assert (unset.status, unset.observed) == (Status.FAIL, "未设置 PermitRootLogin")
    assert status(host, {**SSHD, "missing": "na"}) is Status.NA
    assert status(host, {**SSHD, "expect": "absent"}) is Status.PASS
    gone = probe(tree(tmp_path / "empty", {}), {**SSHD, "default": "no", "missing": "na"})
    assert (gone.status, gone.observed) == (Status.NA, "文件不存在：/etc/ssh/sshd_config")


def test_setting_present_without_compare_and_absent(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/redis/redis.conf": 'rename-command FLUSHALL ""\nbind 127.0.0.1\n'})
    base = {"type": "setting", "path": "/etc/redis/redis.conf", "key": "rename-command"}
    present = probe(host, base)
    assert (present.status, present.observed) == (
        Status.PASS,
        '/etc/redis/redis.conf:1: rename-command FLUSHALL ""',
    )
    assert status(host, {**base, "expect": "absent"}) is Status.FAIL


def test_setting_ini_section_and_nginx_block(tmp_path: Path) -> None:
    host = tree(
        tmp_path,
        {
            "/etc/mysql/my.cnf": "[client]\nlocal-infile = 1\n[mysqld]\nlocal_infile = 0\n",
            "/etc/nginx/nginx.conf": "http { server { listen 80; autoindex on; } }\n",
        },
    )
    ini = {
        "type": "setting",
        "path": "/etc/mysql/my.cnf",
        "syntax": "ini",
        "key": "local-infile",
        "section": "mysqld|mariadb",
        "pick": "last",
        "compare": {"op": "==", "value": 0},
    }
    assert probe(host, ini).observed == "/etc/mysql/my.cnf:4: local_infile = 0"
    assert status(host, {**ini, "section": "client"}) is Status.FAIL
    nginx = {
        "type": "setting",
        "path": "/etc/nginx/nginx.conf",
        "syntax": "nginx",
        "key": "autoindex",
        "section": "server",
        "compare": {"op": "==", "value": "off"},
        "default": "off",
    }
    assert status(host, nginx) is Status.FAIL
    assert status(host, {**nginx, "section": "location"}) is Status.PASS  # default applies


# ---- mode ---------------------------------------------------------------------------------


def test_mode_bits_owner_group_and_missing(tmp_path: Path) -> None:
    host = tree(
        tmp_path,
        {
            "/etc/passwd": "root:x:0:0::/root:/bin/sh\n",
            "/etc/group": "root:x:0:\nshadow:x:42:\n",
            "/etc/shadow": "",
            "/etc/gshadow": "",
        },
    )
    for name, mode, gid in (("shadow", 0o640, 42), ("gshadow", 0o644, 0)):
        os.chown(tmp_path / "etc" / name, 0, gid)
        os.chmod(tmp_path / "etc" / name, mode)
    base = {"type": "mode", "path": "/etc/shadow", "max": "0640", "owner": "root"}
    ok = probe(host, {**base, "group": ["root", "shadow"]})
    assert (ok.status, ok.observed) == (Status.PASS, "/etc/shadow 0640 root:shadow")
    assert status(host, {**base, "group": "root"}) is Status.FAIL
    assert status(host, {**base, "max": "0600"}) is Status.FAIL
    both = probe(host, {**base, "path": "/etc/*shadow"})
    assert (both.status, both.observed) == (Status.FAIL, "/etc/gshadow 0644 root:root")
    missing = probe(host, {**base, "path": "/etc/security/opasswd"})
    assert (missing.status, missing.observed) == (Status.NA, "文件不存在：/etc/security/opasswd")
    assert status(host, {**base, "path": "/etc/nothing*", "missing": "fail"}) is Status.FAIL


# ---- command ------------------------------------------------------------------------------


def test_command_offline_is_na_or_error(tmp_path: Path) -> None:
    host = tree(tmp_path, {})
    base = {"type": "command", "run": "systemctl is-enabled telnet.socket", "match": "enabled"}
    offline = probe(host, base)
    assert (offline.status, offline.observed) == (
        Status.NA,
        "离线目录无法执行命令：systemctl is-enabled telnet.socket",
    )
    assert status(host, {**base, "offline": "error"}) is Status.ERROR


def test_command_live_output_match_rc_and_missing() -> None:
    host = LocalCollector()
    out = probe(
        host,
        {
            "type": "command",
            "run": "printf 'a=1\\nmax=12\\n'",
            "match": r"max=(\d+)",
            "group": 1,
            "compare": {"op": ">=", "value": 10},
        },
    )
    assert (out.status, out.observed) == (Status.PASS, "max=12")
    low = {
        "type": "command",
        "run": "echo max=8",
        "match": r"max=(\d+)",
        "group": 1,
        "compare": {"op": ">=", "value": 10},
    }
    assert probe(host, low).observed == "max=8" and status(host, low) is Status.FAIL
    nothing = probe(host, {"type": "command", "run": "echo x", "match": "y"})
    assert (nothing.status, nothing.observed) == (Status.FAIL, "命令 echo x 的输出中未发现匹配内容")
    absent = {"type": "command", "run": "echo telnet", "match": "telnet", "expect": "absent"}
    assert status(host, absent) is Status.FAIL
    rc_ok = probe(host, {"type": "command", "run": "true", "rc": 0})
    assert (rc_ok.status, rc_ok.observed) == (Status.PASS, "命令 true 返回码 0")
    rc_bad = probe(host, {"type": "command", "run": "exit 3", "rc": 0})
    assert (rc_bad.status, rc_bad.observed) == (Status.FAIL, "命令 exit 3 返回码 3")
    missing = probe(host, {"type": "command", "run": "no-such-tool-xyz --version", "rc": 0})
    assert (missing.status, missing.observed) == (
        Status.NA,
        "目标上没有命令：no-such-tool-xyz --version",
    )


# ---- sysctl -------------------------------------------------------------------------------


def test_sysctl_runtime_from_proc_on_the_local_host() -> None:
    host = LocalCollector()
    result = probe(
        host, {"type": "sysctl", "key": "kernel.ostype", "compare": {"op": "==", "value": "Linux"}}
    )
    assert (result.status, result.observed) == (
        Status.PASS,
        "/proc/sys/kernel/ostype: kernel.ostype = Linux",
    )
    real = Path("/proc/sys/kernel/pid_max").read_text().strip()
    maxed = probe(
        host, {"type": "sysctl", "key": "kernel.pid_max", "compare": {"op": "==", "value": real}}
    )
    assert maxed.status is Status.PASS


def test_sysctl_configured_order_in_a_tree(tmp_path: Path) -> None:
    host = tree(
        tmp_path,
        {
            "/usr/lib/sysctl.d/50-default.conf": "net.ipv4.ip_forward = 1\nkernel.a = 1\n",
            # same name in /etc replaces the packaged file entirely
            "/etc/sysctl.d/50-default.conf": "kernel.b = 1\n",
            "/etc/sysctl.d/10-first.conf": "kernel.b = 0\nnet/ipv4/tcp_syncookies = 0\n",
            "/run/sysctl.d/60-run.conf": "-net.ipv4.tcp_syncookies = 1\n",
            "/etc/sysctl.d/99-last.conf": "kernel.c = 5 # comment\n",
            "/etc/sysctl.conf": "kernel.c = 7\n",
            "/etc/sysctl.d/README": "kernel.c = 9\n",
        },
    )

    def sysctl(key: str, value: str, **extra: Any) -> Outcome:
        check = {"type": "sysctl", "key": key, "compare": {"op": "==", "value": value}, **extra}
        return probe(host, check)

    assert sysctl("kernel.b", "1").observed == "/etc/sysctl.d/50-default.conf:1: kernel.b = 1"
    assert sysctl("kernel.b", "1").status is Status.PASS
    assert sysctl("net.ipv4.tcp_syncookies", "1").observed == (
        "/run/sysctl.d/60-run.conf:1: net.ipv4.tcp_syncookies = 1"
    )
    last = sysctl("kernel.c", "7")
    assert (last.status, last.observed) == (Status.PASS, "/etc/sysctl.conf:1: kernel.c = 7")
    masked = sysctl("kernel.a", "1")
    assert (masked.status, masked.observed) == (Status.FAIL, "未设置 kernel.a")
    defaulted = sysctl("kernel.a", "0", default="0")
    assert (defaulted.status, defaulted.observed) == (Status.PASS, "未设置 kernel.a（默认值 0）")
    assert sysctl("net.ipv4.ip_forward", "0", default="1").status is Status.FAIL


def test_sysctl_live_tree_prefers_proc(tmp_path: Path) -> None:
    host = tree(
        tmp_path,
        {
            "/proc/sys/net/ipv4/ip_forward": "1\n",
            "/etc/sysctl.d/99.conf": "net.ipv4.ip_forward=0\n",
        },
        live=True,
    )
    check = {"type": "sysctl", "key": "net.ipv4.ip_forward", "compare": {"op": "==", "value": 0}}
    result = probe(host, check)
    assert (result.status, result.observed) == (
        Status.FAIL,
        "/proc/sys/net/ipv4/ip_forward: net.ipv4.ip_forward = 1",
    )


# ---- service ------------------------------------------------------------------------------


def _units(root: Path) -> TreeCollector:
    host = tree(
        root,
        {
            "/lib/systemd/system/ssh.service": "[Unit]\n",
            "/lib/systemd/system/telnet.service": "[Unit]\n",
            "/usr/lib/systemd/system/cups.service": "[Unit]\n",
            "/lib/systemd/system/rsync.service": "[Unit]\n",
            "/etc/init.d/xinetd": "#!/bin/sh\n",
            "/etc/init.d/old": "#!/bin/sh\n",
        },
    )
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "ssh.service").symlink_to("/lib/systemd/system/ssh.service")
    (wants / "telnet.service").symlink_to("/lib/systemd/system/telnet.service")
    (root / "etc/systemd/system/sockets.target.wants").mkdir()
    # masked the way `systemctl mask` does it: a link to /dev/null (dangling in a tree)
    (root / "etc/systemd/system/telnet.service").symlink_to("/dev/null")
    (root / "etc/systemd/system/rsync.service").write_text("")  # an empty unit is masked too
    (root / "etc/systemd/system/multi-user.target.wants/rsync.service").symlink_to(
        "/lib/systemd/system/rsync.service"
    )
    (root / "etc/rc2.d").mkdir(parents=True)
    (root / "etc/rc2.d/S01xinetd").symlink_to("../init.d/xinetd")
    return host


@pytest.mark.parametrize(
    ("unit", "expect", "verdict", "state"),
    [
        ("ssh", "enabled", Status.PASS, "开机启用"),
        ("ssh.service", "disabled", Status.FAIL, "开机启用"),
        ("cups", "enabled", Status.FAIL, "未启用"),
        ("cups", "disabled", Status.PASS, "未启用"),
        ("cups", "present", Status.PASS, "未启用"),
        ("avahi-daemon", "disabled", Status.PASS, "不存在"),
        ("avahi-daemon", "absent", Status.PASS, "不存在"),
        ("avahi-daemon", "enabled", Status.FAIL, "不存在"),
        ("telnet", "disabled", Status.PASS, "未启用"),
        ("rsync", "enabled", Status.FAIL, "未启用"),
        ("xinetd", "enabled", Status.PASS, "开机启用"),
        ("old", "disabled", Status.PASS, "未启用"),
    ],
)
def test_service_offline(
    tmp_path: Path, unit: str, expect: str, verdict: Status, state: str
) -> None:
    host = _units(tmp_path)
    result = probe(host, {"type": "service", "unit": unit, "expect": expect})
    name = unit if "." in unit else f"{unit}.service"
    assert (result.status, result.observed) == (verdict, f"{name}：{state}")


def test_service_lists(tmp_path: Path) -> None:
    host = _units(tmp_path)
    # enabled: one of them is enough; disabled: every one must be
    assert status(host, {"type": "service", "unit": ["cups", "ssh"], "expect": "enabled"}) is (
        Status.PASS
    )
    assert status(host, {"type": "service", "unit": ["cups", "ssh"], "expect": "disabled"}) is (
        Status.FAIL
    )


# ---- port ---------------------------------------------------------------------------------


@contextlib.contextmanager
def listening(
    family: socket.AddressFamily, address: str, kind: int = socket.SOCK_STREAM
) -> Iterator[int]:
    """A socket bound (and listening for TCP) on ``address``; yields its port."""
    sock = socket.socket(family, kind)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((address, 0))
        if kind == socket.SOCK_STREAM:
            sock.listen(1)
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def test_port_on_the_local_host() -> None:
    # one collector per look: a collector caches what it read for the length of a check run
    with listening(socket.AF_INET, "127.0.0.1") as port:
        check = {"type": "port", "ports": [port], "expect": "loopback"}
        result = probe(LocalCollector(), check)
        assert (result.status, result.observed) == (Status.PASS, f"tcp 127.0.0.1:{port}")
        assert status(LocalCollector(), {**check, "expect": "closed"}) is Status.FAIL
        assert status(LocalCollector(), {**check, "expect": "open"}) is Status.PASS
    closed = probe(LocalCollector(), {"type": "port", "ports": [port], "expect": "closed"})
    assert (closed.status, closed.observed) == (Status.PASS, f"端口 {port} 未在监听")


def test_port_ipv6_and_v4_mapped_on_the_local_host() -> None:
    if not socket.has_ipv6 or not Path("/proc/net/tcp6").exists():
        pytest.skip("no IPv6 on this host")
    try:
        with listening(socket.AF_INET6, "::1") as port:
            result = probe(
                LocalCollector(), {"type": "port", "ports": [port], "expect": "loopback"}
            )
            assert (result.status, result.observed) == (Status.PASS, f"tcp ::1:{port}")
        with listening(socket.AF_INET6, "::ffff:127.0.0.1") as port:
            mapped = probe(
                LocalCollector(), {"type": "port", "ports": [port], "expect": "loopback"}
            )
            assert (mapped.status, mapped.observed) == (Status.PASS, f"tcp 127.0.0.1:{port}")
    except OSError as exc:  # e.g. IPv6 disabled in this network namespace
        pytest.skip(f"IPv6 loopback unavailable: {exc}")


def test_port_udp_on_the_local_host() -> None:
    host = LocalCollector()
    with listening(socket.AF_INET, "127.0.0.1", socket.SOCK_DGRAM) as port:
        result = probe(host, {"type": "port", "ports": [port], "proto": "udp", "expect": "open"})
        assert (result.status, result.observed) == (Status.PASS, f"udp 127.0.0.1:{port}")
        assert status(host, {"type": "port", "ports": [port], "expect": "open"}) is Status.FAIL


# kernel format: sl local rem st ...; addresses are host-order hex words
TCP = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  inode\n"
    "   0: 00000000:0017 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 11\n"
    "   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105 12\n"
    "   2: 0100007F:0016 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0 13\n"
)
TCP6 = (
    "  sl  local_address                         remote_address                        st\n"
    "   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 0\n"
    "   1: 0000000000000000FFFF00000100007F:18EB 00000000000000000000000000000000:0000 0A 0\n"
    "   2: B80D0120000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 0\n"
)


def test_parse_proc_net_lines() -> None:
    found = [(s.address, s.port, s.loopback) for s in parse_proc_net(TCP + TCP6, udp=False)]
    assert found == [
        ("0.0.0.0", 23, False),
        ("127.0.0.1", 3306, True),
        ("::1", 5432, True),
        ("127.0.0.1", 6379, True),
        ("2001:db8::1", 443, False),
    ]
    assert (
        parse_proc_net("header\n   0: 00000000:0202 00000000:0000 07 0\n", udp=True)[0].port == 514
    )
    assert parse_proc_net("header\n garbage\n 0: zz:zz 0 0A\n", udp=False) == []


def test_port_on_a_live_tree(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/proc/net/tcp": TCP, "/proc/net/tcp6": TCP6}, live=True)
    telnet = probe(host, {"type": "port", "ports": [23], "expect": "closed"})
    assert (telnet.status, telnet.observed) == (Status.FAIL, "tcp 0.0.0.0:23")
    local_only = {"type": "port", "ports": [3306, 5432, 6379], "expect": "loopback"}
    assert status(host, local_only) is Status.PASS
    assert status(host, {**local_only, "ports": [3306, 443]}) is Status.FAIL
    # an established connection from port 22 is not a listener
    assert status(host, {"type": "port", "ports": [22], "expect": "closed"}) is Status.PASS
    offline = probe(tree(tmp_path / "off", {}), {"type": "port", "ports": [22]})
    assert (offline.status, offline.observed) == (Status.NA, "离线目录无法查看监听端口")


# ---- package ------------------------------------------------------------------------------


DPKG = """Package: openssh-server
Status: install ok installed
Priority: optional
Version: 1:9.2p1-2+deb12u3
Description: secure shell server
 multi-line description
 Status: not a field

Package: telnetd
Status: deinstall ok config-files
Version: 0.17-44

Package: nginx
Status: hold ok installed
Version: 1.22.1-9

Package: rsh-server
Status: install ok half-installed
Version: 0.17-22
"""


def test_dpkg_status_parsing() -> None:
    assert parse_dpkg_status(DPKG) == {"openssh-server": "1:9.2p1-2+deb12u3", "nginx": "1.22.1-9"}


def test_package_probe_on_a_tree(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/os-release": DEBIAN, "/var/lib/dpkg/status": DPKG})
    ok = probe(host, {"type": "package", "name": ["openssh-server", "dropbear"]})
    assert (ok.status, ok.observed) == (Status.PASS, "已安装：openssh-server 1:9.2p1-2+deb12u3")
    removed = probe(
        host, {"type": "package", "name": ["telnetd", "rsh-server"], "expect": "absent"}
    )
    assert (removed.status, removed.observed) == (Status.PASS, "未安装：telnetd、rsh-server")
    old = {
        "type": "package",
        "name": "nginx",
        "compare": {"op": ">=", "value": "1.24.0", "as": "version"},
    }
    assert probe(host, old).status is Status.FAIL
    assert probe(
        host, {**old, "compare": {"op": ">=", "value": "1.22.1", "as": "version"}}
    ).status is (Status.PASS)
    assert status(host, {"type": "package", "name": "nginx", "expect": "absent"}) is Status.FAIL


def test_package_probe_rpm_offline_is_na(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/os-release": 'ID="rhel"\nVERSION_ID="9.4"\n'})
    (tmp_path / "var/lib/rpm").mkdir(parents=True)
    ctx_os = asyncio.run(detect_os(host))
    result = probe(host, {"type": "package", "name": "telnet-server"}, os=ctx_os)
    assert result.status is Status.NA
    assert result.observed.startswith("无法读取软件包数据库")


def test_package_probe_on_this_debian_host() -> None:
    if not Path("/var/lib/dpkg/status").exists():
        pytest.skip("this host has no dpkg database")
    version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "dpkg"], capture_output=True, text=True, check=True
    ).stdout
    result = probe(LocalCollector(), {"type": "package", "name": "dpkg"})
    assert (result.status, result.observed) == (Status.PASS, f"已安装：dpkg {version}")


# ---- accounts -----------------------------------------------------------------------------


PASSWD = """root:x:0:0:root:/root:/bin/bash
toor:x:0:0::/root:/bin/sh
daemon:x:1:1::/usr/sbin:/usr/sbin/nologin
games:x:5:60::/usr/games:/usr/sbin/nologin
ftp:x:120:120::/srv/ftp:/bin/bash
lp:x:7:7::/var/spool/lpd:/bin/sh
news:x:9:9::/var/spool/news:/bin/sh
alice:x:1000:1000::/home/alice:/bin/bash
bob:x:1000:1001::/home/bob:/bin/bash
carol:x:1002:27::/home/carol:/bin/bash
carol:x:1003:1003::/home/carol2:/bin/bash
dave:x:1004:1004::/home/dave:/bin/bash
broken line
"""
SHADOW = """root:$6$hash:19000:0:99999:7:::
toor:!:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
ftp:$6$x:19000:0:99999:7:::
lp:!:19000::::::
news:$6$n:19000::::::
alice:$6$a:19000:0:90:7:::
bob:$6$b:19000:0:180:7:::
carol:$6$c:19000:0:::::
dave::19000:0:99999:7:::
"""
GROUP = """root:x:0:
sudo:x:27:alice
wheel:x:10:
g1:x:2000:
g2:x:2000:
"""


def _accounts(root: Path, **extra: str) -> TreeCollector:
    return tree(root, {"/etc/passwd": PASSWD, "/etc/shadow": SHADOW, "/etc/group": GROUP, **extra})


@pytest.mark.parametrize(
    ("select", "options", "lines"),
    [
        ("uid0", {"allow": ["root"]}, ["toor (uid 0)"]),
        ("uid0", {}, ["root (uid 0)", "toor (uid 0)"]),
        ("duplicate_uid", {"allow": ["root"]}, ["0: root、toor", "1000: alice、bob"]),
        ("duplicate_uid", {"allow": ["root", "toor"]}, ["1000: alice、bob"]),
        ("duplicate_name", {}, ["carol: carol、carol"]),
        ("duplicate_gid", {}, ["gid 2000: g1、g2"]),
        ("empty_password", {}, ["dave: 密码字段为空"]),
        (
            "named",
            {"names": ["games", "ftp", "nobody"]},
            ["games (shell /usr/sbin/nologin)", "ftp (shell /bin/bash)"],
        ),
        ("login_shell", {"names": ["games", "ftp", "lp"]}, ["ftp: /bin/bash"]),
        ("system_login_shell", {}, ["ftp (uid 120): /bin/bash", "news (uid 9): /bin/sh"]),
        ("system_login_shell", {"allow": ["news"]}, ["ftp (uid 120): /bin/bash"]),
        (
            "max_days_over",
            {"limit": 90},
            [
                "root: 最长使用期限 99999 天",
                "bob: 最长使用期限 180 天",
                # both passwd lines named carol join the one shadow line
                "carol: 最长使用期限 未设置 天",
                "carol: 最长使用期限 未设置 天",
            ],
        ),
        ("max_days_over", {"limit": 200, "allow": ["root", "carol"]}, []),
        ("group_members", {"names": ["sudo", "wheel"]}, ["sudo: alice、carol"]),
    ],
)
def test_accounts_selects(
    tmp_path: Path, select: str, options: dict[str, Any], lines: list[str]
) -> None:
    host = _accounts(tmp_path)
    result = probe(host, {"type": "accounts", "select": select, **options})
    some = probe(host, {"type": "accounts", "select": select, "expect": "some", **options})
    if lines:
        assert (result.status, result.observed) == (Status.FAIL, "；".join(lines))
        assert some.status is Status.PASS
    else:
        assert (result.status, result.observed) == (
            Status.PASS,
            f"未发现符合条件的账户（{select}）",
        )
        assert some.status is Status.FAIL


def test_accounts_none_found_uid_min_and_no_passwd(tmp_path: Path) -> None:
    host = _accounts(tmp_path, **{"/etc/login.defs": "UID_MIN 100\n"})
    # with UID_MIN 100 the ftp account (uid 120) is a normal user
    result = probe(host, {"type": "accounts", "select": "system_login_shell"})
    assert result.observed == "news (uid 9): /bin/sh"
    none = probe(host, {"type": "accounts", "select": "named", "names": ["nobody"]})
    assert (none.status, none.observed) == (Status.PASS, "未发现符合条件的账户（named）")
    assert status(
        host, {"type": "accounts", "select": "named", "names": ["x"], "expect": "some"}
    ) is (Status.FAIL)
    empty = probe(tree(tmp_path / "e", {}), {"type": "accounts", "select": "uid0"})
    assert (empty.status, empty.observed) == (Status.NA, "文件不存在：/etc/passwd")


# ---- sql: Redis and PostgreSQL on loopback -------------------------------------------------


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServers]:
    """The weak, strong and open Redis instances of tests/services/redis.py."""
    try:
        servers = start_with_retries(start_redis)
    except ServiceUnavailable as exc:
        pytest.skip(f"Redis not available here: {exc}")
    yield servers
    servers.stop()


def sql(dsn: str, check: dict[str, Any]) -> Outcome:
    """Run one sql check through a real connection."""
    db = open_database(dsn)

    async def go() -> Outcome:
        try:
            return await evaluate_check(CHECK.validate_python(check), Context(host=None, db=db))
        finally:
            await db.close()

    return asyncio.run(go())


def test_sql_redis(redis: RedisServers) -> None:
    requirepass = {
        "type": "sql",
        "engine": "redis",
        "query": "CONFIG GET requirepass",
        "column": "value",
        "compare": {"op": "!=", "value": ""},
    }
    opened = sql(f"redis://127.0.0.1:{redis.open}/", requirepass)
    assert (opened.status, opened.observed) == (
        Status.FAIL,
        "CONFIG GET requirepass → name=requirepass, value=",
    )
    secret = quote(STRONG_PASSWORD, safe="")  # it holds "@" and "#"
    strong = sql(f"redis://:{secret}@127.0.0.1:{redis.strong}/", requirepass)
    assert strong.status is Status.PASS
    assert strong.observed == f"CONFIG GET requirepass → name=requirepass, value={STRONG_PASSWORD}"
    bind = sql(
        f"redis://127.0.0.1:{redis.open}/",
        {
            "type": "sql",
            "engine": "redis",
            "query": "CONFIG GET bind",
            "column": "value",
            "compare": {"op": "matches", "value": r"^127\.0\.0\.1$"},
        },
    )
    assert bind.status is Status.PASS
    bad = sql(
        f"redis://127.0.0.1:{redis.open}/",
        {"type": "sql", "engine": "redis", "query": "NOSUCHCOMMAND x", "expect": "rows"},
    )
    assert bad.status is Status.ERROR and "NOSUCHCOMMAND" in bad.observed
    denied = sql(f"redis://127.0.0.1:{redis.strong}/", requirepass)
    assert denied.status is Status.ERROR  # NOAUTH: no password given
    wrong = sql(f"redis://:wrong@127.0.0.1:{redis.strong}/", requirepass)
    assert wrong.status is Status.ERROR and wrong.observed.startswith(
        "查询 CONFIG GET requirepass 失败"
    )


def test_redis_password_never_reaches_a_rule_result(redis: RedisServers) -> None:
    secret = quote(STRONG_PASSWORD, safe="")
    db = open_database(f"redis://:{secret}@127.0.0.1:{redis.strong}/")
    check = {
        "type": "sql",
        "engine": "redis",
        "query": "CONFIG GET requirepass",
        "column": "value",
        "compare": {"op": "!=", "value": ""},
    }

    async def go() -> str:
        try:
            return (await evaluate_rule(rule(check), Context(host=None, db=db))).observed
        finally:
            await db.close()

    assert STRONG_PASSWORD not in asyncio.run(go())


def test_sql_postgresql(postgres_server: PostgresServer) -> None:
    dsn = f"postgresql://{postgres_server.user}@127.0.0.1:{postgres_server.port}/postgres"
    encryption = sql(
        dsn,
        {
            "type": "sql",
            "engine": "postgresql",
            "query": "SHOW password_encryption",
            "compare": {"op": "==", "value": "scram-sha-256"},
        },
    )
    assert (encryption.status, encryption.observed) == (
        Status.PASS,
        "password_encryption=scram-sha-256",
    )
    supers = {
        "type": "sql",
        "engine": "postgresql",
        "query": "SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY 1",
        "expect": "no_rows",
    }
    found = sql(dsn, supers)
    assert (found.status, found.observed) == (Status.FAIL, f"rolname={postgres_server.user}")
    others = {
        **supers,
        "query": "SELECT rolname FROM pg_roles WHERE rolsuper AND rolname <> current_user",
    }
    assert sql(dsn, others).status is Status.PASS
    rows_any = sql(
        dsn,
        {
            "type": "sql",
            "engine": "postgresql",
            "query": "SELECT x FROM generate_series(1, 3) AS x",
            "column": "X",
            "rows": "any",
            "compare": {"op": ">=", "value": 3},
        },
    )
    assert (rows_any.status, rows_any.observed) == (Status.PASS, "x=3")
    rows_all = sql(
        dsn,
        {
            "type": "sql",
            "engine": "postgresql",
            "query": "SELECT x FROM generate_series(1, 3) AS x",
            "column": "x",
            "compare": {"op": ">=", "value": 2},
        },
    )
    assert (rows_all.status, rows_all.observed) == (Status.FAIL, "x=1")
    broken = sql(dsn, {**supers, "query": "SELECT * FROM no_such_table"})
    assert broken.status is Status.ERROR and "no_such_table" in broken.observed
    refused = sql(f"postgresql://x@127.0.0.1:{postgres_server.port + 1}/postgres", supers)
    assert refused.status is Status.ERROR
    wrong_engine = sql(dsn, {**supers, "engine": "mysql"})
    assert (wrong_engine.status, wrong_engine.observed) == (
        Status.NA,
        "未提供 mysql 数据库连接（--target DSN），无法核查",
    )


# ---- http ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server_version = "nginx/1.22.1"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if self.path == "/files/":
            body = b"<html><title>Index of /files/</title></html>"
            self.send_response(200)
        else:
            body = b"not here"
            self.send_response(404)
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2; HttpOnly")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_TRACE(self) -> None:
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    """An HTTP server on 127.0.0.1; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def http(url: str | None, check: dict[str, Any]) -> Outcome:
    """Evaluate an http check against ``url`` with the real client."""
    return probe(None, check, http=fetch, http_url=url)


def test_http_headers_body_and_status(web: str) -> None:
    server = http(
        web, {"type": "http", "header": "server", "match": r"\d+\.\d+", "expect": "absent"}
    )
    assert (server.status, server.observed) == (Status.FAIL, f"{web}/: server: nginx/1.22.1")
    frame = http(web, {"type": "http", "header": "X-Frame-Options", "match": "(?i)sameorigin|deny"})
    assert frame.status is Status.PASS
    cookies = http(web, {"type": "http", "header": "Set-Cookie"})
    assert cookies.observed == f"{web}/: Set-Cookie: a=1, b=2; HttpOnly"
    hsts = http(web, {"type": "http", "header": "Strict-Transport-Security"})
    assert (hsts.status, hsts.observed) == (
        Status.FAIL,
        f"{web}/ 的响应没有 Strict-Transport-Security 头",
    )
    listing = http(
        web, {"type": "http", "path": "/files/", "match": "Index of", "expect": "absent"}
    )
    assert (listing.status, listing.observed) == (Status.FAIL, f"{web}/files/: Index of")
    clean = http(web, {"type": "http", "path": "/x", "match": "Index of", "expect": "absent"})
    assert (clean.status, clean.observed) == (Status.PASS, f"{web}/x 响应中未发现匹配内容")
    trace = http(
        web, {"type": "http", "method": "TRACE", "status": {"op": "in", "value": [403, 405, 501]}}
    )
    assert (trace.status, trace.observed) == (Status.PASS, f"TRACE {web}/ → HTTP 405")


def test_http_unreachable_and_not_configured() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        result = http(f"http://127.0.0.1:{port}", {"type": "http", "header": "Server"})
    assert result.status is Status.ERROR
    assert result.observed.startswith(f"请求 http://127.0.0.1:{port}/ 失败")
    missing = http(None, {"type": "http", "header": "Server"})
    assert (missing.status, missing.observed) == (
        Status.NA,
        "未提供服务地址（--var http_url=http://主机:端口），不做在线检查",
    )


async def _serve_once(
    response: list[bytes], pause: float = 0.0, close: bool = True
) -> asyncio.Server:
    """Serve ``response`` in parts (``pause`` seconds apart) to each client."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for part in response:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(pause)
        if close:
            writer.close()
        else:
            await asyncio.sleep(30)  # a keep-alive server that ignores "Connection: close"

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _http_body(parts: list[bytes], check: dict[str, Any], **serve: Any) -> tuple[Outcome, float]:
    async def go() -> tuple[Outcome, float]:
        server = await _serve_once(parts, **serve)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        started = time.monotonic()
        try:
            outcome = await evaluate_check(
                CHECK.validate_python(check), Context(host=None, http=fetch, http_url=url)
            )
        finally:
            server.close()
        return outcome, time.monotonic() - started

    return asyncio.run(go())


def test_http_body_read_to_the_end_chunked_and_sized() -> None:
    needle = {"type": "http", "match": "NEEDLE"}
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    # the match arrives in a later TCP segment than the start of the body
    slow, _ = _http_body([head + b"a" * 70000, b"NEEDLE"], needle, pause=0.2)
    assert slow.status is Status.PASS
    chunked_head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = b"3\r\nNEE\r\n3;x=1\r\nDLE\r\n0\r\n\r\n"
    chunked, _ = _http_body([chunked_head + chunks], needle)
    assert chunked.status is Status.PASS and chunked.observed.endswith(": NEEDLE")
    sized_head = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"
    sized, took = _http_body([sized_head + b"NEEDLE"], needle, close=False)
    assert sized.status is Status.PASS and took < 5


# ---- xml ----------------------------------------------------------------------------------


SERVER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Tomcat -->
<Server port="8005" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="8080" protocol="HTTP/1.1" server="Apache"/>
    <Connector port="8443" protocol="HTTP/1.1" SSLEnabled="true"/>
  </Service>
</Server>
"""
WEB_XML = """<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="6.0">
  <servlet><servlet-name>default</servlet-name>
    <init-param><param-name>listings</param-name><param-value>false</param-value></init-param>
  </servlet>
  <session-config><cookie-config>
    <http-only xsi:nil="false">true</http-only>
  </cookie-config></session-config>
</web-app>
"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE Server [<!ENTITY leak SYSTEM "file:///etc/passwd">]>
<Server port="&leak;"/>
"""
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]>\n<Server>&lol9;</Server>\n"
)


def test_xml_elements_attributes_and_namespaces(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/tomcat/server.xml": SERVER_XML, "/etc/tomcat/web.xml": WEB_XML})
    shutdown = {
        "type": "xml",
        "path": "/etc/tomcat/server.xml",
        "find": ".",
        "attribute": "port",
        "expect": "value",
        "compare": {"op": "==", "value": "-1"},
    }
    result = probe(host, shutdown)
    assert (result.status, result.observed) == (
        Status.FAIL,
        '/etc/tomcat/server.xml: <Server port="8005" shutdown="SHUTDOWN">',
    )
    server_attr = {
        "type": "xml",
        "path": "/etc/tomcat/server.xml",
        "find": ".//Connector",
        "attribute": "server",
    }
    assert status(host, server_attr) is Status.PASS
    every = {**server_attr, "expect": "value", "compare": {"op": "==", "value": "Apache"}}
    assert status(host, every) is Status.FAIL  # the 8443 connector has no server attribute
    assert status(host, {**every, "rows": "any"}) is Status.PASS
    listings = {
        "type": "xml",
        "path": "/etc/tomcat/web.xml",
        "find": ".//init-param[param-name='listings']/param-value",
        "expect": "value",
        "compare": {"op": "==", "value": "false"},
    }
    assert status(host, listings) is Status.PASS
    http_only = {
        "type": "xml",
        "path": "/etc/tomcat/web.xml",
        "find": ".//http-only",
        "attribute": "nil",
    }
    assert status(host, http_only) is Status.PASS  # xsi:nil read without its namespace
    absent = probe(
        host, {"type": "xml", "path": "/etc/tomcat/web.xml", "find": ".//security-constraint"}
    )
    assert (absent.status, absent.observed) == (
        Status.FAIL,
        "未找到 XML 元素 .//security-constraint",
    )
    assert (
        status(
            host,
            {
                "type": "xml",
                "path": "/etc/tomcat/web.xml",
                "find": ".//servlet",
                "expect": "absent",
            },
        )
        is Status.FAIL
    )
    missing = probe(host, {"type": "xml", "path": "/etc/tomcat/context.xml", "find": "."})
    assert (missing.status, missing.observed) == (Status.NA, "文件不存在：/etc/tomcat/context.xml")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (XXE, "EntitiesForbidden"),
        (LAUGHS, "EntitiesForbidden"),
        ("<Server><x></Server>", "mismatched"),
    ],
)
def test_xml_hostile_or_broken_files_are_errors(tmp_path: Path, content: str, reason: str) -> None:
    host = tree(tmp_path, {"/etc/tomcat/server.xml": content})
    result = probe(
        host, {"type": "xml", "path": "/etc/tomcat/server.xml", "find": ".", "attribute": "port"}
    )
    assert result.status is Status.ERROR
    assert result.observed.startswith("/etc/tomcat/server.xml 不是有效的 XML：")
    assert reason in result.observed
    assert "root:" not in result.observed


@pytest.mark.parametrize("find", [".//Connector[@", "[", "a[-1]", "/Server"])
def test_xml_broken_path_expression_is_refused_at_load(find: str) -> None:
    with pytest.raises(PydanticValidationError, match="XML 路径无效"):
        CHECK.validate_python({"type": "xml", "path": "/etc/tomcat/server.xml", "find": find})


# ---- combinators and applicability --------------------------------------------------------


PASS = {"type": "file", "path": "/etc/a", "match": "yes"}
FAIL = {"type": "file", "path": "/etc/a", "match": "no"}
NA = {"type": "mode", "path": "/etc/none"}
ERROR = {"type": "xml", "path": "/etc/bad.xml", "find": "."}


@pytest.fixture
def parts(tmp_path: Path) -> TreeCollector:
    """A tree on which PASS, FAIL, NA and ERROR give those verdicts."""
    return tree(tmp_path, {"/etc/a": "yes\n", "/etc/bad.xml": "<a>"})


def test_parts_give_their_verdicts(parts: TreeCollector) -> None:
    assert [status(parts, c) for c in (PASS, FAIL, NA, ERROR)] == [
        Status.PASS,
        Status.FAIL,
        Status.NA,
        Status.ERROR,
    ]


@pytest.mark.parametrize(
    ("combo", "verdict"),
    [
        ({"all": [PASS, PASS]}, Status.PASS),
        ({"all": [PASS, FAIL, ERROR]}, Status.FAIL),
        ({"all": [PASS, ERROR]}, Status.ERROR),
        ({"all": [PASS, NA]}, Status.PASS),
        ({"all": [NA, NA]}, Status.NA),
        ({"any": [FAIL, PASS]}, Status.PASS),
        ({"any": [FAIL, ERROR]}, Status.ERROR),
        ({"any": [FAIL, NA]}, Status.FAIL),
        ({"any": [NA, NA]}, Status.NA),
        ({"any": [PASS, ERROR]}, Status.PASS),
        ({"none": [FAIL, FAIL]}, Status.PASS),
        ({"none": [FAIL, PASS]}, Status.FAIL),
        ({"none": [FAIL, ERROR]}, Status.ERROR),
        ({"none": [NA]}, Status.NA),
        ({"not": PASS}, Status.FAIL),
        ({"not": FAIL}, Status.PASS),
        ({"not": NA}, Status.NA),
        ({"not": ERROR}, Status.ERROR),
        ({"all": [{"any": [FAIL, PASS]}, {"not": FAIL}]}, Status.PASS),
    ],
)
def test_combinators(parts: TreeCollector, combo: dict[str, Any], verdict: Status) -> None:
    assert status(parts, combo) is verdict


def test_combined_observed_texts(parts: TreeCollector) -> None:
    two = probe(parts, {"all": [FAIL, {**FAIL, "path": "/etc/b", "missing": "fail"}]})
    assert two.observed == "/etc/a 中未发现要求的配置；文件不存在：/etc/b"
    # the same fragment twice is said once
    same = probe(parts, {"all": [FAIL, {**FAIL, "match": "maybe"}]})
    assert same.observed == "/etc/a 中未发现要求的配置"
    first_pass = probe(parts, {"any": [FAIL, PASS]})
    assert first_pass.observed == "/etc/a:1: yes"


def test_applies_os_and_when(tmp_path: Path) -> None:
    host = tree(
        tmp_path,
        {
            "/etc/os-release": 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n',
            "/etc/ssh/sshd_config": "PermitRootLogin no\n",
        },
    )
    ctx = Context(host=host)
    ctx.os = asyncio.run(detect_os(host))
    assert ctx.os is not None and ctx.os.ids() == {"ubuntu", "debian"}
    check = {**SSHD, "compare": {"op": "==", "value": "no"}}
    for wanted, verdict in (
        ([], Status.PASS),
        (["debian"], Status.PASS),
        (["ubuntu"], Status.PASS),
        (["rhel", "kylin"], Status.NA),
    ):
        result = asyncio.run(evaluate_rule(rule(check, applies={"os": wanted}), ctx))
        assert result.status is verdict
    wrong = asyncio.run(evaluate_rule(rule(check, applies={"os": ["rhel"]}), ctx))
    assert wrong.observed == "适用于 rhel，目标为 Ubuntu 22.04"
    when = {"type": "package", "name": "openssh-server"}
    reasoned = asyncio.run(
        evaluate_rule(rule(check, applies={"when": when, "reason": "未安装 SSH 服务端"}), ctx)
    )
    assert (reasoned.status, reasoned.observed) == (Status.NA, "未安装 SSH 服务端")
    bare = asyncio.run(
        evaluate_rule(rule(check, applies={"when": {**FAIL, "path": "/etc/x"}}), ctx)
    )
    assert (bare.status, bare.observed) == (Status.NA, "不满足适用条件：文件不存在：/etc/x")
    unknown = asyncio.run(
        evaluate_rule(rule(check, applies={"os": ["debian"]}), Context(host=host))
    )
    assert (unknown.status, unknown.observed) == (
        Status.NA,
        "无法识别目标操作系统（缺少 /etc/os-release）",
    )


@pytest.mark.parametrize(
    ("release", "extra", "ids"),
    [
        (
            'ID="kylin"\nNAME="Kylin Linux Advanced Server"\nVERSION_ID="V10"\n',
            "/var/lib/rpm/",
            {"kylin", "rhel"},
        ),
        ('ID=kylin\nNAME="Kylin"\nVERSION_ID="V10"\n', "/var/lib/dpkg/status", {"kylin", "debian"}),
        ('ID=uos\nNAME="UnionTech OS Server 20"\n', "", {"uos", "debian"}),
        ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "", {"rocky", "rhel"}),
        ("ID=alpine\n", "", {"alpine"}),
    ],
)
def test_os_detection(tmp_path: Path, release: str, extra: str, ids: set[str]) -> None:
    files = {"/etc/os-release": release}
    if extra.endswith("/"):
        (tmp_path / extra.strip("/")).mkdir(parents=True)
    elif extra:
        files[extra] = ""
    found = asyncio.run(detect_os(tree(tmp_path, files)))
    assert found is not None and found.ids() == ids


def test_run_profile_reports_every_rule(tmp_path: Path) -> None:
    host = tree(tmp_path, {"/etc/os-release": DEBIAN, "/etc/a": "yes\n", "/etc/bad.xml": "<"})
    rules = [
        rule(c, id=f"t.rule.{i}", severity=sev)
        for i, (c, sev) in enumerate([(PASS, "高"), (FAIL, "低"), (NA, "中"), (ERROR, "中")])
    ]
    profile = Profile(id="t", title="测试", rules=rules)
    report = asyncio.run(run_profile(profile, Context(host=host)))
    assert [r.status for r in report.results] == [Status.PASS, Status.FAIL, Status.NA, Status.ERROR]
    assert report.os == "Debian GNU/Linux 12"
    assert report.counts() == {"pass": 1, "fail": 1, "na": 1, "error": 1}
    assert report.results[0].paths == ["/etc/a"]


def test_expected_text() -> None:
    check = CHECK.validate_python({**SSHD, "compare": {"op": ">=", "value": 8}})
    assert expected_text(check) == "setting: PermitRootLogin >= 8"
    described = CHECK.validate_python({**PASS, "describe": "文件中应有 yes"})
    assert expected_text(described) == "文件中应有 yes"


# ---- compare ------------------------------------------------------------------------------


def cmp(op: str, value: Any, how: str = "auto", **extra: Any) -> Compare:
    """A Compare model."""
    return Compare.model_validate({"op": op, "value": value, "as": how, **extra})


@pytest.mark.parametrize(
    ("found", "comparison", "result"),
    [
        ("10", cmp(">=", 8), True),  # numeric, not text ("10" < "8" as text)
        ("8", cmp("<", "10"), True),
        ("1.0", cmp("==", 1), True),
        ("abc", cmp("<", "abd"), True),
        ("ABC", cmp("==", "abc"), True),
        ("ABC", cmp("==", "abc", ignore_case=False), False),
        ("x", cmp(">", 5, "number"), False),
        ("1.22.1", cmp("<", "1.24.0", "version"), True),
        ("1.9", cmp("<", "1.10", "version"), True),
        ("1.9", cmp("<", "1.10", "text"), False),
        ("1:9.2p1-2+deb12u3", cmp(">=", "9.2p1", "version"), True),
        ("8.0.36-log", cmp("==", "8.0.36", "version"), True),  # vendor suffixes ignored
        ("8.0.36-log", cmp(">=", "8.0.36", "version"), True),
        ("0640", cmp("<=", "0644", "octal"), True),
        ("027", cmp("==", "0027", "octal"), True),
        ("rwxr-x---", cmp("<=", "0750", "octal"), False),
        ("0755", cmp("<=", "0750", "octal"), False),
        ("Prohibit-Password", cmp("in", ["no", "prohibit-password"]), True),
        ("yes", cmp("not_in", ["yes", "without-password"]), False),
        ("5.0", cmp("in", [5, 6]), True),
        ("5.0", cmp("in", [5, 6], "text"), False),
        (" TLSv1.2 TLSv1.3 ", cmp("matches", r"^TLSv1\.[23]( TLSv1\.3)?$"), True),
        ("SSLv3 TLSv1", cmp("not_matches", r"sslv3|tlsv1(\s|$)"), False),
        ("SSLv3", cmp("matches", "sslv3", ignore_case=False), False),
    ],
)
def test_compare(found: str, comparison: Compare, result: bool) -> None:
    assert matches(found, comparison) is result


def test_compare_validation_and_description() -> None:
    with pytest.raises(ValueError, match="in/not_in"):
        cmp("in", "x")
    with pytest.raises(ValueError, match="正则"):
        cmp("matches", "(")
    assert describe(cmp("in", ["no", "prohibit-password"])) == "∈ {no, prohibit-password}"
    assert describe(cmp("not_in", ["yes"])) == "∉ {yes}"
    assert describe(cmp("matches", "^a")) == "匹配 ^a"
    assert describe(cmp(">=", 8)) == ">= 8"
    assert t("baseline.observed.more", count=2) == "；另有 2 处"
