"""漏洞扫描报告: host and web vulnerability scan results of an engagement.

Options: ``scope`` = ``all`` (default), ``host`` or ``web``. With a period, only findings
detected during it count (first seen before its end and last seen after its start).
Findings marked 误报 are left out (and counted); compliance results (baseline, MLPS,
data security) have reports of their own and are left out too. Details are grouped per
rule (source tool + check id), so 10,000 findings read as a few hundred entries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.engagements.models import Engagement
from shaobing.findings.models import Finding, ImportRun
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import Status
from shaobing.reports.builders import common as c
from shaobing.reports.builders.base import BuildContext, ReportData
from shaobing.reports.markup import Parts
from shaobing.reports.model import Chart, KeyValue, Table
from shaobing.scan.models import ScanRun

SCOPES = ("all", "host", "web")


def scan_scope(options: dict[str, str]) -> str:
    """The ``scope`` option (all/host/web); anything else is a one-line error."""
    value = options.get("scope", "all").strip().lower() or "all"
    if value not in SCOPES:
        raise ValidationError(
            t("reports.bad_option", option="scope", value=value, known=", ".join(SCOPES))
        )
    return value


def in_scope(row: c.FindingRow, scope: str) -> bool:
    """Whether a finding belongs to the report's scope (host or web findings, or both)."""
    return scope == "all" or (scope == "web") == c.is_web(row)


def _runs_table(
    session: Session,
    engagement: Engagement,
    scope: str,
    window: tuple[datetime, datetime] | None,
) -> tuple[Table, list[ScanRun]]:
    kinds = {"all": ["network", "web"], "host": ["network"], "web": ["web"]}[scope]
    query = select(ScanRun).where(ScanRun.engagement_id == engagement.id, ScanRun.kind.in_(kinds))
    if window is not None:
        start, after = window
        query = query.where(
            ScanRun.created_at < after,
            or_(ScanRun.finished_at.is_(None), ScanRun.finished_at >= start),
        )
    runs = list(session.scalars(query.order_by(ScanRun.id)))
    tz = engagement.timezone
    none = c.text("none")
    table = Table(
        columns=[
            c.column("scan_id", 0.5, "center"),
            c.column("scan_kind", 1.1),
            c.column("policy", 0.9),
            c.column("targets", 2.0),
            c.column("started", 1.2),
            c.column("finished", 1.2),
            c.column("scan_status", 0.7, "center"),
        ],
        rows=[
            [
                f"S-{r.id}",
                c.text(f"scan_kind.{r.kind}") if r.kind in ("network", "web") else r.kind,
                r.policy or none,
                c.listing([str(x) for x in r.targets or []], 5),
                c.cn_datetime(r.started_at, tz),
                c.cn_datetime(r.finished_at, tz),
                c.node("scan_status").get(r.status, r.status),
            ]
            for r in runs
        ],
        caption=c.text("captions.scan_runs"),
    )
    return table, runs


def _imports_table(
    session: Session,
    engagement: Engagement,
    window: tuple[datetime, datetime] | None,
) -> tuple[Table, list[ImportRun]]:
    query = select(ImportRun).where(
        ImportRun.engagement_id == engagement.id,
        ImportRun.scan_run_id.is_(None),
        ImportRun.source_tool.not_in(c.node("non_scan_sources")),
    )
    if window is not None:
        start, after = window
        query = query.where(ImportRun.started_at >= start, ImportRun.started_at < after)
    imports = list(session.scalars(query.order_by(ImportRun.id)))
    tz = engagement.timezone
    none = c.text("none")
    table = Table(
        columns=[
            c.column("tool", 1.0),
            c.column("file", 2.2),
            c.column("imported", 1.3),
            c.column("findings_count", 0.7, "right"),
        ],
        rows=[
            [
                r.source_tool,
                r.file_name or none,
                c.cn_datetime(r.started_at, tz),
                str(
                    int((r.summary or {}).get("created", 0))
                    + int((r.summary or {}).get("duplicates", 0))
                ),
            ]
            for r in imports
        ],
        caption=c.text("captions.import_runs"),
    )
    return table, imports


