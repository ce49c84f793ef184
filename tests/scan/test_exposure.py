"""Risky service exposure (B4): rule data, loader errors, match and zone semantics, the check."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator, Mapping
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from cvss import CVSS3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.core.settings import reset_settings
from shaobing.findings.severity import Severity
from shaobing.scan.checks import Safety, ServiceTarget, TargetKind, load_checks
from shaobing.scan.exposure import (
    MAX_FILE_BYTES,
    ExposureRules,
    apply_override,
    builtin_rules,
    evaluate_exposure,
    load_exposure_rules,
    parse_rules,
    resolve_zone,
)

DATA = resources.files("shaobing.scan").joinpath("data", "exposure.yaml")
RAW: dict[str, Any] = yaml.safe_load(DATA.read_text(encoding="utf-8"))
ZONES = ["internet", "dmz", "office", "intranet", "management"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _band(score: float) -> Severity:
    """The CVSS v3.1 qualitative scale written out here, independent of the code under test."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score >= 0.1:
        return Severity.LOW
    return Severity.INFO


def _ids(observations: list[Any]) -> list[str]:
    return sorted(o.identity for o in observations)


def _eval(given_zone: str | None, **fields: Any) -> list[Any]:
    fields.setdefault("address", "192.0.2.10")
    return evaluate_exposure(ServiceTarget(**fields), given_zone, builtin_rules())


# --- the packaged rule data ----------------------------------------------------------------


def test_packaged_rules_load_and_are_complete() -> None:
    rules = builtin_rules()
    assert list(rules.zones) == ZONES
    assert rules.default_zone == "intranet"
    assert len(rules.rules) >= 40
    ids = [rule.id for rule in rules.rules]
    assert len(ids) == len(set(ids))
    for rule in rules.rules:
        assert CJK.search(rule.title), rule.id
        assert CJK.search(rule.description), rule.id
        assert CJK.search(rule.remediation), rule.id
        assert rule.cwe, rule.id
        assert rule.verdicts, rule.id


def _vectors_by_zone(rule: Mapping[str, Any]) -> Iterator[tuple[str, Severity, str | None]]:
    for zone, written in rule["zones"].items():
        if written is None:
            continue
        level = {"severity": written} if isinstance(written, str) else written
        severity = Severity(level["severity"])
        vector = level.get("cvss")
        if vector is None and severity is not Severity.INFO:
            vector = rule["cvss"]
        yield zone, severity, vector


@pytest.mark.parametrize("rule", RAW["rules"], ids=[r["id"] for r in RAW["rules"]])
def test_every_vector_scores_inside_its_severity_band(rule: Mapping[str, Any]) -> None:
    seen = 0
    for zone, severity, vector in _vectors_by_zone(rule):
        if severity is Severity.INFO:
            assert vector is None, (rule["id"], zone)
            continue
        assert vector is not None and vector.startswith("CVSS:3.1/"), (rule["id"], zone)
        parsed = CVSS3(vector)
        assert parsed.clean_vector() == vector  # canonical order, base metrics only
        score = parsed.scores()[0]
        assert _band(score) is severity, (rule["id"], zone, vector, score)
        seen += 1
    assert seen >= 1, rule["id"]


def test_references_cite_only_known_clauses() -> None:
    allowed = {
        "GB/T 22239-2019 8.1.2.2 通信传输",
        "GB/T 22239-2019 8.1.3.2 访问控制",
        "GB/T 22239-2019 8.1.4.1 身份鉴别",
        "GB/T 22239-2019 8.1.4.4 入侵防范",
    }
    cited = {ref for rule in builtin_rules().rules for ref in rule.references}
    assert cited <= allowed
    assert "GB/T 22239-2019 8.1.4.4 入侵防范" in cited


