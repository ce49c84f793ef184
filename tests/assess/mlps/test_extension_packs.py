"""The Level 3 extension packs (cloud, mobile, IoT, industrial control, big data) as data.

Counts per control point are those of GB/T 22239-2019 §8.2–8.5 at Level 3 as traced in
docs/mlps.md ("扩展要求包"); the big-data pack follows the standard's Annex H and carries
project-assigned numbers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

import openpyxl
import pytest
from sqlalchemy import select

from shaobing.assess.mlps import datafiles
from shaobing.assess.mlps.catalogue import CatalogueFile, available_packs, load_catalogue
from shaobing.assess.mlps.gaps import analyse
from shaobing.assess.mlps.highrisk import check_against, load_rules
from shaobing.assess.mlps.prefill import load_prefill
from shaobing.assess.mlps.scoring import ObjectView, RecordView, compute, load_scoring
from shaobing.core.db import get_engine, session_scope
from shaobing.findings.models import Finding
from tests.conftest import CliRunner

DOCS = Path(__file__).resolve().parents[3] / "docs" / "mlps.md"

# (category, control point) → items at Level 3, in catalogue order, per pack.
EXPECTED: dict[str, dict[tuple[str, str], int]] = {
    "cloud": {
        ("安全物理环境", "基础设施位置"): 1,
        ("安全通信网络", "网络架构"): 5,
        ("安全区域边界", "访问控制"): 2,
        ("安全区域边界", "入侵防范"): 4,
        ("安全区域边界", "安全审计"): 2,
        ("安全计算环境", "身份鉴别"): 1,
        ("安全计算环境", "访问控制"): 2,
        ("安全计算环境", "入侵防范"): 3,
        ("安全计算环境", "镜像和快照保护"): 3,
        ("安全计算环境", "数据完整性和保密性"): 4,
        ("安全计算环境", "数据备份恢复"): 4,
        ("安全计算环境", "剩余信息保护"): 2,
        ("安全管理中心", "集中管控"): 4,
        ("安全建设管理", "云服务商选择"): 5,
        ("安全建设管理", "供应链管理"): 3,
        ("安全运维管理", "云计算环境管理"): 1,
    },
    "mobile": {
        ("安全物理环境", "无线接入点的物理位置"): 1,
        ("安全区域边界", "边界防护"): 1,
        ("安全区域边界", "访问控制"): 1,
        ("安全区域边界", "入侵防范"): 6,
        ("安全计算环境", "移动终端管控"): 2,
        ("安全计算环境", "移动应用管控"): 3,
        ("安全建设管理", "移动应用软件采购"): 2,
        ("安全建设管理", "移动应用软件开发"): 2,
        ("安全运维管理", "配置管理"): 1,
    },
    "iot": {
        ("安全物理环境", "感知节点设备物理防护"): 4,
        ("安全区域边界", "接入控制"): 1,
        ("安全区域边界", "入侵防范"): 2,
        ("安全计算环境", "感知节点设备安全"): 3,
        ("安全计算环境", "网关节点设备安全"): 4,
        ("安全计算环境", "抗数据重放"): 2,
        ("安全计算环境", "数据融合处理"): 1,
        ("安全运维管理", "感知节点管理"): 3,
    },
    "ics": {
        ("安全物理环境", "室外控制设备物理防护"): 2,
        ("安全通信网络", "网络架构"): 3,
        ("安全通信网络", "通信传输"): 1,
        ("安全区域边界", "访问控制"): 2,
        ("安全区域边界", "拨号使用控制"): 2,
        ("安全区域边界", "无线使用控制"): 4,
        ("安全计算环境", "控制设备安全"): 5,
        ("安全建设管理", "产品采购和使用"): 1,
        ("安全建设管理", "外包软件开发"): 1,
    },
    "bigdata": {
        ("安全物理环境", "大数据设施位置"): 1,
        ("安全通信网络", "大数据平台网络架构"): 2,
        ("安全计算环境", "大数据组件身份鉴别"): 2,
        ("安全计算环境", "平台资源与组件管控"): 3,
        ("安全计算环境", "大数据数据保护"): 7,
        ("安全计算环境", "数据溯源与审计"): 2,
        ("安全建设管理", "大数据平台选择与数据共享"): 3,
        ("安全运维管理", "数据资产与分类分级管理"): 4,
    },
}
# The section of GB/T 22239-2019 each pack's clauses live under, and the category digit of
# its GB/T 28448-2019 units; big data has neither (project-assigned 0).
SECTION = {"cloud": "8.2", "mobile": "8.3", "iot": "8.4", "ics": "8.5", "bigdata": "0"}
UNIT_DIGIT = {"cloud": "2", "mobile": "3", "iot": "4", "ics": "5", "bigdata": "0"}
PACKS = sorted(EXPECTED)


def pack_file(pack: str) -> CatalogueFile:
    """The packaged pack file, validated by the catalogue schema."""
    name = f"catalogue_l3_{pack}.yaml"
    return datafiles.parse_text(name, datafiles.packaged_text(name), CatalogueFile)


def documented_counts() -> dict[str, tuple[int, int]]:
    """(control points, items) per pack from the table of the docs' 扩展要求包 section."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("\n## 扩展要求包\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z]+)` \|[^|]*\|[^|]*\| (\d+) \| (\d+) \|", section, re.M)
    return {pack: (int(points), int(items)) for pack, points, items in rows}


