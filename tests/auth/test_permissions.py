"""The role × action × tenant matrix: every action for every role, own and other client."""

from __future__ import annotations

import itertools
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.auth.models import Role
from shaobing.auth.permissions import (
    Actor,
    Kind,
    PermissionDenied,
    Scope,
    allowed_actions,
    authorize,
    is_allowed,
    matrix,
    parse_matrix,
    tenant_filter,
)
from shaobing.core.errors import ValidationError

OWN, OTHER = 7, 8
STAFF = {Role.ADMIN, Role.ENGINEER, Role.AUDITOR}
CLIENT = {Role.CLIENT_VIEWER, Role.CLIENT_OWNER}
ACTIONS = sorted(matrix().actions)


def _user(role: Role, *, active: bool = True) -> Actor:
    return Actor(f"u-{role.value}", role.value, OWN if role in CLIENT else None, active)


CASES = list(itertools.product(sorted(Role), ACTIONS, ["own", "other", "all"]))


@pytest.mark.parametrize(("role", "action", "target"), CASES)
def test_matrix_and_tenant_rule(role: Role, action: str, target: str) -> None:
    """Staff: the role's list decides. Client roles: the list AND exactly their own client."""
    user = _user(role)
    client_id = {"own": OWN, "other": OTHER, "all": None}[target]
    granted = action in matrix().roles[role.value].allow
    expected = granted and (role in STAFF or target == "own")
    if expected:
        authorize(user, action, client_id=client_id)
        return
    with pytest.raises(PermissionDenied) as info:
        authorize(user, action, client_id=client_id)
    message = info.value.message
    assert message.startswith("权限不足：") and "\n" not in message
    assert user.username in message
    if granted and target == "other":
        assert str(OTHER) in message and "仅限本客户" in message


def test_the_matrix_covers_every_role_and_is_not_empty() -> None:
    assert {r.value for r in Role} == set(matrix().roles)
    assert len(CASES) == 5 * len(ACTIONS) * 3
    for role in Role:
        assert allowed_actions(role.value), role


@pytest.mark.parametrize(
    "action",
    ["engagement.purge", "user.manage", "user.read", "audit.read", "audit.verify", "scan.launch"],
)
def test_client_roles_never_get_sensitive_actions(action: str) -> None:
    for role in CLIENT:
        assert not is_allowed(_user(role), action, client_id=OWN), (role, action)


def test_separation_of_duties() -> None:
    """Only admin purges and manages users; the auditor changes nothing; the engineer does
    not read the audit log."""
    for action in ("engagement.purge", "user.manage"):
        assert {r for r in Role if action in allowed_actions(r.value)} == {Role.ADMIN}
    writes = {a for a in ACTIONS if not a.endswith((".read", ".verify", ".download", ".check"))}
    assert not (allowed_actions("auditor") & writes)
    assert "audit.read" not in allowed_actions("engineer")
    assert allowed_actions("client_viewer") < allowed_actions("client_owner")


def test_client_roles_hold_only_tenant_actions() -> None:
    for role in CLIENT:
        for action in allowed_actions(role.value):
            assert matrix().actions[action].scope is Scope.TENANT


def test_unknown_action_and_role_fail_closed() -> None:
    with pytest.raises(PermissionDenied, match=r"未定义的操作 engagement\.reed"):
        authorize(_user(Role.ADMIN), "engagement.reed")
    with pytest.raises(PermissionDenied, match="角色 root"):
        authorize(Actor("x", "root"), "engagement.read")
    with pytest.raises(PermissionDenied):
        tenant_filter(Actor("x", "root"))


def test_disabled_user_is_refused_everything() -> None:
    for role in Role:
        with pytest.raises(PermissionDenied, match="已停用"):
            authorize(_user(role, active=False), "engagement.read", client_id=OWN)


def test_client_role_without_client_is_refused() -> None:
    with pytest.raises(PermissionDenied, match="未关联客户"):
        authorize(Actor("x", "client_viewer", None), "engagement.read", client_id=OWN)
    with pytest.raises(PermissionDenied, match="未关联客户"):
        tenant_filter(Actor("x", "client_owner", None))


def test_tenant_filter() -> None:
    assert tenant_filter(_user(Role.CLIENT_VIEWER)) == OWN
    assert tenant_filter(_user(Role.AUDITOR)) is None
    assert tenant_filter(_user(Role.ADMIN)) is None


@settings(max_examples=300, deadline=None)
@given(
    role=st.sampled_from(sorted(CLIENT)),
    action=st.sampled_from(ACTIONS),
    own=st.integers(1, 10**9),
    target=st.one_of(st.none(), st.integers(-(10**9), 10**9)),
)
def test_client_role_never_reaches_another_client(
    role: Role, action: str, own: int, target: int | None
) -> None:
    user = Actor("c", role.value, own)
    if is_allowed(user, action, client_id=target):
        assert target == own


_PACKAGED = resources.files("shaobing.auth").joinpath("permissions.yaml").read_text("utf-8")


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (("      - report.download\n", "      - user.manage\n"), "cannot have global action"),
        (("      - client.write\n", "      - client.wrote\n"), "unknown action client.wrote"),
        (("  auditor:\n", "  auditors:\n"), "roles must be exactly"),
        (("    kind: client\n", "    kind: customer\n"), "kind"),
        (("{scope: global, description", "{scope: world, description"), "scope"),
    ],
)
def test_inconsistent_matrix_is_refused(edit: tuple[str, str], fragment: str) -> None:
    old, new = edit
    assert old in _PACKAGED
    # Replace the last occurrence: the client roles come last in the file.
    head, _, tail = _PACKAGED.rpartition(old)
    with pytest.raises(ValidationError) as info:
        parse_matrix(head + new + tail)
    assert fragment in info.value.message
    assert "\n" not in info.value.message


def test_matrix_file_refuses_aliases() -> None:
    text = "actions: &a {}\nroles: *a\n"
    with pytest.raises(ValidationError, match="anchors and aliases"):
        parse_matrix(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_matrix_parser_never_crashes(text: str) -> None:
    try:
        parse_matrix(text)
    except ValidationError as exc:
        message = exc.message
    else:
        return
    assert "\n" not in message


def test_kinds_of_the_packaged_roles() -> None:
    assert {r for r in Role if matrix().roles[r.value].kind is Kind.CLIENT} == CLIENT
