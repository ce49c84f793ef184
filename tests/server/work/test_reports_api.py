"""Report builds through the API: build, list, download with a Chinese file name; roles."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from urllib.parse import unquote

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.core.db import session_scope
from shaobing.reports.models import ReportBuild
from shaobing.server.api.reports import content_disposition
from tests.server.conftest import World

Login = Callable[[str], TestClient]


def _builds(world: World) -> int:
    with session_scope(world.engine, readonly=True) as db:
        return int(db.scalar(select(func.count()).select_from(ReportBuild)) or 0)


def test_build_list_and_download(world: World, login: Login) -> None:
    engineer = login("engineer")
    response = engineer.post(
        "/api/v1/reports", json={"engagement": "JIA", "type": "vuln_scan", "format": "html"}
    )
    assert response.status_code == 201, response.text
    built = response.json()
    assert built["title"] == "漏洞扫描报告" and built["format"] == "html"
    listed = login("viewer").get("/api/v1/reports", params={"engagement": "JIA"}).json()
    assert [b["id"] for b in listed["items"]] == [built["id"]]
    download = login("viewer").get(built["download"])
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == built["sha256"]
    assert "甲 测试漏洞" in download.content.decode("utf-8")
    header = download.headers["content-disposition"]
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == f"漏洞扫描报告-{built['report_no']}.html"
    # Other tenant: not found; roles without the permissions: refused; nothing built.
    assert login("other_viewer").get(built["download"]).status_code == 404
    assert login("other_viewer").get("/api/v1/reports").json()["items"] == []
    for user in ("auditor", "viewer", "owner"):
        refused = login(user).post(
            "/api/v1/reports", json={"engagement": "JIA", "type": "vuln_scan", "format": "html"}
        )
        assert refused.status_code == 403
    assert (
        login("other_owner")
        .post("/api/v1/reports", json={"engagement": "JIA", "type": "vuln_scan", "format": "html"})
        .status_code
        == 404
    )
    assert _builds(world) == 1


def test_bad_type_and_format_are_one_line(world: World, login: Login) -> None:
    engineer = login("engineer")
    bad_type = engineer.post("/api/v1/reports", json={"engagement": "JIA", "type": "nope"})
    assert bad_type.status_code == 404 and "nope" in bad_type.json()["error"]
    bad_format = engineer.post(
        "/api/v1/reports", json={"engagement": "JIA", "type": "vuln_scan", "format": "rtf"}
    )
    assert bad_format.status_code == 400 and "rtf" in bad_format.json()["error"]
    assert _builds(world) == 0


def test_content_disposition_keeps_chinese_and_is_safe() -> None:
    header = content_disposition('渗透测试报告-"A;B".docx')
    assert header.startswith('attachment; filename="')
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and ";" not in fallback and '"' not in fallback
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == '渗透测试报告-"A;B".docx'
