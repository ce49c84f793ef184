"""The callback server: an authoritative DNS responder and TCP listeners on threads.

One server per process, created from the settings and started on first use by a template
that needs callbacks. It only listens: it answers the peer that reached it and never
opens a connection or sends a packet anywhere else.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import Settings, get_settings
from shaobing.templates.oob.dns import DnsFormatError, Zone, describe_query, parse_query
from shaobing.templates.oob.registry import GRACE, Interaction, Registry, clip
from shaobing.templates.oob.tcp import BANNER_WAIT, IDLE_WAIT, MAX_EXCHANGES, converse

# Organisation-defined: concurrent TCP connections served at once (more are closed at
# once, so a flood cannot exhaust the scanner's threads), the largest UDP datagram read,
# how long a DNS-over-TCP client may stay idle, and how often the loop checks for stop.
MAX_CONNECTIONS = 64
# Organisation-defined: connections the kernel queues while the loop is busy.
LISTEN_BACKLOG = 128
UDP_READ = 65535
DNS_TCP_IDLE = 5.0
POLL = 0.25
# With port 0 (tests), the DNS UDP and TCP sockets must get the same free port: retry.
PORT_ATTEMPTS = 20
# A documentation address (RFC 5737): connect() on a UDP socket only picks the route and
# the local address, it sends no packet.
_ROUTE_PROBE = ("192.0.2.1", 9)


_LOG = logging.getLogger(__name__)


class OobUnavailable(ValidationError):
    """A template needs callbacks but the server is not configured or cannot listen."""


def primary_address() -> str:
    """The local address of the default route (no packet is sent to find it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_ROUTE_PROBE)
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


@dataclass(frozen=True)
class OobConfig:
    """Where the server listens and what its zone is (see ``Settings.oob_*``)."""

    domain: str
    listen: str = "0.0.0.0"  # noqa: S104 - callbacks come from the targets' networks
    advertise: str | None = None
    dns_port: int = 53
    tcp_ports: tuple[int, ...] = (80, 389, 1099)
    wait: float = 5.0
    banner_wait: float = BANNER_WAIT
    idle_wait: float = IDLE_WAIT
    grace: float = GRACE

    @classmethod
    def from_settings(cls, settings: Settings) -> OobConfig | None:
        """The configuration from the settings; None when no zone is configured."""
        if not settings.oob_domain:
            return None
        return cls(
            domain=settings.oob_domain,
            listen=settings.oob_listen,
            advertise=settings.oob_advertise,
            dns_port=settings.oob_dns_port,
            tcp_ports=tuple(settings.oob_tcp_ports),
            wait=settings.oob_wait,
        )

    def advertised(self) -> str:
        """The address A/AAAA answers carry."""
        if self.advertise:
            return self.advertise
        if ipaddress.ip_address(self.listen).is_unspecified:
            return primary_address()
        return self.listen


_Handler = Callable[[socket.socket, tuple[str, int], int], None]


@dataclass
class _Listener:
    sock: socket.socket
    kind: str  # "dns-udp", "dns-tcp" or "tcp"
    port: int = 0


@dataclass
class _State:
    listeners: list[_Listener] = field(default_factory=list)
    thread: threading.Thread | None = None


