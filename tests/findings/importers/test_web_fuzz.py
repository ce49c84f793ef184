"""Hostile input for the web importers (ZAP, Acunetix, Nuclei) and their shared helpers.

Whatever the bytes, an importer either yields well-formed records or raises
ImportFormatError; XML with a DTD (XXE, billion laughs) is refused without expansion.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.findings.importers import _web as w
from shaobing.findings.importers.acunetix import AcunetixImporter
from shaobing.findings.importers.base import (
    SNIFF_BYTES,
    CoverageInput,
    FindingInput,
    HostInput,
    Importer,
    ImportFormatError,
)
from shaobing.findings.importers.nuclei import NucleiImporter
from shaobing.findings.importers.zap import ZapImporter
from shaobing.findings.severity import Severity
from tests.findings.importers.test_acunetix import XML_EXPORT, vulnerability
from tests.findings.importers.test_nuclei import result
from tests.findings.importers.test_zap import XML_REPORT, json_report

IMPORTERS: tuple[type[Importer], ...] = (ZapImporter, AcunetixImporter, NucleiImporter)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")

SAMPLES: dict[str, bytes] = {
    "zap.xml": XML_REPORT.encode(),
    "zap.json": json.dumps(json_report()).encode(),
    "acunetix.xml": XML_EXPORT.encode(),
    "acunetix.json": json.dumps(
        {"Generated": "x", "Target": {"Url": "https://www.example.com/"},
         "Vulnerabilities": [vulnerability(), vulnerability(Url="http://127.0.0.1/")]}
    ).encode(),
    "nuclei.jsonl": "".join(
        json.dumps(r) + "\n" for r in (result(), result(type="network"))
    ).encode(),
    "nuclei.json": json.dumps([result(), result(**{"matched-at": "192.0.2.1:22"})]).encode(),
}  # fmt: skip


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Hypothesis reruns the test body many times; function-scoped tmp_path would be shared.
    with tempfile.TemporaryDirectory(prefix="web-fuzz-") as name:
        yield Path(name)


def check(path: Path, importer: type[Importer]) -> int:
    """Parse with one importer: well-formed records or ImportFormatError, nothing else.

    Returns the number of findings, -1 for a refused file.
    """
    head = path.read_bytes()[:SNIFF_BYTES]
    assert isinstance(importer.sniff(path, head), bool)
    findings = 0
    error: ImportFormatError | None = None
    try:
        for record in importer().parse(path):
            assert isinstance(record, FindingInput | HostInput | CoverageInput)
            if isinstance(record, FindingInput):
                findings += 1
                check_finding(record)
    except ImportFormatError as exc:
        error = exc
    if error is None:
        return findings
    assert error.problem and "\n" not in error.problem
    assert path.name in str(error)
    return -1


def check_finding(finding: FindingInput) -> None:
    """The invariants every imported finding keeps, whatever the input."""
    assert isinstance(finding.severity, Severity)
    assert finding.check_id and len(finding.check_id) <= 300
    assert finding.title and len(finding.title) <= 1000
    assert all(_CVE.fullmatch(cve) for cve in finding.cve_ids)
    assert len(set(finding.cve_ids)) == len(finding.cve_ids)
    assert all(isinstance(cwe, int) and cwe > 0 for cwe in finding.cwe_ids)
    assert finding.port is None or 0 < finding.port < 65536
    for vector in (finding.cvss_v3_vector, finding.cvss_v4_vector):
        assert vector is None or vector.startswith(("CVSS:3.", "CVSS:4.0/"))
    for score in (finding.cvss_v3_score, finding.cvss_v4_score):
        assert score is None or 0.0 <= score <= 10.0
    for value in (finding.description, finding.remediation, finding.evidence, finding.url,
                  finding.host, finding.parameter, finding.title):  # fmt: skip
        assert value is None or (isinstance(value, str) and "\x00" not in value)
    assert all(isinstance(ref, str) and ref.startswith("http") for ref in finding.references)
    json.dumps(finding.extra)  # stored as JSON


def write(workdir: Path, name: str, data: bytes) -> Path:
    path = workdir / name
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------ properties


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes(workdir: Path, data: bytes) -> None:
    path = write(workdir, "random.bin", data)
    for importer in IMPORTERS:
        check(path, importer)


@FUZZ
@given(prefix=st.sampled_from([b"<", b"{", b"[", b'{"template-id": "x", "info": {}}\n']),
       data=st.binary(max_size=500))  # fmt: skip
def test_random_bytes_after_a_plausible_start(workdir: Path, prefix: bytes, data: bytes) -> None:
    path = write(workdir, "start.bin", prefix + data)
    for importer in IMPORTERS:
        check(path, importer)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["CVE-2021-44228", "cwe-79", "CVSS:3.1/AV:N", "http://127.0.0.1:99999/",
                       "https://www.example.com/a", "192.0.2.1:22", "[::1]:x", "<p>x</p>", "-1"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)  # fmt: skip


def some_of(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with any subset of ``keys`` holding random JSON values."""
    return st.fixed_dictionaries({}, optional=dict.fromkeys(keys, JSON_VALUES))


