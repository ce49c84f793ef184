"""``shaobing baseline check/profiles/rules`` (C1, C2) and hardening commands (C3)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from shaobing.baseline.harden_service import HardenOutcome, harden, list_runs, rollback
from shaobing.baseline.loader import build_profile, raw_profiles
from shaobing.baseline.results import STATUS_LABELS, ProfileReport, Status
from shaobing.baseline.score import profile_score
from shaobing.baseline.service import (
    DEFAULT_CONCURRENCY,
    Access,
    CheckOutcome,
    report_json,
    run_check,
)
from shaobing.cli.output import (
    actor,
    console,
    db_session,
    err_console,
    initialised_engine,
    write_json,
)
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.credentials.service import get_credential
from shaobing.credentials.use import CredentialRef, run_with_credential
from shaobing.engagements.service import resolve_engagement
from shaobing.findings.ingest import IngestOptions
from shaobing.findings.service import import_file

app = typer.Typer(no_args_is_help=True, help=t("baseline.cli.help_group"))

ProfileOpt = Annotated[str, typer.Option("--profile", "-p", help=t("baseline.cli.help_profile"))]
RootOpt = Annotated[Path | None, typer.Option("--root", help=t("baseline.cli.help_root"))]
EngagementOpt = Annotated[
    str | None, typer.Option("--engagement", "-e", help=t("baseline.cli.help_engagement"))
]
JsonOpt = Annotated[str | None, typer.Option("--json", help=t("baseline.cli.help_json"))]
VarOpt = Annotated[list[str] | None, typer.Option("--var", help=t("baseline.cli.help_var"))]
KeyOpt = Annotated[list[str] | None, typer.Option("--key", help=t("baseline.cli.help_key"))]
PasswordOpt = Annotated[
    str | None, typer.Option("--password", help=t("baseline.cli.help_password"))
]
SudoOpt = Annotated[bool, typer.Option("--sudo", help=t("baseline.cli.help_sudo"))]
SudoPasswordOpt = Annotated[
    str | None, typer.Option("--sudo-password", help=t("baseline.cli.help_sudo_password"))
]
KnownHostsOpt = Annotated[
    str | None, typer.Option("--known-hosts", help=t("baseline.cli.help_known_hosts"))
]

STATUS_STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.NA: "dim", Status.ERROR: "yellow"}


def parse_vars(values: list[str] | None) -> dict[str, str]:
    """``name=value`` pairs from ``--var``."""
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise ValidationError(t("baseline.cli.bad_var", value=value))
        out[name.strip()] = text
    return out


def print_report(report: ProfileReport, *, show_all: bool) -> None:
    """Summary line and one block per rule that did not pass (all with ``--all``)."""
    counts = report.counts()
    console.print(
        t(
            "baseline.cli.summary",
            profile=report.profile,
            title=report.title,
            target=report.target,
            os=report.os or "-",
            score=profile_score(report),
            passed=counts["pass"],
            failed=counts["fail"],
            na=counts["na"],
            errors=counts["error"],
        ),
        markup=False,
        soft_wrap=True,
    )
    order = {Status.FAIL: 0, Status.ERROR: 1, Status.NA: 2, Status.PASS: 3}
    for result in sorted(report.results, key=lambda r: (order[r.status], r.rule_id)):
        if result.status is Status.PASS and not show_all:
            continue
        if result.status is Status.NA and not show_all:
            continue
        style = STATUS_STYLE[result.status]
        text = t(
            "baseline.cli.result_line",
            status=STATUS_LABELS[result.status],
            rule_id=result.rule_id,
            title=result.title,
            severity=result.severity,
            observed=result.observed,
            expected=result.expected,
        )
        console.print(f"[{style}]{escape(text)}[/{style}]", soft_wrap=True)


def access_options(
    password: str | None,
    key: list[str] | None,
    sudo: bool,
    sudo_password: str | None,
    known_hosts: str | None,
    files_from: str | None,
    root: Path | None,
) -> Access:
    """Access settings from options and the environment (secrets stay out of shell history)."""
    return Access(
        password=password or os.environ.get("SHAOBING_SSH_PASSWORD"),
        key_files=list(key or []),
        sudo=sudo,
        sudo_password=sudo_password or os.environ.get("SHAOBING_SUDO_PASSWORD"),
        known_hosts=known_hosts,
        files_from=files_from,
        root=root,
    )


@app.command("check", help=t("baseline.cli.help_check"))
def check(
    profile: ProfileOpt,
    target: Annotated[
        list[str] | None, typer.Option("--target", "-t", help=t("baseline.cli.help_target"))
    ] = None,
    root: RootOpt = None,
    engagement: EngagementOpt = None,
    json_out: JsonOpt = None,
    var: VarOpt = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help=t("baseline.cli.help_rule"))
    ] = None,
    key: KeyOpt = None,
    password: PasswordOpt = None,
    sudo: SudoOpt = False,
    sudo_password: SudoPasswordOpt = None,
    known_hosts: KnownHostsOpt = None,
    files_from: Annotated[
        str | None, typer.Option("--files-from", help=t("baseline.cli.help_files_from"))
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=256, help=t("baseline.cli.help_concurrency"))
    ] = DEFAULT_CONCURRENCY,
    show_all: Annotated[bool, typer.Option("--all", help=t("baseline.cli.help_all"))] = False,
    no_commands: Annotated[
        bool, typer.Option("--no-commands", help=t("baseline.cli.help_no_commands"))
    ] = False,
    cred: Annotated[str | None, typer.Option("--cred", help=t("credentials.cli.help_cred"))] = None,
) -> None:
    """Check targets against a profile (or run a Wazuh SCA policy file)."""
    access = access_options(password, key, sudo, sudo_password, known_hosts, files_from, root)
    engine = initialised_engine() if engagement else None

    def run(targets: list[str | None], chosen: Access) -> CheckOutcome:
        return run_check(
            engine,
            profile_name=profile,
            targets=targets,
            access=chosen,
            engagement_ref=engagement,
            variables=parse_vars(var),
            rules=list(rule or []),
            concurrency=concurrency,
            actor=actor(),
            allow_commands=not no_commands,
        )

    if cred is None:
        outcome = run(list(target or []) or [None], access)
    else:
        if password or key:
            raise ValidationError(t("credentials.cli.cred_with_secret"))
        if engagement is None or engine is None:
            raise ValidationError(t("credentials.cli.cred_needs_engagement"))
        if len(target or []) != 1:
            raise ValidationError(t("credentials.cli.cred_one_target"))
        with db_session(readonly=True) as session:
            found = resolve_engagement(session, engagement)
            stored = CredentialRef.of(get_credential(session, found, cred))
        outcome = run_with_credential(
            engine,
            stored,
            (target or [""])[0],
            access,
            lambda text, chosen: run([text], chosen),
            actor=actor(),
        )
    quiet = json_out == "-"
    if not quiet:
        for report in outcome.reports:
            print_report(report, show_all=show_all)
        if engagement is None:
            err_console.print(t("baseline.cli.not_stored"), markup=False, soft_wrap=True)
        for run_id, summary in zip(outcome.run_ids, outcome.findings, strict=False):
            console.print(
                t("baseline.cli.stored", run_id=run_id, **summary), markup=False, soft_wrap=True
            )
    if json_out is not None:
        if len(outcome.reports) == 1:
            data: dict[str, Any] = report_json(outcome.reports[0])
            if outcome.run_ids:
                data["run_id"] = outcome.run_ids[0]
        else:
            data = {
                "profile": outcome.reports[0].profile if outcome.reports else profile,
                "runs": [report_json(r) for r in outcome.reports],
                "run_ids": outcome.run_ids,
            }
        write_json(json_out, data)


@app.command("profiles", help=t("baseline.cli.help_profiles"))
def profiles(
    json_out: JsonOpt = None,
) -> None:
    """List profiles with their rule counts."""
    rows = []
    for pid, raw in sorted(raw_profiles().items()):
        rows.append(
            {"id": pid, "title": raw.title or pid, "target": raw.target, "rules": len(raw.rules)}
        )
    if json_out is not None:
        write_json(json_out, {"profiles": rows})
        return
    for row in rows:
        console.print(
            t(
                "baseline.cli.profile_line",
                id=row["id"],
                title=row["title"],
                count=row["rules"],
                target=row["target"],
            ),
            markup=False,
            soft_wrap=True,
        )


@app.command("rules", help=t("baseline.cli.help_rules"))
def rules(
    profile: ProfileOpt,
    json_out: JsonOpt = None,
) -> None:
    """List a profile's rules with severity and GB/T 22239 clauses."""
    profiles_ = raw_profiles()
    if profile not in profiles_:
        raise ValidationError(
            t("baseline.load.unknown_profile", name=profile, known="、".join(sorted(profiles_)))
        )
    built = build_profile(profiles_[profile])
    rows = [
        {
            "id": r.id,
            "title": r.title,
            "severity": r.severity,
            "references": r.references.model_dump(),
            "can_harden": bool(r.remediation.edits or r.remediation.commands),
        }
        for r in built.rules
    ]
    if json_out is not None:
        write_json(json_out, {"profile": profile, "rules": rows})
        return
    for row in rows:
        refs: dict[str, Any] = dict(row["references"])  # type: ignore[call-overload]
        console.print(
            t(
                "baseline.cli.rule_line",
                id=row["id"],
                severity=row["severity"],
                title=row["title"],
                control=refs.get("control", ""),
                clauses="、".join(refs.get("gb22239") or []),
            ),
            markup=False,
            soft_wrap=True,
        )


