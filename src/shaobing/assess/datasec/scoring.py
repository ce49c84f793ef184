"""Scores of a data security assessment: per stage, overall, and the conclusion.

stage score = 100 × Σ(weight × answer value) / Σ weight over the stage's answered questions
(不适用 and unanswered ones are left out); overall = the stage scores averaged with the stage
weights, over stages with at least one answered question. Answer values, weights, stage
weights and the bands are organisation-defined defaults in ``data/questionnaire.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shaobing.assess.datasec.catalogue import Questionnaire


@dataclass
class StageScore:
    """One stage's score and what it was computed from."""

    stage: str
    name: str
    score: float | None
    answered: int
    total: int
    not_applicable: int


@dataclass
class DatasecScore:
    """Overall score, conclusion and per-stage scores."""

    score: float | None
    level: str | None
    stages: list[StageScore] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)


def level_for(catalogue: Questionnaire, score: float) -> str:
    """The band whose lower bound the score reaches."""
    for band in sorted(catalogue.levels, key=lambda b: -b.min):
        if score >= band.min:
            return band.label
    return catalogue.levels[-1].label


def compute(catalogue: Questionnaire, answers: dict[str, str]) -> DatasecScore:
    """Scores from answers (question id → 是/部分/否/不适用)."""
    stages: list[StageScore] = []
    weighted = 0.0
    stage_weight = 0.0
    unanswered = [q.id for q in catalogue.questions if q.id not in answers]
    for stage in catalogue.stages:
        questions = [q for q in catalogue.questions if q.stage == stage.id]
        earned = 0.0
        possible = 0.0
        answered = 0
        not_applicable = 0
        for question in questions:
            answer = answers.get(question.id)
            if answer is None:
                continue
            value = catalogue.answers.get(answer)  # type: ignore[call-overload]
            if value is None:
                not_applicable += 1
                continue
            answered += 1
            earned += question.weight * value
            possible += question.weight
        score = round(100.0 * earned / possible, 1) if possible else None
        stages.append(
            StageScore(stage.id, stage.name, score, answered, len(questions), not_applicable)
        )
        if score is not None:
            weighted += stage.weight * score
            stage_weight += stage.weight
    overall = round(weighted / stage_weight, 1) if stage_weight else None
    level = level_for(catalogue, overall) if overall is not None else None
    return DatasecScore(overall, level, stages, unanswered)
