"""Host collectors (C2): offline trees read as ``/`` without leaking this host, and the local host.

Trees are real directories with real links, modes and owners; the local collector runs real
commands and reads the real /proc. Nothing here writes outside ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.baseline.collectors.base import CollectorUnavailable, FileStat, has_glob
from shaobing.baseline.collectors.filesystem import (
    MAX_LINK_HOPS,
    MAX_OUTPUT_BYTES,
    LocalCollector,
    TreeCollector,
)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion."""
    return asyncio.run(coro)


def write(root: Path, path: str, text: str, mode: int | None = None) -> Path:
    """Create ``path`` inside ``root`` with ``text``."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    if mode is not None:
        os.chmod(target, mode)
    return target


def link(root: Path, path: str, to: str) -> None:
    """Create a symbolic link ``path`` → ``to`` inside ``root`` (``to`` written verbatim)."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(to)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small host image: its own passwd, shadow, hostname and a few links."""
    root = tmp_path / "img"
    write(
        root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1234:1234::/home/a:/bin/sh\n"
    )
    write(root, "/etc/group", "root:x:0:\nshadow:x:42:\nalice:x:1234:\n")
    write(root, "/etc/shadow", "root:TREE-SHADOW:19000:0:99999:7:::\n", 0o640)
    write(root, "/etc/hostname", "tree-host\n")
    write(root, "/var/backups/shadow.bak", "BACKUP-OF-TREE\n")
    write(root, "/srv/conf/sshd_config", "PermitRootLogin no\n")
    return root


# ---- links resolved inside the tree -------------------------------------------------------


def test_absolute_link_reads_the_trees_file_not_the_hosts(tree: Path) -> None:
    # an image's absolute link names a path of the image, never of the machine checking it
    link(tree, "/etc/shadow-link", "/etc/shadow")
    link(tree, "/etc/backup", "/var/backups/shadow.bak")
    host = TreeCollector(tree)
    assert run(host.read_file("/etc/shadow-link")) == b"root:TREE-SHADOW:19000:0:99999:7:::\n"
    assert run(host.read_file("/etc/backup")) == b"BACKUP-OF-TREE\n"
    info = run(host.stat("/etc/shadow-link"))
    assert info is not None and info.kind == "file" and info.mode == 0o640


def test_link_to_a_path_only_the_host_has_is_missing(tree: Path) -> None:
    # /etc/os-release exists on this machine but not in the image: the link dangles
    assert Path("/etc/os-release").exists()
    link(tree, "/etc/os-link", "/etc/os-release")
    host = TreeCollector(tree)
    assert run(host.read_file("/etc/os-link")) is None
    assert run(host.stat("/etc/os-link")) is None
    assert run(host.text("/etc/os-release")) is None


def test_self_link_in_tree_is_missing_and_never_the_hosts(tmp_path: Path) -> None:
    root = tmp_path / "img"
    link(root, "/etc/shadow", "/etc/shadow")
    host = TreeCollector(root)
    assert run(host.read_file("/etc/shadow")) is None
    assert run(host.stat("/etc/shadow")) is None


def test_relative_links_resolve_inside_the_tree(tree: Path) -> None:
    link(tree, "/etc/ssh/sshd_config", "../../srv/conf/sshd_config")
    link(tree, "/etc/conf.d", "../srv/conf")
    host = TreeCollector(tree)
    assert run(host.text("/etc/ssh/sshd_config")) == "PermitRootLogin no\n"
    assert run(host.list_dir("/etc/conf.d")) == ["sshd_config"]
    assert run(host.text("/etc/conf.d/sshd_config")) == "PermitRootLogin no\n"
    # a path through a linked directory followed by ".." climbs from the link's target
    assert run(host.text("/etc/conf.d/../conf/sshd_config")) == "PermitRootLogin no\n"


def test_dotdot_cannot_escape_the_tree(tree: Path) -> None:
    # both in links and in the asked path, ".." stops at the tree's root
    link(tree, "/etc/escape", "../../../../../../../../etc/hostname")
    link(tree, "/srv/deep/up", "../../../../../..")
    host = TreeCollector(tree)
    assert run(host.text("/etc/escape")) == "tree-host\n"
    assert run(host.text("/../../../etc/hostname")) == "tree-host\n"
    assert run(host.text("/srv/deep/up/etc/hostname")) == "tree-host\n"
    assert (
        run(host.text("/srv/deep/up/../../etc/shadow")) == "root:TREE-SHADOW:19000:0:99999:7:::\n"
    )


