"""基线核查报告: the engagement's baseline runs, per target, profile, control point and clause.

The report covers the latest run of every (target, profile) pair — of the period when one is
given — among routine checks, third-party policy checks and post-hardening re-checks (the
target's latest known state). Observed texts are shown as stored, which the baseline module
has already masked; they are masked once more here so no secret can reach a report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.baseline.loader import raw_profiles
from shaobing.baseline.masking import mask_observed
from shaobing.baseline.models import BaselineRun
from shaobing.engagements.models import Engagement
from shaobing.reports.builders import assess_common as ac
from shaobing.reports.builders.base import BuildContext, ReportData
from shaobing.reports.markup import Parts
from shaobing.reports.model import Chart, ChartSpec, Table
from shaobing.reports.period import Period

PURPOSES = ("check", "sca", "harden-after")
SEVERITY_ORDER = ("严重", "高", "中", "低", "信息")
URGENT = frozenset({"严重", "高"})
# How many control points the advice names, and examples per control point.
ADVICE_CONTROLS = 3
EXAMPLES = 3


@dataclass
class TargetView:
    """One run as the report shows it."""

    index: int
    run: BaselineRun
    name: str
    profile_title: str
    failing: list[dict[str, Any]]
    errors: list[dict[str, Any]]

    @property
    def counts(self) -> dict[str, int]:
        """Rules per status (pass/fail/na/error)."""
        return {k: int((self.run.counts or {}).get(k, 0)) for k in ("pass", "fail", "na", "error")}

    @property
    def total(self) -> int:
        """Rules checked."""
        return sum(self.counts.values())

    @property
    def rate(self) -> float | None:
        """Compliance rate: passing rules over the applicable ones (不适用 left out)."""
        c = self.counts
        return ac.percent(c["pass"], c["pass"] + c["fail"] + c["error"])


def latest_runs(
    session: Session, engagement: Engagement, period: Period | None
) -> list[BaselineRun]:
    """The latest run per (target, profile) of the engagement (within the period if given)."""
    rows = session.scalars(
        select(BaselineRun)
        .where(BaselineRun.engagement_id == engagement.id, BaselineRun.purpose.in_(PURPOSES))
        .order_by(BaselineRun.id)
    ).all()
    latest: dict[tuple[str, str], BaselineRun] = {}
    for run in rows:
        if ac.in_period(run.started_at, period):
            latest[(run.target, run.profile)] = run
    return sorted(latest.values(), key=lambda r: (r.host or r.target, r.target, r.profile))


def _profile_titles() -> dict[str, str]:
    return {pid: raw.title or pid for pid, raw in raw_profiles().items()}


def _severity_rank(result: dict[str, Any]) -> int:
    severity = str(result.get("severity") or "")
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _masked(text: object) -> str:
    return mask_observed(str(text or ""))


def _clauses(result: dict[str, Any]) -> list[str]:
    refs = result.get("references") or {}
    return [str(c) for c in refs.get("gb22239") or []]


def _control(result: dict[str, Any]) -> str:
    refs = result.get("references") or {}
    return str(refs.get("control") or ac.none_text())


def _views(runs: list[BaselineRun]) -> list[TargetView]:
    titles = _profile_titles()
    views = []
    for index, run in enumerate(runs, start=1):
        results = list(run.results or [])
        failing = sorted(
            (r for r in results if r.get("status") == "fail"),
            key=lambda r: (_severity_rank(r), str(r.get("rule_id"))),
        )
        errors = [r for r in results if r.get("status") == "error"]
        name = run.host or run.target
        views.append(
            TargetView(index, run, name, titles.get(run.profile, run.profile), failing, errors)
        )
    return views


def _targets_table(views: list[TargetView], w: dict[str, Any]) -> Table:
    rows = []
    for v in views:
        c = v.counts
        rows.append(
            [
                v.index,
                v.name if v.name == v.run.target else f"{v.name}（{v.run.target}）",
                v.profile_title,
                v.run.os,
                w["purpose"].get(v.run.purpose, v.run.purpose),
                ac.short_day(v.run.started_at),
                v.total,
                c["pass"],
                c["fail"],
                c["na"],
                c["error"],
                v.run.score,
                ac.percent_text(v.rate),
            ]
        )
    return ac.make_table(w["tables"]["targets"], rows)


def _category_rows(views: list[TargetView]) -> list[dict[str, Any]]:
    """Failing rules grouped by profile and GB/T 22239 control point, most first."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for v in views:
        for r in v.failing:
            key = (v.profile_title, _control(r))
            group = groups.setdefault(
                key,
                {"profile": key[0], "control": key[1], "count": 0, "urgent": 0, "targets": set()},
            )
            group["count"] += 1
            group["urgent"] += 1 if r.get("severity") in URGENT else 0
            group["targets"].add(v.run.id)
            group.setdefault("titles", [])
            if r.get("title") not in group["titles"]:
                group["titles"].append(r.get("title"))
    return sorted(groups.values(), key=lambda g: (g["profile"], -g["count"], g["control"]))


