"""Every baseline rule passes on its passing fixture and fails on its failing one (C1)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from shaobing.baseline.engine import run_profile
from shaobing.baseline.loader import build_profile, raw_profiles
from shaobing.baseline.model import Profile
from shaobing.baseline.results import Status
from tests.baseline.fixturehost import fixture_context

FIXTURES = Path(__file__).parent / "fixtures"
PREFIXES = {"pass": Status.PASS, "fail": Status.FAIL, "na": Status.NA}


def _profiles() -> dict[str, Profile]:
    return {
        pid: build_profile(raw) for pid, raw in raw_profiles(extra_dir=Path("/nonexistent")).items()
    }


PROFILES = _profiles()
RULES = {rule.id: (profile, rule) for profile in PROFILES.values() for rule in profile.rules}


def _fixture_cases() -> list[Any]:
    cases = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for rule_id, variants in data.items():
            for name, case in (variants or {}).items():
                prefix = next((p for p in PREFIXES if str(name).startswith(p)), None)
                cases.append(
                    pytest.param(
                        path.name, rule_id, name, prefix, case or {}, id=f"{rule_id}-{name}"
                    )
                )
    return cases


@pytest.mark.parametrize(("source", "rule_id", "name", "prefix", "case"), _fixture_cases())
def test_fixture(
    tmp_path: Path, source: str, rule_id: str, name: str, prefix: str | None, case: dict[str, Any]
) -> None:
    """The rule's verdict on the fixture is the one its name promises."""
    assert prefix is not None, f"{source}: case {name} of {rule_id} must start with pass/fail/na"
    assert rule_id in RULES, f"{source}: no loaded rule {rule_id}"
    profile, rule = RULES[rule_id]
    ctx = fixture_context(tmp_path, case, profile.target)
    report = asyncio.run(run_profile(profile, ctx, [rule]))
    result = report.results[0]
    assert result.status is PREFIXES[prefix], (
        f"{rule_id}/{name}: {result.status.value}: {result.observed}"
    )
    assert result.observed.strip(), f"{rule_id}/{name}: empty observed text"


def test_every_rule_has_both_fixtures() -> None:
    """No rule ships without a passing and a failing fixture."""
    seen: dict[str, set[str]] = {}
    for path in sorted(FIXTURES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for rule_id, variants in data.items():
            for name in variants or {}:
                for prefix in PREFIXES:
                    if str(name).startswith(prefix):
                        seen.setdefault(rule_id, set()).add(prefix)
    missing = [r for r in RULES if not {"pass", "fail"} <= seen.get(r, set())]
    assert not missing, f"rules without pass+fail fixtures: {missing}"
