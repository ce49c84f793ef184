"""Network namespaces as test networks: many hosts on one machine, no packet leaves it.

:func:`host_network` creates a namespace (``ip netns add sb-<random>``), brings ``lo`` up and
puts the test's host addresses on it. Everything that must reach those addresses (the
scanner, nmap) runs *inside* the namespace through ``ip netns exec``: :meth:`HostNetwork.call`
runs a Python function there in a child interpreter and returns its JSON result;
:meth:`HostNetwork.exec` runs any command. :meth:`HostNetwork.listen` starts listeners there.

With ``delay_ms`` the round trip gets slower, as on a real network:

* ``netem``: ``tc qdisc add dev lo root netem delay <ms>`` when the kernel has sch_netem;
* ``tun``: otherwise two namespaces, a *scanner* side and a *hosts* side, joined by a pair
  of TUN devices and a small userland delay line (this module, run as
  ``python -m tests.services.netns delayline``) that holds every packet for ``delay_ms``
  in each direction. Addresses that no host owns are silently dropped on the hosts side,
  like a dead host on a LAN.

Only root can do this; :func:`unavailable_reason` says why not, for ``pytest.skip``.
Cleanup (processes started in the namespaces, then ``ip netns del``) always runs.

The module is also the entry point of the helper processes: ``call``, ``listen`` and
``delayline`` (see ``_main``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import importlib
import ipaddress
import json
import os
import secrets
import select
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO_ROOT = Path(__file__).resolve().parents[2]
DelayMode = Literal["auto", "netem", "tun"]

# Scanner-side addresses of the TUN layout (never used as targets).
_SCANNER_V4 = "10.255.255.1"
_SCANNER_V6 = "fd00:5b::1"
_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000


class NetnsUnavailable(RuntimeError):
    """Network namespaces (or the delay asked for) cannot be set up here; message says why."""


def _ip_binary() -> str | None:
    return shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin")


def unavailable_reason() -> str | None:
    """Why namespaces cannot be used here (for pytest.skip), or None when they can."""
    if os.geteuid() != 0:
        return "network namespace tests need root (ip netns add)"
    if _ip_binary() is None:
        return "the ip command (iproute2) is not installed"
    return None


def _run(argv: Sequence[str], *, timeout: float = 30.0, check: bool = True) -> str:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise NetnsUnavailable(f"{' '.join(argv)} failed: {done.stderr.strip()[:500]}")
    return done.stdout


@dataclass
class Namespace:
    """One network namespace created by this module."""

    name: str
    ip: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def prefix(self) -> list[str]:
        """The argv prefix that runs a command inside the namespace."""
        return [self.ip, "netns", "exec", self.name]

    def exec(
        self, argv: Sequence[str], *, timeout: float = 120.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace and wait; returns the completed process."""
        return subprocess.run(
            [*self.prefix(), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=REPO_ROOT,
        )

    def popen(self, argv: Sequence[str]) -> subprocess.Popen[str]:
        """Start ``argv`` inside the namespace; it is stopped when the namespace goes."""
        process = subprocess.Popen(
            [*self.prefix(), *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        self.processes.append(process)
        return process

    def batch(self, commands: Iterable[str]) -> None:
        """Run ``ip`` commands (one per line, without the leading ``ip``) in the namespace."""
        text = "\n".join(commands) + "\n"
        done = subprocess.run(
            [self.ip, "-n", self.name, "-batch", "-"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise NetnsUnavailable(f"ip -batch in {self.name} failed: {done.stderr.strip()[:500]}")

    def link_counters(self) -> dict[str, tuple[int, int]]:
        """{interface: (rx packets, tx packets)} read inside the namespace."""
        text = self.exec(["cat", "/proc/net/dev"], timeout=30).stdout
        counters: dict[str, tuple[int, int]] = {}
        for line in text.splitlines()[2:]:
            name, _, rest = line.partition(":")
            values = rest.split()
            if len(values) >= 10:
                counters[name.strip()] = (int(values[1]), int(values[9]))
        return counters

    def stop_processes(self) -> None:
        """Stop what this helper started in the namespace: close stdin, then TERM, KILL."""
        for process in self.processes:
            if process.poll() is None and process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            for stream in (process.stdout, process.stderr, process.stdin):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        self.processes.clear()


@dataclass
class Listeners:
    """A listener process serving TCP and UDP endpoints inside the hosts namespace."""

    process: subprocess.Popen[str]
    endpoints: tuple[tuple[str, int, str], ...]


@dataclass
class HostNetwork:
    """A test network: ``scanner`` runs the code under test, ``hosts`` owns the addresses.

    Without a TUN delay line both are the same namespace.
    """

    scanner: Namespace
    hosts: Namespace
    addresses: tuple[str, ...]
    delay_mode: str
    delay_ms: float | None

    def exec(
        self, argv: Sequence[str], *, timeout: float = 120.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command on the scanner side."""
        return self.scanner.exec(argv, timeout=timeout, stdin=stdin)

    def call(self, function: str, /, *, call_timeout: float = 120.0, **kwargs: Any) -> Any:
        """Run ``module:function(**kwargs)`` on the scanner side; return its JSON result.

        The answer is ``{"result": ..., "seconds": time spent in the function}``; dataclasses
        become dicts, tuples lists. A failure in the child raises RuntimeError with its stderr.
        """
        done = self.scanner.exec(
            [sys.executable, "-m", "tests.services.netns", "call", function],
            stdin=json.dumps(kwargs),
            timeout=call_timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{function} failed in {self.scanner.name}: {done.stderr[-3000:]}")
        return json.loads(done.stdout)

    def listen(
        self, endpoints: Iterable[tuple[str, int]], *, udp: Iterable[tuple[str, int]] = ()
    ) -> Listeners:
        """Serve TCP ``endpoints`` (accept and close) and bind ``udp`` ones on the hosts side.

        Returns once every socket is bound; the process ends with the namespace.
        """
        spec = [(address, port, "tcp") for address, port in endpoints]
        spec += [(address, port, "udp") for address, port in udp]
        process = self.hosts.popen([sys.executable, "-m", "tests.services.netns", "listen"])
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(spec) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if line.strip() != "ready":
            error = process.stderr.read() if process.stderr is not None else ""
            raise RuntimeError(f"listener failed: {line.strip()} {error[-2000:]}")
        return Listeners(process, tuple(spec))


def _new_namespace(ip: str, created: list[Namespace]) -> Namespace:
    name = f"sb-{secrets.token_hex(5)}"
    _run([ip, "netns", "add", name])
    namespace = Namespace(name, ip)
    created.append(namespace)
    namespace.batch(["link set lo up"])
    return namespace


def _address_lines(addresses: Iterable[str], device: str) -> list[str]:
    lines = []
    for text in addresses:
        ip = ipaddress.ip_address(text)
        if ip.version == 4:
            if not ip.is_loopback:  # all of 127/8 is already local on lo
                lines.append(f"address add {ip}/32 dev {device}")
        elif ip != ipaddress.IPv6Address("::1"):
            lines.append(f"address add {ip}/128 dev {device} nodad")
    return lines


def _netem_works(namespace: Namespace, delay_ms: float) -> bool:
    done = subprocess.run(
        [
            *namespace.prefix(),
            "tc",
            "qdisc",
            "add",
            "dev",
            "lo",
            "root",
            "netem",
            "delay",
            f"{delay_ms}ms",
            # The default queue of 1000 packets overflows under a 1,000-connect window.
            "limit",
            "1000000",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode == 0


def _start_delay_line(scanner: Namespace, hosts: Namespace, delay_ms: float) -> None:
    if not Path("/dev/net/tun").exists():
        raise NetnsUnavailable("no sch_netem in this kernel and no /dev/net/tun for a delay line")
    tag = secrets.token_hex(4)
    near, far = f"sbd{tag}a", f"sbd{tag}b"
    process = scanner.popen(
        [sys.executable, "-m", "tests.services.netns", "delayline", near, far, str(delay_ms)]
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        error = process.stderr.read() if process.stderr is not None else ""
        raise NetnsUnavailable(f"delay line did not start: {line.strip()} {error[-1000:]}")
    scanner.batch(
        [
            f"link set {far} netns {hosts.name}",
            # A 1,000-connect burst overflows the default 500-packet device queue.
            f"link set {near} txqueuelen 100000",
            f"link set {near} up",
            f"address add {_SCANNER_V4}/32 dev {near}",
            f"address add {_SCANNER_V6}/128 dev {near} nodad",
            f"route add default dev {near} src {_SCANNER_V4}",
            f"route add ::/0 dev {near} src {_SCANNER_V6}",
        ]
    )
    hosts.batch(
        [
            f"link set {far} txqueuelen 100000",
            f"link set {far} up",
            f"route add default dev {far}",
            f"route add ::/0 dev {far}",
        ]
    )


@contextlib.contextmanager
def host_network(
    addresses: Sequence[str] = (),
    *,
    delay_ms: float | None = None,
    delay_mode: DelayMode = "auto",
    blackhole: Sequence[str] = (),
) -> Iterator[HostNetwork]:
    """Create the namespaces, yield a :class:`HostNetwork`, always delete them afterwards.

    ``addresses`` are put on the hosts side's ``lo`` (IPv4 /32, IPv6 /128). ``blackhole``
    networks (CIDRs; single namespace only) are routed into ``lo`` so their unassigned
    addresses swallow packets silently, like dead hosts, instead of failing at once with
    "network unreachable".
    Raises :class:`NetnsUnavailable` when something cannot be set up.
    """
    reason = unavailable_reason()
    if reason is not None:
        raise NetnsUnavailable(reason)
    ip = _ip_binary()
    assert ip is not None
    created: list[Namespace] = []
    try:
        scanner = _new_namespace(ip, created)
        hosts = scanner
        mode = "none"
        if delay_ms is not None:
            if delay_mode in ("auto", "netem") and _netem_works(scanner, delay_ms):
                mode = "netem"
            elif delay_mode == "netem":
                raise NetnsUnavailable("tc netem is not available in this kernel (sch_netem)")
            else:
                hosts = _new_namespace(ip, created)
                _start_delay_line(scanner, hosts, delay_ms)
                mode = "tun"
        lines = _address_lines(addresses, "lo")
        if blackhole and mode == "tun":
            raise ValueError("blackhole is only for a single namespace")
        lines += [f"route add {network} dev lo" for network in blackhole]
        if lines:
            hosts.batch(lines)
        yield HostNetwork(scanner, hosts, tuple(addresses), mode, delay_ms)
    finally:
        for namespace in reversed(created):
            namespace.stop_processes()
        for namespace in reversed(created):
            _run([ip, "netns", "del", namespace.name], check=False)


# --------------------------------------------------------------------------- helper processes


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def _call(target: str) -> int:
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    kwargs = json.loads(sys.stdin.read() or "{}")
    started = time.perf_counter()
    result = function(**kwargs)
    elapsed = time.perf_counter() - started
    json.dump({"result": _jsonable(result), "seconds": elapsed}, sys.stdout)
    return 0


def _listen() -> int:
    spec = json.loads(sys.stdin.readline())
    selector = selectors.DefaultSelector()
    for address, port, proto in spec:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(family, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        if proto == "tcp":
            sock.listen(1024)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _events in selector.select():
            if key.fileobj is sys.stdin:
                return 0  # the test closed our stdin: stop
            listener = key.fileobj
            assert isinstance(listener, socket.socket)
            # Accept and close at once so a full backlog never turns open into filtered.
            with contextlib.suppress(OSError):
                while True:
                    conn, _peer = listener.accept()
                    conn.close()


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TUN | _IFF_NO_PI))
    return fd


def _delay_line(near_name: str, far_name: str, delay_ms: str) -> int:
    """Copy packets between two TUN devices, each held back ``delay_ms`` (FIFO per side)."""
    delay = float(delay_ms) / 1000.0
    near, far = _open_tun(near_name), _open_tun(far_name)
    print("ready", flush=True)
    poller = select.epoll()
    poller.register(near, select.EPOLLIN)
    poller.register(far, select.EPOLLIN)
    poller.register(sys.stdin.fileno(), select.EPOLLIN)
    queues: dict[int, deque[tuple[float, bytes]]] = {near: deque(), far: deque()}
    other = {near: far, far: near}
    clock = time.monotonic
    while True:
        now = clock()
        due: float | None = None
        for fd, queue in queues.items():
            while queue and queue[0][0] <= now:
                with contextlib.suppress(OSError):
                    os.write(other[fd], queue.popleft()[1])
            if queue and (due is None or queue[0][0] < due):
                due = queue[0][0]
        wait = -1.0 if due is None else max(0.0, due - now)
        for fd, _mask in poller.poll(wait):
            if fd not in queues:
                return 0  # stdin closed: the test is over
            release = clock() + delay
            queue = queues[fd]
            while True:
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    return 0  # the device went away with its namespace
                queue.append((release, packet))


def _main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    command = argv[0] if argv else ""
    if command == "call" and len(argv) == 2:
        return _call(argv[1])
    if command == "listen":
        return _listen()
    if command == "delayline" and len(argv) == 4:
        return _delay_line(argv[1], argv[2], argv[3])
    print("usage: python -m tests.services.netns call MOD:FUNC | listen | delayline A B MS")
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
