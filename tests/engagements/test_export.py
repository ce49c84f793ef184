"""``shaobing engagement export`` (J3): the client's complete archive, made before a purge."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shaobing import __version__
from shaobing.engagements.export import read_manifest
from tests.conftest import CliRunner
from tests.engagements.test_purge import one_line_error, owned_keys, seed_engagement, snapshot


@pytest.fixture
def two(cli: CliRunner, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Engagement A of one client and B of another."""
    cli.ok("client", "add", "某市大数据局", "--code", "KH-A")
    cli.ok("client", "add", "某区政务服务中心", "--code", "KH-B")
    return {
        "a": seed_engagement(cli, tmp_path, client="KH-A", code="A-2026", name="年度服务", octet=1),
        "b": seed_engagement(cli, tmp_path, client="KH-B", code="B-2026", name="年度服务", octet=3),
    }


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_archive_is_complete_and_checksummed(
    cli: CliRunner, two: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    a = two["a"]
    data = snapshot()
    mine = owned_keys(data, a["id"])
    out = tmp_path / "归档.zip"
    summary = json.loads(
        cli.ok("engagement", "export", "A-2026", "--out", str(out), "--json", "-").out
    )
    assert summary["path"] == str(out)
    assert summary["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()

    members = _members(out)
    manifest = read_manifest(out)
    assert json.loads(members["manifest.json"]) == manifest
    # every member but the manifest is listed with its SHA-256, and nothing else is there
    assert set(manifest["members"]) == set(members) - {"manifest.json"}
    for name, digest in manifest["members"].items():
        assert hashlib.sha256(members[name]).hexdigest() == digest, name
    assert manifest["engagement"] == {"id": a["id"], "name": "年度服务", "code": "A-2026"}
    assert (manifest["client"]["code"], manifest["client"]["name"]) == ("KH-A", "某市大数据局")
    assert manifest["platform"]["version"] == __version__
    assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None
    assert "asset export" in manifest["not_included"]["assets"]

    # one JSON Lines file per owned table: exactly the engagement's rows, ordered by id
    assert {k: v for k, v in manifest["counts"].items() if v} == {
        k: len(v) for k, v in mine.items()
    }
    for table, count in manifest["counts"].items():
        lines = members[f"tables/{table}.jsonl"].decode("utf-8").splitlines()
        rows = [json.loads(line) for line in lines]
        assert len(rows) == count, table
        keys = [(r["id"],) for r in rows]
        assert keys == sorted(mine.get(table, set())), table
        for row in rows:
            stored = data[table][(row["id"],)]
            assert set(row) == set(stored), table
            for column, value in stored.items():
                if isinstance(value, datetime):
                    assert datetime.fromisoformat(row[column]) == value, (table, column)
                elif hasattr(value, "isoformat"):
                    assert row[column] == value.isoformat(), (table, column)
                else:
                    assert row[column] == value, (table, column)
    # the audit events about the engagement come along (read-only: they are not purged)
    audit = [json.loads(x) for x in members["tables/audit_events.jsonl"].decode().splitlines()]
    assert audit and {e["engagement_id"] for e in audit} == {a["id"]}
    assert manifest["audit_events"] == len(audit)

    # the files: each original's bytes under files/, none of the other engagement's
    by_path = {Path(f["path"]): f for f in manifest["files"]}
    assert set(by_path) == set(a["files"])
    for path, entry in by_path.items():
        assert entry["member"].startswith("files/")
        assert members[entry["member"]] == path.read_bytes()
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not set(by_path) & set(two["b"]["files"])
    assert len({e["member"] for e in manifest["files"]}) == len(manifest["files"])

    # the export itself is audited
    events: Any = cli.json("audit", "list", "--action", "engagement.export")
    assert [e["action"] for e in events] == ["engagement.export"]


def test_refuses_to_overwrite(
    cli: CliRunner, two: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "已有.zip"
    out.write_bytes(b"earlier archive")
    message = one_line_error(cli("engagement", "export", "A-2026", "--out", str(out)))
    assert str(out) in message and "拒绝覆盖" in message
    assert out.read_bytes() == b"earlier archive"
    # nothing half-written is left next to it
    assert sorted(p.name for p in tmp_path.glob(".export-*")) == []


def test_one_line_errors_leave_nothing(cli: CliRunner, tmp_path: Path) -> None:
    missing = one_line_error(
        cli("engagement", "export", "A-2026", "--out", str(tmp_path / "no" / "x.zip"))
    )
    assert str(tmp_path / "no") in missing
    unknown = one_line_error(
        cli("engagement", "export", "没有这个项目", "--out", str(tmp_path / "x.zip"))
    )
    assert "没有这个项目" in unknown
    assert list(tmp_path.glob("*.zip*")) == [] and list(tmp_path.glob(".export-*")) == []


def test_export_then_purge_keeps_a_verifiable_archive(
    cli: CliRunner, two: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "a.zip"
    cli.ok("engagement", "export", "A-2026", "--out", str(out))
    counts = read_manifest(out)["counts"]
    record = json.loads(cli.ok("engagement", "purge", "A-2026", "--yes", "--json", "-").out)
    # the archive holds what the purge destroyed, row for row
    assert record["record"]["counts"] == counts
    manifest = read_manifest(out)
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        for name, digest in manifest["members"].items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    assert cli.json("audit", "verify")["ok"] is True  # type: ignore[index]
