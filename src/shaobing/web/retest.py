"""Retest (复测, B9) of web findings: the same check, on the same page and parameter.

Registered for the ``shaobing-webscan`` source. A parameter finding re-runs the checks
that report its class on the kept unmodified request and that one parameter; a page or site
finding fetches the page again and re-runs the passive and site checks of its class. The
engagement's scope applies. A finding made in a logged-in scan is refused (the retest has
no session, and "not detected" without one would be a false all-clear): re-run the
``webscan`` with the login instead.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import object_session

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Engagement
from shaobing.engagements.scope_guard import scope_of
from shaobing.findings.models import Finding
from shaobing.findings.retest import RetestResult, register_retest
from shaobing.scan.context import RateLimiter, ScanContext, ScopeGate
from shaobing.web.callback import callback_for
from shaobing.web.checks.base import (
    Probe,
    ScanState,
    passive_checks,
    point_checks,
    site_checks,
)
from shaobing.web.client import Budget, WebClient
from shaobing.web.issues import SOURCE_TOOL, IssueSink, WebIssue
from shaobing.web.request import WebRequest, insertion_points
from shaobing.web.scan import load_checks
from shaobing.web.urls import WebScope, origin, strip_query_values

# Budgets of one retest (organisation-defined: one parameter or one page).
RETEST_TIMEOUT = 10.0
RETEST_MAX_REQUESTS = 500
RETEST_MAX_SECONDS = 300.0


def _request(data: dict[str, Any]) -> WebRequest:
    headers = tuple((str(k), str(v)) for k, v in data.get("headers", []))
    return WebRequest(str(data["method"]), str(data["url"]), headers, str(data["body"]).encode())


def _same(issue: WebIssue, kind: str, finding: Finding) -> bool:
    if issue.kind != kind:
        return False
    if finding.parameter:
        return issue.parameter == finding.parameter
    wanted = strip_query_values(finding.url or "")
    urls = [issue.url, *issue.affected]
    return issue.site_wide or any(strip_query_values(u) == wanted for u in urls)


def retest_web_finding(finding: Finding) -> RetestResult:
    """Re-check one web finding (see the module docstring)."""
    session = object_session(finding)
    if session is None:
        raise ValidationError(t("scan.retest_detached", id=finding.id))
    extra = finding.extra or {}
    kind = str(extra.get("web_class") or finding.check_id.removeprefix("web."))
    engagement = session.get(Engagement, finding.engagement_id)
    if engagement is None or not finding.url:
        raise ValidationError(t("scan.retest_unknown_check", id=finding.id, check=finding.check_id))
    if extra.get("authenticated"):
        raise ValidationError(t("web.retest.authenticated", id=finding.id))
    load_checks()
    gate = ScopeGate(
        scope_of(engagement),
        client_id=engagement.client_id,
        engagement_id=engagement.id,
        audit_engine=None,
        actor="retest",
    )
    context = ScanContext(gate, RateLimiter(0), timeout=RETEST_TIMEOUT)
    base = extra.get("base_request")
    page = _request(base) if isinstance(base, dict) else WebRequest("GET", finding.url)
    client = WebClient(
        context,
        WebScope.for_start(origin(page.url) + "/"),
        budget=Budget(RETEST_MAX_REQUESTS, RETEST_MAX_SECONDS),
        timeout=RETEST_TIMEOUT,
    )
    settings = get_settings()
    try:
        callback = callback_for(
            urlsplit(page.url).hostname or "",
            {},
            mode=settings.web_callback,
            port=settings.web_callback_port,
            advertise=settings.web_callback_advertise,
        )
    except (OSError, ValueError):
        callback = None
    state = ScanState(client=client, sink=IssueSink(), callback=callback)
    found: list[WebIssue] = []
    try:
        if finding.parameter and isinstance(base, dict):
            header = finding.parameter.removeprefix("header:")
            points = insertion_points(page, extra_headers=[header])
            point = next((p for p in points if p.label() == finding.parameter), None)
            if point is None:
                raise ValidationError(
                    t("web.retest.no_parameter", id=finding.id, parameter=finding.parameter)
                )
            for check in point_checks():
                if kind in check.kinds:
                    found += check.test(Probe(state, page, point))
        else:
            response = client.send(page, follow=True)
            for passive in passive_checks():
                if kind in passive.kinds:
                    found += passive.observe(response, state)
            for site in site_checks():
                if kind in site.kinds:
                    found += site.run(origin(page.url), state)
    finally:
        client.close()
        if callback is not None:
            callback.close()
    proof = next((issue for issue in found if _same(issue, kind, finding)), None)
    if proof is not None:
        return RetestResult(detected=True, evidence=t("scan.retest_still", evidence=proof.detail))
    return RetestResult(detected=False, evidence=t("scan.retest_gone", target=finding.url))


def register_web_retest() -> None:
    """Make ``shaobing retest`` able to re-check web scan findings."""
    register_retest(SOURCE_TOOL, retest_web_finding)
