"""``shaobing engagement create/list/show``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from shaobing.cli import engagement_data
from shaobing.cli.output import actor, console, db_session, print_json, print_table
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements import service
from shaobing.engagements.catalog import catalog

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]
ClientOpt = Annotated[str | None, typer.Option("--client", help=t("cli.help.client_ref"))]


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationError(t("cli.bad_date", option=option, value=value)) from exc


@app.command("create", help=t("cli.help.engagement_create"))
def create(
    name: Annotated[str, typer.Argument(help=t("cli.help.engagement_name"))],
    client: Annotated[str, typer.Option("--client", help=t("cli.help.client_ref"))],
    scope: Annotated[list[str], typer.Option("--scope", help=t("cli.help.scope_include"))],
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help=t("cli.help.scope_exclude"))
    ] = None,
    window: Annotated[list[str] | None, typer.Option("--window", help=t("cli.help.window"))] = None,
    start: Annotated[str | None, typer.Option("--start", help=t("cli.help.start"))] = None,
    end: Annotated[str | None, typer.Option("--end", help=t("cli.help.end"))] = None,
    code: Annotated[str | None, typer.Option("--code", help=t("cli.help.engagement_code"))] = None,
    system: Annotated[list[str] | None, typer.Option("--system", help=t("cli.help.system"))] = None,
    item: Annotated[list[str] | None, typer.Option("--item", help=t("cli.help.item"))] = None,
    sla: Annotated[list[str] | None, typer.Option("--sla", help=t("cli.help.sla"))] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help=t("cli.help.timezone"))] = None,
    description: Annotated[str | None, typer.Option(help=t("cli.help.description"))] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an engagement with its authorised scope."""
    spec = service.EngagementInput(
        name=name,
        scope=scope,
        exclude=exclude or [],
        windows=window or [],
        start=_date(start, "--start"),
        end=_date(end, "--end"),
        code=code,
        description=description,
        timezone=timezone or get_settings().timezone,
        systems=system or [],
        items=[service.parse_service_item(i) for i in item or []],
        sla=dict(service.parse_sla(s) for s in sla or []),
    )
    with db_session() as session:
        owner = service.resolve_client(session, client)
        engagement = service.create_engagement(session, owner, spec, actor=actor())
        data = service.engagement_as_dict(engagement)
    if json_out:
        print_json(data)
        return
    console.print(
        t(
            "cli.engagement_created",
            id=data["id"],
            name=data["name"],
            deliverables=len(data["deliverables"]),
        ),
        markup=False,
    )


@app.command("list", help=t("cli.help.engagement_list"))
def list_(client: ClientOpt = None, json_out: JsonOpt = False) -> None:
    """List engagements."""
    with db_session(readonly=True) as session:
        owner = service.resolve_client(session, client) if client else None
        data: list[dict[str, Any]] = [
            {
                "id": e.id,
                "name": e.name,
                "code": e.code,
                "client": e.client.name,
                "start": e.start_date,
                "end": e.end_date,
                "status": e.status,
                "adhoc": e.adhoc,
                "scope": [s.value for s in e.scope_entries if s.mode == "include"],
            }
            for e in service.list_engagements(session, owner)
        ]
    if json_out:
        print_json(data)
        return
    print_table(
        t("cli.engagements_title"),
        [
            t("cli.col.id"),
            t("cli.col.name"),
            t("cli.col.client"),
            t("cli.col.period"),
            t("cli.col.scope"),
        ],
        [
            [
                d["id"],
                d["name"],
                d["client"],
                _period(d["start"], d["end"]),
                ", ".join(d["scope"][:4]) + (" …" if len(d["scope"]) > 4 else ""),
            ]
            for d in data
        ],
    )


def _period(start: date | None, end: date | None) -> str:
    if not start and not end:
        return "—"
    return f"{start or '…'} ~ {end or '…'}"


@app.command("show", help=t("cli.help.engagement_show"))
def show(
    engagement: Annotated[str, typer.Argument(help=t("cli.help.engagement_ref"))],
    client: ClientOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show an engagement: scope, windows, service items, SLA and deliverables."""
    with db_session(readonly=True) as session:
        owner = service.resolve_client(session, client) if client else None
        data = service.engagement_as_dict(service.resolve_engagement(session, engagement, owner))
    if json_out:
        print_json(data)
        return
    scope = data["scope"]
    lines = [
        f"{t('cli.col.name')}：{data['name']}（ID {data['id']}）",
        f"{t('cli.col.client')}：{data['client']['name']}",
        f"{t('cli.col.period')}：{_period(data['start'], data['end'])}（{data['timezone']}）",
        f"{t('cli.scope_include')}：{', '.join(scope['include'])}",
        f"{t('cli.scope_exclude')}：{', '.join(scope['exclude']) or t('common.none')}",
        f"{t('cli.windows')}：{', '.join(scope['windows']) or t('cli.any_time')}",
        f"{t('cli.systems')}：{', '.join(data['systems']) or t('common.none')}",
    ]
    for line in lines:
        console.print(line, markup=False)
    if data["service_items"]:
        print_table(
            t("cli.items_title"),
            [t("cli.col.item"), t("cli.col.frequency"), t("cli.col.months"), t("cli.col.due")],
            [
                [
                    i["name"],
                    t(f"engagements.frequency.{i['frequency']}"),
                    ",".join(map(str, i["months"])) or None,
                    i["due_by"],
                ]
                for i in data["service_items"]
            ],
        )
    if data["deliverables"]:
        print_table(
            t("cli.deliverables_title"),
            [
                t("cli.col.id"),
                t("cli.col.deliverable"),
                t("cli.col.period"),
                t("cli.col.due"),
                t("cli.col.state"),
            ],
            [
                [
                    d["id"],
                    d["title"],
                    d["period"],
                    d["due_date"],
                    t(f"engagements.state.{d['state']}"),
                ]
                for d in data["deliverables"]
            ],
        )
    print_table(
        t("cli.sla_title"),
        [t("cli.col.sla_term"), t("cli.col.minutes")],
        [[s["name"], s["minutes"]] for s in data["sla"]],
    )


@app.command("items", help=t("cli.help.engagement_items"))
def items(json_out: JsonOpt = False) -> None:
    """List the service-item kinds and SLA terms an engagement can name."""
    cat = catalog()
    data: dict[str, list[dict[str, Any]]] = {
        "items": [
            {
                "kind": k,
                "name": v.name,
                "default_frequency": v.default_frequency.value,
                "deliverable": cat.deliverables[v.deliverable],
            }
            for k, v in cat.items.items()
        ],
        "sla": [
            {"key": k, "name": v.name, "default_minutes": v.minutes} for k, v in cat.sla.items()
        ],
    }
    if json_out:
        print_json(data)
        return
    print_table(
        t("cli.items_title"),
        [t("cli.col.kind"), t("cli.col.item"), t("cli.col.frequency"), t("cli.col.deliverable")],
        [
            [
                i["kind"],
                i["name"],
                t(f"engagements.frequency.{i['default_frequency']}"),
                i["deliverable"],
            ]
            for i in data["items"]
        ],
    )
    print_table(
        t("cli.sla_title"),
        [t("cli.col.kind"), t("cli.col.sla_term"), t("cli.col.minutes")],
        [[s["key"], s["name"], s["default_minutes"]] for s in data["sla"]],
    )


engagement_data.register(app)
