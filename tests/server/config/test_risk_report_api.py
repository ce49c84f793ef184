"""Risk method and threats, report branding and templates, the deliverables index (API)."""

from __future__ import annotations

import io
import itertools
import zipfile
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from shaobing.assess.risk.config import MAX_BYTES
from shaobing.assess.risk.models import RiskSettings, RiskThreat
from shaobing.core.db import session_scope
from shaobing.reports import config as report_config
from tests.server.config.hostile import XXE, YAML_LAUGHS, YAML_OBJECT_TAG
from tests.server.conftest import World

Login = Callable[[str], TestClient]
OVERRIDE = b"default_method: multiply\ninclude_info_findings: false\n"


def _stored(world: World) -> tuple[list[tuple[int, str]], list[tuple[int, str, str]]]:
    with session_scope(world.engine, readonly=True) as db:
        settings = [(r.engagement_id, str(r.override)) for r in db.scalars(select(RiskSettings))]
        threats = [
            (r.engagement_id, r.threat_id, str(r.changes)) for r in db.scalars(select(RiskThreat))
        ]
    return sorted(settings), sorted(threats)


def _one_line_400(response: object) -> str:
    assert response.status_code == 400, response.text  # type: ignore[attr-defined]
    message = str(response.json()["error"])  # type: ignore[attr-defined]
    assert "\n" not in message and "Traceback" not in message and "/tmp" not in message
    return message


