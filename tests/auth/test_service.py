"""Accounts on a real database: creation rules, passwords, lockout timing, audit entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from shaobing.auth import service
from shaobing.auth.models import PasswordHistory, User
from shaobing.auth.permissions import PermissionDenied, authorize
from shaobing.auth.policy import AuthContext
from shaobing.auth.service import LoginResult
from shaobing.core.audit import AuditEvent, verify_chain
from shaobing.core.db import session_scope
from shaobing.core.errors import ConflictError, NotFoundError, ValidationError
from tests.auth.conftest import GOOD_PASSWORD, Clock, Tenants


def _add(engine: Engine, ctx: AuthContext, name: str = "alice", **kw: Any) -> None:
    kw.setdefault("role", "engineer")
    with session_scope(engine) as db:
        service.create_user(db, name, password=GOOD_PASSWORD, actor="cli:root", ctx=ctx, **kw)


def _login(engine: Engine, ctx: AuthContext, password: str, name: str = "alice"):  # type: ignore[no-untyped-def]
    with session_scope(engine) as db:
        return service.authenticate(db, name, password, ctx=ctx)


def _events(engine: Engine, prefix: str = "") -> list[AuditEvent]:
    with session_scope(engine, readonly=True) as db:
        rows = db.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    return [e for e in rows if e.action.startswith(prefix)]


def _user(engine: Engine, name: str = "alice") -> User:
    with session_scope(engine, readonly=True) as db:
        return service.get_user(db, name)


# ------------------------------------------------------------------------- creation


def test_create_staff_and_client_users(engine: Engine, ctx: AuthContext, tenants: Tenants) -> None:
    _add(engine, ctx, "Ops.Zhang", role="admin", display_name="张工")
    _add(engine, ctx, "bob", role="client_owner", client_id=tenants.own)
    admin = _user(engine, "ops.zhang")
    assert admin.username == "ops.zhang" and admin.display_name == "张工"
    assert admin.client_id is None and admin.active and admin.must_change_password
    assert admin.password_hash.startswith("$argon2id$")
    bob = _user(engine, "BOB")
    assert bob.client_id == tenants.own and bob.role == "client_owner"
    created = _events(engine, "user.create")
    assert [e.target for e in created] == ["ops.zhang", "bob"]
    assert created[1].client_id == tenants.own and created[0].actor == "cli:root"


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"role": "client_viewer"}, ValidationError, "必须指定所属客户"),
        ({"role": "engineer", "client_id": "own"}, ValidationError, "平台内部角色，不能指定客户"),
        ({"role": "root"}, ValidationError, "未知角色：root"),
        ({"role": "client_owner", "client_id": 999999}, NotFoundError, "客户不存在：999999"),
    ],
)
def test_role_and_client_must_fit(
    engine: Engine,
    ctx: AuthContext,
    tenants: Tenants,
    kwargs: dict[str, Any],
    error: type[Exception],
    fragment: str,
) -> None:
    if kwargs.get("client_id") == "own":
        kwargs["client_id"] = tenants.own
    with pytest.raises(error, match=fragment):
        _add(engine, ctx, **kwargs)
    with session_scope(engine, readonly=True) as db:
        assert service.list_users(db) == []


@pytest.mark.parametrize("name", ["a", "-lead", "张三", "a b", "x" * 65, "a/b"])
def test_bad_usernames(engine: Engine, ctx: AuthContext, name: str) -> None:
    with pytest.raises(ValidationError, match="用户名无效"):
        _add(engine, ctx, name)


def test_duplicate_username_case_insensitive(engine: Engine, ctx: AuthContext) -> None:
    _add(engine, ctx, "alice")
    with pytest.raises(ConflictError, match="用户已存在：alice"):
        _add(engine, ctx, "ALICE")


def test_weak_initial_password_refused(engine: Engine, ctx: AuthContext) -> None:
    with session_scope(engine) as db, pytest.raises(ValidationError, match="密码不得包含用户名"):
        service.create_user(
            db, "alice", role="engineer", password="Alice#2046xy", actor="a", ctx=ctx
        )


# ------------------------------------------------------------------------- passwords


def test_history_refuses_the_last_five(engine: Engine, ctx: AuthContext, clock: Clock) -> None:
    _add(engine, ctx)
    passwords = [GOOD_PASSWORD] + [f"Second#Lamp{i:02d}" for i in range(1, 6)]
    for new in passwords[1:]:
        clock.advance(minutes=1)
        with session_scope(engine) as db:
            service.reset_password(db, "alice", new, actor="cli:root", ctx=ctx)
    # The current one and the four before it are refused; the sixth-last is free again.
    for old in passwords[-5:]:
        with session_scope(engine) as db, pytest.raises(ValidationError, match="最近 5 次"):
            service.reset_password(db, "alice", old, actor="cli:root", ctx=ctx)
    with session_scope(engine) as db:
        service.reset_password(db, "alice", passwords[0], actor="cli:root", ctx=ctx)
        count = len(db.scalars(select(PasswordHistory)).all())
    assert count == 5


def test_change_password_needs_the_old_one(engine: Engine, ctx: AuthContext) -> None:
    _add(engine, ctx)
    with session_scope(engine) as db, pytest.raises(ValidationError, match="原密码不正确"):
        service.change_password(db, "alice", "Wrong#Lamp2046", "Fresh#Lamp2047", ctx=ctx)
    with session_scope(engine) as db, pytest.raises(ValidationError, match="最近 5 次"):
        service.change_password(db, "alice", GOOD_PASSWORD, GOOD_PASSWORD, ctx=ctx)
    with session_scope(engine) as db:
        service.change_password(db, "alice", GOOD_PASSWORD, "Fresh#Lamp2047", ctx=ctx)
    assert not _user(engine).must_change_password
    assert _login(engine, ctx, "Fresh#Lamp2047").ok
    assert not _login(engine, ctx, GOOD_PASSWORD).ok


def test_password_set_by_admin_must_be_changed(engine: Engine, ctx: AuthContext) -> None:
    _add(engine, ctx)
    outcome = _login(engine, ctx, GOOD_PASSWORD)
    assert outcome.ok and outcome.must_change_password
    assert outcome.message is not None and "请先修改密码" in outcome.message


def test_password_expires_after_90_days(engine: Engine, ctx: AuthContext, clock: Clock) -> None:
    _add(engine, ctx, must_change_password=False)
    assert not _login(engine, ctx, GOOD_PASSWORD).must_change_password
    clock.advance(days=89, hours=23)
    assert not _login(engine, ctx, GOOD_PASSWORD).must_change_password
    clock.advance(hours=1)
    outcome = _login(engine, ctx, GOOD_PASSWORD)
    assert outcome.ok and outcome.must_change_password
    last = _events(engine, "auth.login")[-1]
    assert '"password_expired":true' in last.detail


def test_login_upgrades_old_hash_parameters(engine: Engine, ctx: AuthContext) -> None:
    from dataclasses import replace

    from shaobing.auth.passwords import Hasher

    _add(engine, ctx)
    stronger = replace(ctx, hasher=Hasher.with_cost(time_cost=2, memory_kib=16, parallelism=1))
    assert _login(engine, stronger, GOOD_PASSWORD).ok
    assert "m=16,t=2,p=1" in _user(engine).password_hash
    assert _login(engine, ctx, GOOD_PASSWORD).ok  # still verifies with the cheaper hasher


# ------------------------------------------------------------------------- lockout


def test_warning_counts_down_then_locks(engine: Engine, ctx: AuthContext, clock: Clock) -> None:
    _add(engine, ctx)
    remaining = []
    for _ in range(4):
        clock.advance(minutes=1)
        outcome = _login(engine, ctx, "Wrong#Lamp2046")
        assert outcome.result is LoginResult.BAD_CREDENTIALS
        assert outcome.message == (
            f"用户名或密码错误；再失败 {outcome.remaining_attempts} 次账号将被锁定 30 分钟"
        )
        remaining.append(outcome.remaining_attempts)
    assert remaining == [4, 3, 2, 1]
    clock.advance(minutes=1)
    outcome = _login(engine, ctx, "Wrong#Lamp2046")
    assert outcome.result is LoginResult.LOCKED_NOW
    assert outcome.message == "连续 5 次登录失败，账号已锁定 30 分钟"
    assert outcome.locked_until == clock.moment + timedelta(minutes=30)
    # Locked: even the right password is refused, and the refusal does not extend the lock.
    clock.advance(minutes=29, seconds=59)
    outcome = _login(engine, ctx, GOOD_PASSWORD)
    assert outcome.result is LoginResult.LOCKED and outcome.message is not None
    assert "账号已锁定，请于" in outcome.message
    clock.advance(seconds=1)
    assert _login(engine, ctx, GOOD_PASSWORD).ok
    assert _user(engine).failed_attempts == 0


def test_failures_outside_the_window_do_not_count(
    engine: Engine, ctx: AuthContext, clock: Clock
) -> None:
    _add(engine, ctx)
    for _ in range(4):
        _login(engine, ctx, "Wrong#Lamp2046")
        clock.advance(minutes=4)
    # First failure at 0 min, fifth at 16 min: only four lie within any 15 minutes.
    outcome = _login(engine, ctx, "Wrong#Lamp2046")
    assert outcome.result is LoginResult.BAD_CREDENTIALS and outcome.remaining_attempts == 1
    clock.advance(minutes=2)  # 18 min: failures at 4, 8, 12, 16, 18 → five within 15 minutes
    assert _login(engine, ctx, "Wrong#Lamp2046").result is LoginResult.LOCKED_NOW


def test_success_resets_the_count(engine: Engine, ctx: AuthContext) -> None:
    _add(engine, ctx)
    for _ in range(4):
        _login(engine, ctx, "Wrong#Lamp2046")
    assert _login(engine, ctx, GOOD_PASSWORD).ok
    assert _login(engine, ctx, "Wrong#Lamp2046").remaining_attempts == 4


def test_lockout_figures_come_from_the_policy(
    engine: Engine, ctx: AuthContext, clock: Clock
) -> None:
    from dataclasses import replace

    from shaobing.auth.policy import load_config

    config = load_config(None)
    strict = replace(
        ctx,
        config=config.model_copy(
            update={
                "lockout": config.lockout.model_copy(update={"max_failures": 2, "lock_minutes": 5})
            }
        ),
    )
    _add(engine, strict)
    assert _login(engine, strict, "Wrong#Lamp2046").remaining_attempts == 1
    outcome = _login(engine, strict, "Wrong#Lamp2046")
    assert outcome.message == "连续 2 次登录失败，账号已锁定 5 分钟"
    clock.advance(minutes=5)
    assert _login(engine, strict, GOOD_PASSWORD).ok


def test_every_failure_lock_and_unlock_is_audited_without_password(
    engine: Engine, ctx: AuthContext, clock: Clock
) -> None:
    _add(engine, ctx)
    wrong = "Wrong#Lamp2046"
    for _ in range(5):
        _login(engine, ctx, wrong)
    _login(engine, ctx, GOOD_PASSWORD)  # refused while locked
    clock.advance(minutes=31)
    _login(engine, ctx, GOOD_PASSWORD)  # lock expired: automatic unlock, then success
    _login(engine, ctx, GOOD_PASSWORD, name="mallory")  # unknown user
    events = _events(engine, "auth.")
    summary = [(e.action, e.outcome) for e in events]
    assert summary == [("auth.login", "failure")] * 5 + [
        ("auth.lock", "success"),
        ("auth.login", "failure"),
        ("auth.unlock", "success"),
        ("auth.login", "success"),
        ("auth.login", "failure"),
    ]
    assert '"remaining":0' in events[4].detail and '"reason":"locked"' in events[6].detail
    assert '"reason":"expired"' in events[7].detail
    assert events[-1].target == "mallory" and '"unknown_user"' in events[-1].detail
    for event in _events(engine):
        blob = f"{event.target} {event.detail} {event.actor}"
        assert wrong not in blob and GOOD_PASSWORD not in blob
    with session_scope(engine) as db:
        assert verify_chain(db).ok


def test_unknown_user_gets_the_same_message(engine: Engine, ctx: AuthContext) -> None:
    _add(engine, ctx)
    unknown = _login(engine, ctx, "Wrong#Lamp2046", name="nobody")
    assert unknown.result is LoginResult.BAD_CREDENTIALS
    assert unknown.message == "用户名或密码错误"


def test_manual_lock_and_unlock(engine: Engine, ctx: AuthContext, clock: Clock) -> None:
    _add(engine, ctx)
    with session_scope(engine) as db:
        service.lock_user(db, "alice", actor="cli:root", ctx=ctx)
    clock.advance(days=30)
    outcome = _login(engine, ctx, GOOD_PASSWORD)
    assert (
        outcome.result is LoginResult.LOCKED
        and outcome.message == "账号已被管理员锁定，请联系管理员"
    )
    with session_scope(engine) as db:
        service.unlock_user(db, "alice", actor="cli:root", ctx=ctx)
    assert _login(engine, ctx, GOOD_PASSWORD).ok
    actions = [e.action for e in _events(engine, "user.")]
    assert actions == ["user.create", "user.lock", "user.unlock"]


def test_admin_unlock_lifts_an_automatic_lock(engine: Engine, ctx: AuthContext) -> None:
    _add(engine, ctx)
    for _ in range(5):
        _login(engine, ctx, "Wrong#Lamp2046")
    assert _login(engine, ctx, GOOD_PASSWORD).result is LoginResult.LOCKED
    with session_scope(engine) as db:
        service.unlock_user(db, "alice", actor="cli:root", ctx=ctx)
    assert _login(engine, ctx, GOOD_PASSWORD).ok
    assert '"failures":5' in _events(engine, "user.unlock")[0].detail


def test_disabled_account(engine: Engine, ctx: AuthContext) -> None:
    _add(engine, ctx)
    with session_scope(engine) as db:
        service.set_active(db, "alice", False, actor="cli:root", ctx=ctx)
    outcome = _login(engine, ctx, GOOD_PASSWORD)
    assert outcome.result is LoginResult.DISABLED and outcome.message == "账号已停用，请联系管理员"
    with pytest.raises(PermissionDenied, match="已停用"):
        authorize(_user(engine), "engagement.read")
    with session_scope(engine) as db:
        service.set_active(db, "alice", True, actor="cli:root", ctx=ctx)
    assert _login(engine, ctx, GOOD_PASSWORD).ok


def test_role_change_moves_between_staff_and_client(
    engine: Engine, ctx: AuthContext, tenants: Tenants
) -> None:
    _add(engine, ctx)
    with session_scope(engine) as db, pytest.raises(ValidationError, match="必须指定所属客户"):
        service.set_role(db, "alice", "client_viewer", actor="a", ctx=ctx)
    with session_scope(engine) as db:
        service.set_role(db, "alice", "client_viewer", client_id=tenants.own, actor="a", ctx=ctx)
    user = _user(engine)
    assert (user.role, user.client_id) == ("client_viewer", tenants.own)
    authorize(user, "findings.read", client_id=tenants.own)
    with pytest.raises(PermissionDenied):
        authorize(user, "findings.read", client_id=tenants.other)
    with session_scope(engine) as db:
        service.set_role(db, "alice", "client_owner", actor="a", ctx=ctx)  # keeps its client
        service.set_role(db, "alice", "auditor", actor="a", ctx=ctx)  # staff: client dropped
    user = _user(engine)
    assert (user.role, user.client_id) == ("auditor", None)
    assert len(_events(engine, "user.role")) == 3


def test_deleting_a_client_removes_its_users(
    engine: Engine, ctx: AuthContext, tenants: Tenants
) -> None:
    from shaobing.engagements.models import Client

    _add(engine, ctx, "bob", role="client_viewer", client_id=tenants.own)
    with session_scope(engine) as db:
        db.delete(db.get(Client, tenants.own))
    with session_scope(engine, readonly=True) as db:
        assert service.list_users(db) == []


def test_oversized_password_input_is_a_counted_failure(engine: Engine, ctx: AuthContext) -> None:
    _add(engine, ctx)
    outcome = _login(engine, ctx, GOOD_PASSWORD + "x" * 2000)
    assert outcome.result is LoginResult.BAD_CREDENTIALS and outcome.remaining_attempts == 4
    unknown = _login(engine, ctx, "x" * 100_000, name="nobody")
    assert unknown.message == "用户名或密码错误"
