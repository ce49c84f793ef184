"""Who may do what: the role → action matrix (``permissions.yaml``) and the tenant rule.

Every operation of the service layer, the web console and the API is one action of the
matrix; :func:`authorize` is the single gate. A client role acts only on its own client:
a request naming another client, or none (meaning "every client"), is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Protocol

from pydantic import BaseModel, ConfigDict, model_validator

from shaobing.auth.models import Role
from shaobing.core.datafile import parse_yaml
from shaobing.core.errors import ShaobingError
from shaobing.core.i18n import t


class PermissionDenied(ShaobingError):
    """The user may not do this action (on this client); the message is one line."""


class Scope(StrEnum):
    """Whether an action concerns one client's data or the platform as a whole."""

    TENANT = "tenant"
    GLOBAL = "global"


class Kind(StrEnum):
    """Staff of the vendor, or people of one client."""

    STAFF = "staff"
    CLIENT = "client"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionSpec(_Strict):
    """One action: its scope and what it means."""

    scope: Scope
    description: str


class RoleSpec(_Strict):
    """One role: staff or client, and the actions it is allowed."""

    kind: Kind
    allow: tuple[str, ...]


class Matrix(_Strict):
    """The whole matrix, checked for consistency when loaded."""

    actions: dict[str, ActionSpec]
    roles: dict[str, RoleSpec]

    @model_validator(mode="after")
    def _consistent(self) -> Matrix:
        expected = {role.value for role in Role}
        if set(self.roles) != expected:
            raise ValueError(f"roles must be exactly {sorted(expected)}, got {sorted(self.roles)}")
        for name, role in self.roles.items():
            if len(set(role.allow)) != len(role.allow):
                raise ValueError(f"role {name} lists an action twice")
            for action in role.allow:
                spec = self.actions.get(action)
                if spec is None:
                    raise ValueError(f"role {name} allows unknown action {action}")
                # A client role with a platform-wide action would reach other tenants' data.
                if role.kind is Kind.CLIENT and spec.scope is Scope.GLOBAL:
                    raise ValueError(f"client role {name} cannot have global action {action}")
        return self


def parse_matrix(text: str, source: str = "permissions.yaml") -> Matrix:
    """Parse and check a permissions file (safe YAML, size-capped, one-line errors)."""
    return parse_yaml(source, text, Matrix, label=t("auth.permissions_label"))


@cache
def matrix() -> Matrix:
    """The packaged permission matrix."""
    text = resources.files("shaobing.auth").joinpath("permissions.yaml").read_text(encoding="utf-8")
    return parse_matrix(text)


class Principal(Protocol):
    """What authorisation needs to know about a user (the ORM User fits)."""

    @property
    def username(self) -> str:
        """Login name."""
        ...

    @property
    def role(self) -> str:
        """One of :class:`Role`."""
        ...

    @property
    def client_id(self) -> int | None:
        """The user's client (client roles) or None (staff)."""
        ...

    @property
    def active(self) -> bool:
        """False once the account is disabled."""
        ...


@dataclass(frozen=True)
class Actor:
    """A principal built from plain values (API tokens, tests, the web session cache)."""

    username: str
    role: str
    client_id: int | None = None
    active: bool = True


def role_kind(role: str) -> Kind | None:
    """Whether ``role`` is a staff or a client role; None for an unknown role."""
    spec = matrix().roles.get(role)
    return spec.kind if spec else None


def allowed_actions(role: str) -> frozenset[str]:
    """The actions ``role`` may do (empty for an unknown role)."""
    spec = matrix().roles.get(role)
    return frozenset(spec.allow) if spec else frozenset()


def authorize(user: Principal, action: str, *, client_id: int | None = None) -> None:
    """Refuse (PermissionDenied, one line) unless ``user`` may do ``action`` on ``client_id``.

    ``client_id`` is the client whose data the action touches; None means "all clients" (a
    list across tenants) or, for global actions, no client. Unknown actions are refused
    rather than allowed, so a typo in a caller fails closed.
    """
    spec = matrix().actions.get(action)
    if spec is None:
        raise PermissionDenied(t("auth.denied.unknown_action", action=action))
    if not user.active:
        raise PermissionDenied(t("auth.denied.inactive", user=user.username))
    role = matrix().roles.get(user.role)
    if role is None or action not in role.allow:
        raise PermissionDenied(
            t("auth.denied.role", user=user.username, role=user.role, action=action)
        )
    if role.kind is Kind.STAFF:
        return
    # Client roles: a tenant action on exactly their own client, nothing else.
    if user.client_id is None:
        raise PermissionDenied(t("auth.denied.no_client", user=user.username))
    if client_id is None:
        raise PermissionDenied(t("auth.denied.all_clients", user=user.username, action=action))
    if client_id != user.client_id:
        raise PermissionDenied(
            t("auth.denied.tenant", user=user.username, action=action, client=client_id)
        )


def tenant_filter(user: Principal) -> int | None:
    """The client a user's queries must be restricted to: its own for client roles, None
    (no restriction) for staff. Unknown roles get no data at all."""
    kind = role_kind(user.role)
    if kind is Kind.STAFF:
        return None
    if kind is Kind.CLIENT and user.client_id is not None:
        return user.client_id
    raise PermissionDenied(t("auth.denied.no_client", user=user.username))


def is_allowed(user: Principal, action: str, *, client_id: int | None = None) -> bool:
    """Whether :func:`authorize` would let the call through (for showing or hiding UI)."""
    try:
        authorize(user, action, client_id=client_id)
    except PermissionDenied:
        return False
    return True
