"""Running a Wazuh SCA policy: requirements, checks, and the report.

Rule results are aggregated exactly as the agent does: ``all`` stops at the first rule not
found (failed), ``any`` and ``none`` stop at the first rule found; an invalid rule makes
the check invalid unless a later rule decides it. A check that ends invalid is 不适用,
or 错误 when one of its invalid rules was the policy's fault. When the ``requirements``
are not satisfied the agent skips the policy; we report every check as 不适用 with the
reason. ``observed`` quotes what decided the check (the lines, files, command output or
process), ``expected`` renders the condition and the rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from shaobing.baseline.collectors.base import HostCollector, has_glob
from shaobing.baseline.results import ProfileReport, RuleResult, Status
from shaobing.baseline.wazuh.evaluate import (
    EvalContext,
    Outcome,
    RuleOutcome,
    evaluate_rule,
    invert,
)
from shaobing.baseline.wazuh.policy import Condition, ScaCheck, ScaPolicy
from shaobing.baseline.wazuh.regex import Engine
from shaobing.baseline.wazuh.rules import Rule, RuleType
from shaobing.core.i18n import t

#: Longest ``observed`` text; evidence beyond it is cut.
MAX_OBSERVED = 2000
#: Checks evaluated at the same time (commands are limited separately by the context).
PARALLEL_CHECKS = 8
#: Wazuh checks carry no severity; every result gets the middle one.
DEFAULT_SEVERITY = "中"


@dataclass
class Verdict:
    """A check's aggregated outcome and the rule outcomes that decided it."""

    outcome: Outcome
    deciding: list[RuleOutcome]
    paths: list[str]

    @property
    def error(self) -> bool:
        """Whether the invalid outcome is the policy's fault."""
        return self.outcome is Outcome.INVALID and any(r.error for r in self.deciding)


async def evaluate_rules(
    ctx: EvalContext, rules: Sequence[Rule], condition: Condition, engine: Engine
) -> Verdict:
    """Aggregate rules under ``condition`` with the agent's short-circuits."""
    result = Outcome.FOUND if condition is Condition.ALL else Outcome.NOT_FOUND
    outcomes: list[RuleOutcome] = []
    decisive: RuleOutcome | None = None
    for rule in rules:
        one = await evaluate_rule(ctx, rule, engine)
        outcomes.append(one)
        if (condition is Condition.ALL and one.outcome is Outcome.NOT_FOUND) or (
            condition is not Condition.ALL and one.outcome is Outcome.FOUND
        ):
            result = one.outcome
            decisive = one
            break
        if one.outcome is Outcome.INVALID:
            result = Outcome.INVALID
    if condition is Condition.NONE:
        result = invert(result)
    paths: list[str] = []
    for one in outcomes:
        paths.extend(p for p in one.paths if p not in paths)
    if decisive is not None:
        deciding = [decisive]
    elif result is Outcome.INVALID:
        deciding = [one for one in outcomes if one.outcome is Outcome.INVALID]
    else:
        deciding = outcomes
    return Verdict(result, deciding, paths)


def _status(verdict: Verdict) -> Status:
    if verdict.outcome is Outcome.FOUND:
        return Status.PASS
    if verdict.outcome is Outcome.NOT_FOUND:
        return Status.FAIL
    return Status.ERROR if verdict.error else Status.NA


def _join(pieces: Sequence[str]) -> str:
    """Evidence pieces, each once, cut at :data:`MAX_OBSERVED` characters."""
    text = "；".join(dict.fromkeys(piece for piece in pieces if piece))
    return text if len(text) <= MAX_OBSERVED else text[:MAX_OBSERVED] + "…"


def render_expected(condition: Condition, rules: Sequence[Rule]) -> str:
    """The condition in words followed by the rules as written."""
    label = t(f"baseline_wazuh.condition.{condition.value}")
    return label + "：" + "；".join(rule.text for rule in rules)


def _references(policy: ScaPolicy, check: ScaCheck) -> dict[str, object]:
    return {
        "wazuh_policy": policy.id,
        "compliance": {key: list(values) for key, values in check.compliance.items()},
        "references": list(check.references),
    }


def _result(policy: ScaPolicy, check: ScaCheck, status: Status, observed: str) -> RuleResult:
    return RuleResult(
        rule_id=str(check.id),
        title=check.title,
        status=status,
        observed=observed,
        expected=render_expected(check.condition, check.rules),
        severity=DEFAULT_SEVERITY,
        references=_references(policy, check),
        description=check.description,
        rationale=check.rationale,
        remediation=check.remediation,
    )


async def _run_check(
    ctx: EvalContext, policy: ScaPolicy, check: ScaCheck, slots: asyncio.Semaphore
) -> RuleResult:
    async with slots:
        try:
            verdict = await evaluate_rules(ctx, check.rules, check.condition, check.engine)
        except Exception as exc:  # noqa: BLE001 - one broken check must not sink the report
            observed = t("baseline_wazuh.eval.internal_error", kind=type(exc).__name__, detail=exc)
            return _result(policy, check, Status.ERROR, observed)
    result = _result(
        policy, check, _status(verdict), _join([e for r in verdict.deciding for e in r.evidence])
    )
    result.paths = verdict.paths
    return result


async def run_policy(
    policy: ScaPolicy,
    collector: HostCollector,
    *,
    allow_commands: bool = True,
    command_timeout: float = 30.0,
) -> ProfileReport:
    """Evaluate a loaded policy on one host; every check yields exactly one result."""
    ctx = EvalContext(
        collector,
        policy.dialect,
        allow_commands=allow_commands,
        command_timeout=command_timeout,
    )
    report = ProfileReport(profile=policy.id, target=collector.label, results=[], title=policy.name)
    await collector.prefetch(_files_read(policy))
    requirements = policy.requirements
    if requirements is not None:
        try:
            verdict = await evaluate_rules(
                ctx, requirements.rules, requirements.condition, requirements.engine
            )
        except Exception as exc:  # noqa: BLE001 - reported on every check instead of a crash
            observed = t("baseline_wazuh.eval.internal_error", kind=type(exc).__name__, detail=exc)
            report.results = [_result(policy, c, Status.ERROR, observed) for c in policy.checks]
            return report
        if verdict.outcome is not Outcome.FOUND:
            evidence = _join([e for r in verdict.deciding for e in r.evidence])
            observed = t(
                "baseline_wazuh.eval.requirements_unmet",
                title=requirements.title or requirements.description,
                evidence=evidence,
            )
            report.results = [_result(policy, c, Status.NA, observed) for c in policy.checks]
            return report
    slots = asyncio.Semaphore(PARALLEL_CHECKS)
    report.results = list(
        await asyncio.gather(*(_run_check(ctx, policy, check, slots) for check in policy.checks))
    )
    return report


def _files_read(policy: ScaPolicy) -> list[str]:
    """Plain file locations of ``f:`` rules, so remote collectors can fetch them in one go."""
    rules = [rule for check in policy.checks for rule in check.rules]
    if policy.requirements is not None:
        rules.extend(policy.requirements.rules)
    paths: dict[str, None] = {}
    for rule in rules:
        if rule.type is RuleType.FILE:
            paths.update((path, None) for path in rule.locations if not has_glob(path))
    return list(paths)
