"""Benchmark: template-engine throughput against a bare asyncio HTTP client (issue 5).

    .venv/bin/python bench/templates_throughput.py       # --templates 1000 --targets 20

1,000 real templates (the runnable HTTP templates of the corpus sample in
/work/shared/corpora/nuclei-templates plus the built-in HTTP templates, topped up by
repeating from the start) run against 20 mock HTTP servers on 127.0.0.1 free ports. Left
out, and counted in the output: templates that sleep on purpose (``wait_for``) and
out-of-band templates (no callback domain on loopback; a scan skips them unsent). The
servers live in a separate process (no shared GIL with the code measured), answer every
request at once with a small fixed 200 (``/``) or 404 body and keep-alive, and count and
record every request they receive.

Engine run: the real :class:`~shaobing.scan.engine.ScanEngine` in its checks phase, with
the real ``template.passive``/``template.active`` checks (only their template list is the
benchmark's), the real scope gate over the 20 target URLs and no rate limit, under the
``default`` policy's concurrency (32 check units at once, 8 per host: every target is on
127.0.0.1, so 8 are in flight). Anchor run: a bare asyncio HTTP/1.1 client (raw streams,
keep-alive, as many workers as the engine had check units in flight) replaying exactly the
requests the servers logged during the engine run (method, target, headers, body) against
the same ports, three times (the median counts). Both request counts are the servers' own;
the output also gives each side's CPU time. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

CORPUS = Path("/work/shared/corpora/nuclei-templates")
HOST = "127.0.0.1"  # loopback only, never another address
_BODY_200 = b"<html><head><title>mock</title></head><body>ok</body></html>"
_BODY_404 = b"<html><body>404 not found</body></html>"
# Largest request head or body the mock accepts before answering 400 and closing.
_MAX_REQUEST = 1 << 20

# --------------------------------------------------------------------------- the servers


def _response(status: int, body: bytes, close: bool, head_only: bool) -> bytes:
    reason = b"OK" if status == 200 else b"Not Found" if status == 404 else b"Bad Request"
    lines = [
        b"HTTP/1.1 %d %s" % (status, reason),
        b"Server: mock",
        b"Content-Type: text/html; charset=utf-8",
        b"Content-Length: %d" % len(body),
    ]
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head_only else body)


class _MockHttp(asyncio.Protocol):
    """One connection: parse pipelined requests (Content-Length or chunked bodies)."""

    def __init__(
        self, log: list[tuple[int, bytes]], accepted: list[int], latency: float = 0.0
    ) -> None:
        self.latency = latency
        self.port = 0
        self.log = log
        self.accepted = accepted
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        self.accepted[0] += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_REQUEST:
                    self._answer(400, close=True, head_only=False)
                return
            head = self.buffer[:end]
            fields: dict[bytes, bytes] = {}
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                fields[name.strip().lower()] = value.strip().lower()
            start = end + 4
            if b"chunked" in fields.get(b"transfer-encoding", b""):
                stop = self._chunked_end(start)
                if stop == -2:
                    self._answer(400, close=True, head_only=False)
                    return
            else:
                length = fields.get(b"content-length", b"0")
                stop = start + int(length) if length.isdigit() else -2
                if stop == -2 or stop - start > _MAX_REQUEST:
                    self._answer(400, close=True, head_only=False)
                    return
                if len(self.buffer) < stop:
                    stop = -1
            if stop < 0:
                return  # wait for the rest of the body
            request, self.buffer = self.buffer[:stop], self.buffer[stop:]
            self.log.append((self.port, request))
            parts = head.split(b" ", 2)
            path = parts[1] if len(parts) > 1 else b""
            close = b"close" in fields.get(b"connection", b"")
            status = 200 if path == b"/" else 404
            if self.latency > 0:
                # A server that takes time to answer (an application behind it), as real
                # targets do; answers still leave in request order.
                asyncio.get_running_loop().call_later(
                    self.latency, self._answer_later, status, close, parts[0] == b"HEAD"
                )
            else:
                self._answer(status, close=close, head_only=parts[0] == b"HEAD")

    def _answer_later(self, status: int, close: bool, head_only: bool) -> None:
        if self.transport is not None:
            self._answer(status, close=close, head_only=head_only)

    def _chunked_end(self, pos: int) -> int:
        """Index after a complete chunked body; -1 incomplete, -2 malformed."""
        buffer = self.buffer
        while True:
            eol = buffer.find(b"\r\n", pos)
            if eol < 0:
                return -1
            size_text = buffer[pos:eol].split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return -2
            pos = eol + 2
            if size == 0:
                trailer = buffer.find(b"\r\n\r\n", pos - 2)
                return -1 if trailer < 0 else trailer + 4
            pos += size + 2
            if pos > len(buffer):
                return -1

    def _answer(self, status: int, *, close: bool, head_only: bool) -> None:
        assert self.transport is not None
        body = _BODY_200 if status == 200 else _BODY_404 if status == 404 else b"bad request"
        self.transport.write(_response(status, body, close or status == 400, head_only))
        if close or status == 400:
            self.transport.close()
            self.transport = None
            self.buffer = b""

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def serve(count: int, control: Connection, latency: float = 0.0) -> None:
    """The mock servers' process: listen on ``count`` free loopback ports; obey ``control``.

    Commands on the pipe: ``"take"`` answers with the requests logged since the last
    ``"take"`` as ``[(port, raw request bytes), ...]`` and the connections accepted since
    then; ``"stop"`` ends the process.
    """
    asyncio.run(_serve(count, control, latency))


async def _serve(count: int, control: Connection, latency: float) -> None:
    loop = asyncio.get_running_loop()
    log: list[tuple[int, bytes]] = []
    accepted = [0]
    servers = [
        await loop.create_server(lambda: _MockHttp(log, accepted, latency), HOST, 0, backlog=1024)
        for _ in range(count)
    ]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    done = loop.create_future()

    def on_command() -> None:
        command = control.recv()
        if command == "take":
            taken = (list(log), accepted[0])
            log.clear()
            accepted[0] = 0
            control.send(taken)
        elif not done.done():
            done.set_result(None)

    loop.add_reader(control.fileno(), on_command)
    control.send(ports)
    await done
    for server in servers:
        server.close()


@contextlib.contextmanager
def mock_servers(count: int, latency: float = 0.0) -> Iterator[tuple[list[int], Connection]]:
    """Start the mock servers in a child process; yield (ports, control pipe)."""
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=serve, args=(count, theirs, latency), daemon=True
    )
    process.start()
    try:
        if not ours.poll(30):
            raise RuntimeError("the mock servers did not start")
        yield ours.recv(), ours
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(5)
        if process.is_alive():
            process.kill()


def take_log(control: Connection) -> tuple[list[tuple[int, bytes]], int]:
    """The requests the servers received and the connections they accepted since the last
    call."""
    control.send("take")
    log: list[tuple[int, bytes]]
    log, accepted = control.recv()
    return log, accepted


# --------------------------------------------------------------------------- templates


# Shaobing is imported inside the functions that use it: the servers' process imports
# this module too (multiprocessing "spawn") and needs none of it.


def load_templates(wanted: int, keep_delays: bool = False) -> tuple[list[Any], dict[str, Any]]:
    """``wanted`` runnable HTTP-only templates (corpus, then built-in, then repeats)."""
    from shaobing.scan.template_library import builtin_folder  # noqa: PLC0415
    from shaobing.templates.validate import template_files, validate_file  # noqa: PLC0415

    found: list[Any] = []
    counts = {"corpus": 0, "builtin": 0, "delays": 0, "oob": 0}
    for label, folder in (("corpus", CORPUS), ("builtin", builtin_folder())):
        for file, root in template_files([folder]):
            result = validate_file(file, root)
            template = result.template
            # Runnable (no unsupported feature) and HTTP only: network templates name ports
            # the mock servers do not listen on, so a scan would not run them here.
            if template is None or result.unsupported or not template.http:
                continue
            if template.network:
                continue
            # wait_for(n) sleeps n seconds by design (time-based checks): it measures the
            # template's own pause, not the engine, and a replay has nothing to sleep for.
            text = file.read_text(errors="replace")
            if not keep_delays and "wait_for(" in text:
                counts["delays"] += 1
                continue
            # Out-of-band templates need a callback domain, which a benchmark on loopback
            # does not have: a scan skips them without sending anything.
            if "interactsh" in text:
                counts["oob"] += 1
                continue
            found.append(template)
            counts[label] += 1
    unique = len(found)
    chosen = [found[i % unique] for i in range(wanted)] if unique else []
    info = {
        "corpus_http_templates": counts["corpus"],
        "builtin_http_templates": counts["builtin"],
        "left_out_deliberate_delay": counts["delays"],
        "left_out_out_of_band": counts["oob"],
        "repeated_to_fill": max(0, wanted - unique),
    }
    return chosen, info


# --------------------------------------------------------------------------- engine run


@dataclass
class _Sink:
    """In-memory :class:`~shaobing.scan.engine.ScanSink`: counts, never stops the scan."""

    observations_seen: int = 0

    def hosts(self, records: list[Any], state: Any) -> None:
        """Nothing to store."""

    def observations(self, items: list[Any], state: Any) -> None:
        """Count the findings."""
        self.observations_seen += len(items)

    def checkpoint(self, state: Any) -> None:
        """Nothing to save."""

    def control(self) -> str:
        """Always go on."""
        return "run"


def run_engine(
    templates: list[Any], ports: list[int], concurrency: int, per_host: int
) -> dict[str, Any]:
    """Run the templates on every port through the scan engine's checks phase."""
    from shaobing.core.scope import Scope  # noqa: PLC0415
    from shaobing.scan.context import ScopeGate  # noqa: PLC0415
    from shaobing.scan.engine import EngineOptions, ScanEngine, ScanState, ServiceRecord  # noqa: PLC0415
    from shaobing.scan.plugins.templates import ActiveTemplates, PassiveTemplates  # noqa: PLC0415
    from shaobing.scan.policy import get_policy  # noqa: PLC0415
    from shaobing.scan.template_library import LibraryTemplate, _safety  # noqa: PLC0415

    items = [LibraryTemplate(t, _safety(t)) for t in templates]

    # The real checks; only where their templates come from is the benchmark's.
    class BenchPassive(PassiveTemplates):
        def selected_templates(self, options: dict[str, Any]) -> list[LibraryTemplate]:
            return [i for i in items if i.safety is self.template_safety]

    class BenchActive(ActiveTemplates):
        def selected_templates(self, options: dict[str, Any]) -> list[LibraryTemplate]:
            return [i for i in items if i.safety is self.template_safety]

    policy = get_policy("default").model_copy(
        update={"concurrency": concurrency, "per_host": per_host, "rate": 0}
    )
    urls = [f"http://{HOST}:{port}" for port in ports]
    gate = ScopeGate(
        Scope.from_strings(includes=urls),
        client_id=0,
        engagement_id=0,
        audit_engine=None,
        actor="bench",
    )
    options = EngineOptions(
        ports=tuple(ports),
        concurrency=policy.concurrency,
        per_host=policy.per_host,
        rate=policy.rate,
        timeout=policy.timeout,
        retries=policy.retries,
    )
    sink = _Sink()
    engine = ScanEngine(
        policy,
        options,
        [BenchPassive(), BenchActive()],
        gate,
        sink,  # type: ignore[arg-type]
        identifier=lambda _a, _p, _t: None,
    )
    state = ScanState(phase="checks", addresses=[HOST], alive=[HOST])
    for port in ports:
        state.add_service(ServiceRecord(address=HOST, port=port, service="http"))
    before = os.times()
    started = time.perf_counter()
    engine.run(state)
    seconds = time.perf_counter() - started
    after = os.times()
    return {
        "seconds": seconds,
        "cpu_seconds": after.user - before.user + after.system - before.system,
        "sys_seconds": after.system - before.system,
        "check_units": len(state.jobs_done),
        "findings": sink.observations_seen,
        "check_errors": int(state.counters.get("check_errors", 0)),
        "first_errors": state.errors[:3],
    }


