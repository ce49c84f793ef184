"""安全加固报告: the engagement's hardening runs — what changed, before/after, backups, rollback.

Each recorded hardening run (``baseline harden --yes``) keeps its plan (files and commands per
rule, or why a rule was not hardened), the backups taken before the first change, and the ids
of the baseline checks run before and after. File diffs are not reproduced: configuration files
may hold secrets, so only the added lines are summarised, masked and shortened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shaobing.baseline.loader import raw_profiles
from shaobing.baseline.masking import mask_observed
from shaobing.baseline.models import BaselineRun, HardeningRun
from shaobing.engagements.models import Engagement
from shaobing.reports.builders import assess_common as ac
from shaobing.reports.builders.base import BuildContext, ReportData
from shaobing.reports.markup import Parts
from shaobing.reports.model import Chart, ChartSpec, KeyValue, Table
from shaobing.reports.period import Period

# Added lines shown per changed file, and characters per line, in the change summary.
SUMMARY_LINES = 3
SUMMARY_WIDTH = 80


@dataclass
class RunView:
    """One hardening run with its before/after checks."""

    index: int
    run: HardeningRun
    before: BaselineRun | None
    after: BaselineRun | None
    profile_title: str

    @property
    def applied(self) -> list[str]:
        """Rule ids whose changes were applied (and kept unless rolled back)."""
        return [str(r) for r in (self.run.backups or {}).get("applied", [])]

    @property
    def after_status(self) -> dict[str, str]:
        """Rule id → status in the re-check."""
        if self.after is None:
            return {}
        return {str(r.get("rule_id")): str(r.get("status")) for r in self.after.results or []}

    @property
    def delta(self) -> float | None:
        """Score after minus score before."""
        if self.before is None or self.after is None:
            return None
        return round(float(self.after.score) - float(self.before.score), 1)


def hardening_runs(
    session: Session, engagement: Engagement, period: Period | None
) -> list[HardeningRun]:
    """The engagement's recorded hardening runs (of the period when given), oldest first."""
    rows = session.scalars(
        select(HardeningRun)
        .where(HardeningRun.engagement_id == engagement.id)
        .order_by(HardeningRun.id)
    ).all()
    return [r for r in rows if ac.in_period(r.applied_at or r.created_at, period)]


def _views(session: Session, runs: list[HardeningRun]) -> list[RunView]:
    titles = {pid: raw.title or pid for pid, raw in raw_profiles().items()}
    views = []
    for index, run in enumerate(runs, start=1):
        before = session.get(BaselineRun, run.before_run_id) if run.before_run_id else None
        after = session.get(BaselineRun, run.after_run_id) if run.after_run_id else None
        views.append(RunView(index, run, before, after, titles.get(run.profile, run.profile)))
    return views


def _target_name(view: RunView) -> str:
    host = view.before.host if view.before is not None else None
    return f"{host}（{view.run.target}）" if host and host != view.run.target else view.run.target


def change_summary(diffs: dict[str, str]) -> str:
    """The added lines of each file's diff, masked and shortened (mode/owner notes kept)."""
    lines: list[str] = []
    for diff in diffs.values():
        added = [
            line[1:].strip()
            for line in diff.splitlines()
            if line.startswith("+") and not line.startswith("+++") and line[1:].strip()
        ]
        notes = [line[2:].strip() for line in diff.splitlines() if line.startswith("# ")]
        for text in [*added[:SUMMARY_LINES], *notes]:
            masked = mask_observed(text)
            lines.append(masked if len(masked) <= SUMMARY_WIDTH else masked[:SUMMARY_WIDTH] + "…")
        if len(added) > SUMMARY_LINES:
            lines.append(str(ac.common()["more"]).format(count=len(added)))
    return "\n".join(lines) or ac.none_text()


def _rule_state(view: RunView, entry: dict[str, Any], w: dict[str, Any]) -> tuple[str, str]:
    """(What was done, re-check result) of one plan entry."""
    rule_id = str(entry.get("rule_id"))
    after = view.after_status.get(rule_id)
    shown_after = w["rule_status"].get(after, w["not_recorded"]) if after else w["not_recorded"]
    if entry.get("skipped"):
        return str(entry["skipped"]), shown_after
    if rule_id in view.applied:
        return str(w["applied_label"]), shown_after
    return str(w["status"].get(view.run.status, view.run.status)), shown_after


