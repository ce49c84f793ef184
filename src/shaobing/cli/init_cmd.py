"""``shaobing init``: create the data directory and bring the database schema up to date."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import text

from shaobing.cli.output import actor, console, print_json
from shaobing.core.audit import record_event
from shaobing.core.db import get_engine, session_scope, upgrade_database
from shaobing.core.i18n import t
from shaobing.core.settings import get_settings


def init(
    json_out: Annotated[bool, typer.Option("--json", help=t("cli.help.json"))] = False,
) -> None:
    """Create the data directory and apply every database migration."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    engine = get_engine()
    upgrade_database(engine)
    with session_scope(engine) as session:
        revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        record_event(session, "platform.init", actor=actor(), detail={"revision": revision})
    url = engine.url.render_as_string(hide_password=True)
    if json_out:
        print_json({"home": str(settings.home), "database": url, "revision": revision})
        return
    console.print(t("cli.init_done", home=settings.home, url=url, revision=revision), markup=False)
