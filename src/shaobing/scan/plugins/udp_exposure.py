"""Exposure found while identifying UDP services (B4): open DNS resolvers, default SNMP
communities, NTP control queries. Identification (``scan/udp.py``) already sent the probes
and left markers in ``ServiceTarget.flags``; this check only turns them into findings and
sends nothing itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from shaobing.scan.checks import (
    Check,
    CheckContext,
    Observation,
    Safety,
    ServiceTarget,
    register_check,
)
from shaobing.scan.plugins.unauthorised_access import load_findings, observe

CHECK_ID = "udp.exposure"


@register_check
class UdpExposureCheck(Check):
    """One finding per exposure marker of a UDP service."""

    id = CHECK_ID
    safety = Safety.PASSIVE
    services: ClassVar[frozenset[str]] = frozenset()

    def applies(self, target: ServiceTarget) -> bool:
        """Only UDP services whose identification left markers."""
        return target.protocol == "udp" and bool(target.flags)

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Yield the finding of each known marker (unknown markers are ignored)."""
        texts = load_findings()
        values = {
            "product": target.product or target.service or "",
            "version": target.version or "",
            "info": target.banner or "",
        }
        for flag in dict.fromkeys(target.flags):
            if flag in texts:
                yield observe(self.id, flag, target, [("udp", values)], identity=flag)