def test_the_five_packs_are_shipped() -> None:
    assert sorted(available_packs(3)) == PACKS


@pytest.mark.parametrize("pack", PACKS)
def test_pack_loads_with_the_schema_and_the_rules(pack: str) -> None:
    spec = pack_file(pack)
    assert (spec.pack, spec.level) == (pack, 3)
    catalogue = load_catalogue(3, [pack])
    assert catalogue.packs == ("general", pack)
    # the shipped high-risk and pre-fill rules still validate against general + pack
    check_against(load_rules(), catalogue)
    load_prefill(catalogue)


@pytest.mark.parametrize("pack", PACKS)
def test_counts_per_control_point_match_the_standard_and_the_docs(pack: str) -> None:
    spec = pack_file(pack)
    got = {
        (category.name, point.name): len(point.items)
        for category in spec.categories
        for point in category.control_points
    }
    assert got == EXPECTED[pack]
    assert list(got) == list(EXPECTED[pack])  # catalogue order as in the standard
    points, items = len(got), sum(got.values())
    assert documented_counts()[pack] == (points, items)
    catalogue = load_catalogue(3, [pack])
    assert sum(1 for i in catalogue.items.values() if i.pack == pack) == items
    assert len(catalogue.items) == 211 + items


def test_the_docs_table_lists_exactly_the_shipped_packs() -> None:
    assert sorted(documented_counts()) == PACKS


@pytest.mark.parametrize("pack", PACKS)
def test_clauses_and_units_sit_under_the_packs_section(pack: str) -> None:
    spec = pack_file(pack)
    prefix = SECTION[pack]
    for number, category in enumerate(spec.categories, start=1):
        assert category.clause.startswith(prefix + ".")
        if pack != "bigdata":
            # the extension's categories are numbered consecutively inside its section
            assert category.clause == f"{prefix}.{number}"
        for index, point in enumerate(category.control_points, start=1):
            assert point.clause == f"{category.clause}.{index}"
            letters = [item.id[len(point.clause) :] for item in point.items]
            assert letters == [chr(ord("a") + n) for n in range(len(point.items))]
    units: dict[str, list[int]] = {}
    for category in spec.categories:
        for point in category.control_points:
            for item in point.items:
                head, number_text = item.unit.rsplit("-", 1)
                assert head == f"L3-{category.id}{UNIT_DIGIT[pack]}"
                units.setdefault(head, []).append(int(number_text))
    for head, numbers in units.items():
        assert numbers == list(range(1, len(numbers) + 1)), head


def test_ids_and_units_are_unique_across_general_and_all_packs() -> None:
    catalogue = load_catalogue(3, PACKS)
    items = list(catalogue.items.values())
    assert len(items) == 211 + sum(sum(v.values()) for v in EXPECTED.values())
    assert len({i.unit for i in items}) == len(items)
    for item in items:
        expected_prefix = "8.1." if item.pack == "general" else SECTION[item.pack] + "."
        assert item.id.startswith(expected_prefix), item.id


