"""OpenSCAP XCCDF/ARF importer on hand-written result files, and on hostile or broken input.

The fixtures under ``data/xccdf/`` are written for these tests; real ``oscap`` output is
produced and imported by ``test_xccdf_oscap.py``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.findings.importers import _xml
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    HostInput,
    ImportFormatError,
)
from shaobing.findings.importers.registry import all_importers, detect_importer
from shaobing.findings.importers.xccdf import XccdfImporter
from shaobing.findings.severity import Severity
from tests.conftest import CliRunner
from tests.findings.importers.common import refusal, split

DATA = Path(__file__).parent / "data" / "xccdf"
FIXTURES = sorted(p.name for p in DATA.glob("*.xml"))
XCCDF12 = "http://checklists.nist.gov/xccdf/1.2"
P = "xccdf_test.shaobing_rule_"
RULE_RESULT_RE = re.compile(
    r'<(?:\w+:)?rule-result\b[^>]*?\bidref="([^"]+)"[^>]*>\s*<(?:\w+:)?result>(\w+)</'
)


def run(path: Path) -> tuple[list[FindingInput], list[HostInput], CoverageInput]:
    return split(list(XccdfImporter().parse(path)))


def by_rule(findings: list[FindingInput]) -> dict[str, FindingInput]:
    return {f.check_id.removeprefix(P): f for f in findings}


# --------------------------------------------------------------------------- XCCDF 1.2
def test_xccdf12_failures_become_findings() -> None:
    findings, _, _ = run(DATA / "results-1.2.xml")
    assert [(f.check_id.removeprefix(P), f.severity, f.parameter) for f in findings] == [
        ("sshd_disable_root_login", Severity.HIGH, None),
        ("accounts_password_minlen", Severity.MEDIUM, None),
        ("accounts_tmout", Severity.LOW, None),
        ("file_owner_home", Severity.MEDIUM, "alice"),
        ("file_owner_home", Severity.MEDIUM, "bob"),
        # XCCDF severity "unknown" on a failure: 低, not 信息.
        ("file_permissions_systemmap", Severity.LOW, None),
        # error / unknown results: 信息 with low confidence.
        ("service_auditd_enabled", Severity.INFO, None),
        ("package_telnet_removed", Severity.INFO, None),
    ]
    assert all(f.source_tool == "openscap" and f.host == "192.0.2.10" for f in findings)
    assert [f.confidence for f in findings] == [None] * 6 + ["low", "low"]
    assert [f.extra["result"] for f in findings] == ["fail"] * 6 + ["error", "unknown"]
    assert all(f.tool_unique_id is None for f in findings)


def test_xccdf12_rule_texts() -> None:
    rules = by_rule(run(DATA / "results-1.2.xml")[0])
    root = rules["sshd_disable_root_login"]
    assert root.title == "Disable SSH Root Login"
    assert root.description == (
        "The root user should never be allowed to log in directly over a\n"
        "network. To disable it, add or correct this line in /etc/ssh/sshd_config:\n\n"
        "PermitRootLogin no\n\n"
        "理由：Logging in as an ordinary user first leaves an audit trail of\n"
        "who used the root account."
    )
    # <fixtext> wins over the shell <fix>.
    assert root.remediation == "Set PermitRootLogin no in\n/etc/ssh/sshd_config, then reload sshd."
    assert root.references == [
        "CCE-80901-8",
        "NIST SP 800-53 AC-6(2)",
        "NIST SP 800-53 IA-2",
        "CIS 5.2.10",
        "PCI DSS Req-2.2.4",
        "https://example.test/hardening-guide",
        "SV-1234",  # an ident only the rule-result carries
    ]
    assert root.extra["idents"] == {"CCE": ["CCE-80901-8"], "DISA STIG": ["SV-1234"]}
    assert root.extra["standards"] == {
        "NIST SP 800-53": ["AC-6(2)", "IA-2"],
        "CIS": ["5.2.10"],
        "PCI DSS": ["Req-2.2.4"],
        "ISO/IEC 27001:2013": ["A.9.2.3"],
        "https://example.test/hardening-guide": ["Guide 3.1"],
    }
    assert root.evidence == (
        "检查结果：fail（不通过）\n"
        "检查内容：oval:test.shaobing:def:1（demo-oval.xml）\n"
        "核查基线（Profile）：xccdf_test.shaobing_profile_server（服务器安全基线）\n"
        "检查引擎消息：PermitRootLogin yes\nfound in /etc/ssh/sshd_config\n"
        "检查时间：2026-03-01T08:00:01+08:00"
    )
    assert root.extra["profile"] == "xccdf_test.shaobing_profile_server"
    assert root.extra["benchmark"] == "xccdf_test.shaobing_benchmark_demo"
    assert root.extra["xccdf_version"] == "1.2" and root.extra["rule_severity"] == "high"


def test_xhtml_lists_links_values_and_scripts() -> None:
    rules = by_rule(run(DATA / "results-1.2.xml")[0])
    minlen = rules["accounts_password_minlen"]
    assert minlen.title == "设置口令最小长度"  # the Chinese title when the content has one
    # <sub> takes the Value's default (no set-value for it); the comment is dropped.
    assert minlen.description == (
        "Passwords must be at least 14 characters long:\n\n"
        "- edit /etc/security/pwquality.conf\n- set minlen\n"
        "See the PAM guide (https://example.test/pam)."
    )
    # No fixtext: the shell fix (not the Ansible one), indentation kept, values filled.
    assert minlen.remediation == (
        "if grep -q '^minlen' /etc/security/pwquality.conf; then\n"
        "    sed -i 's/^minlen.*/minlen = 14/' /etc/security/pwquality.conf\n"
        "else\n"
        "    echo 'minlen = 14' >> /etc/security/pwquality.conf\n"
        "fi"
    )
    assert minlen.extra["fix_system"] == "urn:xccdf:fix:script:sh"
    assert minlen.extra["warnings"] == ["Changing this affects every local user."]
    assert minlen.evidence is not None and "检查内容：demo-ocil.xml" in minlen.evidence
    # The TestResult's set-value overrides the Value's default.
    assert rules["accounts_tmout"].description == "Set TMOUT=900 in /etc/profile.d/tmout.sh."
    systemmap = rules["file_permissions_systemmap"]
    assert systemmap.title == "确保 System.map 仅 root 可读 — “内核符号”✓"
    assert systemmap.description == "执行 chmod 0600 /boot/System.map-*。"
    error = rules["service_auditd_enabled"]
    assert error.evidence is not None
    assert error.evidence.startswith("检查结果：error（检查出错）\n")
    assert "检查引擎消息：probe systemdunitproperty failed" in error.evidence


def test_host_and_coverage() -> None:
    _, hosts, coverage = run(DATA / "results-1.2.xml")
    # IPv4 before IPv6; loopback and link-local never chosen nor covered.
    assert [(h.address, h.hostnames) for h in hosts] == [
        ("192.0.2.10", ["db01", "db01.example.test"])
    ]
    assert coverage.hosts == ["192.0.2.10", "2001:db8::10", "db01", "db01.example.test"]


def test_summary_counts_match_the_file() -> None:
    path = DATA / "results-1.2.xml"
    importer = XccdfImporter()
    list(importer.parse(path))
    counted = Counter(result for _, result in RULE_RESULT_RE.findall(path.read_text("utf-8")))
    (summary,) = importer.summaries
    assert summary.counts == dict(counted) and sum(counted.values()) == 14
    assert summary.score == 41.5 and summary.host == "192.0.2.10"
    assert summary.profile == "xccdf_test.shaobing_profile_server"


# --------------------------------------------------------------------------- other shapes
def test_bare_testresult_without_benchmark() -> None:
    findings, hosts, coverage = run(DATA / "testresult-bare.xml")
    # No rule texts: the title is the rule id; only loopback addresses: the target name.
    assert [(f.title, f.severity, f.host) for f in findings] == [
        ("xccdf_org.ssgproject.content_rule_sshd_disable_empty_passwords", Severity.HIGH, "app01"),
        # no severity attribute at all: XCCDF's default "unknown"
        (
            "xccdf_org.ssgproject.content_rule_sysctl_kernel_randomize_va_space",
            Severity.LOW,
            "app01",
        ),
    ]
    assert findings[0].description is None and findings[0].remediation is None
    assert [(h.address, h.hostnames) for h in hosts] == [(None, ["app01"])]
    assert coverage.hosts == ["app01"]


def test_xccdf11_namespace() -> None:
    importer = XccdfImporter()
    findings, hosts, coverage = split(list(importer.parse(DATA / "results-1.1.xml")))
    (rsh,) = findings
    assert (rsh.check_id, rsh.title, rsh.severity) == ("rule-disable-rsh", "Disable rsh", "high")
    assert rsh.description == "The rsh service sends passwords in clear text."
    assert rsh.remediation == "Run systemctl disable --now rsh.socket."
    assert rsh.references == ["CCE-3974-8"] and rsh.extra["xccdf_version"] == "1.1"
    assert rsh.extra["idents"] == {"CCE": ["CCE-3974-8"]}
    assert rsh.host == "198.51.100.7"
    assert [(h.address, h.hostnames) for h in hosts] == [
        ("198.51.100.7", ["legacy01.example.test"])
    ]
    assert coverage.hosts == ["198.51.100.7", "legacy01.example.test"]
    assert importer.summaries[0].counts == {"fail": 1, "notchecked": 1, "pass": 1}


def test_arf_assets_by_reference_and_by_relationship() -> None:
    importer = XccdfImporter()
    findings, hosts, coverage = split(list(importer.parse(DATA / "arf.xml")))
    assert [(f.check_id.removeprefix(P), f.host, f.title) for f in findings] == [
        ("nginx_server_tokens", "203.0.113.5", "Hide the nginx Version"),
        ("nginx_server_tokens", "2001:db8::20", "Hide the nginx Version"),
        ("sysctl_ip_forward", "2001:db8::20", "Disable IP Forwarding"),
    ]
    tokens = findings[0]
    # The decoy <Rule> of the OVAL component was not taken for the XCCDF rule.
    assert tokens.description == "Set server_tokens off; in the http block."
    assert tokens.references == ["CIS 2.5.1"]
    assert tokens.evidence is not None and "检查内容：oval:test.shaobing:def:9（#oval0）" in (
        tokens.evidence
    )
    assert findings[2].description == "理由：A server is not a router."
    assert [(h.address, h.hostnames) for h in hosts] == [
        ("203.0.113.5", ["web01", "web01.example.test"]),
        ("2001:db8::20", ["web02"]),
    ]
    assert coverage.hosts == [
        "203.0.113.5",
        "web01",
        "web01.example.test",
        "2001:db8::20",
        "web02",
    ]
    assert [s.counts for s in importer.summaries] == [{"fail": 1, "pass": 1}, {"fail": 2}]


def test_empty_testresult_is_coverage_only() -> None:
    importer = XccdfImporter()
    findings, hosts, coverage = split(list(importer.parse(DATA / "empty-testresult.xml")))
    assert findings == []
    assert [(h.address, h.hostnames) for h in hosts] == [("192.0.2.30", ["idle01"])]
    assert coverage.hosts == ["192.0.2.30", "idle01"]
    assert importer.summaries[0].counts == {}


def test_offline_scan_is_named_by_its_evaluation_target(tmp_path: Path) -> None:
    path = tmp_path / "offline.xml"
    path.write_text(
        f"""<TestResult xmlns="{XCCDF12}" id="r"><target>unknown</target>
