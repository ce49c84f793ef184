"""Retest (复测, B9) of network findings: run the one check again on the one service.

Registered for the ``shaobing-scan`` source with :func:`register_network_retest`; the
check runs under the finding's engagement scope (time windows included) like any scan.
A finding is still present when the check reports the same check id and identity (the
account of a weak password, the rule of an exposure) on the same service.
"""

from __future__ import annotations

from sqlalchemy.orm import object_session

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.vault import MASKED
from shaobing.engagements.models import Engagement
from shaobing.engagements.scope_guard import scope_of
from shaobing.findings.models import Finding
from shaobing.findings.retest import RetestResult, register_retest
from shaobing.scan.checks import ServiceTarget, load_checks
from shaobing.scan.context import RateLimiter, ScanContext, ScopeGate
from shaobing.scan.plugins.templates import CHECK_PREFIX, observation_of, target_url
from shaobing.scan.policy import get_policy
from shaobing.scan.template_library import find_template
from shaobing.templates.runner import run_template

SOURCE_TOOL = "shaobing-scan"
# Seconds for one network operation of a retest (organisation-defined default).
_RETEST_TIMEOUT = 3.0


def retest_network_finding(finding: Finding) -> RetestResult:
    """Run the finding's check again on its service and say whether it still fires."""
    session = object_session(finding)
    if session is None:
        raise ValidationError(t("scan.retest_detached", id=finding.id))
    engagement = session.get(Engagement, finding.engagement_id)
    check_cls = load_checks().get(finding.check_id)
    is_template = finding.check_id.startswith(CHECK_PREFIX)
    if engagement is None or (check_cls is None and not is_template) or not finding.host:
        raise ValidationError(t("scan.retest_unknown_check", id=finding.id, check=finding.check_id))
    extra = finding.extra or {}
    target = ServiceTarget(
        address=finding.host,
        port=finding.port or 0,
        protocol=finding.protocol or "tcp",
        service=extra.get("service"),
        product=extra.get("product"),
        version=extra.get("version"),
        zone=extra.get("zone"),
    )
    # The caller holds the database transaction: refusals raise instead of being written
    # to the audit log from a second connection (which SQLite would make wait on this one).
    gate = ScopeGate(
        scope_of(engagement),
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        audit_engine=None,
        actor="retest",
    )
    gate.check(target.address, target.port or None)
    options = get_policy(None).options_for(finding.check_id) | {"retest": True}
    if finding.parameter:
        options["accounts"] = [finding.parameter]
    context = ScanContext(gate, RateLimiter(0), timeout=_RETEST_TIMEOUT, options=options)
    if is_template:
        return _retest_template(finding, target, context)
    assert check_cls is not None
    identity = extra.get("identity") or finding.parameter
    for found in check_cls().run(target, context):
        if found.check_id == finding.check_id and (identity is None or found.identity == identity):
            evidence = found.evidence or found.title
            if found.secret and found.secret != found.identity:
                evidence = evidence.replace(found.secret, MASKED)
            return RetestResult(detected=True, evidence=t("scan.retest_still", evidence=evidence))
    return RetestResult(detected=False, evidence=t("scan.retest_gone", target=target.key))


def _retest_template(finding: Finding, target: ServiceTarget, context: ScanContext) -> RetestResult:
    """Run exactly the finding's template against the finding's service again."""
    template_id = finding.check_id.removeprefix(CHECK_PREFIX)
    item = find_template(template_id)
    if item is None:
        raise ValidationError(t("scan.retest_unknown_check", id=finding.id, check=finding.check_id))
    url = target_url(target) if item.template.http else f"tcp://{target.address}:{target.port}"
    results = run_template(item.template, url, context)
    if results:
        found = observation_of(item, target, results)
        return RetestResult(detected=True, evidence=t("scan.retest_still", evidence=found.evidence))
    return RetestResult(detected=False, evidence=t("scan.retest_gone", target=target.key))


def register_network_retest() -> None:
    """Make ``shaobing retest`` able to re-check network scan findings."""
    register_retest(SOURCE_TOOL, retest_network_finding)
