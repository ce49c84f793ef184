"""Port specifications and the shipped top-ports data (requirement B1)."""

from __future__ import annotations

import pytest

from shaobing.core.errors import ValidationError
from shaobing.scan.ports import parse_ports, top_ports


def test_top100_is_100_unique_valid_ports() -> None:
    ports = top_ports(100)
    assert len(ports) == 100 == len(set(ports))
    assert all(1 <= p <= 65535 for p in ports)
    # A few the issue names explicitly, including the Chinese databases.
    assert {22, 80, 443, 3389, 445, 3306, 6379, 5236, 54321} <= set(ports)


def test_top1000_is_1000_unique_ports_and_contains_top100() -> None:
    top1000 = top_ports(1000)
    assert len(top1000) == 1000 == len(set(top1000))
    assert set(top_ports(100)) <= set(top1000)
    assert top1000[:100] == top_ports(100)  # same ranking at the top


def test_keywords_parse_to_sorted_tuples() -> None:
    assert parse_ports("top100") == tuple(sorted(top_ports(100)))
    assert parse_ports("TOP1000") == tuple(sorted(top_ports(1000)))
    assert parse_ports("all") == tuple(range(1, 65536))


def test_lists_and_ranges() -> None:
    assert parse_ports("22,80,443,8000-8003") == (22, 80, 443, 8000, 8001, 8002, 8003)
    assert parse_ports(" 443 , 22, 22 ,80-80") == (22, 80, 443)
    assert parse_ports("1-3,2-4") == (1, 2, 3, 4)
    assert parse_ports("65535") == (65535,)
    assert 8080 in parse_ports("top100,8080")


@pytest.mark.parametrize(
    ("spec", "item"),
    [
        ("0", "0"),
        ("70000", "70000"),
        ("22,70000", "70000"),
        ("10-5", "10-5"),
        ("abc", "abc"),
        ("80,abc", "abc"),
        ("1-x", "1-x"),
        ("-5", "-5"),
        ("+80", "+80"),
        ("0-10", "0-10"),
    ],
)
def test_bad_specs_are_refused_naming_the_item(spec: str, item: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_ports(spec)
    message = str(info.value)
    assert item in message and "\n" not in message


@pytest.mark.parametrize("spec", ["", "  ", "22,,80", "22,"])
def test_empty_specs_and_items_are_refused(spec: str) -> None:
    with pytest.raises(ValidationError):
        parse_ports(spec)


def test_no_other_top_list() -> None:
    with pytest.raises(ValueError, match="top-50"):
        top_ports(50)
