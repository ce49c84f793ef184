"""Registers the retest of baseline findings without importing the baseline engine.

The CLI registers every source's retest at start-up; importing the engine (pydantic rule
models, collectors) for that would slow every command down, so the engine loads on the
first retest of a baseline finding.
"""

from __future__ import annotations

from shaobing.findings.models import Finding
from shaobing.findings.retest import RetestResult, register_retest

SOURCE_TOOL = "shaobing-baseline"


def _retest(finding: Finding) -> RetestResult:
    from shaobing.baseline.retest import retest_baseline  # noqa: PLC0415 - loaded on first use

    return retest_baseline(finding)


def register_baseline_retest() -> None:
    """Register the retest of ``shaobing-baseline`` findings."""
    register_retest(SOURCE_TOOL, _retest)
