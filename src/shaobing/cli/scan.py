"""``shaobing scan``: network scans (run, resume, pause, cancel, list, show, policies, checks).

``shaobing scan TARGET...`` runs a scan; the other words are sub-commands. Ctrl-C pauses
(the state is saved; ``shaobing scan resume ID`` continues).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from shaobing.cli.output import (
    actor,
    console,
    db_session,
    err_console,
    initialised_engine,
    print_json,
    print_table,
    write_json,
)
from shaobing.core.i18n import t
from shaobing.engagements.service import resolve_engagement
from shaobing.scan import service
from shaobing.scan.checks import load_checks
from shaobing.scan.engine import Phase, ScanEngine
from shaobing.scan.policy import load_policies


class _ScanGroup(TyperGroup):
    """``scan TARGET...`` runs the ``run`` command unless the first word is a sub-command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_ScanGroup, no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]


class _RichProgress:
    """Phase-by-phase progress bar on standard error (only on a terminal)."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._task: Any = None

    def phase(self, name: Phase, total: int) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._task = self._progress.add_task(t(f"scan.phase.{name}"), total=max(total, 1))
        if total == 0:
            self._progress.update(self._task, completed=1)

    def advance(self, units: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, units)


@contextmanager
def _progress(enabled: bool) -> Iterator[_RichProgress]:
    if not enabled or not err_console.is_terminal:
        yield _RichProgress(None)
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with bar:
        yield _RichProgress(bar)


@contextmanager
def _pause_on_interrupt() -> Iterator[list[ScanEngine]]:
    """Ctrl-C / SIGTERM ask the running engine to pause (state saved), not to die."""
    holder: list[ScanEngine] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if holder:
            err_console.print(t("scan.pausing"), markup=False)
            holder[0].request("pause")
        else:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield holder
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run_and_report(scan_id: int, json_target: str | None) -> None:
    engine = initialised_engine()
    quiet = json_target == "-"
    with _pause_on_interrupt() as holder, _progress(not quiet) as progress:
        outcome = service.execute_scan(
            engine, scan_id, actor=actor(), progress=progress, on_engine=holder.append
        )
    with db_session(readonly=True) as session:
        run = service.get_scan(session, scan_id)
        data = service.scan_result(session, run)
    write_json(json_target, data)
    if not quiet:
        _print_result(data)
        if outcome.status == "paused":
            err_console.print(outcome.message or t("scan.paused_message", id=scan_id), markup=False)
    if outcome.status != "completed":
        raise typer.Exit(1 if outcome.status == "cancelled" else 0)


def _print_result(data: dict[str, Any]) -> None:
    rows = [
        [h["address"], p["port"], p["protocol"], p["service"], p["product"], p["version"]]
        for h in data["hosts"]
        for p in h["ports"]
    ]
    if rows:
        print_table(
            t("scan.ports_title", id=data["scan_id"]),
            [
                t("scan.col.address"),
                t("scan.col.port"),
                t("scan.col.protocol"),
                t("scan.col.service"),
                t("scan.col.product"),
                t("scan.col.version"),
            ],
            rows,
        )
    if data["findings"]:
        print_table(
            t("scan.findings_title"),
            ["ID", t("scan.col.severity"), t("scan.col.title"), t("scan.col.target")],
            [
                [
                    f["id"],
                    t(f"findings.severity.{f['severity']}"),
                    f["title"],
                    f"{f['host']}:{f['port']}/{f['protocol']}" if f["port"] else f["host"],
                ]
                for f in data["findings"]
            ],
        )
    stats = data["stats"]
    console.print(
        t(
            "scan.summary",
            id=data["scan_id"],
            engagement=data["engagement"],
            hosts=stats.get("hosts_up", 0),
            ports=stats.get("open_ports", 0),
            findings=len(data["findings"]),
            status=t(f"scan.status.{data['status']}"),
        ),
        markup=False,
    )


@app.command("run", help=t("cli.help.scan_run"))
def run(
    targets: Annotated[list[str], typer.Argument(help=t("cli.help.scan_targets"))],
    engagement: Annotated[
        str | None, typer.Option("--engagement", "-e", help=t("cli.help.scan_engagement"))
    ] = None,
    policy: Annotated[str | None, typer.Option("--policy", help=t("cli.help.scan_policy"))] = None,
    ports: Annotated[
        str | None, typer.Option("--ports", "-p", help=t("cli.help.scan_ports"))
    ] = None,
    rate: Annotated[int | None, typer.Option("--rate", help=t("cli.help.scan_rate"))] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", help=t("cli.help.scan_concurrency"))
    ] = None,
    per_host: Annotated[
        int | None, typer.Option("--per-host", help=t("cli.help.scan_per_host"))
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help=t("cli.help.scan_timeout"))
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help=t("cli.help.scan_exclude"))
    ] = None,
    zone: Annotated[str | None, typer.Option("--zone", help=t("cli.help.scan_zone"))] = None,
    engine_kind: Annotated[
        str, typer.Option("--engine", help=t("cli.help.scan_engine"))
    ] = "native",
    json_target: Annotated[str | None, typer.Option("--json", help=t("cli.help.scan_json"))] = None,
) -> None:
    """Plan and run a network scan."""
    request = service.ScanRequest(
        targets=targets,
        exclude=list(exclude or []),
        engagement=engagement,
        policy=policy,
        ports=ports,
        rate=rate,
        concurrency=concurrency,
        per_host=per_host,
        timeout=timeout,
        zone=zone,
        engine=engine_kind,
    )
    engine = initialised_engine()
    scan_id = service.plan_scan(engine, request, actor=actor())
    if json_target != "-":
        with db_session(readonly=True) as session:
            plan = service.get_scan(session, scan_id).plan
        err_console.print(
            t(
                "scan.plan_summary",
                id=scan_id,
                addresses=plan["addresses"],
                refused=plan["refused_count"],
                ports=plan["port_count"],
                checks=len(plan["checks"]),
                policy=plan["policy_title"],
                seconds=plan["expected_seconds"],
            ),
            markup=False,
        )
    _run_and_report(scan_id, json_target)


@app.command("resume", help=t("cli.help.scan_resume"))
def resume(
    scan_id: Annotated[int, typer.Argument(help=t("cli.help.scan_id"))],
    json_target: Annotated[str | None, typer.Option("--json", help=t("cli.help.scan_json"))] = None,
) -> None:
    """Continue a paused or interrupted scan."""
    _run_and_report(scan_id, json_target)


def _control(scan_id: int, what: str) -> None:
    status = service.request_control(initialised_engine(), scan_id, what, actor=actor())
    console.print(t(f"scan.requested_{what}", id=scan_id, status=status), markup=False)


@app.command("pause", help=t("cli.help.scan_pause"))
def pause(scan_id: Annotated[int, typer.Argument(help=t("cli.help.scan_id"))]) -> None:
    """Ask a running scan to pause."""
    _control(scan_id, "pause")


@app.command("cancel", help=t("cli.help.scan_cancel"))
def cancel(scan_id: Annotated[int, typer.Argument(help=t("cli.help.scan_id"))]) -> None:
    """Cancel a scan (running ones stop soon; paused ones at once)."""
    _control(scan_id, "cancel")


@app.command("list", help=t("cli.help.scan_list"))
def list_(
    engagement: Annotated[
        str | None, typer.Option("--engagement", "-e", help=t("cli.help.scan_engagement"))
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List network scans, newest first."""
    with db_session(readonly=True) as session:
        chosen = resolve_engagement(session, engagement) if engagement else None
        rows = [service.scan_summary(session, r) for r in service.list_scans(session, chosen)]
    if json_out:
        print_json(rows)
        return
    print_table(
        t("scan.list_title"),
        [
            "ID",
            t("scan.col.engagement"),
            t("scan.col.status"),
            t("scan.col.policy"),
            t("scan.col.targets"),
            t("scan.col.open_ports"),
            t("scan.col.created"),
        ],
        [
            [
                r["scan_id"],
                r["engagement"],
                t(f"scan.status.{r['status']}"),
                r["policy"],
                " ".join(r["targets"])[:60],
                r["stats"].get("open_ports"),
                r["created_at"].strftime("%Y-%m-%d %H:%M") if r["created_at"] else None,
            ]
            for r in rows
        ],
    )


