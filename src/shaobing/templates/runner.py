"""Run a loaded template against one target through a scan context.

Every connection goes through the context (``ctx.connect``), so the scope guard and the
rate limit apply to each request, redirect, TCP exchange, TLS handshake and DNS query
(whose resolver must be in scope too). Templates with unsupported features are refused
with the list of reasons, never run in part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.scan.checks import CheckContext
from shaobing.templates.dns import run_dns_block
from shaobing.templates.flow import Call, parse_flow
from shaobing.templates.http import run_http_block
from shaobing.templates.model import Template
from shaobing.templates.network import run_network_block
from shaobing.templates.state import RunState, TemplateResult
from shaobing.templates.tls import run_ssl_block
from shaobing.templates.variables import (
    TargetError,
    normalise_target,
    target_variables,
    template_variables,
)

__all__ = ["RunReport", "TemplateNotRunnable", "TemplateResult", "execute", "run_template"]


class TemplateNotRunnable(ValidationError):
    """The template uses features the engine does not run (the message lists them)."""


@dataclass
class RunReport:
    """Results of one run plus what was skipped or failed (one line each)."""

    results: list[TemplateResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0


def _protocol(template: Template, protocol: str) -> tuple[Sequence[Any], Callable[..., bool]]:
    """The request blocks of ``protocol`` and the function that runs one of them."""
    if protocol == "http":
        return template.http, run_http_block
    if protocol == "ssl":
        return template.ssl, run_ssl_block
    if protocol == "dns":
        return template.dns, run_dns_block
    return template.network, run_network_block


def _flow_call(state: RunState, call: Call) -> bool:
    blocks, run_block = _protocol(state.template, call.protocol)
    if call.selector is None:
        chosen = list(blocks)
    elif isinstance(call.selector, int):
        chosen = [blocks[call.selector - 1]] if 0 < call.selector <= len(blocks) else []
    else:
        chosen = [b for b in blocks if getattr(b, "name", None) == call.selector]
    if not chosen:
        state.note(t("templates.run.flow_missing", call=f"{call.protocol}({call.selector})"))
        return False
    hit = False
    for block in chosen:
        hit = run_block(state, block) or hit
    return hit


def execute(template: Template, target: str, ctx: CheckContext) -> RunReport:
    """Run ``template`` against ``target`` (URL or host[:port]) and report everything."""
    if not template.runnable:
        features = ", ".join(template.features)
        raise TemplateNotRunnable(
            t("templates.run.not_runnable", path=str(template.path), features=features)
        )
    try:
        url = normalise_target(target)
    except TargetError:
        raise ValidationError(t("templates.run.bad_target", target=target)) from None
    variables = target_variables(url)
    variables.update(template_variables(template, variables))
    state = RunState(template, url, ctx, variables)
    try:
        if template.flow:
            parse_flow(template.flow).run(lambda call: _flow_call(state, call))
        else:
            # http and tcp keep their order; ssl and dns blocks run after them.
            for protocol in ("http", "tcp", "ssl", "dns"):
                blocks, run_block = _protocol(template, protocol)
                for block in blocks:
                    run_block(state, block)
    finally:
        state.client.close()
    return RunReport(state.results, state.notes, state.requests)


def run_template(template: Template, target_url: str, ctx: CheckContext) -> list[TemplateResult]:
    """The matches of ``template`` on ``target_url``; raises TemplateNotRunnable."""
    return execute(template, target_url, ctx).results