def _severity_table(views: list[TargetView], w: dict[str, Any]) -> Table:
    rows = []
    for severity in SEVERITY_ORDER:
        hits = [
            (v.run.id, r.get("rule_id"))
            for v in views
            for r in v.failing
            if r.get("severity") == severity
        ]
        if hits:
            rows.append([severity, len(hits), len({h[1] for h in hits}), len({h[0] for h in hits})])
    return ac.make_table(w["tables"]["severity"], rows)


def _rules_table(view: TargetView, w: dict[str, Any]) -> Table:
    rows = [
        [
            i,
            r.get("rule_id"),
            r.get("title"),
            r.get("severity"),
            _masked(r.get("expected")),
            _masked(r.get("observed")),
            r.get("remediation") or ac.none_text(),
        ]
        for i, r in enumerate(view.failing, start=1)
    ]
    return ac.make_table(w["tables"]["rules"], rows, sheet=False, target=view.name)


def _errors_table(view: TargetView, w: dict[str, Any]) -> Table:
    rows = [
        [i, r.get("rule_id"), r.get("title"), _masked(r.get("observed"))]
        for i, r in enumerate(view.errors, start=1)
    ]
    return ac.make_table(w["tables"]["errors"], rows, sheet=False, target=view.name)


def _clause_table(views: list[TargetView], w: dict[str, Any]) -> tuple[Table, int]:
    by_clause: dict[str, dict[str, Any]] = {}
    for v in views:
        for r in v.failing:
            for clause in _clauses(r) or [ac.none_text()]:
                entry = by_clause.setdefault(clause, {"controls": [], "rules": {}, "count": 0})
                entry["count"] += 1
                entry["rules"].setdefault(str(r.get("rule_id")), r.get("title"))
                if _control(r) not in entry["controls"]:
                    entry["controls"].append(_control(r))

    def order(clause: str) -> tuple[int, ...]:
        parts = clause.split(".")
        return tuple(int(p) if p.isdigit() else 10_000 for p in parts)

    rows = [
        [
            clause,
            ac.joined(entry["controls"]),
            len(entry["rules"]),
            entry["count"],
            ac.joined(list(entry["rules"].values()), limit=6),
        ]
        for clause, entry in sorted(by_clause.items(), key=lambda kv: order(kv[0]))
    ]
    return ac.make_table(w["tables"]["clauses"], rows), len(rows)


def _annex(views: list[TargetView], w: dict[str, Any]) -> Table:
    labels = w["status"]
    rows = []
    for v in views:
        for r in [*v.failing, *v.errors]:
            rows.append(
                [
                    v.name,
                    v.profile_title,
                    r.get("rule_id"),
                    r.get("title"),
                    r.get("severity"),
                    labels.get(r.get("status"), r.get("status")),
                    _masked(r.get("observed")),
                    _masked(r.get("expected")),
                    ac.joined(_clauses(r)),
                    r.get("remediation") or ac.none_text(),
                ]
            )
    return ac.make_table(w["tables"]["annex"], rows)


def _charts(views: list[TargetView], w: dict[str, Any]) -> dict[str, Chart]:
    c = w["charts"]
    labels = [v.name for v in views]
    status = w["status"]
    results = ChartSpec(
        kind="stacked",
        title=c["results"],
        labels=labels,
        series={
            status[key]: [float(v.counts[key]) for v in views]
            for key in ("pass", "fail", "na", "error")
        },
        x_title=c["x_target"],
        y_title=c["y_count"],
        colours=["1E8449", "C0392B", "5D6D7E", "D68910"],
    )
    scores = ChartSpec(
        kind="barh",
        title=c["scores"],
        labels=labels,
        series={c["score_series"]: [float(v.run.score) for v in views]},
        x_title=c["y_score"],
    )
    return {"results": Chart(results), "scores": Chart(scores)}


