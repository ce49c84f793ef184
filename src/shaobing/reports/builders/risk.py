"""风险评估报告 (GB/T 20984-2022 structure): assets, threats, vulnerabilities, measures, risks.

The report uses the engagement's latest stored risk assessment (of the period, when one is
given: the latest stored by the period's end) with the parameters stored with it, and compares
it with the stored run before it. Without a stored run it computes one through the risk service
without saving, exactly as ``shaobing risk assess --no-save`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.assess.risk import service as risk_service
from shaobing.assess.risk.calc import band_range
from shaobing.assess.risk.config import LEVELS, MethodConfig, default_method, vuln_classes
from shaobing.assess.risk.inputs import SYSTEM, load_inputs
from shaobing.assess.risk.models import RiskRun
from shaobing.assess.risk.trend import compare
from shaobing.assets.kinds import AssetType, asset_type_label
from shaobing.assets.models import Asset
from shaobing.engagements.models import Engagement
from shaobing.reports.builders import assess_common as ac
from shaobing.reports.builders.base import BuildContext, ReportData
from shaobing.reports.markup import Parts
from shaobing.reports.model import Chart, ChartSpec, Table
from shaobing.reports.period import Period


@dataclass
class Assessment:
    """The risk assessment the report describes, in the service's JSON form."""

    payload: dict[str, Any]
    config: MethodConfig
    stored: bool
    run_id: int | None
    created_at: datetime | None

    @property
    def risks(self) -> list[dict[str, Any]]:
        """Every risk, highest first."""
        found: list[dict[str, Any]] = self.payload.get("risks") or []
        return found

    def level_names(self) -> list[str]:
        """Level names highest first."""
        return [self.config.level_name(level) for level in reversed(LEVELS)]


def _stored_runs(session: Session, engagement: Engagement) -> list[RiskRun]:
    return list(
        session.scalars(
            select(RiskRun).where(RiskRun.engagement_id == engagement.id).order_by(RiskRun.id)
        )
    )


def load_assessment(session: Session, engagement: Engagement, period: Period | None) -> Assessment:
    """The latest stored run (by the period's end), else a fresh unsaved assessment."""
    runs = [
        r
        for r in _stored_runs(session, engagement)
        if period is None or (ac.local_day(r.created_at) or period.end) <= period.end
    ]
    if not runs:
        payload = risk_service.assess(session, engagement, save=False)
        config = risk_service.engagement_config(session, engagement)
        return Assessment(payload, config, stored=False, run_id=None, created_at=None)
    run = runs[-1]
    config = MethodConfig.model_validate(run.parameters)
    summary = run.summary or {}
    earlier = [r for r in runs[:-1] if r.method == run.method]
    names = [config.level_name(level) for level in reversed(LEVELS)]
    trend = None
    if earlier:
        before = earlier[-1]
        trend = {
            "previous_run_id": before.id,
            "previous_at": before.created_at.isoformat(),
        } | compare(before.results, run.results, names)
    payload = {
        "method": run.method,
        "risks": list(run.results or []),
        "summary": summary.get("summary") or {},
        "rollup": summary.get("rollup") or {"systems": [], "businesses": []},
        "skipped": summary.get("skipped") or {},
        "unacceptable": summary.get("unacceptable", 0),
        "acceptable_max_level": config.level_name(config.acceptable_max_level)
        if config.acceptable_max_level
        else None,
        "trend": trend,
        "run_id": run.id,
    }
    return Assessment(payload, config, stored=True, run_id=run.id, created_at=run.created_at)


# ------------------------------------------------------------------ method and parameters
def _matrix_table(
    name: str, row: str, col: str, values: list[list[int]], w: dict[str, Any]
) -> Table:
    rows = [[str(r + 1), *values[r]] for r in range(5)]
    return ac.make_table(w["tables"]["matrix"], rows, sheet=False, name=name, row=row, col=col)


def _bands_table(
    name: str, bands: dict[int, float], config: MethodConfig, w: dict[str, Any], *, integral: bool
) -> Table:
    rows = [
        [level, config.level_name(level), band_range(bands, level, integral=integral)]
        for level in reversed(LEVELS)
    ]
    return ac.make_table(w["tables"]["bands"], rows, sheet=False, name=name)


