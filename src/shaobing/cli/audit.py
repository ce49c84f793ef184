"""``shaobing audit list/verify``: read and verify the platform's hash-chained audit log."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy import select

from shaobing.cli.output import console, db_session, err_console, print_json, print_table
from shaobing.core.audit import AuditEvent, verify_chain
from shaobing.core.i18n import t
from shaobing.engagements import service

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]


@app.command("list", help=t("cli.help.audit_list"))
def list_(
    action: Annotated[str | None, typer.Option("--action", help=t("cli.help.audit_action"))] = None,
    client: Annotated[str | None, typer.Option("--client", help=t("cli.help.client_ref"))] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help=t("cli.help.limit"))] = 50,
    json_out: JsonOpt = False,
) -> None:
    """The newest audit events, optionally filtered."""
    with db_session(readonly=True) as session:
        query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
        if action:
            query = query.where(AuditEvent.action == action)
        if client:
            query = query.where(AuditEvent.client_id == service.resolve_client(session, client).id)
        data: list[dict[str, Any]] = [
            {
                "seq": e.seq,
                "at": e.occurred_at,
                "actor": e.actor,
                "action": e.action,
                "outcome": e.outcome,
                "client_id": e.client_id,
                "engagement_id": e.engagement_id,
                "target": e.target,
                "detail": json.loads(e.detail),
                "hash": e.hash,
            }
            for e in session.scalars(query)
        ]
    if json_out:
        print_json(data)
        return
    print_table(
        t("cli.audit_title"),
        [
            t("cli.col.seq"),
            t("cli.col.time"),
            t("cli.col.actor"),
            t("cli.col.action"),
            t("cli.col.outcome"),
            t("cli.col.target"),
        ],
        [[d["seq"], d["at"], d["actor"], d["action"], d["outcome"], d["target"]] for d in data],
    )


@app.command("verify", help=t("cli.help.audit_verify"))
def verify(json_out: JsonOpt = False) -> None:
    """Recompute the whole chain; exit 1 and name the first bad event if it was tampered with."""
    with db_session(readonly=True) as session:
        report = verify_chain(session)
    data = {
        "ok": report.ok,
        "events": report.events,
        "head_hash": report.head_hash,
        "broken_at": report.broken_at,
        "problem": report.problem,
    }
    if json_out:
        print_json(data)
    elif report.ok:
        console.print(t("cli.audit_ok", events=report.events, head=report.head_hash), markup=False)
    else:
        err_console.print(
            t(
                "cli.audit_broken",
                seq=report.broken_at,
                problem=t(f"cli.audit_problem.{report.problem}"),
            ),
            markup=False,
        )
    if not report.ok:
        raise typer.Exit(1)