# --------------------------------------------------------------------------- anchor run

Request = tuple[int, bytes, bytes, list[tuple[bytes, bytes]], bytes]


def parse_request(port: int, raw: bytes) -> Request:
    """(port, method, target, headers, body) of one logged request."""
    end = raw.find(b"\r\n\r\n")
    lines = raw[:end].split(b"\r\n")
    method, target = lines[0].split(b" ", 2)[:2]
    headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(b":") for line in lines[1:])]
    return port, method, target, headers, raw[end + 4 :]


async def _anchor(requests: list[Request], workers: int) -> int:
    queue = iter(requests)
    answered = 0

    async def worker() -> None:
        nonlocal answered
        streams: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        for port, method, target, headers, body in queue:
            wire = b"%s %s HTTP/1.1\r\n" % (method, target)
            wire += b"".join(b"%s: %s\r\n" % pair for pair in headers) + b"\r\n" + body
            for attempt in (0, 1):
                if port not in streams:
                    streams[port] = await asyncio.open_connection(HOST, port)
                reader, writer = streams[port]
                writer.write(wire)
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()
                    del streams[port]
                    if attempt:
                        raise
                    continue  # the server closed a kept-alive connection: once more
                length = 0
                close = False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection":
                        close = b"close" in value.lower()
                if method != b"HEAD" and length:
                    await reader.readexactly(length)
                answered += 1
                if close:
                    writer.close()
                    del streams[port]
                break
        for _, writer in streams.values():
            writer.close()

    await asyncio.gather(*(worker() for _ in range(workers)))
    return answered


