"""Console gaps of the CLI: baseline hardening (C3), remediation SLA days, re-deduplication.

Hardening from the browser is two calls. ``apply: false`` connects to the target, evaluates
the rules and answers the exact plan (diffs, commands, skipped rules with the reason) with a
plan token, a digest of everything the plan would change (whole file contents before and
after, modes, owners, commands). ``apply: true`` with that token plans again on the same
connection and applies only if the new plan has the same token: a file edited on the target
in between, another rule set or another profile version is refused (409) before any change.
The apply itself is ``shaobing baseline harden --yes``: backups, rule by rule, automatic
restore on failure, re-check, the run and both baseline runs recorded the same way.

Only ``ssh://`` targets with a credential from the vault (as the console's baseline check):
``local`` would harden the console's own server.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from shaobing.baseline.harden_service import HardenOutcome, harden_opened, rollback
from shaobing.baseline.hardening import Plan
from shaobing.baseline.loader import get_profile, raw_profiles
from shaobing.baseline.models import HardeningRun
from shaobing.baseline.service import (
    Access,
    check_scope,
    open_target,
    select_rules,
)
from shaobing.core.errors import ConflictError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.credentials.service import get_credential
from shaobing.credentials.use import CredentialRef, run_with_credential, safe_label
from shaobing.engagements.models import Engagement
from shaobing.engagements.scope_guard import scope_of
from shaobing.findings import service as findings
from shaobing.findings.severity import Severity
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.context import RequestContext

router = APIRouter(tags=["baseline"])

# Seconds to reach the target (TCP and SSH login) before giving up, as the web check.
CONNECT_TIMEOUT = 10.0
# Hardening runs listed per engagement.
LIST_LIMIT = 500
# Ten years: anything longer is a typing error, not a remediation deadline.
MAX_SLA_DAYS = 3650

RuleName = Annotated[str, Field(min_length=1, max_length=200)]


class HardenBody(BaseModel):
    """Plan (``apply: false``) or apply the plan named by ``plan_token``."""

    engagement: str = Field(min_length=1, max_length=64)
    profile: str = Field(min_length=1, max_length=100)
    target: str = Field(min_length=1, max_length=500)
    credential: str = Field(min_length=1, max_length=64)
    rules: list[RuleName] = Field(default_factory=list, max_length=200)
    apply: bool = False
    plan_token: str | None = Field(default=None, max_length=128)


class RollbackBody(BaseModel):
    """The stored credential that reaches the run's target again."""

    credential: str = Field(min_length=1, max_length=64)


class SlaBody(BaseModel):
    """Remediation days per severity (critical/high/medium/low/info or 严重/高/中/低/信息)."""

    days: dict[Annotated[str, Field(max_length=20)], int] = Field(max_length=10)


# ---- hardening ------------------------------------------------------------------------------


def _ssh_target(text: str) -> str:
    target = text.strip()
    if target == "local":
        raise ValidationError(t("credentials.web.local_refused"))
    label = safe_label(target)[:200]
    if not target.startswith("ssh://"):
        raise ValidationError(t("server_harden.ssh_only", target=label))
    try:
        has_password = urlsplit(target).password is not None
    except ValueError:
        raise ValidationError(t("server_harden.ssh_only", target=label)) from None
    if has_password:
        raise ValidationError(t("credentials.web.password_in_target", target=label))
    return target


def _builtin_profile(name: str) -> str:
    profiles = raw_profiles()
    if name not in profiles:
        # Built-in names only: a path would make the server read a file of the caller's choice.
        known = "、".join(sorted(profiles))
        raise ValidationError(t("credentials.web.unknown_profile", name=name[:100], known=known))
    return name


def plan_token(engagement_id: int, profile: str, target: str, rules: list[str], plan: Plan) -> str:
    """A digest of everything applying ``plan`` would do (whole contents, not only diffs)."""
    changes = {
        path: [
            None if c.before is None else hashlib.sha256(c.before).hexdigest(),
            hashlib.sha256(c.after).hexdigest(),
            c.mode,
            c.owner,
            c.group,
            c.is_dir,
        ]
        for path, c in sorted(plan.changes.items())
    }
    material = {
        "engagement": engagement_id,
        "profile": profile,
        "target": target,
        "rules": rules,
        "live": plan.live,
        "plan": plan.as_json(),
        "changes": changes,
    }
    text = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _answer(outcome: HardenOutcome, token: str) -> dict[str, Any]:
    plan = outcome.plan
    return outcome.as_json() | {
        "plan_token": token,
        "actionable": len(plan.actionable),
        "files": len(plan.changes),
        "diffs": plan.diffs(),
        "findings": outcome.findings,
    }


