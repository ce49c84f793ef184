"""Building a web scan's state against local targets, for check tests."""

from __future__ import annotations

from shaobing.cli.templates import build_context
from shaobing.web.checks.base import Probe, ScanState
from shaobing.web.client import Budget, WebClient
from shaobing.web.issues import IssueSink
from shaobing.web.request import InsertionPoint, WebRequest, insertion_points
from shaobing.web.urls import WebScope


def make_state(
    base_url: str, *, timeout: float = 5.0, max_requests: int | None = None
) -> ScanState:
    """A scan state whose scope is exactly the origin of ``base_url`` (127.0.0.1 only)."""
    ctx = build_context([base_url], timeout)
    scope = WebScope.for_start(base_url.rstrip("/") + "/")
    client = WebClient(ctx, scope, budget=Budget(max_requests=max_requests), timeout=timeout)
    return ScanState(client=client, sink=IssueSink())


def probe_for(state: ScanState, request: WebRequest, label: str) -> Probe:
    """The probe of the parameter ``label`` (``query:id``) of ``request``."""
    point: InsertionPoint = next(p for p in insertion_points(request) if p.label() == label)
    return Probe(state, request, point)
