"""Evaluates rules on a target: applicability, the check tree, and the rule's verdict."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from shaobing.baseline.collectors.base import CollectorUnavailable, has_glob
from shaobing.baseline.masking import mask_observed
from shaobing.baseline.model import (
    AllOf,
    AnyOf,
    Check,
    CommandProbe,
    FileProbe,
    ModeProbe,
    NoneOf,
    NotOf,
    PortProbe,
    Profile,
    Rule,
    SettingProbe,
    SysctlProbe,
    XmlProbe,
)
from shaobing.baseline.probes import PROBES, Context, Outcome
from shaobing.baseline.results import ProfileReport, RuleResult, Status
from shaobing.baseline.system import detect_os
from shaobing.core.i18n import t

# Rules evaluated at the same time on one target (their reads overlap in the caches).
RULE_CONCURRENCY = 16


def _join(parts: list[Outcome]) -> str:
    """Observed texts of several parts, each distinct fragment once."""
    seen: list[str] = []
    for part in parts:
        for fragment in part.observed.split("；"):
            if fragment.strip() and fragment not in seen:
                seen.append(fragment)
    return "；".join(seen)


def _combine_all(parts: list[Outcome]) -> Outcome:
    failed = [p for p in parts if p.status is Status.FAIL]
    errors = [p for p in parts if p.status is Status.ERROR]
    passed = [p for p in parts if p.status is Status.PASS]
    paths = [x for p in parts for x in p.paths]
    if failed:
        return Outcome(Status.FAIL, _join(failed), paths=paths)
    if errors:
        return Outcome(Status.ERROR, _join(errors), paths=paths)
    if not passed:
        return Outcome(Status.NA, _join(parts), paths=paths)
    return Outcome(Status.PASS, _join(passed), paths=paths)


def _combine_any(parts: list[Outcome]) -> Outcome:
    passed = [p for p in parts if p.status is Status.PASS]
    errors = [p for p in parts if p.status is Status.ERROR]
    failed = [p for p in parts if p.status is Status.FAIL]
    paths = [x for p in parts for x in p.paths]
    if passed:
        return Outcome(Status.PASS, passed[0].observed, paths=paths)
    if errors:
        return Outcome(Status.ERROR, _join(errors), paths=paths)
    if not failed:
        return Outcome(Status.NA, _join(parts), paths=paths)
    return Outcome(Status.FAIL, _join(failed), paths=paths)


def _negate(outcome: Outcome) -> Outcome:
    flipped = {Status.PASS: Status.FAIL, Status.FAIL: Status.PASS}.get(
        outcome.status, outcome.status
    )
    return Outcome(flipped, outcome.observed, paths=outcome.paths)


async def evaluate_check(check: Check, ctx: Context) -> Outcome:
    """The outcome of a probe or a combination of them."""
    if isinstance(check, AllOf):
        return _combine_all([await evaluate_check(c, ctx) for c in check.all])
    if isinstance(check, AnyOf):
        return _combine_any([await evaluate_check(c, ctx) for c in check.any])
    if isinstance(check, NoneOf):
        return _negate(_combine_any([await evaluate_check(c, ctx) for c in check.none]))
    if isinstance(check, NotOf):
        return _negate(await evaluate_check(check.not_, ctx))
    runner = PROBES[type(check)]
    try:
        return await runner(check, ctx)
    except CollectorUnavailable as exc:
        return Outcome(Status.ERROR, t("baseline.observed.unavailable", reason=exc.reason))
    except (OSError, ValueError, UnicodeError, RecursionError) as exc:
        return Outcome(Status.ERROR, t("baseline.observed.probe_failed", reason=str(exc)[:300]))


def runs_commands(check: Check) -> bool:
    """Whether a check tree contains a command probe."""
    if isinstance(check, AllOf):
        return any(runs_commands(c) for c in check.all)
    if isinstance(check, AnyOf):
        return any(runs_commands(c) for c in check.any)
    if isinstance(check, NoneOf):
        return any(runs_commands(c) for c in check.none)
    if isinstance(check, NotOf):
        return runs_commands(check.not_)
    return isinstance(check, CommandProbe)


def static_paths(check: Check) -> Iterable[str]:
    """Plain file paths a check reads (for remote prefetch)."""
    if isinstance(check, AllOf):
        for c in check.all:
            yield from static_paths(c)
    elif isinstance(check, AnyOf):
        for c in check.any:
            yield from static_paths(c)
    elif isinstance(check, NoneOf):
        for c in check.none:
            yield from static_paths(c)
    elif isinstance(check, NotOf):
        yield from static_paths(check.not_)
    elif isinstance(check, SysctlProbe):
        yield "/proc/sys/" + check.key.replace(".", "/")
    elif isinstance(check, PortProbe):
        yield from (f"/proc/net/{check.proto}", f"/proc/net/{check.proto}6")
    elif isinstance(check, FileProbe | SettingProbe | ModeProbe | XmlProbe):
        paths = [check.path] if isinstance(check.path, str) else check.path
        yield from (p for p in paths if not has_glob(p))


async def applies(rule: Rule, ctx: Context) -> str | None:
    """None when the rule applies, else the reason it does not (不适用)."""
    wanted = {o.lower() for o in rule.applies.os}
    if wanted:
        if ctx.os is None:
            return t("baseline.na.unknown_os")
        if not wanted & ctx.os.ids():
            return t("baseline.na.os", os=ctx.os.label, wanted="、".join(rule.applies.os))
    if rule.applies.when is not None:
        outcome = await evaluate_check(rule.applies.when, ctx)
        if outcome.status is not Status.PASS:
            return rule.applies.reason or t("baseline.na.condition", observed=outcome.observed)
    return None


async def evaluate_rule(rule: Rule, ctx: Context) -> RuleResult:
    """Evaluate one rule on the context's target."""
    base: dict[str, Any] = {
        "rule_id": rule.id,
        "title": rule.title,
        "expected": rule.expected,
        "severity": rule.severity,
        "references": rule.references.model_dump(exclude_defaults=False),
        "description": rule.description,
        "rationale": rule.rationale,
        "remediation": rule.remediation.text,
    }
    reason = await applies(rule, ctx)
    if reason is not None:
        return RuleResult(status=Status.NA, observed=mask_observed(reason), **base)
    outcome = await evaluate_check(rule.check, ctx)
    return RuleResult(
        status=outcome.status,
        observed=mask_observed(outcome.observed),
        paths=sorted(set(outcome.paths)),
        **base,
    )


