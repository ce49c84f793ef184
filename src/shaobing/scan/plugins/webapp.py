"""Check ``web.app``: the web application scanner (B7) on the web services a network scan
finds, for policies that enable it.

Off unless the policy's options for ``web.app`` say ``enabled: true`` — a full web scan of
every HTTP port would turn a routine network scan into hours of work, so it is a choice
(see the ``host-web`` policy). Options: ``max_pages`` (default 100), ``max_time`` seconds
(600), ``max_requests`` (5,000), ``checks`` (web check id patterns, default ``web.*``) and
``intrusive`` (allow intrusive web checks, default false). Every issue becomes a finding
with the URL and parameter, exactly as ``shaobing webscan`` records it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any, ClassVar

from shaobing.core.settings import get_settings
from shaobing.scan.checks import (
    Check,
    CheckContext,
    Observation,
    Safety,
    ServiceTarget,
    register_check,
)
from shaobing.scan.plugins.templates import target_url
from shaobing.web.callback import callback_for
from shaobing.web.issues import finding_input
from shaobing.web.scan import WebScanner, WebScanOptions
from shaobing.web.session import LoginFailed

_WEB_SERVICES = frozenset({"http", "https", "http-alt", "http-proxy", "https-alt", "ssl/http"})
# Budgets per web service inside a network scan (organisation-defined: a network scan
# visits many services; `shaobing webscan` has the larger defaults for one application).
DEFAULT_MAX_PAGES = 100
DEFAULT_MAX_TIME = 600.0
DEFAULT_MAX_REQUESTS = 5000


def _patterns(options: dict[str, Any]) -> list[str]:
    value = options.get("checks", ["web.*"])
    return [value] if isinstance(value, str) else [str(v) for v in value]


@register_check
class WebApplicationCheck(Check):
    """Crawl and test the web application on a web service."""

    id: ClassVar[str] = "web.app"
    safety: ClassVar[Safety] = Safety.ACTIVE
    services: ClassVar[frozenset[str]] = _WEB_SERVICES
    default_ports: ClassVar[frozenset[int]] = frozenset({80, 443, 8000, 8080, 8443, 8888})

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Scan the service's web application; one observation per issue."""
        options = dict(ctx.options)
        if not options.get("enabled", False):
            return
        patterns = _patterns(options)
        intrusive = bool(options.get("intrusive", False))

        def allow(check_id: str, safety: Safety) -> bool:
            if safety is Safety.DOS or (safety is Safety.INTRUSIVE and not intrusive):
                return False
            return any(fnmatch.fnmatchcase(check_id, p) for p in patterns)

        scan_options = WebScanOptions(
            max_pages=int(options.get("max_pages", DEFAULT_MAX_PAGES)),
            max_seconds=float(options.get("max_time", DEFAULT_MAX_TIME)),
            max_requests=int(options.get("max_requests", DEFAULT_MAX_REQUESTS)),
            timeout=max(ctx.timeout, 5.0),
            allow=allow,
            check_options={k: v for k, v in options.items() if k.startswith("web.")},
        )
        settings = get_settings()
        try:
            callback = callback_for(
                target.address,
                scan_options.check_options,
                mode=settings.web_callback,
                port=settings.web_callback_port,
                advertise=settings.web_callback_advertise,
            )
        except (OSError, ValueError):
            callback = None  # SSRF and remote inclusion are then not tested on this service
        try:
            scanner = WebScanner(ctx, target_url(target) + "/", scan_options, callback=callback)
            outcome = scanner.run()
        except LoginFailed:
            return
        finally:
            if callback is not None:
                callback.close()
        for issue in outcome.issues:
            record = finding_input(issue)
            yield Observation(
                check_id=record.check_id,
                title=record.title,
                severity=record.severity,
                address=target.address,
                port=target.port,
                protocol=target.protocol,
                description=record.description,
                remediation=record.remediation,
                evidence=record.evidence,
                cvss_v3_vector=record.cvss_v3_vector,
                cwe_ids=list(record.cwe_ids),
                references=list(record.references),
                identity=f"{record.url} {record.parameter or ''}".strip(),
                url=record.url,
                extra=dict(record.extra),
            )