# Services the requirement names, seen in the internet zone: (fields, expected rule, level).
REQUIRED: list[tuple[dict[str, Any], str, Severity]] = [
    ({"port": 3306}, "db.mysql", Severity.HIGH),
    ({"port": 1433}, "db.mssql", Severity.HIGH),
    ({"port": 1521}, "db.oracle", Severity.HIGH),
    ({"port": 5432}, "db.postgresql", Severity.HIGH),
    ({"port": 5236}, "db.dm", Severity.HIGH),
    ({"port": 54321}, "db.kingbase", Severity.HIGH),
    ({"port": 27017}, "db.mongodb", Severity.CRITICAL),
    ({"port": 6379}, "db.redis", Severity.CRITICAL),
    ({"port": 11211}, "cache.memcached", Severity.HIGH),
    ({"port": 11211, "protocol": "udp"}, "cache.memcached-udp", Severity.HIGH),
    ({"port": 9200}, "search.elasticsearch", Severity.CRITICAL),
    ({"port": 9300}, "search.elasticsearch-transport", Severity.HIGH),
    ({"port": 9042}, "db.cassandra", Severity.HIGH),
    ({"port": 5984}, "db.couchdb", Severity.HIGH),
    ({"port": 8086}, "db.influxdb", Severity.HIGH),
    ({"port": 8123}, "db.clickhouse", Severity.HIGH),
    ({"port": 22}, "admin.ssh", Severity.MEDIUM),
    ({"port": 23}, "admin.telnet", Severity.HIGH),
    ({"port": 3389}, "admin.rdp", Severity.HIGH),
    ({"port": 5901}, "admin.vnc", Severity.HIGH),
    ({"port": 6000}, "admin.x11", Severity.HIGH),
    ({"port": 513}, "admin.r-services", Severity.CRITICAL),
    ({"port": 5985}, "admin.winrm", Severity.HIGH),
    ({"port": 623, "protocol": "udp"}, "admin.ipmi", Severity.CRITICAL),
    ({"port": 21}, "file.ftp", Severity.MEDIUM),
    ({"port": 69, "protocol": "udp"}, "file.tftp", Severity.HIGH),
    ({"port": 445}, "file.smb", Severity.HIGH),
    ({"port": 139}, "file.smb", Severity.HIGH),
    ({"port": 2049}, "file.nfs", Severity.CRITICAL),
    ({"port": 111}, "file.rpcbind", Severity.MEDIUM),
    ({"port": 873}, "file.rsync", Severity.HIGH),
    ({"port": 2375}, "mw.docker-api", Severity.CRITICAL),
    (
        {"port": 8080, "service": "http", "product": "Kubernetes API"},
        "mw.k8s-api-insecure",
        Severity.CRITICAL,
    ),
    ({"port": 6443, "tls": True, "service": "kubernetes"}, "mw.k8s-api", Severity.HIGH),
    ({"port": 10250}, "mw.kubelet", Severity.CRITICAL),
    ({"port": 2379}, "mw.etcd", Severity.CRITICAL),
    ({"port": 2181}, "mw.zookeeper", Severity.HIGH),
    ({"port": 9092}, "mw.kafka", Severity.HIGH),
    ({"port": 15672, "service": "http"}, "mw.rabbitmq-management", Severity.HIGH),
    ({"port": 8161, "service": "http", "product": "Jetty"}, "mw.activemq-console", Severity.HIGH),
    ({"port": 61616}, "mw.activemq-openwire", Severity.HIGH),
    ({"port": 7001}, "mw.weblogic", Severity.HIGH),
    ({"port": 1099}, "mw.java-rmi", Severity.HIGH),
    ({"port": 8080, "service": "http", "product": "Apache Tomcat"}, "mw.tomcat", Severity.MEDIUM),
    ({"port": 8080, "service": "http", "product": "Jenkins"}, "mw.jenkins", Severity.HIGH),
    ({"port": 8848}, "mw.nacos", Severity.CRITICAL),
    ({"port": 8088}, "mw.hadoop-yarn", Severity.CRITICAL),
    ({"port": 7077}, "mw.spark-master", Severity.CRITICAL),
    (
        {"port": 8080, "service": "http", "product": "Spark Master web UI"},
        "mw.spark-webui",
        Severity.MEDIUM,
    ),
    ({"port": 161, "protocol": "udp"}, "net.snmp", Severity.HIGH),
    ({"port": 389}, "net.ldap", Severity.HIGH),
    ({"port": 123, "protocol": "udp"}, "net.ntp", Severity.LOW),
    ({"port": 502}, "ics.modbus", Severity.CRITICAL),
    ({"port": 102}, "ics.s7", Severity.CRITICAL),
    ({"port": 47808, "protocol": "udp"}, "ics.bacnet", Severity.CRITICAL),
    ({"port": 20000}, "ics.dnp3", Severity.CRITICAL),
]


