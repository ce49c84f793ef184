"""``shaobing engagement purge`` (J3): plan, delete, verify, destruction record.

Three engagements are seeded through the real commands (two of one client, one of another):
findings imported, a work order moved, a hardening with backups from an offline root, a
risk assessment, an MLPS and a data-security assessment, an HTML report built to a file, a
deliverable with an attached file and the engineer's notes. The first is purged; the tests
check with their own reading of the database (not the purge's queries) that nothing of it
remains and that everything else is exactly as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, inspect, select
from sqlalchemy.engine import make_url

from shaobing.core.audit import AuditEvent, verify_chain
from shaobing.core.db import get_engine, session_scope
from shaobing.core.errors import ValidationError
from shaobing.core.schema import load_all_models
from shaobing.engagements import purge as purge_mod
from tests.conftest import CliRunner

LEDGER = (
    "资产名称,资产类型,IP地址,所属业务系统,保密性,完整性,可用性\n"
    "门户服务器,主机,{a},门户网站系统,4,4,3\n"
    "数据库服务器,数据库,{b},门户网站系统,5,5,4\n"
)
SSHD = "PermitRootLogin yes\nPasswordAuthentication yes\n"
PROFILE = {
    "profile": "purgetest",
    "title": "清除测试基线",
    "target": "host",
    "rules": [
        {
            "id": "p.ssh.root",
            "title": "禁止 root 远程登录",
            "description": "d",
            "rationale": "r",
            "severity": "高",
            "check": {
                "type": "setting",
                "path": "/etc/ssh/sshd_config",
                "key": "PermitRootLogin",
                "compare": {"op": "==", "value": "no"},
            },
            "expected": "PermitRootLogin no",
            "remediation": {
                "text": "关闭 root 远程登录",
                "edits": [
                    {
                        "file": "/etc/ssh/sshd_config",
                        "set": {"key": "PermitRootLogin", "value": "no"},
                    }
                ],
            },
            "references": {"gb22239": ["8.1.4.1"], "control": "身份鉴别"},
        }
    ],
}


def _nuclei(template: str, host: str, severity: str) -> str:
    return json.dumps(
        {
            "template-id": template,
            "info": {"name": f"{template} 暴露", "severity": severity, "remediation": "限制访问"},
            "type": "http",
            "host": f"http://{host}",
            "matched-at": f"http://{host}/{template}",
            "ip": host,
            "timestamp": "2026-03-02T10:00:00Z",
        },
        ensure_ascii=False,
    )


def _host_root(root: Path) -> Path:
    for path, text in {
        "etc/os-release": 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
        "etc/hostname": "web-01\n",
        "etc/ssh/sshd_config": SSHD,
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def seed_engagement(
    cli: CliRunner, tmp: Path, *, client: str, code: str, name: str, octet: int
) -> dict[str, Any]:
    """One engagement with data in every feature; returns its id and its files."""
    work = tmp / code
    work.mkdir()
    args = ["engagement", "create", name, "--client", client, "--scope", "127.0.0.0/8"]
    args += ["--code", code, "--start", "2026-01-01", "--end", "2026-12-31"]
    args += ["--system", "门户网站系统", "--item", "vuln_scan:semiannual:3,9"]
    eid = int(cli.json(*args)["id"])  # type: ignore[index]
    a, b = f"127.0.{octet}.5", f"127.0.{octet}.6"
    ledger = work / "台账.csv"
    ledger.write_text(LEDGER.format(a=a, b=b), encoding="utf-8")
    cli.ok("asset", "import", str(ledger), "--engagement", code)
    scan = work / "nuclei.jsonl"
    lines = [_nuclei("redis-unauth", a, "critical"), _nuclei("swagger-ui", b, "medium")]
    scan.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli.ok("findings", "import", str(scan), "--engagement", code)
    orders: Any = cli.json("workorder", "list", "--engagement", code)
    cli.ok("workorder", "assign", f"WO-{orders['work_orders'][0]['id']}", "王工")

    profile = work / "purgetest.yaml"
    profile.write_text(yaml.safe_dump(PROFILE, allow_unicode=True), encoding="utf-8")
    root = _host_root(work / "host")
    harden = ("baseline", "harden", "-p", str(profile), "--root", str(root), "-e", code)
    hardened = json.loads(cli.ok(*harden, "--yes", "--json", "-").out)
    assert hardened["status"] == "applied", hardened

    cli.ok("risk", "assess", "--engagement", code)
    cli.ok("mlps", "init", "--engagement", code)
    cli.ok("mlps", "record", "-e", code, "-o", "机房", "-i", "8.1.1.2a", "-r", "不符合")
    cli.ok("datasec", "init", "--engagement", code)
    cli.ok("datasec", "answer", "-e", code, "-q", "sto.backup", "-a", "是")

    report = work / f"漏洞扫描报告-{code}.html"
    build = ("report", "build", "vuln_scan", "-e", code, "-f", "html", "-o", str(report))
    cli.ok(*build, "--period", "2026-03", "--deliverable", "auto")
    deliverables: Any = cli.json("deliverables", "list", "-e", code)
    later = next(d for d in deliverables if d["period"] == "2026-09")
    attached = work / "整改复查说明.docx"
    attached.write_bytes(f"{code} 整改复查说明".encode())
    cli.ok("deliverables", "submit", str(later["id"]), "--file", str(attached))

    notes = Path(os.environ["SHAOBING_HOME"]) / "reports" / "notes" / code / "pentest"
    notes.mkdir(parents=True)
    (notes / "summary.md").write_text(f"{name} 渗透测试小结\n", encoding="utf-8")
    backups = Path(os.environ["SHAOBING_HOME"]) / "baseline" / "backups" / str(hardened["run_id"])
    files = [report, attached, notes / "summary.md", *sorted(backups.iterdir())]
    assert all(f.is_file() for f in files), files
    return {"id": eid, "code": code, "files": files}


@pytest.fixture
def three(cli: CliRunner, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Engagement A1 (purged), A2 of the same client and B of another client."""
    cli.ok("client", "add", "某市大数据局", "--code", "KH-A")
    cli.ok("client", "add", "某区政务服务中心", "--code", "KH-B")
    return {
        "a1": seed_engagement(
            cli, tmp_path, client="KH-A", code="A-2026", name="年度服务", octet=1
        ),
        "a2": seed_engagement(
            cli, tmp_path, client="KH-A", code="A-2027", name="次年服务", octet=2
        ),
        "b": seed_engagement(cli, tmp_path, client="KH-B", code="B-2026", name="年度服务", octet=3),
    }


