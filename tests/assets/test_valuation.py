"""Asset value from C/I/A: each method on worked values, and properties over all inputs."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shaobing.assets.valuation import ValuationMethod, asset_value, round_half_up
from shaobing.core.errors import ValidationError

LEVELS = st.integers(min_value=1, max_value=5)


@pytest.mark.parametrize(
    ("cia", "expected"),
    [
        ((1, 1, 1), 1),
        ((5, 5, 5), 5),
        ((5, 1, 1), 4),  # log2((32+2+2)/3) = log2(12) = 3.58 -> 4
        ((3, 3, 3), 3),
        ((4, 2, 2), 3),  # log2((16+4+4)/3) = log2(8) = 3 exactly
        ((2, 2, 1), 2),  # log2((4+4+2)/3) = 1.74 -> 2
        ((3, 1, 1), 2),  # log2((8+2+2)/3) = 2
        ((4, 3, 1), 3),  # log2((16+8+2)/3) = 3.11 -> 3
        ((5, 4, 3), 4),  # log2((32+16+8)/3) = 4.22 -> 4
        ((5, 5, 4), 5),  # log2((32+32+16)/3) = 4.74 -> 5
    ],
)
def test_log2_method_worked_values(cia: tuple[int, int, int], expected: int) -> None:
    assert asset_value(*cia, method="log2") == expected


def test_log2_matches_the_formula_everywhere() -> None:
    for c, i, a in itertools.product(range(1, 6), repeat=3):
        exact = math.log2((2**c + 2**i + 2**a) / 3)
        assert asset_value(c, i, a, ValuationMethod.LOG2) == math.floor(exact + 0.5)


def test_max_method() -> None:
    assert asset_value(2, 5, 1, "max") == 5
    assert asset_value(1, 1, 1, "max") == 1


def test_weighted_method() -> None:
    assert asset_value(5, 1, 3, "weighted") == 3
    assert asset_value(5, 1, 1, "weighted", weights=(0.6, 0.2, 0.2)) == 3  # 3.4 -> 3
    assert asset_value(5, 3, 1, "weighted", weights=(0.5, 0.25, 0.25)) == 4  # 3.5 -> 4 (half up)
    # Weights need not sum to 1: they are normalised.
    assert asset_value(5, 3, 1, "weighted", weights=(2, 1, 1)) == 4


def test_round_half_up() -> None:
    assert round_half_up(2.5) == 3
    assert round_half_up(3.5) == 4
    assert round_half_up(2.4999) == 2


@pytest.mark.parametrize("bad", [0, 6, -1, 3.5, True, "3"])
def test_out_of_range_levels_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError, match=str(bad)):
        asset_value(bad, 3, 3)  # type: ignore[arg-type]


def test_unknown_method_and_bad_weights() -> None:
    with pytest.raises(ValidationError, match="median"):
        asset_value(3, 3, 3, "median")
    with pytest.raises(ValidationError):
        asset_value(3, 3, 3, "weighted", weights=(0, 0, 0))
    with pytest.raises(ValidationError):
        asset_value(3, 3, 3, "weighted", weights=(-1, 1, 1))


@given(LEVELS, LEVELS, LEVELS, st.sampled_from(list(ValuationMethod)))
def test_value_is_a_level_between_min_and_max(
    c: int, i: int, a: int, method: ValuationMethod
) -> None:
    value = asset_value(c, i, a, method)
    assert min(c, i, a) <= value <= max(c, i, a)


@given(LEVELS, LEVELS, LEVELS, st.sampled_from(list(ValuationMethod)), st.integers(0, 2))
def test_raising_a_property_never_lowers_the_value(
    c: int, i: int, a: int, method: ValuationMethod, which: int
) -> None:
    values = [c, i, a]
    if values[which] == 5:
        return
    raised = values.copy()
    raised[which] += 1
    assert asset_value(*raised, method=method) >= asset_value(*values, method=method)
