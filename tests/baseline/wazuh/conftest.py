"""Helpers for the Wazuh SCA tests: data paths, synchronous runs, and tree builders."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shaobing.baseline.collectors.base import HostCollector
from shaobing.baseline.results import ProfileReport, RuleResult
from shaobing.baseline.wazuh import ScaPolicy, load_sca_policy, run_sca_policy

DATA = Path(__file__).parent / "data"
POLICIES = DATA / "policies"
ROOTS = DATA / "roots"
# The upstream policies live beside the repository (shared/corpora), never inside it.
CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpora" / "wazuh-sca"


def corpus_policies() -> list[Path]:
    """The real Wazuh policy files, or a skip when the corpus is not checked out here."""
    if not CORPUS.is_dir():
        pytest.skip(f"Wazuh SCA corpus not found at {CORPUS} (shared/corpora is not present)")
    files = sorted(CORPUS.rglob("*.yml"))
    if not files:
        pytest.skip(f"no .yml policy under {CORPUS}")
    return files


def run(policy: ScaPolicy, collector: HostCollector, **options: object) -> ProfileReport:
    """Run a policy to completion from synchronous test code."""
    return asyncio.run(run_sca_policy(policy, collector, **options))  # type: ignore[arg-type]


def by_id(report: ProfileReport) -> dict[str, RuleResult]:
    """Results keyed by check id."""
    return {result.rule_id: result for result in report.results}


def load(name: str) -> ScaPolicy:
    """One of the test policies under data/policies."""
    return load_sca_policy(POLICIES / name)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Create files (path relative to the tree's /) with their text; returns the root."""
    for relative, text in files.items():
        path = root / relative.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