<target-facts><fact name="urn:xccdf:fact:asset:identifier:ein" type="string">chroot:///srv/img</fact>
</target-facts><rule-result idref="x" severity="medium"><result>fail</result></rule-result>
</TestResult>""",
        encoding="utf-8",
    )
    findings, hosts, coverage = run(path)
    # Not a network host: findings and coverage use it, the asset ledger does not.
    assert [f.host for f in findings] == ["chroot:///srv/img"]
    assert hosts == [] and coverage.hosts == ["chroot:///srv/img"]


def test_several_testresults_share_one_host_record(tmp_path: Path) -> None:
    results = "".join(
        f"""<TestResult id="r{n}"><profile idref="p{n}"/><target>h{n}</target>
<target-address>192.0.2.40</target-address>
<rule-result idref="rule{n}"><result>fail</result></rule-result></TestResult>"""
        for n in (1, 2)
    )
    path = tmp_path / "two.xml"
    path.write_text(f'<Benchmark xmlns="{XCCDF12}" id="b">{results}</Benchmark>', "utf-8")
    findings, hosts, coverage = run(path)
    assert [(f.check_id, f.extra["profile"]) for f in findings] == [
        ("rule1", "p1"),
        ("rule2", "p2"),
    ]
    assert [(h.address, h.hostnames) for h in hosts] == [("192.0.2.40", ["h1", "h2"])]
    assert coverage.hosts == ["192.0.2.40", "h1", "h2"]


def test_foreign_elements_in_a_testresult(tmp_path: Path) -> None:
    path = tmp_path / "foreign.xml"
    path.write_text(
        f"""<TestResult xmlns="{XCCDF12}" id="r"><target xmlns="">ignored</target>
