"""Method parameters, catalogues and override files: schema checks, merging, safe parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.assess.risk.config import (
    MAX_BYTES,
    default_method,
    method_config,
    parse_override,
    read_override_file,
    threat_catalogue,
    vuln_classes,
)
from shaobing.assess.risk.inputs import classify
from shaobing.core.errors import ValidationError


def test_shipped_data_loads_and_is_consistent() -> None:
    config = default_method()
    assert config.levels == {5: "很高", 4: "高", 3: "中等", 2: "低", 1: "很低"}
    classes = {c.id for c in vuln_classes().classes}
    threats = threat_catalogue()
    assert len({t.id for t in threats}) == len(threats)
    # every class can be exploited by at least one shipped threat, so nothing is dropped
    exploited = {e for t in threats for e in t.exploits}
    assert classes <= exploited
    for threat in threats:
        assert threat.source and threat.actor and threat.kind and threat.motive and threat.timing


def test_override_merges_and_string_level_keys_mean_levels() -> None:
    config = method_config({"acceptable_max_level": 3, "multiply": {"bands": {"1": 5, "2": 10}}})
    assert config.acceptable_max_level == 3
    assert config.multiply.bands == {1: 5, 2: 10, 3: 18, 4: 23, 5: 25}
    assert config.matrix == default_method().matrix  # untouched parts stay


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("matrix:\n  risk:\n    bands: {1: 6, 2: 5}\n", "matrix.risk.bands"),
        ("matrix:\n  loss:\n    values: [[1, 2], [3, 4]]\n", "5×5"),
        (
            "matrix:\n  likelihood:\n    values:\n"
            + "".join(f"      - [{r}, {r}, {r}, {r}, {r}]\n" for r in (5, 4, 3, 2, 1)),
            "变小",
        ),
        ("acceptable_max_level: 9\n", "不能大于 5"),
        ("default_method: fancy\n", "default_method"),
        ("no_such_key: 1\n", "不认识的字段"),
        ("severity_map: {critical: 1, high: 2, medium: 3, low: 4, info: 5}\n", "严重级别"),
        ("- a\n- b\n", "YAML 映射"),
        ("a: [\n", "第 2 行"),
    ],
)
def test_bad_overrides_fail_with_one_chinese_line(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_override(text, "org.yaml")
    message = caught.value.message
    assert "\n" not in message and "org.yaml" in message and fragment in message


def test_override_file_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="过大"):
        read_override_file(path)
    with pytest.raises(ValidationError, match="无法读取"):
        read_override_file(tmp_path / "missing.yaml")


def test_unsafe_yaml_tags_are_refused() -> None:
    with pytest.raises(ValidationError):
        parse_override("a: !!python/object/apply:os.system ['true']\n", "evil.yaml")


def _outcome(text: str) -> dict[str, object] | str:
    """The parsed override, or the one-line message it was refused with."""
    try:
        return parse_override(text, "fuzz.yaml")
    except ValidationError as exc:
        return exc.message


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_accepted_or_refused_cleanly(text: str) -> None:
    outcome = _outcome(text)
    assert isinstance(outcome, dict) or (outcome and "\n" not in outcome)


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 30)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=120, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["matrix", "multiply", "levels", "measures", "bearing_matrix", "treatments", "x"]
        ),
        VALUES,
        max_size=3,
    )
)
def test_structured_garbage_is_refused_cleanly(data: dict[str, object]) -> None:
    outcome = _outcome(yaml.safe_dump(data, allow_unicode=True))
    assert isinstance(outcome, dict) or (outcome and "\n" not in outcome)


@pytest.mark.parametrize(
    ("finding", "expected"),
    [
        ({"source_tool": "nuclei", "check_id": "ssh-weak", "title": "SSH 弱口令"}, "weak_auth"),
        (
            {"source_tool": "zap", "check_id": "40018", "title": "SQL Injection", "cwe": [89]},
            "injection",
        ),
        (
            {"source_tool": "nuclei", "check_id": "x", "title": "旧版本组件", "cve": True},
            "unpatched",
        ),
        ({"source_tool": "nmap", "check_id": "tls-weak", "title": "支持弱 TLS 加密套件"}, "crypto"),
        (
            {
                "source_tool": "baseline",
                "check_id": "linux.ssh.permit_root",
                "title": "允许 root 登录",
            },
            "config",
        ),
        (
            {"source_tool": "zap", "check_id": "10020", "title": "缺少防点击劫持头", "url": True},
            "web",
        ),
        ({"source_tool": "nmap", "check_id": "odd", "title": "某服务"}, "tech.other"),
    ],
)
def test_findings_are_classified_in_file_order(finding: dict[str, object], expected: str) -> None:
    vclass, reason = classify(
        vuln_classes(),
        source_tool=str(finding["source_tool"]),
        check_id=str(finding["check_id"]),
        title=str(finding["title"]),
        cwe=list(finding.get("cwe", [])),  # type: ignore[call-overload]
        cve=bool(finding.get("cve")),
        url=bool(finding.get("url")),
    )
    assert vclass == expected
    assert reason
