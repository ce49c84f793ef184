"""``shaobing policy list/show``: the scan policies (built-in and the user's) as data."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shaobing.cli.output import console, print_json, print_table
from shaobing.cli.scan import policies as list_policies
from shaobing.core.i18n import t
from shaobing.scan.checks import load_checks
from shaobing.scan.plugins.templates import TemplateCheck
from shaobing.scan.policy import Policy, get_policy
from shaobing.scan.ports import parse_ports

app = typer.Typer(no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help=t("cli.help.json"))]

app.command("list", help=t("cli.help.policy_list"))(list_policies)


def policy_detail(policy: Policy) -> dict[str, Any]:
    """Everything a policy decides, with the checks and templates it selects."""
    checks = [cls() for cls in load_checks().values() if policy.allows(cls.id, cls.safety)]
    templates: list[str] = []
    for check in checks:
        if isinstance(check, TemplateCheck):
            chosen = check.selected_templates(policy.options_for(check.id))
            templates += [item.template.id for item in chosen]
    return {
        "name": policy.name,
        "title": policy.title,
        "description": policy.description,
        "safety": [s.value for s in policy.safety],
        "discovery": policy.discovery,
        "ports": policy.ports,
        "port_count": len(parse_ports(policy.ports)),
        "udp_ports": list(policy.udp_ports),
        "identify": policy.identify,
        "min_severity": policy.min_severity.value if policy.min_severity else None,
        "timeout": policy.timeout,
        "retries": policy.retries,
        "rate": policy.rate,
        "concurrency": policy.concurrency,
        "per_host": policy.per_host,
        "zone": policy.zone,
        "options": policy.options,
        "checks": [{"id": c.id, "safety": c.safety.value} for c in checks],
        "templates": sorted(templates),
    }


@app.command("show", help=t("cli.help.policy_show"))
def show(
    name: Annotated[str, typer.Argument(help=t("cli.help.policy_name"))],
    json_out: JsonOpt = False,
) -> None:
    """Show one policy: settings, the checks it runs and the templates they select."""
    data = policy_detail(get_policy(name))
    if json_out:
        print_json(data)
        return
    for key in (
        "name",
        "title",
        "description",
        "safety",
        "ports",
        "port_count",
        "udp_ports",
        "min_severity",
        "rate",
        "concurrency",
        "per_host",
        "timeout",
    ):
        value = data[key]
        if isinstance(value, list):
            value = ", ".join(map(str, value)) or "—"
        console.print(
            f"{t('cli.policy_field.' + key)}：{value if value not in (None, '') else '—'}",
            markup=False,
        )
    print_table(
        t("cli.policy_checks_title", count=len(data["checks"]), templates=len(data["templates"])),
        ["ID", t("scan.col.safety")],
        [[c["id"], c["safety"]] for c in data["checks"]],
    )
