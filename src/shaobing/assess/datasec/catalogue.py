"""The data security questionnaire (``data/questionnaire.yaml``), schema-validated at load.

An organisation may replace it with ``$SHAOBING_HOME/datasec/questionnaire.yaml`` (same
format); the file is data from people: safe YAML only, a size cap, one-line errors.
"""

from __future__ import annotations

import fnmatch
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shaobing.core.errors import ValidationError as UserError
from shaobing.core.errors import error_location
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings

MAX_BYTES = 1024 * 1024
Answer = Literal["是", "部分", "否", "不适用"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceRule(_Strict):
    """An open finding matching ``check`` (and ``source``) pre-fills the question."""

    check: str
    source: str | None = None
    answer: Literal["部分", "否"]

    def matches(self, source_tool: str, check_id: str) -> bool:
        """Whether a finding of this source and check id matches."""
        if self.source is not None and self.source != source_tool:
            return False
        return fnmatch.fnmatchcase(check_id, self.check)


class Question(_Strict):
    """One question of one lifecycle stage."""

    id: str
    stage: str
    weight: int = Field(ge=1, le=3)
    text: str
    advice: str
    gb22239: list[str] = []
    evidence: list[EvidenceRule] = []


class Stage(_Strict):
    """A lifecycle stage."""

    id: str
    name: str
    weight: float = Field(gt=0)


class Level(_Strict):
    """A score band and its conclusion."""

    min: float = Field(ge=0, le=100)
    label: str


class Questionnaire(_Strict):
    """The whole questionnaire."""

    version: int
    answers: dict[Answer, float | None]
    levels: list[Level]
    stages: list[Stage]
    questions: list[Question]

    @model_validator(mode="after")
    def _consistent(self) -> Questionnaire:
        stage_ids = {s.id for s in self.stages}
        if len(stage_ids) != len(self.stages):
            raise ValueError("duplicate stage id")
        seen: set[str] = set()
        for question in self.questions:
            if question.stage not in stage_ids:
                raise ValueError(f"question {question.id}: unknown stage {question.stage}")
            if question.id in seen:
                raise ValueError(f"duplicate question id {question.id}")
            seen.add(question.id)
        if set(self.answers) != {"是", "部分", "否", "不适用"}:
            raise ValueError("answers must define 是/部分/否/不适用")
        values = [v for v in self.answers.values() if v is not None]
        if any(not 0 <= v <= 1 for v in values) or self.answers["不适用"] is not None:
            raise ValueError("answer values must be within 0..1 and 不适用 null")
        if (
            not (self.answers["是"] or 0)
            >= (self.answers["部分"] or 0)
            >= (self.answers["否"] or 0)
        ):
            raise ValueError("answer values must not increase from 是 to 否")
        if not any(level.min == 0 for level in self.levels):
            raise ValueError("levels need a band starting at 0")
        return self

    def question(self, question_id: str) -> Question:
        """A question by id (one-line error naming it when unknown)."""
        for question in self.questions:
            if question.id == question_id:
                return question
        raise UserError(t("datasec.unknown_question", question=question_id))

    def stage_name(self, stage_id: str) -> str:
        """The Chinese name of a stage."""
        return next((s.name for s in self.stages if s.id == stage_id), stage_id)


def parse(source: str, text: str) -> Questionnaire:
    """Validate a questionnaire text; one-line error naming the file and field."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise UserError(t("datasec.file_too_large", source=source, limit=MAX_BYTES))
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise UserError(
            t("datasec.bad_yaml", source=source, detail=str(exc).splitlines()[0])
        ) from exc
    try:
        return Questionnaire.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = error_location(error.get("loc", ()))
        raise UserError(
            t("datasec.bad_field", source=source, field=where, detail=error.get("msg", ""))
        ) from exc


@cache
def _builtin() -> Questionnaire:
    text = (
        resources.files("shaobing.assess.datasec")
        .joinpath("data/questionnaire.yaml")
        .read_text("utf-8")
    )
    return parse("data/questionnaire.yaml", text)


def questionnaire() -> Questionnaire:
    """The organisation's questionnaire when it has one, else the built-in one."""
    override = get_settings().home / "datasec" / "questionnaire.yaml"
    if override.is_file():
        return parse(str(override), _read(override))
    return _builtin()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(t("datasec.unreadable", source=str(path), detail=str(exc))) from exc
