"""Glue between the engine's plain callables and the scan modules that do the work.

The engine takes functions (identify one port, probe UDP, find live hosts, run another
port engine) so that it can be tested with fakes; this module builds the real ones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from shaobing.scan.discovery import Method, discover_hosts
from shaobing.scan.engine import Discoverer, Identifier, PortPhase, ServiceRecord, UdpProber
from shaobing.scan.fingerprint import ServiceMatch, identify
from shaobing.scan.nmap_engine import NmapCancelled, run_nmap
from shaobing.scan.osguess import guess_os
from shaobing.scan.udp import udp_probe


def identifier() -> Identifier:
    """Service/version identification with the project's fingerprint database."""

    def run(address: str, port: int, timeout: float) -> ServiceRecord | None:
        found = identify(address, port, timeout=timeout)
        if found is None:
            return None
        return ServiceRecord(
            address=address,
            port=port,
            service=found.service,
            product=found.product,
            version=found.version,
            cpe=list(found.cpe),
            info=found.info,
            banner=found.banner or None,
            os=found.os,
            tls=found.tls,
            extra=dict(found.extra),
        )

    return run


_METHODS: dict[str, Method] = {"auto": "auto", "tcp": "tcp", "icmp": "icmp", "none": "none"}


def udp_prober() -> UdpProber:
    """UDP service probes (DNS, SNMP, NTP); exposure markers travel as ``flags``."""

    def run(address: str, port: int, timeout: float, retries: int) -> ServiceRecord | None:
        found = udp_probe(address, port, timeout=timeout, retries=retries)
        if found is None:
            return None
        return ServiceRecord(
            address=address,
            port=port,
            protocol="udp",
            service=found.service,
            product=found.product,
            version=found.version,
            cpe=list(found.cpe),
            info=found.info,
            banner=found.info,
            flags=list(found.flags),
        )

    return run


def discoverer() -> Discoverer:
    """Host liveness: TCP ping (open or reset = up), ICMP echo as well when privileged."""

    def run(
        addresses: list[str], method: str, timeout: float, should_stop: Callable[[], bool]
    ) -> set[str]:
        verdicts = discover_hosts(
            addresses,
            method=_METHODS.get(method, "auto"),
            timeout=timeout,
            should_stop=should_stop,
        )
        return {v.address for v in verdicts if v.alive}

    return run


def nmap_phase(timeout: float, stop: threading.Event) -> PortPhase:
    """``--engine nmap``: ``nmap -sT -sV`` does the port and identification phases.

    The engine passes only addresses and ports that passed the scope gate; nmap is given
    exactly those (IP literals, an explicit port list, no scripts, no OS detection).
    """

    def run(by_host: dict[str, list[int]], should_stop: Callable[[], bool]) -> list[ServiceRecord]:
        groups: dict[tuple[int, ...], list[str]] = {}
        for address, allowed in by_host.items():
            if allowed:
                groups.setdefault(tuple(allowed), []).append(address)
        records: list[ServiceRecord] = []
        for ports, addresses in groups.items():
            if should_stop():
                break
            try:
                hosts = run_nmap(addresses, ports, cancel=stop)
            except NmapCancelled:
                break
            for host in hosts:
                for svc in host.services:
                    if svc.state != "open" or host.address is None:
                        continue
                    records.append(
                        ServiceRecord(
                            address=host.address,
                            port=svc.port,
                            protocol=svc.protocol,
                            service=svc.service,
                            product=svc.product,
                            version=svc.version,
                            cpe=list(svc.cpe),
                            banner=svc.banner,
                            os=host.os,
                        )
                    )
        return records

    del timeout  # nmap's own timing template applies
    return run


def guess_host_os(records: list[ServiceRecord]) -> str | None:
    """The operating system the host's services suggest (None without evidence)."""
    guess = guess_os(
        ServiceMatch(
            service=r.service or "",
            product=r.product,
            version=r.version,
            info=r.info,
            cpe=tuple(r.cpe),
            os=r.os,
            probe="",
            banner=r.banner or "",
        )
        for r in records
        if r.service
    )
    return guess.name if guess is not None else None
