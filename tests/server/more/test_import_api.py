"""``POST /api/v1/findings/import``: real scanner files, hostile files, roles and tenants."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shaobing.core.db import session_scope
from shaobing.findings.models import Finding, ImportRun
from shaobing.server.api import imports
from tests.findings.corpus import corpus_dir
from tests.server.conftest import World
from tests.server.more.helpers import Login, findings_state, one_line_error

# One file per family: XML host scan, JSON lines template scan, XML web scan (DefectDojo's
# parser test files, read in place).
SAMPLES = [
    ("nmap", "nmap_multiple_port.xml", "nmap"),
    ("nuclei", "many_findings.json", "nuclei"),
    ("zap", "zap-xml-plus-format.xml", "zap"),
    ("burp", "one_finding_with_cwe.xml", "burp"),
]


def _upload(
    client: TestClient, engagement: str, name: str, data: bytes, **fields: str
) -> httpx.Response:
    response: httpx.Response = client.post(
        "/api/v1/findings/import",
        data={"engagement": engagement, **fields},
        files={"file": (name, data, "application/octet-stream")},
    )
    return response


def _open_findings(world: World, engagement_id: int) -> int:
    with session_scope(world.engine, readonly=True) as db:
        rows = db.scalars(
            select(Finding.id).where(
                Finding.engagement_id == engagement_id, Finding.is_open.is_(True)
            )
        )
        return len(list(rows))


@pytest.mark.parametrize(("tool", "file", "fmt"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_real_file_is_detected_imported_and_deduplicated(
    world: World, login: Login, tool: str, file: str, fmt: str
) -> None:
    data = (corpus_dir(tool) / file).read_bytes()
    engineer = login("engineer")
    before = findings_state(world, world.own.engagement_id)
    first = _upload(engineer, "JIA", f"../../etc/{file}", data)
    assert first.status_code == 200, first.text
    summary = first.json()
    assert summary["format"] == fmt
    # The folder part of the client's file name is dropped.
    assert summary["file"] == file
    assert summary["engagement"]["code"] == "JIA"
    after = findings_state(world, world.own.engagement_id)
    assert after[0] - before[0] == summary["created"]
    assert after[1] - before[1] == summary["work_orders_created"]
    assert after[2:] == (before[2] + 1, before[3] + 1)
    with session_scope(world.engine, readonly=True) as db:
        run = db.get_one(ImportRun, summary["import_id"])
        assert run.file_name == file and run.actor == "web:engineer"
        assert run.summary["created"] == summary["created"]
    # The same file again: nothing new, everything recognised.
    again = _upload(engineer, "JIA", file, data)
    assert again.status_code == 200, again.text
    repeat = again.json()
    assert repeat["created"] == 0 and repeat["work_orders_created"] == 0
    assert repeat["duplicates"] + repeat["updated"] >= summary["created"]
    assert findings_state(world, world.own.engagement_id)[0] == after[0]


def test_import_options_follow_the_cli(world: World, login: Login) -> None:
    data = (corpus_dir("nuclei") / "many_findings.json").read_bytes()
    engineer = login("engineer")
    by_host = _upload(engineer, "JIA", "n.jsonl", data, format="nuclei", grouping="host")
    assert by_host.status_code == 200, by_host.text
    created = by_host.json()
    # One work order per host: as many new orders as hosts among the imported findings.
    with session_scope(world.engine, readonly=True) as db:
        hosts = set(
            db.scalars(
                select(Finding.host).where(
                    Finding.engagement_id == world.own.engagement_id,
                    Finding.first_import_id == created["import_id"],
                )
            )
        )
    assert created["created"] > len(hosts) >= 1
    assert created["work_orders_created"] == len(hosts)
    # The seeded findings (another scan) are outside this file's coverage or closed by it;
    # with no_close nothing is closed at all.
    open_before = _open_findings(world, world.own.engagement_id)
    kept = _upload(engineer, "JIA", "n.jsonl", data, no_close="true")
    assert kept.status_code == 200 and kept.json()["closed"] == 0
    assert _open_findings(world, world.own.engagement_id) == open_before
    bad = _upload(engineer, "JIA", "n.jsonl", data, grouping="team")
    assert bad.status_code == 400 and "team" in one_line_error(bad.text)
    unknown = _upload(engineer, "JIA", "n.jsonl", data, format="acme")
    assert unknown.status_code == 400 and "acme" in one_line_error(unknown.text)


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<nmaprun scanner="nmap" args="nmap" start="1" version="7.94">
<host><address addr="127.0.0.5" addrtype="ipv4"/>
<hostnames><hostname name="&xxe;"/></hostnames></host>
</nmaprun>
"""
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE nmaprun [\n<!ENTITY a "ha">\n'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">\n'.encode() for i in range(9)
    )
    + b']>\n<nmaprun scanner="nmap"><host><comment>&j;</comment></host></nmaprun>\n'
)
HUGE_LINE = b'{"template-id": "x", "info": {"name": "' + b"A" * (12 * 1024 * 1024) + b'"\n'


