"""Stable de-duplication fingerprints of findings, configured by fingerprints.yaml."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

# Fields that may take part in a fingerprint (columns of the finding).
FINGERPRINT_FIELDS = (
    "source_tool",
    "check_id",
    "host",
    "port",
    "protocol",
    "url",
    "parameter",
    "file_path",
    "line",
)
DEFAULT_FINGERPRINT_FIELDS = FINGERPRINT_FIELDS


class FingerprintRule(BaseModel):
    """Which fields identify a finding, and whether a tool's own id is trusted."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fields: tuple[str, ...] = DEFAULT_FINGERPRINT_FIELDS
    use_tool_unique_id: bool = True

    @field_validator("fields")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in value if f not in FINGERPRINT_FIELDS]
        if unknown or not value:
            raise ValueError(f"unknown fingerprint fields {unknown}; use {FINGERPRINT_FIELDS}")
        return value


class FingerprintConfig(BaseModel):
    """The default rule and per-tool overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    default: FingerprintRule = FingerprintRule()
    tools: dict[str, FingerprintRule] = {}

    def rule_for(self, tool: str) -> FingerprintRule:
        """The rule that applies to one source tool."""
        return self.tools.get(tool.lower(), self.default)


@cache
def load_config(override: Path | None = None) -> FingerprintConfig:
    """The packaged configuration, or ``override`` (a user file) when it exists."""
    if override is not None and override.is_file():
        text = override.read_text(encoding="utf-8")
    else:
        text = resources.files("shaobing.findings").joinpath("fingerprints.yaml").read_text("utf-8")
    return FingerprintConfig.model_validate(yaml.safe_load(text) or {})


def _normalise(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip().lower()
    return str(value)


def finding_fingerprint(
    values: Mapping[str, object], fields: tuple[str, ...] = DEFAULT_FINGERPRINT_FIELDS
) -> str:
    """SHA-256 over the normalised identifying fields of a finding (hex, 64 chars).

    The canonical form is ``name=value`` pairs joined by the ASCII unit separator: much
    cheaper to build than JSON, and unambiguous for the values scanners report (a value
    would have to contain the separator itself to collide).
    """
    canonical = "\x1f".join(f"{name}={_normalise(values.get(name))}" for name in fields)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fingerprint_with(values: Mapping[str, object], rule: FingerprintRule) -> str:
    """The fingerprint under ``rule``: the tool's own stable id when allowed, else the fields."""
    unique = values.get("tool_unique_id")
    if rule.use_tool_unique_id and unique:
        # Scoped by check: some tool ids (SARIF primaryLocationLineHash) hash only the
        # source line, so two rules firing on one line share them.
        canonical = "\x1f".join(
            (
                "uid",
                _normalise(values.get("source_tool")),
                _normalise(values.get("check_id")),
                str(unique),
            )
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return finding_fingerprint(values, rule.fields)