<x:target xmlns:x="urn:other">also-ignored</x:target><target-address>192.0.2.60</target-address>
<rule-result xmlns="" idref="bare"><result>fail</result></rule-result>
<rule-result idref="ok"><result>fail</result><result xmlns="">pass</result></rule-result>
</TestResult>""",
        encoding="utf-8",
    )
    importer = XccdfImporter()
    findings, hosts, _ = split(list(importer.parse(path)))
    # Only XCCDF elements count: the foreign target names and rule-result are ignored.
    assert [(f.check_id, f.host) for f in findings] == [("ok", "192.0.2.60")]
    assert [(h.address, h.hostnames) for h in hosts] == [("192.0.2.60", [])]
    assert importer.summaries[0].counts == {"fail": 1}


# --------------------------------------------------------------------------- ingest
@pytest.fixture
def project(cli: CliRunner) -> CliRunner:
    cli.ok("client", "add", "某区大数据局", "--code", "dsj")
    cli.ok("engagement", "create", "基线核查", "--client", "dsj", "--scope", "192.0.2.0/24")
    return cli


def _with_result(text: str, rule: str, old: str, new: str) -> str:
    changed, count = re.subn(
        rf'(idref="{P}{rule}"[^>]*>\s*<result>){old}(</result>)', rf"\g<1>{new}\g<2>", text
    )
    assert count == 1
    return changed


def test_ingest_then_reimport_closes_and_reopens(project: CliRunner, tmp_path: Path) -> None:
    text = (DATA / "results-1.2.xml").read_text("utf-8")
    scan1 = tmp_path / "scan1.xml"
    scan1.write_text(text, encoding="utf-8")
    first: Any = project.json("findings", "import", str(scan1), "--engagement", "基线核查")
    assert (first["format"], first["created"], first["closed"]) == ("xccdf", 8, 0)
    assert first["work_orders_created"] == 8
    listed: Any = project.json("findings", "list", "--limit", "100")
    assert Counter(f["severity"] for f in listed["findings"]) == {
        "high": 1,
        "medium": 3,
        "low": 2,
        "info": 2,
    }
    assert {(f["host"], f["source_tool"]) for f in listed["findings"]} == {
        ("192.0.2.10", "openscap")
    }
    root_id = next(f["id"] for f in listed["findings"] if f["check_id"].endswith("root_login"))
    shown: Any = project.json("findings", "show", str(root_id))
    assert shown["title"] == "Disable SSH Root Login" and shown["status"] == "new"
    assert "CCE-80901-8" in shown["references"]
    assert shown["evidence"].startswith("检查结果：fail（不通过）")
    assets: Any = project.json("asset", "list", "--engagement", "基线核查")
    assert [a["addresses"] for a in assets] == [["192.0.2.10"]]

    # Root login is now refused: the rule passes and its finding is closed as fixed.
    scan2 = tmp_path / "scan2.xml"
    scan2.write_text(_with_result(text, "sshd_disable_root_login", "fail", "pass"), "utf-8")
    second: Any = project.json("findings", "import", str(scan2), "--engagement", "基线核查")
    assert (second["created"], second["duplicates"], second["closed"]) == (0, 7, 1)
    fixed: Any = project.json("findings", "list", "--status", "已修复")
    assert [f["id"] for f in fixed["findings"]] == [root_id]

    # A check that now errors is not a pass: the finding stays open (as 信息).
    scan3 = tmp_path / "scan3.xml"
    scan3.write_text(_with_result(text, "accounts_tmout", "fail", "error"), "utf-8")
    third: Any = project.json("findings", "import", str(scan3), "--engagement", "基线核查")
    assert (third["reopened"], third["closed"], third["updated"]) == (1, 0, 1)
    still_open: Any = project.json("findings", "list", "--status", "已修复")
    assert still_open["total"] == 0


# --------------------------------------------------------------------------- recognition
@pytest.mark.parametrize("name", [n for n in FIXTURES if n != "benchmark-only.xml"])
def test_detected(name: str) -> None:
    path = DATA / name
    assert detect_importer(path).name == "xccdf"
    others = [
        cls.name
        for cls in all_importers().values()
        if cls is not XccdfImporter and cls.sniff(path, path.read_bytes()[:SNIFF_BYTES])
    ]
    assert others == []


@pytest.mark.parametrize(
    "head",
    [
        b'<?xml version="1.0"?><nmaprun scanner="nmap"></nmaprun>',
        b"<Benchmark><Rule/></Benchmark>",  # no XCCDF namespace
        b'<ds:data-stream-collection xmlns:ds="http://scap.nist.gov/schema/scap/source/1.2"/>',
        b'<oval_results xmlns="http://oval.mitre.org/XMLSchema/oval-results-5"/>',
        b'{"TestResult": "http://checklists.nist.gov/xccdf/1.2"}',
        b"",
    ],
)
def test_not_sniffed(head: bytes) -> None:
    assert not XccdfImporter.sniff(Path("x.xml"), head)


# --------------------------------------------------------------------------- refusals
def _results_text() -> str:
    return (DATA / "results-1.2.xml").read_text("utf-8")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "<nmaprun/>",
            "根元素是 <nmaprun>，应为 <arf:asset-report-collection>, <xccdf:Benchmark>, "
            "<xccdf:TestResult>",
        ),
        ("<Benchmark><TestResult/></Benchmark>", "根元素是 <Benchmark>"),
        (
            '<ds:data-stream-collection xmlns:ds="http://scap.nist.gov/schema/scap/source/1.2"/>',
            "根元素是 <data-stream-collection>",
        ),
        ((DATA / "benchmark-only.xml").read_text("utf-8"), "文件中没有检查结果（<TestResult>）"),
        (
            "<arf:asset-report-collection "
            'xmlns:arf="http://scap.nist.gov/schema/asset-reporting-format/1.1"><arf:reports/>'
            "</arf:asset-report-collection>",
            "文件中没有检查结果",
        ),
        (f'<TestResult xmlns="{XCCDF12}"><rule-result', "提前结束"),
        (f'<TestResult xmlns="{XCCDF12}"><target>a</targ></TestResult>', "XML 格式错误"),
        (
            f'<TestResult xmlns="{XCCDF12}"><rule-result><result>fail</result>'
            "</rule-result></TestResult>",
            "第 1 个 <rule-result> 缺少 idref",
        ),
        (
            f'<TestResult xmlns="{XCCDF12}"><rule-result idref="a"><result>pass</result>'
            '</rule-result><rule-result idref="b"/></TestResult>',
            "第 2 个 <rule-result> 缺少 result",
        ),
        (
            f'<TestResult xmlns="{XCCDF12}"><rule-result idref="a"><result>kaputt</result>'
            "</rule-result></TestResult>",
            "result 值“kaputt”无效",
        ),
        (_results_text()[: len(_results_text()) // 2], "提前结束"),
        ("", "文件为空"),
        ("\ufeff   \n", "没有任何 XML 元素"),
    ],
)
def test_refused(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")
    problem = refusal(XccdfImporter(), path)
    assert needle in problem and "\n" not in problem


def test_billion_laughs_refused_without_expansion(tmp_path: Path) -> None:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    ]
    path = tmp_path / "lol.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE TestResult [{"".join(levels)}]>'
        f'<TestResult xmlns="{XCCDF12}"><target>&lol9;</target></TestResult>',
        encoding="utf-8",
    )
    started = time.monotonic()
    problem = refusal(XccdfImporter(), path)
    assert time.monotonic() - started < 2
    assert "lol0" in problem and "XXE" in problem


def test_xxe_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    path = tmp_path / "xxe.xml"
    path.write_text(
        f'<!DOCTYPE Benchmark [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        f'<Benchmark xmlns="{XCCDF12}"><TestResult><target>&xxe;</target></TestResult>'
        "</Benchmark>",
        encoding="utf-8",
    )
    problem = refusal(XccdfImporter(), path)
    assert "xxe" in problem and "TOP-SECRET" not in problem


def test_external_dtd_and_parameter_entities_never_loaded(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY leak "LEAKED">', encoding="utf-8")
    external = tmp_path / "ext.xml"
    external.write_text(
        f'<!DOCTYPE TestResult SYSTEM "{dtd.as_uri()}">'
        f'<TestResult xmlns="{XCCDF12}"><target>&leak;</target></TestResult>',
        encoding="utf-8",
    )
    assert "undefined entity" in refusal(XccdfImporter(), external)
    parameter = tmp_path / "pe.xml"
    parameter.write_text(
        f'<!DOCTYPE TestResult [<!ENTITY % ext SYSTEM "{dtd.as_uri()}"> %ext;]>'
        f'<TestResult xmlns="{XCCDF12}"/>',
        encoding="utf-8",
    )
    problem = refusal(XccdfImporter(), parameter)
    assert "ext" in problem and "LEAKED" not in problem


def test_size_and_depth_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / "deep.xml"
    deep.write_text(
        f'<Benchmark xmlns="{XCCDF12}"><Rule id="r"><description>'
        + "<b>" * 1000
        + "</b>" * 1000
        + "</description></Rule></Benchmark>",
        encoding="utf-8",
    )
    assert "256" in refusal(XccdfImporter(), deep)
    monkeypatch.setattr(_xml, "MAX_FILE_BYTES", 1000)
    assert "超过导入上限" in refusal(XccdfImporter(), DATA / "results-1.2.xml")


def test_many_rule_results_stream(tmp_path: Path) -> None:
    count = 20_000
    results = "".join(
        f'<rule-result idref="xccdf_test_rule_{n}" severity="medium">'
        f"<result>{'fail' if n % 4 == 0 else 'pass'}</result></rule-result>"
        for n in range(count)
    )
    path = tmp_path / "many.xml"
    path.write_text(
        f'<TestResult xmlns="{XCCDF12}" id="big"><target-address>192.0.2.50</target-address>'
        f"{results}</TestResult>",
        encoding="utf-8",
    )
    importer = XccdfImporter()
    started = time.monotonic()
    findings, _, _ = split(list(importer.parse(path)))
    assert len(findings) == count // 4
    assert importer.summaries[0].counts == {"fail": count // 4, "pass": count - count // 4}
    assert time.monotonic() - started < 20


# --------------------------------------------------------------------------- fuzzing
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def parse_all(path: Path) -> None:
    """Parse to the end; ImportFormatError (one line) is the only acceptable failure."""
    try:
        records = list(XccdfImporter().parse(path))
    except ImportFormatError as exc:
        message = str(exc)
    else:
        assert isinstance(records[-1], CoverageInput)
        return
    assert "\n" not in message  # one line for the CLI


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "random.xml"
    path.write_bytes(data)
    XccdfImporter.sniff(path, data[:SNIFF_BYTES])
    parse_all(path)


def mutate(data: bytes, ops: list[tuple[int, int, int, bytes]]) -> bytes:
    for kind, a, b, blob in ops:
        if not data:
            return blob
        i, j = sorted((a % len(data), b % len(data)))
        if kind == 0:
            data = data[:i]
        elif kind == 1:
            data = data[:i] + data[j:]
        elif kind == 2:
            data = data[:i] + blob + data[i:]
        elif kind == 3:
            data = data[:i] + bytes([b % 256]) + data[i + 1 :]
        else:
            data = data[:j] + data[i:j] + data[j:]
    return data


OPS = st.lists(
    st.tuples(
        st.integers(0, 4), st.integers(0, 20_000), st.integers(0, 20_000), st.binary(max_size=24)
    ),
    min_size=1,
    max_size=3,
)
TOKENS = st.sampled_from(
    [
        b"<result>fail</result>",
        b"<result>",
        b"</rule-result>",
        b'idref="',
        b"<html:br/>",
        b'<sub idref="x"/>',
        b' xmlns=""',
        b' xmlns="urn:other"',
        b"&amp;",
        b"&lol;",
        b"<![CDATA[",
        b"]]>",
        b"\xff\xfe",
        b"\x00",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(FIXTURES), ops=OPS)
def test_mutated_fixtures(
    tmp_path: Path, name: str, ops: list[tuple[int, int, int, bytes]]
) -> None:
    data = mutate((DATA / name).read_bytes(), ops)
    path = tmp_path / "mutated.xml"
    path.write_bytes(data)
    XccdfImporter.sniff(path, data[:SNIFF_BYTES])
    parse_all(path)


@FUZZ
@given(name=st.sampled_from(FIXTURES), at=st.integers(0, 20_000), token=TOKENS)
def test_xccdf_tokens_inserted(tmp_path: Path, name: str, at: int, token: bytes) -> None:
    seed = (DATA / name).read_bytes()
    at %= len(seed)
    path = tmp_path / "token.xml"
    path.write_bytes(seed[:at] + token + seed[at:])
    parse_all(path)


@FUZZ
@given(name=st.sampled_from(FIXTURES), cut=st.integers(0, 20_000))
def test_truncated_fixtures_are_refused(tmp_path: Path, name: str, cut: int) -> None:
    seed = (DATA / name).read_bytes().rstrip()
    path = tmp_path / "cut.xml"
    path.write_bytes(seed[: cut % len(seed)])
    # Cut anywhere before the root element closes, the document is incomplete.
    with pytest.raises(ImportFormatError):
        list(XccdfImporter().parse(path))


def test_every_text_key_is_translated() -> None:
    from shaobing.core.i18n import catalogue
    from shaobing.findings.importers import xccdf

    source = Path(xccdf.__file__).read_text("utf-8")
    used = set(re.findall(r'\bt\(\s*"(xccdf\.[\w.]+)"', source))
    used |= {f"xccdf.result.{result}" for result in xccdf.FINDING_RESULTS}  # chosen at run time
    for language in ("zh-CN", "en"):
        keys = {k for k in catalogue(language) if k.startswith("xccdf.")}
        assert keys == used, language
