"""The finding texts are data: validated on load, complete, and matched by the checks."""

from __future__ import annotations

import re
import string

import pytest
from cvss import CVSS3

from shaobing.core.errors import ValidationError
from shaobing.findings.severity import severity_from_score
from shaobing.scan.checks import Safety, ServiceTarget, load_checks
from shaobing.scan.credentials.registry import load_authenticators
from shaobing.scan.plugins import unauthorised_access as ua

CHECK_IDS = {
    "unauth.redis",
    "unauth.mongodb",
    "unauth.memcached",
    "unauth.elasticsearch",
    "unauth.zookeeper",
    "unauth.docker",
    "unauth.kubernetes",
    "unauth.kubelet",
    "unauth.rsync",
    "unauth.couchdb",
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_finding_is_chinese_and_scored_consistently() -> None:
    findings = ua.load_findings()
    assert len(findings) == 16  # 12 unauthorised-access kinds, 4 UDP exposure markers
    for key, text in findings.items():
        for field in (text.title, text.description, text.remediation):
            assert CJK.search(field), (key, field)
        assert severity_from_score(float(CVSS3(text.cvss).scores()[0])) is text.severity, key
        assert text.cwe, key
        for template in text.evidence.values():
            assert CJK.search(template), key
            list(string.Formatter().parse(template))


def test_checks_are_registered_and_passive() -> None:
    checks = {cid: cls for cid, cls in load_checks().items() if cid.startswith("unauth.")}
    assert set(checks) == CHECK_IDS
    assert {cls.safety for cls in checks.values()} == {Safety.PASSIVE}


def test_severity_that_contradicts_the_vector_is_refused() -> None:
    text = """
findings:
  x:
    title: "标题"
    severity: low
    cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    description: "说明"
    remediation: "建议"
    evidence: {a: "证据"}
"""
    with pytest.raises(ValidationError) as caught:
        ua.parse_findings(text)
    assert "x" in str(caught.value) and "9.8" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "findings: [",
        "findings: {x: {title: a}}",
        "other: 1",
        "findings: {x: {title: a, severity: high, cvss: 'CVSS:3.0/AV:N', description: b, "
        "remediation: c, evidence: {a: d}}}",
    ],
)
def test_malformed_data_gives_one_line_error(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ua.parse_findings(text, source="custom.yaml")
    assert "custom.yaml" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_applies_by_name_or_by_port_for_generic_http() -> None:
    es = ua.ElasticsearchUnauthCheck()
    assert es.applies(ServiceTarget("127.0.0.1", 19200, service="elasticsearch"))
    assert es.applies(ServiceTarget("127.0.0.1", 9200, service="http"))
    assert es.applies(ServiceTarget("127.0.0.1", 9200))
    assert not es.applies(ServiceTarget("127.0.0.1", 80, service="http"))
    assert not es.applies(ServiceTarget("127.0.0.1", 9200, service="ssh"))
    redis = ua.RedisUnauthCheck()
    assert not redis.applies(ServiceTarget("127.0.0.1", 6379, service="http"))


def test_evidence_helpers_truncate_and_strip_control_characters() -> None:
    assert ua.short("a\x1b[31mb\nc", 80) == "a [31mb c"
    assert len(ua.short("x" * 500)) == 80
    names = ua.name_list([f"db{i}" for i in range(9)])
    assert "db4" in names and "db5" not in names and "9" in names


def test_adapters_are_registered_under_identification_names() -> None:
    adapters = load_authenticators()
    for name in ("mysql", "postgresql", "redis", "memcached", "mongodb"):
        assert adapters[name].protocol == name
    assert adapters["redis"].needs_username is False
