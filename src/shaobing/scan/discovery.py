"""Host liveness (requirement B1): TCP "ping" without privileges, ICMP echo with them.

TCP: a connect to a few common ports; an answer of any kind (open, or RST = closed) proves
the host is there. The sweep is :func:`tcp_connect_scan` with ``report_closed``, so /24 and
larger networks are probed with the same epoll window as the port scan.

ICMP: echo requests on a raw socket (root or CAP_NET_RAW), IPv4 and ICMPv6. Each sweep uses
a random identifier and a random token in the payload, and a reply only counts when it comes
from the address the request went to and carries both, so concurrent sweeps (another scan,
another test worker, the system's ping) never answer for each other.

``method="auto"`` runs the ICMP sweep (when privileged) in a helper thread while the TCP sweep
runs in the caller's thread; a host is alive on the first evidence from either.

Callers pass addresses that already passed the scope guard; names are refused, never resolved.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import secrets
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.scan.portscan import PortResult, tcp_connect_scan

__all__ = [
    "DEFAULT_PING_PORTS",
    "HostAlive",
    "Method",
    "canonical_addresses",
    "discover_hosts",
    "icmp_available",
    "icmp_checksum",
    "icmp_echo_sweep",
]

Method: TypeAlias = Literal["auto", "tcp", "icmp", "none"]
_IP: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ports that are open (or at least answered) on most servers and desktops of the estates
# this product scans: web, SSH, SMB, RDP, the usual alternative web port.
DEFAULT_PING_PORTS: Final = (80, 443, 22, 445, 3389, 8080)

_ECHO_REQUEST_V4: Final = 8
_ECHO_REPLY_V4: Final = 0
_ECHO_REQUEST_V6: Final = 128
_ECHO_REPLY_V6: Final = 129
_TOKEN_SIZE: Final = 8
_RCVBUF: Final = 4 * 1024 * 1024
# Replies are read between sends every this many requests, so a big sweep cannot overflow
# the receive buffer before the waiting phase starts.
_DRAIN_EVERY: Final = 64


@dataclass(frozen=True)
class HostAlive:
    """The liveness verdict for one address.

    ``method`` names the evidence of a live host (``tcp``, ``icmp``), what was tried for a
    dead one (``tcp``, ``icmp``, ``tcp+icmp``), or ``none`` when nothing was probed;
    ``reason`` is a stable code: ``tcp_open``/``tcp_reset`` (with ``port``), ``echo_reply``,
    ``no_response``, ``assumed`` (method ``none``) or ``stopped`` (cancelled before every
    probe of the host was decided).
    """

    address: str
    alive: bool
    method: str
    rtt_ms: float | None
    reason: str
    port: int | None = None


def icmp_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``: one's complement of the 16-bit sum."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _echo_request(version: int, ident: int, seq: int, payload: bytes) -> bytes:
    kind = _ECHO_REQUEST_V4 if version == 4 else _ECHO_REQUEST_V6
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if version == 6:
        # Linux computes the ICMPv6 checksum (it covers a pseudo-header with the source
        # address, which only the kernel knows) for every raw ICMPv6 socket.
        return header + payload
    checksum = icmp_checksum(header + payload)
    return struct.pack("!BBHHH", kind, 0, checksum, ident, seq) + payload


def _open_raw(version: int) -> socket.socket:
    if version == 4:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    else:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    sock.setblocking(False)
    # A smaller buffer than asked for only means more frequent draining.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
    return sock


def icmp_available() -> bool:
    """Whether this process may open raw ICMP sockets (root or CAP_NET_RAW)."""
    try:
        _open_raw(4).close()
    except OSError:
        return False
    return True


def canonical_addresses(addresses: Sequence[str]) -> list[str]:
    """Canonical texts of IP literals, de-duplicated in order; names raise ValidationError."""
    return [text for text, _ip in _check_addresses(addresses)]


def _check_addresses(addresses: Sequence[str]) -> list[tuple[str, _IP]]:
    if isinstance(addresses, str):
        # A bare string would be checked character by character.
        raise ValidationError(t("scan_discovery.address_invalid", item=addresses))
    checked: list[tuple[str, _IP]] = []
    seen: set[str] = set()
    for address in addresses:
        try:
            if not isinstance(address, str):
                raise ValueError(address)
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise ValidationError(t("scan_discovery.address_invalid", item=address)) from None
        text = str(ip)
        if text not in seen:
            seen.add(text)
            checked.append((text, ip))
    return checked


def _wire_target(ip: _IP) -> tuple[int, str]:
    """(IP version on the wire, address text to send to); mapped IPv6 is IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return 4, str(ip.ipv4_mapped)
    return ip.version, str(ip)


