"""``shaobing findings import/list/show/export/rededup/formats/sla`` and ``shaobing retest``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from shaobing.assets.service import find_asset
from shaobing.cli.output import actor, console, db_session, err_console, print_json, print_table
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings
from shaobing.engagements import service as engagements
from shaobing.engagements.models import Engagement
from shaobing.findings import service
from shaobing.findings.exporters import EXPORT_FORMATS, export_findings
from shaobing.findings.importers.registry import all_importers
from shaobing.findings.ingest import IngestOptions
from shaobing.findings.retest import retest_finding
from shaobing.findings.severity import Severity, parse_severity
from shaobing.findings.workflow import Status, status_label

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]
EngagementOpt = Annotated[
    str | None, typer.Option("--engagement", help=t("cli.help.engagement_ref"))
]
SeverityOpt = Annotated[
    list[str] | None, typer.Option("--severity", help=t("cli.help.findings_severity"))
]
StatusOpt = Annotated[
    list[str] | None, typer.Option("--status", help=t("cli.help.findings_status"))
]
AssetOpt = Annotated[str | None, typer.Option("--asset", help=t("cli.help.findings_asset"))]
HostOpt = Annotated[str | None, typer.Option("--host", help=t("cli.help.findings_host"))]
SourceOpt = Annotated[str | None, typer.Option("--source", help=t("cli.help.findings_source"))]
SearchOpt = Annotated[str | None, typer.Option("--search", help=t("cli.help.findings_search"))]
OpenOpt = Annotated[bool, typer.Option("--open", help=t("cli.help.findings_open"))]


def resolve_engagement(session: Session, ref: str | None) -> Engagement:
    """The named engagement, or the only one there is when none is named."""
    if ref:
        return engagements.resolve_engagement(session, ref)
    candidates = [e for e in engagements.list_engagements(session) if not e.adhoc]
    if len(candidates) == 1:
        return candidates[0]
    raise ValidationError(t("cli.need_engagement"))


def parse_statuses(values: list[str] | None) -> list[Status] | None:
    """``--status`` values: identifiers (to_fix) or Chinese labels (待修复)."""
    if not values:
        return None
    by_label = {status_label(s): s for s in Status}
    out = []
    for value in values:
        for piece in value.split(","):
            key = piece.strip()
            status = by_label.get(key) or (
                Status(key) if key in Status._value2member_map_ else None
            )
            if status is None:
                raise ValidationError(t("cli.bad_status", value=key, known="、".join(by_label)))
            out.append(status)
    return out


def parse_severities(values: list[str] | None) -> list[Severity] | None:
    """``--severity`` values: critical/high/... or 严重/高/中/低/信息."""
    if not values:
        return None
    out = []
    for value in values:
        for piece in value.split(","):
            key = piece.strip()
            sentinel = Severity.INFO if key.lower() != "info" else Severity.CRITICAL
            level = parse_severity(key, default=sentinel)
            if level is sentinel:
                raise ValidationError(t("cli.bad_severity", value=key))
            out.append(level)
    return out


def _filter(
    session: Session,
    engagement: Engagement,
    severity: list[str] | None,
    status: list[str] | None,
    asset: str | None,
    host: str | None,
    source: str | None,
    search: str | None,
    open_only: bool,
) -> service.FindingFilter:
    asset_id = None
    if asset:
        asset_id = find_asset(session, engagement.client, asset).id
    return service.FindingFilter(
        severities=parse_severities(severity),
        statuses=parse_statuses(status),
        asset_id=asset_id,
        host=host,
        source=source,
        search=search,
        open_only=open_only,
    )


@app.command("import", help=t("cli.help.findings_import"))
def import_(
    file: Annotated[Path, typer.Argument(help=t("cli.help.findings_file"))],
    fmt: Annotated[str | None, typer.Option("--format", help=t("cli.help.findings_format"))] = None,
    engagement: EngagementOpt = None,
    grouping: Annotated[
        str | None, typer.Option("--grouping", help=t("cli.help.findings_grouping"))
    ] = None,
    no_close: Annotated[bool, typer.Option("--no-close", help=t("cli.help.no_close"))] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import a scanner output file into an engagement's findings."""
    if not file.is_file():
        raise NotFoundError(t("cli.file_not_found", path=file))
    settings = get_settings()
    chosen_grouping = grouping or settings.workorder_grouping
    if chosen_grouping not in {"finding", "host"}:
        raise ValidationError(t("cli.bad_grouping", value=chosen_grouping))
    options = IngestOptions(
        actor=actor(),
        grouping=chosen_grouping,
        dedup_scope=settings.dedup_scope,
        close_absent=not no_close,
    )
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        summary = service.import_file(session, target, file, fmt=fmt, options=options)
    data = summary.as_dict()
    if json_out:
        print_json(
            {
                k: data[k]
                for k in (
                    "format",
                    "created",
                    "duplicates",
                    "updated",
                    "closed",
                    "reopened",
                    "assets_updated",
                )
            }
            | {"import_id": data["import_id"], "work_orders_created": data["work_orders_created"]}
        )
        return
    console.print(t("cli.import_summary", file=file.name, **data), markup=False)


