"""``shaobing risk``: risk assessment per GB/T 20984-2022 (E1) and its inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from shaobing.assess.risk import service
from shaobing.assess.risk.config import read_override_file
from shaobing.cli.output import actor, console, db_session, print_json, print_table
from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.service import resolve_engagement

app = typer.Typer(no_args_is_help=True, help=t("risk.cli.help"))
threats_app = typer.Typer(no_args_is_help=True, help=t("risk.cli.help_threats"))
vulns_app = typer.Typer(no_args_is_help=True, help=t("risk.cli.help_vulns"))
measures_app = typer.Typer(no_args_is_help=True, help=t("risk.cli.help_measures"))
business_app = typer.Typer(no_args_is_help=True, help=t("risk.cli.help_business"))
method_app = typer.Typer(no_args_is_help=True, help=t("risk.cli.help_method"))
app.add_typer(threats_app, name="threats")
app.add_typer(vulns_app, name="vulns")
app.add_typer(measures_app, name="measures")
app.add_typer(business_app, name="business")
app.add_typer(method_app, name="method")

EngagementOpt = Annotated[
    str, typer.Option("--engagement", "-e", help=t("risk.cli.help_engagement"))
]
JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]
AssetOpt = Annotated[str | None, typer.Option("--asset", help=t("risk.cli.help_asset"))]
SystemOpt = Annotated[str | None, typer.Option("--system", help=t("risk.cli.help_system"))]


def _split(values: list[str] | None) -> list[str]:
    """Repeated options, each possibly comma-separated."""
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.replace("，", ",").split(",") if v.strip())
    return out


# ------------------------------------------------------------------ assess
def _print_assessment(data: dict[str, Any], *, show_explain: bool) -> None:
    risks = data["risks"]
    print_table(
        t(
            "risk.cli.title",
            engagement=data["engagement"],
            method=t(f"risk.method.{data['method']}"),
            count=len(risks),
        ),
        [
            t("risk.cli.col.asset"),
            t("risk.cli.col.threat"),
            t("risk.cli.col.vulnerability"),
            t("risk.cli.col.likelihood"),
            t("risk.cli.col.loss"),
            t("risk.cli.col.value"),
            t("risk.cli.col.level"),
            t("risk.cli.col.acceptable"),
        ],
        [
            [
                r["asset"],
                f"{r['threat_id']} {r['threat']}",
                r["vulnerability"],
                r["likelihood"],
                r["loss"],
                r["value"],
                r["level"],
                t("risk.cli.yes") if r["acceptable"] else t("risk.cli.no"),
            ]
            for r in risks
        ],
    )
    console.print(
        t(
            "risk.cli.summary",
            counts="，".join(f"{k} {v}" for k, v in data["summary"].items()),
            unacceptable=data["unacceptable"],
            threshold=data["acceptable_max_level"] or "-",
        ),
        markup=False,
    )
    for group in ("systems", "businesses"):
        for item in data["rollup"][group]:
            console.print(
                t(
                    f"risk.cli.rollup_{group}",
                    name=item["name"],
                    level=item["level"] or "-",
                    value=item["value"] if item["value"] is not None else "-",
                    risks=item["risks"],
                ),
                markup=False,
            )
    trend = data.get("trend")
    if trend:
        console.print(
            t(
                "risk.cli.trend",
                run=trend["previous_run_id"],
                then="，".join(f"{k} {v}" for k, v in trend["counts_then"].items()),
                now="，".join(f"{k} {v}" for k, v in trend["counts_now"].items()),
                added=len(trend["added"]),
                removed=len(trend["removed"]),
                changed=len(trend["changed"]),
            ),
            markup=False,
        )
    for reason, count in data["skipped"].items():
        console.print(t(f"risk.cli.skipped.{reason}", count=count), markup=False)
    if data.get("run_id"):
        console.print(t("risk.cli.saved", run=data["run_id"]), markup=False)
    if show_explain:
        for r in risks:
            console.print(
                f"\n[{r['level']}] {r['asset']} · {r['threat']} · {r['vulnerability']}",
                markup=False,
            )
            for section in ("asset", "threat", "vulnerability", "measures", "calculation"):
                for line in r["explain"][section]:
                    console.print(f"  - {line}", markup=False)
            console.print(f"  → {r['treatment']}", markup=False)


@app.command("assess", help=t("risk.cli.help_assess"))
def assess_cmd(
    engagement: EngagementOpt,
    method: Annotated[
        str | None, typer.Option("--method", help=t("risk.cli.help_method_opt"))
    ] = None,
    explain: Annotated[bool, typer.Option("--explain", help=t("risk.cli.help_explain"))] = False,
    method_file: Annotated[
        Path | None, typer.Option("--method-file", help=t("risk.cli.help_method_file"))
    ] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help=t("risk.cli.help_no_save"))] = False,
    json_out: JsonOpt = False,
) -> None:
    """Assess the engagement's risks and compare with the previous assessment."""
    override = read_override_file(method_file) if method_file is not None else None
    with db_session() as session:
        found = resolve_engagement(session, engagement)
        data = service.assess(
            session,
            found,
            method=method,
            file_override=override,
            with_explain=explain,
            actor=actor(),
            save=not no_save,
        )
    if json_out:
        print_json(data)
        return
    _print_assessment(data, show_explain=explain)