@app.command("show", help=t("cli.help.scan_show"))
def show(
    scan_id: Annotated[int, typer.Argument(help=t("cli.help.scan_id"))],
    json_out: JsonOpt = False,
) -> None:
    """Show a scan's plan, hosts, ports and findings."""
    with db_session(readonly=True) as session:
        run = service.get_scan(session, scan_id)
        data = service.scan_result(session, run) | {"plan": run.plan}
    if json_out:
        print_json(data)
        return
    _print_result(data)


@app.command("policies", help=t("cli.help.scan_policies"))
def policies(json_out: JsonOpt = False) -> None:
    """List the scan policies (built-in and the user's)."""
    data = [
        {
            "name": p.name,
            "title": p.title,
            "safety": [s.value for s in p.safety],
            "ports": p.ports,
            "udp_ports": list(p.udp_ports),
            "description": p.description,
        }
        for p in load_policies().values()
    ]
    if json_out:
        print_json(data)
        return
    print_table(
        t("scan.policies_title"),
        [
            t("scan.col.name"),
            t("scan.col.title"),
            t("scan.col.safety"),
            t("scan.col.ports"),
            t("scan.col.description"),
        ],
        [
            [d["name"], d["title"], ",".join(map(str, d["safety"])), d["ports"], d["description"]]
            for d in data
        ],
    )


@app.command("checks", help=t("cli.help.scan_checks"))
def checks(json_out: JsonOpt = False) -> None:
    """List the network checks with their safety classes."""
    data = [
        {
            "id": cls.id,
            "safety": cls.safety.value,
            "target_kind": cls.target_kind.value,
            "services": sorted(cls.services),
        }
        for cls in load_checks().values()
    ]
    if json_out:
        print_json(data)
        return
    print_table(
        t("scan.checks_title"),
        ["ID", t("scan.col.safety"), t("scan.col.kind"), t("scan.col.services")],
        [[d["id"], d["safety"], d["target_kind"], ",".join(d["services"])] for d in data],
    )