@pytest.mark.parametrize(("fields", "rule_id", "level"), REQUIRED, ids=[r[1] for r in REQUIRED])
def test_required_exposures_are_findings_in_the_internet_zone(
    fields: dict[str, Any], rule_id: str, level: Severity
) -> None:
    found = {o.identity: o for o in _eval("internet", **fields)}
    assert rule_id in found
    observation = found[rule_id]
    assert observation.severity is level
    assert observation.check_id == "exposure.service"
    assert observation.port == fields["port"]
    assert observation.protocol == fields.get("protocol", "tcp")
    assert observation.cvss_v3_vector is not None
    assert _band(CVSS3(observation.cvss_v3_vector).scores()[0]) is level


@pytest.mark.parametrize(
    ("service", "port"),
    [("mysql", 3306), ("postgresql", 5432), ("dm", 5236), ("kingbase", 54321), ("redis", 6379)],
)
def test_databases_are_graded_down_towards_trusted_zones(service: str, port: int) -> None:
    ranks = []
    for zone in ZONES:
        found = _eval(zone, port=port, service=service)
        ranks.append(max((o.severity.rank for o in found), default=-1))
    internet, dmz, office, intranet, management = ranks
    assert internet >= Severity.HIGH.rank
    assert internet >= dmz >= office > intranet
    assert intranet == -1 and management == -1


def test_telnet_and_r_services_are_findings_in_every_zone() -> None:
    for zone in ZONES:
        assert _ids(_eval(zone, port=23, service="telnet")) == ["admin.telnet"], zone
        assert _ids(_eval(zone, port=514, service="shell")) == ["admin.r-services"], zone
    assert _eval("management", port=23, service="telnet")[0].severity is Severity.MEDIUM


def test_ssh_is_only_a_finding_towards_the_internet() -> None:
    assert _eval("internet", port=22, service="ssh")[0].severity is Severity.MEDIUM
    dmz = _eval("dmz", port=22, service="ssh")
    assert [o.severity for o in dmz] == [Severity.INFO]
    assert dmz[0].cvss_v3_vector is None
    assert _eval("office", port=22, service="ssh") == []
    assert _eval("intranet", port=22, service="ssh") == []


def test_industrial_protocols_are_critical_from_the_internet_only() -> None:
    assert _eval("internet", port=502, service="modbus")[0].severity is Severity.CRITICAL
    assert _eval("intranet", port=502, service="modbus") == []


# --- match semantics -----------------------------------------------------------------------


def test_service_name_wins_over_port() -> None:
    # MySQL on a non-standard port is still MySQL; something else on 3306 is not.
    assert _ids(_eval("internet", port=3307, service="mysql")) == ["db.mysql"]
    assert _eval("internet", port=3306, service="http", product="nginx") == []


@pytest.mark.parametrize("name", [None, "unknown", "tcpwrapped", "tls", "ssl", " UNKNOWN "])
def test_port_is_the_fallback_when_the_service_is_unidentified(name: str | None) -> None:
    assert _ids(_eval("internet", port=3306, service=name)) == ["db.mysql"]


def test_nmap_tls_prefix_is_stripped() -> None:
    assert _ids(_eval("internet", port=16000, service="ssl/redis")) == ["db.redis"]
    assert _ids(_eval("internet", port=16000, service="Redis")) == ["db.redis"]


def test_protocol_must_agree() -> None:
    assert _ids(_eval("internet", port=11211, service="memcached")) == ["cache.memcached"]
    udp = _eval("internet", port=11211, service="memcached", protocol="udp")
    assert _ids(udp) == ["cache.memcached-udp"]
    assert _eval("internet", port=161, service="snmp", protocol="tcp") == []
    assert _eval("internet", port=161, protocol="tcp") == []
    assert _ids(_eval("internet", port=161, protocol="UDP")) == ["net.snmp"]