@pytest.mark.parametrize(
    ("name", "data", "fields"),
    [
        ("xxe.xml", XXE, {}),
        ("xxe.xml", XXE, {"format": "nmap"}),
        ("laughs.xml", LAUGHS, {}),
        ("laughs.xml", LAUGHS, {"format": "nmap"}),
        ("huge.jsonl", HUGE_LINE, {}),
        ("huge.jsonl", HUGE_LINE, {"format": "nuclei"}),
        ("garbage.bin", bytes(range(256)) * 64, {}),
        ("empty.xml", b"", {}),
        ("truncated.xml", b'<?xml version="1.0"?><nmaprun scanner="nmap"><host>', {}),
    ],
    ids=[
        "xxe",
        "xxe-nmap",
        "laughs",
        "laughs-nmap",
        "huge-line",
        "huge-line-nuclei",
        "garbage",
        "empty",
        "truncated",
    ],
)
def test_hostile_file_gives_one_line_400_and_changes_nothing(
    world: World,
    login: Login,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    data: bytes,
    fields: dict[str, str],
) -> None:
    # Uploads go to this test's own temporary folder, so leftovers can be seen.
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    before = findings_state(world, world.own.engagement_id)
    response = _upload(login("engineer"), "JIA", name, data, **fields)
    assert response.status_code == 400, response.text[:300]
    message = one_line_error(response.text)
    assert name in message
    assert "root:" not in response.text and str(spool) not in message
    assert findings_state(world, world.own.engagement_id) == before
    assert not [p for p in spool.iterdir() if p.name.startswith("shaobing-import-")]


def test_upload_over_the_limit_is_refused_not_truncated(
    world: World, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real cap is the app's 64 MiB body limit; a smaller cap shows the copy is bounded.
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 256 * 1024)
    data = (corpus_dir("nuclei") / "issue_14071.json").read_bytes()
    assert len(data) > 256 * 1024
    before = findings_state(world, world.own.engagement_id)
    response = _upload(login("engineer"), "JIA", "big.json", data)
    assert response.status_code == 400
    message = one_line_error(response.text)
    assert "big.json" in message and "256 KiB" in message
    assert findings_state(world, world.own.engagement_id) == before


def test_body_over_the_app_cap_is_413(world: World, login: Login) -> None:
    engineer = login("engineer")
    response = engineer.post(
        "/api/v1/findings/import",
        content=b"x",
        headers={
            "Content-Length": str(64 * 1024 * 1024 + 1),
            "Content-Type": "multipart/form-data; boundary=b",
        },
    )
    assert response.status_code == 413


@pytest.mark.parametrize("user", ["auditor", "viewer", "owner"])
def test_roles_without_findings_import_are_refused(world: World, login: Login, user: str) -> None:
    data = (corpus_dir("nmap") / "nmap_multiple_port.xml").read_bytes()
    before = findings_state(world, world.own.engagement_id)
    response = _upload(login(user), "JIA", "scan.xml", data)
    assert response.status_code == 403, response.text
    assert findings_state(world, world.own.engagement_id) == before


def test_other_tenant_engagement_is_not_found(world: World, login: Login, bearer: Login) -> None:
    data = (corpus_dir("nmap") / "nmap_multiple_port.xml").read_bytes()
    before = findings_state(world, world.other.engagement_id)
    for client in (login("other_owner"), login("owner"), bearer("viewer")):
        response = _upload(client, "YI", "scan.xml", data)
        assert response.status_code in (403, 404), response.text
    assert _upload(login("owner"), str(world.other.engagement_id), "s.xml", data).status_code in (
        403,
        404,
    )
    assert findings_state(world, world.other.engagement_id) == before


def test_cookie_session_needs_csrf_bearer_does_not(
    world: World, login: Login, bearer: Login
) -> None:
    data = (corpus_dir("nmap") / "nmap_multiple_port.xml").read_bytes()
    cookie = login("engineer")
    cookie.headers.pop("X-CSRF-Token")
    before = findings_state(world, world.own.engagement_id)
    refused = _upload(cookie, "JIA", "scan.xml", data)
    assert refused.status_code == 403
    assert findings_state(world, world.own.engagement_id) == before
    done = _upload(bearer("admin"), "JIA", "scan.xml", data)
    assert done.status_code == 200, done.text
    assert done.json()["format"] == "nmap"