@app.command("runs", help=t("risk.cli.help_runs"))
def runs_cmd(engagement: EngagementOpt, json_out: JsonOpt = False) -> None:
    """List the stored assessments of the engagement."""
    with db_session(readonly=True) as session:
        data = service.list_runs(session, resolve_engagement(session, engagement))
    if json_out:
        print_json(data)
        return
    print_table(
        t("risk.cli.runs_title", count=len(data)),
        [
            t("cli.col.id"),
            t("risk.cli.col.method"),
            t("risk.cli.col.at"),
            t("risk.cli.col.count"),
            t("risk.cli.col.summary"),
        ],
        [
            [
                r["id"],
                t(f"risk.method.{r['method']}"),
                r["created_at"],
                r["risks"],
                "，".join(f"{k} {v}" for k, v in r["summary"].items()),
            ]
            for r in data
        ],
    )


# ------------------------------------------------------------------ threats
@threats_app.command("list", help=t("risk.cli.help_threats_list"))
def threats_list(engagement: EngagementOpt, json_out: JsonOpt = False) -> None:
    """The engagement's threat catalogue."""
    with db_session(readonly=True) as session:
        data = service.list_threats(session, resolve_engagement(session, engagement))
    if json_out:
        print_json(data)
        return
    print_table(
        t("risk.cli.threats_title", count=len(data)),
        [
            "ID",
            t("risk.cli.col.name"),
            t("risk.cli.col.kind"),
            t("risk.cli.col.source"),
            t("risk.cli.col.actor"),
            t("risk.cli.col.motive"),
            t("risk.cli.col.timing"),
            t("risk.cli.col.frequency"),
            t("risk.cli.col.capability"),
            "T",
            t("risk.cli.col.exploits"),
            t("risk.cli.col.edited"),
        ],
        [
            [
                th["id"],
                th["name"] + (t("risk.cli.disabled") if th["disabled"] else ""),
                th["kind"],
                th["source"],
                th["actor"],
                th["motive"],
                th["timing"],
                th["frequency"],
                th["capability"],
                th["value"],
                ", ".join(th["exploits"]),
                ", ".join(th["edited"]) or None,
            ]
            for th in data
        ],
    )


