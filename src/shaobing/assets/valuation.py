"""Asset value from confidentiality, integrity and availability (C/I/A, each 1–5).

Sources and status of each method:

* ``max`` — the value of the most important property. GB/T 20984 (2007 §5.2.4, carried
  into the 2022 edition's asset valuation) lets the assessor take the level of the property
  that matters most to the asset as its value.
* ``weighted`` — the same clause allows a weighted combination of the three levels; the
  weights are organisation-defined (default: equal weights), the result is rounded half up.
* ``log2`` — ``round(log2((2^C + 2^I + 2^A) / 3))``, the formula common in Chinese risk
  assessment practice: it averages on an exponential scale, so one very high property
  dominates the way the level definitions intend, without the flattening of a plain mean.
  It is not printed in the standard; it is this platform's default by organisation choice.

All methods return an integer level 1–5 (5 很高, 4 高, 3 中等, 2 低, 1 很低: the five
asset-value levels of GB/T 20984).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

LEVEL_MIN = 1
LEVEL_MAX = 5


class ValuationMethod(StrEnum):
    """How the asset value is derived from C/I/A."""

    MAX = "max"
    WEIGHTED = "weighted"
    LOG2 = "log2"


def round_half_up(value: float) -> int:
    """Round to the nearest integer with halves going up (Python's round() goes to even)."""
    # repr() keeps the shortest decimal form, so 2.5 stays 2.5 instead of 2.4999...
    return int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def check_level(name: str, value: int) -> int:
    """Return ``value`` if it is an integer level 1–5, else raise a ValidationError."""
    if isinstance(value, bool) or not isinstance(value, int) or not LEVEL_MIN <= value <= LEVEL_MAX:
        raise ValidationError(t("assets.cia_out_of_range", name=name, value=value))
    return value


def asset_value(
    confidentiality: int,
    integrity: int,
    availability: int,
    method: ValuationMethod | str = ValuationMethod.LOG2,
    weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3),
) -> int:
    """Derive the asset value level (1–5) from C/I/A with the chosen method."""
    c = check_level("C", confidentiality)
    i = check_level("I", integrity)
    a = check_level("A", availability)
    try:
        chosen = ValuationMethod(method)
    except ValueError as exc:
        raise ValidationError(t("assets.unknown_valuation_method", method=method)) from exc
    if chosen is ValuationMethod.MAX:
        result = max(c, i, a)
    elif chosen is ValuationMethod.WEIGHTED:
        if len(weights) != 3 or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValidationError(t("assets.bad_weights", weights=weights))
        total = sum(weights)
        result = round_half_up((weights[0] * c + weights[1] * i + weights[2] * a) / total)
    else:
        result = round_half_up(math.log2((2**c + 2**i + 2**a) / 3))
    # Every method maps 1–5 inputs into 1–5; the clamp only guards float edge cases.
    return min(LEVEL_MAX, max(LEVEL_MIN, result))
