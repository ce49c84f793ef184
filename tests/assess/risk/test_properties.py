"""Properties of the calculation: raising any input never lowers the risk, measures never
raise it, for both methods, with the shipped tables and with any valid monotone tables."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.assess.risk.calc import (
    METHODS,
    Method,
    PairInput,
    bearing_value,
    calculate,
    level_of,
    threat_value,
)
from shaobing.assess.risk.config import (
    MethodConfig,
    default_method,
    method_config,
    threat_catalogue,
)
from shaobing.assess.risk.evaluate import evaluate
from shaobing.assess.risk.inputs import EffectiveThreat, Inputs, Measure, Target, Vulnerability

LEVEL = st.integers(min_value=1, max_value=5)
CUT = st.integers(min_value=0, max_value=4)
METHOD = st.sampled_from(METHODS)


def _risk(pair: PairInput, config: MethodConfig, method: Method) -> tuple[float, int]:
    result = calculate(pair, config, method)
    return result.value, result.level


@st.composite
def monotone_matrix(draw: st.DrawFn) -> list[list[int]]:
    """A 5×5 table that never decreases along rows and columns (what validation accepts)."""
    base = [[0] * 5 for _ in range(5)]
    for r, c in itertools.product(range(5), range(5)):
        floor = max(base[r - 1][c] if r else 1, base[r][c - 1] if c else 1)
        base[r][c] = floor + draw(st.integers(min_value=0, max_value=3))
    return base


@st.composite
def monotone_config(draw: st.DrawFn) -> MethodConfig:
    """Shipped parameters with random (valid) matrices and bands."""
    tables = {}
    for name in ("likelihood", "loss", "risk"):
        values = draw(monotone_matrix())
        top = max(max(row) for row in values)
        cuts = sorted(
            draw(st.sets(st.integers(min_value=1, max_value=top + 3), min_size=4, max_size=4))
        )
        bands = {i + 1: cuts[i] for i in range(4)} | {5: max(top, cuts[3] + 1)}
        tables[name] = {"values": values, "bands": bands}
    return method_config(
        {"matrix": tables, "threat_value": draw(st.sampled_from(["frequency", "mean", "max"]))}
    )


@settings(max_examples=300, deadline=None)
@given(
    t=LEVEL,
    v=LEVEL,
    a=LEVEL,
    cl=CUT,
    cf=CUT,
    method=METHOD,
    which=st.sampled_from(["threat", "vulnerability", "asset"]),
)
def test_raising_an_input_never_lowers_the_risk(
    t: int, v: int, a: int, cl: int, cf: int, method: Method, which: str
) -> None:
    config = default_method()
    low = PairInput(t, v, a, cl, cf)
    bumped = {"threat": t, "vulnerability": v, "asset": a} | {
        which: min(5, getattr(low, which) + 1)
    }
    high = PairInput(bumped["threat"], bumped["vulnerability"], bumped["asset"], cl, cf)
    before, after = _risk(low, config, method), _risk(high, config, method)
    assert after[0] >= before[0] and after[1] >= before[1]


@settings(max_examples=200, deadline=None)
@given(t=LEVEL, v=LEVEL, a=LEVEL, cl=CUT, cf=CUT, method=METHOD, extra_l=CUT, extra_f=CUT)
def test_measures_never_raise_the_risk(
    t: int, v: int, a: int, cl: int, cf: int, method: Method, extra_l: int, extra_f: int
) -> None:
    config = default_method()
    without = _risk(PairInput(t, v, a, cl, cf), config, method)
    stronger = _risk(PairInput(t, v, a, cl + extra_l, cf + extra_f), config, method)
    assert stronger[0] <= without[0] and stronger[1] <= without[1]


@settings(max_examples=150, deadline=None)
@given(config=monotone_config(), t=LEVEL, v=LEVEL, a=LEVEL, cl=CUT, cf=CUT)
def test_monotone_for_any_valid_override_tables(
    config: MethodConfig, t: int, v: int, a: int, cl: int, cf: int
) -> None:
    base = _risk(PairInput(t, v, a, cl, cf), config, "matrix")
    for bumped in (
        PairInput(min(5, t + 1), v, a, cl, cf),
        PairInput(t, min(5, v + 1), a, cl, cf),
        PairInput(t, v, min(5, a + 1), cl, cf),
    ):
        after = _risk(bumped, config, "matrix")
        assert after[0] >= base[0] and after[1] >= base[1]
    eased = _risk(PairInput(t, v, a, cl + 1, cf + 1), config, "matrix")
    assert eased[0] <= base[0] and eased[1] <= base[1]


@given(f=LEVEL, c=st.one_of(st.none(), LEVEL), rule=st.sampled_from(["frequency", "mean", "max"]))
def test_threat_value_grows_with_frequency_and_capability(f: int, c: int | None, rule: str) -> None:
    value, _ = threat_value(f, c, rule)
    assert 1 <= value <= 5
    assert threat_value(min(5, f + 1), c, rule)[0] >= value
    if c is not None:
        assert threat_value(f, min(5, c + 1), rule)[0] >= value


@given(i=LEVEL, r=LEVEL)
def test_bearing_value_grows_with_importance_and_relevance(i: int, r: int) -> None:
    config = default_method()
    value, _ = bearing_value(i, r, config)
    assert bearing_value(min(5, i + 1), r, config)[0] >= value
    assert bearing_value(i, min(5, r + 1), config)[0] >= value


@given(value=st.floats(min_value=0, max_value=25, allow_nan=False))
def test_levels_follow_the_bands(value: float) -> None:
    bands = default_method().multiply.bands
    level = level_of(value, bands)
    assert value <= bands[level]
    assert level == 1 or value > bands[level - 1]


def test_multiply_method_worked_values() -> None:
    """L = √(T×V), F = √(Ia×Va), R = L×F, two decimals half up (organisation-defined)."""
    config = default_method()
    result = calculate(PairInput(threat=4, vulnerability=3, asset=5), config, "multiply")
    # √12 = 3.4641 → 3.46; √15 = 3.8730 → 3.87; 3.46 × 3.87 = 13.3902 → 13.39 (band 12–18)
    assert (result.likelihood, result.loss, result.value, result.level) == (3.46, 3.87, 13.39, 3)
    top = calculate(PairInput(5, 5, 5), config, "multiply")
    assert (top.value, top.level) == (25.0, 5)
    bottom = calculate(PairInput(1, 1, 1), config, "multiply")
    assert (bottom.value, bottom.level) == (1.0, 1)


# ------------------------------------------------------------------ the whole pipeline
def _inputs(
    frequency: int, capability: int | None, severity: int, value: int, measures: list[Measure]
) -> Inputs:
    config = default_method()
    threat = threat_catalogue()[1].model_copy(
        update={"frequency": frequency, "capability": capability}
    )
    t_value, step = threat_value(frequency, capability, config.threat_value)
    target = Target("asset:1", "component", "主机", None, value, ())
    vuln = Vulnerability(
        "manual:1", "asset:1", "弱口令", threat.exploits[0], "technical", severity, "manual", ()
    )
    return Inputs(
        targets={"asset:1": target},
        vulnerabilities=[vuln],
        threats=[EffectiveThreat(threat, t_value, step, ())],
        measures=measures,
    )


MEASURE = st.builds(
    Measure,
    id=st.integers(1, 9),
    name=st.just("措施"),
    measure_type=st.sampled_from(["preventive", "protective"]),
    effect=st.integers(1, 2),
    threat_ids=st.just(()),
    vuln_classes=st.just(()),
    asset_id=st.sampled_from([None, 1, 2]),
    system_id=st.just(None),
    effective=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    f=LEVEL,
    c=st.one_of(st.none(), LEVEL),
    v=LEVEL,
    a=LEVEL,
    method=METHOD,
    measures=st.lists(MEASURE, max_size=3),
    extra=MEASURE,
)
def test_pipeline_is_monotone_and_measures_only_lower(
    f: int,
    c: int | None,
    v: int,
    a: int,
    method: Method,
    measures: list[Measure],
    extra: Measure,
) -> None:
    config = default_method()

    def top(inputs: Inputs) -> tuple[float, int]:
        risks, _ = evaluate(inputs, config, method)
        assert len(risks) == 1
        return risks[0].result.value, risks[0].result.level

    base = top(_inputs(f, c, v, a, measures))
    for bumped in (
        _inputs(min(5, f + 1), c, v, a, measures),
        _inputs(f, c, min(5, v + 1), a, measures),
        _inputs(f, c, v, min(5, a + 1), measures),
    ):
        after = top(bumped)
        assert after[0] >= base[0] and after[1] >= base[1]
    more = top(_inputs(f, c, v, a, [*measures, extra]))
    assert more[0] <= base[0] and more[1] <= base[1]