def _source(key: str, config: MethodConfig, w: dict[str, Any]) -> str:
    """Where a parameter comes from: the shipped default's source, or this engagement's value."""
    sources = w["parameter_sources"]
    shipped = default_method().model_dump(mode="json")
    current = config.model_dump(mode="json")
    fields = {
        "matrix_tables": ["matrix"],
        "multiply_functions": ["multiply"],
        "severity_map": ["severity_map", "include_info_findings"],
        "threat_value": ["threat_value"],
        "asset_value": [
            "asset_value",
            "default_system_value",
            "bearing_matrix",
            "default_relevance",
        ],
        "measures": ["measures"],
        "acceptable": ["acceptable_max_level"],
        "treatments": ["treatments"],
    }[key]
    if any(shipped.get(f) != current.get(f) for f in fields):
        return str(sources["overridden"])
    if key in ("matrix_tables", "multiply_functions"):
        return str(sources[key])
    return str(sources["org_default"])


def _parameters(a: Assessment, w: dict[str, Any]) -> Table:
    config = a.config
    v = w["values"]
    names = w["parameter_names"]
    method = a.payload["method"]
    m = config.multiply
    rows: list[list[object]] = [
        [names["method"], w["method"][method], w["parameter_sources"]["standard_principle"]]
    ]
    if method == "matrix":
        rows.append(
            [names["matrix_tables"], w["method"]["matrix"], _source("matrix_tables", config, w)]
        )
    else:
        text = v["multiply"].format(
            l=w["fn"][m.likelihood].format(x="T", y="V"),
            f=w["fn"][m.loss].format(x="Ia", y="Va"),
            r=w["fn"][m.risk].format(x="L", y="F"),
            decimals=m.decimals,
            rounding=w["rounding"][m.rounding],
        )
        rows.append([names["multiply_functions"], text, _source("multiply_functions", config, w)])
    sev = config.severity_map
    rows += [
        [
            names["severity_map"],
            v["severity_map"].format(**sev),
            _source("severity_map", config, w),
        ],
        [
            names["threat_value"],
            w["threat_value_rule"][config.threat_value],
            _source("threat_value", config, w),
        ],
        [
            names["asset_value"],
            v["asset_value"].format(default=config.default_system_value),
            _source("asset_value", config, w),
        ],
        [
            names["measures"],
            v["measures"].format(
                max=config.measures.max_effect,
                combine=v["combine"][config.measures.combine],
                ineffective=config.measures.ineffective_severity,
            ),
            _source("measures", config, w),
        ],
        [
            names["acceptable"],
            v["acceptable"].format(
                name=config.level_name(config.acceptable_max_level),
                level=config.acceptable_max_level,
            )
            if config.acceptable_max_level
            else v["acceptable_none"],
            _source("acceptable", config, w),
        ],
        [names["treatments"], v["treatments"], _source("treatments", config, w)],
    ]
    return ac.make_table(w["tables"]["parameters"], rows)


# ------------------------------------------------------------------ identification
def _target_key(risk: dict[str, Any]) -> str:
    return str(risk.get("key") or "").split("|")[0]


def _vuln_key(risk: dict[str, Any]) -> str:
    parts = str(risk.get("key") or "").split("|")
    return parts[2] if len(parts) > 2 else str(risk.get("vulnerability"))


def _assets(
    session: Session, engagement: Engagement, a: Assessment, w: dict[str, Any]
) -> tuple[Table, Table, Table, dict[str, int]]:
    businesses = risk_service.list_businesses(session, engagement)
    business_rows = [
        [
            i,
            b["name"],
            b["importance"],
            ac.joined([f"{s['name']}（{s['relevance']}）" for s in b["systems"]]),
        ]
        for i, b in enumerate(businesses, start=1)
    ]
    targets: dict[str, dict[str, Any]] = {}
    for risk in a.risks:
        targets.setdefault(_target_key(risk), risk)
    rollup = {s["name"]: s for s in (a.payload.get("rollup") or {}).get("systems", [])}
    components = [(k, r) for k, r in targets.items() if r.get("asset_layer") == "component"]
    per_system: dict[str, int] = {}
    for _, r in components:
        if r.get("system"):
            per_system[r["system"]] = per_system.get(r["system"], 0) + 1
    system_values = {
        r["asset"]: r.get("asset_value")
        for r in targets.values()
        if r.get("asset_layer") == "system"
    }
    # A system asset no risk was computed on directly still has a value (from its
    # components and the businesses it carries); the risk module derives it, not this report.
    for target in load_inputs(session, engagement, a.config).targets.values():
        if target.layer == SYSTEM:
            system_values.setdefault(target.name, target.value)
    system_names = list(dict.fromkeys([*rollup, *system_values]))
    system_rows = [
        [
            i,
            name,
            system_values.get(name),
            per_system.get(name, 0),
            rollup.get(name, {}).get("risks", 0),
            rollup.get(name, {}).get("level"),
        ]
        for i, name in enumerate(system_names, start=1)
    ]
    component_rows = []
    for i, (key, r) in enumerate(sorted(components, key=lambda kv: str(kv[1]["asset"])), start=1):
        asset = None
        if key.startswith("asset:") and key[6:].isdigit():
            asset = session.scalar(
                select(Asset).where(
                    Asset.id == int(key[6:]), Asset.client_id == engagement.client_id
                )
            )
        kind = None
        if asset is not None:
            try:
                kind = asset_type_label(AssetType(asset.asset_type))
            except ValueError:
                kind = asset.asset_type
        component_rows.append(
            [
                i,
                r["asset"],
                r.get("system"),
                kind,
                asset.confidentiality if asset else None,
                asset.integrity if asset else None,
                asset.availability if asset else None,
                r.get("asset_value"),
            ]
        )
    counts = {
        "businesses": len(business_rows),
        "systems": len(system_rows),
        "components": len(component_rows),
    }
    return (
        ac.make_table(w["tables"]["businesses"], business_rows, sheet=False),
        ac.make_table(w["tables"]["systems"], system_rows, sheet=False),
        ac.make_table(w["tables"]["components"], component_rows),
        counts,
    )


