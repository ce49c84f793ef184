"""Checks ``template.passive`` and ``template.active``: Nuclei-format templates in scans (B6).

HTTP templates run on every web service the scan identified (``http``/``https`` and TLS
ports); network templates run on services whose port the template names. The finding's
check id is ``template:<template id>``, so one template's results de-duplicate together
and a retest re-runs exactly that template (see ``shaobing.scan.retest``).

Policy options: ``templates`` (id patterns to run, default all), ``exclude_templates``,
``tags`` (run only templates with one of these tags), ``template_dirs`` (more folders).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.scope import ScopeRefused
from shaobing.scan.checks import (
    Check,
    CheckContext,
    Observation,
    Safety,
    ServiceTarget,
    register_check,
)
from shaobing.scan.finding_text import short
from shaobing.scan.template_library import LibraryTemplate, library
from shaobing.templates.httpclient import ConnectionPool, PooledContext
from shaobing.templates.runner import run_template
from shaobing.templates.state import TemplateResult

CHECK_PREFIX = "template:"
_WEB_SERVICES = frozenset({"http", "https", "http-alt", "http-proxy", "https-alt", "ssl/http"})
_TLS_PORTS = frozenset({443, 8443, 9443})
_CWE = re.compile(r"(?i)cwe-(\d+)")
# Extracted values shown in the evidence (each cut to one short line).
_EXTRACTED_SHOWN = 5


def target_url(target: ServiceTarget) -> str:
    """The base URL of a web service (https when the service speaks TLS)."""
    host = f"[{target.address}]" if ":" in target.address else target.address
    secure = target.tls or target.service in ("https", "https-alt", "ssl/http")
    secure = secure or (target.service is None and target.port in _TLS_PORTS)
    return f"{'https' if secure else 'http'}://{host}:{target.port}"


def _strings(options: dict[str, Any], name: str) -> list[str]:
    value = options.get(name, [])
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ValidationError(t("scan.template_option_invalid", name=name, value=short(value, 80)))
    return list(value)


def observation_of(
    item: LibraryTemplate, target: ServiceTarget, results: list[TemplateResult]
) -> Observation:
    """One observation for all matches of one template on one service."""
    template = item.template
    info = template.info
    metadata = info.metadata
    extracted = [v for r in results for v in r.extracted][:_EXTRACTED_SHOWN]
    matched = sorted({r.matched_at for r in results})
    evidence = "；".join(
        [f"命中 {short(m, 200)}" for m in matched[:3]]
        + ([f"提取：{', '.join(short(v, 80) for v in extracted)}"] if extracted else [])
    )
    classification = info.classification
    return Observation(
        check_id=CHECK_PREFIX + template.id,
        title=str(metadata.get("zh-name") or info.name),
        severity=item.severity,
        address=target.address,
        port=target.port,
        protocol=target.protocol,
        description=str(metadata.get("zh-description") or info.description or "") or None,
        remediation=str(metadata.get("zh-remediation") or info.remediation or "") or None,
        evidence=evidence,
        cvss_v3_vector=classification.cvss_metrics,
        cwe_ids=[int(m.group(1)) for c in classification.cwe_ids if (m := _CWE.search(c))],
        references=list(info.references)[:10],
        cve_ids=list(classification.cve_ids),
        identity=template.id,
        extra={"template": template.id, "matched_at": matched[:5], "tags": list(info.tags)},
    )


class TemplateCheck(Check):
    """Runs the library templates of one safety class on a service."""

    template_safety: ClassVar[Safety]

    def applies(self, target: ServiceTarget) -> bool:
        """Web services, and any TCP service a network template may name by port."""
        return target.protocol == "tcp"

    def selected_templates(self, options: dict[str, Any]) -> list[LibraryTemplate]:
        """The library templates this check runs under ``options``."""
        wanted = _strings(options, "templates") or ["*"]
        unwanted = _strings(options, "exclude_templates")
        tags = set(_strings(options, "tags"))
        chosen = []
        for item in library(_strings(options, "template_dirs")):
            template_id = item.template.id
            if item.safety is not self.template_safety:
                continue
            if not any(fnmatch.fnmatchcase(template_id, p) for p in wanted):
                continue
            if any(fnmatch.fnmatchcase(template_id, p) for p in unwanted):
                continue
            if tags and not tags & set(item.template.info.tags):
                continue
            chosen.append(item)
        return chosen

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Run every selected template that fits the service; one finding per template."""
        options = dict(ctx.options)
        web = target.service in _WEB_SERVICES or (
            target.service is None and target.port in {80, 443, 8000, 8080, 8443, 8888}
        )
        host = f"[{target.address}]" if ":" in target.address else target.address
        web_url = target_url(target)
        # The templates run one after another on this service: they share kept-alive
        # connections instead of each paying a connect and a close.
        pool = ConnectionPool()
        pooled = PooledContext(ctx, pool)
        try:
            for item in self.selected_templates(options):
                if ctx.should_stop():
                    return
                template = item.template
                if template.http and web:
                    url = web_url
                elif template.network and any(target.port in r.ports for r in template.network):
                    url = f"tcp://{host}:{target.port}"
                else:
                    continue
                try:
                    results = run_template(template, url, pooled)
                except (ValidationError, ScopeRefused):
                    # Not runnable here (unsupported feature, no out-of-band callback
                    # domain configured, ...): skip this template, not the whole check.
                    continue
                except (OSError, ValueError):
                    continue  # an unreachable or misbehaving service: no finding from it
                if results:
                    yield observation_of(item, target, results)
        finally:
            pool.close()


@register_check
class PassiveTemplates(TemplateCheck):
    """Templates that only read what a service shows (GETs of well-known paths)."""

    id = "template.passive"
    safety = Safety.PASSIVE
    template_safety = Safety.PASSIVE


@register_check
class ActiveTemplates(TemplateCheck):
    """Templates that send more than plain reads (e.g. default-credential logins)."""

    id = "template.active"
    safety = Safety.ACTIVE
    template_safety = Safety.ACTIVE
