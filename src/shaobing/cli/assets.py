"""``shaobing asset import/export/list/show/template``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from shaobing.assets import ledger_io
from shaobing.assets import service as assets
from shaobing.assets.kinds import AssetType, parse_asset_type
from shaobing.cli.output import actor, console, db_session, err_console, print_json, print_table
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements import service as engagements
from shaobing.engagements.models import Client

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]
ClientOpt = Annotated[str | None, typer.Option("--client", help=t("cli.help.client_ref"))]
EngagementOpt = Annotated[
    str | None, typer.Option("--engagement", help=t("cli.help.engagement_for_client"))
]
FormatOpt = Annotated[str | None, typer.Option("--format", help=t("cli.help.ledger_format"))]


def _owner(session: Session, client: str | None, engagement: str | None) -> Client:
    if client:
        owner = engagements.resolve_client(session, client)
        if engagement:
            engagements.resolve_engagement(session, engagement, owner)
        return owner
    if engagement:
        return engagements.resolve_engagement(session, engagement).client
    raise ValidationError(t("cli.need_client"))


def _fmt(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    lowered = fmt.lower()
    if lowered not in {"csv", "xlsx"}:
        raise ValidationError(t("cli.bad_ledger_format", value=fmt))
    return lowered


@app.command("import", help=t("cli.help.asset_import"))
def import_(
    file: Annotated[Path, typer.Argument(help=t("cli.help.ledger_file"))],
    client: ClientOpt = None,
    engagement: EngagementOpt = None,
    fmt: FormatOpt = None,
    encoding: Annotated[str | None, typer.Option(help=t("cli.help.encoding"))] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help=t("cli.help.skip_bad"))] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import (merge) an asset ledger; by default nothing is imported if any row is bad."""
    if not file.is_file():
        raise NotFoundError(t("cli.file_not_found", path=file))
    rows, errors = ledger_io.read_ledger(file, fmt=_fmt(fmt), encoding=encoding)
    settings = get_settings()
    try:
        with db_session() as session:
            owner = _owner(session, client, engagement)
            summary = assets.import_rows(
                session,
                owner,
                rows,
                errors,
                source_name=file.name,
                actor=actor(),
                skip_bad=skip_bad,
                method=settings.valuation_method,
                weights=settings.valuation_weights,
            )
    except assets.LedgerImportRefused as refused:
        for error in refused.errors:
            err_console.print(error.message(), markup=False, soft_wrap=True)
        raise
    if json_out:
        print_json({"file": str(file)} | summary.as_dict())
        return
    for error in summary.skipped:
        err_console.print(error.message(), markup=False, soft_wrap=True)
    console.print(
        t(
            "assets.import_summary",
            file=file.name,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        ),
        markup=False,
    )