def _threats(
    session: Session, engagement: Engagement, a: Assessment, w: dict[str, Any]
) -> tuple[Table, int]:
    used: dict[str, dict[str, Any]] = {}
    for risk in a.risks:
        entry = used.setdefault(
            str(risk.get("threat_id")), {"risks": 0, "value": risk.get("threat_value")}
        )
        entry["risks"] += 1
    catalogue = {str(th["id"]): th for th in risk_service.list_threats(session, engagement)}
    rows = []
    for threat_id in sorted(used):
        th = catalogue.get(threat_id, {})
        rows.append(
            [
                threat_id,
                th.get("name")
                or next(
                    (r["threat"] for r in a.risks if r.get("threat_id") == threat_id), threat_id
                ),
                th.get("source"),
                th.get("actor"),
                th.get("kind"),
                th.get("motive"),
                th.get("timing"),
                th.get("frequency"),
                th.get("capability"),
                used[threat_id]["value"],
                used[threat_id]["risks"],
            ]
        )
    return ac.make_table(w["tables"]["threats"], rows), len(rows)


def _vulnerabilities(a: Assessment, w: dict[str, Any]) -> tuple[dict[str, Table], dict[str, int]]:
    classes = vuln_classes()
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for risk in a.risks:
        seen.setdefault((_vuln_key(risk), _target_key(risk)), risk)
    tables: dict[str, Table] = {}
    counts: dict[str, int] = {}
    for vtype in ("technical", "management"):
        rows: list[list[object]] = []
        for risk in sorted(
            (r for r in seen.values() if r.get("vulnerability_type") == vtype),
            key=lambda r: (
                -int(r.get("severity") or 0),
                str(r.get("vulnerability")),
                str(r.get("asset")),
            ),
        ):
            found = classes.get(str(risk.get("vulnerability_class")))
            rows.append(
                [
                    len(rows) + 1,
                    risk.get("vulnerability"),
                    found.name if found else risk.get("vulnerability_class"),
                    w["vuln_source"].get(
                        risk.get("vulnerability_source"), risk.get("vulnerability_source")
                    ),
                    risk.get("asset"),
                    risk.get("severity"),
                ]
            )
        name = w["vuln_type"][vtype]
        tables[f"vulns_{vtype}"] = ac.make_table(w["tables"]["vulns"], rows, name=name)
        counts[vtype] = len(rows)
    return tables, counts


def _measures(
    session: Session, engagement: Engagement, a: Assessment, w: dict[str, Any]
) -> tuple[Table, dict[str, int]]:
    measures = risk_service.list_measures(session, engagement)
    rows = []
    for i, m in enumerate(measures, start=1):
        acted = sum(1 for r in a.risks if m["name"] in (r.get("measures") or []))
        rows.append(
            [
                i,
                m["name"],
                w["measure_type"].get(m["type"], m["type"]),
                m["target"] or w["whole_engagement"],
                m["effect"],
                w["effective"] if m["effective"] else w["ineffective"],
                acted if m["effective"] else None,
            ]
        )
    counts = {
        "total": len(measures),
        "effective": sum(1 for m in measures if m["effective"]),
        "ineffective": sum(1 for m in measures if not m["effective"]),
    }
    return ac.make_table(w["tables"]["measures"], rows, sheet=False), counts


