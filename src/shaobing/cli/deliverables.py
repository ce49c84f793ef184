"""``shaobing deliverables list/show/submit/accept/reopen/add/index`` (I2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from shaobing.cli.output import actor, console, db_session, print_json, print_table
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements import deliverables as svc
from shaobing.engagements.service import resolve_engagement

app = typer.Typer(no_args_is_help=True, help=t("deliverables.cli.help_group"))

EngagementOpt = Annotated[
    str, typer.Option("--engagement", "-e", help=t("deliverables.cli.help_engagement"))
]
IdArg = Annotated[int, typer.Argument(help=t("deliverables.cli.help_id"))]
JsonOpt = Annotated[bool, typer.Option("--json", help=t("deliverables.cli.help_json"))]
DateOpt = Annotated[str | None, typer.Option("--date", help=t("deliverables.cli.help_date"))]


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationError(t("cli.bad_date", option=option, value=value)) from exc


def _date(value: str | None, option: str) -> date | None:
    return None if value is None else _parse_date(value, option)


def _today() -> date:
    return date.today()


@app.command("list", help=t("deliverables.cli.help_list"))
def list_(
    engagement: EngagementOpt,
    state: Annotated[
        list[str] | None, typer.Option("--state", help=t("deliverables.cli.help_state"))
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help=t("deliverables.cli.help_kind"))
    ] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help=t("deliverables.cli.help_overdue"))
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """List the engagement's deliverables."""
    today = _today()
    flt = svc.DeliverableFilter(
        states=tuple(svc.parse_state(s) for s in state or []),
        kind=kind,
        overdue_on=today if overdue else None,
    )
    with db_session(readonly=True) as session:
        target = resolve_engagement(session, engagement)
        data = [
            svc.deliverable_as_dict(d, today=today)
            for d in svc.list_deliverables(session, target, flt)
        ]
    if json_out:
        for row in data:
            row.pop("history")
        print_json(data)
        return
    print_table(
        t("deliverables.cli.title"),
        [
            t("deliverables.cli.col_id"),
            t("deliverables.cli.col_title"),
            t("deliverables.cli.col_period"),
            t("deliverables.cli.col_due"),
            t("deliverables.cli.col_state"),
            t("deliverables.cli.col_submitted"),
            t("deliverables.cli.col_accepted"),
            t("deliverables.cli.col_file"),
        ],
        [
            [
                d["id"],
                d["title"],
                d["period_label"],
                d["due_date"],
                d["state_label"] + (t("deliverables.cli.overdue_mark") if d["overdue"] else ""),
                d["submitted_on"],
                d["accepted_on"],
                d["file_name"],
            ]
            for d in data
        ],
    )


@app.command("show", help=t("deliverables.cli.help_show"))
def show(ref: IdArg, json_out: JsonOpt = False) -> None:
    """Show one deliverable with its file, dates and history."""
    with db_session(readonly=True) as session:
        data = svc.deliverable_as_dict(svc.get_deliverable(session, None, ref), today=_today())
    if json_out:
        print_json(data)
        return
    state = data["state_label"] + (t("deliverables.cli.overdue_mark") if data["overdue"] else "")
    lines: list[tuple[str, Any]] = [
        (t("deliverables.cli.col_title"), f"{data['title']}（ID {data['id']}）"),
        (t("deliverables.cli.field_kind"), data["kind"]),
        (t("deliverables.cli.col_period"), data["period_label"]),
        (t("deliverables.cli.col_due"), data["due_date"]),
        (t("deliverables.cli.col_state"), state),
        (t("deliverables.cli.col_submitted"), data["submitted_on"]),
        (t("deliverables.cli.col_accepted"), data["accepted_on"]),
        (t("deliverables.cli.field_accepted_by"), data["accepted_by"]),
        (t("deliverables.cli.field_report_no"), data["report_no"]),
        (t("deliverables.cli.field_path"), data["file_path"]),
        (t("deliverables.cli.field_sha"), data["sha256"]),
        (t("deliverables.cli.field_note"), data["accept_note"] or data["note"]),
    ]
    for label, value in lines:
        console.print(f"{label}：{value or '—'}", markup=False, soft_wrap=True)
    if data["history"]:
        print_table(
            t("deliverables.cli.history_title"),
            [
                t("deliverables.cli.col_at"),
                t("deliverables.cli.col_actor"),
                t("deliverables.cli.col_change"),
                t("deliverables.cli.col_note"),
            ],
            [
                [
                    h["at"],
                    h["actor"],
                    f"{svc.state_label(h['from'])} → {svc.state_label(h['to'])}",
                    h["note"],
                ]
                for h in data["history"]
            ],
        )


