"""``baseline harden`` and ``baseline rollback`` as service functions (C3)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shaobing.baseline.collectors.base import CollectorUnavailable, HostCollector
from shaobing.baseline.collectors.filesystem import LocalCollector, TreeCollector
from shaobing.baseline.engine import run_profile
from shaobing.baseline.hardening import (
    Backup,
    Plan,
    backup_file,
    build_plan,
    restore_file,
    run_commands,
    write_change,
)
from shaobing.baseline.loader import get_profile
from shaobing.baseline.model import Profile, Rule
from shaobing.baseline.models import HardeningRun
from shaobing.baseline.probes import Context
from shaobing.baseline.results import ProfileReport
from shaobing.baseline.score import profile_score
from shaobing.baseline.service import (
    Access,
    OpenedTarget,
    check_scope,
    open_target,
    record_report,
    select_rules,
)
from shaobing.core.db import session_scope
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements.models import Client, Engagement
from shaobing.engagements.scope_guard import scope_of
from shaobing.engagements.service import (
    EngagementInput,
    add_client,
    create_engagement,
    resolve_engagement,
)


@dataclass
class HardenOutcome:
    """Plan, and when applied: the run, its status and the before/after scores."""

    plan: Plan
    before: ProfileReport
    run_id: int | None = None
    status: str = "planned"
    after: ProfileReport | None = None
    message: str | None = None
    findings: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """``baseline harden --json`` shape."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "message": self.message,
            "profile": self.before.profile,
            "target": self.before.target,
            "score_before": profile_score(self.before),
            "score_after": profile_score(self.after) if self.after else None,
            "plan": self.plan.as_json(),
            "after": [r.as_json() for r in self.after.results] if self.after else None,
        }


def backup_root() -> Path:
    """Where backups of hardened files are kept on the operator's machine."""
    return get_settings().home / "baseline" / "backups"


def _adhoc_engagement(session: Session, opened: OpenedTarget, actor: str) -> Engagement:
    name = t("scan.adhoc_client")
    client = session.scalar(select(Client).where(Client.name == name))
    if client is None:
        client = add_client(session, name, actor=actor)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    scope = opened.address if opened.spec.get("kind") == "ssh" and opened.address else "127.0.0.1"
    spec = EngagementInput(
        name=t("baseline.harden.adhoc_engagement", stamp=stamp), scope=[scope], adhoc=True
    )
    return create_engagement(session, client, spec, actor=actor)


async def _apply(
    host: HostCollector, plan: Plan, folder: Path
) -> tuple[list[Backup], list[str], str | None]:
    """Back up, apply rule by rule; on failure restore. Returns backups, applied rules, error."""
    backups: list[Backup] = []
    for index, path in enumerate(plan.backup_paths()):
        backups.append(await backup_file(host, path, folder, index))
    written: set[str] = set()
    applied: list[str] = []
    try:
        for rule in plan.actionable:
            for path in rule.files:
                if path in plan.changes and path not in written:
                    # marked first: a change that fails half-way (written, then chown
                    # refused) must still be restored
                    written.add(path)
                    await write_change(host, plan.changes[path])
            if rule.commands:
                await run_commands(host, rule.commands)
            applied.append(rule.rule_id)
    except CollectorUnavailable as exc:
        # restore what was written and what the commands may have changed
        touched = written | {p for r in plan.actionable for p in r.backup}
        await _restore(host, backups, folder, plan, applied, only=touched)
        return backups, applied, exc.reason
    return backups, applied, None


async def _restore(
    host: HostCollector,
    backups: list[Backup],
    folder: Path,
    plan: Plan | None,
    applied: list[str],
    *,
    only: set[str] | None = None,
    rollback_commands: dict[str, list[str]] | None = None,
) -> list[str]:
    """Restore files, then run rollback commands of applied rules in reverse; returns problems."""
    problems: list[str] = []
    for backup in reversed(backups):
        if only is not None and backup.path not in only:
            continue
        try:
            await restore_file(host, backup, folder)
        except CollectorUnavailable as exc:
            problems.append(f"{backup.path}: {exc.reason}")
    commands = rollback_commands or {}
    if plan is not None:
        commands = {r.rule_id: r.rollback_commands for r in plan.rules}
    if host.live:
        for rule_id in reversed(applied):
            try:
                await run_commands(host, commands.get(rule_id, []))
            except CollectorUnavailable as exc:
                problems.append(f"{rule_id}: {exc.reason}")
    return problems