def test_link_loops_end_as_missing(tree: Path) -> None:
    link(tree, "/etc/a", "b")
    link(tree, "/etc/b", "/etc/a")
    link(tree, "/loopdir", "/loopdir/x")
    host = TreeCollector(tree)
    for path in ("/etc/a", "/etc/b", "/loopdir", "/loopdir/x/y"):
        assert run(host.read_file(path)) is None
        assert run(host.stat(path)) is None
        assert run(host.list_dir(path)) is None


def test_long_link_chains_stop_at_the_hop_limit(tree: Path) -> None:
    # a chain within the limit resolves, one beyond it is treated as missing
    for i in range(MAX_LINK_HOPS + 1):
        link(tree, f"/chain/l{i}", f"l{i + 1}")
    write(tree, f"/chain/l{MAX_LINK_HOPS + 1}", "end\n")
    host = TreeCollector(tree)
    assert run(host.text("/chain/l1")) == "end\n"
    assert run(host.text("/chain/l0")) is None


def test_write_through_absolute_link_stays_inside_the_tree(tree: Path) -> None:
    # hardening an image must never touch this machine's /etc/passwd
    before = Path("/etc/passwd").read_bytes()
    link(tree, "/etc/passwd-link", "/etc/passwd")
    host = TreeCollector(tree)
    run(host.write_file("/etc/passwd-link", b"root:x:0:0::/root:/bin/sh\n"))
    assert Path("/etc/passwd").read_bytes() == before
    assert (tree / "etc/passwd").read_bytes() == b"root:x:0:0::/root:/bin/sh\n"
    assert (tree / "etc/passwd-link").is_symlink()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    links=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "d/c", "d/e/f"]),
            st.lists(st.sampled_from(["..", ".", "a", "b", "d", "e", "", "/"]), max_size=8),
        ),
        max_size=6,
    ),
    asked=st.lists(st.sampled_from(["..", ".", "a", "b", "d", "e", "f", "c"]), max_size=8),
)
def test_resolution_never_leaves_the_tree(
    tmp_path_factory: pytest.TempPathFactory, links: list[tuple[str, list[str]]], asked: list[str]
) -> None:
    """Whatever links an image contains, a resolved path is inside it (or missing)."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "d" / "e").mkdir(parents=True)
    for name, parts in links:
        where = root / name
        if not where.exists() and not where.is_symlink():
            where.parent.mkdir(parents=True, exist_ok=True)
            where.symlink_to("/".join(parts) or ".")
    host = TreeCollector(root)
    real = host._host_path("/".join(asked))
    if real is not None:
        assert real == host.root or host.root in real.parents
    run(host.stat("/".join(asked)))  # never raises
    run(host.read_file("/".join(asked)))


# ---- metadata, listing, globs -------------------------------------------------------------


def test_stat_reports_mode_owner_kind_and_size(tree: Path) -> None:
    target = write(tree, "/usr/bin/passwd", "x" * 10)
    os.chown(target, 1234, 42)  # before chmod: chown clears the setuid bit
    os.chmod(target, 0o4755)
    host = TreeCollector(tree)
    info = run(host.stat("/usr/bin/passwd"))
    assert info == FileStat("/usr/bin/passwd", "file", 0o4755, 1234, 42, 10)
    folder = run(host.stat("/etc"))
    assert folder is not None and folder.kind == "dir"
    assert run(host.owner_names(info)) == ("alice", "shadow")
    os.chown(target, 4321, 4321)
    unknown = run(host.stat("/usr/bin/passwd"))
    assert unknown is not None
    assert run(host.owner_names(unknown)) == ("4321", "4321")


def test_list_dir_is_sorted_and_none_for_files_and_missing(tree: Path) -> None:
    for name in ("b.conf", "a.conf", ".hidden", "c.txt"):
        write(tree, f"/etc/x.d/{name}", name)
    host = TreeCollector(tree)
    assert run(host.list_dir("/etc/x.d")) == [".hidden", "a.conf", "b.conf", "c.txt"]
    assert run(host.list_dir("/etc/passwd")) is None
    assert run(host.list_dir("/nope")) is None


def test_glob_patterns(tree: Path) -> None:
    for name in ("10-a.conf", "20-b.conf", ".30-hidden.conf", "readme", "5x.conf"):
        write(tree, f"/etc/ssh/sshd_config.d/{name}", name)
    write(tree, "/home/alice/.ssh/authorized_keys", "ssh-ed25519 AAAA a\n")
    write(tree, "/home/bob/.ssh/authorized_keys", "ssh-ed25519 AAAA b\n")
    (tree / "home/carol").mkdir(parents=True)
    host = TreeCollector(tree)
    assert run(host.glob("/etc/ssh/sshd_config.d/*.conf")) == [
        "/etc/ssh/sshd_config.d/10-a.conf",
        "/etc/ssh/sshd_config.d/20-b.conf",
        "/etc/ssh/sshd_config.d/5x.conf",
    ]
    assert run(host.glob("/etc/ssh/sshd_config.d/.*.conf")) == [
        "/etc/ssh/sshd_config.d/.30-hidden.conf"
    ]
    assert run(host.glob("/etc/ssh/sshd_config.d/[12]?-*")) == [
        "/etc/ssh/sshd_config.d/10-a.conf",
        "/etc/ssh/sshd_config.d/20-b.conf",
    ]
    assert run(host.glob("/home/*/.ssh/authorized_keys")) == [
        "/home/alice/.ssh/authorized_keys",
        "/home/bob/.ssh/authorized_keys",
    ]
    assert run(host.glob("/nope/*/x")) == []
    assert run(host.glob("/etc/passwd")) == ["/etc/passwd"]
    assert run(host.glob("/etc/none")) == []
    assert run(host.expand(["/etc/none", "/home/*/.ssh/authorized_keys", "/etc/none"])) == [
        "/etc/none",
        "/home/alice/.ssh/authorized_keys",
        "/home/bob/.ssh/authorized_keys",
    ]
    assert has_glob("/a/[b]") and not has_glob("/a/b")


def test_read_limit_and_text_cache(tree: Path) -> None:
    write(tree, "/var/log/big", "0123456789" * 20000)
    host = TreeCollector(tree)
    assert run(host.read_file("/var/log/big", limit=5)) == b"01234"
    assert run(host.read_file("/var/log/big")) == b"0123456789" * 20000
    assert run(host.read_file("/etc")) is None
    assert run(host.text("/etc/hostname")) == "tree-host\n"
    write(tree, "/etc/hostname", "changed\n")
    assert run(host.text("/etc/hostname")) == "tree-host\n"  # cached for the run
    host.forget("/etc/hostname")
    assert run(host.text("/etc/hostname")) == "changed\n"


def test_tree_cannot_run_commands_or_list_processes(tree: Path) -> None:
    host = TreeCollector(tree)
    assert host.label == f"root:{tree.resolve()}"
    with pytest.raises(CollectorUnavailable):
        run(host.run("true"))
    with pytest.raises(CollectorUnavailable):
        run(host.processes())


# ---- writing (hardening) ------------------------------------------------------------------


def test_write_file_keeps_mode_and_owner_and_replaces_atomically(tree: Path) -> None:
    target = tree / "etc/shadow"
    os.chown(target, 0, 42)
    inode = target.stat().st_ino
    host = TreeCollector(tree)
    run(host.text("/etc/shadow"))
    run(host.write_file("/etc/shadow", b"root:!:19000::::::\n", mode=0o777))
    info = target.stat()
    assert target.read_bytes() == b"root:!:19000::::::\n"
    assert stat.S_IMODE(info.st_mode) == 0o640  # the existing mode wins over ``mode``
    assert (info.st_uid, info.st_gid) == (0, 42)
    assert info.st_ino != inode  # a new file renamed over the old one
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "group",
        "hostname",
        "passwd",
        "shadow",
    ]
    assert run(host.text("/etc/shadow")) == "root:!:19000::::::\n"  # cache dropped


def test_write_file_creates_parents_with_mode(tree: Path) -> None:
    host = TreeCollector(tree)
    run(host.write_file("/etc/sysctl.d/99-x.conf", b"a = 1\n", mode=0o600))
    created = tree / "etc/sysctl.d/99-x.conf"
    assert created.read_bytes() == b"a = 1\n"
    assert stat.S_IMODE(created.stat().st_mode) == 0o600


def test_write_failure_leaves_no_temporary_file(tree: Path) -> None:
    host = TreeCollector(tree)
    (tree / "etc/hostname.d").mkdir()
    # the path is a directory: the rename fails, the staged copy is removed
    with pytest.raises(CollectorUnavailable):
        run(host.write_file("/etc/hostname.d", b"x"))
    assert not any(p.name.endswith("shaobing-tmp") for p in (tree / "etc").iterdir())
    # a parent that is a file cannot hold anything
    with pytest.raises(CollectorUnavailable):
        run(host.write_file("/etc/passwd/child", b"x"))


def test_chmod_chown_and_remove(tree: Path) -> None:
    host = TreeCollector(tree)
    run(host.chmod_chown("/etc/hostname", 0o600, 1234, 42))
    info = (tree / "etc/hostname").stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o600, 1234, 42)
    run(host.chmod_chown("/etc/hostname", None, None, 0))
    assert (tree / "etc/hostname").stat().st_gid == 0
    assert (tree / "etc/hostname").stat().st_uid == 1234
    with pytest.raises(CollectorUnavailable):
        run(host.chmod_chown("/etc/missing", 0o600, None, None))
    run(host.remove_file("/etc/hostname"))
    assert not (tree / "etc/hostname").exists()
    run(host.remove_file("/etc/hostname"))  # already gone is fine


# ---- the local host -----------------------------------------------------------------------


def test_local_reads_proc_and_real_files() -> None:
    host = LocalCollector()
    assert host.label == "local" and host.live
    assert run(host.text("/proc/sys/kernel/ostype")) == "Linux\n"
    status = run(host.text("/proc/self/status"))
    assert status is not None and "Pid:" in status
    assert run(host.read_file("/etc/hostname")) == Path("/etc/hostname").read_bytes()
    info = run(host.stat("/etc/passwd"))
    assert info is not None and info.uid == 0 and info.kind == "file"
    assert run(host.owner_names(info))[0] == "root"


def test_local_processes_include_this_one() -> None:
    raw = Path(f"/proc/{os.getpid()}/cmdline").read_bytes()
    mine = raw.rstrip(b"\0").replace(b"\0", b" ").decode()
    lines = run(LocalCollector().processes())
    assert mine in lines and len(lines) > 1


def test_local_run_output_and_exit_code() -> None:
    host = LocalCollector()
    result = run(host.run("echo out; echo err >&2; exit 3"))
    assert (result.rc, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert run(host.run("echo $LC_ALL")).stdout == "C\n"
    assert run(host.run("no-such-command-xyz")).rc == 127


def test_local_run_timeout_ends_the_command_and_its_children() -> None:
    host = LocalCollector()
    started = time.monotonic()
    # a duration no other test uses, so the process search below finds only this child
    marker = "31.4159"
    with pytest.raises(CollectorUnavailable, match="timeout"):
        # the sleeping child keeps the output pipe open: only killing the group ends it
        run(host.run(f"sleep {marker}; echo never", timeout=0.5))
    assert time.monotonic() - started < 5
    # SIGKILL is delivered at once, but the dying child may take a moment to go
    deadline = time.monotonic() + 5
    survivors = ["?"]
    while survivors and time.monotonic() < deadline:
        # zombies (state Z) are dead already; an init that does not reap keeps them listed
        pattern = f"sleep {marker[0]}[{marker[1]}]{marker[2:]}"
        listing = run(
            host.run(f"ps -eo stat=,pid=,args= | grep -v '^Z' | grep '{pattern}' || true")
        )
        survivors = listing.stdout.split()
        if survivors:
            time.sleep(0.1)
    assert survivors == []


def test_local_run_caps_output() -> None:
    result = run(LocalCollector().run(f"head -c {MAX_OUTPUT_BYTES + 1000} /dev/zero"))
    assert len(result.stdout) == MAX_OUTPUT_BYTES


def test_local_write_goes_through_links(tmp_path: Path) -> None:
    # like /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf on Debian: the link must survive
    real = write(tmp_path, "/etc/sysctl.conf", "a = 1\n", 0o640)
    link(tmp_path, "/etc/sysctl.d/99-sysctl.conf", "../sysctl.conf")
    host = LocalCollector()
    linked = str(tmp_path / "etc/sysctl.d/99-sysctl.conf")
    run(host.write_file(linked, b"a = 0\n"))
    assert (tmp_path / "etc/sysctl.d/99-sysctl.conf").is_symlink()
    assert real.read_text() == "a = 0\n" and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in (tmp_path / "etc/sysctl.d").iterdir()) == ["99-sysctl.conf"]
    # a file the hardening created through a dangling link is removed at its real place
    link(tmp_path, "/etc/new.conf", "new-target.conf")
    run(host.write_file(str(tmp_path / "etc/new.conf"), b"x\n"))
    assert (tmp_path / "etc/new-target.conf").read_text() == "x\n"
    run(host.remove_file(str(tmp_path / "etc/new.conf")))
    assert not (tmp_path / "etc/new-target.conf").exists()
    assert (tmp_path / "etc/new.conf").is_symlink()


def test_local_paths_are_not_rebased() -> None:
    host = LocalCollector()
    assert host._host_path("/etc/../etc/passwd") == Path("/etc/passwd")
