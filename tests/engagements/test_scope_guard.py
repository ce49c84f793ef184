"""The database-backed scope guard: engagement scope, refusal audited, exception raised."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select

from shaobing.core.audit import AuditEvent, verify_chain
from shaobing.core.db import session_scope
from shaobing.core.scope import ScopeRefused
from shaobing.engagements.scope_guard import guard
from shaobing.engagements.service import EngagementInput, add_client, create_engagement

NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai, a Monday


def test_guard_allows_refuses_and_audits(engine: Engine) -> None:
    with session_scope(engine) as s:
        client = add_client(s, "某局")
        eng = create_engagement(
            s,
            client,
            EngagementInput(
                name="项目",
                scope=["127.0.0.0/24"],
                exclude=["127.0.0.9"],
                windows=["mon-fri 08:00-20:00"],
                start=date(2026, 1, 1),
                end=date(2026, 12, 31),
            ),
        )
        s.flush()
        s.refresh(eng)
        _ = (eng.scope_entries, eng.windows)  # loaded before the session closes
    decision = guard(eng, "127.0.0.5", port=22, now=NOON, engine=engine, actor="scanner")
    assert decision.allowed and decision.addresses == ("127.0.0.5",)
    with pytest.raises(ScopeRefused) as refused:
        guard(
            eng,
            "127.0.0.9",
            port=22,
            now=NOON,
            engine=engine,
            actor="scanner",
            operation="scan.tcp",
        )
    assert refused.value.decision.reason == "excluded"
    with session_scope(engine, readonly=True) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "scope.refused")).one()
        assert (event.target, event.actor) == ("127.0.0.9:22", "scanner")
        assert '"operation":"scan.tcp"' in event.detail
        assert verify_chain(s).ok