def harden(
    engine: Engine | None,
    *,
    profile_name: str,
    target: str | None,
    access: Access,
    rules: list[str],
    variables: dict[str, str],
    engagement_ref: str | None,
    yes: bool,
    actor: str,
) -> HardenOutcome:
    """Plan (always) and, with ``yes``, apply with backups, re-check and automatic rollback."""
    profile = get_profile(profile_name, variables)
    chosen = select_rules(profile, rules)
    opened = open_target(target, access)
    if opened.host is None:
        raise ValidationError(t("baseline.target.needs_host", profile=profile.id))
    if yes and engine is None:
        raise ValidationError(t("baseline.target.needs_database"))
    engagement_id = None
    if yes and engine is not None:
        with session_scope(engine) as session:
            engagement = (
                resolve_engagement(session, engagement_ref)
                if engagement_ref
                else _adhoc_engagement(session, opened, actor)
            )
            scope = scope_of(engagement)
            engagement_id = engagement.id
        # after the transaction: a refusal is audited in a transaction of its own
        check_scope(engagement, opened, None, engine, actor, scope)
    return harden_opened(
        engine,
        profile_source=profile_name,
        profile=profile,
        chosen=chosen,
        opened=opened,
        yes=yes,
        engagement_id=engagement_id,
        actor=actor,
    )


def harden_opened(
    engine: Engine | None,
    *,
    profile_source: str,
    profile: Profile,
    chosen: list[Rule],
    opened: OpenedTarget,
    yes: bool,
    engagement_id: int | None,
    actor: str,
    expect_plan: Callable[[Plan], None] | None = None,
) -> HardenOutcome:
    """Plan and, with ``yes``, apply on an opened target whose scope the caller checked.

    ``expect_plan`` sees the plan before anything is recorded or changed and may refuse it
    by raising (the console applies only the plan the user confirmed).
    """
    return asyncio.run(
        _harden(
            engine,
            profile_source,
            profile,
            chosen,
            opened,
            yes=yes,
            engagement_id=engagement_id,
            actor=actor,
            expect_plan=expect_plan,
        )
    )


async def _harden(
    engine: Engine | None,
    profile_source: str,
    profile: Profile,
    chosen: list[Rule],
    opened: OpenedTarget,
    *,
    yes: bool,
    engagement_id: int | None,
    actor: str,
    expect_plan: Callable[[Plan], None] | None = None,
) -> HardenOutcome:
    host = opened.host
    assert host is not None
    try:
        if host is not None:
            await host.connect()
        ctx = Context(host=host)
        before = await run_profile(profile, ctx, chosen)
        plan = await build_plan(host, chosen, before)
        if expect_plan is not None:
            expect_plan(plan)
        outcome = HardenOutcome(plan, before)
        if not yes or engine is None or engagement_id is None:
            return outcome
        with session_scope(engine) as session:
            engagement = session.get(Engagement, engagement_id)
            assert engagement is not None
            run = HardeningRun(
                client_id=engagement.client_id,
                engagement_id=engagement.id,
                profile=profile.id,
                target=opened.label,
                target_spec={**opened.spec, "profile_source": profile_source},
                rules=[r.id for r in chosen],
                plan=plan.as_json(),
                created_by=actor,
            )
            session.add(run)
            session.flush()
            before_run, _ = record_report(
                session,
                engagement,
                before,
                opened,
                actor=actor,
                purpose="harden-before",
                profile_source=profile_source,
            )
            run.before_run_id = before_run.id
            run_id = run.id
        outcome.run_id = run_id
        folder = backup_root() / str(run_id)
        if not plan.actionable or not (plan.changes or any(r.commands for r in plan.actionable)):
            backups: list[Backup] = []
            applied: list[str] = []
            status, message = "nothing-to-do", None
        else:
            backups, applied, error = await _apply(host, plan, folder)
            status = "applied" if error is None else "failed-rolled-back"
            message = error
        for path in plan.changes:
            host.forget(path)
        after = await run_profile(profile, Context(host=host, os=ctx.os), chosen)
        outcome.after, outcome.status, outcome.message = after, status, message
        with session_scope(engine) as session:
            engagement = session.get(Engagement, engagement_id)
            stored = session.get(HardeningRun, run_id)
            assert engagement is not None and stored is not None
            after_run, summary = record_report(
                session,
                engagement,
                after,
                opened,
                actor=actor,
                purpose="harden-after",
                profile_source=profile_source,
            )
            stored.after_run_id = after_run.id
            stored.status = status
            stored.message = message
            stored.backup_dir = str(folder)
            stored.backups = {"files": [b.as_json() for b in backups], "applied": applied}
            stored.applied_at = datetime.now(UTC)
            if summary is not None:
                outcome.findings = summary.as_dict()
        return outcome
    finally:
        await host.close()