def _time_span(
    runs: list[ScanRun], imports: list[ImportRun], rows: list[c.FindingRow], tz: str
) -> dict[str, str]:
    starts = [r.started_at for r in runs if r.started_at] + [i.started_at for i in imports]
    # An import's own finish is when the file was loaded, not when the tool scanned.
    ends = [r.finished_at for r in runs if r.finished_at] + [i.started_at for i in imports]
    if not starts and rows:
        starts = [min(r.first_seen for r in rows)]
        ends = [max(r.last_seen for r in rows)]
    if not starts:
        return {"start": "", "end": ""}
    return {
        "start": c.cn_datetime(min(starts), tz),
        "end": c.cn_datetime(max(ends), tz) if ends else "",
    }


def _type_table(groups: list[c.FindingGroup], n: int) -> Table:
    ranked = sorted(groups, key=lambda g: (-g.count, -Severity(g.severity).rank, g.title))[:n]
    return Table(
        columns=[
            c.column("index", 0.5, "center"),
            c.column("vuln_title", 3.4),
            c.column("level", 0.7, "center"),
            c.column("hosts", 0.7, "right"),
            c.column("count", 0.7, "right"),
        ],
        rows=[
            [str(i), g.title, c.severity_word(g.severity), str(len(g.targets)), str(g.count)]
            for i, g in enumerate(ranked, start=1)
        ],
        caption=c.text("captions.top_types", n=n),
        level_column=2,
    )


def detail_entries(
    session: Session, groups: list[c.FindingGroup], prefix: str
) -> tuple[list[dict[str, Any]], dict[str, KeyValue]]:
    """Per severity, the groups' template entries and their key-value tables.

    ``prefix`` is the chapter number (``3``): sections are numbered ``3.1`` per severity
    present and ``3.1.1`` per group.
    """
    details = c.load_details(session, (g.rows[0].id for g in groups))
    shown = int(c.node("affected_shown"))
    evidence_chars = int(c.node("evidence_chars"))
    none = c.text("none")
    sections: list[dict[str, Any]] = []
    kvs: dict[str, KeyValue] = {}
    serial = 0
    for severity in c.SEVERITIES:
        members = [g for g in groups if g.severity == severity.value]
        if not members:
            continue
        number = f"{prefix}.{len(sections) + 1}"
        entries = []
        for index, group in enumerate(members, start=1):
            serial += 1
            detail = details.get(group.rows[0].id)
            ids = group.cve_ids + sorted(
                set(detail.cnvd_ids + detail.cnnvd_ids) if detail else set()
            )
            name = f"vuln_{serial}"
            kvs[name] = KeyValue(
                (
                    (c.text("kv.level"), c.severity_word(group.severity)),
                    (c.text("kv.ids"), "、".join(ids) or none),
                    (
                        c.text("kv.cwe"),
                        "、".join(f"CWE-{n}" for n in group.cwe_ids) or none,
                    ),
                    (c.text("kv.source"), group.source_tool),
                    (
                        c.text("kv.scope"),
                        c.text("kv.scope_text", hosts=len(group.targets), count=group.count),
                    ),
                    (c.text("kv.affected"), c.listing(group.locations, shown)),
                    (
                        c.text("kv.status"),
                        c.text(
                            "kv.status_text",
                            open=group.open_count,
                            closed=group.count - group.open_count,
                        ),
                    ),
                )
            )
            entries.append(
                {
                    "number": f"{number}.{index}",
                    "title": group.title,
                    "kv": name,
                    "level": c.severity_word(group.severity),
                    "count": group.count,
                    "description": (detail.description or "") if detail else "",
                    "evidence": c.short(detail.evidence, evidence_chars) if detail else "",
                    "remediation": (detail.remediation or "") if detail else "",
                    "references": list(detail.references[:5]) if detail else [],
                }
            )
        sections.append(
            {
                "number": number,
                "value": severity.value,
                "word": c.severity_word(severity.value),
                "groups": entries,
                "count": sum(g.count for g in members),
            }
        )
    return sections, kvs