class OobServer:
    """The callback server of one configuration (start it with :meth:`start`)."""

    def __init__(self, config: OobConfig, registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry or Registry()
        self.zone = Zone(config.domain, config.advertised())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._state = _State()
        self._error: OobUnavailable | None = None
        self._started = False

    # ---------------------------------------------------------------- public

    @property
    def domain(self) -> str:
        """The callback zone (lower case, no trailing dot)."""
        return self.zone.domain

    @property
    def dns_port(self) -> int:
        """The DNS port actually bound (differs from the configured one when that is 0)."""
        return next((item.port for item in self._state.listeners if item.kind == "dns-udp"), 0)

    @property
    def tcp_ports(self) -> list[int]:
        """The TCP callback ports actually bound."""
        return [item.port for item in self._state.listeners if item.kind == "tcp"]

    def start(self) -> OobServer:
        """Bind every socket and start the serving thread (once; later calls return at
        once, or raise the first failure again). Raises OobUnavailable."""
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._started:
                return self
            try:
                self._bind()
            except OobUnavailable as exc:
                self._error = exc
                self._close_sockets()
                raise
            self._stop.clear()
            thread = threading.Thread(target=self._serve, name="shaobing-oob", daemon=True)
            self._state.thread = thread
            self._started = True
            thread.start()
            return self

    def close(self) -> None:
        """Stop serving and release the ports."""
        with self._lock:
            self._stop.set()
            thread = self._state.thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
            self._close_sockets()
            self._state = _State()
            self._started = False

    def url(self, correlation_id: str) -> str:
        """The callback host name of ``correlation_id``."""
        return f"{correlation_id}.{self.domain}"

    def new_url(self) -> tuple[str, str]:
        """A fresh registered correlation id and its host name."""
        cid = self.registry.register()
        return cid, self.url(cid)

    def wait(self, ids: list[str], timeout: float | None = None) -> list[Interaction]:
        """Interactions of ``ids``, waiting up to ``timeout`` (default the configured
        wait) for the first one and a short grace period for the ones that follow."""
        limit = self.config.wait if timeout is None else timeout
        return self.registry.wait(ids, limit, min(self.config.grace, limit))

    def answer_dns(
        self, data: bytes, peer: tuple[str, int], *, udp: bool, port: int
    ) -> bytes | None:
        """Answer one DNS message; record it when its question name holds a registered
        id (a resolver may change the name's case, so ids are matched case-insensitively)."""
        answer = self.zone.respond(data, udp=udp)
        try:
            question = parse_query(data).question
        except DnsFormatError:
            question = None
        name = question.name if question is not None else ""
        query = describe_query(data)
        self.registry.record(
            name,
            lambda cid: Interaction(
                protocol="dns",
                correlation_id=cid,
                remote_address=str(peer[0]),
                remote_port=int(peer[1]),
                request=clip(query),
                response=clip(answer.text) if answer else "",
                timestamp=datetime.now(UTC),
                local_port=port,
            ),
        )
        return answer.wire if answer else None

    # --------------------------------------------------------------- binding

    def _family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.config.listen else socket.AF_INET

    def _bind_one(self, kind: int, port: int, label: str) -> socket.socket:
        sock = socket.socket(self._family(), kind)
        try:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.config.listen, port))
            if kind == socket.SOCK_STREAM:
                sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OobUnavailable(
                t(
                    "templates_oob.bind_failed",
                    protocol=label,
                    address=self.config.listen,
                    port=port,
                    detail=exc.strerror or exc,
                )
            ) from exc
        return sock

    def _bind_dns(self) -> None:
        port = self.config.dns_port
        attempts = PORT_ATTEMPTS if port == 0 else 1
        for attempt in range(attempts):
            udp = self._bind_one(socket.SOCK_DGRAM, port, "UDP")
            bound = int(udp.getsockname()[1])
            try:
                tcp = self._bind_one(socket.SOCK_STREAM, bound, "TCP")
            except OobUnavailable:
                udp.close()
                if attempt + 1 >= attempts:
                    raise
                continue
            self._state.listeners += [
                _Listener(udp, "dns-udp", bound),
                _Listener(tcp, "dns-tcp", bound),
            ]
            return

    def _bind(self) -> None:
        self._bind_dns()
        for port in self.config.tcp_ports:
            sock = self._bind_one(socket.SOCK_STREAM, port, "TCP")
            self._state.listeners.append(_Listener(sock, "tcp", int(sock.getsockname()[1])))

    def _close_sockets(self) -> None:
        for item in self._state.listeners:
            with contextlib.suppress(OSError):
                item.sock.close()
        self._state.listeners = []

    # --------------------------------------------------------------- serving

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        listeners = list(self._state.listeners)
        for item in listeners:
            selector.register(item.sock, selectors.EVENT_READ, item)
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(POLL):
                    listener: _Listener = key.data
                    try:
                        if listener.kind == "dns-udp":
                            self._udp(listener)
                        else:
                            self._accept(listener)
                    except Exception:  # noqa: BLE001 - one bad packet must not stop the server
                        _LOG.exception(
                            "callback server: unexpected error on port %d", listener.port
                        )
        finally:
            selector.close()

    def _udp(self, listener: _Listener) -> None:
        try:
            data, peer = listener.sock.recvfrom(UDP_READ)
        except OSError:
            return
        wire = self.answer_dns(data, peer, udp=True, port=listener.port)
        if wire is not None:
            with contextlib.suppress(OSError):
                listener.sock.sendto(wire, peer)

    def _accept(self, listener: _Listener) -> None:
        try:
            conn, peer = listener.sock.accept()
        except OSError:
            return
        if not self._slots.acquire(blocking=False):
            conn.close()
            return
        target = self._dns_tcp if listener.kind == "dns-tcp" else self._tcp
        worker = threading.Thread(
            target=self._guarded,
            args=(target, conn, peer, listener.port),
            name="shaobing-oob-conn",
            daemon=True,
        )
        try:
            worker.start()
        except RuntimeError:
            self._slots.release()
            conn.close()

    def _guarded(self, target: _Handler, conn: socket.socket, peer: Any, port: int) -> None:
        try:
            conn.setblocking(True)
            target(conn, (str(peer[0]), int(peer[1])), port)
        except OSError:
            pass  # the peer went away: nothing to record beyond what was recorded
        except Exception:  # noqa: BLE001 - a hostile peer must not reach the thread's top
            _LOG.exception("callback server: unexpected error serving %s", peer)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            self._slots.release()

    def _dns_tcp(self, conn: socket.socket, peer: tuple[str, int], port: int) -> None:
        for _ in range(MAX_EXCHANGES):
            head = _recv_exact(conn, 2, DNS_TCP_IDLE)
            if head is None:
                return
            (size,) = struct.unpack("!H", head)
            data = _recv_exact(conn, size, DNS_TCP_IDLE)
            if data is None:
                return
            wire = self.answer_dns(data, peer, udp=False, port=port)
            if wire is None:
                return
            conn.sendall(struct.pack("!H", len(wire)) + wire)

    def _tcp(self, conn: socket.socket, peer: tuple[str, int], port: int) -> None:
        exchange = converse(
            conn,
            peer,
            domain=self.domain,
            find_ids=self.registry.find_ids,
            banner_wait=self.config.banner_wait,
            idle_wait=self.config.idle_wait,
        )
        if not exchange.received:
            return
        self.registry.record(
            exchange.received + exchange.request.encode("utf-8", "replace"),
            lambda cid: Interaction(
                protocol=exchange.protocol,
                correlation_id=cid,
                remote_address=str(peer[0]),
                remote_port=int(peer[1]),
                request=clip(exchange.request),
                response=clip(exchange.response),
                timestamp=datetime.now(UTC),
                local_port=port,
            ),
        )


def _recv_exact(conn: socket.socket, size: int, idle: float) -> bytes | None:
    data = bytearray()
    deadline = time.monotonic() + idle
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        conn.settimeout(remaining)
        try:
            chunk = conn.recv(size - len(data))
        except TimeoutError:
            return None
        if not chunk:
            return None
        data.extend(chunk)
    return bytes(data)


# ------------------------------------------------------------- process-wide server

_SHARED_LOCK = threading.Lock()
_shared: OobServer | None = None


def shared_server() -> OobServer | None:
    """The process-wide server for the current settings (created, not yet started);
    None when ``oob_domain`` is not configured."""
    global _shared  # noqa: PLW0603 - one callback server per process, by design
    config = OobConfig.from_settings(get_settings())
    with _SHARED_LOCK:
        if config is None:
            return None
        if _shared is None or _shared.config != config:
            # The settings changed (tests, the CLI's --home): serve the new configuration.
            if _shared is not None:
                _shared.close()
            _shared = OobServer(config)
        return _shared


def reset_shared_server() -> None:
    """Stop and forget the process-wide server (tests, settings reloads)."""
    global _shared  # noqa: PLW0603 - see shared_server
    with _SHARED_LOCK:
        if _shared is not None:
            _shared.close()
        _shared = None
