"""``shaobing workorder list/show/assign/move/comment``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer

from shaobing.cli.findings import _print_history, parse_statuses, resolve_engagement
from shaobing.cli.output import actor, console, db_session, print_json, print_table
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.findings import service
from shaobing.findings.workflow import Role, Status, status_label

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]
RoleOpt = Annotated[str, typer.Option("--role", help=t("cli.help.role"))]


def parse_order_id(text: str) -> int:
    """``WO-12``, ``wo12`` or ``12``."""
    cleaned = text.strip().upper().removeprefix("WO").lstrip("-")
    if not cleaned.isdigit():
        raise ValidationError(t("cli.bad_work_order", value=text))
    return int(cleaned)


def parse_role(text: str) -> Role:
    """A role identifier (engineer, client_owner, admin)."""
    try:
        role = Role(text)
    except ValueError:
        role = None
    if role is None or role is Role.SYSTEM:
        raise ValidationError(t("cli.bad_role", value=text))
    return role


@app.command("list", help=t("cli.help.workorder_list"))
def list_(
    engagement: Annotated[
        str | None, typer.Option("--engagement", help=t("cli.help.engagement_ref"))
    ] = None,
    state: Annotated[
        list[str] | None, typer.Option("--state", help=t("cli.help.findings_status"))
    ] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help=t("cli.help.assignee"))] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help=t("cli.help.overdue"))] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Work orders of an engagement, earliest deadline first."""
    today = datetime.now(UTC).date()
    with db_session(readonly=True) as session:
        target = resolve_engagement(session, engagement)
        total, orders = service.list_work_orders(
            session,
            target,
            states=parse_statuses(state),
            assignee=assignee,
            overdue_on=today if overdue else None,
            limit=limit,
            offset=offset,
        )
        items = [service.work_order_as_dict(o, today=today) for o in orders]
    if json_out:
        print_json({"total": total, "limit": limit, "offset": offset, "work_orders": items})
        return
    print_table(
        t("cli.work_orders_title", total=total, shown=len(items)),
        [
            "WO",
            t("cli.col.severity"),
            t("cli.col.title"),
            t("cli.col.state"),
            t("cli.col.assignee"),
            t("cli.col.due"),
        ],
        [
            [
                f"WO-{i['id']}",
                i["severity_label"],
                i["title"],
                i["state_label"],
                i["assignee"],
                f"{i['due_date']}{t('cli.overdue_mark') if i['overdue'] else ''}"
                if i["due_date"]
                else None,
            ]
            for i in items
        ],
    )


@app.command("show", help=t("cli.help.workorder_show"))
def show(
    order: Annotated[str, typer.Argument(help=t("cli.help.work_order"))],
    json_out: JsonOpt = False,
) -> None:
    """A work order with its findings and full history."""
    with db_session(readonly=True) as session:
        found = service.get_work_order(session, None, parse_order_id(order))
        data = service.work_order_as_dict(found)
        data["findings"] = [
            service.finding_as_dict(f) for f in service.order_findings(session, found)
        ]
        data["history"] = [
            service.event_as_dict(e) for e in service.history(session, order_id=found.id)
        ]
    if json_out:
        print_json(data)
        return
    console.print(f"WO-{data['id']} {data['title']}", markup=False)
    console.print(
        t(
            "cli.work_order_line",
            state=data["state_label"],
            severity=data["severity_label"],
            assignee=data["assignee"] or "—",
            due=data["due_date"] or "—",
        ),
        markup=False,
    )
    print_table(
        t("cli.findings_title", total=len(data["findings"]), shown=len(data["findings"])),
        [t("cli.col.id"), t("cli.col.severity"), t("cli.col.title"), t("cli.col.state")],
        [[f["id"], f["severity_label"], f["title"], f["status_label"]] for f in data["findings"]],
    )
    _print_history(data["history"])


@app.command("assign", help=t("cli.help.workorder_assign"))
def assign(
    order: Annotated[str, typer.Argument(help=t("cli.help.work_order"))],
    assignee: Annotated[str, typer.Argument(help=t("cli.help.assignee"))],
    role: RoleOpt = "engineer",
    json_out: JsonOpt = False,
) -> None:
    """Assign a work order (a new one becomes 待修复)."""
    with db_session() as session:
        found = service.get_work_order(session, None, parse_order_id(order))
        service.assign(session, found, assignee, actor=actor(), role=parse_role(role))
        data = service.work_order_as_dict(found)
    if json_out:
        print_json(data)
        return
    console.print(
        t("cli.assigned", id=data["id"], assignee=data["assignee"], state=data["state_label"]),
        markup=False,
    )


@app.command("move", help=t("cli.help.workorder_move"))
def move(
    order: Annotated[str, typer.Argument(help=t("cli.help.work_order"))],
    state: Annotated[str, typer.Argument(help=t("cli.help.target_state"))],
    reason: Annotated[str | None, typer.Option("--reason", help=t("cli.help.reason"))] = None,
    until: Annotated[str | None, typer.Option("--until", help=t("cli.help.until"))] = None,
    role: RoleOpt = "engineer",
    json_out: JsonOpt = False,
) -> None:
    """Move a work order's findings to another state (checked against the state machine)."""
    statuses = parse_statuses([state])
    assert statuses  # parse_statuses raises on anything else
    expiry: date | None = None
    if until is not None:
        try:
            expiry = date.fromisoformat(until)
        except ValueError as exc:
            raise ValidationError(t("cli.bad_date", option="--until", value=until)) from exc
    with db_session() as session:
        found = service.get_work_order(session, None, parse_order_id(order))
        moved = service.move_work_order(
            session,
            found,
            statuses[0],
            actor=actor(),
            role=parse_role(role),
            reason=reason,
            until=expiry,
        )
        data = service.work_order_as_dict(found) | {"moved": moved}
    if json_out:
        print_json(data)
        return
    console.print(
        t("cli.moved", id=data["id"], moved=moved, state=status_label(Status(data["state"]))),
        markup=False,
    )


@app.command("comment", help=t("cli.help.workorder_comment"))
def comment(
    order: Annotated[str, typer.Argument(help=t("cli.help.work_order"))],
    text: Annotated[str, typer.Argument(help=t("cli.help.comment_text"))],
    role: RoleOpt = "engineer",
) -> None:
    """Add a comment to a work order."""
    with db_session() as session:
        found = service.get_work_order(session, None, parse_order_id(order))
        service.comment(session, found, text, actor=actor(), role=parse_role(role))
    console.print(t("cli.commented", id=found.id), markup=False)
