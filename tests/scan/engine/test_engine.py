"""The scan engine with an in-memory sink: phases, scope, limits, pause/resume, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from shaobing.core.scope import Scope, ScopeRefused
from shaobing.scan.checks import Check, Observation
from shaobing.scan.context import RateLimiter, ScanContext, ScopeGate
from shaobing.scan.engine import (
    Control,
    EngineOptions,
    ScanEngine,
    ScanState,
    ServiceRecord,
)
from shaobing.scan.policy import Policy
from tests.scan.engine.conftest import Listener
from tests.scan.engine.plugins import BannerCheck, BrokenCheck, IntrusiveCheck, SlowCheck


class MemorySink:
    """Collects what the engine reports; can ask for a pause after N checkpoints."""

    def __init__(self) -> None:
        self.records: dict[str, ServiceRecord] = {}
        self.observed: list[Observation] = []
        self.saved: list[dict[str, object]] = []
        self.wanted: Control = "run"

    def hosts(self, records: list[ServiceRecord], state: ScanState) -> None:
        for record in records:
            self.records[record.key] = record

    def observations(self, items: list[Observation], state: ScanState) -> None:
        self.observed.extend(items)

    def checkpoint(self, state: ScanState) -> None:
        self.saved.append(state.to_json())

    def control(self) -> Control:
        return self.wanted


def _gate(*includes: str, excludes: tuple[str, ...] = ()) -> ScopeGate:
    return ScopeGate(
        Scope.from_strings(includes=list(includes), excludes=list(excludes)),
        client_id=1,
        engagement_id=1,
        audit_engine=None,
        actor="test",
    )


def _slow_policy(seconds: float) -> Policy:
    """Only the slow test check, taking ``seconds`` per service."""
    return Policy(
        title="t",
        safety=("active",),
        checks=("test-engine.slow",),
        options={"test-engine.slow": {"seconds": seconds}},
    )


def _identifier(address: str, port: int, timeout: float) -> ServiceRecord | None:
    return ServiceRecord(address=address, port=port, service="test-service")


def _engine(
    ports: list[int],
    checks: list[Check],
    gate: ScopeGate,
    sink: MemorySink,
    *,
    policy: Policy | None = None,
    per_host: int = 4,
    concurrency: int = 8,
    rate: int = 0,
) -> ScanEngine:
    chosen = policy or Policy(
        title="t", safety=("passive", "active"), checks=("test-engine.*",), udp_ports=()
    )
    options = EngineOptions(
        ports=tuple(ports),
        concurrency=concurrency,
        per_host=per_host,
        rate=rate,
        timeout=0.5,
        retries=0,
    )
    return ScanEngine(chosen, options, checks, gate, sink, identifier=_identifier)


def test_phases_find_planted_ports_and_run_checks(listen: Callable[..., Listener]) -> None:
    vulnerable = listen("127.0.0.1", b"VULN service\r\n")
    clean = listen("127.0.0.1", b"HELLO\r\n")
    sink = MemorySink()
    engine = _engine([vulnerable.port, clean.port, 1], [BannerCheck()], _gate("127.0.0.1"), sink)
    state = ScanState(addresses=["127.0.0.1"])

    assert engine.run(state) == "run"

    assert state.phase == "done"
    assert sorted(r.port for r in state.records()) == sorted([vulnerable.port, clean.port])
    assert {r.service for r in sink.records.values()} == {"test-service"}
    assert [(o.check_id, o.port) for o in sink.observed] == [
        ("test-engine.banner", vulnerable.port)
    ]
    assert sorted(state.jobs_done) == sorted(
        f"test-engine.banner|127.0.0.1|{p}|tcp" for p in (vulnerable.port, clean.port)
    )


def test_out_of_scope_address_never_receives_a_connection(
    listen: Callable[..., Listener],
) -> None:
    inside = listen("127.0.0.1", b"VULN\r\n")
    outside = listen("127.0.0.2", b"VULN\r\n")
    sink = MemorySink()
    gate = _gate("127.0.0.1")
    engine = _engine([inside.port, outside.port], [BannerCheck()], gate, sink)
    # The planner would have left 127.0.0.2 out; the engine must refuse it on its own too.
    state = ScanState(addresses=["127.0.0.1", "127.0.0.2"])

    engine.run(state)

    time.sleep(0.1)
    assert outside.accepted == 0
    assert inside.accepted >= 2  # the sweep and the check
    assert "127.0.0.2" not in state.alive
    assert gate.refusals >= 1


def test_excluded_port_of_url_scope_is_not_swept(listen: Callable[..., Listener]) -> None:
    granted = listen("127.0.0.1", b"x")
    other = listen("127.0.0.1", b"x")
    gate = _gate(f"http://127.0.0.1:{granted.port}/")
    sink = MemorySink()
    engine = _engine([granted.port, other.port], [], gate, sink)

    engine.run(ScanState(addresses=["127.0.0.1"]))

    time.sleep(0.1)
    assert [r.port for r in sink.records.values()] == [granted.port]
    assert other.accepted == 0


def test_policy_safety_classes_filter_checks(
    listen: Callable[..., Listener], test_checks: Callable[..., None]
) -> None:
    server = listen("127.0.0.1", b"x")
    passive_only = Policy(title="p", safety=("passive",), checks=("test-engine.*",))
    engine = _engine(
        [server.port],
        [IntrusiveCheck(), SlowCheck()],
        _gate("127.0.0.1"),
        MemorySink(),
        policy=passive_only,
    )
    engine.run(ScanState(addresses=["127.0.0.1"]))
    assert IntrusiveCheck.ran == 0
    assert SlowCheck.calls == {}
    assert engine.checks == []


def test_broken_check_is_counted_and_scan_goes_on(listen: Callable[..., Listener]) -> None:
    server = listen("127.0.0.1", b"VULN\r\n")
    sink = MemorySink()
    engine = _engine([server.port], [BrokenCheck(), BannerCheck()], _gate("127.0.0.1"), sink)
    state = ScanState(addresses=["127.0.0.1"])
    assert engine.run(state) == "run"
    assert state.counters["check_errors"] == 1
    assert "RuntimeError: boom" in state.errors[0]
    assert len(sink.observed) == 1


def test_per_host_limit_is_respected(
    listen: Callable[..., Listener], test_checks: Callable[..., None]
) -> None:
    servers = [listen("127.0.0.1", b"x") for _ in range(6)]
    policy = _slow_policy(0.2)
    engine = _engine(
        [s.port for s in servers],
        [SlowCheck()],
        _gate("127.0.0.1"),
        MemorySink(),
        policy=policy,
        per_host=2,
        concurrency=8,
    )
    engine.run(ScanState(addresses=["127.0.0.1"]))
    assert SlowCheck.peak["127.0.0.1"] == 2
    assert sum(SlowCheck.calls.values()) == 6


def test_pause_saves_state_and_resume_finishes_each_job_once(
    listen: Callable[..., Listener], test_checks: Callable[..., None]
) -> None:
    servers = [listen("127.0.0.1", b"x") for _ in range(8)]
    policy = _slow_policy(0.3)
    sink = MemorySink()
    ports = [s.port for s in servers]
    engine = _engine(ports, [SlowCheck()], _gate("127.0.0.1"), sink, policy=policy, per_host=2)
    state = ScanState(addresses=["127.0.0.1"])
    timer = threading.Timer(0.45, engine.request, args=("pause",))
    timer.start()

    assert engine.run(state) == "pause"
    timer.join()

    saved = ScanState.from_json(sink.saved[-1])
    assert saved.phase == "checks"
    assert 0 < len(saved.jobs_done) < 8
    first_done = set(saved.jobs_done)

    resumed = _engine(ports, [SlowCheck()], _gate("127.0.0.1"), sink, policy=policy, per_host=2)
    assert resumed.run(saved) == "run"
    assert len(saved.jobs_done) == 8 == len(set(saved.jobs_done))
    assert first_done <= set(saved.jobs_done)
    # Jobs finished before the pause are not run again (interrupted ones may be).
    for key, count in SlowCheck.calls.items():
        port = int(key.split(":")[1].split("/")[0])
        job = f"test-engine.slow|127.0.0.1|{port}|tcp"
        assert count == 1 or job not in first_done


def test_cancel_from_the_sink_stops_the_scan(
    listen: Callable[..., Listener], test_checks: Callable[..., None]
) -> None:
    servers = [listen("127.0.0.1", b"x") for _ in range(6)]
    policy = _slow_policy(5)
    sink = MemorySink()
    engine = _engine(
        [s.port for s in servers],
        [SlowCheck()],
        _gate("127.0.0.1"),
        sink,
        policy=policy,
        per_host=6,
    )
    threading.Timer(0.3, lambda: setattr(sink, "wanted", "cancel")).start()
    began = time.monotonic()
    assert engine.run(ScanState(addresses=["127.0.0.1"])) == "cancel"
    # Running checks see should_stop() and return; nothing waits the full 5 s.
    assert time.monotonic() - began < 3.0


def test_rate_limiter_spaces_connections() -> None:
    limiter = RateLimiter(50)
    began = time.monotonic()
    for _ in range(26):
        limiter.acquire()
    assert time.monotonic() - began >= 0.48


def test_context_connect_refuses_out_of_scope_without_connecting(
    listen: Callable[..., Listener],
) -> None:
    outside = listen("127.0.0.3", b"x")
    ctx = ScanContext(_gate("127.0.0.1"), RateLimiter(0), timeout=0.5)
    with pytest.raises(ScopeRefused):
        ctx.connect("127.0.0.3", outside.port)
    with pytest.raises(ScopeRefused):
        ctx.permit("127.0.0.3", outside.port)
    time.sleep(0.1)
    assert outside.accepted == 0
    assert ctx.connections == 0


def test_state_round_trips_through_json() -> None:
    state = ScanState(addresses=["127.0.0.1"], alive=["127.0.0.1"], phase="identify")
    state.add_service(ServiceRecord(address="127.0.0.1", port=22, service="ssh", cpe=["x"]))
    again = ScanState.from_json(state.to_json() | {"unknown_future_key": 1})
    assert again == state


def test_closing_time_window_pauses_without_marking_jobs_done(
    listen: Callable[..., Listener], test_checks: Callable[..., None]
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    servers = [listen("127.0.0.1", b"x") for _ in range(6)]
    zone = ZoneInfo("Asia/Shanghai")
    moments = {"now": datetime(2026, 11, 23, 21, 59, 0, tzinfo=zone)}  # a Monday, 21:59
    gate = ScopeGate(
        Scope.from_strings(includes=["127.0.0.1"], windows=["mon-fri 20:00-22:00"]),
        client_id=1,
        engagement_id=1,
        audit_engine=None,
        actor="test",
        clock=lambda: moments["now"],
    )
    policy = _slow_policy(0.4)
    sink = MemorySink()
    engine = _engine(
        [s.port for s in servers],
        [SlowCheck()],
        gate,
        sink,
        policy=policy,
        per_host=1,
        concurrency=1,
    )
    state = ScanState(addresses=["127.0.0.1"])

    def close_window() -> None:
        moments["now"] = datetime(2026, 11, 23, 22, 0, 30, tzinfo=zone)

    threading.Timer(0.6, close_window).start()
    assert engine.run(state) == "pause"
    assert engine.stop_message is not None and "时间窗口" in engine.stop_message
    assert state.phase == "checks"
    assert len(state.jobs_done) < 6
    # Every job marked done really ran to its end before the window closed.
    assert sum(SlowCheck.calls.values()) >= len(state.jobs_done)


def test_scan_started_outside_the_window_does_not_connect(listen: Callable[..., Listener]) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    server = listen("127.0.0.1", b"x")
    sunday = datetime(2026, 11, 22, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    gate = ScopeGate(
        Scope.from_strings(includes=["127.0.0.1"], windows=["mon-fri 20:00-22:00"]),
        client_id=1,
        engagement_id=1,
        audit_engine=None,
        actor="test",
        clock=lambda: sunday,
    )
    engine = _engine([server.port], [BannerCheck()], gate, MemorySink())
    state = ScanState(addresses=["127.0.0.1"])
    assert engine.run(state) == "pause"
    assert state.phase == "discovery"
    time.sleep(0.1)
    assert server.accepted == 0