def harden_target(ctx: RequestContext, body: HardenBody) -> dict[str, Any]:
    """Plan or apply through the stored credential; the answer of the API and the page."""
    engagement = engagement_for(ctx, body.engagement, "baseline.harden")
    profile_name = _builtin_profile(body.profile)
    target = _ssh_target(body.target)
    if body.apply and not body.plan_token:
        raise ValidationError(t("server_harden.token_required"))
    stored = CredentialRef.of(get_credential(ctx.db, engagement, body.credential))
    engagement_id = engagement.id
    scope = scope_of(engagement)
    profile = get_profile(profile_name)
    chosen = select_rules(profile, list(body.rules))
    # The services open their own transactions (and audit refusals and uses in them).
    ctx.db.commit()

    rules = [r.id for r in chosen]

    def work(text: str, access: Access) -> tuple[HardenOutcome, str]:
        opened = open_target(text, access)
        # Before any connection, also for a plan: the target must be in the engagement's scope.
        check_scope(engagement, opened, None, ctx.engine, ctx.actor, scope)
        tokens: list[str] = []

        def expect(plan: Plan) -> None:
            # Apply only the plan the user confirmed: the token covers every change.
            tokens.append(plan_token(engagement_id, profile.id, opened.label, rules, plan))
            if body.apply and tokens[0] != body.plan_token:
                raise ConflictError(t("server_harden.plan_changed"))

        outcome = harden_opened(
            ctx.engine,
            profile_source=profile_name,
            profile=profile,
            chosen=chosen,
            opened=opened,
            yes=body.apply,
            engagement_id=engagement_id,
            actor=ctx.actor,
            expect_plan=expect,
        )
        return outcome, tokens[0]

    outcome, token = run_with_credential(
        ctx.engine, stored, target, Access(timeout=CONNECT_TIMEOUT), work, actor=ctx.actor
    )
    return _answer(outcome, token)


def run_as_dict(run: HardeningRun) -> dict[str, Any]:
    """A hardening run as the API and the page show it."""

    def stamp(value: Any) -> str | None:
        return value.isoformat(timespec="seconds") if value else None

    return {
        "id": run.id,
        "engagement_id": run.engagement_id,
        "profile": run.profile,
        "target": run.target,
        "kind": (run.target_spec or {}).get("kind"),
        "status": run.status,
        "status_label": t(f"server_harden.status.{run.status}"),
        "rules": list(run.rules or []),
        "plan": list(run.plan or []),
        "restorable": [b["path"] for b in (run.backups or {}).get("files", [])],
        "message": run.message,
        "before_run_id": run.before_run_id,
        "after_run_id": run.after_run_id,
        "created_by": run.created_by,
        "created_at": stamp(run.created_at),
        "applied_at": stamp(run.applied_at),
        "rolled_back_at": stamp(run.rolled_back_at),
    }


def engagement_runs(ctx: RequestContext, engagement: Engagement) -> list[HardeningRun]:
    """The engagement's hardening runs, newest first."""
    query = (
        select(HardeningRun)
        .where(HardeningRun.engagement_id == engagement.id)
        .order_by(HardeningRun.id.desc())
        .limit(LIST_LIMIT)
    )
    return list(ctx.db.scalars(query))