ZAP_ALERT_KEYS = [
    "pluginid",
    "alertRef",
    "alert",
    "name",
    "riskcode",
    "confidence",
    "riskdesc",
    "desc",
    "solution",
    "otherinfo",
    "reference",
    "cweid",
    "wascid",
    "tags",
]
ZAP_INSTANCE_KEYS = [
    "uri",
    "method",
    "param",
    "attack",
    "evidence",
    "otherinfo",
    "request-header",
    "response-body",
]
ACUNETIX_KEYS = [
    "Name",
    "Type",
    "Url",
    "Severity",
    "Certainty",
    "Confirmed",
    "Description",
    "Impact",
    "RemedialActions",
    "RemedialProcedure",
    "RemedyReferences",
    "ExternalReferences",
    "HttpRequest",
    "HttpResponse",
    "LookupId",
    "State",
    "KnownVulnerabilities",
    "ExtraInformation",
    "ProofOfConcept",
]
NUCLEI_KEYS = [
    "matcher-name",
    "matcher_name",
    "type",
    "host",
    "matched-at",
    "matched",
    "ip",
    "port",
    "url",
    "path",
    "extracted-results",
    "request",
    "response",
    "curl-command",
    "fuzzing_parameter",
]
NUCLEI_INFO_KEYS = ["name", "severity", "description", "remediation", "reference", "tags", "impact"]
CLASSIFICATION_KEYS = ["cve-id", "cwe-id", "cvss-metrics", "cvss-score", "cpe", "Cwe", "Cvss",
                       "Cvss31", "Cvss40"]  # fmt: skip


@FUZZ
@given(value=JSON_VALUES)
def test_random_json_documents(workdir: Path, value: Any) -> None:
    path = write(workdir, "value.json", json.dumps(value).encode())
    for importer in IMPORTERS:
        check(path, importer)


@FUZZ
@given(
    site=some_of(["@name", "@host", "@port"]),
    alert=some_of(ZAP_ALERT_KEYS),
    instances=st.lists(some_of(ZAP_INSTANCE_KEYS), max_size=3),
)
def test_zap_json_with_random_fields(
    workdir: Path, site: dict[str, Any], alert: dict[str, Any], instances: list[Any]
) -> None:
    alert = {"pluginid": "1", **alert, "instances": instances}
    report = {"@version": "2", "site": [{**site, "alerts": [alert]}]}
    path = write(workdir, "zap.json", json.dumps(report).encode())
    assert check(path, ZapImporter) in {-1, max(1, len(instances))}


@FUZZ
@given(item=some_of(ACUNETIX_KEYS), classification=some_of(CLASSIFICATION_KEYS),
       target=JSON_VALUES)  # fmt: skip
