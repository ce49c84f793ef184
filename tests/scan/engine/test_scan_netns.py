"""``shaobing scan`` over a small network inside a namespace: exclusions and scope hold.

The namespace (tests/services/netns.py) holds eight host addresses; a recorder process
listens on port 22 of each and writes down every address that received a connection. The
scan runs inside the namespace on the embedded SQLite database, with one address excluded
on the command line and one excluded by the engagement's scope: neither may see a single
connection, while every other host is found. Skipped when not root.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.netns import HostNetwork, NetnsUnavailable, host_network, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

HOSTS = [f"10.78.0.{i}" for i in range(1, 9)]
EXCLUDED_BY_FLAG = "10.78.0.3"
EXCLUDED_BY_SCOPE = "10.78.0.6"

RECORDER = """
import select, socket, sys
addresses = sys.argv[1].split(",")
listeners = []
for address in addresses:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, 22))
    s.listen(64)
    listeners.append(s)
print("ready", flush=True)
seen = set()
while True:
    ready, _, _ = select.select(listeners + [sys.stdin], [], [])
    if sys.stdin in ready:
        sys.stdin.readline()
        print(",".join(sorted(seen)), flush=True)
        break
    for s in ready:
        try:
            conn, _ = s.accept()
        except OSError:
            continue
        seen.add(s.getsockname()[0])
        try:
            conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\\r\\n")
        except OSError:
            pass  # the sweep resets its connections at once
        conn.close()
"""


@pytest.fixture
def net() -> Iterator[HostNetwork]:
    try:
        with host_network(HOSTS, blackhole=["10.78.0.0/24"]) as network:
            yield network
    except NetnsUnavailable as exc:
        pytest.skip(str(exc))


def _cli(net: HostNetwork, home: Path, *args: str) -> tuple[int, str, str]:
    done = net.exec(
        [
            "env",
            "-u",
            "SHAOBING_DATABASE_URL",
            f"SHAOBING_HOME={home}",
            "SHAOBING_ACTOR=netns-test",
            sys.executable,
            "-m",
            "shaobing.cli.main",
            *args,
        ],
        timeout=180,
    )
    return done.returncode, done.stdout, done.stderr


def test_scan_of_a_network_respects_exclusions(net: HostNetwork, tmp_path: Path) -> None:
    recorder = net.hosts.popen([sys.executable, "-c", RECORDER, ",".join(HOSTS)])
    assert recorder.stdout is not None and recorder.stdin is not None
    assert recorder.stdout.readline().strip() == "ready"
    home = tmp_path / "home"
    for args in (
        ("init",),
        ("client", "add", "命名空间客户"),
        (
            "engagement",
            "create",
            "命名空间项目",
            "--client",
            "命名空间客户",
            "--scope",
            "10.78.0.0/29",
            "--exclude",
            EXCLUDED_BY_SCOPE,
        ),
    ):
        code, _, err = _cli(net, home, *args)
        assert code == 0, err
    began = time.monotonic()
    code, out, err = _cli(
        net,
        home,
        "scan",
        "10.78.0.0/28",
        "--engagement",
        "命名空间项目",
        "--exclude",
        EXCLUDED_BY_FLAG,
        "--policy",
        "quick",
        "--ports",
        "22,80",
        "--json",
        "-",
    )
    assert code == 0, err
    data = json.loads(out)
    recorder.stdin.write("done\n")
    recorder.stdin.flush()
    touched = set(filter(None, recorder.stdout.readline().strip().split(",")))

    # 10.78.0.0/28 minus the flag's exclusion, limited by the scope 10.78.0.0/29 minus 6.
    expected = {h for h in HOSTS if h not in {EXCLUDED_BY_FLAG, EXCLUDED_BY_SCOPE}}
    expected &= {f"10.78.0.{i}" for i in range(8)}
    assert touched == expected
    found = {h["address"] for h in data["hosts"] if h["ports"]}
    assert found == expected
    ports = {(h["address"], p["port"], p["service"]) for h in data["hosts"] for p in h["ports"]}
    assert ports == {(h, 22, "ssh") for h in expected}
    assert time.monotonic() - began < 170
