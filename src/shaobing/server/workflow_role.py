"""Which role of the findings state machine a platform role acts as."""

from __future__ import annotations

from shaobing.auth.models import Role as PlatformRole
from shaobing.auth.permissions import PermissionDenied
from shaobing.core.i18n import t
from shaobing.findings.workflow import Role

_MAP = {
    PlatformRole.ADMIN.value: Role.ADMIN,
    PlatformRole.ENGINEER.value: Role.ENGINEER,
    PlatformRole.CLIENT_OWNER.value: Role.CLIENT_OWNER,
}


def workflow_role(platform_role: str) -> Role:
    """The state-machine role; read-only roles never reach a transition (permission matrix)."""
    role = _MAP.get(platform_role)
    if role is None:
        raise PermissionDenied(t("server.workflow_role", role=platform_role))
    return role
