"""Severity levels 严重/高/中/低/信息 and their mapping from scores and tool vocabularies."""

from __future__ import annotations

from enum import StrEnum

from shaobing.core.i18n import t


class Severity(StrEnum):
    """The five severity levels of a finding (D1)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """4 for critical down to 0 for info (for sorting and comparisons)."""
        return _RANK[self]

    @property
    def label(self) -> str:
        """The Chinese label (严重/高/中/低/信息)."""
        return t(f"findings.severity.{self.value}")


_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


def severity_from_score(score: float) -> Severity:
    """Map a CVSS base score to a level with the CVSS v3.1/v4.0 qualitative rating scale
    (FIRST CVSS v3.1 specification §5: 0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high,
    9.0–10.0 critical; 0.0 none, shown here as 信息)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.INFO


# Words scanners use for their levels, lower-cased (English and Chinese).
_WORDS = {
    "critical": Severity.CRITICAL,
    "严重": Severity.CRITICAL,
    "紧急": Severity.CRITICAL,
    "urgent": Severity.CRITICAL,
    "serious": Severity.CRITICAL,
    "超危": Severity.CRITICAL,
    "high": Severity.HIGH,
    "高": Severity.HIGH,
    "高危": Severity.HIGH,
    "error": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "中": Severity.MEDIUM,
    "中危": Severity.MEDIUM,
    "warning": Severity.MEDIUM,
    "low": Severity.LOW,
    "低": Severity.LOW,
    "低危": Severity.LOW,
    "minor": Severity.LOW,
    "note": Severity.LOW,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "information": Severity.INFO,
    "信息": Severity.INFO,
    "提示": Severity.INFO,
    "none": Severity.INFO,
    "log": Severity.INFO,
    "unknown": Severity.INFO,
    "debug": Severity.INFO,
}


def parse_severity(text: str | None, default: Severity = Severity.INFO) -> Severity:
    """Map a tool's severity word (or a numeric CVSS-like score) to a Severity."""
    if text is None:
        return default
    cleaned = str(text).strip().lower()
    if cleaned in _WORDS:
        return _WORDS[cleaned]
    try:
        return severity_from_score(float(cleaned))
    except ValueError:
        return default
