"""``shaobing mlps ...``: the 等保 2.0 assessment (E2) — objects, records, score, gaps, sheets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from shaobing.assess.mlps import service
from shaobing.assess.mlps.catalogue import OBJECT_TYPES
from shaobing.assess.mlps.models import MlpsAssessment
from shaobing.assess.mlps.xlsx_io import read_sheet, write_template
from shaobing.cli.output import actor, console, db_session, print_json, print_table
from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.service import resolve_engagement

app = typer.Typer(no_args_is_help=True, help=t("mlps.cli.help_group"))

EngagementOpt = Annotated[
    str, typer.Option("--engagement", "-e", help=t("mlps.cli.help_engagement"))
]
JsonOpt = Annotated[bool, typer.Option("--json", help=t("mlps.cli.help_json"))]


@app.command("init", help=t("mlps.cli.help_init"))
def init(
    engagement: EngagementOpt,
    level: Annotated[int, typer.Option("--level", help=t("mlps.cli.help_level"))] = 3,
    pack: Annotated[list[str] | None, typer.Option("--pack", help=t("mlps.cli.help_pack"))] = None,
    flag: Annotated[list[str] | None, typer.Option("--flag", help=t("mlps.cli.help_flag"))] = None,
    new: Annotated[bool, typer.Option("--new", help=t("mlps.cli.help_new"))] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create (or re-sync) the engagement's assessment with objects from the asset ledger."""
    with db_session() as session:
        eng = resolve_engagement(session, engagement)
        outcome = service.init_assessment(
            session, eng, level=level, packs=pack or [], flags=flag or [], actor=actor(), new=new
        )
        assessment = outcome.assessment
        objects = service.list_objects(session, assessment)
        doc: dict[str, Any] = {
            "assessment_id": assessment.id,
            "created": outcome.created,
            "level": assessment.level,
            "packs": list(assessment.packs),
            "flags": list(assessment.flags),
            "objects": [{"name": o.name, "type": o.object_type} for o in objects],
            "objects_added": outcome.objects_added,
            "prefill": outcome.prefill,
        }
    if as_json:
        print_json(doc)
        return
    key = "mlps.cli.created" if outcome.created else "mlps.cli.synced"
    console.print(
        t(
            key,
            id=doc["assessment_id"],
            level=level,
            objects=len(doc["objects"]),
            added=outcome.objects_added,
        ),
        markup=False,
    )
    _print_prefill(outcome.prefill)


def _print_prefill(summary: dict[str, Any]) -> None:
    console.print(
        t(
            "mlps.cli.prefill",
            written=summary["written"],
            kept=summary["kept_manual"],
            removed=summary["removed"],
            unmapped=summary["rules_unmapped"],
            findings=summary["findings_used"],
        ),
        markup=False,
    )
    if summary["targets_unmatched"]:
        console.print(
            t("mlps.cli.unmatched", targets="、".join(summary["targets_unmatched"])), markup=False
        )


def _assessment(session: Any, engagement: str) -> tuple[Any, MlpsAssessment]:
    eng = resolve_engagement(session, engagement)
    return eng, service.current_assessment(session, eng)


@app.command("objects", help=t("mlps.cli.help_objects"))
def objects(engagement: EngagementOpt, as_json: JsonOpt = False) -> None:
    """List the assessment objects."""
    with db_session(readonly=True) as session:
        _, assessment = _assessment(session, engagement)
        rows: list[dict[str, Any]] = [
            {
                "id": o.id,
                "name": o.name,
                "type": o.object_type,
                "hosts": list(o.hosts),
                "asset_id": o.asset_id,
            }
            for o in service.list_objects(session, assessment)
        ]
    if as_json:
        print_json({"assessment_id": assessment.id, "objects": rows})
        return
    print_table(
        t("mlps.cli.objects_title", id=assessment.id),
        [
            t("mlps.cli.col_id"),
            t("mlps.cli.col_object"),
            t("mlps.cli.col_type"),
            t("mlps.cli.col_hosts"),
        ],
        [
            (r["id"], r["name"], t(f"mlps.object_type.{r['type']}"), "、".join(r["hosts"]) or None)
            for r in rows
        ],
    )


@app.command("add-object", help=t("mlps.cli.help_add_object"))
def add_object(
    engagement: EngagementOpt,
    name: Annotated[str, typer.Argument(help=t("mlps.cli.help_object_name"))],
    object_type: Annotated[
        str,
        typer.Option("--type", help=t("mlps.cli.help_object_type", types="、".join(OBJECT_TYPES))),
    ],
    host: Annotated[list[str] | None, typer.Option("--host", help=t("mlps.cli.help_host"))] = None,
) -> None:
    """Add an assessment object that is not in the asset ledger."""
    with db_session() as session:
        _, assessment = _assessment(session, engagement)
        obj = service.add_object(session, assessment, name, object_type, host or [])
        console.print(
            t("mlps.cli.object_added", name=obj.name, id=obj.id), markup=False, soft_wrap=True
        )


@app.command("record", help=t("mlps.cli.help_record"))
def record(
    engagement: EngagementOpt,
    object_ref: Annotated[str, typer.Option("--object", "-o", help=t("mlps.cli.help_object"))],
    item: Annotated[str, typer.Option("--item", "-i", help=t("mlps.cli.help_item"))],
    result: Annotated[str, typer.Option("--result", "-r", help=t("mlps.cli.help_result"))],
    evidence: Annotated[
        str | None, typer.Option("--evidence", help=t("mlps.cli.help_evidence"))
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help=t("mlps.cli.help_note"))] = None,
) -> None:
    """Record one manual result (it wins over pre-filled ones)."""
    with db_session() as session:
        eng = resolve_engagement(session, engagement)
        saved = service.record_manual(
            session, eng, object_ref, item, result, evidence=evidence, note=note, actor=actor()
        )
        console.print(
            t("mlps.cli.recorded", object=object_ref, item=saved.item_id, result=saved.result),
            markup=False,
        )


