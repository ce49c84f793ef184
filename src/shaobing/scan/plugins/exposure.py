"""Check ``exposure.service``: open services that should not be reachable in their zone (B4).

Passive and offline: it judges what port scanning and identification already found, so it
sends nothing. Policy options (``ctx.options``):

zone     zone for hosts whose ledger entry names none (id, label or alias)
vantage  zone the scanner runs in; a service is judged in the less trusted of this zone and
         the host's own, e.g. ``vantage: internet`` for a scan from outside
"""

from __future__ import annotations

from collections.abc import Iterator

from shaobing.scan.checks import (
    Check,
    CheckContext,
    Observation,
    Safety,
    ServiceTarget,
    TargetKind,
    register_check,
)
from shaobing.scan.exposure import CHECK_ID, evaluate_exposure, load_exposure_rules, resolve_zone


@register_check
class ServiceExposureCheck(Check):
    """Reports services exposed in a zone where the exposure rules say they should not be."""

    id = CHECK_ID
    safety = Safety.PASSIVE
    target_kind = TargetKind.SERVICE
    services = frozenset()

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Yield one observation per matching rule; never opens a connection."""
        rules = load_exposure_rules()
        choice = resolve_zone(rules, target.zone, ctx.options)
        yield from evaluate_exposure(target, choice.zone, rules, basis=choice.basis)