def _changes_table(view: RunView, w: dict[str, Any]) -> tuple[Table, int]:
    rows: list[list[object]] = []
    for entry in view.run.plan or []:
        rule_id = str(entry.get("rule_id"))
        if entry.get("skipped") or rule_id not in view.applied:
            continue
        files: dict[str, str] = dict(entry.get("files") or {})
        _, after = _rule_state(view, entry, w)
        rows.append(
            [
                len(rows) + 1,
                rule_id,
                entry.get("title"),
                w["rule_status"].get(entry.get("status_before"), entry.get("status_before")),
                "\n".join(files) or ac.none_text(),
                "\n".join(mask_observed(str(c)) for c in entry.get("commands") or [])
                or ac.none_text(),
                change_summary(files),
                after,
            ]
        )
    return ac.make_table(w["tables"]["changes"], rows, sheet=False, run_id=view.run.id), len(rows)


def _not_hardened(view: RunView, w: dict[str, Any]) -> list[list[object]]:
    """Rules that needed hardening but were not hardened, or still fail after it, and why."""
    rows: list[list[object]] = []
    after = view.after_status
    for entry in view.run.plan or []:
        rule_id = str(entry.get("rule_id"))
        before = entry.get("status_before")
        if before in ("pass", "na"):
            continue
        if entry.get("skipped"):
            reason = str(entry["skipped"])
        elif rule_id not in view.applied:
            reason = str(view.run.message or w["status"].get(view.run.status, view.run.status))
        elif after.get(rule_id) not in (None, "pass"):
            reason = str(w["applied_but_failing"])
        else:
            continue
        rows.append(
            [
                len(rows) + 1,
                rule_id,
                entry.get("title"),
                w["rule_status"].get(before, before),
                reason,
            ]
        )
    return rows


def _backups_table(view: RunView, w: dict[str, Any]) -> Table:
    rows: list[list[object]] = []
    for item in (view.run.backups or {}).get("files", []):
        mode = item.get("mode")
        digest = item.get("sha256")
        rows.append(
            [
                len(rows) + 1,
                item.get("path"),
                w["file_existed"] if item.get("existed") else w["file_created"],
                f"{int(mode):04o}" if isinstance(mode, int) else None,
                str(digest)[:16] if digest else None,
                item.get("stored"),
            ]
        )
    return ac.make_table(w["tables"]["backups"], rows, sheet=False, run_id=view.run.id)


def _annex(views: list[RunView], w: dict[str, Any]) -> Table:
    rows = []
    for view in views:
        for entry in view.run.plan or []:
            files = dict(entry.get("files") or {})
            done, after = _rule_state(view, entry, w)
            rows.append(
                [
                    view.run.id,
                    _target_name(view),
                    entry.get("rule_id"),
                    entry.get("title"),
                    w["rule_status"].get(entry.get("status_before"), entry.get("status_before")),
                    done,
                    "\n".join(files) or ac.none_text(),
                    "\n".join(mask_observed(str(c)) for c in entry.get("commands") or [])
                    or ac.none_text(),
                    after,
                ]
            )
    return ac.make_table(w["tables"]["annex"], rows)


def _runs_table(views: list[RunView], w: dict[str, Any]) -> Table:
    rows = [
        [
            v.run.id,
            _target_name(v),
            v.profile_title,
            ac.short_day(v.run.applied_at or v.run.created_at),
            w["status"].get(v.run.status, v.run.status),
            len(v.run.rules or []),
            len(v.applied),
            v.before.score if v.before else None,
            v.after.score if v.after else None,
            None if v.delta is None else f"{v.delta:+g}",
        ]
        for v in views
    ]
    return ac.make_table(w["tables"]["runs"], rows)


