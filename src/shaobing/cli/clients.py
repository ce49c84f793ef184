"""``shaobing client add/list``."""

from __future__ import annotations

from typing import Annotated

import typer

from shaobing.cli.output import actor, console, db_session, print_json, print_table
from shaobing.core.i18n import t
from shaobing.engagements import service

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]


@app.command("add", help=t("cli.help.client_add"))
def add(
    name: Annotated[str, typer.Argument(help=t("cli.help.client_name"))],
    code: Annotated[str | None, typer.Option(help=t("cli.help.client_code"))] = None,
    contact: Annotated[str | None, typer.Option(help=t("cli.help.client_contact"))] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a client."""
    with db_session() as session:
        client = service.add_client(session, name, code=code, contact=contact, actor=actor())
        data = {
            "id": client.id,
            "name": client.name,
            "code": client.code,
            "contact": client.contact,
        }
    if json_out:
        print_json(data)
    else:
        console.print(t("cli.client_added", id=data["id"], name=data["name"]), markup=False)


@app.command("list", help=t("cli.help.client_list"))
def list_(json_out: JsonOpt = False) -> None:
    """List clients."""
    with db_session(readonly=True) as session:
        data = [
            {
                "id": c.id,
                "name": c.name,
                "code": c.code,
                "contact": c.contact,
                "created_at": c.created_at.isoformat(),
            }
            for c in service.list_clients(session)
        ]
    if json_out:
        print_json(data)
        return
    print_table(
        t("cli.clients_title"),
        [t("cli.col.id"), t("cli.col.name"), t("cli.col.code"), t("cli.col.contact")],
        [[d["id"], d["name"], d["code"], d["contact"]] for d in data],
    )