@app.command("export", help=t("cli.help.asset_export"))
def export(
    file: Annotated[Path, typer.Argument(help=t("cli.help.ledger_out"))],
    client: ClientOpt = None,
    engagement: EngagementOpt = None,
    fmt: FormatOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the client's ledger to CSV (UTF-8 with BOM) or XLSX."""
    with db_session(readonly=True) as session:
        owner = _owner(session, client, engagement)
        systems = assets.system_names(session, owner)
        rows = [assets.asset_to_row(a, systems) for a in assets.list_assets(session, owner)]
    ledger_io.write_ledger(file, rows, fmt=_fmt(fmt))
    if json_out:
        print_json({"file": str(file), "assets": len(rows)})
        return
    console.print(t("cli.ledger_exported", count=len(rows), path=file), markup=False)


@app.command("list", help=t("cli.help.asset_list"))
def list_(
    client: ClientOpt = None,
    engagement: EngagementOpt = None,
    system: Annotated[str | None, typer.Option("--system", help=t("cli.help.system"))] = None,
    kind: Annotated[str | None, typer.Option("--type", help=t("cli.help.asset_type"))] = None,
    zone: Annotated[str | None, typer.Option("--zone", help=t("cli.help.zone"))] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the client's assets."""
    asset_type: AssetType | None = None
    if kind is not None:
        asset_type = parse_asset_type(kind)
        if asset_type is None:
            raise ValidationError(t("cli.bad_asset_type", value=kind))
    with db_session(readonly=True) as session:
        owner = _owner(session, client, engagement)
        systems = assets.system_names(session, owner)
        data = [
            assets.asset_as_dict(a, systems)
            for a in assets.list_assets(
                session, owner, system=system, asset_type=asset_type, zone=zone
            )
        ]
    if json_out:
        print_json(data)
        return
    print_table(
        t("cli.assets_title", count=len(data)),
        [
            t("cli.col.id"),
            t("cli.col.name"),
            t("cli.col.type"),
            t("cli.col.addresses"),
            t("cli.col.system"),
            t("cli.col.zone"),
            t("cli.col.owner"),
            "C/I/A",
            t("cli.col.value"),
        ],
        [
            [
                d["id"],
                d["name"],
                d["type_label"],
                ", ".join(d["addresses"]) or d["hostname"] or d["url"],
                d["system"],
                d["zone"],
                d["owner"],
                f"{d['confidentiality']}/{d['integrity']}/{d['availability']}",
                f"{d['value']}（{t('assets.level_' + str(d['value']))}）",
            ]
            for d in data
        ],
    )


@app.command("show", help=t("cli.help.asset_show"))
def show(
    asset: Annotated[str, typer.Argument(help=t("cli.help.asset_ref"))],
    client: ClientOpt = None,
    engagement: EngagementOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one asset with its change history."""
    with db_session(readonly=True) as session:
        owner = _owner(session, client, engagement)
        systems = assets.system_names(session, owner)
        found = assets.find_asset(session, owner, asset)
        data = assets.asset_as_dict(found, systems)
        data["history"] = [
            {
                "at": c.changed_at.isoformat(),
                "actor": c.actor,
                "source": c.source,
                "kind": c.kind,
                "changes": c.changes,
            }
            for c in assets.asset_history(session, owner, found.id)
        ]
        data["services"] = [
            {
                "port": svc.port,
                "protocol": svc.protocol,
                "state": svc.state,
                "service": svc.service,
                "product": svc.product,
                "version": svc.version,
                "cpe": list(svc.cpe or []),
                "source": svc.source,
                "first_seen": svc.first_seen.isoformat(),
                "last_seen": svc.last_seen.isoformat(),
            }
            for svc in assets.asset_services(session, owner, found.id)
        ]
    if json_out:
        print_json(data)
        return
    for key in (
        "name",
        "type_label",
        "addresses",
        "hostname",
        "url",
        "os",
        "system",
        "zone",
        "owner",
        "importance",
        "value",
    ):
        value = data[key]
        if isinstance(value, list):
            value = ", ".join(value)
        console.print(
            f"{t('cli.field.' + key)}：{value if value not in (None, '') else '—'}", markup=False
        )
    if data["services"]:
        print_table(
            t("cli.services_title"),
            [
                t("cli.col.port"),
                t("cli.col.state"),
                t("cli.col.service"),
                t("cli.col.product"),
                t("cli.col.last_seen"),
            ],
            [
                [
                    f"{s['port']}/{s['protocol']}",
                    s["state"],
                    s["service"],
                    " ".join(x for x in (s["product"], s["version"]) if x) or None,
                    s["last_seen"][:16].replace("T", " "),
                ]
                for s in data["services"]
            ],
        )
    print_table(
        t("cli.history_title"),
        [t("cli.col.time"), t("cli.col.actor"), t("cli.col.source"), t("cli.col.change")],
        [
            [
                h["at"],
                h["actor"],
                h["source"],
                "; ".join(f"{k}: {v[0]} → {v[1]}" for k, v in h["changes"].items()),
            ]
            for h in data["history"]
        ],
    )


@app.command("template", help=t("cli.help.asset_template"))
def template(
    file: Annotated[Path, typer.Argument(help=t("cli.help.ledger_out"))],
    fmt: FormatOpt = None,
) -> None:
    """Write an empty ledger template with examples and a column guide."""
    ledger_io.write_template(file, fmt=_fmt(fmt))
    console.print(t("cli.template_written", path=file), markup=False)
