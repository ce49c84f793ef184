"""``shaobing datasec``: the data security assessment (E3)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shaobing.assess.datasec import service
from shaobing.assess.datasec.catalogue import questionnaire
from shaobing.cli.output import actor, console, db_session, write_json
from shaobing.core.i18n import t
from shaobing.engagements.service import resolve_engagement

app = typer.Typer(no_args_is_help=True, help=t("datasec.cli.help_group"))

EngagementOpt = Annotated[
    str, typer.Option("--engagement", "-e", help=t("datasec.cli.help_engagement"))
]
JsonOpt = Annotated[str | None, typer.Option("--json", help=t("datasec.cli.help_json"))]


@app.command("questions", help=t("datasec.cli.help_questions"))
def questions(json_out: JsonOpt = None) -> None:
    """List the questionnaire."""
    catalogue = questionnaire()
    rows = [
        {
            "id": q.id,
            "stage": q.stage,
            "stage_name": catalogue.stage_name(q.stage),
            "weight": q.weight,
            "text": q.text,
            "gb22239": q.gb22239,
            "auto": bool(q.evidence),
        }
        for q in catalogue.questions
    ]
    if json_out is not None:
        write_json(json_out, {"questions": rows})
        return
    for row in rows:
        console.print(t("datasec.cli.question_line", **row), markup=False, soft_wrap=True)


@app.command("init", help=t("datasec.cli.help_init"))
def init(engagement: EngagementOpt, json_out: JsonOpt = None) -> None:
    """Start an assessment and pre-fill it from the engagement's findings."""
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        assessment = service.create(session, target, actor=actor())
        filled = service.prefill(session, assessment, actor=actor())
        data: dict[str, Any] = {"assessment_id": assessment.id, "prefilled": filled}
    if json_out is not None:
        write_json(json_out, data)
        return
    console.print(
        t("datasec.cli.created", id=data["assessment_id"], count=len(filled)), markup=False
    )


@app.command("prefill", help=t("datasec.cli.help_prefill"))
def prefill(engagement: EngagementOpt, json_out: JsonOpt = None) -> None:
    """Pre-fill again from the current findings (manual answers are kept)."""
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        assessment = service.latest(session, target)
        filled = service.prefill(session, assessment, actor=actor())
    if json_out is not None:
        write_json(json_out, {"prefilled": filled})
        return
    console.print(t("datasec.cli.prefilled", count=len(filled)), markup=False, soft_wrap=True)


@app.command("answer", help=t("datasec.cli.help_answer"))
def answer(
    engagement: EngagementOpt,
    question: Annotated[str, typer.Option("--question", "-q", help=t("datasec.cli.help_question"))],
    value: Annotated[str, typer.Option("--answer", "-a", help=t("datasec.cli.help_value"))],
    evidence: Annotated[
        str | None, typer.Option("--evidence", help=t("datasec.cli.help_evidence"))
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help=t("datasec.cli.help_note"))] = None,
) -> None:
    """Record a manual answer."""
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        assessment = service.latest(session, target)
        service.record(
            session, assessment, question, value, evidence=evidence, note=note, actor=actor()
        )
    console.print(
        t("datasec.cli.answered", question=question, answer=value), markup=False, soft_wrap=True
    )


@app.command("score", help=t("datasec.cli.help_score"))
def score(engagement: EngagementOpt, json_out: JsonOpt = None) -> None:
    """Overall and per-stage scores."""
    with db_session(readonly=True) as session:
        target = resolve_engagement(session, engagement)
        data = service.score_json(session, service.latest(session, target))
    if json_out is not None:
        write_json(json_out, data)
        return
    console.print(
        t(
            "datasec.cli.score",
            score="-" if data["score"] is None else data["score"],
            level=data["level"] or "-",
            unanswered=len(data["unanswered"]),
        ),
        markup=False,
    )
    for stage in data["stages"].values():
        console.print(
            t(
                "datasec.cli.stage_line",
                name=stage["name"],
                score="-" if stage["score"] is None else stage["score"],
                answered=stage["answered"],
                questions=stage["questions"],
            ),
            markup=False,
        )


@app.command("gaps", help=t("datasec.cli.help_gaps"))
def gaps(
    engagement: EngagementOpt,
    json_out: JsonOpt = None,
    work_orders: Annotated[
        bool, typer.Option("--work-orders", help=t("datasec.cli.help_work_orders"))
    ] = False,
) -> None:
    """Questions answered 否/部分 with advice; optionally as work orders."""
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        assessment = service.latest(session, target)
        rows = service.gaps_json(session, assessment)
        summary = (
            service.gap_work_orders(session, target, assessment, actor=actor()).as_dict()
            if work_orders
            else None
        )
    if json_out is not None:
        write_json(json_out, {"gaps": rows, "work_orders": summary})
        return
    for row in rows:
        console.print(t("datasec.cli.gap_line", **row), markup=False, soft_wrap=True)
    if summary is not None:
        console.print(t("datasec.cli.work_orders", **summary), markup=False, soft_wrap=True)