@app.command("formats", help=t("cli.help.findings_formats"))
def formats(json_out: JsonOpt = False) -> None:
    """List the importable formats."""
    data = [
        {"name": name, "label": cls.label, "suffixes": list(cls.suffixes)}
        for name, cls in all_importers().items()
    ]
    if json_out:
        print_json(data)
        return
    print_table(
        t("cli.formats_title"),
        [t("cli.col.kind"), t("cli.col.name"), t("cli.col.suffix")],
        [[d["name"], d["label"], " ".join(d["suffixes"])] for d in data],
    )


@app.command("list", help=t("cli.help.findings_list"))
def list_(
    engagement: EngagementOpt = None,
    severity: SeverityOpt = None,
    status: StatusOpt = None,
    asset: AssetOpt = None,
    host: HostOpt = None,
    source: SourceOpt = None,
    search: SearchOpt = None,
    open_only: OpenOpt = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    json_out: JsonOpt = False,
) -> None:
    """One page of an engagement's findings, most severe first."""
    with db_session(readonly=True) as session:
        target = resolve_engagement(session, engagement)
        flt = _filter(session, target, severity, status, asset, host, source, search, open_only)
        total, page = service.list_findings(session, target, flt, limit=limit, offset=offset)
        items = [service.finding_as_dict(f) for f in page]
    if json_out:
        print_json(
            {
                "total": min(total, service.COUNT_CAP),
                "total_capped": total > service.COUNT_CAP,
                "limit": limit,
                "offset": offset,
                "findings": items,
            }
        )
        return
    print_table(
        t(
            "cli.findings_title",
            total=f"{service.COUNT_CAP}+" if total > service.COUNT_CAP else total,
            shown=len(items),
        ),
        [
            t("cli.col.id"),
            t("cli.col.severity"),
            t("cli.col.title"),
            t("cli.col.where"),
            t("cli.col.state"),
            t("cli.col.source"),
            "WO",
        ],
        [
            [
                i["id"],
                i["severity_label"],
                i["title"],
                _where(i),
                i["status_label"],
                i["source_tool"],
                i["work_order_id"],
            ]
            for i in items
        ],
    )


def _where(item: dict[str, Any]) -> str | None:
    if item["url"]:
        return str(item["url"])
    if item["file_path"]:
        return f"{item['file_path']}:{item['line']}" if item["line"] else str(item["file_path"])
    if item["host"]:
        return f"{item['host']}:{item['port']}" if item["port"] else str(item["host"])
    return None


@app.command("show", help=t("cli.help.findings_show"))
def show(
    finding_id: Annotated[int, typer.Argument(help=t("cli.help.finding_id"))],
    json_out: JsonOpt = False,
) -> None:
    """One finding with its history."""
    with db_session(readonly=True) as session:
        finding = service.get_finding(session, None, finding_id)
        data = service.finding_as_dict(finding)
        data["history"] = [
            service.event_as_dict(e) for e in service.history(session, finding_id=finding.id)
        ]
    if json_out:
        print_json(data)
        return
    for key in (
        "title",
        "severity_label",
        "status_label",
        "source_tool",
        "check_id",
        "cvss_v3_score",
        "cvss_v3_vector",
        "cve_ids",
        "cwe_ids",
        "description",
        "remediation",
        "evidence",
        "times_seen",
        "first_seen",
        "last_seen",
    ):
        value = data[key]
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if value not in (None, ""):
            console.print(f"{t('cli.finding_field.' + key)}：{value}", markup=False)
    where = _where(data)
    if where:
        console.print(f"{t('cli.col.where')}：{where}", markup=False)
    _print_history(data["history"])


