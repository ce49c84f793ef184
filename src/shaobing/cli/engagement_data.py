"""``shaobing engagement export`` and ``shaobing engagement purge`` (J3).

Registered on the ``engagement`` command group by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shaobing.cli.output import (
    actor,
    console,
    err_console,
    initialised_engine,
    print_table,
    write_json,
)
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.export import export_engagement
from shaobing.engagements.purge import PurgePlan, PurgeResult, purge, show_plan

EngagementArg = Annotated[str, typer.Argument(help=t("cli.help.engagement_ref"))]
ClientOpt = Annotated[str | None, typer.Option("--client", help=t("cli.help.client_ref"))]
JsonOpt = Annotated[str | None, typer.Option("--json", help=t("purge.help.json"))]


def export_cmd(
    engagement: EngagementArg,
    out: Annotated[Path, typer.Option("--out", "-o", help=t("purge.help.out"))],
    client: ClientOpt = None,
    json_out: JsonOpt = None,
) -> None:
    """Write the engagement's complete archive (tables, files, manifest)."""
    result = export_engagement(initialised_engine(), engagement, out, client=client, actor=actor())
    write_json(json_out, result.as_json())
    if json_out == "-":
        return
    manifest = result.manifest
    console.print(
        t(
            "purge.exported",
            name=manifest["engagement"]["name"],
            path=result.path,
            tables=sum(1 for n in manifest["counts"].values() if n),
            rows=sum(manifest["counts"].values()),
            files=len(manifest["files"]),
            sha256=result.sha256,
        ),
        markup=False,
        soft_wrap=True,
    )


def _table_label(name: str) -> str:
    key = f"purge.table.{name}"
    label = t(key)
    return name if label == key else f"{label}（{name}）"


def _counts_table(counts: dict[str, int]) -> None:
    print_table(
        None,
        [t("purge.col.table"), t("purge.col.rows")],
        [[_table_label(name), count] for name, count in counts.items() if count],
    )


def _print_plan(plan: PurgePlan) -> None:
    console.print(
        t(
            "purge.plan_title",
            name=plan.engagement["name"],
            code=plan.engagement["code"] or "—",
            client=plan.client["name"],
        ),
        markup=False,
        soft_wrap=True,
    )
    _counts_table(plan.counts)
    console.print(
        t("purge.plan_files", files=len(plan.files.files), size=plan.files.size),
        markup=False,
        soft_wrap=True,
    )
    for path, reason in plan.files.kept:
        console.print(t("purge.file_kept", path=path, reason=reason), markup=False, soft_wrap=True)
    _print_retained(plan.retained)


def _print_retained(retained: dict[str, int]) -> None:
    console.print(
        t("purge.retained", assets=retained["assets"], events=retained["audit_events"]),
        markup=False,
        soft_wrap=True,
    )


def _print_result(result: PurgeResult) -> None:
    record = result.record
    console.print(
        t(
            "purge.done",
            name=record["engagement"]["name"],
            rows=record["rows"],
            files=len(record["files"]),
        ),
        markup=False,
        soft_wrap=True,
    )
    _counts_table(record["counts"])
    verification = record["verification"]
    key = "purge.verified" if verification["ok"] else "purge.not_verified"
    console.print(t(key, left=len(verification["files_remaining"])), markup=False, soft_wrap=True)
    _print_retained(record["retained"])
    console.print(
        t(
            "purge.recorded",
            seq=result.audit_seq,
            hash=result.record_hash,
            path=result.record_file or "—",
        ),
        markup=False,
        soft_wrap=True,
    )


def purge_cmd(
    engagement: EngagementArg,
    client: ClientOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help=t("purge.help.confirm"))] = False,
    json_out: JsonOpt = None,
) -> None:
    """Without ``--yes`` show what would be deleted; with it delete, verify and record."""
    engine = initialised_engine()
    if not yes:
        plan = show_plan(engine, engagement, client)
        write_json(json_out, plan.as_json())
        if json_out != "-":
            _print_plan(plan)
        err_console.print(t("purge.plan_only"), markup=False, soft_wrap=True)
        return
    result = purge(engine, engagement, client, actor=actor())
    write_json(json_out, result.as_json())
    if json_out != "-":
        _print_result(result)
    if not result.ok:
        left = result.record["verification"]["files_remaining"]
        raise ValidationError(
            t("purge.files_left", count=len(left), first=left[0], seq=result.audit_seq)
        )


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``purge`` to the ``engagement`` group (idempotent)."""
    present = {info.name for info in app.registered_commands}
    if "export" not in present:
        app.command("export", help=t("purge.help.export"))(export_cmd)
    if "purge" not in present:
        app.command("purge", help=t("purge.help.purge"))(purge_cmd)
