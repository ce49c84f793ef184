"""The one entry point every active component calls before sending anything (A3).

It builds the engagement's :class:`~shaobing.core.scope.Scope`, evaluates the target, and
writes every refusal to the audit log in its own transaction, so the record survives even
when the caller's work is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine

from shaobing.core.audit import record_event_now
from shaobing.core.scope import Scope, ScopeDecision, ScopeRefused, evaluate
from shaobing.engagements.models import Engagement


def scope_of(engagement: Engagement) -> Scope:
    """The evaluable scope (entries, windows, period, time zone) of an engagement."""
    return Scope.from_strings(
        includes=[e.value for e in engagement.scope_entries if e.mode == "include"],
        excludes=[e.value for e in engagement.scope_entries if e.mode == "exclude"],
        windows=[w.spec for w in engagement.windows],
        start=engagement.start_date,
        end=engagement.end_date,
        timezone=engagement.timezone,
    )


def check_target(
    engagement: Engagement,
    target: str,
    *,
    port: int | None = None,
    now: datetime | None = None,
    resolver: Callable[[str], Sequence[str]] | None = None,
    actor: str = "system",
    operation: str = "scope.check",
    engine: Engine | None = None,
    scope: Scope | None = None,
) -> ScopeDecision:
    """Evaluate ``target`` against the engagement; refusals are written to the audit log."""
    decision = evaluate(
        scope or scope_of(engagement), target, port=port, now=now, resolver=resolver
    )
    if not decision.allowed:
        record_event_now(
            engine,
            "scope.refused",
            actor=actor,
            outcome="refused",
            client_id=engagement.client_id,
            engagement_id=engagement.id,
            target=target if port is None else f"{target}:{port}",
            detail={
                "operation": operation,
                "reason": decision.reason,
                "matched": decision.matched,
                "message": decision.message,
            },
        )
    return decision


def guard(
    engagement: Engagement,
    target: str,
    *,
    port: int | None = None,
    now: datetime | None = None,
    resolver: Callable[[str], Sequence[str]] | None = None,
    actor: str = "system",
    operation: str = "scope.check",
    engine: Engine | None = None,
    scope: Scope | None = None,
) -> ScopeDecision:
    """Like :func:`check_target` but raises :class:`ScopeRefused` when not allowed."""
    decision = check_target(
        engagement,
        target,
        port=port,
        now=now,
        resolver=resolver,
        actor=actor,
        operation=operation,
        engine=engine,
        scope=scope,
    )
    if not decision.allowed:
        raise ScopeRefused(decision)
    return decision