def _advice(
    views: list[TargetView], categories: list[dict[str, Any]], w: dict[str, Any]
) -> list[str]:
    a = w["advice"]
    out: list[str] = []
    urgent = [
        (v.run.id, r.get("rule_id"))
        for v in views
        for r in v.failing
        if r.get("severity") in URGENT
    ]
    if urgent:
        out.append(a["urgent"].format(count=len(urgent), rules=len({u[1] for u in urgent})))
    by_control: dict[str, dict[str, Any]] = defaultdict(lambda: {"count": 0, "titles": []})
    for group in categories:
        entry = by_control[group["control"]]
        entry["count"] += group["count"]
        entry["titles"] += [t for t in group["titles"] if t not in entry["titles"]]
    ranked = sorted(by_control.items(), key=lambda kv: (-kv[1]["count"], kv[0]))
    for control, entry in ranked[:ADVICE_CONTROLS]:
        examples = ac.joined(entry["titles"][:EXAMPLES])
        out.append(a["control"].format(control=control, count=entry["count"], examples=examples))
    errors = sum(len(v.errors) for v in views)
    if errors:
        out.append(a["errors"].format(count=errors))
    out.extend(str(line) for line in a["general"])
    return out


def collect(ctx: BuildContext) -> ReportData:
    """The baseline report's context, tables and charts."""
    w = ac.words("baseline")
    views = _views(latest_runs(ctx.session, ctx.engagement, ctx.period))
    if not views:
        return ReportData(context={"has_data": False, "words": w}, parts=Parts())
    categories = _category_rows(views)
    clause_table, clause_count = _clause_table(views, w)
    tables: dict[str, Table] = {
        "targets": _targets_table(views, w),
        "severity": _severity_table(views, w),
        "categories": ac.make_table(
            w["tables"]["categories"],
            [
                [
                    g["profile"],
                    g["control"],
                    g["count"],
                    g["urgent"],
                    len(g["targets"]),
                    ac.joined(g["titles"], limit=EXAMPLES),
                ]
                for g in categories
            ],
        ),
        "clauses": clause_table,
    }
    targets = []
    for v in views:
        rules_name, errors_name = f"rules_{v.index}", f"errors_{v.index}"
        tables[rules_name] = _rules_table(v, w)
        if v.errors:
            tables[errors_name] = _errors_table(v, w)
        c = v.counts
        targets.append(
            {
                "index": v.index,
                "name": v.name,
                "target": v.run.target,
                "profile": v.profile_title,
                "os": v.run.os,
                "purpose": w["purpose"].get(v.run.purpose, v.run.purpose),
                "date": ac.day_text(v.run.started_at),
                "score": ac.num(v.run.score),
                "rate": ac.percent_text(v.rate),
                "total": v.total,
                "passed": c["pass"],
                "failed": c["fail"],
                "na": c["na"],
                "errors": c["error"],
                "urgent": sum(1 for r in v.failing if r.get("severity") in URGENT),
                "rules_table": rules_name,
                "errors_table": errors_name if v.errors else None,
            }
        )
    totals = {k: sum(v.counts[k] for v in views) for k in ("pass", "fail", "na", "error")}
    scores = [float(v.run.score) for v in views]
    lowest = min(views, key=lambda v: (v.run.score, v.index))
    summary = {
        "targets": len(views),
        "profiles": len({v.run.profile for v in views}),
        "checked": sum(v.total for v in views),
        "passed": totals["pass"],
        "failed": totals["fail"],
        "na": totals["na"],
        "errors": totals["error"],
        "urgent": sum(t["urgent"] for t in targets),
        "rate": ac.percent_text(
            ac.percent(totals["pass"], totals["pass"] + totals["fail"] + totals["error"])
        ),
        "average": ac.num(round(sum(scores) / len(scores), 1)),
        "lowest_name": lowest.name,
        "lowest_score": ac.num(lowest.run.score),
        "first": ac.day_text(min(v.run.started_at for v in views)),
        "last": ac.day_text(max(v.run.started_at for v in views)),
        "clauses": clause_count,
        "profiles_list": ac.joined(sorted({v.profile_title for v in views})),
    }
    context = {
        "has_data": True,
        "words": w,
        "summary": summary,
        "targets": targets,
        "advice": _advice(views, categories, w),
    }
    parts = Parts(tables=tables, charts=_charts(views, w))
    return ReportData(context=context, parts=parts, annexes=[tables["targets"], _annex(views, w)])