def test_method_set_show_reset(world: World, login: Login) -> None:
    engineer = login("engineer")
    eng = {"engagement": "JIA"}
    before = engineer.get("/api/v1/risk/method", params=eng).json()
    assert before["override"] is None and before["parameters"]["default_method"] == "matrix"
    saved = engineer.post(
        "/api/v1/risk/method", params=eng, files={"file": ("method.yaml", OVERRIDE)}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["parameters"]["default_method"] == "multiply"
    assert saved.json()["override_source"] == "method.yaml"
    viewer = login("viewer").get("/api/v1/risk/method", params=eng).json()
    assert viewer["override"] == {"default_method": "multiply", "include_info_findings": False}
    # The other client's engagement is untouched and invisible to 甲's people.
    assert (
        login("viewer").get("/api/v1/risk/method", params={"engagement": "YI"}).status_code == 404
    )
    assert [e for e, _ in _stored(world)[0]] == [world.own.engagement_id]
    reset = engineer.post("/api/v1/risk/method/reset", params=eng).json()
    assert reset["reset"] is True and reset["override"] is None
    assert engineer.post("/api/v1/risk/method/reset", params=eng).json()["reset"] is False


HOSTILE_METHODS = [
    ("tag.yaml", YAML_OBJECT_TAG),
    ("laughs.yaml", YAML_LAUGHS),
    ("nested.yaml", b"levels: " + b"[" * 5000 + b"]" * 5000),
    ("huge.yaml", b"#" + b"x" * MAX_BYTES),
    ("list.yaml", b"- 1\n- 2\n"),
    ("range.yaml", b"levels: {9: x}\ndefault_method: cubic\n"),
    ("xxe.xml", XXE),
    ("latin1.yaml", "default_method: é".encode("latin-1")),
]


def test_hostile_method_files_get_one_line_400(world: World, login: Login) -> None:
    admin = login("admin")
    for name, content in HOSTILE_METHODS:
        response = admin.post(
            "/api/v1/risk/method", params={"engagement": "JIA"}, files={"file": (name, content)}
        )
        assert name in _one_line_400(response)
    assert _stored(world) == ([], [])


def test_method_and_threat_writes_refused_without_risk_assess(world: World, login: Login) -> None:
    clients = {name: login(name) for name in ("auditor", "viewer", "owner", "other_owner")}
    for (username, client), ref in itertools.product(clients.items(), ("JIA", "YI")):
        eng = {"engagement": ref}
        calls = [
            client.post("/api/v1/risk/method", params=eng, files={"file": ("m.yaml", OVERRIDE)}),
            client.post("/api/v1/risk/method/reset", params=eng),
            client.post("/api/v1/risk/threats/T01", params=eng, json={"frequency": 5}),
        ]
        assert all(c.status_code in (403, 404) for c in calls), (username, [c.text for c in calls])
    assert _stored(world) == ([], [])


def test_threat_edit_and_list(world: World, login: Login) -> None:
    engineer = login("engineer")
    eng = {"engagement": "JIA"}
    shipped = {t["id"]: t for t in engineer.get("/api/v1/risk/threats", params=eng).json()["items"]}
    assert "T01" in shipped and shipped["T01"]["edited"] == []
    edited = engineer.post(
        "/api/v1/risk/threats/t01", params=eng, json={"frequency": 5, "enabled": False}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["frequency"] == 5 and edited.json()["disabled"] is True
    listed = login("viewer").get("/api/v1/risk/threats", params=eng).json()["items"]
    t01 = next(t for t in listed if t["id"] == "T01")
    assert sorted(t01["edited"]) == ["disabled", "frequency"]
    other = login("other_viewer").get("/api/v1/risk/threats", params={"engagement": "YI"})
    assert next(t for t in other.json()["items"] if t["id"] == "T01")["edited"] == []
    assert login("other_viewer").get("/api/v1/risk/threats", params=eng).status_code == 404
    bad = engineer.post("/api/v1/risk/threats/T01", params=eng, json={"frequency": 9})
    assert bad.status_code == 422
    assert (
        engineer.post("/api/v1/risk/threats/T999", params=eng, json={"frequency": 2}).status_code
        == 404
    )
    assert engineer.post("/api/v1/risk/threats/T01", params=eng, json={}).status_code == 400
    back = engineer.post("/api/v1/risk/threats/T01", params=eng, json={"reset": True}).json()
    assert back["frequency"] == shipped["T01"]["frequency"] and back["edited"] == []


def test_branding_and_templates_for_report_configure(world: World, login: Login) -> None:
    admin = login("admin")
    data = admin.get("/api/v1/reports/branding").json()
    assert data["source"] == "packaged"
    assert data["branding"] == report_config.load_branding().model_dump(mode="json") | {
        "logo": None
    }
    own = world.home / "reports" / "branding.yaml"
    own.parent.mkdir(parents=True)
    own.write_text(
        "vendor: 某某安全技术有限公司\nvendor_short: 某某\nconfidentiality: 内部\n"
        "numbering: 'SB-{year}-{seq:03d}'\n",
        encoding="utf-8",
    )
    mine = admin.get("/api/v1/reports/branding").json()
    assert mine["source"] == "organisation" and mine["branding"]["vendor"] == "某某安全技术有限公司"
    kind = next(iter(report_config.report_types().types))
    text = admin.get(f"/api/v1/reports/templates/{kind}")
    assert text.status_code == 200 and "attachment" in text.headers["content-disposition"]
    assert text.text == report_config.template_source(kind)[0]
    assert admin.get("/api/v1/reports/templates/nosuch").status_code == 404
    for username in ("engineer", "auditor", "viewer", "owner"):
        client = login(username)
        assert client.get("/api/v1/reports/branding").status_code == 403
        assert client.get(f"/api/v1/reports/templates/{kind}").status_code == 403


def test_deliverables_index_download(world: World, login: Login) -> None:
    viewer = login("viewer")
    xlsx = viewer.get("/api/v1/deliverables/index", params={"engagement": "JIA"})
    assert xlsx.status_code == 200, xlsx.text
    assert "JIA" in xlsx.headers["content-disposition"]
    assert "xl/workbook.xml" in zipfile.ZipFile(io.BytesIO(xlsx.content)).namelist()
    docx = login("auditor").get(
        "/api/v1/deliverables/index", params={"engagement": "YI", "format": "docx"}
    )
    assert "word/document.xml" in zipfile.ZipFile(io.BytesIO(docx.content)).namelist()
    assert viewer.get("/api/v1/deliverables/index", params={"engagement": "YI"}).status_code == 404
    bad = viewer.get("/api/v1/deliverables/index", params={"engagement": "JIA", "format": "pdf"})
    assert bad.status_code == 400