def collect(ctx: BuildContext) -> ReportData:
    """Collect the scan results of the engagement (see the module docstring)."""
    session, engagement = ctx.session, ctx.engagement
    tz = engagement.timezone
    scope = scan_scope(ctx.options)
    window = c.period_window(ctx.period, tz)
    loaded = c.load_findings(
        session,
        engagement,
        Finding.source_tool.not_in(c.node("non_scan_sources")),
        *c.seen_within(window),
    )
    scoped = [r for r in loaded if in_scope(r, scope)]
    false_positives = sum(1 for r in scoped if r.status == Status.FALSE_POSITIVE.value)
    rows = [r for r in scoped if r.status != Status.FALSE_POSITIVE.value]

    counts = c.severity_counts(r.severity for r in rows)
    open_counts = c.severity_counts(r.severity for r in rows if r.is_open)
    groups = c.group_findings(rows)
    top_n = int(c.node("top_hosts"))
    hosts = c.top_hosts(rows, top_n)
    runs_table, runs = _runs_table(session, engagement, scope, window)
    imports_table, imports = _imports_table(session, engagement, window)
    sections, kvs = detail_entries(session, groups, "3")
    sla = c.sla_rows(session, engagement)
    order_ids = {r.work_order_id for r in rows if r.work_order_id is not None}
    orders = c.load_work_orders(session, engagement, order_ids)
    overdue = [o for o in orders if c.is_overdue(o, ctx.today)]
    host_rows = [r for r in rows if not c.is_web(r)]
    web_rows = [r for r in rows if c.is_web(r)]

    findings_annex = c.findings_table(
        rows, caption=c.text("captions.findings_annex"), sheet=c.text("sheets.findings"), tz=tz
    )
    assets_annex = c.asset_table(
        session,
        engagement,
        caption=c.text("captions.assets_annex"),
        sheet=c.text("sheets.assets"),
        asset_ids={r.asset_id for r in rows if r.asset_id is not None},
    )
    orders_annex = c.work_order_table(
        orders,
        as_of=ctx.today,
        caption=c.text("captions.orders_annex"),
        sheet=c.text("sheets.orders"),
    )
    charts: dict[str, Chart] = {
        "severity": c.severity_chart(counts, c.text("captions.severity_chart")),
        "top_hosts": c.top_hosts_chart(hosts, c.text("captions.top_hosts_chart", n=len(hosts))),
    }
    tables: dict[str, Table] = {
        "severity": c.severity_table(counts, c.text("captions.severity_table")),
        "top_hosts": c.top_hosts_table(hosts, c.text("captions.top_hosts_table", n=len(hosts))),
        "top_types": _type_table(groups, int(c.node("top_types"))),
        "scan_runs": runs_table,
        "imports": imports_table,
        "sla": c.sla_table(sla, c.text("captions.sla")),
        "findings": findings_annex,
        "assets": assets_annex,
        "work_orders": orders_annex,
    }
    context: dict[str, Any] = {
        "facts": c.engagement_facts(engagement),
        "scope": scope,
        "scope_label": c.text(f"scope_option.{scope}"),
        "period_label": ctx.period.label if ctx.period else "",
        "today": c.cn_date(ctx.today),
        "total": len(rows),
        "open_total": sum(open_counts.values()),
        "closed_total": len(rows) - sum(open_counts.values()),
        "false_positives": false_positives,
        "counts": c.severity_rows(counts),
        "open_counts": c.severity_rows(open_counts),
        "rating": c.rating(counts),
        "host_count": len({r.target for r in rows}),
        "host_vulns": len(host_rows),
        "host_hosts": len({r.target for r in host_rows}),
        "web_vulns": len(web_rows),
        "web_sites": len({r.target for r in web_rows}),
        "asset_count": len({r.asset_id for r in rows if r.asset_id is not None}),
        "ledger_types": c.asset_type_counts(session, engagement),
        "groups_total": len(groups),
        "top_hosts": [{"host": h.host, "total": h.total} for h in hosts],
        "scan_run_count": len(runs),
        "import_count": len(imports),
        "tools": sorted({r.source_tool for r in rows}),
        "policies": sorted({r.policy for r in runs if r.policy}),
        "span": _time_span(runs, imports, rows, tz),
        "sections": sections,
        "sla": sla,
        "order_total": len(orders),
        "order_open": sum(1 for o in orders if c.status_is_open(o.state)),
        "order_overdue": len(overdue),
    }
    subtitle = c.text(f"scope_option.{scope}")
    if ctx.period is not None:
        subtitle = f"{subtitle}（{ctx.period.label}）"
    return ReportData(
        context=context,
        parts=Parts(tables=tables, kvs=kvs, charts=charts),
        annexes=[findings_annex, assets_annex, orders_annex],
        subtitle=subtitle,
    )