@pytest.mark.parametrize("pack", PACKS)
def test_packs_use_the_general_categories(pack: str) -> None:
    general = {(c.id, c.name, c.kind) for c in load_catalogue(3).categories}
    for category in pack_file(pack).categories:
        assert (category.id, category.name, category.kind) in general


def test_bigdata_says_it_is_annex_h_guidance_not_an_extension() -> None:
    spec = pack_file("bigdata")
    assert "附录 H" in spec.title and "非正式" in spec.title
    header = datafiles.packaged_text("catalogue_l3_bigdata.yaml").split("\nschema:", 1)[0]
    assert "附录 H" in header and "未核实" in header and "没有正式的" in header


def test_formal_pack_headers_name_their_section() -> None:
    for pack in ("cloud", "mobile", "iot", "ics"):
        first = datafiles.packaged_text(f"catalogue_l3_{pack}.yaml").splitlines()[0]
        assert f"GB/T 22239-2019 第 {SECTION[pack]} 节" in first


def test_unknown_pack_lists_the_shipped_ones() -> None:
    from shaobing.core.errors import ShaobingError

    with pytest.raises(ShaobingError) as caught:
        load_catalogue(3, ["quantum"])
    message = str(caught.value)
    assert "quantum" in message and all(p in message for p in PACKS) and "\n" not in message


# ------------------------------------------------------------------ end to end (CLI)

ENGAGEMENT = "政务云测评"


def setup(cli: CliRunner, tmp_path: Path) -> None:
    """A client, an engagement and a ledger with one cloud host."""
    cli.ok("client", "add", "某市政务云", "--code", "zwy")
    cli.ok("engagement", "create", ENGAGEMENT, "--client", "zwy", "--scope", "127.0.0.0/8")
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(
        "资产名称,资产类型,IP地址,主机名,保密性,完整性,可用性\n宿主机01,服务器,127.0.0.21,kvm-01,3,3,3\n",
        encoding="utf-8",
    )
    cli.ok("asset", "import", str(ledger), "--engagement", ENGAGEMENT)