@app.command("template", help=t("mlps.cli.help_template"))
def template(
    path: Annotated[Path, typer.Argument(help=t("mlps.cli.help_sheet_path"))],
    engagement: EngagementOpt,
) -> None:
    """Write the record sheet (XLSX) with every applicable object and item."""
    if path.suffix.lower() != ".xlsx":
        raise ValidationError(t("mlps.sheet.want_xlsx", file=str(path)))
    with db_session() as session:
        eng, assessment = _assessment(session, engagement)
        service.refresh_prefill(session, assessment, actor=actor())
        rows = write_template(
            path,
            service.catalogue_of(assessment),
            assessment.id,
            eng.name,
            service.object_views(session, assessment),
            service.record_views(session, assessment),
        )
    console.print(
        t("mlps.cli.template_written", file=str(path), rows=rows), markup=False, soft_wrap=True
    )


@app.command("import", help=t("mlps.cli.help_import"))
def import_sheet(
    path: Annotated[Path, typer.Argument(help=t("mlps.cli.help_sheet_path"))],
    engagement: Annotated[
        str | None, typer.Option("--engagement", "-e", help=t("mlps.cli.help_import_engagement"))
    ] = None,
) -> None:
    """Import a filled-in record sheet as manual results (all rows or none)."""
    content = read_sheet(path)
    with db_session() as session:
        if engagement is not None:
            _, assessment = _assessment(session, engagement)
            if content.assessment_id is not None and content.assessment_id != assessment.id:
                raise ValidationError(
                    t(
                        "mlps.sheet.other_assessment",
                        file=str(path),
                        sheet=content.assessment_id,
                        current=assessment.id,
                    )
                )
        else:
            if content.assessment_id is None:
                raise ValidationError(t("mlps.sheet.no_assessment", file=str(path)))
            found = session.get(MlpsAssessment, content.assessment_id)
            if found is None:
                raise NotFoundError(
                    t("mlps.sheet.unknown_assessment", file=str(path), id=content.assessment_id)
                )
            assessment = found
        count = service.import_rows(session, assessment, str(path), content.rows, actor=actor())
    console.print(
        t("mlps.cli.imported", file=str(path), rows=count, id=assessment.id), markup=False
    )


@app.command("score", help=t("mlps.cli.help_score"))
def score(engagement: EngagementOpt, as_json: JsonOpt = False) -> None:
    """Composite score, conclusion, high risks and per-category results."""
    with db_session() as session:
        _, assessment = _assessment(session, engagement)
        doc = service.score(session, assessment, actor=actor())
    if as_json:
        print_json(doc)
        return
    console.print(
        t(
            "mlps.cli.score",
            score="—" if doc["score"] is None else doc["score"],
            rating=doc["rating"] or "—",
            high=len(doc["high_risk"]),
            medium=len(doc["medium_risk"]),
            assessed=doc["assessed"],
            unassessed=doc["unassessed"],
        ),
        markup=False,
    )
    rows = []
    for name, cat in doc["by_category"].items():
        counts = cat["counts"]
        rows.append(
            (
                name,
                cat["score"],
                counts["符合"],
                counts["部分符合"],
                counts["不符合"],
                counts["不适用"],
                cat["unassessed"],
            )
        )
    print_table(
        None,
        [
            t("mlps.cli.col_category"),
            t("mlps.cli.col_score"),
            "符合",
            "部分符合",
            "不符合",
            "不适用",
            t("mlps.cli.col_unassessed"),
        ],
        rows,
    )
    for hit in [*doc["high_risk"], *doc["medium_risk"]]:
        console.print(
            t(
                "mlps.cli.risk_line",
                level=hit["level"],
                id=hit["id"],
                title=hit["title"],
                objects="、".join(hit["objects"]) or "-",
            ),
            markup=False,
        )


@app.command("gaps", help=t("mlps.cli.help_gaps"))
def gaps(
    engagement: EngagementOpt,
    as_json: JsonOpt = False,
    work_orders: Annotated[
        bool, typer.Option("--work-orders", help=t("mlps.cli.help_work_orders"))
    ] = False,
) -> None:
    """What fails per category and control point, what to do; optionally as work orders."""
    with db_session() as session:
        eng, assessment = _assessment(session, engagement)
        doc = service.gaps(session, assessment, eng, work_orders=work_orders, actor=actor())
    if as_json:
        print_json(doc)
        return
    totals = doc["totals"]
    console.print(
        t(
            "mlps.cli.gaps_summary",
            failed=totals["不符合"],
            partial=totals["部分符合"],
            high=totals["high_risk"],
        ),
        markup=False,
    )
    for category in doc["categories"]:
        console.print(f"[bold]{escape(category['name'])}[/bold]")
        for point in category["control_points"]:
            console.print(f"  {escape(point['clause'])} {escape(point['name'])}", markup=True)
            for gap in point["gaps"]:
                mark = t("mlps.cli.high_mark") if gap["high_risk"] else ""
                line = (
                    f"{gap['label']} [{gap['object']}] {gap['result']}{mark}：{gap['requirement']}"
                )
                console.print("    " + line, markup=False, soft_wrap=True)
            console.print(
                "    " + t("mlps.cli.advice", advice=point["advice"]), markup=False, soft_wrap=True
            )
    if "work_orders" in doc:
        summary = doc["work_orders"]
        console.print(
            t(
                "mlps.cli.work_orders",
                created=summary["created"],
                orders=summary["work_orders_created"],
                closed=summary["closed"],
                reopened=summary["reopened"],
            ),
            markup=False,
        )
