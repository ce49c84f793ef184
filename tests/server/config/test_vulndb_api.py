"""``POST /api/v1/vulndb/import`` and ``POST /api/v1/templates/validate`` (roles, hostile files)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import UploadFile
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.server.api.vulndb import save_bounded
from shaobing.templates.safeyaml import MAX_FILE_BYTES
from shaobing.vulndb.models import Cve, VulndbImport
from tests.server.config.hostile import (
    BROKEN_TEMPLATE,
    GOOD_TEMPLATE,
    GZIP_ZEROS,
    UNSAFE_TEMPLATE,
    XML_LAUGHS,
    XXE,
    YAML_LAUGHS,
    YAML_OBJECT_TAG,
    nvd_feed,
)
from tests.server.conftest import World

Login = Callable[[str], TestClient]


def _counts(world: World) -> tuple[int, int]:
    with session_scope(world.engine, readonly=True) as db:
        cves = db.scalar(select(func.count()).select_from(Cve)) or 0
        imports = db.scalar(select(func.count()).select_from(VulndbImport)) or 0
    return int(cves), int(imports)


def _one_line_400(response: object) -> str:
    assert response.status_code == 400, response.text  # type: ignore[attr-defined]
    message = response.json()["error"]  # type: ignore[attr-defined]
    assert "\n" not in message and "Traceback" not in message
    assert "/tmp" not in message and "shaobing-" not in message
    return str(message)


def test_engineer_imports_a_feed_and_finds_it(world: World, login: Login) -> None:
    client = login("engineer")
    feed = nvd_feed("CVE-2024-31001", "CVE-2024-31002")
    response = client.post("/api/v1/vulndb/import", files={"file": ("nvd-2024.json", feed)})
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["kind"], data["records"], data["inserted"]) == ("nvd", 2, 2)
    assert data["path"] == "nvd-2024.json" and not data["already_imported"]
    with session_scope(world.engine, readonly=True) as db:
        row = db.get(VulndbImport, data["import_id"])
        assert row is not None and row.source_name == "web:nvd-2024.json"
    found = client.get("/api/v1/vulndb", params={"q": "CVE-2024-3100"}).json()["items"]
    assert sorted(i["id"] for i in found) == ["CVE-2024-31001", "CVE-2024-31002"]
    again = client.post("/api/v1/vulndb/import", files={"file": ("copy.json", feed)}).json()
    assert again["already_imported"] and again["import_id"] == data["import_id"]
    assert _counts(world) == (2, 1)


def test_roles_without_vulndb_import_are_refused(world: World, login: Login) -> None:
    for username in ("auditor", "viewer", "owner", "other_owner"):
        response = login(username).post(
            "/api/v1/vulndb/import", files={"file": ("nvd.json", nvd_feed("CVE-2024-31003"))}
        )
        assert response.status_code == 403, username
    assert _counts(world) == (0, 0)


HOSTILE_FEEDS: list[tuple[str, bytes, str | None]] = [
    ("xxe.xml", XXE, None),
    ("laughs.xml", XML_LAUGHS, None),
    ("zeros.json.gz", GZIP_ZEROS, None),
    ("empty.json", b"", None),
    ("nvd.json", nvd_feed("CVE-2024-31004"), "oracle"),
    ("cut.json", nvd_feed("CVE-2024-31005")[:-40], None),
    ("forced.json", XXE, "nvd"),
]


def test_hostile_feed_uploads_get_one_line_400(world: World, login: Login) -> None:
    admin = login("admin")
    for name, content, kind in HOSTILE_FEEDS:
        data = {"kind": kind} if kind else {}
        response = admin.post("/api/v1/vulndb/import", files={"file": (name, content)}, data=data)
        _one_line_400(response)
    assert _counts(world) == (0, 0)


def test_uploads_over_the_limit_are_refused_not_truncated(tmp_path: Path) -> None:
    upload = UploadFile(io.BytesIO(b"x" * 2048), filename="../../big.json")
    with pytest.raises(ValidationError, match=r"big\.json"):
        asyncio.run(save_bounded(upload, tmp_path, 1024))
    fits = UploadFile(io.BytesIO(b"x" * 1024), filename="../../ok.json")
    path, name = asyncio.run(save_bounded(fits, tmp_path, 1024))
    assert (name, path.parent, path.stat().st_size) == ("ok.json", tmp_path, 1024)


def test_template_validation_lists_problems(world: World, login: Login) -> None:
    client = login("engineer")
    good = client.post("/api/v1/templates/validate", files={"file": ("good.yaml", GOOD_TEMPLATE)})
    assert good.status_code == 200, good.text
    assert good.json()["runnable"] and good.json()["id"] == "good-one"
    assert good.json()["problems"] == []
    unsafe = client.post(
        "/api/v1/templates/validate", files={"file": ("unsafe.yaml", UNSAFE_TEMPLATE)}
    ).json()
    assert unsafe["loads"] and not unsafe["runnable"] and "unsafe" in unsafe["unsupported"]
    assert len(unsafe["problems"]) == 1 and "unsafe" in unsafe["problems"][0]
    broken = client.post(
        "/api/v1/templates/validate", files={"file": ("broken.yml", BROKEN_TEMPLATE)}
    ).json()
    assert not broken["loads"] and broken["id"] is None
    assert broken["problems"] and all("\n" not in p for p in broken["problems"])
    assert "broken.yml" in broken["problems"][0] and "/tmp" not in broken["problems"][0]


HOSTILE_TEMPLATES = [
    ("laughs.yaml", YAML_LAUGHS),
    ("tag.yaml", YAML_OBJECT_TAG),
    ("huge.yaml", b"id: huge\n#" + b"x" * MAX_FILE_BYTES),
    ("xxe.xml", XXE),
    ("binary.yaml", b"\xff\xfe\x00bad"),
    ("empty.yaml", b""),
]


def test_hostile_templates_get_one_line_400(login: Login) -> None:
    admin = login("admin")
    for name, content in HOSTILE_TEMPLATES:
        response = admin.post("/api/v1/templates/validate", files={"file": (name, content)})
        assert name in _one_line_400(response)


def test_roles_without_template_validate_are_refused(login: Login) -> None:
    for username in ("auditor", "viewer", "owner"):
        response = login(username).post(
            "/api/v1/templates/validate", files={"file": ("good.yaml", GOOD_TEMPLATE)}
        )
        assert response.status_code == 403, username
