"""``shaobing vulndb match``: ledger services against the offline vulnerability database."""

from __future__ import annotations

from typing import Annotated

import typer

from shaobing.cli.output import actor, console, db_session, print_json, print_table
from shaobing.core.i18n import t
from shaobing.engagements.service import resolve_engagement
from shaobing.vulndb.assess import DEFAULT_LIMIT_PER_SERVICE, assess_engagement

#: Rows shown in the table; ``--json`` lists every match.
TABLE_ROWS = 500


def match(
    engagement: Annotated[
        str,
        typer.Option("--engagement", "-e", help=t("vulndb_findings.help.engagement")),
    ],
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help=t("vulndb_findings.help.limit"))
    ] = DEFAULT_LIMIT_PER_SERVICE,
    json_out: Annotated[bool, typer.Option("--json", help=t("cli.help.json"))] = False,
) -> None:
    """Match the engagement client's ledger services and record the findings."""
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        result = assess_engagement(session, target, actor=actor(), limit_per_service=limit)
    data = result.as_dict()
    if json_out:
        print_json(data)
        return
    if not result.services:
        console.print(t("vulndb_findings.no_services"))
    yes, no = t("vulndb_findings.flag_yes"), t("vulndb_findings.flag_no")
    print_table(
        t("vulndb_findings.title_matches", services=result.services, matched=result.matched),
        [
            t(f"vulndb_findings.column.{c}")
            for c in ("cve", "product", "where", "status", "confidence", "severity", "kev", "epss")
        ],
        [
            (
                row["cve"],
                f"{row['product']} {row['version']}",
                f"{row['host']}:{row['port']}",
                t(f"vulndb_findings.status.{row['status']}"),
                row["confidence"],
                t(f"findings.severity.{row['severity']}"),
                yes if row["kev"] else no,
                None if row["epss"] is None else f"{row['epss']:.4f}",
            )
            for row in result.matches[:TABLE_ROWS]
        ],
    )
    if len(result.matches) > TABLE_ROWS:
        console.print(t("vulndb_findings.more_rows", count=len(result.matches) - TABLE_ROWS))
    console.print(t("vulndb_findings.summary", **data), markup=False)


def register(app: typer.Typer) -> None:
    """Add ``match`` to the ``vulndb`` command group."""
    app.command("match", help=t("vulndb_findings.help.match"))(match)