def _print_history(events: list[dict[str, Any]]) -> None:
    print_table(
        t("cli.history_title"),
        [t("cli.col.time"), t("cli.col.actor"), t("cli.col.change"), t("cli.col.reason")],
        [[e["at"][:19], e["actor"], _event_text(e), e["reason"]] for e in events],
    )


def _event_text(event: dict[str, Any]) -> str:
    if event["kind"] in {"transition", "created"} and event["to"]:
        source = status_label(event["from"]) if event["from"] else "—"
        return f"{source} → {status_label(event['to'])}"
    if event["kind"] == "assign":
        return t("cli.event_assign", to=event["detail"].get("to"))
    return t(f"cli.event_kind.{event['kind']}")


@app.command("export", help=t("cli.help.findings_export"))
def export(
    file: Annotated[Path, typer.Argument(help=t("cli.help.export_file"))],
    engagement: EngagementOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", help=t("cli.help.export_format"))] = None,
    severity: SeverityOpt = None,
    status: StatusOpt = None,
    asset: AssetOpt = None,
    host: HostOpt = None,
    source: SourceOpt = None,
    search: SearchOpt = None,
    open_only: OpenOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Export an engagement's findings (CSV, XLSX, JSON or SARIF)."""
    if fmt is not None and fmt.lower() not in EXPORT_FORMATS:
        raise ValidationError(
            t("findings.export_format", format=fmt, known=", ".join(EXPORT_FORMATS))
        )
    with db_session(readonly=True) as session:
        target = resolve_engagement(session, engagement)
        flt = _filter(session, target, severity, status, asset, host, source, search, open_only)
        query = service.filtered_query(target, flt)
        count = export_findings(file, session.scalars(query.execution_options(yield_per=2000)), fmt)
    if json_out:
        print_json({"file": str(file), "findings": count})
        return
    console.print(t("cli.findings_exported", count=count, path=file), markup=False)


@app.command("rededup", help=t("cli.help.findings_rededup"))
def rededup(engagement: EngagementOpt = None, json_out: JsonOpt = False) -> None:
    """Re-apply fingerprints after a rule change, merging findings that now coincide."""
    override = get_settings().home / "fingerprints.yaml"
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        result = service.rededup(session, target, actor=actor(), override=override)
    if json_out:
        print_json(result)
        return
    console.print(t("cli.rededup_done", **result), markup=False)


@app.command("sla", help=t("cli.help.findings_sla"))
def sla(
    engagement: EngagementOpt = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help=t("cli.help.sla_set"))] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show (or set) remediation days per severity for an engagement."""
    with db_session(readonly=not set_) as session:
        target = resolve_engagement(session, engagement)
        for item in set_ or []:
            key, _, raw = item.partition("=")
            levels = parse_severities([key])
            if not levels or not raw.strip().isdigit():
                raise ValidationError(t("cli.bad_sla_set", value=item))
            service.set_sla_days(session, target, levels[0], int(raw))
        session.flush()
        table = service.sla_table(session, target)
    if json_out:
        print_json(table)
        return
    print_table(
        t("cli.sla_days_title"),
        [t("cli.col.severity"), t("cli.col.days")],
        [[Severity(k).label, v] for k, v in table.items()],
    )


def retest(
    finding_ids: Annotated[list[int], typer.Argument(help=t("cli.help.retest_ids"))],
    json_out: JsonOpt = False,
) -> None:
    """Re-check findings with their source and move them by the outcome."""
    results: list[dict[str, Any]] = []
    failed = False
    for finding_id in finding_ids:
        try:
            with db_session() as session:
                finding = service.get_finding(session, None, finding_id)
                outcome = retest_finding(session, finding, actor=actor())
                results.append(
                    {
                        "id": finding_id,
                        "detected": outcome.detected,
                        "status": finding.status,
                        "evidence": outcome.evidence,
                    }
                )
        except ValidationError as exc:
            failed = True
            results.append({"id": finding_id, "error": exc.message})
            if not json_out:
                err_console.print(exc.message, markup=False)
    if json_out:
        print_json(results)
    else:
        for row in results:
            if "error" not in row:
                console.print(
                    t(
                        "cli.retest_result",
                        id=row["id"],
                        outcome=t("findings.retest_detected")
                        if row["detected"]
                        else t("findings.retest_not_detected"),
                        status=status_label(row["status"]),
                    ),
                    markup=False,
                )
    if failed:
        raise typer.Exit(1)
