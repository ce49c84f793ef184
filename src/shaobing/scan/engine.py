"""The network scan engine (A3, B1-B4): discovery, port sweep, identification, checks.

The engine owns concurrency (a global worker pool and a per-host limit), the rate limit,
timeouts and retries, and calls the scope gate before every connection. It never touches
the database: it reports hosts and observations to a :class:`ScanSink` in batches and
saves its :class:`ScanState` there after every unit of work, so a paused or interrupted
scan continues where it stopped (``shaobing scan resume``). Phases run in order; the
state records which hosts, ports and (check, service) jobs are done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from shaobing.core.scope import ScopeRefused
from shaobing.scan.checks import Check, Observation, ServiceTarget, TargetKind
from shaobing.scan.context import RateLimiter, ScanContext, ScopeGate
from shaobing.scan.policy import Policy
from shaobing.scan.portscan import PortResult, tcp_connect_scan

Phase = Literal["discovery", "ports", "udp", "identify", "checks", "done"]
PHASES: tuple[Phase, ...] = ("discovery", "ports", "udp", "identify", "checks", "done")
Control = Literal["run", "pause", "cancel"]

# Hosts swept per port-scan round; the state is saved after each round. A round of 16 hosts
# × 1,000 ports keeps ~1,000 connects in flight while bounding lost work on a crash.
_SWEEP_HOSTS = 16
# Observations handed to the sink at once (the sink ingests them in one transaction).
_OBSERVATION_BATCH = 200
# Seconds between state saves while checks run (bounds the work lost to a crash).
_SAVE_EVERY = 2.0
# Check failures kept (with their message) in the state for the scan report.
_MAX_ERRORS_KEPT = 50
_T = TypeVar("_T")
_R = TypeVar("_R")
# Seconds between polls of the sink for pause/cancel requests from other processes.
_CONTROL_POLL = 1.0


@dataclass
class ServiceRecord:
    """One open port and what identification learned about it."""

    address: str
    port: int
    protocol: str = "tcp"
    state: str = "open"
    service: str | None = None
    product: str | None = None
    version: str | None = None
    cpe: list[str] = field(default_factory=list)
    info: str | None = None
    banner: str | None = None
    tls: bool = False
    os: str | None = None
    flags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``address:port/protocol`` identifying the record."""
        return f"{self.address}|{self.port}|{self.protocol}"

    def target(self, zone: str | None, hostnames: tuple[str, ...]) -> ServiceTarget:
        """The view a check gets of this service."""
        return ServiceTarget(
            address=self.address,
            port=self.port,
            protocol=self.protocol,
            service=self.service,
            product=self.product,
            version=self.version,
            tls=self.tls,
            banner=self.banner,
            hostnames=hostnames,
            zone=zone,
            flags=tuple(self.flags),
        )


@dataclass
class ScanState:
    """Everything needed to continue a scan; JSON-serialisable (saved in the scan run)."""

    phase: Phase = "discovery"
    addresses: list[str] = field(default_factory=list)
    alive: list[str] = field(default_factory=list)
    swept: list[str] = field(default_factory=list)
    udp_done: list[str] = field(default_factory=list)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    identified: list[str] = field(default_factory=list)
    jobs_done: list[str] = field(default_factory=list)
    hostnames: dict[str, list[str]] = field(default_factory=dict)
    zones: dict[str, str] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain data for the database."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScanState:
        """Rebuild a saved state (unknown keys ignored: older or newer versions)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def records(self) -> list[ServiceRecord]:
        """The open services found so far, in address/port order."""
        return [ServiceRecord(**value) for value in self.services.values()]

    def add_service(self, record: ServiceRecord) -> None:
        """Remember an open port (or update what is known of it)."""
        self.services[record.key] = asdict(record)


class ScanSink(Protocol):
    """Where the engine's results go (the database in production, lists in tests)."""

    def hosts(self, records: list[ServiceRecord], state: ScanState) -> None:
        """Hosts and their services found or updated."""

    def observations(self, items: list[Observation], state: ScanState) -> None:
        """Findings of checks, in batches."""

    def checkpoint(self, state: ScanState) -> None:
        """Save the state (called after every unit of work)."""

    def control(self) -> Control:
        """Whether to go on, pause or cancel (polled about once a second)."""


class Progress(Protocol):
    """Progress display hooks (a rich progress bar in the CLI)."""

    def phase(self, name: Phase, total: int) -> None:
        """A phase starts with ``total`` units of work."""

    def advance(self, units: int = 1) -> None:
        """Units of the current phase finished."""