class _EchoSweep:
    """One ICMP echo sweep over a list of addresses (both families)."""

    def __init__(
        self,
        addresses: Sequence[str],
        timeout: float,
        retries: int,
        *,
        should_stop: Callable[[], bool] | None = None,
        known_alive: Callable[[int], bool] | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.should_stop: Callable[[], bool] = should_stop or (lambda: False)
        # Hosts another sweep already proved alive need no echo (and no waiting for one).
        self.known_alive: Callable[[int], bool] = known_alive or (lambda _index: False)
        self.ident = secrets.randbits(16)
        self.token = secrets.token_bytes(_TOKEN_SIZE)
        self.wire = [_wire_target(ip) for _text, ip in _check_addresses(addresses)]
        self.sent_at: list[float] = [0.0] * len(self.wire)
        self.rtt: dict[int, float] = {}
        self.unreachable: set[int] = set()
        self.sockets: dict[int, socket.socket] = {}

    def _payload(self, index: int) -> bytes:
        return self.token + struct.pack("!I", index)

    def _parse_reply(self, version: int, data: bytes, sender: str) -> int | None:
        """Index of the target this datagram answers, or None if it is not ours."""
        if version == 4:
            if len(data) < 20 or data[0] >> 4 != 4:
                return None
            data = data[(data[0] & 0x0F) * 4 :]  # raw IPv4 sockets deliver the IP header
            reply_type = _ECHO_REPLY_V4
        else:
            reply_type = _ECHO_REPLY_V6
        if len(data) < 8 + _TOKEN_SIZE + 4:
            return None
        kind, code, _checksum, ident, seq = struct.unpack_from("!BBHHH", data)
        if kind != reply_type or code != 0 or ident != self.ident:
            return None
        if data[8 : 8 + _TOKEN_SIZE] != self.token:
            return None
        index = int.from_bytes(data[8 + _TOKEN_SIZE : 12 + _TOKEN_SIZE], "big")
        if index >= len(self.wire) or seq != index & 0xFFFF:
            return None
        want_version, want_address = self.wire[index]
        try:
            same = ipaddress.ip_address(sender.partition("%")[0]) == ipaddress.ip_address(
                want_address
            )
        except ValueError:
            return None
        if want_version != version or not same:
            return None
        return index

    def _drain(self, on_reply: Callable[[int, float], None]) -> None:
        for version, sock in self.sockets.items():
            while True:
                try:
                    data, sender = sock.recvfrom(2048)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break  # an ICMP error queued on the socket; not an answer
                now = time.monotonic()
                index = self._parse_reply(version, data, str(sender[0]))
                if index is not None and index not in self.rtt:
                    self.rtt[index] = (now - self.sent_at[index]) * 1000.0
                    on_reply(index, self.rtt[index])

    def _wait(self, seconds: float, on_reply: Callable[[int, float], None]) -> None:
        poller = select.poll()
        for sock in self.sockets.values():
            poller.register(sock.fileno(), select.POLLIN)
        waiting = [i for i in range(len(self.wire)) if not self._settled(i)]
        deadline = time.monotonic() + seconds
        checked = 0.0
        while waiting and not self.should_stop():
            now = time.monotonic()
            if now >= deadline:
                return
            replied = bool(poller.poll(min(deadline - now, 0.05) * 1000.0))
            if replied:
                self._drain(on_reply)
            # Re-checking a /16 of silent hosts 20 times a second would cost real CPU, so
            # the list is rescanned only after replies, or now and then for the other sweep.
            if replied or now - checked > 0.2:
                checked = now
                waiting = [i for i in waiting if not self._settled(i)]

    def _send(self, index: int, on_reply: Callable[[int, float], None]) -> None:
        version, address = self.wire[index]
        sock = self.sockets[version]
        packet = _echo_request(version, self.ident, index & 0xFFFF, self._payload(index))
        destination: tuple[str, int] | tuple[str, int, int, int] = (
            (address, 0) if version == 4 else (address, 0, 0, 0)
        )
        for _ in range(200):
            try:
                self.sent_at[index] = time.monotonic()
                sock.sendto(packet, destination)
                return
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    # ENETUNREACH, EHOSTUNREACH, EACCES (broadcast), EPERM (firewall):
                    # nothing can come back from this address.
                    self.unreachable.add(index)
                    return
            # The send buffer is full: read replies meanwhile, then try again.
            self._drain(on_reply)
            select.select([], [sock], [], 0.01)
        self.unreachable.add(index)

    def _settled(self, index: int) -> bool:
        return index in self.rtt or index in self.unreachable or self.known_alive(index)

    def run(self, on_reply: Callable[[int, float], None]) -> None:
        """Send ``retries + 1`` rounds to the addresses not yet answered; wait per round."""
        versions = {version for version, _address in self.wire}
        try:
            for version in sorted(versions):
                try:
                    self.sockets[version] = _open_raw(version)
                except OSError:
                    # No raw socket for this family (IPv6 disabled, say): nothing to wait for.
                    self.unreachable.update(
                        i for i, (v, _address) in enumerate(self.wire) if v == version
                    )
            for _attempt in range(self.retries + 1):
                todo = [i for i in range(len(self.wire)) if not self._settled(i)]
                if not todo:
                    return
                for count, index in enumerate(todo, 1):
                    if count % _DRAIN_EVERY == 0:
                        self._drain(on_reply)
                        if self.should_stop():
                            return
                    self._send(index, on_reply)
                self._wait(self.timeout, on_reply)
                if self.should_stop():
                    return
        finally:
            for sock in self.sockets.values():
                sock.close()
            self.sockets.clear()


def icmp_echo_sweep(
    addresses: Sequence[str],
    *,
    timeout: float = 1.0,
    retries: int = 1,
    on_reply: Callable[[str, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """ICMP/ICMPv6 echo to every address; return {address: rtt_ms} of those that answered.

    Needs raw sockets (root or CAP_NET_RAW); raises ValidationError without them. Addresses
    are canonical texts in the result (as :func:`ipaddress.ip_address` prints them).
    """
    checked = _check_addresses(addresses)
    _check_options(timeout, retries)
    if not checked:
        return {}
    try:
        _open_raw(4).close()
    except OSError:
        raise ValidationError(t("scan_discovery.icmp_unprivileged")) from None
    texts = [text for text, _ip in checked]
    sweep = _EchoSweep(texts, timeout, retries, should_stop=should_stop)
    answered: dict[str, float] = {}

    def reply(index: int, rtt: float) -> None:
        answered[texts[index]] = rtt
        if on_reply is not None:
            on_reply(texts[index], rtt)

    sweep.run(reply)
    return answered


def _check_options(timeout: float, retries: int) -> None:
    if not timeout > 0:
        raise ValidationError(
            t("scan_discovery.option_invalid", name="timeout", value=timeout, detail="> 0")
        )
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValidationError(
            t("scan_discovery.option_invalid", name="retries", value=retries, detail=">= 0")
        )


class _Verdicts:
    """Collects the first evidence per host from both sweeps (thread-safe)."""

    def __init__(
        self, texts: list[str], ports: int, on_result: Callable[[HostAlive], None] | None
    ) -> None:
        self.texts = texts
        self.position = {text: i for i, text in enumerate(texts)}
        self.alive: dict[int, HostAlive] = {}
        self.tcp_decided = [0] * len(texts)
        self.ports = ports
        self.on_result = on_result
        self.lock = threading.Lock()

    def found(self, index: int, verdict: HostAlive) -> None:
        with self.lock:
            if index in self.alive:
                return
            self.alive[index] = verdict
            if self.on_result is not None:
                self.on_result(verdict)

    def tcp(self, result: PortResult) -> None:
        index = self.position[result.address]
        with self.lock:
            self.tcp_decided[index] += 1
        if result.state == "filtered":
            return
        reason = "tcp_open" if result.state == "open" else "tcp_reset"
        self.found(
            index, HostAlive(result.address, True, "tcp", result.rtt_ms, reason, result.port)
        )

    def is_alive(self, index: int) -> bool:
        """Whether some probe already proved host ``index`` alive."""
        return index in self.alive

    def all_alive(self) -> bool:
        """Whether every host is already known alive."""
        return len(self.alive) == len(self.texts)

    def icmp(self, index: int, rtt: float) -> None:
        self.found(index, HostAlive(self.texts[index], True, "icmp", rtt, "echo_reply"))


def discover_hosts(
    addresses: Sequence[str],
    *,
    method: Method = "auto",
    ports: Sequence[int] = DEFAULT_PING_PORTS,
    timeout: float = 1.0,
    retries: int = 0,
    batch: int = 1024,
    on_result: Callable[[HostAlive], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[HostAlive]:
    """Decide which addresses answer; one :class:`HostAlive` per unique address, input order.

    ``tcp`` connects to ``ports`` (open or RST = alive); ``icmp`` sends echo requests (raw
    sockets, ValidationError without the privilege); ``auto`` does both at once when
    privileged, TCP alone otherwise; ``none`` assumes every host is up (like ``nmap -Pn``).
    ``timeout`` is per probe, ``retries`` repeats unanswered probes, ``batch`` caps the TCP
    connects in flight. ``on_result`` gets each live host as soon as it is found (under a
    lock, possibly from the ICMP helper thread) and each dead one at the end.
    ``should_stop`` cancels: nothing new is sent, and hosts whose probes were not all
    decided get reason ``stopped``.
    """
    checked = _check_addresses(addresses)
    if method not in ("auto", "tcp", "icmp", "none"):
        raise ValidationError(
            t(
                "scan_discovery.option_invalid",
                name="method",
                value=method,
                detail="auto|tcp|icmp|none",
            )
        )
    _check_options(timeout, retries)
    texts = [text for text, _ip in checked]
    if method == "none":
        assumed = [HostAlive(text, True, "none", None, "assumed") for text in texts]
        if on_result is not None:
            for verdict in assumed:
                on_result(verdict)
        return assumed
    use_tcp = method in ("auto", "tcp")
    use_icmp = method in ("icmp", "auto") and icmp_available()
    if method == "icmp" and not use_icmp:
        raise ValidationError(t("scan_discovery.icmp_unprivileged"))
    port_list = list(ports) if use_tcp else []
    if use_tcp and not port_list:
        raise ValidationError(
            t("scan_discovery.option_invalid", name="ports", value="()", detail=">= 1")
        )
    verdicts = _Verdicts(texts, len(port_list), on_result)
    stopped = threading.Event()

    def stop_requested() -> bool:
        if stopped.is_set():
            return True
        if should_stop is not None and should_stop():
            stopped.set()
            return True
        return False

    sweep: _EchoSweep | None = None
    helper: threading.Thread | None = None
    failure: list[BaseException] = []
    if use_icmp and texts:
        # Echo requests are cheap and often lost to rate limits: at least one resend.
        sweep = _EchoSweep(
            texts,
            timeout,
            max(retries, 1),
            should_stop=stop_requested,
            known_alive=verdicts.is_alive,
        )

        def run_icmp() -> None:
            assert sweep is not None
            try:
                sweep.run(verdicts.icmp)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)

        if use_tcp:
            helper = threading.Thread(target=run_icmp, name="icmp-sweep", daemon=True)
            helper.start()
        else:
            run_icmp()
    try:
        if use_tcp and texts:
            tcp_connect_scan(
                texts,
                port_list,
                timeout=timeout,
                retries=retries,
                batch=batch,
                report_closed=True,
                on_result=verdicts.tcp,
                # Once every host is known alive (ICMP may get there first) nothing new
                # needs starting; that is not a cancellation, so ``stopped`` stays clear.
                should_stop=lambda: verdicts.all_alive() or stop_requested(),
            )
    except BaseException:
        stopped.set()  # let the ICMP thread end now instead of after its timeouts
        raise
    finally:
        if helper is not None:
            helper.join()
    if failure:
        raise failure[0]
    return _final(texts, verdicts, sweep, stopped.is_set(), use_tcp, on_result)


def _final(
    texts: list[str],
    verdicts: _Verdicts,
    sweep: _EchoSweep | None,
    stopped: bool,
    use_tcp: bool,
    on_result: Callable[[HostAlive], None] | None,
) -> list[HostAlive]:
    results: list[HostAlive] = []
    for index, text in enumerate(texts):
        verdict = verdicts.alive.get(index)
        if verdict is None:
            complete = not stopped or (use_tcp and verdicts.tcp_decided[index] >= verdicts.ports)
            method = "tcp" if use_tcp else "icmp"
            if use_tcp and sweep is not None:
                method = "tcp+icmp"
            verdict = HostAlive(text, False, method, None, "no_response" if complete else "stopped")
            if on_result is not None:
                on_result(verdict)
        results.append(verdict)
    return results