def sheet_rows(cli: CliRunner, tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "记录表.xlsx"
    cli.ok("mlps", "template", str(path), "-e", ENGAGEMENT)
    rows = list(openpyxl.load_workbook(path)["测评记录"].iter_rows(values_only=True))
    header = [str(name) for name in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def test_init_with_the_cloud_pack_records_scores_and_gaps(cli: CliRunner, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    init = json.loads(
        cli.ok("mlps", "init", "-e", ENGAGEMENT, "--level", "3", "--pack", "cloud", "--json").out
    )
    assert init["created"] is True and init["packs"] == ["cloud"]
    types = {o["name"]: o["type"] for o in init["objects"]}
    assert types["宿主机01"] == "host"

    # the record sheet holds one row per applicable object and item, general and cloud alike
    catalogue = load_catalogue(3, ["cloud"])
    rows = sheet_rows(cli, tmp_path)
    expected_rows = sum(len(catalogue.items_for(t)) for t in types.values())
    assert len(rows) == expected_rows
    units = {(r["测评对象"], r["测评单元"]) for r in rows}
    assert ("宿主机01", "L3-CES1-01") in units and ("宿主机01", "L3-CES2-01") in units
    assert ("机房", "L3-PES2-01") in units and ("安全管理中心", "L3-SMC2-02") in units
    cloud_rows = [r for r in rows if r["测评项"].startswith("8.2.")]
    assert cloud_rows and {r["测评对象"] for r in cloud_rows} >= {"宿主机01", "机房"}

    # pack items are recorded like general ones, by clause or by unit id
    evidence = "管理终端到宿主机只做单向口令认证"
    cli.ok(
        "mlps",
        "record",
        "-e",
        ENGAGEMENT,
        "-o",
        "宿主机01",
        "-i",
        "8.2.4.1 a)",
        "-r",
        "不符合",
        "--evidence",
        evidence,
    )
    cli.ok("mlps", "record", "-e", ENGAGEMENT, "-o", "机房", "-i", "L3-PES2-01", "-r", "符合")
    cli.ok("mlps", "record", "-e", ENGAGEMENT, "-o", "宿主机01", "-i", "8.1.4.1a", "-r", "符合")
    refused = cli("mlps", "record", "-e", ENGAGEMENT, "-o", "机房", "-i", "8.2.4.1a", "-r", "符合")
    assert refused.code == 1 and "不适用于" in refused.err and refused.err.count("\n") == 1

    score = cast(dict[str, Any], cli.json("mlps", "score", "-e", ENGAGEMENT))
    assert score["packs"] == ["general", "cloud"]
    compute_env = score["by_category"]["安全计算环境"]
    assert compute_env["counts"]["不符合"] == 1 and compute_env["counts"]["符合"] == 1
    assert compute_env["score"] == 50.0  # 关键 8.2.4.1a 不符合 and 关键 8.1.4.1a 符合
    assert score["by_category"]["安全物理环境"]["counts"]["符合"] == 1
    assert score["assessed"] == 3 and isinstance(score["score"], float)

    gaps = cast(dict[str, Any], cli.json("mlps", "gaps", "-e", ENGAGEMENT, "--work-orders"))
    found = [
        gap
        for category in gaps["categories"]
        for point in category["control_points"]
        for gap in point["gaps"]
        if gap["item"] == "8.2.4.1a"
    ]
    assert len(found) == 1
    assert (found[0]["unit"], found[0]["label"], found[0]["object"]) == (
        "L3-CES2-01",
        "8.2.4.1 a)",
        "宿主机01",
    )
    assert found[0]["evidence"] == evidence and found[0]["weight"] == "关键"
    assert "双向认证" in next(
        p["advice"]
        for c in gaps["categories"]
        for p in c["control_points"]
        if p["clause"] == "8.2.4.1"
    )
    with session_scope(get_engine()) as session:
        order = session.scalars(
            select(Finding).where(
                Finding.source_tool == "shaobing-mlps", Finding.check_id == "mlps.8.2.4.1a"
            )
        ).one()
        assert "GB/T 28448-2019 L3-CES2-01" in order.references
        assert order.work_order_id is not None


def test_a_pack_added_on_resync_extends_the_sheet(cli: CliRunner, tmp_path: Path) -> None:
    setup(cli, tmp_path)
    cli.ok("mlps", "init", "-e", ENGAGEMENT)
    before = {r["测评项"] for r in sheet_rows(cli, tmp_path)}
    assert not any(label.startswith(("8.2.", "0.")) for label in before)
    again = json.loads(cli.ok("mlps", "init", "-e", ENGAGEMENT, "--pack", "bigdata", "--json").out)
    assert again["created"] is False and again["packs"] == ["bigdata"]
    after = {r["测评项"] for r in sheet_rows(cli, tmp_path)}
    assert before < after and {"0.1.1 a)", "0.4.1 a)", "0.10.1 d)"} <= after


# ------------------------------------------------------ packs merge into the general categories


def test_pack_categories_merge_with_the_general_ones_in_score_and_gaps() -> None:
    catalogue = load_catalogue(3, ["cloud"])
    config = load_scoring()
    objects = [ObjectView(1, "机房", "physical_room"), ObjectView(2, "文档", "management_document")]
    records = [
        RecordView(1, "机房", "physical_room", "8.1.1.2a", "不符合"),  # 关键, general
        RecordView(1, "机房", "physical_room", "8.2.1.1a", "符合"),  # 关键, cloud
        RecordView(2, "文档", "management_document", "8.1.6.1a", "符合"),  # 重要, general
    ]
    doc = compute(catalogue, config, objects, records)
    # 安全物理环境: deduction 1 of weight 2 → 50; 安全管理制度: 100; mean over the two → 75
    assert doc["score"] == 75.0
    clauses = {p["clause"] for p in doc["by_category"]["安全物理环境"]["control_points"].values()}
    assert {"8.1.1.2", "8.2.1.1"} <= clauses
    names = [c["name"] for c in analyse(catalogue, records)["categories"]]
    assert len(names) == len(set(names))