def test_acunetix_json_with_random_fields(
    workdir: Path, item: dict[str, Any], classification: dict[str, Any], target: Any
) -> None:
    item = {"Type": "T", **item, "Classification": classification}
    report = {"Generated": "x", "Target": target, "Vulnerabilities": [item]}
    path = write(workdir, "a360.json", json.dumps(report).encode())
    assert check(path, AcunetixImporter) in {-1, 1}


@FUZZ
@given(obj=some_of(NUCLEI_KEYS), info=some_of(NUCLEI_INFO_KEYS),
       classification=some_of(CLASSIFICATION_KEYS), as_array=st.booleans())  # fmt: skip
def test_nuclei_with_random_fields(
    workdir: Path,
    obj: dict[str, Any],
    info: dict[str, Any],
    classification: dict[str, Any],
    as_array: bool,
) -> None:
    obj = {"template-id": "t", **obj, "info": {**info, "classification": classification}}
    text = json.dumps([obj, obj]) if as_array else json.dumps(obj) + "\n" + json.dumps(obj)
    path = write(workdir, "nuclei.json", text.encode())
    assert check(path, NucleiImporter) in {-1, 2}


@FUZZ
@given(name=st.sampled_from(sorted(SAMPLES)), cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_samples(workdir: Path, name: str, cut: float) -> None:
    data = SAMPLES[name]
    path = write(workdir, name, data[: int(len(data) * cut)])
    for importer in IMPORTERS:
        check(path, importer)


@FUZZ
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    edits=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=1.0), st.integers(0, 3), st.binary(max_size=4)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_samples(workdir: Path, name: str, edits: list[tuple[float, int, bytes]]) -> None:
    data = bytearray(SAMPLES[name])
    for where, removed, inserted in edits:
        at = int(len(data) * where)
        data[at : at + removed] = inserted
    path = write(workdir, name, bytes(data))
    for importer in IMPORTERS:
        check(path, importer)


def test_samples_are_valid(workdir: Path) -> None:
    owners: dict[str, type[Importer]] = {
        "zap": ZapImporter,
        "acunetix": AcunetixImporter,
        "nuclei": NucleiImporter,
    }
    for name, data in SAMPLES.items():
        path = write(workdir, name, data)
        owner = owners[name.split(".")[0]]
        assert check(path, owner) >= 1, name
        for importer in IMPORTERS:
            assert importer.sniff(path, data[:SNIFF_BYTES]) is (importer is owner), name


# ------------------------------------------------------------- XML attacks

LAUGHS = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
ATTACKS = {
    "billion_laughs": f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY lol0 "lol">{LAUGHS}]>'
    "<{root}>&lol9;</{root}>",
    "xxe_file": '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    "<{root}>&x;</{root}>",
    "xxe_parameter": '<!DOCTYPE r [<!ENTITY % p SYSTEM "http://198.51.100.1/x.dtd"> %p;]><{root}/>',
    "external_dtd": '<!DOCTYPE r SYSTEM "http://198.51.100.1/x.dtd"><{root}/>',
    "plain_doctype": "<!DOCTYPE {root}><{root}/>",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize(
    ("importer", "root"), [(ZapImporter, "OWASPZAPReport"), (AcunetixImporter, "ScanGroup")]
)
def test_dtds_are_refused_unexpanded(
    tmp_path: Path, attack: str, importer: type[Importer], root: str
) -> None:
    path = tmp_path / "attack.xml"
    path.write_text(ATTACKS[attack].replace("{root}", root), encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ImportFormatError) as info:
        list(importer().parse(path))
    assert info.value.problem == w.problem("xml_dtd")
    assert "root:" not in str(info.value)
    assert time.monotonic() - started < 1.0


def test_xml_bad_encoding_and_utf16(tmp_path: Path) -> None:
    path = tmp_path / "enc.xml"
    path.write_bytes(b'<?xml version="1.0" encoding="no-such-codec"?><OWASPZAPReport/>')
    with pytest.raises(ImportFormatError):
        list(ZapImporter().parse(path))
    path.write_bytes(XML_REPORT.replace('<?xml version="1.0"?>', "").encode("utf-16"))
    assert ZapImporter.sniff(path, path.read_bytes()[:SNIFF_BYTES])
    assert check(path, ZapImporter) == 2