def test_product_regex_identifies_regardless_of_name_and_ignores_case() -> None:
    assert _ids(_eval("internet", port=9999, service="http", product="JENKINS")) == ["mw.jenkins"]
    assert _ids(_eval("internet", port=80, service="http", product="Apache Tomcat")) == [
        "mw.tomcat"
    ]
    assert _eval("internet", port=8080, service="http", product="nginx") == []
    assert _eval("internet", port=8080, service="http") == []


def test_web_ports_apply_to_http_only() -> None:
    assert _ids(_eval("internet", port=8161, service="http")) == ["mw.activemq-console"]
    assert _ids(_eval("internet", port=8161, service="https", tls=True)) == ["mw.activemq-console"]
    assert _eval("internet", port=8161, service=None) == []
    assert _eval("internet", port=8161, service="smtp") == []


def test_tls_condition() -> None:
    assert _ids(_eval("internet", port=2375, service="docker")) == ["mw.docker-api"]
    assert _eval("internet", port=2376, service="docker", tls=True) == []


def test_ranges_of_ports() -> None:
    for port in (5900, 5905, 5910):
        assert _ids(_eval("internet", port=port)) == ["admin.vnc"], port
    assert _eval("internet", port=5911) == []


def test_observation_carries_rule_texts_and_chinese_evidence() -> None:
    (found,) = _eval(
        "互联网区",
        address="2001:db8::5",
        port=6379,
        service="redis",
        product="Redis",
        version="7.2",
    )
    rule = builtin_rules().get("db.redis")
    assert rule is not None
    assert found.title == rule.title
    assert found.description == rule.description
    assert found.remediation == rule.remediation
    assert found.cwe_ids == list(rule.cwe)
    assert found.references == list(rule.references)
    assert found.address == "2001:db8::5"
    assert found.extra == {"zone": "internet", "rule": "db.redis"}
    assert found.evidence is not None
    for part in ("[2001:db8::5]:6379/tcp", "服务 redis", "Redis 7.2", "互联网区"):
        assert part in found.evidence


# --- zones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("internet", "internet"),
        ("互联网区", "internet"),
        (" 公 网 ", "internet"),
        ("DMZ区", "dmz"),
        ("dmz", "dmz"),
        ("电子政务外网", "dmz"),
        ("办公区", "office"),
        ("核心业务区", "intranet"),
        ("内网/核心业务区", "intranet"),
        ("安全管理区", "management"),
        ("MGMT", "management"),
        ("机房A", None),
        ("", None),
        (None, None),
    ],
)
def test_zone_vocabulary(text: str | None, zone: str | None) -> None:
    assert builtin_rules().zone_id(text) == zone


def test_unknown_zone_falls_back_to_the_default_and_says_so() -> None:
    found = _eval(None, port=6379, service="redis", zone="机房A")
    assert found == []  # default zone is intranet: Redis there is not a finding
    (telnet,) = _eval(None, port=23, service="telnet", zone="机房A")
    assert telnet.extra["zone"] == "intranet"
    assert telnet.evidence is not None and "机房A" in telnet.evidence


def test_evaluation_uses_target_zone_when_none_is_given() -> None:
    assert _ids(_eval(None, port=6379, service="redis", zone="互联网区")) == ["db.redis"]
    # An explicit zone overrides the target's.
    assert _eval("intranet", port=6379, service="redis", zone="互联网区") == []


