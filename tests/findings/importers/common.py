"""Helpers shared by the importer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
    HostInput,
    Importer,
    ImportFormatError,
    Record,
)


def split(records: list[Record]) -> tuple[list[FindingInput], list[HostInput], CoverageInput]:
    """Findings, hosts and the single trailing coverage record of one parse."""
    findings = [r for r in records if isinstance(r, FindingInput)]
    hosts = [r for r in records if isinstance(r, HostInput)]
    coverage = [r for r in records if isinstance(r, CoverageInput)]
    assert len(coverage) == 1 and records[-1] is coverage[0]
    return findings, hosts, coverage[0]


def parse_web(importer: Importer, path: Path) -> tuple[list[FindingInput], list[CoverageInput]]:
    """Findings and coverage of a web-scanner file (these importers yield no hosts)."""
    records: list[Record] = list(importer.parse(path))
    findings = [r for r in records if isinstance(r, FindingInput)]
    coverage = [r for r in records if isinstance(r, CoverageInput)]
    assert len(findings) + len(coverage) == len(records)
    return findings, coverage


def refusal(importer: Importer, path: Path) -> str:
    """The problem text of the ImportFormatError an importer raises for ``path``."""
    with pytest.raises(ImportFormatError) as info:
        list(importer.parse(path))
    return info.value.problem
