"""One sample request per API route, for the role × tenant matrix test.

``tenant`` routes take another client's ids in the "other" run; ``list`` routes are called
without ids (the tenant rule filters them; the leak test reads their output); ``global``
routes concern no client. Placeholders: {eng} engagement id, {code} its code, {finding},
{order} ids of that side's first finding/work order, {client} its client id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.server.conftest import PASSWORD


@dataclass(frozen=True)
class Case:
    """A sample call of one route."""

    method: str
    path: str  # the URL with placeholders
    scope: str  # tenant | list | global
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    # The route's path as the app declares it, when it differs from ``path``.
    route: str | None = None
    # Objects to create on both tenants first (matrix_objects.MAKERS), used as {name}.
    needs: tuple[str, ...] = ()
    # Multipart form fields (with a small ledger file) instead of a JSON body.
    form: dict[str, str] | None = None

    @property
    def route_path(self) -> str:
        """The declared path of the route this case calls."""
        return self.route or self.path


_ROUTE_PARAMS = {
    "{eng}": "{ref}",
    "{finding}": "{finding_id}",
    "{order}": "{order_id}",
    "{user}": "{username}",
    "{scan}": "{scan_id}",
    "{cancelled_scan}": "{scan_id}",
    "{baseline}": "{run_id}",
    "{risk}": "{run_id}",
    "{build}": "{build_id}",
    "{deliverable}": "{deliverable_id}",
    "{asset}": "{asset_id}",
    "{credential}": "{credential_id}",
}


def _ids(path: str) -> str:
    for placeholder, param in _ROUTE_PARAMS.items():
        path = path.replace(placeholder, param)
    return path


def _case(
    method: str,
    path: str,
    scope: str,
    query: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    needs: tuple[str, ...] = (),
    form: dict[str, str] | None = None,
) -> Case:
    return Case(method, path, scope, query or {}, body, _ids(path), needs, form)


CASES: list[Case] = [
    _case(c.method, c.path, c.scope, c.query, c.body)
    for c in [
        Case("GET", "/api/v1/dashboard", "list"),
        Case("GET", "/api/v1/dashboard", "tenant", {"engagement": "{eng}"}),
        Case("GET", "/api/v1/dashboard/vulnerabilities", "tenant", {"engagement": "{eng}"}),
        Case("GET", "/api/v1/clients", "list"),
        Case("POST", "/api/v1/clients", "global", body={"name": "新客户", "code": "NEW"}),
        Case("GET", "/api/v1/engagements", "list"),
        Case(
            "POST",
            "/api/v1/engagements",
            "tenant",
            body={"client": "{client}", "name": "新项目", "scope": ["127.0.0.1"]},
        ),
        Case("GET", "/api/v1/engagements/{eng}", "tenant"),
        Case("GET", "/api/v1/engagements/{eng}/scope-check", "tenant", {"target": "127.0.0.5"}),
        Case("POST", "/api/v1/engagements/{eng}/export", "tenant"),
        Case("GET", "/api/v1/engagements/{eng}/purge-plan", "tenant"),
        Case(
            "POST",
            "/api/v1/engagements/{eng}/purge",
            "tenant",
            body={"confirm": "{code}", "password": PASSWORD},
        ),
        Case("GET", "/api/v1/findings", "tenant", {"engagement": "{eng}"}),
        Case("GET", "/api/v1/findings/export", "tenant", {"engagement": "{eng}", "format": "csv"}),
        Case("GET", "/api/v1/findings/{finding}", "tenant"),
        Case(
            "POST",
            "/api/v1/findings/{finding}/transition",
            "tenant",
            body={"to": "false_positive", "reason": "矩阵测试"},
        ),
        Case(
            "POST",
            "/api/v1/findings/bulk-transition",
            "tenant",
            {"engagement": "{eng}"},
            body={"ids": ["{finding}"], "to": "false_positive", "reason": "矩阵测试"},
        ),
        Case("GET", "/api/v1/workorders", "tenant", {"engagement": "{eng}"}),
        Case("GET", "/api/v1/workorders/{order}", "tenant"),
        Case("POST", "/api/v1/workorders/{order}/assign", "tenant", body={"assignee": "张工"}),
        Case(
            "POST",
            "/api/v1/workorders/{order}/transition",
            "tenant",
            body={"to": "to_fix", "reason": "矩阵测试"},
        ),
        Case("POST", "/api/v1/workorders/{order}/comment", "tenant", body={"text": "请尽快整改"}),
        Case("POST", "/api/v1/workorders/{order}/retest", "tenant"),
        Case("GET", "/api/v1/users", "global"),
        Case(
            "POST",
            "/api/v1/users",
            "global",
            body={"username": "newbie", "role": "engineer", "password": "Tiger#Lamp2047x"},
        ),
        Case("POST", "/api/v1/users/{user}/role", "global", body={"role": "engineer"}),
        Case(
            "POST", "/api/v1/users/{user}/password", "global", body={"password": "Tiger#Lamp2047x"}
        ),
        Case("POST", "/api/v1/users/{user}/lock", "global"),
        Case("POST", "/api/v1/users/{user}/unlock", "global"),
        Case("POST", "/api/v1/users/{user}/disable", "global"),
        Case("POST", "/api/v1/users/{user}/enable", "global"),
        Case("GET", "/api/v1/audit", "list"),
        Case("GET", "/api/v1/audit/verify", "global"),
    ]
] + [
    _case("GET", "/api/v1/scans", "list"),
    _case("GET", "/api/v1/scans", "tenant", {"engagement": "{eng}"}),
    _case("GET", "/api/v1/scans/{scan}", "tenant", needs=("scan",)),
    # Outside the engagement's scope (127.0.0.0/24): authorised callers get the scope refusal.
    _case(
        "POST",
        "/api/v1/scans",
        "tenant",
        body={"engagement": "{eng}", "kind": "network", "targets": ["127.0.1.1"]},
    ),
    _case("POST", "/api/v1/scans/{scan}/pause", "tenant", needs=("scan",)),
    _case("POST", "/api/v1/scans/{scan}/cancel", "tenant", needs=("scan",)),
    _case("POST", "/api/v1/scans/{cancelled_scan}/resume", "tenant", needs=("cancelled_scan",)),
    _case("GET", "/api/v1/baseline/runs", "tenant", {"engagement": "{eng}"}),
    _case("GET", "/api/v1/baseline/runs/{baseline}", "tenant", needs=("baseline",)),
    _case("GET", "/api/v1/baseline/profiles", "list"),
    _case("GET", "/api/v1/risk/runs", "tenant", {"engagement": "{eng}"}),
    _case("GET", "/api/v1/risk/runs/{risk}", "tenant", needs=("risk",)),
    _case("POST", "/api/v1/risk/assess", "tenant", {"engagement": "{eng}"}, body={}),
    _case("GET", "/api/v1/mlps/score", "tenant", {"engagement": "{eng}"}, needs=("assessments",)),
    _case(
        "GET", "/api/v1/datasec/score", "tenant", {"engagement": "{eng}"}, needs=("assessments",)
    ),
    _case("GET", "/api/v1/reports", "tenant", {"engagement": "{eng}"}),
    _case("GET", "/api/v1/reports/types", "list"),
    # An unknown period: authorised callers get the validation error, no build is made.
    _case(
        "POST",
        "/api/v1/reports",
        "tenant",
        body={"engagement": "{eng}", "type": "vuln_scan", "format": "html", "period": "bogus"},
    ),
    _case("GET", "/api/v1/reports/{build}/download", "tenant", needs=("build",)),
    _case("GET", "/api/v1/deliverables", "tenant", {"engagement": "{eng}"}),
    _case(
        "POST",
        "/api/v1/deliverables/{deliverable}/submit",
        "tenant",
        body={"force": True},
        needs=("deliverable",),
    ),
    _case(
        "POST",
        "/api/v1/deliverables/{deliverable}/accept",
        "tenant",
        body={},
        needs=("deliverable",),
    ),
    _case(
        "POST",
        "/api/v1/deliverables/{deliverable}/reopen",
        "tenant",
        body={"reason": "矩阵"},
        needs=("deliverable",),
    ),
    _case("GET", "/api/v1/policies", "global"),
    _case("GET", "/api/v1/vulndb", "global", {"q": "openssh"}),
    _case("GET", "/api/v1/assets", "tenant", {"client": "{client}"}),
    _case("GET", "/api/v1/assets/export", "tenant", {"client": "{client}", "format": "csv"}),
    _case("GET", "/api/v1/assets/{asset}", "tenant", needs=("asset",)),
    _case("POST", "/api/v1/assets/import", "tenant", form={"client": "{client}"}),
    _case("GET", "/api/v1/credentials", "tenant", {"engagement": "{eng}"}),
    # The same name for every allowed caller: the first stores it, the others get 409.
    _case(
        "POST",
        "/api/v1/credentials",
        "tenant",
        {"engagement": "{eng}"},
        body={"name": "matrix", "kind": "ssh_password", "username": "ops", "secret": "pw"},
    ),
    # A wrong name: authorised callers get 409 and the credential stays for the next caller.
    _case(
        "DELETE",
        "/api/v1/credentials/{credential}",
        "tenant",
        {"name": "not-this-one"},
        needs=("credential",),
    ),
    _case(
        "POST",
        "/api/v1/credentials/{credential}/rotate",
        "tenant",
        body={"secret": "new-secret"},
        needs=("credential",),
    ),
    # Outside the engagement's scope (127.0.0.0/24): authorised callers get the scope refusal.
    _case(
        "POST",
        "/api/v1/baseline/check",
        "tenant",
        body={"engagement": "{eng}", "profile": "redis", "target": "redis://127.0.1.1:6379/"},
    ),
]
# Console gaps: scanner file import, MLPS records, data security answers, deliverables add.
CASES += [
    # The matrix sends a ledger CSV: authorised callers get "format not recognised" (400).
    _case("POST", "/api/v1/findings/import", "tenant", form={"engagement": "{eng}"}),
    _case("GET", "/api/v1/mlps/items", "tenant", {"engagement": "{eng}"}, needs=("assessments",)),
    Case(
        "POST",
        "/api/v1/mlps/items/8.1.1.1a/record",
        "tenant",
        {"engagement": "{eng}"},
        {"object": "机房", "result": "符合", "evidence": "矩阵测试"},
        "/api/v1/mlps/items/{item}/record",
        ("assessments",),
    ),
    _case(
        "GET",
        "/api/v1/datasec/questions",
        "tenant",
        {"engagement": "{eng}"},
        needs=("assessments",),
    ),
    Case(
        "POST",
        "/api/v1/datasec/questions/col.classification/answer",
        "tenant",
        {"engagement": "{eng}"},
        {"answer": "部分", "note": "矩阵测试"},
        "/api/v1/datasec/questions/{question_id}/answer",
        ("assessments",),
    ),
    _case(
        "POST",
        "/api/v1/deliverables",
        "tenant",
        body={"engagement": "{eng}", "kind": "incident_report", "due": "2030-01-31"},
    ),
    _case("POST", "/api/v1/mlps/init", "tenant", {"engagement": "{eng}"}, body={"level": 3}),
    _case("POST", "/api/v1/datasec/init", "tenant", {"engagement": "{eng}"}),
]
# Hardening, remediation SLA, re-deduplication (tests/server/harden). Allowed callers get 400:
# a "local" target, or a run with nothing to roll back.
from tests.server.harden.objects import hardening_run  # noqa: E402
from tests.server.matrix_objects import MAKERS  # noqa: E402

MAKERS.setdefault("hardening", hardening_run)
CASES += [
    _case(
        "POST",
        "/api/v1/baseline/harden",
        "tenant",
        body={"engagement": "{code}", "profile": "linux", "target": "local", "credential": "x"},
    ),
    _case("GET", "/api/v1/baseline/hardening", "tenant", {"engagement": "{eng}"}),
    Case(
        "POST",
        "/api/v1/baseline/hardening/{hardening}/rollback",
        "tenant",
        body={"credential": "x"},
        route="/api/v1/baseline/hardening/{run_id}/rollback",
        needs=("hardening",),
    ),
    _case("GET", "/api/v1/engagements/{eng}/sla", "tenant"),
    _case("POST", "/api/v1/engagements/{eng}/sla", "tenant", body={"days": {"high": 15}}),
    _case("POST", "/api/v1/findings/rededup", "tenant", {"engagement": "{eng}"}),
]
# Console configuration: vulnerability database, templates, risk method/threats, report setup.
# Uploads get the matrix's ledger CSV: authorised callers get "not a feed/template/mapping" (400).
CASES += [
    _case("POST", "/api/v1/vulndb/import", "global", form={}),
    _case("POST", "/api/v1/templates/validate", "global", form={}),
    _case("GET", "/api/v1/risk/method", "tenant", {"engagement": "{eng}"}),
    _case("POST", "/api/v1/risk/method", "tenant", {"engagement": "{eng}"}, form={}),
    _case("POST", "/api/v1/risk/method/reset", "tenant", {"engagement": "{eng}"}),
    _case("GET", "/api/v1/risk/threats", "tenant", {"engagement": "{eng}"}),
    Case(
        "POST",
        "/api/v1/risk/threats/T01",
        "tenant",
        {"engagement": "{eng}"},
        {"frequency": 4},
        "/api/v1/risk/threats/{threat_id}",
    ),
    _case("GET", "/api/v1/reports/branding", "global"),
    Case(
        "GET",
        "/api/v1/reports/templates/vuln_scan",
        "global",
        route="/api/v1/reports/templates/{report_type}",
    ),
    _case("GET", "/api/v1/deliverables/index", "tenant", {"engagement": "{eng}"}),
]