def test_resolve_zone_order_and_vantage() -> None:
    rules = builtin_rules()
    assert resolve_zone(rules, "办公区", {}).zone == "office"
    assert resolve_zone(rules, "办公区", {"zone": "dmz"}).zone == "office"
    assert resolve_zone(rules, None, {"zone": "dmz"}).zone == "dmz"
    assert resolve_zone(rules, "机房A", {"zone": "dmz"}).zone == "dmz"
    assert resolve_zone(rules, None, {}).zone == "intranet"
    assert resolve_zone(rules, "", {"zone": ""}).zone == "intranet"
    # A scanner in the internet zone sees what the internet sees, whatever the ledger says.
    outside = resolve_zone(rules, "核心业务区", {"vantage": "internet"})
    assert outside.zone == "internet"
    assert "互联网区" in outside.basis
    # A more trusted vantage never makes a host look safer than its own zone.
    assert resolve_zone(rules, "DMZ", {"vantage": "management"}).zone == "dmz"


@pytest.mark.parametrize("option", ["zone", "vantage"])
def test_bad_zone_option_names_the_option(option: str) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve_zone(builtin_rules(), None, {option: "火星区"})
    assert option in str(caught.value) and "火星区" in str(caught.value)
    with pytest.raises(ValidationError):
        resolve_zone(builtin_rules(), None, {option: 42})


# --- loader errors -------------------------------------------------------------------------


def _file(rules: list[dict[str, Any]] | str, **top: Any) -> str:
    doc: dict[str, Any] = {
        "version": 1,
        "default_zone": "intranet",
        "zones": {
            "internet": {"label": "互联网区", "trust": 0},
            "intranet": {"label": "内网", "trust": 3},
        },
    }
    doc.update(top)
    doc["rules"] = rules
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _rule(**changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": "t.one",
        "title": "测试规则",
        "description": "说明",
        "remediation": "建议",
        "match": {"services": ["mysql"], "ports": [3306]},
        "cvss": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "zones": {"internet": "high"},
        "cwe": [284],
    }
    rule.update(changes)
    return rule


def _error(text: str) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_rules(text, source="x.yaml")
    message = str(caught.value)
    assert "\n" not in message and "x.yaml" in message
    return message


def test_minimal_file_parses() -> None:
    rules = parse_rules(_file([_rule()]))
    assert [r.id for r in rules.rules] == ["t.one"]
    assert rules.rules[0].verdict("internet") is not None
    assert rules.rules[0].verdict("intranet") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules: [\n  - id: a\n  bad", "YAML"),
        ("- just\n- a list\n", "（顶层）"),
        ("version: 1\nzones: {}\n", "default_zone"),
    ],
)
def test_file_level_errors(text: str, expected: str) -> None:
    assert expected in _error(text)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (_rule(colour="red"), ["t.one", "colour", "不认识的字段"]),
        (_rule(id="Bad Id"), ["Bad Id", "id", "格式不正确"]),
        (_rule(title=""), ["t.one", "title", "不能为空"]),
        (_rule(cvss="CVSS:3.1/AV:N"), ["t.one", "cvss", "CVSS:3.1/AV:N"]),
        (_rule(cvss="CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"), ["t.one", "CVSS:3.0"]),
        (
            _rule(cvss="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U"),
            ["t.one", "只含 8 项基本指标"],
        ),
        (
            _rule(cvss="CVSS:3.1/AC:H/AV:N/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            ["t.one", "按此顺序"],
        ),
        (_rule(zones={"internet": "severe"}), ["t.one", "zones.internet.severity", "可选"]),
        (_rule(match={"ports": [70000]}), ["t.one", "match.ports", "70000"]),
        (_rule(match={"ports": ["10-5"]}), ["t.one", "10-5"]),
        (_rule(match={"ports": [True]}), ["t.one", "True"]),
        (_rule(match={"product": "(unclosed"}), ["t.one", "(unclosed"]),
        (_rule(match={"protocol": "sctp", "ports": [1]}), ["t.one", "match.protocol"]),
        (_rule(match={"services": ["unknown"]}), ["t.one", "unknown"]),
        (_rule(match={}), ["t.one", "match", "services"]),
        (_rule(cwe=[0]), ["t.one", "cwe", "0"]),
        (_rule(zones={}), ["t.one", "zones"]),
        ({"title": "无编号"}, ["第 1 条"]),
        ("not a mapping", ["第 1 条", "应为映射"]),
    ],
)
def test_rule_errors_name_the_rule_and_field(rule: Any, expected: list[str]) -> None:
    message = _error(_file([rule]))
    for part in expected:
        assert part in message, (part, message)


