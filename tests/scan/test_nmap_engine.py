"""``--engine nmap``: argument checks, the process lifecycle and reading nmap's XML.

Tests that run the real nmap skip when it is not installed (it is an optional, bench-time
dependency); the others use small stand-in scripts. Only 127.0.0.1 and ::1 are scanned.
"""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shaobing.core.errors import ValidationError
from shaobing.scan.nmap_engine import (
    NmapCancelled,
    NmapError,
    check_extra_args,
    port_spec,
    run_nmap,
)
from tests.services.fake import Handler, drain, greeter

NMAP = shutil.which("nmap")
needs_nmap = pytest.mark.skipif(NMAP is None, reason="nmap is not installed (apt-get install nmap)")

XML = """<?xml version="1.0"?>
<nmaprun scanner="nmap" args="fake">
<host><status state="up"/><address addr="127.0.0.1" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="2222"><state state="open"/>
<service name="ssh" product="OpenSSH" version="9.2p1"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe>
</service></port></ports></host>
</nmaprun>
"""


def _fake_nmap(tmp_path: Path, body: str) -> Path:
    """A stand-in for nmap: a Python script that records its argv, then runs ``body``."""
    script = tmp_path / "nmap"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        f"open({str(tmp_path / 'argv')!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n"
        "out = sys.argv[sys.argv.index('-oX') + 1]\n"
        f"{body}\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def _calls(tmp_path: Path) -> list[list[str]]:
    lines = (tmp_path / "argv").read_text(encoding="utf-8").splitlines()
    return [eval(line) for line in lines]


def test_command_line_and_results(tmp_path: Path) -> None:
    script = _fake_nmap(tmp_path, f"open(out, 'w').write({XML!r})")
    hosts = run_nmap(["127.0.0.1", "::1"], [22, 80, 81, 82], extra_args=["-T4"], nmap=str(script))
    first, second = _calls(tmp_path)
    assert first[:8] == ["-sT", "-sV", "-n", "-Pn", "-p", "22,80-82", "-T4", "-oX"]
    assert first[-2:] == ["--", "127.0.0.1"]
    assert "-6" in second and second[-2:] == ["--", "::1"]
    assert "-O" not in first and not any(arg.startswith("--script") for arg in first)
    assert len(hosts) == 2
    service = hosts[0].services[0]
    assert (service.port, service.service, service.product) == (2222, "ssh", "OpenSSH")
    assert service.cpe == ["cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*"]


def test_without_service_detection(tmp_path: Path) -> None:
    script = _fake_nmap(tmp_path, f"open(out, 'w').write({XML!r})")
    run_nmap(["127.0.0.1"], [22], service_detection=False, nmap=str(script))
    assert "-sV" not in _calls(tmp_path)[0]


def test_failure_is_one_clear_line(tmp_path: Path) -> None:
    script = _fake_nmap(tmp_path, "sys.stderr.write('\\nFailed to open device lo\\n'); sys.exit(1)")
    with pytest.raises(NmapError) as caught:
        run_nmap(["127.0.0.1"], [22], nmap=str(script))
    assert "Failed to open device lo" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unreadable_output(tmp_path: Path) -> None:
    script = _fake_nmap(tmp_path, "open(out, 'w').write('<nmaprun><host>')")
    with pytest.raises(NmapError, match="XML"):
        run_nmap(["127.0.0.1"], [22], nmap=str(script))


def test_missing_nmap(tmp_path: Path) -> None:
    with pytest.raises(NmapError) as caught:
        run_nmap(["127.0.0.1"], [22], nmap=str(tmp_path / "no-nmap"))
    assert "no-nmap" in str(caught.value)


def test_timeout_terminates_the_process(tmp_path: Path) -> None:
    script = _fake_nmap(tmp_path, "time.sleep(60)")
    started = time.monotonic()
    with pytest.raises(NmapError, match=r"0\.5"):
        run_nmap(["127.0.0.1"], [22], timeout=0.5, nmap=str(script))
    assert time.monotonic() - started < 5


def test_cancel_terminates_the_process(tmp_path: Path) -> None:
    script = _fake_nmap(tmp_path, "time.sleep(60)")
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(NmapCancelled):
        run_nmap(["127.0.0.1"], [22], nmap=str(script), cancel=cancel)
    assert time.monotonic() - started < 5
    timer.join()


@pytest.mark.parametrize(
    ("addresses", "ports"),
    [
        (["example.com"], [22]),
        (["10.0.0.0/8"], [22]),
        (["127.0.0.1 -iL /etc/hosts"], [22]),
        ([], [22]),
        ("127.0.0.1", [22]),
        (["127.0.0.1"], []),
        (["127.0.0.1"], [0]),
        (["127.0.0.1"], [65536]),
        (["127.0.0.1"], [True]),
    ],
)
def test_bad_targets_are_refused(addresses: list[str], ports: list[int]) -> None:
    with pytest.raises(ValidationError):
        run_nmap(addresses, ports, nmap="/nonexistent")


@pytest.mark.parametrize(
    "args",
    [
        ["-iL", "/etc/hosts"],
        ["10.0.0.1"],
        ["-oN", "out.txt"],
        ["--script"],
        ["--max-retries="],
        ["--exclude", "x"],
        ["-iR", "10"],
        "-T4",
    ],
)
def test_extra_args_allow_list(args: list[str]) -> None:
    with pytest.raises(ValidationError):
        check_extra_args(args)


def test_allowed_extra_args() -> None:
    args = ["-T4", "--max-retries", "1", "--host-timeout=30s", "--version-light"]
    assert check_extra_args(args) == args


def test_port_spec() -> None:
    assert port_spec([443, 22, 80, 81, 82, 22]) == "22,80-82,443"
    assert port_spec(range(1, 65536)) == "1-65535"


# --- the real nmap, against fake services on loopback ---------------------------------------


@needs_nmap
def test_real_nmap_identifies_a_local_service(serve: Callable[[Handler], int]) -> None:
    port = serve(greeter(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    hosts = run_nmap(["127.0.0.1"], [port, closed], timeout=120)
    assert [h.address for h in hosts] == ["127.0.0.1"]
    services = {s.port: s for s in hosts[0].services}
    assert (services[port].state, services[port].service) == ("open", "ssh")
    assert services[port].product == "OpenSSH"
    version = services[port].version
    assert version is not None and version.startswith("9.2p1")
    assert any(c.startswith("cpe:2.3:a:openbsd:openssh:") for c in services[port].cpe)
    assert services[closed].state == "closed"


@needs_nmap
def test_real_nmap_timeout_and_cancel(serve: Callable[[Handler], int]) -> None:
    port = serve(drain)  # accepts and never answers: -sV waits for it
    started = time.monotonic()
    with pytest.raises(NmapError):
        run_nmap(["127.0.0.1"], [port], timeout=0.5)
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    with pytest.raises(NmapCancelled):
        run_nmap(["127.0.0.1"], [port], cancel=cancel)
    timer.join()
    assert time.monotonic() - started < 10