# ------------------------------------------------------------------ analysis and evaluation
def _risk_rows(a: Assessment, w: dict[str, Any]) -> list[list[object]]:
    return [
        [
            i,
            r.get("asset"),
            w["layer"].get(r.get("asset_layer"), r.get("asset_layer")),
            f"{r.get('threat_id')} {r.get('threat')}",
            r.get("vulnerability"),
            r.get("likelihood"),
            r.get("loss"),
            r.get("value"),
            r.get("level"),
        ]
        for i, r in enumerate(a.risks, start=1)
    ]


def _bin(value: object) -> int:
    """A likelihood or loss value as a level 1–5 (half up: the multiplication method's values)."""
    number = float(value) if isinstance(value, int | float) else 1.0
    return min(5, max(1, math.floor(number + 0.5)))


def _heatmap(a: Assessment, w: dict[str, Any]) -> Chart:
    """Counts per likelihood (rows, highest first so it is drawn on top) and loss (columns)."""
    c = w["charts"]
    matrix = [[0.0] * 5 for _ in range(5)]
    for r in a.risks:
        matrix[5 - _bin(r.get("likelihood"))][_bin(r.get("loss")) - 1] += 1
    labels = [f"{level} {a.config.level_name(level)}" for level in LEVELS]
    return Chart(
        ChartSpec(
            kind="heatmap",
            title=c["heatmap"],
            labels=labels,
            y_labels=list(reversed(labels)),
            matrix=matrix,
            x_title=c["x_loss"],
            y_title=c["y_likelihood"],
        )
    )


def _distribution(a: Assessment, w: dict[str, Any]) -> tuple[Table, Chart, list[dict[str, Any]]]:
    summary: dict[str, int] = a.payload.get("summary") or {}
    total = sum(summary.values())
    threshold = a.config.acceptable_max_level
    rows: list[list[object]] = []
    levels: list[dict[str, Any]] = []
    for level in reversed(LEVELS):
        name = a.config.level_name(level)
        count = int(summary.get(name, 0))
        acceptable = level <= threshold
        rows.append(
            [
                name,
                count,
                ac.percent_text(ac.percent(count, total)),
                w["acceptable"] if acceptable else w["unacceptable"],
            ]
        )
        levels.append(
            {
                "level": level,
                "name": name,
                "count": count,
                "acceptable": acceptable,
                "treatment": a.config.treatments[level],
            }
        )
    chart = Chart(
        ChartSpec(
            kind="bar",
            title=w["charts"]["levels"],
            labels=[lv["name"] for lv in levels],
            series={w["charts"]["count"]: [float(lv["count"]) for lv in levels]},
            y_title=w["charts"]["count"],
            colours=["8B0000", "C0392B", "D68910", "2874A6", "5D6D7E"],
        )
    )
    return ac.make_table(w["tables"]["distribution"], rows, sheet=False), chart, levels


def _rollup(a: Assessment, w: dict[str, Any]) -> Table:
    rollup = a.payload.get("rollup") or {}
    rows = [
        [w["layer"]["system"], s["name"], s["risks"], s.get("level"), s.get("value")]
        for s in rollup.get("systems", [])
    ] + [
        [w["layer"]["business"], b["name"], b["risks"], b.get("level"), b.get("value")]
        for b in rollup.get("businesses", [])
    ]
    return ac.make_table(w["tables"]["rollup"], rows, sheet=False)


def _treatment(a: Assessment, w: dict[str, Any]) -> Table:
    threshold = a.config.acceptable_max_level
    rows: list[list[object]] = []
    for r in a.risks:
        if int(r.get("level_rank") or 0) > threshold:
            rows.append(
                [
                    len(rows) + 1,
                    r.get("asset"),
                    f"{r.get('threat_id')} {r.get('threat')}",
                    r.get("vulnerability"),
                    r.get("level"),
                ]
            )
    return ac.make_table(w["tables"]["treatment"], rows, sheet=False)