def test_duplicate_ids_are_named() -> None:
    message = _error(_file([_rule(), _rule(title="另一条")]))
    assert "t.one" in message and "重复" in message


def test_undefined_zone_is_named() -> None:
    message = _error(_file([_rule(zones={"internet": "high", "moon": "low"})]))
    assert "t.one" in message and "moon" in message


def test_vector_must_fit_the_severity_band() -> None:
    message = _error(_file([_rule(zones={"internet": "critical"})]))
    for part in ("t.one", "internet", "8.1", "高", "严重"):
        assert part in message
    # The zone's own vector is checked too, and "all" is named when it is the source.
    bad_zone = _rule(
        zones={"all": {"severity": "low", "cvss": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}
    )
    assert "all" in _error(_file([bad_zone]))


def test_non_info_level_needs_a_vector() -> None:
    message = _error(_file([_rule(cvss=None, zones={"internet": "medium"})]))
    assert "t.one" in message and "CVSS" in message
    # Info needs none, and a zone set to null is not a finding even under "all".
    rules = parse_rules(_file([_rule(cvss=None, zones={"all": "info", "intranet": None})])).rules[0]
    assert rules.verdict("internet") is not None
    assert rules.verdict("internet").cvss is None  # type: ignore[union-attr]
    assert rules.verdict("intranet") is None


def test_zone_vocabulary_errors() -> None:
    assert "nowhere" in _error(_file([], default_zone="nowhere"))
    clash = {
        "internet": {"label": "公网", "trust": 0},
        "intranet": {"label": "内网", "trust": 3, "aliases": ["公网"]},
    }
    assert "公网" in _error(_file([], zones=clash))
    reserved = {"all": {"label": "全部", "trust": 0}}
    assert "all" in _error(_file([], zones=reserved, default_zone="all"))


def test_size_and_alias_expansion_limits() -> None:
    assert "过大" in _error("#" * (MAX_FILE_BYTES + 1))
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 8):
        refs = ", ".join([f"*{chr(96 + level)}"] * 10)
        bomb.append(f"{chr(97 + level)}: &{chr(97 + level)} [{refs}]")
    assert "过于复杂" in _error("\n".join(bomb) + "\n")
    assert "YAML" in _error("[" * 5000 + "]" * 5000)


# --- override file -------------------------------------------------------------------------


EXTRA_RULE = {
    "id": "org.custom-admin",
    "title": "自定义管理端口暴露",
    "description": "本单位自研运维系统端口",
    "remediation": "只允许堡垒机访问",
    "match": {"ports": [9443]},
    "cvss": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "zones": {"internet": "high", "office": {"severity": "info"}},
    "cwe": [284],
}


def _override(base: ExposureRules, doc: dict[str, Any]) -> ExposureRules:
    return apply_override(base, yaml.safe_dump(doc, allow_unicode=True), source="o.yaml")


def test_override_adds_replaces_and_disables_rules() -> None:
    base = builtin_rules()
    replaced = dict(
        EXTRA_RULE, id="db.mysql", title="MySQL（本单位口径）", match={"services": ["mysql"]}
    )
    merged = _override(
        base, {"rules": [EXTRA_RULE, replaced], "disable": ["admin.ssh", "db.redis"]}
    )
    ids = [rule.id for rule in merged.rules]
    assert "org.custom-admin" in ids and "admin.ssh" not in ids and "db.redis" not in ids
    assert len(ids) == len(base.rules) - 1
    assert ids.index("db.mysql") == [r.id for r in base.rules].index("db.mysql")
    mysql = merged.get("db.mysql")
    assert mysql is not None and mysql.title == "MySQL（本单位口径）"
    assert _ids(evaluate_exposure(ServiceTarget("192.0.2.1", 9443), "internet", merged)) == [
        "org.custom-admin"
    ]
    assert (
        evaluate_exposure(ServiceTarget("192.0.2.1", 22, service="ssh"), "internet", merged) == []
    )
    # The built-ins themselves are untouched.
    assert base.get("admin.ssh") is not None


