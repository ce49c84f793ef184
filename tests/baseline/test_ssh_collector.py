"""The SSH collector (C2) against a real sshd on 127.0.0.1 (tests/services/sshd.py).

The server runs on this machine, so what the collector reads over SSH can be compared with
what the local collector reads directly. Writes go only to a scratch folder owned by the
test account.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from shaobing.baseline.collectors.base import CollectorUnavailable
from shaobing.baseline.collectors.filesystem import LocalCollector
from shaobing.baseline.collectors.ssh import MAX_CHANNELS, SshCollector, SshTarget
from shaobing.baseline.engine import run_profile
from shaobing.baseline.hardening import guard_ssh_key_login, guard_ssh_root_login_needed
from shaobing.baseline.loader import get_profile
from shaobing.baseline.probes import Context
from tests.conftest import CliRunner
from tests.services.dbproc import start_with_retries
from tests.services.postgres import ServiceUnavailable, free_port
from tests.services.sshd import SshServer, allow_authorized_keys, start_sshd

T = TypeVar("T")
PASSWORD = "Bl-9vQ2#test-ssh"
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion."""
    return asyncio.run(coro)


@dataclass
class Sshd:
    """The server, its account, the account's key and scratch folder."""

    server: SshServer
    user: str
    uid: int
    gid: int
    key: Path
    work: Path

    @property
    def port(self) -> int:
        """The server's port."""
        return self.server.port

    def target(self, **extra: Any) -> SshTarget:
        """Where to log in (password unless told otherwise)."""
        options: dict[str, Any] = {"password": PASSWORD, **extra}
        return SshTarget(host="127.0.0.1", user=self.user, port=self.port, **options)


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    """One sshd with one account that may log in with a password or a key."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen not installed (apt-get install openssh-client)")
    try:
        server = start_with_retries(lambda: start_sshd({"ops": PASSWORD}))
    except ServiceUnavailable as exc:
        pytest.skip(f"sshd not available here: {exc}")
    keys = Path(tempfile.mkdtemp(prefix="shaobing-sshkeys-"))
    try:
        account = server.users["ops"]
        entry = pwd.getpwnam(account.name)
        os.chmod(keys, 0o755)
        key = keys / "client_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
            check=True,
            capture_output=True,
        )
        (keys / account.name).write_text((keys / "client_ed25519.pub").read_text())
        os.chmod(keys / account.name, 0o644)
        work = keys / "work"
        work.mkdir()
        os.chown(work, entry.pw_uid, entry.pw_gid)
        allow_authorized_keys(server, keys)
        yield Sshd(server, account.name, entry.pw_uid, entry.pw_gid, key, work)
    finally:
        server.stop()
        shutil.rmtree(keys, ignore_errors=True)


# ---- login --------------------------------------------------------------------------------


def test_password_login(sshd: Sshd) -> None:
    host = SshCollector(sshd.target())

    async def go() -> tuple[str, bool]:
        try:
            await host.connect()
            result = await host.run("id -un")
            return result.stdout.strip(), host.key_login
        finally:
            await host.close()

    assert run(go()) == (sshd.user, False)
    assert host.label == f"ssh://{sshd.user}@127.0.0.1:{sshd.port}"


def test_key_login(sshd: Sshd) -> None:
    host = SshCollector(sshd.target(password=None, key_files=[str(sshd.key)]))

    async def go() -> tuple[str, bool, str | None]:
        try:
            await host.connect()
            return (
                (await host.run("id -un")).stdout.strip(),
                host.key_login,
                await guard_ssh_key_login(host),
            )
        finally:
            await host.close()

    assert run(go()) == (sshd.user, True, None)


def test_wrong_password_and_closed_port(sshd: Sshd) -> None:
    wrong = SshCollector(sshd.target(password="not-it"))
    with pytest.raises(CollectorUnavailable, match=f"ssh://{sshd.user}@127.0.0.1:{sshd.port}"):
        run(wrong.connect())
    closed = SshCollector(SshTarget("127.0.0.1", "ops", free_port(), password="x"))
    with pytest.raises(CollectorUnavailable):
        run(closed.connect())


def test_guards_over_ssh(sshd: Sshd) -> None:
    host = SshCollector(sshd.target())

    async def go() -> str | None:
        try:
            await host.connect()
            return await guard_ssh_key_login(host)
        finally:
            await host.close()

    assert run(go()) == (
        "当前以口令登录 SSH，关闭口令认证会把操作员锁在门外；请先用密钥登录（--key）再加固"
    )
    as_root = SshCollector(SshTarget("127.0.0.1", "root", sshd.port))  # never connected
    assert run(guard_ssh_root_login_needed(as_root)) == (
        "当前以 root 通过 SSH 登录，禁止 root 远程登录会断开操作员；请用普通账户加 --sudo 再加固"
    )


# ---- reading ------------------------------------------------------------------------------


def test_read_stat_prefetch_list_and_glob(sshd: Sshd) -> None:
    folder = sshd.work / "read"
    folder.mkdir(exist_ok=True)
    binary = bytes(range(256)) * 3
    (folder / "blob.bin").write_bytes(binary)
    (folder / "it's a file.conf").write_text("odd name\n")
    (folder / "a.conf").write_text("a\n")
    os.chmod(folder / "a.conf", 0o640)
    os.chown(folder / "a.conf", sshd.uid, 0)
    (folder / "sub").mkdir(exist_ok=True)
    host = SshCollector(sshd.target())
    local = LocalCollector()
    paths = [
        "/etc/passwd",
        "/etc/shadow",
        "/proc/sys/kernel/ostype",
        str(folder / "blob.bin"),
        str(folder / "it's a file.conf"),
        str(folder / "missing"),
    ]

    async def go() -> None:
        try:
            await host.prefetch(paths)
            assert await host.read_file("/etc/passwd") == await local.read_file("/etc/passwd")
            assert await host.read_file("/proc/sys/kernel/ostype") == b"Linux\n"
            assert await host.read_file(str(folder / "blob.bin")) == binary
            assert await host.read_file(str(folder / "blob.bin"), limit=4) == binary[:4]
            assert await host.text(str(folder / "it's a file.conf")) == "odd name\n"
            # /etc/shadow is not readable by the account, but its metadata is
            assert await host.read_file("/etc/shadow") is None
            assert await host.stat("/etc/shadow") == await local.stat("/etc/shadow")
            assert await host.stat(str(folder / "missing")) is None
            assert await host.read_file(str(folder / "missing")) is None
            # not prefetched: fetched on demand
            info = await host.stat(str(folder / "a.conf"))
            assert info is not None
            assert (info.kind, info.mode, info.uid, info.gid, info.size) == (
                "file",
                0o640,
                sshd.uid,
                0,
                2,
            )
            assert (await host.stat(str(folder / "sub"))).kind == "dir"  # type: ignore[union-attr]
            assert await host.list_dir(str(folder)) == sorted(
                ["a.conf", "blob.bin", "it's a file.conf", "sub"]
            )
            assert await host.list_dir(str(folder / "a.conf")) is None
            assert await host.glob(str(folder / "*.conf")) == [
                str(folder / "a.conf"),
                str(folder / "it's a file.conf"),
            ]
            owner = await host.owner_names(info)
            assert owner == (sshd.user, "root")
        finally:
            await host.close()

    run(go())


def test_run_commands_and_processes(sshd: Sshd) -> None:
    host = SshCollector(sshd.target())

    async def go() -> None:
        try:
            result = await host.run("echo out; echo err >&2; exit 4")
            assert (result.rc, result.stdout) == (4, "out\n")
            assert result.stderr.endswith("err\n")
            assert (await host.run("kill -KILL $$")).rc < 0
            assert (await host.run("no-such-command-xyz")).rc == 127
            with pytest.raises(CollectorUnavailable, match="timeout"):
                await host.run("sleep 5", timeout=0.5)
            # more commands at once than the server's MaxSessions (10)
            many = await asyncio.gather(*(host.run(f"echo {i}") for i in range(3 * MAX_CHANNELS)))
            assert [r.stdout.strip() for r in many] == [str(i) for i in range(3 * MAX_CHANNELS)]
            lines = await host.processes()
            assert any("sshd" in line for line in lines)
        finally:
            await host.close()

    run(go())


def test_sudo_mode(sshd: Sshd) -> None:
    host = SshCollector(sshd.target(sudo=True))

    async def go() -> tuple[int, str, str]:
        try:
            result = await host.run("id -u")
            return result.rc, result.stdout.strip(), result.stderr.strip()
        finally:
            await host.close()

    rc, out, err = run(go())
    if rc != 0:
        # the helper's accounts have no sudo rights (and this host may have no sudo at all)
        pytest.skip(f"the test account cannot sudo here: {err.splitlines()[-1] if err else rc}")
    assert out == "0"


# ---- writing ------------------------------------------------------------------------------


def test_write_file_keeps_mode_and_chmod_chown(sshd: Sshd) -> None:
    folder = sshd.work / "write"
    folder.mkdir(exist_ok=True)
    os.chown(folder, sshd.uid, -1)
    existing = folder / "app.conf"
    existing.write_text("old\n")
    os.chown(existing, sshd.uid, sshd.gid)
    os.chmod(existing, 0o604)
    foreign = folder / "foreign.conf"
    foreign.write_text("kept\n")
    os.chown(foreign, sshd.uid, 0)
    host = SshCollector(sshd.target())
    big = os.urandom(150 * 1024)  # more than one staging chunk

    async def go() -> None:
        try:
            assert await host.text(str(existing)) == "old\n"
            await host.write_file(str(existing), b"new\n", mode=0o777)
            assert await host.text(str(existing)) == "new\n"  # cache dropped
            await host.write_file(str(folder / "deep/new.bin"), big, mode=0o600)
            await host.chmod_chown(str(existing), 0o600, sshd.uid, None)
            with pytest.raises(CollectorUnavailable):
                await host.chmod_chown(str(existing), None, 0, 0)  # not allowed for the account
            await host.remove_file(str(folder / "deep/new.bin"))
            await host.remove_file(str(folder / "gone"))
            with pytest.raises(CollectorUnavailable):
                await host.write_file("/etc/shaobing-must-not-exist", b"x")
            # the account may not give the new file the old one's group: refused, nothing left
            with pytest.raises(CollectorUnavailable, match="chown"):
                await host.write_file(str(foreign), b"changed\n")
        finally:
            await host.close()

    created = folder / "deep/new.bin"

    async def check_created() -> bytes | None:
        probe = SshCollector(sshd.target())
        try:
            await probe.write_file(str(created), big, mode=0o600)
            return await probe.read_file(str(created))
        finally:
            await probe.close()

    run(go())
    assert existing.read_text() == "new\n"
    info = existing.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o600, sshd.uid)
    assert not created.exists()
    assert not Path("/etc/shaobing-must-not-exist").exists()
    assert foreign.read_text() == "kept\n" and foreign.stat().st_gid == 0
    assert run(check_created()) == big
    assert stat.S_IMODE(created.stat().st_mode) == 0o600
    assert not [p for p in folder.rglob("*") if "shaobing-" in p.name]


# ---- a profile over SSH equals the same profile read locally --------------------------------


def _rules(path: Path, port: int) -> Path:
    refs = {"gb22239": ["8.1.4.1"], "control": "身份鉴别"}

    def rule(rule_id: str, check: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": rule_id,
            "title": rule_id,
            "description": "d",
            "rationale": "r",
            "severity": "中",
            "check": check,
            "expected": "e",
            "remediation": {"text": "x"},
            "references": refs,
        }

    doc = {
        "profile": "sshtest",
        "title": "SSH 采集测试",
        "rules": [
            rule(
                "s.ssh.root",
                {
                    "type": "setting",
                    "path": "/etc/ssh/sshd_config",
                    "key": "PermitRootLogin",
                    "include": "Include",
                    "default": "prohibit-password",
                    "compare": {"op": "==", "value": "no"},
                },
            ),
            rule(
                "s.kernel.ostype",
                {
                    "type": "sysctl",
                    "key": "kernel.ostype",
                    "compare": {"op": "==", "value": "Linux"},
                },
            ),
            rule("s.pkg.dpkg", {"type": "package", "name": "dpkg"}),
            rule("s.uid0", {"type": "accounts", "select": "uid0", "allow": ["root"]}),
            rule(
                "s.passwd.mode",
                {"type": "mode", "path": "/etc/passwd", "max": "0644", "owner": "root"},
            ),
            rule("s.shadow.mode", {"type": "mode", "path": "/etc/shadow", "max": "0640"}),
            rule("s.port.sshd", {"type": "port", "ports": [port], "expect": "loopback"}),
            rule("s.cmd.uname", {"type": "command", "run": "uname -s", "match": "^Linux$"}),
            rule("s.hosts", {"type": "file", "path": "/etc/host*", "match": "localhost"}),
        ],
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_profile_over_ssh_matches_local(sshd: Sshd, tmp_path: Path) -> None:
    profile = get_profile(str(_rules(tmp_path / "rules.yaml", sshd.port)))

    async def both() -> tuple[Any, Any]:
        remote = SshCollector(sshd.target())
        try:
            await remote.connect()
            over_ssh = await run_profile(profile, Context(host=remote))
        finally:
            await remote.close()
        return over_ssh, await run_profile(profile, Context(host=LocalCollector()))

    over_ssh, local = run(both())
    assert over_ssh.os == local.os and over_ssh.os
    assert [(r.rule_id, r.status, r.observed) for r in over_ssh.results] == [
        (r.rule_id, r.status, r.observed) for r in local.results
    ]
    statuses = {r.rule_id: r.status.value for r in over_ssh.results}
    assert statuses["s.kernel.ostype"] == "pass" and statuses["s.port.sshd"] == "pass"
    assert statuses["s.cmd.uname"] == "pass" and statuses["s.pkg.dpkg"] == "pass"


# ---- the CLI: one target, five in parallel, an unreachable one ----------------------------


@sqlite_only
def test_cli_check_over_ssh(cli: CliRunner, sshd: Sshd, tmp_path: Path) -> None:
    rules = _rules(tmp_path / "rules.yaml", sshd.port)
    url = f"ssh://{sshd.user}@127.0.0.1:{sshd.port}"
    single = cli(
        "baseline",
        "check",
        "--profile",
        str(rules),
        "--target",
        url,
        "--password",
        PASSWORD,
        "--json",
        "-",
    )
    assert single.code == 0, single
    data = json.loads(single.out)
    assert (data["profile"], data["target"]) == ("sshtest", url)
    assert {r["rule_id"]: r["status"] for r in data["results"]}["s.kernel.ostype"] == "pass"
    assert PASSWORD not in single.out
    assert all(r["status"] != "error" for r in data["results"]), data["results"]

    keyed = json.loads(
        cli.ok(
            "baseline",
            "check",
            "--profile",
            str(rules),
            "--target",
            url,
            "--key",
            str(sshd.key),
            "--json",
            "-",
        ).out
    )
    assert [r["status"] for r in keyed["results"]] == [r["status"] for r in data["results"]]

    started = time.monotonic()
    many = cli(
        "baseline",
        "check",
        "--profile",
        str(rules),
        *(["--target", url] * 5),
        "--password",
        PASSWORD,
        "--json",
        "-",
    )
    assert many.code == 0, many
    parallel = json.loads(many.out)
    assert parallel["profile"] == "sshtest" and len(parallel["runs"]) == 5
    for report in parallel["runs"]:
        assert report["target"] == url
        assert [(r["rule_id"], r["status"], r["observed"]) for r in report["results"]] == [
            (r["rule_id"], r["status"], r["observed"]) for r in data["results"]
        ]
    assert time.monotonic() - started < 30


@sqlite_only
def test_cli_unreachable_ssh_target_reports_errors(cli: CliRunner, tmp_path: Path) -> None:
    rules = _rules(tmp_path / "rules.yaml", 22)
    port = free_port()
    result = cli(
        "baseline",
        "check",
        "--profile",
        str(rules),
        "--target",
        f"ssh://ops@127.0.0.1:{port}",
        "--password",
        "x",
        "--json",
        "-",
    )
    assert result.code == 0, result
    data = json.loads(result.out)
    assert {r["status"] for r in data["results"]} == {"error"}
    assert all(r["observed"].startswith("无法采集：ssh://ops@127.0.0.1:") for r in data["results"])
    assert data["score"] == 0.0


@sqlite_only
def test_harden_and_rollback_over_ssh(cli: CliRunner, sshd: Sshd, tmp_path: Path) -> None:
    folder = sshd.work / "harden"
    folder.mkdir(exist_ok=True)
    os.chown(folder, sshd.uid, -1)
    conf = folder / "app.conf"
    conf.write_text("# app\nListen 0.0.0.0\nDebug yes\n")
    os.chown(conf, sshd.uid, sshd.gid)
    os.chmod(conf, 0o640)
    original = conf.read_bytes()
    refs = {"gb22239": ["8.1.4.4"], "control": "入侵防范"}
    doc = {
        "profile": "sshharden",
        "rules": [
            {
                "id": "h.app.listen",
                "title": "只在本机地址监听",
                "description": "d",
                "rationale": "r",
                "severity": "中",
                "check": {
                    "type": "setting",
                    "path": str(conf),
                    "key": "Listen",
                    "compare": {"op": "==", "value": "127.0.0.1"},
                },
                "expected": "Listen 127.0.0.1",
                "remediation": {
                    "text": "x",
                    "edits": [{"file": str(conf), "set": {"key": "Listen", "value": "127.0.0.1"}}],
                    "commands": [f"touch {folder}/reloaded"],
                },
                "rollback": {"commands": [f"rm -f {folder}/reloaded"]},
                "references": refs,
            }
        ],
    }
    rules = tmp_path / "harden.yaml"
    rules.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    url = f"ssh://{sshd.user}@127.0.0.1:{sshd.port}"
    plan = cli.ok("baseline", "harden", "-p", str(rules), "--target", url, "--password", PASSWORD)
    assert (
        "-Listen 0.0.0.0\n+Listen 127.0.0.1" in plan.out
        and f"命令：touch {folder}/reloaded" in plan.out
    )
    assert conf.read_bytes() == original
    applied = json.loads(
        cli.ok(
            "baseline",
            "harden",
            "-p",
            str(rules),
            "--target",
            url,
            "--password",
            PASSWORD,
            "--yes",
            "--json",
            "-",
        ).out
    )
    assert (applied["status"], applied["score_after"]) == ("applied", 100.0)
    assert conf.read_text() == "# app\nListen 127.0.0.1\nDebug yes\n"
    assert (folder / "reloaded").exists()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640 and conf.stat().st_uid == sshd.uid
    rolled = json.loads(
        cli.ok(
            "baseline", "rollback", str(applied["run_id"]), "--password", PASSWORD, "--json", "-"
        ).out
    )
    assert rolled["problems"] == [] and rolled["score_after"] == 0.0
    assert conf.read_bytes() == original
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640 and conf.stat().st_uid == sshd.uid
    assert not (folder / "reloaded").exists()
