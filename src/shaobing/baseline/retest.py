"""Retest (复测, B9) of baseline findings: the one rule, on the same target, again.

The finding keeps how the target was reached (local host, offline tree, SSH host with user
and key files, database DSN without password); secrets are never stored, so SSH password
and database targets take them from ``SHAOBING_SSH_PASSWORD`` / ``SHAOBING_DSN_PASSWORD``.
A rule that cannot be evaluated now (不适用/错误) is refused rather than counted as fixed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from shaobing.baseline.collectors.base import HostCollector
from shaobing.baseline.collectors.database import DatabaseCollector, open_database
from shaobing.baseline.collectors.filesystem import LocalCollector, TreeCollector
from shaobing.baseline.engine import run_profile
from shaobing.baseline.http import fetch
from shaobing.baseline.model import Rule
from shaobing.baseline.probes import Context
from shaobing.baseline.results import Status
from shaobing.baseline.service import load_checkable
from shaobing.baseline.wazuh import ScaPolicy, run_sca_policy
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings.models import Finding
from shaobing.findings.retest import RetestResult


def _collectors(spec: dict[str, Any]) -> tuple[HostCollector | None, DatabaseCollector | None]:
    kind = spec.get("kind")
    if kind == "local":
        return LocalCollector(), None
    if kind == "root":
        root = Path(str(spec.get("root")))
        if not root.is_dir():
            raise ValidationError(t("baseline.retest.root_gone", root=str(root)))
        return TreeCollector(root), None
    if kind == "ssh":
        from shaobing.baseline.collectors.ssh import SshCollector, SshTarget  # noqa: PLC0415 - asyncssh only for SSH targets

        password = os.environ.get("SHAOBING_SSH_PASSWORD")
        keys = [str(k) for k in spec.get("key_files") or []]
        if not keys and password is None:
            raise ValidationError(t("baseline.retest.ssh_secret"))
        target = SshTarget(
            host=str(spec["host"]),
            user=str(spec["user"]),
            port=int(spec.get("port") or 22),
            password=password,
            key_files=keys,
            sudo=bool(spec.get("sudo")),
        )
        return SshCollector(target), None
    if kind == "dsn":
        dsn = str(spec.get("dsn") or "")
        password = os.environ.get("SHAOBING_DSN_PASSWORD")
        if password is not None:
            parts = urlsplit(dsn)
            netloc = parts.netloc.replace("@", f":{quote(password, safe='')}@", 1)
            dsn = urlunsplit(parts._replace(netloc=netloc))
        return None, open_database(dsn)
    raise ValidationError(t("baseline.retest.unknown_target", kind=str(kind)))


def retest_baseline(finding: Finding) -> RetestResult:
    """Evaluate the finding's rule again on its target."""
    extra = finding.extra or {}
    spec = extra.get("target_spec") or {}
    source = str(extra.get("profile_source") or extra.get("profile") or "")
    if not spec or not source:
        raise ValidationError(t("baseline.retest.no_target", id=finding.id))
    checkable = load_checkable(source)
    if isinstance(checkable, ScaPolicy):
        if not any(str(c.id) == finding.check_id for c in checkable.checks):
            raise ValidationError(
                t("baseline.retest.rule_gone", rule=finding.check_id, profile=source)
            )
        rules: list[Rule] = []
        http_url = None
    else:
        rules = [r for r in checkable.rules if r.id == finding.check_id]
        if not rules:
            raise ValidationError(
                t("baseline.retest.rule_gone", rule=finding.check_id, profile=source)
            )
        http_url = str(checkable.variables.get("http_url") or "") or None
    host, db = _collectors(spec)

    async def work() -> Any:
        try:
            if host is not None:
                await host.connect()
            if isinstance(checkable, ScaPolicy):
                if host is None:
                    raise ValidationError(t("baseline.observed.no_host"))
                report = await run_sca_policy(checkable, host)
                report.results = [r for r in report.results if r.rule_id == finding.check_id]
                return report
            ctx = Context(host=host, db=db, http=fetch, http_url=http_url)
            return await run_profile(checkable, ctx, rules)
        finally:
            if host is not None:
                await host.close()
            if db is not None:
                await db.close()

    report = asyncio.run(work())
    result = report.results[0]
    if result.status in {Status.NA, Status.ERROR}:
        raise ValidationError(
            t("baseline.retest.undecided", rule=result.rule_id, observed=result.observed)
        )
    evidence = t("baseline.finding.evidence", observed=result.observed, expected=result.expected)
    return RetestResult(detected=result.status is Status.FAIL, evidence=evidence)
