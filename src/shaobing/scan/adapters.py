"""Glue between the engine's plain callables and the scan modules that do the work.

The engine takes functions (identify one port, probe UDP, find live hosts, run another
port engine) so that it can be tested with fakes; this module builds the real ones.
"""

from __future__ import annotations

from collections.abc import Callable

from shaobing.scan.discovery import Method, discover_hosts
from shaobing.scan.engine import Discoverer, Identifier, PortPhase, ServiceRecord, UdpProber
from shaobing.scan.fingerprint import identify
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


def nmap_phase(options: object) -> PortPhase:
    """``--engine nmap``: nmap -sT -sV does the port and identification phases."""
    raise NotImplementedError
