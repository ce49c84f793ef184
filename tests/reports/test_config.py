"""Report types, branding (numbering, footer, logo), template overrides and periods."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shaobing.core.errors import NotFoundError, ValidationError
from shaobing.core.settings import reset_settings
from shaobing.reports import config
from shaobing.reports.period import parse_period


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path))
    reset_settings()
    yield tmp_path
    reset_settings()


def test_every_type_has_a_template_and_deliverable() -> None:
    from shaobing.engagements.catalog import catalog

    deliverables = set(catalog().deliverables)
    for name, kind in config.report_types().types.items():
        source, origin = config.template_source(name)
        assert source.strip() and origin.endswith(f"{name}.md.j2")
        assert kind.deliverable in deliverables, name


def test_unknown_type_lists_known() -> None:
    with pytest.raises(NotFoundError, match="vuln_scan"):
        config.report_type("nope")


def test_packaged_branding_loads(home: Path) -> None:
    branding = config.load_branding()
    assert branding.confidentiality == "内部资料 注意保密"
    assert "{seq" in branding.numbering


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("numbering: '{vendor}-{nope}-{seq}'", "numbering"),
        ("numbering: '{vendor}-{code}'", "numbering"),
        ("numbering: '{seq'", "numbering"),
        ("footer: '{secret}'", "footer"),
        ("logo: missing.png", "missing.png"),
        ("vendor: [1, 2]", "vendor"),
        ("a: &x [1]\nb: *x", "YAML"),
    ],
)
def test_bad_branding_is_one_line(home: Path, body: str, fragment: str) -> None:
    base = {
        "vendor": "v",
        "vendor_short": "V",
        "confidentiality": "内部",
        "numbering": "{vendor}-{seq}",
    }
    lines = [f"{k}: '{v}'" for k, v in base.items() if not body.startswith(k)]
    (home / "reports").mkdir()
    (home / "reports" / "branding.yaml").write_text("\n".join([*lines, body]), encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        config.load_branding()
    assert "\n" not in str(info.value) and fragment in str(info.value)


def test_branding_override_with_logo(home: Path) -> None:
    (home / "reports").mkdir()
    (home / "reports" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (home / "reports" / "branding.yaml").write_text(
        "vendor: 某某信息安全有限公司\nvendor_short: MM\nconfidentiality: 秘密\n"
        "numbering: 'MM-{code}-{year}-{seq:04d}'\nlogo: logo.png\n",
        encoding="utf-8",
    )
    branding = config.load_branding()
    assert branding.vendor == "某某信息安全有限公司"
    assert branding.logo == home / "reports" / "logo.png"


def test_template_override_wins(home: Path) -> None:
    folder = home / "reports" / "templates"
    folder.mkdir(parents=True)
    (folder / "vuln_scan.md.j2").write_text("# 自定义\n", encoding="utf-8")
    source, origin = config.template_source("vuln_scan")
    assert source == "# 自定义\n" and origin == str(folder / "vuln_scan.md.j2")


@pytest.mark.parametrize(
    ("text", "key", "start", "end", "label"),
    [
        ("2026-10", "2026-10", date(2026, 10, 1), date(2026, 10, 31), "2026年10月"),
        ("2024-02", "2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024年2月"),
        ("2026-Q3", "2026-Q3", date(2026, 7, 1), date(2026, 9, 30), "2026年第3季度"),
        ("2026-h1", "2026-H1", date(2026, 1, 1), date(2026, 6, 30), "2026年上半年"),
        ("2026", "2026", date(2026, 1, 1), date(2026, 12, 31), "2026年度"),
    ],
)
def test_periods(text: str, key: str, start: date, end: date, label: str) -> None:
    period = parse_period(text)
    assert (period.key, period.start, period.end, period.label) == (key, start, end, label)
    assert period.contains(start) and period.contains(end)


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "26-10", "2026-Q5", "2026/10", "", "2026-10-01"]
)
def test_bad_periods(text: str) -> None:
    with pytest.raises(ValidationError, match="期间"):
        parse_period(text)
