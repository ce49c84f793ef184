"""Risk calculation R = R(L(T,V), F(Ia,Va)) by the matrix and the multiplication method.

Pure functions: the inputs are levels 1–5 and a :class:`MethodConfig`; every result carries
the steps that produced it (which inputs, which table cell, which band) so that it can
explain itself. No database, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from shaobing.assess.risk.config import Matrix, MethodConfig, combine
from shaobing.assets.valuation import round_half_up

Method = Literal["matrix", "multiply"]
METHODS: tuple[Method, ...] = ("matrix", "multiply")
_EPS = 1e-9


@dataclass(frozen=True)
class Step:
    """One step of a calculation: an explanation template key and its parameters."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PairInput:
    """The factors of one threat–vulnerability pair on one asset (all levels 1–5).

    ``likelihood_cut`` and ``loss_cut`` are the levels removed by effective preventive and
    protective measures.
    """

    threat: int
    vulnerability: int
    asset: int
    likelihood_cut: int = 0
    loss_cut: int = 0


@dataclass(frozen=True)
class RiskResult:
    """Likelihood, loss, risk value and level, with the steps that produced them."""

    method: Method
    likelihood: float
    loss: float
    value: float
    level: int
    steps: tuple[Step, ...]


def _check(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError(f"{name} must be an integer level 1–5, got {value!r}")
    return value


def band_range(bands: dict[int, float], level: int, *, integral: bool = True) -> str:
    """The value range of a level as written in the tables (``7–12``), or for values with
    decimals as an interval (``(6, 12]``)."""
    upper = bands[level]
    lower = bands[level - 1] if level > 1 else None
    if integral and all(float(b).is_integer() for b in bands.values()):
        start = 1 if lower is None else int(lower) + 1
        return f"{start}–{int(upper)}"
    return f"≤{upper:g}" if lower is None else f"({lower:g}, {upper:g}]"


def level_of(value: float, bands: dict[int, float]) -> int:
    """The level whose band holds ``value`` (bands map level → inclusive upper limit)."""
    for level in sorted(bands):
        if value <= bands[level] + _EPS:
            return level
    return max(bands)


def round_to(value: float, decimals: int, mode: str) -> float:
    """Round half up to ``decimals`` places (``mode='none'`` leaves the value as is)."""
    if mode == "none":
        return value
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def threat_value(frequency: int, capability: int | None, rule: str) -> tuple[int, Step]:
    """The threat value T from frequency and capability by the configured rule."""
    _check("frequency", frequency)
    if capability is None or rule == "frequency":
        return frequency, Step("threat_frequency", {"frequency": frequency})
    _check("capability", capability)
    if rule == "max":
        value = max(frequency, capability)
    else:
        value = round_half_up((frequency + capability) / 2)
    return value, Step(
        f"threat_{rule}", {"frequency": frequency, "capability": capability, "value": value}
    )


def bearing_value(importance: int, relevance: int, config: MethodConfig) -> tuple[int, Step]:
    """Business-bearing value of a system for a business: bearing matrix cell."""
    _check("importance", importance)
    _check("relevance", relevance)
    value = config.bearing_matrix[importance - 1][relevance - 1]
    return value, Step(
        "bearing", {"importance": importance, "relevance": relevance, "value": value}
    )


def combine_cuts(effects: list[int], config: MethodConfig) -> int:
    """Levels removed by several applicable measures (max, or sum capped at 4)."""
    if not effects:
        return 0
    if config.measures.combine == "sum":
        return min(4, sum(effects))
    return max(effects)


def _matrix_step(
    matrix: Matrix, table: str, row: tuple[str, int], col: tuple[str, int]
) -> tuple[int, int, list[Step]]:
    value = matrix.cell(row[1], col[1])
    level = level_of(value, matrix.bands)
    steps = [
        Step(
            "matrix_cell",
            {
                "table": table,
                "row": row[0],
                "r": row[1],
                "col": col[0],
                "c": col[1],
                "value": value,
            },
        ),
        Step(
            "band",
            {
                "table": table,
                "value": value,
                "range": band_range(matrix.bands, level),
                "level": level,
            },
        ),
    ]
    return value, level, steps


def _cut(what: str, level: float, cut: int) -> tuple[float, list[Step]]:
    if cut <= 0:
        return level, []
    after = max(1.0, level - cut)
    return after, [Step("cut", {"what": what, "before": level, "cut": cut, "after": after})]


def matrix_risk(pair: PairInput, config: MethodConfig) -> RiskResult:
    """The matrix method: likelihood matrix, loss matrix, risk matrix, each with its bands."""
    t_, v_, a_ = (
        _check("T", pair.threat),
        _check("V", pair.vulnerability),
        _check("Ia", pair.asset),
    )
    m = config.matrix
    steps: list[Step] = []
    _, likelihood, found = _matrix_step(m.likelihood, "likelihood", ("T", t_), ("V", v_))
    steps += found
    cut_l, found = _cut("likelihood", likelihood, pair.likelihood_cut)
    steps += found
    _, loss, found = _matrix_step(m.loss, "loss", ("Ia", a_), ("V", v_))
    steps += found
    cut_f, found = _cut("loss", loss, pair.loss_cut)
    steps += found
    value, level, found = _matrix_step(m.risk, "risk", ("L", int(cut_l)), ("F", int(cut_f)))
    steps += found
    return RiskResult("matrix", int(cut_l), int(cut_f), value, level, tuple(steps))


def multiply_risk(pair: PairInput, config: MethodConfig) -> RiskResult:
    """The multiplication method: L = f(T,V), F = f(Ia,Va), R = f(L,F), then the bands."""
    t_, v_, a_ = (
        _check("T", pair.threat),
        _check("V", pair.vulnerability),
        _check("Ia", pair.asset),
    )
    p = config.multiply

    def rounded(x: float) -> float:
        return round_to(x, p.decimals, p.rounding)

    steps: list[Step] = []
    likelihood = rounded(combine(p.likelihood, t_, v_))
    steps.append(
        Step(
            "formula",
            {"what": "likelihood", "fn": p.likelihood, "x": t_, "y": v_, "value": likelihood},
        )
    )
    likelihood, found = _cut("likelihood", likelihood, pair.likelihood_cut)
    steps += found
    loss = rounded(combine(p.loss, a_, v_))
    steps.append(Step("formula", {"what": "loss", "fn": p.loss, "x": a_, "y": v_, "value": loss}))
    loss, found = _cut("loss", loss, pair.loss_cut)
    steps += found
    value = rounded(combine(p.risk, likelihood, loss))
    steps.append(
        Step("formula", {"what": "risk", "fn": p.risk, "x": likelihood, "y": loss, "value": value})
    )
    level = level_of(value, p.bands)
    steps.append(
        Step(
            "band",
            {
                "table": "multiply",
                "value": value,
                "range": band_range(p.bands, level, integral=False),
                "level": level,
            },
        )
    )
    return RiskResult("multiply", likelihood, loss, value, level, tuple(steps))


def calculate(pair: PairInput, config: MethodConfig, method: Method) -> RiskResult:
    """Risk of one pair by the chosen method."""
    if method == "matrix":
        return matrix_risk(pair, config)
    return multiply_risk(pair, config)