def _reopen(spec: dict[str, Any], access: Access) -> HostCollector:
    kind = spec.get("kind")
    if kind == "local":
        return LocalCollector()
    if kind == "root":
        return TreeCollector(Path(str(spec["root"])))
    if kind == "ssh":
        from shaobing.baseline.collectors.ssh import SshCollector, SshTarget  # noqa: PLC0415 - asyncssh only for SSH targets

        target = SshTarget(
            host=str(spec["host"]),
            user=str(spec["user"]),
            port=int(spec.get("port") or 22),
            password=access.password,
            key_files=list(access.key_files or spec.get("key_files") or []),
            sudo=bool(spec.get("sudo")) or access.sudo,
            sudo_password=access.sudo_password,
            known_hosts=access.known_hosts,
        )
        return SshCollector(target)
    raise ValidationError(t("baseline.harden.cannot_reopen", kind=str(kind)))


@dataclass
class RollbackOutcome:
    """What a rollback restored and the rules' state afterwards."""

    run_id: int
    restored: list[str]
    problems: list[str]
    after: ProfileReport | None
    #: why there is no re-check (the profile could not be loaded any more)
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        """``baseline rollback --json`` shape."""
        return {
            "run_id": self.run_id,
            "restored": self.restored,
            "problems": self.problems,
            "note": self.note,
            "score_after": profile_score(self.after) if self.after else None,
            "results": [r.as_json() for r in self.after.results] if self.after else [],
        }


def rollback(engine: Engine, run_id: int, access: Access, *, actor: str) -> RollbackOutcome:
    """Restore every file a hardening run changed, run its rollback commands, re-check."""
    with session_scope(engine) as session:
        run = session.get(HardeningRun, run_id)
        if run is None:
            raise NotFoundError(t("baseline.harden.no_run", run_id=run_id))
        if run.status not in {"applied"}:
            raise ValidationError(
                t("baseline.harden.not_applied", run_id=run_id, status=run.status)
            )
        spec = dict(run.target_spec)
        files = [Backup.from_json(b) for b in (run.backups or {}).get("files", [])]
        applied = list((run.backups or {}).get("applied", []))
        commands = {str(p["rule_id"]): list(p.get("rollback_commands") or []) for p in run.plan}
        folder = Path(run.backup_dir or backup_root() / str(run_id))
        source, rules = str(spec.get("profile_source") or run.profile), list(run.rules)
    host = _reopen(spec, access)

    async def work() -> tuple[list[str], ProfileReport | None, str | None]:
        try:
            if host is not None:
                await host.connect()
            problems = await _restore(
                host, files, folder, None, applied, rollback_commands=commands
            )
            for backup in files:
                host.forget(backup.path)
            try:
                # the re-check is a courtesy: a rule file changed since must not block a restore
                profile = get_profile(source)
            except ValidationError as exc:
                return problems, None, exc.message
            chosen = [r for r in profile.rules if r.id in set(rules)]
            return problems, await run_profile(profile, Context(host=host), chosen), None
        finally:
            await host.close()

    problems, after, note = asyncio.run(work())
    with session_scope(engine) as session:
        run = session.get(HardeningRun, run_id)
        assert run is not None
        run.status = "rolled-back" if not problems else "rollback-incomplete"
        run.rolled_back_at = datetime.now(UTC)
        run.message = "；".join(problems) or run.message
    return RollbackOutcome(run_id, [b.path for b in files], problems, after, note)


def list_runs(session: Session, engagement_ref: str | None = None) -> list[HardeningRun]:
    """Hardening runs, newest first (optionally of one engagement)."""
    query = select(HardeningRun).order_by(HardeningRun.id.desc())
    if engagement_ref:
        engagement = resolve_engagement(session, engagement_ref)
        query = query.where(HardeningRun.engagement_id == engagement.id)
    return list(session.scalars(query))