def run_anchor(requests: list[Request], workers: int) -> tuple[float, float, int]:
    """Replay ``requests`` with ``workers`` keep-alive clients; (seconds, CPU seconds,
    answered)."""
    cpu = time.process_time()
    started = time.perf_counter()
    answered = asyncio.run(_anchor(requests, workers))
    return time.perf_counter() - started, time.process_time() - cpu, answered


# --------------------------------------------------------------------------- main


def main() -> int:
    """Run both sides and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=int, default=1000, help="templates to run")
    parser.add_argument("--targets", type=int, default=20, help="mock HTTP servers")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="milliseconds each server waits before answering (default 0: the CPU-bound case)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="check units in flight (default: the default policy's per-host limit)",
    )
    parser.add_argument(
        "--keep-delays",
        action="store_true",
        help="keep templates that call wait_for() (they sleep on purpose)",
    )
    parser.add_argument(
        "--anchor-runs", type=int, default=3, help="anchor replays (the median is used)"
    )
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found: {CORPUS}; benchmark skipped", file=sys.stderr)
        print(json.dumps({"benchmark": "templates_throughput", "skipped": f"no {CORPUS}"}))
        return 0
    from shaobing.scan.policy import get_policy  # noqa: PLC0415

    default = get_policy("default")
    per_host = args.concurrency or default.per_host
    concurrency = max(default.concurrency, per_host)
    templates, info = load_templates(args.templates, args.keep_delays)
    if info["repeated_to_fill"]:
        print(
            f"{info['repeated_to_fill']} templates repeated from the start to reach "
            f"{args.templates}",
            file=sys.stderr,
        )
    with mock_servers(args.targets, args.latency_ms / 1000) as (ports, control):
        engine = run_engine(templates, ports, concurrency, per_host)
        engine_log, engine_connections = take_log(control)
        # As many anchor workers as the engine had units in flight: every target shares
        # one address, so the per-host limit bounds it.
        workers = min(concurrency, per_host, engine["check_units"] or 1)
        requests = [parse_request(port, raw) for port, raw in engine_log]
        anchors = []
        for _ in range(args.anchor_runs):
            seconds, cpu, answered = run_anchor(requests, workers)
            anchor_log, anchor_connections = take_log(control)
            # The anchor's order differs (its workers interleave), the multiset must not.
            same = sorted(anchor_log) == sorted(engine_log)
            anchors.append((seconds, cpu, answered, len(anchor_log), anchor_connections, same))
    # The replay takes about a second, so a burst of load from other processes skews one
    # run: the median of the runs is the anchor.
    anchors.sort()
    seconds, cpu, answered, received, connections, same = anchors[len(anchors) // 2]
    engine_rps = len(engine_log) / engine["seconds"]
    anchor_rps = received / seconds
    print(
        json.dumps(
            {
                "benchmark": "templates_throughput",
                "templates": len(templates),
                **info,
                "targets": len(ports),
                "concurrency": workers,
                "policy_concurrency": concurrency,
                "policy_per_host": per_host,
                "check_units": engine["check_units"],
                "requests": len(engine_log),
                "engine_connections": engine_connections,
                "engine_findings": engine["findings"],
                "engine_check_errors": engine["check_errors"],
                "engine_first_errors": engine["first_errors"],
                "engine_seconds": round(engine["seconds"], 3),
                "engine_cpu_seconds": round(engine["cpu_seconds"], 3),
                "engine_sys_seconds": round(engine["sys_seconds"], 3),
                "engine_rps": round(engine_rps, 1),
                "anchor_runs_seconds": [round(run[0], 3) for run in anchors],
                "anchor_requests": received,
                "anchor_answered": answered,
                "anchor_connections": connections,
                "anchor_same_requests": all(run[5] for run in anchors),
                "anchor_seconds": round(seconds, 3),
                "anchor_cpu_seconds": round(cpu, 3),
                "anchor_rps": round(anchor_rps, 1),
                "server_latency_ms": args.latency_ms,
                "ratio": round(engine_rps / anchor_rps, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
