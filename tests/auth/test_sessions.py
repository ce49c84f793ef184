"""Server-side sessions: hashed tokens, idle and absolute expiry, revocation."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text

from shaobing.auth import service
from shaobing.auth.models import UserSession
from shaobing.auth.policy import AuthContext
from shaobing.auth.sessions import (
    SessionInvalid,
    hash_token,
    open_sessions,
    purge_stale_sessions,
    revoke_session,
    validate_session,
)
from shaobing.core.db import session_scope
from tests.auth.conftest import GOOD_PASSWORD, Clock


def _setup(engine: Engine, ctx: AuthContext) -> str:
    with session_scope(engine) as db:
        service.create_user(
            db, "alice", role="engineer", password=GOOD_PASSWORD, actor="cli:root", ctx=ctx
        )
    return _login(engine, ctx)


def _login(engine: Engine, ctx: AuthContext) -> str:
    with session_scope(engine) as db:
        outcome = service.login(db, "alice", GOOD_PASSWORD, ctx=ctx)
        assert outcome.ok and outcome.session is not None
        return outcome.session.token


def _check(engine: Engine, ctx: AuthContext, token: str) -> str:
    with session_scope(engine) as db:
        return validate_session(db, token, ctx=ctx).username


def _refused(engine: Engine, ctx: AuthContext, token: str) -> str:
    with pytest.raises(SessionInvalid) as info:
        _check(engine, ctx, token)
    assert "\n" not in info.value.message and "请重新登录" in info.value.message
    return info.value.reason


def test_token_is_random_and_stored_hashed(engine: Engine, ctx: AuthContext) -> None:
    token = _setup(engine, ctx)
    second = _login(engine, ctx)
    assert token != second and len(token) >= 43  # 32 bytes, URL-safe base64
    with engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT token_hash FROM user_sessions"))]
    assert sorted(stored) == sorted([hash_token(token), hash_token(second)])
    assert token not in stored and second not in stored
    assert _check(engine, ctx, token) == "alice"


def test_unknown_token_refused(engine: Engine, ctx: AuthContext) -> None:
    _setup(engine, ctx)
    assert _refused(engine, ctx, "not-a-token") == "unknown"


def test_idle_timeout_and_activity(engine: Engine, ctx: AuthContext, clock: Clock) -> None:
    token = _setup(engine, ctx)
    clock.advance(minutes=29)
    assert _check(engine, ctx, token) == "alice"  # activity refreshes the idle timer
    clock.advance(minutes=29)
    assert _check(engine, ctx, token) == "alice"
    clock.advance(minutes=30)
    assert _refused(engine, ctx, token) == "idle"


def test_absolute_timeout_despite_activity(engine: Engine, ctx: AuthContext, clock: Clock) -> None:
    token = _setup(engine, ctx)
    for _ in range(23):
        clock.advance(minutes=30, seconds=-1)
        _check(engine, ctx, token)
    clock.advance(minutes=30, seconds=-1)  # 12 h minus 24 s: still inside
    assert _check(engine, ctx, token) == "alice"
    clock.advance(seconds=24)
    assert _refused(engine, ctx, token) == "absolute"


def test_logout_revokes_only_that_session(engine: Engine, ctx: AuthContext) -> None:
    token = _setup(engine, ctx)
    other = _login(engine, ctx)
    with session_scope(engine) as db:
        assert revoke_session(db, token, ctx=ctx) is not None
        assert revoke_session(db, token, ctx=ctx) is None
    assert _refused(engine, ctx, token) == "revoked"
    assert _check(engine, ctx, other) == "alice"


@pytest.mark.parametrize("change", ["reset", "change", "lock", "disable", "role", "autolock"])
def test_account_changes_end_every_session(engine: Engine, ctx: AuthContext, change: str) -> None:
    tokens = [_setup(engine, ctx), _login(engine, ctx)]
    with session_scope(engine) as db:
        if change == "reset":
            service.reset_password(db, "alice", "Other#Lamp2047", actor="a", ctx=ctx)
        elif change == "change":
            service.change_password(db, "alice", GOOD_PASSWORD, "Other#Lamp2047", ctx=ctx)
        elif change == "lock":
            service.lock_user(db, "alice", actor="a", ctx=ctx)
        elif change == "disable":
            service.set_active(db, "alice", False, actor="a", ctx=ctx)
        elif change == "role":
            service.set_role(db, "alice", "auditor", actor="a", ctx=ctx)
        else:
            for _ in range(5):
                service.authenticate(db, "alice", "Wrong#Lamp2046", ctx=ctx)
    for token in tokens:
        assert _refused(engine, ctx, token) == "revoked"
    with session_scope(engine, readonly=True) as db:
        user = service.get_user(db, "alice")
        assert open_sessions(db, user.id, ctx=ctx) == []
        reasons = {s.revoked_reason for s in db.scalars(select(UserSession))}
    expected = {
        "reset": "password",
        "change": "password",
        "lock": "locked",
        "disable": "disabled",
        "role": "role",
        "autolock": "locked",
    }[change]
    assert reasons == {expected}


def test_sessions_after_unlock_are_new_ones(engine: Engine, ctx: AuthContext) -> None:
    token = _setup(engine, ctx)
    with session_scope(engine) as db:
        service.lock_user(db, "alice", actor="a", ctx=ctx)
        service.unlock_user(db, "alice", actor="a", ctx=ctx)
    assert _refused(engine, ctx, token) == "revoked"
    assert _check(engine, ctx, _login(engine, ctx)) == "alice"


def test_purge_removes_only_dead_sessions(engine: Engine, ctx: AuthContext, clock: Clock) -> None:
    old = _setup(engine, ctx)
    clock.advance(minutes=31)
    live = _login(engine, ctx)
    ended = _login(engine, ctx)
    with session_scope(engine) as db:
        revoke_session(db, ended, ctx=ctx)
        assert purge_stale_sessions(db, ctx=ctx) == 2
        remaining = [s.token_hash for s in db.scalars(select(UserSession))]
    assert remaining == [hash_token(live)]
    assert _refused(engine, ctx, old) == "unknown"
