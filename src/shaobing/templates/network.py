"""TCP request blocks: connect through the scope guard, write the inputs, read the reply
and apply the block's extractors and matchers."""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from shaobing.core.i18n import t
from shaobing.core.scope import ScopeRefused
from shaobing.templates.dsl import interpolate, unresolved
from shaobing.templates.httpclient import TLS_CONTEXT
from shaobing.templates.model import NetworkRequest
from shaobing.templates.oob import request_texts_use_url, with_url
from shaobing.templates.state import RunState

MAX_READ_ALL = 1024 * 1024
# After the first bytes arrive, a short pause ends the read (servers answer in one go).
_TRAILING_WAIT = 0.05


def _address(
    text: str, block: NetworkRequest, target_port: int | None
) -> list[tuple[bool, str, int]]:
    """(tls, host, port) pairs for one ``host`` entry of the block."""
    tls = text.startswith("tls://")
    rest = text.split("://", 1)[1] if "://" in text else text
    parts = urlsplit(f"//{rest}")
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        return [(tls, host, port)]
    if block.ports:
        return [(tls, host, p) for p in block.ports]
    if target_port is not None:
        return [(tls, host, target_port)]
    return []


def _read(sock: socket.socket, size: int, read_all: bool, timeout: float) -> bytes:
    limit = MAX_READ_ALL if read_all else size
    data = bytearray()
    sock.settimeout(timeout)
    try:
        while len(data) < limit:
            chunk = sock.recv(min(65536, limit - len(data)))
            if not chunk:
                break
            data.extend(chunk)
            sock.settimeout(_TRAILING_WAIT if not read_all else timeout)
    except (TimeoutError, ssl.SSLError):
        pass
    return bytes(data)


def _exchange(
    state: RunState, block: NetworkRequest, tls: bool, host: str, port: int, values: dict[str, Any]
) -> tuple[bytes, str, dict[str, bytes]]:
    timeout = state.ctx.timeout
    sock = state.ctx.connect(host, port, timeout=timeout)
    state.requests += 1
    try:
        if tls:
            sock = TLS_CONTEXT.wrap_socket(sock)
        sent: list[str] = []
        named: dict[str, bytes] = {}
        for item in block.inputs:
            text = interpolate(item.data, values)
            payload = bytes.fromhex(text) if item.hex else text.encode("utf-8", "surrogateescape")
            sock.sendall(payload)
            sent.append(text)
            if item.read:
                chunk = _read(sock, item.read, False, timeout)
                if item.name:
                    named[item.name] = chunk
        data = _read(sock, block.read_size, block.read_all, timeout)
    finally:
        sock.close()
    return data, "".join(sent), named


def run_network_block(state: RunState, block: NetworkRequest) -> bool:
    """Run ``block`` against each of its hosts; True when its matchers matched.

    Raises OobUnavailable before anything is sent when the template needs out-of-band
    callbacks and the callback server is not configured or cannot listen."""
    hit = False
    if state.oob.needed:
        state.oob.require()
    callback_url = state.oob.needed and request_texts_use_url(i.data for i in block.inputs)
    values = state.base_variables()
    target = urlsplit(state.target if "://" in state.target else f"//{state.target}")
    try:
        target_port = target.port
    except ValueError:
        target_port = None
    for host_text in block.hosts:
        missing = unresolved(host_text, values)
        if missing:
            state.note(t("templates.run.unresolved", names=", ".join(sorted(missing))))
            continue
        for tls, host, port in _address(interpolate(host_text, values), block, target_port):
            if state.ctx.should_stop():
                return hit
            exchange_values = values
            oob_ids: list[str] = []
            if callback_url:
                # A fresh id per exchange; every input of the exchange shares it.
                correlation_id, url = state.oob.new_url()
                oob_ids.append(correlation_id)
                exchange_values = {**values, **with_url({}, url)}
            try:
                data, request, named = _exchange(state, block, tls, host, port, exchange_values)
            except ScopeRefused as exc:
                state.note(t("templates.run.refused", detail=exc.message))
                continue
            except (OSError, ValueError) as exc:
                state.note(t("templates.run.tcp_error", address=f"{host}:{port}", detail=exc))
                continue
            text = data.decode("utf-8", errors="replace")
            shown = f"[{host}]" if ":" in host else host
            variables: dict[str, Any] = {
                **exchange_values,
                "data": text,
                "body": text,
                "raw": text,
                "response": text,
                "request": request,
                "host": host,
                "matched": f"{shown}:{port}",
            }
            raw = {"data": data, "body": data, "raw": data, "response": data}
            for name, chunk in named.items():
                variables[name] = chunk.decode("utf-8", errors="replace")
                raw[name] = chunk
            evaluation = state.evaluate(
                block.operators, variables, default_part="data", raw=raw, oob_ids=oob_ids
            )
            if evaluation.found:
                hit = True
                state.report(
                    "tcp",
                    block.operators,
                    evaluation,
                    matched_at=f"{shown}:{port}",
                    request=request,
                    response=text,
                )
    return hit
