"""``shaobing scope check TARGET --engagement E``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from shaobing.cli.output import actor, console, db_session, err_console, print_json
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements import service
from shaobing.engagements.scope_guard import check_target, scope_of

app = typer.Typer(no_args_is_help=True)


def _parse_at(text: str, timezone: str) -> datetime:
    """``--at`` as an aware datetime; a naive value is read in the engagement's time zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError(t("cli.bad_datetime", option="--at", value=text)) from exc
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(timezone))


@app.command("check", help=t("cli.help.scope_check"))
def check(
    target: Annotated[str, typer.Argument(help=t("cli.help.scope_target"))],
    engagement: Annotated[str, typer.Option("--engagement", help=t("cli.help.engagement_ref"))],
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help=t("cli.help.port"))
    ] = None,
    client: Annotated[str | None, typer.Option("--client", help=t("cli.help.client_ref"))] = None,
    at: Annotated[str | None, typer.Option("--at", help=t("cli.help.scope_at"))] = None,
    json_out: Annotated[bool, typer.Option("--json", help=t("cli.help.json"))] = False,
) -> None:
    """Say whether a target may be tested now under the engagement, and why (exit 1 if not)."""
    with db_session(readonly=True) as session:
        owner = service.resolve_client(session, client) if client else None
        found = service.resolve_engagement(session, engagement, owner)
        scope = scope_of(found)
    now = _parse_at(at, scope.timezone) if at else None
    # Evaluated after the read transaction ends: a refusal is audited in a transaction of
    # its own, which must not wait on ours.
    decision = check_target(
        found, target, port=port, actor=actor(), operation="scope.check", scope=scope, now=now
    )
    data = {
        "target": target,
        "engagement": found.id,
        "allowed": decision.allowed,
        "reason": decision.reason,
        "message": decision.message,
        "matched": decision.matched,
        "addresses": list(decision.addresses),
    }
    if json_out:
        print_json(data)
    elif decision.allowed:
        console.print(decision.message, markup=False, soft_wrap=True)
    else:
        err_console.print(decision.message, markup=False, soft_wrap=True)
    if not decision.allowed:
        raise typer.Exit(1)