def _said(data: dict[str, Any]) -> dict[str, Any]:
    return {"id": data["id"], "title": data["title"], "period": data["period_label"] or ""}


@app.command("submit", help=t("deliverables.cli.help_submit"))
def submit(
    ref: IdArg,
    file: Annotated[
        Path | None, typer.Option("--file", help=t("deliverables.cli.help_file"))
    ] = None,
    on: DateOpt = None,
    force: Annotated[bool, typer.Option("--force", help=t("deliverables.cli.help_force"))] = False,
) -> None:
    """Mark a deliverable as handed to the client."""
    with db_session() as session:
        target = svc.get_deliverable(session, None, ref)
        svc.submit(session, target, actor=actor(), on=_date(on, "--date"), file=file, force=force)
        data = svc.deliverable_as_dict(target, today=_today())
    console.print(
        t("deliverables.cli.submitted", date=data["submitted_on"], **_said(data)),
        markup=False,
        soft_wrap=True,
    )


@app.command("accept", help=t("deliverables.cli.help_accept"))
def accept(
    ref: IdArg,
    by: Annotated[str, typer.Option("--by", help=t("deliverables.cli.help_by"))],
    on: DateOpt = None,
    note: Annotated[
        str | None, typer.Option("--note", help=t("deliverables.cli.help_note"))
    ] = None,
) -> None:
    """Record the client's acceptance."""
    with db_session() as session:
        target = svc.get_deliverable(session, None, ref)
        svc.accept(session, target, actor=actor(), by=by, on=_date(on, "--date"), note=note)
        data = svc.deliverable_as_dict(target, today=_today())
    console.print(
        t(
            "deliverables.cli.accepted",
            date=data["accepted_on"],
            by=data["accepted_by"],
            **_said(data),
        ),
        markup=False,
        soft_wrap=True,
    )


@app.command("reopen", help=t("deliverables.cli.help_reopen"))
def reopen(
    ref: IdArg,
    reason: Annotated[
        str | None, typer.Option("--reason", help=t("deliverables.cli.help_reason"))
    ] = None,
) -> None:
    """Take a submitted or accepted deliverable back to work."""
    with db_session() as session:
        target = svc.get_deliverable(session, None, ref)
        svc.reopen(session, target, actor=actor(), reason=reason)
        data = svc.deliverable_as_dict(target, today=_today())
    console.print(
        t("deliverables.cli.reopened", state=data["state_label"], **_said(data)),
        markup=False,
        soft_wrap=True,
    )


@app.command("add", help=t("deliverables.cli.help_add"))
def add(
    engagement: EngagementOpt,
    kind: Annotated[str, typer.Option("--kind", help=t("deliverables.cli.help_kind"))],
    due: Annotated[str, typer.Option("--due", help=t("deliverables.cli.help_due"))],
    period: Annotated[
        str | None, typer.Option("--period", help=t("deliverables.cli.help_period"))
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help=t("deliverables.cli.help_note"))
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add an on-demand deliverable."""
    due_date = _parse_date(due, "--due")
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        row = svc.add_deliverable(
            session, target, kind=kind, due=due_date, period=period, note=note, actor=actor()
        )
        data = svc.deliverable_as_dict(row, today=_today())
    if json_out:
        print_json(data)
        return
    console.print(
        t("deliverables.cli.added", id=data["id"], title=data["title"], due=data["due_date"]),
        markup=False,
        soft_wrap=True,
    )


@app.command("index", help=t("deliverables.cli.help_index"))
def index(
    engagement: EngagementOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help=t("deliverables.cli.help_out"))],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=t("deliverables.cli.help_format"))
    ] = "xlsx",
) -> None:
    """Export the index of delivered documents."""
    with db_session(readonly=True) as session:
        target = resolve_engagement(session, engagement)
        count = len(svc.list_deliverables(session, target))
        path = svc.export_index(session, target, fmt=fmt.lower(), out=out, today=_today())
    console.print(
        t("deliverables.cli.exported", path=str(path), count=count), markup=False, soft_wrap=True
    )
