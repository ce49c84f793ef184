"""The Level 3 catalogue, the high-risk rules and the pre-fill rules load and validate."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.assess.mlps import datafiles
from shaobing.assess.mlps.catalogue import CatalogueFile, load_catalogue, normalise_item_ref
from shaobing.assess.mlps.highrisk import check_against, load_rules
from shaobing.assess.mlps.prefill import load_prefill
from shaobing.assess.mlps.scoring import ScoringConfig
from shaobing.core.errors import ShaobingError

# GB/T 22239-2019 §8.1: control points and requirement items per category of the general
# requirements at Level 3 (10 categories, 71 control points, 211 items; see docs/mlps.md).
EXPECTED = {
    "安全物理环境": (10, 22),
    "安全通信网络": (3, 8),
    "安全区域边界": (6, 20),
    "安全计算环境": (11, 34),
    "安全管理中心": (4, 12),
    "安全管理制度": (4, 7),
    "安全管理机构": (5, 14),
    "安全管理人员": (4, 12),
    "安全建设管理": (10, 34),
    "安全运维管理": (14, 48),
}


def test_counts_per_category_match_the_standard() -> None:
    catalogue = load_catalogue(3)
    counts = {k: (v["control_points"], v["items"]) for k, v in catalogue.counts().items()}
    assert counts == EXPECTED
    assert len(catalogue.items) == 211
    assert len(catalogue.control_points) == 71
    assert [c.clause for c in catalogue.categories] == [f"8.1.{n}" for n in range(1, 11)]


def test_technical_unit_ids_follow_the_28448_numbering() -> None:
    catalogue = load_catalogue(3)
    by_prefix: dict[str, list[int]] = {}
    for item in catalogue.items.values():
        prefix, number = item.unit.rsplit("-", 1)
        by_prefix.setdefault(prefix, []).append(int(number))
    # 安全计算环境 has no unit 16 (the published table skips it), so it runs to 35.
    assert by_prefix["L3-CES1"] == [*range(1, 16), *range(17, 36)]
    for prefix, count in [("L3-PES1", 22), ("L3-CNS1", 8), ("L3-ABS1", 20), ("L3-SMC1", 12)]:
        assert by_prefix[prefix] == list(range(1, count + 1)), prefix
    for prefix, count in [
        ("L3-PSS1", 7),
        ("L3-ORS1", 14),
        ("L3-HRS1", 12),
        ("L3-CMS1", 34),
        ("L3-MMS1", 48),
    ]:
        assert by_prefix[prefix] == list(range(1, count + 1)), prefix


def test_items_resolve_by_clause_label_or_unit() -> None:
    catalogue = load_catalogue(3)
    assert catalogue.item("8.1.4.1 a)").id == "8.1.4.1a"
    assert catalogue.item("8.1.4.1（A）").id == "8.1.4.1a"
    assert catalogue.item("l3-ces1-35").id == "8.1.4.11b"
    assert catalogue.item("8.1.10.14d").label == "8.1.10.14 d)"
    assert normalise_item_ref(" 8.1.2.1-e ") == "8.1.2.1e"
    with pytest.raises(ShaobingError, match=r"9\.9\.9z"):
        catalogue.item("9.9.9z")


def test_every_item_has_its_own_paraphrase_and_objects() -> None:
    catalogue = load_catalogue(3)
    texts = [item.text for item in catalogue.items.values()]
    assert len(set(texts)) == len(texts)
    assert all(item.objects for item in catalogue.items.values())
    # management categories are assessed on documents and records only
    for item in catalogue.items.values():
        if item.kind == "management":
            assert item.objects == ("management_document",), item.id


def test_rules_and_prefill_refer_to_existing_items() -> None:
    catalogue = load_catalogue(3)
    rules = load_rules()
    check_against(rules, catalogue)
    load_prefill(catalogue)
    # organisation-defined weights: exactly the items a high-risk rule concerns are 关键
    key = {i.id for i in catalogue.items.values() if i.weight == "关键"}
    assert key == {item for rule in rules.rules for item in rule.items}


def test_unsupported_level_and_pack_are_one_line_errors() -> None:
    with pytest.raises(ShaobingError, match="第 2 级"):
        load_catalogue(2)
    with pytest.raises(ShaobingError, match="quantum"):
        load_catalogue(3, ["quantum"])


CATALOGUE_TEXT = datafiles.packaged_text("catalogue_l3.yaml")


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("{id: 8.1.1.1b, unit: L3-PES1-02", "{id: 8.1.2.1b, unit: L3-PES1-02", "does not belong"),
        ("{id: 8.1.1.1b, unit: L3-PES1-02", "{id: 8.1.1.1a, unit: L3-PES1-02", "duplicate item"),
        ("unit: L3-PES1-02,", "unit: L3-PES1-01,", "duplicate unit"),
        ("objects: [physical_room]", "objects: [spaceship]", "objects"),
        ("weight: 重要, text: 机房不设在", "weight: 非常, text: 机房不设在", "weight"),
        ("schema: 1", "schema: 1\nextra: true", "extra"),
    ],
)
def test_schema_rejects_broken_catalogues(old: str, new: str, fragment: str) -> None:
    broken = CATALOGUE_TEXT.replace(old, new, 1)
    assert broken != CATALOGUE_TEXT
    with pytest.raises(ShaobingError) as caught:
        datafiles.parse_text("broken.yaml", broken, CatalogueFile)
    message = str(caught.value)
    assert "broken.yaml" in message and fragment in message and "\n" not in message


def test_hostile_yaml_is_refused_in_one_line() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b]\n"
    for text in (
        laughs,
        "schema: [unclosed",
        "x" * (datafiles.MAX_BYTES + 1),
        "!!python/object:os.system {}",
    ):
        with pytest.raises(ShaobingError) as caught:
            datafiles.parse_text("evil.yaml", text, ScoringConfig)
        assert "\n" not in str(caught.value)


def test_organisation_copy_replaces_the_packaged_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from shaobing.core.settings import reset_settings

    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path))
    reset_settings()
    try:
        target = tmp_path / "mlps" / "catalogue_l3.yaml"
        target.parent.mkdir()
        target.write_text(
            CATALOGUE_TEXT.replace("title: 第三级安全通用要求", "title: 本单位版"), "utf-8"
        )
        assert load_catalogue(3).categories[0].name == "安全物理环境"
        target.write_text("schema: 2\n", "utf-8")
        with pytest.raises(ShaobingError, match=re.escape(str(target))):
            load_catalogue(3)
    finally:
        reset_settings()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_fuzzed_data_files_give_a_model_or_a_one_line_error(text: str) -> None:
    try:
        datafiles.parse_text("fuzz.yaml", text, CatalogueFile)
    except ShaobingError as exc:
        message = str(exc)
    else:
        return
    assert "\n" not in message
