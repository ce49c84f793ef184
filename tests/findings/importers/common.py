"""Helpers shared by the importer tests."""

from __future__ import annotations

from shaobing.findings.importers.base import CoverageInput, FindingInput, HostInput, Record


def split(records: list[Record]) -> tuple[list[FindingInput], list[HostInput], CoverageInput]:
    """Findings, hosts and the single trailing coverage record of one parse."""
    findings = [r for r in records if isinstance(r, FindingInput)]
    hosts = [r for r in records if isinstance(r, HostInput)]
    coverage = [r for r in records if isinstance(r, CoverageInput)]
    assert len(coverage) == 1 and records[-1] is coverage[0]
    return findings, hosts, coverage[0]