def _rule_list(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _print_plan(outcome: HardenOutcome) -> None:
    plan = outcome.plan
    console.print(
        t(
            "baseline.harden.plan_header",
            profile=outcome.before.profile,
            target=outcome.before.target,
            count=len(plan.actionable),
            files=len(plan.changes),
        ),
        markup=False,
        soft_wrap=True,
    )
    diffs = plan.diffs()
    shown: set[str] = set()
    for rule in plan.rules:
        state = STATUS_LABELS[Status(rule.status_before)]
        console.print(
            t("baseline.harden.plan_rule", state=state, rule_id=rule.rule_id, title=rule.title),
            markup=False,
            soft_wrap=True,
        )
        if rule.skipped:
            console.print(
                t("baseline.harden.plan_skip", reason=rule.skipped), markup=False, soft_wrap=True
            )
            continue
        for path in rule.files:
            if path in diffs and path not in shown:
                shown.add(path)
                console.print(escape(diffs[path].rstrip("\n")), highlight=False, soft_wrap=True)
        for command in rule.commands:
            console.print(
                t("baseline.harden.plan_command", command=command), markup=False, soft_wrap=True
            )


@app.command("harden", help=t("baseline.harden.help_harden"))
def harden_cmd(
    profile: ProfileOpt,
    rules_: Annotated[
        list[str] | None, typer.Option("--rules", "--rule", help=t("baseline.harden.help_rules"))
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", "-t", help=t("baseline.cli.help_target"))
    ] = None,
    root: RootOpt = None,
    engagement: EngagementOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help=t("baseline.harden.help_yes"))] = False,
    json_out: JsonOpt = None,
    var: VarOpt = None,
    key: KeyOpt = None,
    password: PasswordOpt = None,
    sudo: SudoOpt = False,
    sudo_password: SudoPasswordOpt = None,
    known_hosts: KnownHostsOpt = None,
) -> None:
    """Plan hardening; apply it with --yes."""
    access = access_options(password, key, sudo, sudo_password, known_hosts, None, root)
    engine = initialised_engine() if yes else None
    outcome = harden(
        engine,
        profile_name=profile,
        target=target,
        access=access,
        rules=_rule_list(rules_),
        variables=parse_vars(var),
        engagement_ref=engagement,
        yes=yes,
        actor=actor(),
    )
    if json_out != "-":
        _print_plan(outcome)
        if outcome.run_id is None:
            err_console.print(t("baseline.harden.confirm_hint"), markup=False, soft_wrap=True)
        else:
            console.print(
                t(
                    "baseline.harden.result",
                    run_id=outcome.run_id,
                    status=outcome.status,
                    before=profile_score(outcome.before),
                    after=profile_score(outcome.after) if outcome.after else "-",
                ),
                markup=False,
                soft_wrap=True,
            )
            if outcome.message:
                err_console.print(
                    t("baseline.harden.failed", message=outcome.message), markup=False
                )
            if outcome.after is not None:
                print_report(outcome.after, show_all=False)
    write_json(json_out, outcome.as_json())
    if outcome.status == "failed-rolled-back":
        raise typer.Exit(1)


