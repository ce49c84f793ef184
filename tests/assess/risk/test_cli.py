"""``shaobing risk ...`` end to end on a seeded engagement (ledger + scanner findings).

The command layer is the same on every database, so these run on SQLite only; the service
tests (test_service.py) run the assessment itself on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRunner

ENG = "风险评估项目"
LEDGER = (
    "资产名称,资产类型,IP地址,所属业务系统,保密性,完整性,可用性\n"
    "门户服务器,主机,127.0.0.5,门户网站系统,4,4,3\n"
    "数据库服务器,数据库,127.0.0.6,门户网站系统,5,5,4\n"
)


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh migrated SQLite database (overrides the two-backend fixture for this module)."""
    target = tmp_path / "shaobing.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


def _nuclei(template: str, name: str, host: str, severity: str, **info: Any) -> str:
    return json.dumps(
        {
            "template-id": template,
            "info": {"name": name, "severity": severity} | info,
            "type": "network",
            "host": host,
            "ip": host,
            "matched-at": f"{host}:22",
            "timestamp": "2026-11-21T10:00:00Z",
        },
        ensure_ascii=False,
    )


@pytest.fixture
def seeded(cli: CliRunner, tmp_path: Path) -> CliRunner:
    cli.ok("client", "add", "某区大数据局", "--code", "dsj")
    cli.ok(
        "engagement",
        "create",
        ENG,
        "--client",
        "dsj",
        "--scope",
        "127.0.0.0/8",
        "--system",
        "门户网站系统",
    )
    ledger = tmp_path / "台账.csv"
    ledger.write_text(LEDGER, encoding="utf-8")
    cli.ok("asset", "import", str(ledger), "--engagement", ENG)
    findings = tmp_path / "nuclei.jsonl"
    findings.write_text(
        "\n".join(
            [
                _nuclei("ssh-weak-password", "SSH 弱口令", "127.0.0.5", "high"),
                _nuclei(
                    "CVE-2021-1234",
                    "某组件远程代码执行",
                    "127.0.0.6",
                    "critical",
                    classification={"cve-id": ["CVE-2021-1234"]},
                ),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    cli.ok("findings", "import", str(findings), "--engagement", ENG)
    return cli


def _assess(cli: CliRunner, *extra: str) -> dict[str, Any]:
    data = cli.json("risk", "assess", "--engagement", ENG, *extra)
    assert isinstance(data, dict)
    return data


def test_assess_json_shape(seeded: CliRunner) -> None:
    data = _assess(seeded)
    assert data["method"] == "matrix"
    assert set(data["summary"]) == {"很高", "高", "中等", "低", "很低"}
    assert sum(data["summary"].values()) == len(data["risks"]) > 0
    for risk in data["risks"]:
        assert {"asset", "threat", "vulnerability", "likelihood", "loss", "value", "level"} <= set(
            risk
        )
        assert risk["level"] in data["summary"]
        assert "explain" not in risk
    assert {r["asset"] for r in data["risks"]} == {"门户服务器", "数据库服务器"}
    assert isinstance(data["run_id"], int)
    multiply = _assess(seeded, "--method", "multiply", "--no-save")
    assert multiply["method"] == "multiply" and multiply["run_id"] is None
    assert any(isinstance(r["likelihood"], float) for r in multiply["risks"])


def test_explain_names_inputs_and_cells(seeded: CliRunner) -> None:
    data = _assess(seeded, "--explain")
    top = data["risks"][0]
    calc = "\n".join(top["explain"]["calculation"])
    assert f"安全事件可能性矩阵[T={top['threat_value']}，V={top['severity']}]" in calc
    assert f"风险矩阵[L={top['likelihood']}，F={top['loss']}] = {top['value']}" in calc
    assert any("C=" in line for line in top["explain"]["asset"])
    text = seeded.ok("risk", "assess", "--engagement", ENG, "--explain", "--no-save").out
    assert "安全事件损失矩阵[Ia=" in text and "落在区间" in text


def test_trend_shows_in_the_second_run(seeded: CliRunner) -> None:
    first = _assess(seeded)
    seeded.ok(
        "risk",
        "threats",
        "edit",
        "T02",
        "--engagement",
        ENG,
        "--frequency",
        "5",
        "--capability",
        "5",
    )
    second = _assess(seeded)
    trend = second["trend"]
    assert trend["previous_run_id"] == first["run_id"]
    assert trend["counts_then"] == first["summary"]
    assert [c["key"].split("|")[1] for c in trend["changed"]] == ["T02"]
    runs: Any = seeded.json("risk", "runs", "--engagement", ENG)
    assert [r["id"] for r in runs] == [second["run_id"], first["run_id"]]
    assert "与上次评估" in seeded.ok("risk", "assess", "--engagement", ENG).out


def test_threats_list_and_edit(seeded: CliRunner) -> None:
    threats: Any = seeded.json("risk", "threats", "list", "--engagement", ENG)
    t02 = next(t for t in threats if t["id"] == "T02")
    assert {"source", "actor", "kind", "motive", "timing", "frequency", "capability"} <= set(t02)
    edited: Any = seeded.json(
        "risk",
        "threats",
        "edit",
        "t02",
        "--engagement",
        ENG,
        "--frequency",
        "2",
        "--timing",
        "重大活动期间",
    )
    assert (edited["frequency"], edited["timing"], edited["edited"]) == (
        2,
        "重大活动期间",
        ["frequency", "timing"],
    )
    seeded.ok("risk", "threats", "edit", "T02", "--engagement", ENG, "--disable")
    assert all(r["threat_id"] != "T02" for r in _assess(seeded, "--no-save")["risks"])
    listed = json.loads(seeded.ok("risk", "threats", "list", "--engagement", ENG, "--json").out)
    assert next(th for th in listed if th["id"] == "T02")["disabled"] is True
    # the table marks it too (wide enough a terminal to show the name column whole)
    assert "T02" in seeded.ok("risk", "threats", "list", "--engagement", ENG).out


def test_measures_and_manual_vulnerabilities(seeded: CliRunner) -> None:
    before = _assess(seeded, "--no-save")
    added: Any = seeded.json(
        "risk", "measures", "add", "堡垒机双因素认证", "--engagement", ENG, "--type", "预防性",
        "--threat", "T02", "--asset", "门户服务器",
    )  # fmt: skip
    listed: Any = seeded.json("risk", "measures", "list", "--engagement", ENG)
    assert [m["name"] for m in listed] == ["堡垒机双因素认证"] and listed[0]["effective"] is True
    after = _assess(seeded, "--no-save")
    key = next(r["key"] for r in before["risks"] if r["threat_id"] == "T02")
    old = next(r for r in before["risks"] if r["key"] == key)
    new = next(r for r in after["risks"] if r["key"] == key)
    assert new["likelihood"] == max(1, old["likelihood"] - 1)
    seeded.ok("risk", "measures", "mark", str(added["id"]), "--engagement", ENG, "--ineffective")
    broken = _assess(seeded, "--no-save")
    assert any(r["vulnerability_source"] == "measure" for r in broken["risks"])
    seeded.ok("risk", "measures", "remove", str(added["id"]), "--engagement", ENG)
    assert seeded.json("risk", "measures", "list", "--engagement", ENG) == []

    vuln: Any = seeded.json(
        "risk",
        "vulns",
        "add",
        "未建立安全管理制度",
        "--engagement",
        ENG,
        "--type",
        "管理",
        "--severity",
        "高",
    )
    assert (vuln["severity"], vuln["class"], vuln["target"]) == (4, "mgmt.policy", None)
    vulns: Any = seeded.json("risk", "vulns", "list", "--engagement", ENG)
    assert {v["source"] for v in vulns} == {"finding", "manual"}
    manual = next(v for v in vulns if v["source"] == "manual")
    assert manual["asset"] == "门户网站系统" and manual["threats"]
    seeded.ok("risk", "vulns", "remove", str(vuln["id"]), "--engagement", ENG)


def test_business_and_method_override(seeded: CliRunner, tmp_path: Path) -> None:
    seeded.ok(
        "risk", "business", "add", "政务公开", "--engagement", ENG, "--importance", "5",
        "--system", "门户网站系统:5",
    )  # fmt: skip
    listed: Any = seeded.json("risk", "business", "list", "--engagement", ENG)
    assert listed[0]["systems"] == [{"name": "门户网站系统", "relevance": 5}]
    data = _assess(seeded, "--no-save")
    assert data["rollup"]["businesses"][0]["name"] == "政务公开"
    assert all(r["asset_value"] == 5 for r in data["risks"])
    override = tmp_path / "org.yaml"
    override.write_text("acceptable_max_level: 5\n", encoding="utf-8")
    seeded.ok("risk", "method", "set", str(override), "--engagement", ENG)
    shown: Any = seeded.json("risk", "method", "show", "--engagement", ENG)
    assert shown["override"] == {"acceptable_max_level": 5}
    assert _assess(seeded, "--no-save")["unacceptable"] == 0
    seeded.ok("risk", "method", "reset", "--engagement", ENG)
    assert _assess(seeded, "--no-save")["unacceptable"] > 0


USER_ERRORS = [
    (("risk", "assess", "--engagement", "不存在的项目"), "不存在的项目"),
    (("risk", "assess", "--engagement", ENG, "--method", "guess"), "guess"),
    (("risk", "threats", "edit", "T99", "--engagement", ENG, "--frequency", "3"), "T99"),
    (("risk", "threats", "edit", "T01", "--engagement", ENG, "--frequency", "7"), "不能大于 5"),
    (("risk", "threats", "edit", "T01", "--engagement", ENG), "--frequency"),
    (("risk", "measures", "add", "x", "--engagement", ENG, "--type", "magic"), "magic"),
    (("risk", "measures", "mark", "99", "--engagement", ENG, "--effective"), "99"),
    (("risk", "measures", "mark", "1", "--engagement", ENG), "--ineffective"),
    (("risk", "vulns", "add", "x", "--engagement", ENG, "--severity", "极高"), "极高"),
    (
        (
            "risk",
            "vulns",
            "add",
            "x",
            "--engagement",
            ENG,
            "--severity",
            "3",
            "--asset",
            "无此资产",
        ),
        "无此资产",
    ),
    (
        ("risk", "vulns", "add", "x", "--engagement", ENG, "--severity", "3", "--class", "nope"),
        "nope",
    ),
    (
        (
            "risk",
            "business",
            "add",
            "b",
            "--engagement",
            ENG,
            "--importance",
            "3",
            "--system",
            "无",
        ),
        "无",
    ),
    (("risk", "business", "add", "b", "--engagement", ENG, "--importance", "8"), "8"),
]


def test_user_errors_are_one_chinese_line(seeded: CliRunner) -> None:
    for args, fragment in USER_ERRORS:
        result = seeded(*args)
        assert result.code == 1, args
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("错误") and fragment in lines[0], (
            args,
            result.err,
        )
        assert "Traceback" not in result.err


def test_bad_method_file_is_one_line(seeded: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("matrix:\n  risk:\n    values: [[9, 1, 1, 1, 1]]\n", encoding="utf-8")
    result = seeded("risk", "assess", "--engagement", ENG, "--method-file", str(bad))
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert "bad.yaml" in result.err and "matrix.risk.values" in result.err