def _chart(views: list[RunView], w: dict[str, Any]) -> Chart:
    c = w["charts"]
    shown = [v for v in views if v.before is not None and v.after is not None]
    return Chart(
        ChartSpec(
            kind="bar",
            title=c["compare"],
            labels=[f"#{v.run.id} {v.before.host or v.run.target}" for v in shown if v.before],
            series={
                c["before"]: [float(v.before.score) for v in shown if v.before],
                c["after"]: [float(v.after.score) for v in shown if v.after],
            },
            x_title=c["x_run"],
            y_title=c["y_score"],
            colours=["C0392B", "1E8449"],
        )
    )


def collect(ctx: BuildContext) -> ReportData:
    """The hardening report's context, tables and the before/after chart."""
    w = ac.words("hardening")
    confirmation = KeyValue(
        tuple((str(k), str(v)) for k, v in w["confirmation"]["pairs"]),
        caption=w["confirmation"]["caption"],
    )
    views = _views(ctx.session, hardening_runs(ctx.session, ctx.engagement, ctx.period))
    if not views:
        return ReportData(
            context={"has_data": False, "words": w},
            parts=Parts(kvs={"confirmation": confirmation}),
        )
    tables: dict[str, Table] = {"runs": _runs_table(views, w)}
    runs = []
    for v in views:
        changes, changed = _changes_table(v, w)
        skipped_rows = _not_hardened(v, w)
        names = {k: f"{k}_{v.index}" for k in ("changes", "skipped", "backups")}
        tables[names["changes"]] = changes
        tables[names["skipped"]] = ac.make_table(
            w["tables"]["skipped"], skipped_rows, sheet=False, run_id=v.run.id
        )
        tables[names["backups"]] = _backups_table(v, w)
        files = (v.run.backups or {}).get("files", [])
        runs.append(
            {
                "id": v.run.id,
                "target": _target_name(v),
                "profile": v.profile_title,
                "status": w["status"].get(v.run.status, v.run.status),
                "status_key": v.run.status,
                "message": mask_observed(v.run.message) if v.run.message else None,
                "date": ac.day_text(v.run.applied_at or v.run.created_at),
                "selected": len(v.run.rules or []),
                "applied": changed,
                "not_hardened": len(skipped_rows),
                "before": ac.num(v.before.score) if v.before else None,
                "after": ac.num(v.after.score) if v.after else None,
                "before_failed": int((v.before.counts or {}).get("fail", 0)) if v.before else None,
                "after_failed": int((v.after.counts or {}).get("fail", 0)) if v.after else None,
                "delta": None if v.delta is None else f"{v.delta:+g}",
                "backups": len(files),
                "created_files": sum(1 for f in files if not f.get("existed")),
                "backup_dir": v.run.backup_dir,
                "rolled_back": ac.day_text(v.run.rolled_back_at) if v.run.rolled_back_at else None,
                "rollback_command": w["rollback_command"].format(run_id=v.run.id),
                "can_rollback": v.run.status == "applied",
                "tables": names,
            }
        )
    compared = [v for v in views if v.before is not None and v.after is not None]
    summary = {
        "runs": len(views),
        "targets": len({v.run.target for v in views}),
        "applied_runs": sum(1 for v in views if v.run.status == "applied"),
        "rules_applied": sum(r["applied"] for r in runs),
        "not_hardened": sum(r["not_hardened"] for r in runs),
        "rolled_back": sum(
            1 for v in views if v.run.status in ("rolled-back", "failed-rolled-back")
        ),
        "compared": len(compared),
        "before_avg": ac.num(
            round(sum(float(v.before.score) for v in compared if v.before) / len(compared), 1)
        )
        if compared
        else None,
        "after_avg": ac.num(
            round(sum(float(v.after.score) for v in compared if v.after) / len(compared), 1)
        )
        if compared
        else None,
        "first": ac.day_text(min(v.run.created_at for v in views)),
        "last": ac.day_text(max(v.run.created_at for v in views)),
    }
    parts = Parts(
        tables=tables,
        kvs={"confirmation": confirmation},
        charts={"compare": _chart(views, w)},
    )
    context = {"has_data": True, "words": w, "summary": summary, "runs": runs}
    return ReportData(context=context, parts=parts, annexes=[tables["runs"], _annex(views, w)])