@app.command("rollback", help=t("baseline.harden.help_rollback"))
def rollback_cmd(
    run_id: Annotated[int, typer.Argument(min=1)],
    json_out: JsonOpt = None,
    key: KeyOpt = None,
    password: PasswordOpt = None,
    sudo: SudoOpt = False,
    sudo_password: SudoPasswordOpt = None,
    known_hosts: KnownHostsOpt = None,
) -> None:
    """Restore the files of a hardening run."""
    access = access_options(password, key, sudo, sudo_password, known_hosts, None, None)
    outcome = rollback(initialised_engine(), run_id, access, actor=actor())
    if json_out != "-":
        console.print(
            t(
                "baseline.harden.rollback_done",
                run_id=run_id,
                count=len(outcome.restored),
                score=profile_score(outcome.after) if outcome.after else "-",
            ),
            markup=False,
            soft_wrap=True,
        )
        for problem in outcome.problems:
            err_console.print(
                t("baseline.harden.rollback_problem", problem=problem), markup=False, soft_wrap=True
            )
        if outcome.note:
            err_console.print(outcome.note, markup=False, soft_wrap=True)
    write_json(json_out, outcome.as_json())
    if outcome.problems:
        raise typer.Exit(1)


@app.command("runs", help=t("baseline.harden.help_runs"))
def runs_cmd(
    engagement: EngagementOpt = None,
    json_out: JsonOpt = None,
) -> None:
    """List hardening runs."""
    with db_session(readonly=True) as session:
        rows = [
            {
                "id": r.id,
                "created": r.created_at.isoformat(timespec="seconds"),
                "profile": r.profile,
                "target": r.target,
                "status": r.status,
                "rules": len(r.rules or []),
                "message": r.message,
            }
            for r in list_runs(session, engagement)
        ]
    if json_out is not None:
        write_json(json_out, {"runs": rows})
        return
    for row in rows:
        console.print(t("baseline.harden.run_line", **row), markup=False, soft_wrap=True)


@app.command("import-xccdf", help=t("baseline.cli.help_import"))
def import_xccdf(
    file: Annotated[Path, typer.Argument(help=t("baseline.cli.help_import_file"))],
    engagement: Annotated[
        str, typer.Option("--engagement", "-e", help=t("baseline.cli.help_engagement"))
    ],
    json_out: JsonOpt = None,
) -> None:
    """Import OpenSCAP XCCDF/ARF results (same as ``findings import --format xccdf``)."""
    if not file.is_file():
        raise ValidationError(t("baseline.cli.no_file", path=str(file)))
    with db_session() as session:
        target = resolve_engagement(session, engagement)
        summary = import_file(
            session, target, file, fmt="xccdf", options=IngestOptions(actor=actor())
        )
    data = summary.as_dict()
    if json_out is not None:
        write_json(json_out, data)
        return
    console.print(t("baseline.cli.imported", file=str(file), **data), markup=False, soft_wrap=True)
