"""``shaobing vulndb import/status``: the offline vulnerability database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shaobing.cli.output import console, db_session, err_console, print_json, print_table
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.vulndb.service import import_unit, plan_units, status
from shaobing.vulndb.sources import FeedKind

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]


def _kind(value: str | None) -> FeedKind | None:
    if value is None:
        return None
    try:
        return FeedKind(value.strip().lower())
    except ValueError:
        known = "、".join(k.value for k in FeedKind)
        raise ValidationError(t("vulndb.bad_kind", value=value, known=known)) from None


@app.command("import", help=t("vulndb.help.import"))
def import_(
    paths: Annotated[list[Path], typer.Argument(help=t("vulndb.help.paths"))],
    kind: Annotated[str | None, typer.Option("--kind", help=t("vulndb.help.kind"))] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import feed files and folders, one transaction per file."""
    units, skipped = plan_units(paths, _kind(kind))
    summaries = []
    for unit in units:
        # One transaction per file: a bad file leaves nothing half imported, and the files
        # before it stay imported.
        with db_session() as session:
            summaries.append(import_unit(session, unit))
    if json_out:
        print_json(
            {"imports": [s.as_dict() for s in summaries], "skipped": [str(p) for p in skipped]}
        )
        return
    print_table(
        t("vulndb.import_title"),
        [
            t(f"vulndb.column.{c}")
            for c in ("path", "kind", "records", "inserted", "updated", "unchanged", "seconds")
        ],
        [
            (
                s.path + (t("vulndb.already_imported") if s.already_imported else ""),
                s.kind,
                s.records,
                s.inserted,
                s.updated,
                s.unchanged,
                s.seconds,
            )
            for s in summaries
        ],
    )
    if not units:
        console.print(t("vulndb.nothing_to_import"))
    for path in skipped:
        err_console.print(t("vulndb.skipped_file", file=path))


@app.command("status", help=t("vulndb.help.status"))
def status_(json_out: JsonOpt = False) -> None:
    """Counts of the vulnerability database and the last import of each feed."""
    with db_session(readonly=True) as session:
        data = status(session)
    if json_out:
        print_json(data)
        return
    rows: list[tuple[object, object]] = [
        (t(f"vulndb.status.{key}"), data[key])
        for key in (
            "cves",
            "rejected",
            "enrichment_only",
            "kev",
            "epss",
            "cnvd",
            "cnnvd",
            "criteria",
            "newest_modified",
        )
    ]
    print_table(t("vulndb.status_title"), [t("vulndb.column.item"), t("vulndb.column.value")], rows)
    imports = [
        (kind, info["source"], info["imported_at"], info["records"])
        for kind, info in data["last_import"].items()
        if info is not None
    ]
    if imports:
        print_table(
            t("vulndb.last_import_title"),
            [t(f"vulndb.column.{c}") for c in ("kind", "path", "imported_at", "records")],
            imports,
        )
