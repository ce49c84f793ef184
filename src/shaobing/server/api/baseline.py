"""``/api/v1/baseline``: stored baseline checks with their per-rule results, and launching one.

A check launched from the console runs synchronously for one target (connection timeout
``CHECK_TIMEOUT``), through the same ``run_check`` as ``shaobing baseline check`` and recorded
the same way. Only built-in profiles, and only remote targets: ``ssh://`` with a credential
from the vault, or a database DSN (its password from the vault too). ``local`` is refused:
the console's own server is not a client's target, and a browser must not run commands on it.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from shaobing.baseline.collectors.database import is_dsn
from shaobing.baseline.loader import raw_profiles
from shaobing.baseline.models import BaselineRun
from shaobing.baseline.results import STATUS_LABELS, Status
from shaobing.baseline.service import Access, CheckOutcome, run_check
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.credentials.service import get_credential
from shaobing.credentials.use import CredentialRef, run_with_credential, safe_label
from shaobing.engagements.models import Engagement
from shaobing.server.access import engagement_for, tenant_object
from shaobing.server.api.common import CSRF, Ctx, action
from shaobing.server.context import RequestContext

router = APIRouter(tags=["baseline"])

# Failures first: they carry the advice the client acts on.
STATUS_ORDER = {
    Status.FAIL.value: 0,
    Status.ERROR.value: 1,
    Status.NA.value: 2,
    Status.PASS.value: 3,
}
# Seconds to reach the target (TCP, SSH login or database login) before giving up.
CHECK_TIMEOUT = 10.0


class CheckBody(BaseModel):
    """One baseline check to run now: engagement, built-in profile, target, credential."""

    engagement: str = Field(min_length=1, max_length=64)
    profile: str = Field(min_length=1, max_length=100)
    target: str = Field(min_length=1, max_length=500)
    credential: str | None = Field(default=None, max_length=64)
    rules: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=200
    )


def run_summary(run: BaselineRun) -> dict[str, Any]:
    """A run's row in listings."""
    return {
        "id": run.id,
        "engagement_id": run.engagement_id,
        "profile": run.profile,
        "target": run.target,
        "host": run.host,
        "os": run.os,
        "purpose": run.purpose,
        "score": run.score,
        "counts": dict(run.counts or {}),
        "created_by": run.created_by,
        "started_at": run.started_at.isoformat(timespec="seconds") if run.started_at else None,
        "finished_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
    }


def parse_status(values: list[str] | None) -> set[str]:
    """Status filter values (pass/fail/na/error or the Chinese words)."""
    if not values:
        return set()
    words = {label: status.value for status, label in STATUS_LABELS.items()}
    chosen: set[str] = set()
    for value in values:
        for part in value.split(","):
            item = part.strip()
            if not item:
                continue
            status = words.get(item, item.lower())
            if status not in STATUS_ORDER:
                raise ValidationError(
                    t("cli.bad_status", value=item, known="pass, fail, na, error")
                )
            chosen.add(status)
    return chosen


def run_results(run: BaselineRun, statuses: set[str]) -> list[dict[str, Any]]:
    """The run's rule results (filtered by status), failures first."""
    rows = [
        dict(r) | {"status_label": STATUS_LABELS.get(Status(r["status"]), r["status"])}
        for r in run.results or []
        if not statuses or r.get("status") in statuses
    ]
    rows.sort(key=lambda r: (STATUS_ORDER.get(r["status"], 9), r["rule_id"]))
    return rows


def list_runs(ctx: RequestContext, engagement: Engagement | None) -> list[BaselineRun]:
    """Baseline runs of one engagement or of every visible one, newest first."""
    query = select(BaselineRun).order_by(BaselineRun.id.desc()).limit(500)
    if engagement is not None:
        query = query.where(BaselineRun.engagement_id == engagement.id)
    elif ctx.tenant is not None:
        query = query.where(BaselineRun.client_id == ctx.tenant)
    return list(ctx.db.scalars(query))


@router.get("/baseline/runs", **action("baseline.read"))
def runs(
    ctx: Ctx, engagement: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """Baseline check runs, newest first."""
    target = engagement_for(ctx, engagement, "baseline.read") if engagement else None
    if target is None:
        ctx.authorize("baseline.read", client_id=ctx.tenant)
    return {"items": [run_summary(r) for r in list_runs(ctx, target)]}


@router.get("/baseline/runs/{run_id}", **action("baseline.read"))
def show(
    ctx: Ctx, run_id: int, status: Annotated[list[str] | None, Query()] = None
) -> dict[str, Any]:
    """One run with its results per rule (failures first, with the remediation advice)."""
    run = tenant_object(ctx, BaselineRun, run_id, "baseline.read", "baseline_run")
    return run_summary(run) | {"results": run_results(run, parse_status(status))}


def _check_target(target: str) -> str:
    text = target.strip()
    if text == "local":
        raise ValidationError(t("credentials.web.local_refused"))
    label = safe_label(text)
    if not (text.startswith("ssh://") or is_dsn(text)):
        raise ValidationError(t("credentials.web.bad_target", target=label[:200]))
    try:
        has_password = urlsplit(text).password is not None
    except ValueError:
        raise ValidationError(t("credentials.web.bad_target", target=label[:200])) from None
    if has_password:
        raise ValidationError(t("credentials.web.password_in_target", target=label[:200]))
    return text


def launch_check(ctx: RequestContext, body: CheckBody) -> int:
    """Run one check now (scope, credential and target rules enforced); returns the run id."""
    engagement = engagement_for(ctx, body.engagement, "baseline.check")
    profiles = raw_profiles()
    if body.profile not in profiles:
        # Built-in names only: a path would make the server read a file of the caller's choice.
        known = "、".join(sorted(profiles))
        raise ValidationError(
            t("credentials.web.unknown_profile", name=body.profile[:100], known=known)
        )
    target = _check_target(body.target)
    stored = None
    if body.credential:
        stored = CredentialRef.of(get_credential(ctx.db, engagement, body.credential))
    elif target.startswith("ssh://"):
        # Without one the SSH client would fall back on the server's own keys and agent.
        raise ValidationError(t("credentials.web.ssh_needs_credential", target=target))
    ref = str(engagement.id)
    # The services open their own transactions (and audit refusals and uses in them).
    ctx.db.commit()

    def run(text: str, access: Access) -> CheckOutcome:
        return run_check(
            ctx.engine,
            profile_name=body.profile,
            targets=[text],
            access=access,
            engagement_ref=ref,
            variables={},
            rules=list(body.rules),
            concurrency=1,
            actor=ctx.actor,
        )

    base = Access(timeout=CHECK_TIMEOUT)
    if stored is None:
        outcome = run(target, base)
    else:
        outcome = run_with_credential(ctx.engine, stored, target, base, run, actor=ctx.actor)
    return outcome.run_ids[0]


@router.post("/baseline/check", status_code=201, dependencies=CSRF, **action("baseline.check"))
def check(ctx: Ctx, body: CheckBody) -> dict[str, Any]:
    """Run a baseline check of one target now and record it like the CLI does."""
    run_id = launch_check(ctx, body)
    run = tenant_object(ctx, BaselineRun, run_id, "baseline.read", "baseline_run")
    return run_summary(run)
