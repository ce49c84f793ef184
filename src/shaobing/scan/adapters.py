"""Glue between the engine's plain callables and the scan modules that do the work.

The engine takes functions (identify one port, probe UDP, find live hosts, run another
port engine) so that it can be tested with fakes; this module builds the real ones.
"""

from __future__ import annotations

from shaobing.scan.engine import Discoverer, Identifier, PortPhase, ServiceRecord, UdpProber
from shaobing.scan.fingerprint import identify


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


def udp_prober() -> UdpProber | None:
    """UDP service probes (DNS, SNMP, NTP)."""
    return None


def discoverer() -> Discoverer | None:
    """Host liveness (TCP ping, ICMP when privileged)."""
    return None


def nmap_phase(options: object) -> PortPhase:
    """``--engine nmap``: nmap -sT -sV does the port and identification phases."""
    raise NotImplementedError
