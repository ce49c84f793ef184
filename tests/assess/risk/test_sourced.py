"""The matrix method reproduces its sources cell for cell (see docs/risk-assessment.md).

Source S2 is a public implementation (2018 graduation project, risk assessment system of
Harbin Institute of Technology at Weihai, SQL dump with the tables ``possible``,
``anquansunshi`` and ``fengxianzhi``) that transcribes the example tables of GB/T
20984-2007 Annex A (A.2, tables A.2–A.7) and stores assessments computed with them. The
cells and the recorded assessments below are copied from that dump; the shipped
``method.yaml`` must agree with every one of them.
"""

from __future__ import annotations

import pytest

from shaobing.assess.risk.calc import PairInput, level_of, matrix_risk
from shaobing.assess.risk.config import default_method

# (threat frequency, vulnerability severity) -> (likelihood value, likelihood level):
# table `possible` (columns pinlv, yzcd, possible, knxdj), all 25 rows.
S2_LIKELIHOOD = {
    (1, 1): (2, 1), (1, 2): (4, 1), (1, 3): (7, 2), (1, 4): (11, 2), (1, 5): (14, 3),
    (2, 1): (3, 1), (2, 2): (6, 2), (2, 3): (10, 2), (2, 4): (13, 3), (2, 5): (17, 4),
    (3, 1): (5, 1), (3, 2): (9, 2), (3, 3): (12, 3), (3, 4): (16, 3), (3, 5): (20, 4),
    (4, 1): (7, 2), (4, 2): (11, 2), (4, 3): (14, 3), (4, 4): (18, 4), (4, 5): (22, 5),
    (5, 1): (8, 2), (5, 2): (12, 3), (5, 3): (17, 4), (5, 4): (20, 4), (5, 5): (25, 5),
}  # fmt: skip
# (asset value, vulnerability severity) -> (loss value, loss level): table `anquansunshi`.
S2_LOSS = {
    (1, 1): (2, 1), (1, 2): (4, 1), (1, 3): (6, 2), (1, 4): (10, 2), (1, 5): (13, 3),
    (2, 1): (3, 1), (2, 2): (5, 1), (2, 3): (9, 2), (2, 4): (12, 3), (2, 5): (16, 4),
    (3, 1): (4, 1), (3, 2): (7, 2), (3, 3): (11, 3), (3, 4): (15, 3), (3, 5): (20, 4),
    (4, 1): (5, 1), (4, 2): (8, 2), (4, 3): (14, 3), (4, 4): (19, 4), (4, 5): (22, 5),
    (5, 1): (6, 2), (5, 2): (10, 2), (5, 3): (16, 4), (5, 4): (21, 5), (5, 5): (25, 5),
}  # fmt: skip
# (likelihood level, loss level) -> (risk value, risk level): table `fengxianzhi`.
S2_RISK = {
    (1, 1): (3, 1), (2, 1): (6, 1), (3, 1): (9, 2), (4, 1): (12, 2), (5, 1): (16, 3),
    (1, 2): (5, 1), (2, 2): (8, 2), (3, 2): (11, 2), (4, 2): (15, 3), (5, 2): (18, 3),
    (1, 3): (6, 1), (2, 3): (9, 2), (3, 3): (13, 3), (4, 3): (17, 3), (5, 3): (21, 4),
    (1, 4): (7, 2), (2, 4): (11, 2), (3, 4): (16, 3), (4, 4): (20, 4), (5, 4): (23, 4),
    (1, 5): (9, 2), (2, 5): (14, 3), (3, 5): (20, 4), (4, 5): (23, 4), (5, 5): (25, 5),
}  # fmt: skip

# Assessments stored in the same dump (table `juzheng`): asset value, vulnerability
# severity, threat frequency -> likelihood value/level, loss value/level, risk value/level.
S2_RECORDS = [
    ((5, 3, 5), (17, 4, 16, 4, 20, 4)),
    ((1, 3, 5), (17, 4, 6, 2, 15, 3)),
    ((3, 2, 4), (11, 2, 7, 2, 8, 2)),
    ((5, 2, 4), (11, 2, 10, 2, 8, 2)),
    ((4, 4, 5), (20, 4, 19, 4, 20, 4)),
    ((5, 5, 2), (17, 4, 25, 5, 23, 4)),
    ((3, 5, 2), (17, 4, 20, 4, 20, 4)),
    ((3, 4, 5), (20, 4, 15, 3, 17, 3)),
    ((5, 4, 5), (20, 4, 21, 5, 23, 4)),
    ((5, 3, 2), (10, 2, 16, 4, 11, 2)),
    ((4, 4, 4), (18, 4, 19, 4, 20, 4)),
    ((5, 4, 4), (18, 4, 21, 5, 23, 4)),
    ((4, 5, 5), (25, 5, 22, 5, 25, 5)),
    ((5, 3, 4), (14, 3, 16, 4, 16, 3)),
    ((3, 3, 4), (14, 3, 11, 3, 13, 3)),
    ((4, 3, 4), (14, 3, 14, 3, 13, 3)),
    ((1, 4, 5), (20, 4, 10, 2, 15, 3)),
    ((2, 4, 5), (20, 4, 12, 3, 17, 3)),
    ((5, 4, 2), (13, 3, 21, 5, 20, 4)),
]


@pytest.mark.parametrize(("cell", "expected"), sorted(S2_LIKELIHOOD.items()))
def test_likelihood_matrix_and_bands_match_source(
    cell: tuple[int, int], expected: tuple[int, int]
) -> None:
    table = default_method().matrix.likelihood
    value = table.cell(*cell)
    assert (value, level_of(value, table.bands)) == expected


@pytest.mark.parametrize(("cell", "expected"), sorted(S2_LOSS.items()))
def test_loss_matrix_and_bands_match_source(
    cell: tuple[int, int], expected: tuple[int, int]
) -> None:
    table = default_method().matrix.loss
    value = table.cell(*cell)
    assert (value, level_of(value, table.bands)) == expected


@pytest.mark.parametrize(("cell", "expected"), sorted(S2_RISK.items()))
def test_risk_matrix_and_bands_match_source(
    cell: tuple[int, int], expected: tuple[int, int]
) -> None:
    table = default_method().matrix.risk
    value = table.cell(*cell)
    assert (value, level_of(value, table.bands)) == expected


@pytest.mark.parametrize(("factors", "expected"), S2_RECORDS)
def test_recorded_assessments_are_reproduced(
    factors: tuple[int, int, int], expected: tuple[int, int, int, int, int, int]
) -> None:
    asset, severity, frequency = factors
    result = matrix_risk(
        PairInput(threat=frequency, vulnerability=severity, asset=asset), default_method()
    )
    cells = {s.params["table"]: s.params["value"] for s in result.steps if s.key == "matrix_cell"}
    assert (
        cells["likelihood"],
        result.likelihood,
        cells["loss"],
        result.loss,
        result.value,
        result.level,
    ) == expected


def test_band_limits_are_the_sourced_ranges() -> None:
    m = default_method().matrix
    # 1–5 / 6–11 / 12–16 / 17–21 / 22–25, 1–5 / 6–10 / ... and 1–6 / 7–12 / 13–18 / 19–23 / 24–25
    assert m.likelihood.bands == {1: 5, 2: 11, 3: 16, 4: 21, 5: 25}
    assert m.loss.bands == {1: 5, 2: 10, 3: 15, 4: 20, 5: 25}
    assert m.risk.bands == {1: 6, 2: 12, 3: 18, 4: 23, 5: 25}