@threats_app.command("edit", help=t("risk.cli.help_threats_edit"))
def threats_edit(
    threat: Annotated[str, typer.Argument(help=t("risk.cli.help_threat_id"))],
    engagement: EngagementOpt,
    frequency: Annotated[
        int | None, typer.Option("--frequency", help=t("risk.cli.help_frequency"))
    ] = None,
    capability: Annotated[
        int | None, typer.Option("--capability", help=t("risk.cli.help_capability"))
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help=t("risk.cli.help_threat_field"))
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help=t("risk.cli.help_threat_field"))
    ] = None,
    actor_: Annotated[
        str | None, typer.Option("--actor", help=t("risk.cli.help_threat_field"))
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help=t("risk.cli.help_threat_field"))
    ] = None,
    motive: Annotated[
        str | None, typer.Option("--motive", help=t("risk.cli.help_threat_field"))
    ] = None,
    timing: Annotated[
        str | None, typer.Option("--timing", help=t("risk.cli.help_threat_field"))
    ] = None,
    exploits: Annotated[
        list[str] | None, typer.Option("--exploits", help=t("risk.cli.help_exploits"))
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help=t("risk.cli.help_enable"))
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help=t("risk.cli.help_reset"))] = False,
    json_out: JsonOpt = False,
) -> None:
    """Set frequency, capability or other fields of a threat for this engagement."""
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "frequency": frequency,
            "capability": capability,
            "name": name,
            "source": source,
            "actor": actor_,
            "kind": kind,
            "motive": motive,
            "timing": timing,
        }.items()
        if v is not None
    }
    if exploits:
        changes["exploits"] = _split(exploits)
    if enabled is not None:
        changes["disabled"] = not enabled
    with db_session() as session:
        data = service.edit_threat(
            session,
            resolve_engagement(session, engagement),
            threat,
            changes,
            reset=reset,
            actor=actor(),
        )
    if json_out:
        print_json(data)
        return
    console.print(
        t(
            "risk.cli.threat_edited",
            id=data["id"],
            name=data["name"],
            frequency=data["frequency"],
            capability=data["capability"] or "-",
            value=data["value"],
        ),
        markup=False,
    )


