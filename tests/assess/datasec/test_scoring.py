"""Data security questionnaire: schema, scoring arithmetic and its monotonicity (E3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.assess.datasec.catalogue import parse, questionnaire
from shaobing.assess.datasec.scoring import compute, level_for
from shaobing.core.errors import ValidationError

HEAD = (
    "version: 1\nanswers: {是: 1, 部分: 0.5, 否: 0, 不适用: null}\nlevels: [{min: 0, label: x}]\n"
)
REVERSED = (
    "version: 1\nanswers: {是: 0, 部分: 0.5, 否: 1, 不适用: null}\nlevels: [{min: 0, label: x}]\n"
)
STAGE = "stages: [{id: a, name: A, weight: 1}]\n"

CATALOGUE = questionnaire()
IDS = [q.id for q in CATALOGUE.questions]
ANSWER = st.sampled_from(["是", "部分", "否", "不适用"])


def test_builtin_questionnaire_covers_every_stage() -> None:
    """Six lifecycle stages, each with questions; ids unique; weights 1–3."""
    stages = [s.id for s in CATALOGUE.stages]
    assert stages == [
        "collection",
        "transmission",
        "storage",
        "processing",
        "exchange",
        "destruction",
    ]
    for stage in stages:
        assert [q for q in CATALOGUE.questions if q.stage == stage], stage
    assert len(IDS) == len(set(IDS))


def test_scores_by_hand() -> None:
    """Stage score = weighted share; 不适用 and unanswered are left out; overall = mean."""
    answers = {"tra.encryption": "是", "tra.integrity": "否", "tra.certificates": "部分"}
    result = compute(CATALOGUE, answers)
    transmission = next(s for s in result.stages if s.stage == "transmission")
    # weights 3, 2, 1: (3×1 + 2×0 + 1×0.5) / 6 = 58.3 %
    assert transmission.score == 58.3
    assert result.score == 58.3  # the only stage with answers
    assert result.level == "不满足"
    only_na = compute(CATALOGUE, {"tra.encryption": "不适用"})
    assert only_na.score is None and only_na.level is None


def test_level_bands() -> None:
    """Bands from the data: 90 良好, 75 基本满足, 60 部分满足, below 不满足."""
    assert [level_for(CATALOGUE, s) for s in (100, 90, 89.9, 75, 60, 59.9, 0)] == [
        "良好",
        "良好",
        "基本满足",
        "基本满足",
        "部分满足",
        "不满足",
        "不满足",
    ]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(IDS), ANSWER, max_size=len(IDS)), st.sampled_from(IDS))
def test_a_worse_answer_never_raises_the_score(answers: dict[str, str], question: str) -> None:
    """Turning any answered question into 否 never raises the stage or overall score."""
    before = compute(CATALOGUE, {**answers, question: "是"})
    after = compute(CATALOGUE, {**answers, question: "否"})
    assert after.score is not None and before.score is not None
    assert after.score <= before.score
    for b, a in zip(before.stages, after.stages, strict=True):
        if b.score is not None and a.score is not None:
            assert a.score <= b.score


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: [", "不是有效的 YAML"),
        ("!!python/object:os.system {}", "不是有效的 YAML"),
        (
            HEAD + STAGE + "questions: [{id: q, stage: b, weight: 1, text: t, advice: a}]\n",
            "unknown stage b",
        ),
        (
            REVERSED + STAGE + "questions: []\n",
            "must not increase",
        ),
    ],
)
def test_bad_questionnaires_are_refused_in_one_line(text: str, fragment: str) -> None:
    """Broken organisation questionnaires give one line naming the problem."""
    with pytest.raises(ValidationError) as caught:
        parse("org.yaml", text)
    assert "org.yaml" in str(caught.value) and fragment in str(caught.value)
    assert "\n" not in str(caught.value)
