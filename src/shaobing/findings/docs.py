"""Renders the work-order state machine as a Markdown table (kept in docs, checked by a test)."""

from __future__ import annotations

from shaobing.core.i18n import t
from shaobing.findings.workflow import Status, status_label, workflow


def transition_table() -> str:
    """Markdown table: one row per allowed transition with the roles that may make it."""
    spec = workflow()
    lines = ["| 从 (from) | 到 (to) | 角色 (roles) |", "|---|---|---|"]
    for source in Status:
        for target, roles in spec.transitions.get(source, {}).items():
            names = "、".join(t(f"findings.role.{r.value}") for r in roles)
            lines.append(
                f"| {status_label(source)} `{source.value}` | "
                f"{status_label(target)} `{target.value}` | {names} |"
            )
    return "\n".join(lines)