# ------------------------------------------------------------------ vulnerabilities
@vulns_app.command("add", help=t("risk.cli.help_vulns_add"))
def vulns_add(
    name: Annotated[str, typer.Argument(help=t("risk.cli.help_vuln_name"))],
    engagement: EngagementOpt,
    severity: Annotated[str, typer.Option("--severity", help=t("risk.cli.help_severity"))],
    vuln_type: Annotated[
        str, typer.Option("--type", help=t("risk.cli.help_vuln_type"))
    ] = "technical",
    vuln_class: Annotated[
        str | None, typer.Option("--class", help=t("risk.cli.help_class"))
    ] = None,
    asset: AssetOpt = None,
    system: SystemOpt = None,
    threat: Annotated[
        str | None, typer.Option("--threat", help=t("risk.cli.help_pin_threat"))
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help=t("risk.cli.help_description"))
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a manual vulnerability (questionnaire, interview, document review)."""
    with db_session() as session:
        found = resolve_engagement(session, engagement)
        entry = service.add_vulnerability(
            session,
            found,
            name=name,
            vuln_type=vuln_type,
            severity=severity,
            vuln_class=vuln_class,
            asset=asset,
            system=system,
            threat=threat,
            description=description,
            actor=actor(),
        )
        data = service.manual_as_dict(session, entry)
    if json_out:
        print_json(data)
        return
    console.print(
        t(
            "risk.cli.vuln_added",
            id=data["id"],
            name=data["name"],
            severity=data["severity"],
            target=data["target"] or t("risk.cli.whole_engagement"),
        ),
        markup=False,
    )


@vulns_app.command("list", help=t("risk.cli.help_vulns_list"))
def vulns_list(engagement: EngagementOpt, json_out: JsonOpt = False) -> None:
    """Every vulnerability the next assessment uses."""
    with db_session(readonly=True) as session:
        data = service.list_vulnerabilities(session, resolve_engagement(session, engagement))
    if json_out:
        print_json(data)
        return
    print_table(
        t("risk.cli.vulns_title", count=len(data)),
        [
            t("risk.cli.col.key"),
            t("risk.cli.col.source"),
            t("risk.cli.col.vulnerability"),
            t("risk.cli.col.class"),
            "V",
            t("risk.cli.col.asset"),
            t("risk.cli.col.threats"),
        ],
        [
            [
                v["key"],
                t(f"risk.vuln_source.{v['source']}"),
                v["name"],
                v["class"],
                v["severity"],
                v["asset"],
                ", ".join(v["threats"]) or None,
            ]
            for v in data
        ],
    )


@vulns_app.command("remove", help=t("risk.cli.help_vulns_remove"))
def vulns_remove(
    vuln_id: Annotated[int, typer.Argument(help=t("risk.cli.help_id"))], engagement: EngagementOpt
) -> None:
    """Delete a manual vulnerability entry."""
    with db_session() as session:
        service.remove_vulnerability(session, resolve_engagement(session, engagement), vuln_id)
    console.print(t("risk.cli.removed", id=vuln_id), markup=False)


# ------------------------------------------------------------------ measures
@measures_app.command("add", help=t("risk.cli.help_measures_add"))
def measures_add(
    name: Annotated[str, typer.Argument(help=t("risk.cli.help_measure_name"))],
    engagement: EngagementOpt,
    measure_type: Annotated[str, typer.Option("--type", help=t("risk.cli.help_measure_type"))],
    effect: Annotated[int, typer.Option("--effect", help=t("risk.cli.help_effect"))] = 1,
    threat: Annotated[
        list[str] | None, typer.Option("--threat", help=t("risk.cli.help_measure_threat"))
    ] = None,
    vuln_class: Annotated[
        list[str] | None, typer.Option("--class", help=t("risk.cli.help_measure_class"))
    ] = None,
    asset: AssetOpt = None,
    system: SystemOpt = None,
    ineffective: Annotated[
        bool, typer.Option("--ineffective", help=t("risk.cli.help_ineffective"))
    ] = False,
    note: Annotated[str | None, typer.Option("--note", help=t("risk.cli.help_description"))] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record an existing security measure."""
    with db_session() as session:
        found = resolve_engagement(session, engagement)
        measure = service.add_measure(
            session,
            found,
            name=name,
            measure_type=measure_type,
            effect=effect,
            threats=_split(threat),
            classes=_split(vuln_class),
            asset=asset,
            system=system,
            effective=not ineffective,
            note=note,
            actor=actor(),
        )
        data = service.measure_as_dict(session, measure)
    if json_out:
        print_json(data)
        return
    console.print(
        t(
            "risk.cli.measure_added",
            id=data["id"],
            name=data["name"],
            type=t(f"risk.measure_type.{data['type']}"),
        ),
        markup=False,
    )


@measures_app.command("list", help=t("risk.cli.help_measures_list"))
def measures_list(engagement: EngagementOpt, json_out: JsonOpt = False) -> None:
    """The engagement's security measures."""
    with db_session(readonly=True) as session:
        data = service.list_measures(session, resolve_engagement(session, engagement))
    if json_out:
        print_json(data)
        return
    print_table(
        t("risk.cli.measures_title", count=len(data)),
        [
            t("cli.col.id"),
            t("risk.cli.col.name"),
            t("risk.cli.col.type"),
            t("risk.cli.col.effect"),
            t("risk.cli.col.threats"),
            t("risk.cli.col.class"),
            t("risk.cli.col.target"),
            t("risk.cli.col.effective"),
        ],
        [
            [
                m["id"],
                m["name"],
                t(f"risk.measure_type.{m['type']}"),
                m["effect"],
                ", ".join(m["threats"]) or t("risk.cli.all"),
                ", ".join(m["classes"]) or t("risk.cli.all"),
                m["target"] or t("risk.cli.whole_engagement"),
                t("risk.cli.yes") if m["effective"] else t("risk.cli.no"),
            ]
            for m in data
        ],
    )


@measures_app.command("remove", help=t("risk.cli.help_measures_remove"))
def measures_remove(
    measure_id: Annotated[int, typer.Argument(help=t("risk.cli.help_id"))],
    engagement: EngagementOpt,
) -> None:
    """Delete a measure."""
    with db_session() as session:
        service.remove_measure(session, resolve_engagement(session, engagement), measure_id)
    console.print(t("risk.cli.removed", id=measure_id), markup=False)


@measures_app.command("mark", help=t("risk.cli.help_measures_mark"))
def measures_mark(
    measure_id: Annotated[int, typer.Argument(help=t("risk.cli.help_id"))],
    engagement: EngagementOpt,
    effective: Annotated[
        bool | None, typer.Option("--effective/--ineffective", help=t("risk.cli.help_mark"))
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Mark a measure effective or ineffective."""
    if effective is None:
        raise ValidationError(t("risk.cli.mark_needs_flag"))
    with db_session() as session:
        measure = service.mark_measure(
            session, resolve_engagement(session, engagement), measure_id, effective=effective
        )
        data = service.measure_as_dict(session, measure)
    if json_out:
        print_json(data)
        return
    key = "risk.cli.marked_effective" if effective else "risk.cli.marked_ineffective"
    console.print(t(key, id=data["id"], name=data["name"]), markup=False)


# ------------------------------------------------------------------ businesses
@business_app.command("add", help=t("risk.cli.help_business_add"))
def business_add(
    name: Annotated[str, typer.Argument(help=t("risk.cli.help_business_name"))],
    engagement: EngagementOpt,
    importance: Annotated[int, typer.Option("--importance", help=t("risk.cli.help_importance"))],
    system: Annotated[
        list[str] | None, typer.Option("--system", help=t("risk.cli.help_business_system"))
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help=t("risk.cli.help_description"))
    ] = None,
) -> None:
    """Record a business, its importance and the systems bearing it."""
    with db_session() as session:
        service.add_business(
            session,
            resolve_engagement(session, engagement),
            name=name,
            importance=importance,
            systems=list(system or []),
            description=description,
        )
    console.print(t("risk.cli.business_added", name=name, importance=importance), markup=False)


@business_app.command("list", help=t("risk.cli.help_business_list"))
def business_list(engagement: EngagementOpt, json_out: JsonOpt = False) -> None:
    """The engagement's businesses."""
    with db_session(readonly=True) as session:
        data = service.list_businesses(session, resolve_engagement(session, engagement))
    if json_out:
        print_json(data)
        return
    print_table(
        t("risk.cli.business_title", count=len(data)),
        [t("risk.cli.col.name"), t("risk.cli.col.importance"), t("risk.cli.col.systems")],
        [
            [
                b["name"],
                b["importance"],
                "，".join(f"{s['name']}({s['relevance']})" for s in b["systems"]) or None,
            ]
            for b in data
        ],
    )


@business_app.command("remove", help=t("risk.cli.help_business_remove"))
def business_remove(
    name: Annotated[str, typer.Argument(help=t("risk.cli.help_business_name"))],
    engagement: EngagementOpt,
) -> None:
    """Delete a business."""
    with db_session() as session:
        service.remove_business(session, resolve_engagement(session, engagement), name)
    console.print(t("risk.cli.business_removed", name=name), markup=False)


# ------------------------------------------------------------------ method parameters
@method_app.command("show", help=t("risk.cli.help_method_show"))
def method_show(engagement: EngagementOpt, json_out: JsonOpt = False) -> None:
    """The method parameters in force for the engagement."""
    with db_session(readonly=True) as session:
        found = resolve_engagement(session, engagement)
        config = service.engagement_config(session, found)
        stored = service.stored_override(session, found)
        data = {
            "override": stored.override if stored else None,
            "override_source": stored.source_name if stored else None,
            "parameters": config.model_dump(mode="json"),
        }
    if json_out:
        print_json(data)
        return
    console.print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), markup=False)


@method_app.command("set", help=t("risk.cli.help_method_set"))
def method_set(
    file: Annotated[Path, typer.Argument(help=t("risk.cli.help_method_file"))],
    engagement: EngagementOpt,
) -> None:
    """Store a (partial) method file as the engagement's override."""
    data = read_override_file(file)
    with db_session() as session:
        service.set_override(
            session, resolve_engagement(session, engagement), data, file.name, actor()
        )
    console.print(t("risk.cli.method_set", file=file.name), markup=False)


@method_app.command("reset", help=t("risk.cli.help_method_reset"))
def method_reset(engagement: EngagementOpt) -> None:
    """Drop the engagement's stored override."""
    with db_session() as session:
        dropped = service.reset_override(session, resolve_engagement(session, engagement))
    console.print(t("risk.cli.method_reset" if dropped else "risk.cli.method_none"), markup=False)
