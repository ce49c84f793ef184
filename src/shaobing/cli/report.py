"""``shaobing report``: build the contract's reports and list what was built (I1)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer

from shaobing.cli.output import actor, console, db_session, print_table, write_json
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.service import resolve_engagement
from shaobing.reports import config

app = typer.Typer(no_args_is_help=True, help=t("reports.cli.help_group"))

EngagementOpt = Annotated[
    str, typer.Option("--engagement", "-e", help=t("reports.cli.help_engagement"))
]
JsonOpt = Annotated[str | None, typer.Option("--json", help=t("reports.cli.help_json"))]


@app.command("types", help=t("reports.cli.help_types"))
def types(json_out: JsonOpt = None) -> None:
    """List the report types with their deliverable and period rule."""
    rows = [
        {
            "type": name,
            "title": kind.title,
            "deliverable": kind.deliverable,
            "period": kind.period,
            "description": kind.description,
            "formats": ["docx", "pdf", "html", "xlsx"],
        }
        for name, kind in config.report_types().types.items()
    ]
    if json_out is not None:
        write_json(json_out, {"types": rows})
        return
    print_table(
        None,
        [
            t("reports.cli.col_type"),
            t("reports.cli.col_title"),
            t("reports.cli.col_period"),
            t("reports.cli.col_description"),
        ],
        [
            [r["type"], r["title"], t(f"reports.cli.period_{r['period']}"), r["description"]]
            for r in rows
        ],
    )


def _options(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(t("reports.cli.bad_set", item=item))
        out[key.strip()] = value.strip()
    return out


@app.command("build", help=t("reports.cli.help_build"))
def build(
    report_type: Annotated[str, typer.Argument(help=t("reports.cli.help_type"))],
    engagement: EngagementOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help=t("reports.cli.help_out"))],
    fmt: Annotated[str, typer.Option("--format", "-f", help=t("reports.cli.help_format"))] = "docx",
    period: Annotated[
        str | None, typer.Option("--period", "-p", help=t("reports.cli.help_period"))
    ] = None,
    deliverable: Annotated[
        str | None, typer.Option("--deliverable", help=t("reports.cli.help_deliverable"))
    ] = None,
    notes: Annotated[Path | None, typer.Option("--notes", help=t("reports.cli.help_notes"))] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help=t("reports.cli.help_set"))] = None,
    json_out: JsonOpt = None,
) -> None:
    """Build one report into ``--out``."""
    from shaobing.reports.service import build_report  # noqa: PLC0415 - heavy imports

    config.report_type(report_type)
    if out.is_dir():
        raise ValidationError(t("reports.out_exists_dir", path=str(out)))
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        result = build_report(
            session,
            target,
            report_type,
            fmt=fmt.lower(),
            out=out,
            actor=actor(),
            period=period,
            options=_options(set_),
            notes_dir=notes,
            deliverable=deliverable,
        )
    data: dict[str, Any] = {
        "build_id": result.build_id,
        "type": result.report_type,
        "title": result.title,
        "report_no": result.report_no,
        "format": result.format,
        "path": str(result.path),
        "sha256": result.sha256,
        "size": result.size,
        "deliverable_id": result.deliverable_id,
    }
    if json_out is not None:
        write_json(json_out, data)
        if json_out == "-":
            return
    console.print(t("reports.cli.built", **data), markup=False, soft_wrap=True)
    if result.deliverable_id is not None:
        console.print(
            t("reports.cli.attached", deliverable=result.deliverable_id),
            markup=False,
            soft_wrap=True,
        )


@app.command("builds", help=t("reports.cli.help_builds"))
def builds(engagement: EngagementOpt, json_out: JsonOpt = None) -> None:
    """List the engagement's built reports, newest first."""
    from shaobing.reports.service import list_builds  # noqa: PLC0415

    with db_session(readonly=True) as session:
        target = resolve_engagement(session, engagement)
        rows = [
            {
                "id": b.id,
                "type": b.report_type,
                "period": b.period,
                "report_no": b.report_no,
                "format": b.format,
                "path": b.path,
                "sha256": b.sha256,
                "deliverable_id": b.deliverable_id,
                "built_by": b.built_by,
                "built_at": b.built_at.isoformat(timespec="seconds"),
            }
            for b in list_builds(session, target)
        ]
    if json_out is not None:
        write_json(json_out, {"builds": rows})
        return
    print_table(
        None,
        [
            t("reports.cli.col_id"),
            t("reports.cli.col_type"),
            t("reports.cli.col_period"),
            t("reports.cli.col_report_no"),
            t("reports.cli.col_format"),
            t("reports.cli.col_built_at"),
            t("reports.cli.col_path"),
        ],
        [
            [r["id"], r["type"], r["period"], r["report_no"], r["format"], r["built_at"], r["path"]]
            for r in rows
        ],
    )


@app.command("template", help=t("reports.cli.help_template"))
def template(
    report_type: Annotated[str, typer.Argument(help=t("reports.cli.help_type"))],
    out: Annotated[Path | None, typer.Option("--out", "-o", help=t("reports.cli.help_out"))] = None,
) -> None:
    """Write the built-in template of a report type for editing."""
    config.report_type(report_type)
    text = (
        resources.files("shaobing.reports")
        .joinpath("templates", f"{report_type}.md.j2")
        .read_text("utf-8")
    )
    target = out or config.reports_home() / "templates" / f"{report_type}.md.j2"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    console.print(t("reports.cli.written", path=str(target)), markup=False, soft_wrap=True)


@app.command("branding", help=t("reports.cli.help_branding"))
def branding(
    out: Annotated[Path | None, typer.Option("--out", "-o", help=t("reports.cli.help_out"))] = None,
) -> None:
    """Write the default branding file for editing."""
    text = resources.files("shaobing.reports").joinpath("data", "branding.yaml").read_text("utf-8")
    target = out or config.reports_home() / "branding.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    console.print(t("reports.cli.written", path=str(target)), markup=False, soft_wrap=True)
