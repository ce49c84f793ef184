"""The /vulndb and /assessment/risk-config pages, and the report configuration on /reports."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.assess.risk.models import RiskSettings, RiskThreat
from shaobing.core.db import session_scope
from shaobing.vulndb.models import Cve
from tests.server.config.hostile import GOOD_TEMPLATE, UNSAFE_TEMPLATE, XXE, nvd_feed
from tests.server.conftest import World

Login = Callable[[str], TestClient]


def _form_client(login: Login, username: str) -> tuple[TestClient, str]:
    """A browser-like client: CSRF token only in the form, not in a header."""
    client = login(username)
    token = client.headers.pop("X-CSRF-Token")
    return client, token


def _cves(world: World) -> int:
    with session_scope(world.engine, readonly=True) as db:
        return int(db.scalar(select(func.count()).select_from(Cve)) or 0)


def _risk_rows(world: World) -> tuple[int, int]:
    with session_scope(world.engine, readonly=True) as db:
        settings = db.scalar(select(func.count()).select_from(RiskSettings)) or 0
        threats = db.scalar(select(func.count()).select_from(RiskThreat)) or 0
    return int(settings), int(threats)


def test_vulndb_page_import_search_and_template_check(world: World, login: Login) -> None:
    client, token = _form_client(login, "engineer")
    page = client.get("/vulndb")
    assert page.status_code == 200 and 'action="/vulndb/import"' in page.text
    assert 'action="/vulndb/template-check"' in page.text
    feed = nvd_feed("CVE-2024-32001")
    no_token = client.post("/vulndb/import", files={"file": ("nvd.json", feed)})
    assert no_token.status_code == 403 and _cves(world) == 0
    done = client.post(
        "/vulndb/import",
        data={"csrf_token": token},
        files={"file": ("nvd.json", feed)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/vulndb?imported=")
    shown = client.get(done.headers["location"])
    assert "nvd.json" in shown.text and "新增 1" in shown.text
    hits = client.get("/vulndb", params={"q": "CVE-2024-3200"})
    assert "CVE-2024-32001" in hits.text and "examplehttpd" in hits.text
    # A crafted id shows nothing: notices come from the import history only.
    assert "导入记录" not in client.get("/vulndb", params={"imported": 999}).text
    bad = client.post(
        "/vulndb/import", data={"csrf_token": token}, files={"file": ("xxe.xml", XXE)}
    )
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "xxe.xml" in bad.text
    assert _cves(world) == 1
    ok = client.post(
        "/vulndb/template-check",
        data={"csrf_token": token},
        files={"file": ("good.yaml", GOOD_TEMPLATE)},
    )
    assert ok.status_code == 200 and "可以运行" in ok.text
    refused = client.post(
        "/vulndb/template-check",
        data={"csrf_token": token},
        files={"file": ("unsafe.yaml", UNSAFE_TEMPLATE)},
    )
    assert "unsafe" in refused.text and "不支持的功能" in refused.text


def test_vulndb_page_by_role(world: World, login: Login) -> None:
    auditor = login("auditor").get("/vulndb")
    assert auditor.status_code == 200 and "/vulndb/import" not in auditor.text
    assert "/vulndb/template-check" not in auditor.text
    assert login("viewer").get("/vulndb").status_code == 403
    client, token = _form_client(login, "auditor")
    response = client.post(
        "/vulndb/import",
        data={"csrf_token": token},
        files={"file": ("nvd.json", nvd_feed("CVE-2024-32002"))},
    )
    assert response.status_code == 403 and _cves(world) == 0


def test_risk_config_page_method_and_threats(world: World, login: Login) -> None:
    client, token = _form_client(login, "engineer")
    assert "/assessment/risk-config?engagement=" in client.get("/assessment").text
    page = client.get("/assessment/risk-config", params={"engagement": "JIA"})
    assert page.status_code == 200 and "T01" in page.text and "系统默认参数" in page.text
    eng = str(world.own.engagement_id)
    override = b"default_method: multiply\n"
    no_token = client.post(
        "/assessment/risk-config/method",
        data={"engagement": eng},
        files={"file": ("m.yaml", override)},
    )
    assert no_token.status_code == 403 and _risk_rows(world) == (0, 0)
    saved = client.post(
        "/assessment/risk-config/method",
        data={"engagement": eng, "csrf_token": token},
        files={"file": ("m.yaml", override)},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = client.get(saved.headers["location"]).text
    assert "m.yaml" in shown and "相乘法" in shown
    bad = client.post(
        "/assessment/risk-config/method",
        data={"engagement": eng, "csrf_token": token},
        files={"file": ("bad.yaml", b"default_method: cubic\n")},
    )
    assert bad.status_code == 400 and "bad.yaml" in bad.text
    edited = client.post(
        "/assessment/risk-config/threats/T01",
        data={"engagement": eng, "csrf_token": token, "frequency": "5", "enabled": "true"},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    assert _risk_rows(world) == (1, 1)
    wrong = client.post(
        "/assessment/risk-config/threats/T01",
        data={"engagement": eng, "csrf_token": token, "frequency": "7"},
    )
    assert wrong.status_code == 400 and "出现频率" in wrong.text
    reset = client.post(
        "/assessment/risk-config/reset",
        data={"engagement": eng, "csrf_token": token},
        follow_redirects=False,
    )
    assert reset.status_code == 303 and _risk_rows(world) == (0, 1)


def test_risk_config_page_tenants_and_roles(world: World, login: Login) -> None:
    viewer = login("viewer")
    mine = viewer.get("/assessment/risk-config", params={"engagement": "JIA"})
    assert mine.status_code == 200 and "/assessment/risk-config/method" not in mine.text
    assert viewer.get("/assessment/risk-config", params={"engagement": "YI"}).status_code == 404
    for username, eng in (
        ("owner", world.own),
        ("other_owner", world.own),
        ("auditor", world.other),
    ):
        client, token = _form_client(login, username)
        for path, data in (
            ("/assessment/risk-config/reset", {}),
            ("/assessment/risk-config/threats/T01", {"frequency": "5"}),
        ):
            response = client.post(
                path, data={"engagement": str(eng.engagement_id), "csrf_token": token} | data
            )
            assert response.status_code in (403, 404), (username, path, response.status_code)
    assert _risk_rows(world) == (0, 0)


def test_reports_page_configuration_section(world: World, login: Login) -> None:
    admin = login("admin").get("/reports", params={"engagement": "JIA"})
    assert admin.status_code == 200 and "报告品牌与模板" in admin.text
    assert "/api/v1/reports/templates/" in admin.text
    assert "/api/v1/deliverables/index?engagement=" in admin.text
    engineer = login("engineer").get("/reports", params={"engagement": "JIA"}).text
    assert "报告品牌与模板" not in engineer and "/api/v1/deliverables/index" in engineer
    viewer = login("viewer").get("/reports", params={"engagement": "JIA"}).text
    assert "/api/v1/deliverables/index" in viewer and "/api/v1/reports/templates/" not in viewer
