"""Run the callback server in the foreground and print every callback it receives.

    python -m shaobing.templates.oob [--seconds N] [--self-test]

For checking a deployment: the NS delegation (``dig x.<zone>`` from another host must
show up here), the ports and the firewall. The settings are the same as a scan's
(``SHAOBING_OOB_*``). ``--self-test`` sends one DNS query and one HTTP request from this
host to the server itself (no other address is contacted).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import socket
import sys
import threading
import time

from shaobing.core.i18n import t
from shaobing.templates.oob.dns import encode_query
from shaobing.templates.oob.registry import Interaction
from shaobing.templates.oob.server import OobServer, OobUnavailable, shared_server

# Seconds the self-test gives each of its own callbacks to be recorded.
SELF_TEST_WAIT = 3.0


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _event(item: Interaction) -> None:
    correlated = (
        t("templates_oob.serve.correlated", id=item.correlation_id)
        if item.correlation_id
        else t("templates_oob.serve.uncorrelated")
    )
    first = next((line for line in item.request.splitlines() if line.strip()), "")
    if item.protocol == "dns":
        first = next(
            (ln for ln in item.request.splitlines() if ln.startswith(";") and "\t" in ln), first
        )
    _print(
        t(
            "templates_oob.serve.event",
            time=item.timestamp.isoformat(timespec="seconds"),
            protocol=item.protocol,
            peer=item.remote_address,
            port=item.local_port,
            correlated=correlated,
            summary=first[:200],
        )
    )


def _local_address(server: OobServer) -> str:
    listen = ipaddress.ip_address(server.config.listen)
    if listen.is_unspecified:
        return "::1" if listen.version == 6 else "127.0.0.1"
    return str(listen)


def self_test(server: OobServer) -> bool:
    """Send one DNS query and one HTTP request to the server itself; True when both were
    recorded under a fresh correlation id."""
    cid, host = server.new_url()
    address = _local_address(server)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as udp:
        udp.settimeout(SELF_TEST_WAIT)
        udp.sendto(encode_query(host), (address, server.dns_port))
        with contextlib.suppress(TimeoutError):
            udp.recvfrom(4096)
    if server.tcp_ports:
        with socket.create_connection((address, server.tcp_ports[0]), SELF_TEST_WAIT) as tcp:
            tcp.sendall(f"GET /self-test HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("ascii"))
            tcp.settimeout(SELF_TEST_WAIT)
            with contextlib.suppress(TimeoutError):
                tcp.recv(4096)
    deadline = time.monotonic() + SELF_TEST_WAIT
    wanted = {"dns", "http"} if server.tcp_ports else {"dns"}
    seen: set[str] = set()
    while time.monotonic() < deadline and not wanted <= seen:
        seen = {item.protocol for item in server.registry.interactions([cid])}
        time.sleep(0.05)
    missing = sorted(wanted - seen)
    if missing:
        _print(t("templates_oob.serve.self_test_failed", missing="/".join(missing)))
        return False
    _print(t("templates_oob.serve.self_test_ok", id=cid))
    return True


def main(argv: list[str] | None = None) -> int:
    """Start the configured server, print callbacks; exit code 1 when it cannot run."""
    parser = argparse.ArgumentParser(description=t("templates_oob.serve.description"))
    parser.add_argument(
        "--seconds", type=float, default=None, help=t("templates_oob.serve.help_seconds")
    )
    parser.add_argument(
        "--self-test", action="store_true", help=t("templates_oob.serve.help_self_test")
    )
    args = parser.parse_args(argv)
    server = shared_server()
    if server is None:
        _print(t("templates_oob.not_configured", path="-"))
        return 1
    server.registry.observers.append(_event)
    try:
        server.start()
    except OobUnavailable as exc:
        _print(exc.message)
        return 1
    _print(
        t(
            "templates_oob.serve.started",
            domain=server.domain,
            address=server.zone.address,
            dns_port=server.dns_port,
            tcp_ports=", ".join(str(p) for p in server.tcp_ports),
        )
    )
    code = 0
    if args.self_test and not self_test(server):
        code = 1
    _print(t("templates_oob.serve.waiting", domain=server.domain))
    stop = threading.Event()
    try:
        stop.wait(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        _print(t("templates_oob.serve.stopped"))
    return code


if __name__ == "__main__":
    sys.exit(main())
