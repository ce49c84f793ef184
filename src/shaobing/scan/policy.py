"""Scan policies (A3): which ports, which checks, how hard — as data.

Built-in policies live in ``policies/builtin.yaml``; ``$SHAOBING_HOME/policies/*.yaml``
adds policies or replaces built-in ones of the same name. A policy allows safety classes,
never single dangerous checks, so a reviewer can tell from the policy name what a scan may
do to the client's systems.
"""

from __future__ import annotations

import fnmatch
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shaobing.core.errors import ValidationError as UserError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.findings.severity import Severity
from shaobing.scan.checks import Safety
from shaobing.scan.ports import parse_ports

# Policy files are small; anything larger is a mistake (or an attack on the YAML parser).
_MAX_FILE_BYTES = 256 * 1024
DEFAULT_POLICY = "default"


class Policy(BaseModel):
    """One scan policy. Numbers are organisation-defined defaults (see builtin.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    title: str
    description: str = ""
    safety: tuple[Safety, ...] = (Safety.PASSIVE,)
    discovery: str = "auto"
    ports: str = "top1000"
    udp_ports: tuple[int, ...] = ()
    identify: bool = True
    checks: tuple[str, ...] = ("*",)
    exclude_checks: tuple[str, ...] = ()
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    timeout: float = Field(default=1.5, gt=0, le=120)
    retries: int = Field(default=1, ge=0, le=5)
    rate: int = Field(default=0, ge=0)
    concurrency: int = Field(default=32, ge=1, le=1024)
    per_host: int = Field(default=8, ge=1, le=256)
    zone: str | None = None
    min_severity: Severity | None = None

    @field_validator("ports")
    @classmethod
    def _valid_ports(cls, value: str) -> str:
        parse_ports(value)
        return value

    @field_validator("discovery")
    @classmethod
    def _valid_discovery(cls, value: str) -> str:
        if value not in {"auto", "tcp", "icmp", "none"}:
            raise ValueError(f"discovery must be auto, tcp, icmp or none, not {value}")
        return value

    @field_validator("udp_ports")
    @classmethod
    def _valid_udp(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for port in value:
            if not 1 <= port <= 65535:
                raise ValueError(f"UDP port {port} out of range")
        return value

    def allows(self, check_id: str, safety: Safety) -> bool:
        """Whether a check of this id and safety class runs under the policy."""
        if safety not in self.safety:
            return False
        if not any(fnmatch.fnmatchcase(check_id, p) for p in self.checks):
            return False
        return not any(fnmatch.fnmatchcase(check_id, p) for p in self.exclude_checks)

    def keeps(self, severity: Severity) -> bool:
        """Whether a finding of this severity is kept (``min_severity``)."""
        return self.min_severity is None or severity.rank >= self.min_severity.rank

    def options_for(self, check_id: str) -> dict[str, Any]:
        """Options for a check: every matching pattern's options, more specific ones last."""
        merged: dict[str, Any] = {}
        for pattern in sorted(self.options, key=lambda p: (p.count("*"), -len(p)), reverse=True):
            if fnmatch.fnmatchcase(check_id, pattern):
                merged.update(self.options[pattern])
        return merged


def _parse(text: str, source: str) -> dict[str, Policy]:
    if len(text.encode("utf-8")) > _MAX_FILE_BYTES:
        raise UserError(t("scan.policy_file_too_big", source=source))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = str(exc).splitlines()[0]
        raise UserError(t("scan.policy_yaml", source=source, detail=detail)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(t("scan.policy_shape", source=source))
    out: dict[str, Policy] = {}
    for name, body in data.items():
        if not isinstance(body, dict):
            raise UserError(t("scan.policy_invalid", source=source, name=name, detail="mapping"))
        try:
            out[str(name)] = Policy.model_validate({**body, "name": str(name)})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UserError(
                t(
                    "scan.policy_invalid",
                    source=source,
                    name=name,
                    detail=f"{where}: {first['msg']}",
                )
            ) from None
    return out


@cache
def _builtin() -> dict[str, Policy]:
    text = resources.files("shaobing.scan.policies").joinpath("builtin.yaml").read_text("utf-8")
    return _parse(text, "builtin.yaml")


def load_policies(directory: Path | None = None) -> dict[str, Policy]:
    """Built-in policies overlaid with the user's (``<home>/policies/*.yaml``)."""
    policies = dict(_builtin())
    folder = directory or get_settings().home / "policies"
    if folder.is_dir():
        for path in sorted(folder.glob("*.yaml")):
            policies.update(_parse(path.read_text(encoding="utf-8", errors="replace"), str(path)))
    return policies


def get_policy(name: str | None) -> Policy:
    """The named policy (``default`` when None); a clear error lists the known names."""
    policies = load_policies()
    chosen = name or DEFAULT_POLICY
    if chosen not in policies:
        raise UserError(t("scan.policy_unknown", name=chosen, known=", ".join(sorted(policies))))
    return policies[chosen]
