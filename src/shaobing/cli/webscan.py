"""``shaobing webscan URL``: crawl a web application and test it (B7)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shaobing.cli.output import actor, console, err_console, initialised_engine, write_json
from shaobing.core.i18n import t
from shaobing.findings.severity import Severity
from shaobing.web.service import WebScanRequest, execute_webscan, plan_webscan


def _print(data: dict[str, Any]) -> None:
    stats = data.get("stats", {})
    console.print(
        t(
            "web.cli.summary",
            scan_id=data["scan_id"],
            target=data["target"],
            pages=data["pages"],
            requests=data["requests"],
            seconds=stats.get("seconds", 0),
            findings=len(data["findings"]),
        ),
        markup=False,
    )
    for finding in data["findings"]:
        console.print(
            t(
                "web.cli.finding_line",
                severity=Severity(finding["severity"]).label,
                title=finding["title"],
                method=finding["method"],
                url=finding["url"],
                parameter=finding["parameter"] or "",
            ),
            markup=False,
        )
    if stats.get("stopped"):
        err_console.print(t("web.cli.stopped", reason=stats["stopped"]), markup=False)
    skipped = stats.get("skipped_destructive") or []
    if skipped:
        err_console.print(t("web.cli.skipped", count=len(skipped)), markup=False)
    for note in stats.get("notes") or []:
        err_console.print(t("web.cli.note", note=note), markup=False)
    if stats.get("errors"):
        sample = (stats.get("error_samples") or [""])[0]
        err_console.print(t("web.cli.errors", count=stats["errors"], sample=sample), markup=False)


def webscan(
    target: Annotated[str, typer.Argument(help=t("web.cli.help_target"))],
    engagement: Annotated[
        str | None, typer.Option("--engagement", "-e", help=t("web.cli.help_engagement"))
    ] = None,
    login_form: Annotated[
        str | None, typer.Option("--login-form", help=t("web.cli.help_login"))
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help=t("web.cli.help_user"))] = None,
    password: Annotated[
        str | None, typer.Option("--password", help=t("web.cli.help_password"))
    ] = None,
    cookie: Annotated[str | None, typer.Option("--cookie", help=t("web.cli.help_cookie"))] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help=t("web.cli.help_header"))
    ] = None,
    max_pages: Annotated[
        int | None, typer.Option("--max-pages", min=1, help=t("web.cli.help_max_pages"))
    ] = None,
    max_time: Annotated[
        float | None, typer.Option("--max-time", min=1, help=t("web.cli.help_max_time"))
    ] = None,
    max_requests: Annotated[
        int | None, typer.Option("--max-requests", min=1, help=t("web.cli.help_max_requests"))
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, max=120, help=t("web.cli.help_timeout"))
    ] = None,
    policy: Annotated[str | None, typer.Option("--policy", help=t("web.cli.help_policy"))] = None,
    allow_destructive: Annotated[
        bool, typer.Option("--allow-destructive", help=t("web.cli.help_destructive"))
    ] = False,
    json_out: Annotated[str | None, typer.Option("--json", help=t("web.cli.help_json"))] = None,
) -> None:
    """Crawl and test one web application; findings go to the engagement."""
    request = WebScanRequest(
        target=target,
        engagement=engagement,
        policy=policy,
        login_url=login_form,
        username=user,
        password=password,
        cookie=cookie,
        headers=list(header or []),
        max_pages=max_pages,
        max_time=max_time,
        max_requests=max_requests,
        timeout=timeout,
        allow_destructive=allow_destructive,
    )
    engine = initialised_engine()
    who = actor()
    scan_id, options = plan_webscan(engine, request, actor=who)
    quiet = json_out == "-"
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, disable=quiet, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(t(f"web.cli.phase_{phase}"), total=total)
            bar.update(tasks[phase], completed=done, total=total)

        data = execute_webscan(engine, scan_id, options, actor=who, progress=progress)
    if json_out is not None:
        write_json(json_out, data)
    if not quiet:
        _print(data)