def rollback_run(ctx: RequestContext, run_id: int, credential: str) -> dict[str, Any]:
    """Restore a run's files over SSH with a stored credential (``baseline rollback``)."""
    run = tenant_object(ctx, HardeningRun, run_id, "baseline.harden", "hardening_run")
    if run.status != "applied":
        raise ValidationError(t("baseline.harden.not_applied", run_id=run_id, status=run.status))
    if (run.target_spec or {}).get("kind") != "ssh":
        raise ValidationError(t("server_harden.not_ssh_run", run_id=run_id))
    if not credential.strip():
        raise ValidationError(t("credentials.web.ssh_needs_credential", target=run.target))
    engagement = ctx.db.get_one(Engagement, run.engagement_id)
    stored = CredentialRef.of(get_credential(ctx.db, engagement, credential))
    target = run.target
    ctx.db.commit()

    def work(_text: str, access: Access) -> dict[str, Any]:
        return rollback(ctx.engine, run_id, access, actor=ctx.actor).as_json()

    return run_with_credential(
        ctx.engine, stored, target, Access(timeout=CONNECT_TIMEOUT), work, actor=ctx.actor
    )


@router.post("/baseline/harden", dependencies=CSRF, **action("baseline.harden"))
def harden(ctx: Ctx, body: HardenBody) -> dict[str, Any]:
    """Plan hardening of one SSH target, or apply the plan named by its token."""
    return harden_target(ctx, body)


@router.get("/baseline/hardening", **action("baseline.read"))
def hardening_runs(
    ctx: Ctx, engagement: Annotated[str, Query(min_length=1, max_length=64)]
) -> dict[str, Any]:
    """An engagement's hardening runs, newest first."""
    target = engagement_for(ctx, engagement, "baseline.read")
    return {"items": [run_as_dict(r) for r in engagement_runs(ctx, target)]}


@router.post(
    "/baseline/hardening/{run_id}/rollback", dependencies=CSRF, **action("baseline.harden")
)
def hardening_rollback(ctx: Ctx, run_id: int, body: RollbackBody) -> dict[str, Any]:
    """Restore the files of an applied hardening run and re-check its rules."""
    return rollback_run(ctx, run_id, body.credential)


# ---- remediation SLA and re-deduplication --------------------------------------------------


def _severity(word: str) -> Severity:
    names = {s.value: s for s in Severity} | {s.label: s for s in Severity}
    level = names.get(word.strip().lower()) or names.get(word.strip())
    if level is None:
        raise ValidationError(t("server_harden.bad_severity", value=word[:20]))
    return level


def set_sla(ctx: RequestContext, ref: str, days: dict[str, int]) -> dict[str, int | None]:
    """Override remediation days per severity (``findings sla --set``); the new table."""
    engagement = engagement_for(ctx, ref, "engagement.write")
    if not days:
        raise ValidationError(t("server_harden.sla_empty"))
    levels = [(_severity(word), value) for word, value in days.items()]
    for _, value in levels:
        if value > MAX_SLA_DAYS:
            raise ValidationError(t("findings.bad_sla_days", days=value))
    for level, value in levels:
        findings.set_sla_days(ctx.db, engagement, level, value)
    ctx.db.flush()
    return findings.sla_table(ctx.db, engagement)


def rededup_engagement(ctx: RequestContext, ref: str) -> dict[str, int]:
    """Recompute fingerprints and merge findings that now coincide (``findings rededup``)."""
    engagement = engagement_for(ctx, ref, "findings.dedup")
    override = get_settings().home / "fingerprints.yaml"
    return findings.rededup(ctx.db, engagement, actor=ctx.actor, override=override)


@router.get("/engagements/{ref}/sla", **action("engagement.read"))
def sla(ctx: Ctx, ref: str) -> dict[str, Any]:
    """Remediation days per severity (the engagement's overrides, else the defaults)."""
    engagement = engagement_for(ctx, ref, "engagement.read")
    return {"days": findings.sla_table(ctx.db, engagement)}


@router.post("/engagements/{ref}/sla", dependencies=CSRF, **action("engagement.write"))
def sla_set(ctx: Ctx, ref: str, body: SlaBody) -> dict[str, Any]:
    """Set remediation days of some severities for the engagement."""
    return {"days": set_sla(ctx, ref, body.days)}


@router.post("/findings/rededup", dependencies=CSRF, **action("findings.dedup"))
def rededup(
    ctx: Ctx, engagement: Annotated[str, Query(min_length=1, max_length=64)]
) -> dict[str, int]:
    """Re-apply the fingerprint rules to the engagement's findings, merging duplicates."""
    return rededup_engagement(ctx, engagement)