def test_override_aliases_and_default_zone() -> None:
    merged = _override(
        builtin_rules(),
        {"zone_aliases": {"机房A": "DMZ", "二楼": "office"}, "default_zone": "公网"},
    )
    assert merged.zone_id("机房A") == "dmz"
    assert merged.zone_id("二楼") == "office"
    assert merged.default_zone == "internet"
    assert _ids(evaluate_exposure(ServiceTarget("192.0.2.1", 6379), None, merged)) == ["db.redis"]
    # The default zone may use an alias the same file adds.
    own = _override(builtin_rules(), {"zone_aliases": {"机房A": "DMZ"}, "default_zone": "机房A"})
    assert own.default_zone == "dmz"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"disable": ["no.such.rule"]}, "no.such.rule"),
        ({"zone_aliases": {"机房A": "火星区"}}, "火星区"),
        ({"zone_aliases": {"公网": "intranet"}}, "公网"),
        ({"default_zone": "火星区"}, "火星区"),
        ({"rules": [EXTRA_RULE, EXTRA_RULE]}, "org.custom-admin"),
        ({"rules": [dict(EXTRA_RULE, zones={"moon": "low"})]}, "moon"),
        ({"enable": ["x"]}, "enable"),
    ],
)
def test_override_errors_name_the_item(doc: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _override(builtin_rules(), doc)
    assert expected in str(caught.value) and "o.yaml" in str(caught.value)


def test_empty_override_changes_nothing() -> None:
    base = builtin_rules()
    assert apply_override(base, "", source="o.yaml") is base


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory for the override file."""
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path))
    reset_settings()
    yield tmp_path
    reset_settings()


def test_load_reads_the_override_in_the_data_directory(home: Path) -> None:
    assert load_exposure_rules() is builtin_rules()
    path = home / "exposure.yaml"
    path.write_text(yaml.safe_dump({"disable": ["admin.ssh"]}), encoding="utf-8")
    assert load_exposure_rules().get("admin.ssh") is None
    # A changed file is read again (the cache is keyed by mtime and size).
    path.write_text(yaml.safe_dump({"disable": ["admin.telnet"]}), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    rules = load_exposure_rules()
    assert rules.get("admin.ssh") is not None and rules.get("admin.telnet") is None


def test_bad_override_files_fail_with_one_line(home: Path) -> None:
    path = home / "exposure.yaml"
    path.write_bytes(b"disable: [\xff\xfe]\n")
    with pytest.raises(ValidationError) as caught:
        load_exposure_rules()
    assert "UTF-8" in str(caught.value) and str(path) in str(caught.value)
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ValidationError) as caught:
        load_exposure_rules()
    assert "过大" in str(caught.value)


def test_explicit_override_path(tmp_path: Path) -> None:
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump({"disable": ["ics.s7"]}), encoding="utf-8")
    assert load_exposure_rules(path).get("ics.s7") is None
    assert load_exposure_rules(tmp_path / "missing.yaml") is builtin_rules()


# --- robustness ----------------------------------------------------------------------------


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_KEYS = st.sampled_from(
    [
        "version",
        "default_zone",
        "zones",
        "rules",
        "id",
        "title",
        "description",
        "remediation",
        "match",
        "services",
        "ports",
        "web_ports",
        "product",
        "tls",
        "protocol",
        "cvss",
        "severity",
        "cwe",
        "references",
        "internet",
        "intranet",
        "all",
        "label",
        "trust",
        "aliases",
        "disable",
        "zone_aliases",
    ]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "high",
            "low",
            "info",
            "critical",
            "tcp",
            "udp",
            "1-65535",
            "0-1",
            "(?i)x",
            "(",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "intranet",
            "internet",
            "2024-13-45",
            "unknown",
        ]
    ),
)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=40,
)


def _only_clean_validation_errors(text: str) -> None:
    """Parse ``text`` both ways; anything but a one-line ValidationError fails the test."""
    messages: list[str] = []
    for parse in (parse_rules, partial(apply_override, builtin_rules())):
        try:
            parse(text, source="f.yaml")
        except ValidationError as exc:
            messages.append(str(exc))
    for message in messages:
        assert "\n" not in message and "f.yaml" in message


@FUZZ
@given(st.text(max_size=400))
def test_loader_survives_arbitrary_text(text: str) -> None:
    _only_clean_validation_errors(text)


@FUZZ
@given(_DOCS)
def test_loader_survives_arbitrary_structures(doc: Any) -> None:
    _only_clean_validation_errors(yaml.safe_dump(doc, allow_unicode=True))


@FUZZ
@given(
    st.builds(
        ServiceTarget,
        address=st.just("192.0.2.1"),
        port=st.integers(1, 65535),
        protocol=st.sampled_from(["tcp", "udp"]),
        service=st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["http", "ssh"])),
        product=st.one_of(st.none(), st.text(max_size=300)),
        tls=st.booleans(),
        zone=st.one_of(st.none(), st.text(max_size=8), st.sampled_from(ZONES)),
    )
)
def test_evaluation_never_fails(target: ServiceTarget) -> None:
    for observation in evaluate_exposure(target, None, builtin_rules()):
        assert observation.identity is not None
        assert observation.extra["zone"] in ZONES


# --- the check -----------------------------------------------------------------------------


class NoNetworkContext:
    """A CheckContext whose network entry points fail the test if used."""

    timeout = 1.0

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: Mapping[str, Any] = options or {}

    def connect(
        self, address: str, port: int, *, timeout: float | None = None, udp: bool = False
    ) -> socket.socket:
        raise AssertionError(f"exposure check tried to connect to {address}:{port}")

    def permit(self, address: str, port: int) -> None:
        raise AssertionError(f"exposure check asked to reach {address}:{port}")

    def should_stop(self) -> bool:
        return False


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket creation fails the test."""

    def refuse(*_args: object, **_kwargs: object) -> socket.socket:
        raise AssertionError("a socket was created")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_check_is_registered_and_passive(home: Path) -> None:
    checks = load_checks()
    assert "exposure.service" in checks
    cls = checks["exposure.service"]
    assert cls.safety is Safety.PASSIVE
    assert cls.target_kind is TargetKind.SERVICE
    assert cls.services == frozenset()
    assert cls().applies(ServiceTarget("127.0.0.1", 1, service="whatever"))


@pytest.mark.usefixtures("no_sockets")
def test_check_yields_observations_without_network(home: Path) -> None:
    check = load_checks()["exposure.service"]()
    exposed = ServiceTarget("127.0.0.1", 6379, service="redis", zone="互联网区")
    (found,) = list(check.run(exposed, NoNetworkContext()))
    assert (found.identity, found.severity, found.address) == (
        "db.redis",
        Severity.CRITICAL,
        "127.0.0.1",
    )
    assert found.evidence is not None and "资产台账区域" in found.evidence
    inside = ServiceTarget("127.0.0.1", 6379, service="redis")
    assert list(check.run(inside, NoNetworkContext())) == []
    (dmz,) = check.run(inside, NoNetworkContext({"zone": "dmz"}))
    assert dmz.severity is Severity.HIGH
    outside = list(check.run(inside, NoNetworkContext({"vantage": "internet"})))
    assert [o.identity for o in outside] == ["db.redis"]
    assert outside[0].extra["zone"] == "internet"


@pytest.mark.usefixtures("no_sockets")
def test_check_honours_the_override_file(home: Path) -> None:
    (home / "exposure.yaml").write_text(yaml.safe_dump({"disable": ["db.redis"]}), "utf-8")
    check = load_checks()["exposure.service"]()
    target = ServiceTarget("127.0.0.1", 6379, service="redis", zone="internet")
    assert list(check.run(target, NoNetworkContext())) == []


def test_check_reports_a_bad_policy_option(home: Path) -> None:
    check = load_checks()["exposure.service"]()
    with pytest.raises(ValidationError, match="vantage"):
        list(check.run(ServiceTarget("127.0.0.1", 23), NoNetworkContext({"vantage": "外星"})))
