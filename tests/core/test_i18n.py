"""Message catalogues: every key the code uses exists, and translations stay in step."""

from __future__ import annotations

import re
from pathlib import Path

from shaobing.core.i18n import catalogue, t

SRC = Path(__file__).resolve().parents[2] / "src" / "shaobing"
# Only complete literal keys: t("a.b", ...) or t("a.b"); prefixes built at run time are skipped.
KEY_RE = re.compile(r"""\bt\(\s*["']([a-z0-9_.-]+)["']\s*[,)]""")


def _keys_used_in_code() -> set[str]:
    keys: set[str] = set()
    for path in SRC.rglob("*.py"):
        keys.update(KEY_RE.findall(path.read_text(encoding="utf-8")))
    return keys


def test_every_literal_key_exists_in_chinese() -> None:
    zh = catalogue("zh-CN")
    missing = sorted(k for k in _keys_used_in_code() if k not in zh)
    assert missing == []


def test_english_keys_are_a_subset_of_chinese() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert en, "English catalogue is empty"
    assert sorted(set(en) - set(zh)) == []


def test_parameters_agree_between_languages() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    field = re.compile(r"{(\w+)")
    for key in set(zh) & set(en):
        assert set(field.findall(zh[key])) == set(field.findall(en[key])), key


def test_translation_fills_parameters_and_falls_back() -> None:
    assert "某客户" in t("engagements.client_not_found", ref="某客户")
    assert t("no.such.key") == "no.such.key"


def test_user_guide_lists_every_ledger_column() -> None:
    from shaobing.assets.ledger_io import ledger_spec

    guide = (SRC.parents[1] / "docs" / "user-guide.zh-CN.md").read_text(encoding="utf-8")
    for column in ledger_spec().columns:
        assert f"| {column.header} |" in guide, column.header