# ---- an independent reading of the database ------------------------------------------------


def snapshot() -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every row of every table, keyed by primary key."""
    md = load_all_models()
    out: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    # Only tables the migrations have created (a model may be ahead of its migration).
    present = set(inspect(get_engine()).get_table_names())
    with session_scope(get_engine(), readonly=True) as session:
        for table in md.sorted_tables:
            if table.name not in present:
                continue
            pk = list(table.primary_key.columns)
            rows = session.execute(select(table)).mappings().all()
            out[table.name] = {tuple(r[c.name] for c in pk): dict(r) for r in rows}
    return out


def owned_keys(
    data: dict[str, dict[tuple[Any, ...], dict[str, Any]]], engagement_id: int
) -> dict[str, set[tuple[Any, ...]]]:
    """Rows of the engagement: its row, rows naming it, and rows cascading from those."""
    md = load_all_models()
    owned: dict[str, set[tuple[Any, ...]]] = {"engagements": {(engagement_id,)}}
    for name, rows in data.items():
        if name not in {"engagements", "audit_events"} and "engagement_id" in md.tables[name].c:
            owned[name] = {k for k, r in rows.items() if r["engagement_id"] == engagement_id}
    changed = True
    while changed:
        changed = False
        for table in md.tables.values():
            for fk in table.foreign_key_constraints:
                if (fk.ondelete or "").upper() != "CASCADE" or table.name not in data:
                    continue
                parent = fk.referred_table.name
                parent_rows = data[parent]
                values = {
                    tuple(parent_rows[k][e.column.name] for e in fk.elements)
                    for k in owned.get(parent, set())
                }
                hit = {
                    k
                    for k, r in data[table.name].items()
                    if tuple(r[e.parent.name] for e in fk.elements) in values
                }
                if not hit <= owned.get(table.name, set()):
                    owned[table.name] = owned.get(table.name, set()) | hit
                    changed = True
    return {k: v for k, v in owned.items() if v}


def one_line_error(result: Any) -> str:
    """A refused command: exit 1, one line on stderr, no traceback."""
    assert result.code == 1, result
    text = result.err.strip()
    assert len(text.splitlines()) == 1 and "Traceback" not in result.err, result.err
    return str(text)


# ---- the purge end to end -------------------------------------------------------------------


def test_plan_without_yes_deletes_nothing(cli: CliRunner, three: dict[str, dict[str, Any]]) -> None:
    before = snapshot()
    result = cli.ok("engagement", "purge", "A-2026", "--json", "-")
    plan = json.loads(result.out)
    assert "--yes" in result.err
    mine = owned_keys(before, three["a1"]["id"])
    assert {k: v for k, v in plan["counts"].items() if v} == {k: len(v) for k, v in mine.items()}
    assert {Path(f["path"]) for f in plan["files"]} == set(three["a1"]["files"])
    client_id = before["engagements"][(three["a1"]["id"],)]["client_id"]
    ledger = [a for a in before["assets"].values() if a["client_id"] == client_id]
    assert plan["retained"]["assets"] == len(ledger) > 0  # the client's, not the engagement's
    assert plan["retained"]["audit_events"] > 0
    text = cli.ok("engagement", "purge", "A-2026")
    assert "findings" in text.out and "资产属于客户" in text.out
    assert snapshot() == before
    assert all(f.is_file() for e in three.values() for f in e["files"])


def test_purge_deletes_verifies_and_records(
    cli: CliRunner, three: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    a1 = three["a1"]
    before = snapshot()
    mine = owned_keys(before, a1["id"])
    # the seed reaches every kind of data the brief names
    for table in (
        "findings",
        "work_orders",
        "finding_events",
        "import_runs",
        "baseline_runs",
        "hardening_runs",
        "risk_runs",
        "mlps_assessments",
        "mlps_records",
        "mlps_objects",
        "datasec_assessments",
        "datasec_answers",
        "report_builds",
        "deliverables",
        "service_items",
        "sla_terms",
        "scope_entries",
        "engagement_systems",
    ):
        assert mine.get(table), table
    hashes = {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in a1["files"]}

    result = cli.ok("engagement", "purge", "A-2026", "--yes", "--json", "-")
    out = json.loads(result.out)
    record = out["record"]
    assert record["verification"] == {"ok": True, "rows_remaining": {}, "files_remaining": []}
    assert {k: v for k, v in record["counts"].items() if v} == {k: len(v) for k, v in mine.items()}
    assert {f["path"]: f["sha256"] for f in record["files"]} == hashes
    assert (record["engagement"]["code"], record["client"]["code"]) == ("A-2026", "KH-A")
    assert record["actor"] == "cli:tester"

    after = snapshot()
    # nothing of A1 is left, and every other row is exactly as it was
    for name, rows in after.items():
        if name in ("audit_events", "audit_head"):
            continue
        gone = mine.get(name, set())
        assert not gone & set(rows), name
        assert rows == {k: v for k, v in before[name].items() if k not in gone}, name
    assert after["assets"] == before["assets"]  # the ledger stays with the client
    # the audit log only grew, and still verifies
    assert set(before["audit_events"]) < set(after["audit_events"])
    assert all(after["audit_events"][k] == v for k, v in before["audit_events"].items())
    verify = cli.json("audit", "verify")
    assert verify["ok"] is True, verify  # type: ignore[index]
    with session_scope(get_engine(), readonly=True) as session:
        assert verify_chain(session).ok
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "engagement.purge")
        ).one()
    detail = json.loads(event.detail)
    assert detail["record"] == record
    assert detail["record_hash"] == out["record_hash"]
    assert (
        detail["record_hash"]
        == hashlib.sha256(
            json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
    )
    assert (event.engagement_id, event.seq, event.outcome) == (
        a1["id"],
        out["audit_seq"],
        "success",
    )

    # the record on disk, named by the engagement's code
    on_disk = Path(out["record_file"])
    assert on_disk.parent == Path(os.environ["SHAOBING_HOME"]) / "destruction"
    assert on_disk.name.startswith("A-2026-")
    saved = json.loads(on_disk.read_text(encoding="utf-8"))
    assert (saved["record"], saved["record_hash"]) == (record, out["record_hash"])
    assert (saved["audit_seq"], saved["audit_hash"]) == (event.seq, event.hash)

    # files: A1's gone (their folders too), the others' intact
    assert not any(os.path.lexists(f) for f in a1["files"])
    home = Path(os.environ["SHAOBING_HOME"])
    assert not (home / "reports" / "notes" / "A-2026").exists()
    for other in (three["a2"], three["b"]):
        assert all(f.is_file() for f in other["files"])

    # the deleted engagement cannot be purged again
    again = one_line_error(cli("engagement", "purge", "A-2026", "--yes"))
    assert "A-2026" in again
    # the other engagement of the same client is still usable
    assert cli.json("engagement", "show", "A-2027")["code"] == "A-2027"  # type: ignore[index]


def test_text_output(cli: CliRunner, three: dict[str, dict[str, Any]]) -> None:
    out = cli.ok("engagement", "purge", "B-2026", "--yes").out
    assert "已清除项目 年度服务" in out
    assert "核验：通过" in out
    assert "销毁记录：审计事件 #" in out
    assert all(not os.path.lexists(f) for f in three["b"]["files"])


def test_undeletable_file_is_reported_and_recorded(
    cli: CliRunner, three: dict[str, dict[str, Any]]
) -> None:
    if os.geteuid() != 0:
        pytest.skip("the immutable attribute needs root")
    stuck = three["a1"]["files"][1]
    if subprocess.run(["chattr", "+i", str(stuck)], check=False).returncode != 0:
        pytest.skip(f"the file system under {stuck} has no immutable attribute")
    try:
        message = one_line_error(cli("engagement", "purge", "A-2026", "--yes"))
        assert str(stuck) in message and "未能删除" in message
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert stuck.is_file()
    with session_scope(get_engine(), readonly=True) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "engagement.purge")
        ).one()
        assert verify_chain(session).ok
    detail = json.loads(event.detail)
    assert event.outcome == "failure"
    assert detail["record"]["verification"]["files_remaining"] == [str(stuck)]
    assert detail["record"]["verification"]["ok"] is False
    assert detail["record"]["rows"] > 0


def test_rows_left_are_detected(cli: CliRunner, three: dict[str, dict[str, Any]]) -> None:
    # Verification run on an engagement that was not purged must report its rows.
    owner = purge_mod.ownership()
    with session_scope(get_engine(), readonly=True) as session:
        left = purge_mod.remaining_rows(session, owner, three["a2"]["id"])
    expected = owned_keys(snapshot(), three["a2"]["id"])
    assert left == {name: len(keys) for name, keys in expected.items()}
    assert left["findings"] >= 2 and left["engagements"] == 1


def test_unknown_engagement(cli: CliRunner) -> None:
    assert "没有这个项目" in one_line_error(cli("engagement", "purge", "没有这个项目"))


# ---- the schema walk ------------------------------------------------------------------------


def _reaches_engagements(md: MetaData) -> set[str]:
    """Tables that name an engagement or point (by any foreign key) at such a table."""
    reach = {"engagements"}
    changed = True
    while changed:
        changed = False
        for table in md.tables.values():
            if table.name in reach:
                continue
            if "engagement_id" in table.c or any(
                fk.referred_table.name in reach for fk in table.foreign_key_constraints
            ):
                reach.add(table.name)
                changed = True
    return reach


def test_every_table_referring_to_engagements_is_handled() -> None:
    md = load_all_models()
    owned = set(purge_mod.ownership(md).names)
    handled = owned | purge_mod.KEPT_TABLES | purge_mod.DETACHED_TABLES
    # Fails when a table that refers to engagement data (directly or through other tables)
    # is added without being owned by the walk or explicitly kept/detached.
    assert _reaches_engagements(md) - handled == set()
    assert purge_mod.uncovered_tables(md) == []
    assert {"findings", "finding_events", "mlps_records", "datasec_answers"} <= owned
    assert "assets" not in owned and "clients" not in owned


def _copy(md: MetaData) -> MetaData:
    out = MetaData()
    for table in md.sorted_tables:
        table.to_metadata(out)
    return out


def test_a_new_table_is_owned_or_refused() -> None:
    md = _copy(load_all_models())
    Table(
        "evidence_blobs",
        md,
        Column("id", Integer, primary_key=True),
        Column("finding_id", ForeignKey("findings.id", ondelete="CASCADE")),
    )
    Table(
        "scan_notes",
        md,
        Column("id", Integer, primary_key=True),
        Column("engagement_id", Integer),
        Column("text", String(100)),
    )
    walk = purge_mod.ownership(md)
    assert {"evidence_blobs", "scan_notes"} <= set(walk.names)
    assert walk.names.index("evidence_blobs") < walk.names.index("findings")
    condition = walk.condition(md.tables["evidence_blobs"], 7)
    for url in ("sqlite://", "postgresql+psycopg://"):
        dialect = make_url(url).get_dialect()()
        sql = str(condition.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        assert "evidence_blobs.finding_id IN (SELECT findings.id" in sql
        assert "findings.engagement_id = 7" in sql
    assert purge_mod.uncovered_tables(md) == []

    # A table that only points at engagement data with SET NULL is not owned, and is
    # named until someone decides about it.
    Table(
        "asset_sightings",
        md,
        Column("id", Integer, primary_key=True),
        Column("scan_run_id", ForeignKey("scan_runs.id", ondelete="SET NULL")),
    )
    assert purge_mod.uncovered_tables(md) == ["asset_sightings"]
    assert "asset_sightings" in _reaches_engagements(md) - set(purge_mod.ownership(md).names)


def test_plan_refuses_an_uncovered_table(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # The refusal is one line naming the table (plan_purge checks the live schema).
    md = _copy(load_all_models())
    Table(
        "loose_ends",
        md,
        Column("id", Integer, primary_key=True),
        Column("finding_id", ForeignKey("findings.id")),
    )
    monkeypatch.setattr(purge_mod, "load_all_models", lambda: md)
    cli.ok("client", "add", "客户", "--code", "KH")
    cli.ok("engagement", "create", "项目", "--client", "KH", "--scope", "127.0.0.1")
    with session_scope(get_engine(), readonly=True) as session:
        engagement = purge_mod.resolve(session, "项目", None)
        with pytest.raises(ValidationError, match="loose_ends"):
            purge_mod.plan_purge(session, engagement)