async def run_profile(
    profile: Profile, ctx: Context, rules: Iterable[Rule] | None = None
) -> ProfileReport:
    """Evaluate every rule (or the selected ones) of a profile on one target."""
    chosen = list(rules) if rules is not None else list(profile.rules)
    if ctx.host is not None:
        if ctx.os is None:
            ctx.os = await detect_os(ctx.host)
        await ctx.host.prefetch(dict.fromkeys(p for r in chosen for p in static_paths(r.check)))
    gate = asyncio.Semaphore(RULE_CONCURRENCY)

    async def one(rule: Rule) -> RuleResult:
        async with gate:
            return await evaluate_rule(rule, ctx)

    # rules that run commands start first: a slow command (a package manager query) then
    # overlaps the file-only rules instead of starting last and ending the run late
    order = sorted(range(len(chosen)), key=lambda i: not runs_commands(chosen[i].check))
    done = await asyncio.gather(*(one(chosen[i]) for i in order))
    by_index = dict(zip(order, done, strict=True))
    results = [by_index[i] for i in range(len(chosen))]
    target = ctx.host.label if ctx.host is not None else (ctx.db.label if ctx.db else "")
    if ctx.db is not None and ctx.host is not None:
        target = f"{ctx.db.label} ({ctx.host.label})"
    return ProfileReport(
        profile=profile.id,
        target=target,
        results=list(results),
        title=profile.title,
        os=ctx.os.label if ctx.os else None,
    )