def _trend(
    a: Assessment, w: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Table], dict[str, Chart]]:
    trend = a.payload.get("trend")
    if not trend:
        return None, {}, {}
    names = a.level_names()
    then, now = trend["counts_then"], trend["counts_now"]
    rows = [
        [n, then.get(n, 0), now.get(n, 0), f"{now.get(n, 0) - then.get(n, 0):+d}"] for n in names
    ]
    changed = [
        [
            i,
            c.get("asset"),
            c.get("threat"),
            c.get("vulnerability"),
            f"{c.get('previous_level')}（{ac.num(c.get('previous_value'))}）",
            f"{c.get('level')}（{ac.num(c.get('value'))}）",
            w["direction"].get(c.get("direction"), c.get("direction")),
        ]
        for i, c in enumerate(trend["changed"], start=1)
    ]
    chart = ChartSpec(
        kind="bar",
        title=w["charts"]["trend"],
        labels=names,
        series={
            w["charts"]["then"]: [float(then.get(n, 0)) for n in names],
            w["charts"]["now"]: [float(now.get(n, 0)) for n in names],
        },
        y_title=w["charts"]["count"],
    )
    info = {
        "previous_run_id": trend["previous_run_id"],
        "previous_at": ac.day_text(_parse_iso(trend["previous_at"])),
        "then_total": sum(then.values()),
        "now_total": sum(now.values()),
        "added": len(trend["added"]),
        "removed": len(trend["removed"]),
        "changed": len(trend["changed"]),
        "up": sum(1 for c in trend["changed"] if c.get("direction") == "up"),
        "down": sum(1 for c in trend["changed"] if c.get("direction") == "down"),
    }
    tables = {
        "trend_counts": ac.make_table(w["tables"]["trend_counts"], rows, sheet=False),
        "trend_changed": ac.make_table(w["tables"]["trend_changed"], changed, sheet=False),
    }
    return info, tables, {"trend": Chart(chart)}


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def collect(ctx: BuildContext) -> ReportData:
    """The risk assessment report's context, tables and charts."""
    w = ac.words("risk")
    a = load_assessment(ctx.session, ctx.engagement, ctx.period)
    config = a.config
    method = a.payload["method"]
    tables: dict[str, Table] = {
        "basis": ac.make_table(
            w["tables"]["basis"],
            [[i, s, u] for i, (s, u) in enumerate(w["basis"], start=1)],
            sheet=False,
        ),
        "parameters": _parameters(a, w),
    }
    if method == "matrix":
        mm = config.matrix
        for key, row, col, matrix in (
            ("likelihood", "T", "V", mm.likelihood),
            ("loss", "Ia", "V", mm.loss),
            ("risk", "L", "F", mm.risk),
        ):
            tables[f"m_{key}"] = _matrix_table(w["matrix_names"][key], row, col, matrix.values, w)
            tables[f"b_{key}"] = _bands_table(
                w["band_names"][key], matrix.bands, config, w, integral=True
            )
    else:
        tables["b_risk"] = _bands_table(
            w["band_names"]["risk"], config.multiply.bands, config, w, integral=False
        )
    businesses, systems, components, asset_counts = _assets(ctx.session, ctx.engagement, a, w)
    tables |= {"businesses": businesses, "systems": systems, "components": components}
    tables["threats"], threat_count = _threats(ctx.session, ctx.engagement, a, w)
    vuln_tables, vuln_counts = _vulnerabilities(a, w)
    tables |= vuln_tables
    tables["measures"], measure_counts = _measures(ctx.session, ctx.engagement, a, w)
    tables["risks"] = ac.make_table(w["tables"]["risks"], _risk_rows(a, w))
    tables["distribution"], level_chart, levels = _distribution(a, w)
    tables["rollup"] = _rollup(a, w)
    tables["treatment"] = _treatment(a, w)
    trend, trend_tables, trend_charts = _trend(a, w)
    tables |= trend_tables
    charts = {"levels": level_chart, "heatmap": _heatmap(a, w), **trend_charts}
    skipped = [
        w["skipped"][k].format(count=v)
        for k, v in (a.payload.get("skipped") or {}).items()
        if k in w["skipped"] and v
    ]
    top = a.risks[0] if a.risks else None
    context = {
        "words": w,
        "has_risks": bool(a.risks),
        "stored": a.stored,
        "run_id": a.run_id,
        "assessed_on": ac.day_text(a.created_at) if a.created_at else None,
        "method": method,
        "method_name": w["method"][method],
        "overridden": config.model_dump(mode="json") != default_method().model_dump(mode="json"),
        "total": len(a.risks),
        "unacceptable": int(a.payload.get("unacceptable") or 0),
        "threshold": a.payload.get("acceptable_max_level"),
        "levels": levels,
        "assets": asset_counts,
        "threat_count": threat_count,
        "vulns": vuln_counts,
        "measures": measure_counts,
        "skipped": skipped,
        "top": {
            "asset": top.get("asset"),
            "vulnerability": top.get("vulnerability"),
            "threat": top.get("threat"),
            "level": top.get("level"),
            "value": ac.num(top.get("value")),
        }
        if top
        else None,
        "trend": trend,
        "binned": method == "multiply",
    }
    parts = Parts(tables=tables, charts=charts)
    annexes = [tables["risks"], tables["components"], tables["threats"], *vuln_tables.values()]
    return ReportData(context=context, parts=parts, annexes=annexes)
