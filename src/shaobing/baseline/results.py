"""What a baseline check produces: one result per rule, and the run's score.

The same shapes come out of our own rules and of third-party policies (Wazuh SCA), so the
CLI, findings, hardening and reports treat them alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Outcome of one rule on one target."""

    PASS = "pass"  # noqa: S105 - a status word, not a secret
    FAIL = "fail"
    NA = "na"
    ERROR = "error"


#: the Chinese words shown to users (the issue's 通过/不通过/不适用/错误)
STATUS_LABELS = {
    Status.PASS: "通过",
    Status.FAIL: "不通过",
    Status.NA: "不适用",
    Status.ERROR: "错误",
}


@dataclass
class RuleResult:
    """The verdict of one rule: status, what was found, what was expected, where it maps."""

    rule_id: str
    title: str
    status: Status
    observed: str
    expected: str
    severity: str = "中"
    references: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    rationale: str = ""
    remediation: str = ""
    #: paths the rule read (evidence, and what hardening may touch)
    paths: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The issue's per-rule JSON shape (plus severity and remediation)."""
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "status": self.status.value,
            "observed": self.observed,
            "expected": self.expected,
            "references": self.references,
            "severity": self.severity,
            "remediation": self.remediation,
        }


@dataclass
class ProfileReport:
    """All results of one profile on one target."""

    profile: str
    target: str
    results: list[RuleResult]
    title: str = ""
    os: str | None = None

    def counts(self) -> dict[str, int]:
        """How many rules ended in each status."""
        out = {s.value: 0 for s in Status}
        for result in self.results:
            out[result.status.value] += 1
        return out