class _NoProgress:
    def phase(self, name: Phase, total: int) -> None:
        """Nothing shown."""

    def advance(self, units: int = 1) -> None:
        """Nothing shown."""


@dataclass
class EngineOptions:
    """Per-run settings the CLI may override over the policy."""

    ports: tuple[int, ...]
    concurrency: int
    per_host: int
    rate: int
    timeout: float
    retries: int
    zone: str | None = None
    identify_timeout: float = 3.0


PortPhase = Callable[[dict[str, list[int]], Callable[[], bool]], list["ServiceRecord"]]
Identifier = Callable[[str, int, float], ServiceRecord | None]
UdpProber = Callable[[str, int, float, int], ServiceRecord | None]
Discoverer = Callable[[list[str], str, float, Callable[[], bool]], set[str]]


class ScanEngine:
    """Runs one scan from a state to completion, pause or cancellation."""

    def __init__(
        self,
        policy: Policy,
        options: EngineOptions,
        checks: Iterable[Check],
        gate: ScopeGate,
        sink: ScanSink,
        *,
        identifier: Identifier,
        udp_prober: UdpProber | None = None,
        discoverer: Discoverer | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.policy = policy
        self.options = options
        self.checks = [c for c in checks if policy.allows(c.id, c.safety)]
        self.gate = gate
        self.sink = sink
        self.identifier = identifier
        self.udp_prober = udp_prober
        self.discoverer = discoverer
        self.progress = progress or _NoProgress()
        self.stop = threading.Event()
        self.outcome: Control = "run"
        self.stop_message: str | None = None
        self._last_poll = 0.0
        self._last_save = time.monotonic()
        self._limiter = RateLimiter(options.rate)
        self._pending: list[Observation] = []
        self._pending_lock = threading.Lock()
        self.context = ScanContext(gate, self._limiter, timeout=options.timeout, stop=self.stop)
        # Another engine for the port and identification phases (``--engine nmap``): given
        # hosts and the ports allowed on them, returns identified open services.
        self.port_phase: PortPhase | None = None

    # ------------------------------------------------------------------ control

    def request(self, what: Control) -> None:
        """Ask the running scan to pause or cancel (signal handlers, tests)."""
        if what != "run":
            self.outcome = what
            self.stop.set()

    def _poll(self) -> bool:
        """True when the scan must stop; asks the sink at most once a second."""
        if self.stop.is_set():
            return True
        now = time.monotonic()
        if now - self._last_poll >= _CONTROL_POLL:
            self._last_poll = now
            refusal = self.gate.time_refusal()
            if refusal is not None:
                # The authorised time window (or the service period) closed: pause so the
                # rest runs in the next window instead of being refused piece by piece.
                self.stop_message = refusal.message
                self.request("pause")
                return True
            wanted = self.sink.control()
            if wanted != "run":
                self.request(wanted)
        return self.stop.is_set()

    def _count(self, state: ScanState, name: str, amount: float = 1) -> None:
        state.counters[name] = state.counters.get(name, 0) + amount

    # ------------------------------------------------------------------ run

    def run(self, state: ScanState) -> Control:
        """Continue ``state`` until done ("run" returned) or stopped (pause/cancel)."""
        steps: dict[Phase, Callable[[ScanState], None]] = {
            "discovery": self._discover,
            "ports": self._sweep,
            "udp": self._udp,
            "identify": self._identify,
            "checks": self._run_checks,
        }
        self._last_poll = 0.0
        while state.phase != "done":
            if self._poll():
                self.sink.checkpoint(state)
                return self.outcome
            steps[state.phase](state)
            self._flush(state)
            if self.stop.is_set():
                self.sink.checkpoint(state)
                return self.outcome
            state.phase = PHASES[PHASES.index(state.phase) + 1]
            self.sink.checkpoint(state)
        return "run"

    # ------------------------------------------------------------------ phases

    def _allowed(self, address: str, port: int | None = None) -> bool:
        return self.gate.decide(address, port).allowed

    def _discover(self, state: ScanState) -> None:
        # Port-specific scopes are judged port by port in the sweep.
        candidates = [a for a in state.addresses if self.gate.port_sensitive(a) or self._allowed(a)]
        method = self.policy.discovery
        self.progress.phase("discovery", len(candidates))
        if method == "none" or self.discoverer is None or not candidates:
            state.alive = candidates
            self.progress.advance(len(candidates))
            return
        # Port-specific scopes: liveness probes would touch ports outside the grant, so
        # such hosts are taken as up and only their granted ports are swept.
        sensitive = [a for a in candidates if self.gate.port_sensitive(a)]
        plain = [a for a in candidates if a not in set(sensitive)]
        alive = self.discoverer(plain, method, self.options.timeout, self._poll)
        state.alive = [a for a in candidates if a in alive or a in sensitive]
        self._count(state, "hosts_down", len(plain) - len(alive & set(plain)))
        self.progress.advance(len(candidates))

    def _sweep(self, state: ScanState) -> None:
        todo = [a for a in state.alive if a not in set(state.swept)]
        self.progress.phase("ports", len(todo))
        ports = self.options.ports
        for start in range(0, len(todo), _SWEEP_HOSTS):
            if self._poll():
                return
            group = todo[start : start + _SWEEP_HOSTS]
            by_host: dict[str, list[int]] = {}
            for address in group:
                allowed = [p for p in ports if self._allowed(address, p)]
                by_host[address] = allowed
            if self.port_phase is not None:
                for record in self.port_phase(by_host, self._poll):
                    if record.port in set(by_host.get(record.address, ())):
                        state.add_service(record)
                        state.identified.append(record.key)
            else:
                for result in self._sweep_group(by_host):
                    state.add_service(ServiceRecord(address=result.address, port=result.port))
            self._count(state, "connections", sum(len(p) for p in by_host.values()))
            state.swept.extend(group)
            self.sink.hosts([r for r in state.records() if r.address in set(group)], state)
            self.sink.checkpoint(state)
            self.progress.advance(len(group))

    def _sweep_group(self, by_host: dict[str, list[int]]) -> list[PortResult]:
        # Hosts sharing the same allowed ports (the usual case) are swept in one call so
        # connects to all of them overlap.
        groups: dict[tuple[int, ...], list[str]] = {}
        for address, allowed in by_host.items():
            if allowed:
                groups.setdefault(tuple(allowed), []).append(address)
        results: list[PortResult] = []
        for ports, addresses in groups.items():
            results.extend(self._rated_scan(addresses, list(ports)))
        return results

    def _rated_scan(self, addresses: list[str], ports: list[int]) -> list[PortResult]:
        rate = self.options.rate
        batch = max(1, min(1000, self.options.concurrency * 32))
        if rate <= 0:
            return tcp_connect_scan(
                addresses,
                ports,
                timeout=self.options.timeout,
                retries=self.options.retries,
                batch=batch,
                should_stop=self._poll,
            )
        # With a rate limit: one slice of ``rate`` connects per second.
        per_slice = max(1, rate // max(1, len(addresses)))
        results: list[PortResult] = []
        for start in range(0, len(ports), per_slice):
            if self._poll():
                break
            began = time.monotonic()
            results.extend(
                tcp_connect_scan(
                    addresses,
                    ports[start : start + per_slice],
                    timeout=self.options.timeout,
                    retries=self.options.retries,
                    batch=min(batch, rate),
                    should_stop=self._poll,
                )
            )
            spent = time.monotonic() - began
            if spent < 1.0:
                time.sleep(1.0 - spent)
        return results

    def _udp(self, state: ScanState) -> None:
        ports = self.policy.udp_ports
        todo = [a for a in state.alive if a not in set(state.udp_done)]
        self.progress.phase("udp", len(todo))
        if not ports or self.udp_prober is None:
            self.progress.advance(len(todo))
            return
        prober = self.udp_prober

        def probe_host(address: str) -> list[ServiceRecord]:
            found: list[ServiceRecord] = []
            for port in ports:
                if self.stop.is_set() or not self._allowed(address, port):
                    continue
                self._limiter.acquire()
                record = prober(address, port, self.options.timeout, self.options.retries)
                if record is not None:
                    found.append(record)
            return found

        for address, records in self._parallel(todo, probe_host, key=lambda a: a):
            for record in records:
                state.add_service(record)
            state.udp_done.append(address)
            if records:
                self.sink.hosts(records, state)
            self.progress.advance()
        self.sink.checkpoint(state)

    def _identify(self, state: ScanState) -> None:
        records = [r for r in state.records() if r.protocol == "tcp"]
        done = set(state.identified)
        todo = [r for r in records if r.key not in done]
        self.progress.phase("identify", len(todo))
        if not self.policy.identify:
            state.identified.extend(r.key for r in todo)
            self.progress.advance(len(todo))
            return
        timeout = self.options.identify_timeout

        def identify(record: ServiceRecord) -> ServiceRecord:
            if not self._allowed(record.address, record.port):
                return record
            self._limiter.acquire()
            found = self.identifier(record.address, record.port, timeout)
            return found if found is not None else record

        changed: list[ServiceRecord] = []
        for original, record in self._parallel(todo, identify, key=lambda r: r.address):
            state.add_service(record)
            state.identified.append(original.key)
            changed.append(record)
            if len(changed) >= 64:
                self.sink.hosts(changed, state)
                self.sink.checkpoint(state)
                changed = []
            self.progress.advance()
        if changed:
            self.sink.hosts(changed, state)

    def _jobs(self, state: ScanState) -> list[tuple[Check, ServiceTarget]]:
        done = set(state.jobs_done)
        jobs: list[tuple[Check, ServiceTarget]] = []
        records = state.records()
        seen_hosts: set[str] = set()
        for record in records:
            target = record.target(
                self.options.zone, tuple(state.hostnames.get(record.address, []))
            )
            for check in self.checks:
                if check.target_kind == TargetKind.HOST:
                    if record.address in seen_hosts:
                        continue
                elif not check.applies(target):
                    continue
                if _job_key(check, target) not in done:
                    jobs.append((check, target))
            seen_hosts.add(record.address)
        return jobs

    def _run_checks(self, state: ScanState) -> None:
        jobs = self._jobs(state)
        self.progress.phase("checks", len(jobs))

        def run_job(job: tuple[Check, ServiceTarget]) -> list[Observation]:
            check, target = job
            ctx = self.context.with_options(self.policy.options_for(check.id))
            try:
                return list(_bounded(check.run(target, ctx)))
            except ScopeRefused:
                return []
            except Exception as exc:  # noqa: BLE001 - one broken check must not end the scan
                self._note_error(state, check, target, exc)
                return []

        for job, observations in self._parallel(jobs, run_job, key=lambda j: j[1].address):
            if self.stop.is_set() and not observations:
                # A check cut short by pause/cancel may have missed things: run it again
                # on resume rather than mark it done.
                continue
            state.jobs_done.append(_job_key(*job))
            self._count(state, "checks_run")
            kept = [o for o in observations if self.policy.keeps(o.severity)]
            if kept:
                with self._pending_lock:
                    self._pending.extend(kept)
            if len(self._pending) >= _OBSERVATION_BATCH:
                self._flush(state)
            elif time.monotonic() - self._last_save >= _SAVE_EVERY:
                self._flush(state)
                self.sink.checkpoint(state)
                self._last_save = time.monotonic()
            self.progress.advance()

    def _note_error(
        self, state: ScanState, check: Check, target: ServiceTarget, exc: Exception
    ) -> None:
        self._count(state, "check_errors")
        with self._pending_lock:
            if len(state.errors) < _MAX_ERRORS_KEPT:
                state.errors.append(f"{check.id} {target.key}: {type(exc).__name__}: {exc}"[:300])

    def _flush(self, state: ScanState) -> None:
        with self._pending_lock:
            items, self._pending = self._pending, []
        if items:
            self.sink.observations(items, state)
            self.sink.checkpoint(state)

    # ------------------------------------------------------------------ workers

    def _parallel(
        self, items: list[_T], work: Callable[[_T], _R], *, key: Callable[[_T], str]
    ) -> Iterator[tuple[_T, _R]]:
        """Run ``work`` over ``items`` with the global and per-host limits; yields as done.

        Stops submitting once the scan must stop; work already running finishes.
        """
        queue = list(items)
        running: dict[Future[_R], _T] = {}
        per_host: dict[str, int] = {}
        limit = self.options.per_host
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            while queue or running:
                if not self._poll():
                    index = 0
                    while index < len(queue) and len(running) < self.options.concurrency:
                        host = key(queue[index])
                        if per_host.get(host, 0) >= limit:
                            index += 1
                            continue
                        item = queue.pop(index)
                        per_host[host] = per_host.get(host, 0) + 1
                        running[pool.submit(work, item)] = item
                if not running:
                    break
                finished, _ = wait(
                    list(running), timeout=_CONTROL_POLL, return_when=FIRST_COMPLETED
                )
                for future in finished:
                    item = running.pop(future)
                    per_host[key(item)] -= 1
                    yield item, future.result()


def _job_key(check: Check, target: ServiceTarget) -> str:
    if check.target_kind == TargetKind.HOST:
        return f"{check.id}|{target.address}"
    return f"{check.id}|{target.address}|{target.port}|{target.protocol}"


# A check that yields without end (a bug) must not fill memory.
_MAX_OBSERVATIONS_PER_JOB = 1000


def _bounded(items: Iterable[Observation]) -> Iterator[Observation]:
    for count, item in enumerate(items):
        if count >= _MAX_OBSERVATIONS_PER_JOB:
            return
        yield item