def test_records_are_detached_once_used(tmp_path: Path) -> None:
    path = tmp_path / "zap.xml"
    path.write_text(XML_REPORT, encoding="utf-8")
    seen = []
    root = None
    for elem, ancestors in w.iter_xml(
        path, roots=frozenset({"OWASPZAPReport"}), records=frozenset({"alertitem"})
    ):
        assert len(elem) > 0  # complete while the importer looks at it
        seen.append(elem)
        root = ancestors[0]
    assert len(seen) == 1 and len(seen[0]) == 0
    assert root is not None and root.find("site/alerts/alertitem") is None


# --------------------------------------------------------------- helpers


def test_html_to_text() -> None:
    html = (
        "<div><p>One &amp; <b>two</b></p><script>alert(1)</script><style>p{}</style>"
        "<ul><li>a</li><li>b</li></ul>x&nbsp;&lt;y&gt;<br/>z</div>"
    )
    assert w.html_to_text(html) == "One & two\n\n- a\n- b\nx\xa0<y>\nz"
    assert w.html_to_text("plain\n\n\n\n  text  ") == "plain\n\ntext"
    assert w.html_to_text("<![if x]><!x") is not None
    assert w.html_to_text(None) is None
    assert w.html_to_text("<p> </p>") is None


def test_urls_in() -> None:
    assert w.urls_in("<a href='https://a.example.com/x'>A</a> see http://b.example.com/y.") == [
        "https://a.example.com/x",
        "http://b.example.com/y",
    ]
    assert w.urls_in("javascript:alert(1) ftp://x", None, 3) == []


def test_split_url_and_host_port() -> None:
    parts = w.split_url("HTTPS://WWW.Example.COM:443/a?b")
    assert (parts.scheme, parts.host, parts.port, parts.origin) == (
        "https", "www.example.com", 443, "https://www.example.com",
    )  # fmt: skip
    assert w.split_url("http://[::1]:8080/").origin == "http://[::1]:8080"
    assert w.split_url("http://127.0.0.1:99999/") == w.UrlParts()
    assert w.split_url("/relative") == w.UrlParts()
    assert w.split_host_port("[::1]:22") == ("::1", 22)
    assert w.split_host_port("Host.Example.com:8080/x") == ("host.example.com", 8080)
    assert w.split_host_port("192.0.2.1") == ("192.0.2.1", None)
    assert w.split_host_port("::1") == ("::1", None)
    assert w.join_url("https://www.example.com/app/", "/x?y=1") == "https://www.example.com/x?y=1"


def test_identifier_normalisation() -> None:
    assert w.cve_ids(["cve-2021-44228", "CVE-2021-44228"], "CVE-2014-0160; x") == [
        "CVE-2021-44228",
        "CVE-2014-0160",
    ]
    assert w.cwe_ids("CWE-79, 89", ["cwe-79", 0, -1, "x"], 352) == [79, 89, 352]
    assert w.cwe_id("0") is None and w.cwe_id(-1) is None and w.cwe_id(True) is None
    assert w.cvss_vector("CVSS:3.1/AV:N") == ("CVSS:3.1/AV:N", None)
    assert w.cvss_vector("CVSS:4.0/AV:N") == (None, "CVSS:4.0/AV:N")
    assert w.cvss_vector("AV:N/AC:L/Au:N") == (None, None)
    assert [w.cvss_score(v) for v in ("5.3", 10, "nan", "11", "x", None)] == [
        5.3, 10.0, None, None, None, None,
    ]  # fmt: skip


def test_text_drops_nul_and_lone_surrogates() -> None:
    assert w.text(" a\x00b\ud800 ") == "ab"
    assert w.text(True) is None and w.text([1]) is None and w.text(3) == "3"
    assert w.clip("x" * 10, 4) == "xxxx…"
