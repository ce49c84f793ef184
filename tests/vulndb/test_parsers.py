"""Record parsers: NVD and CVE 5 mapping, CPE splitting, sniffing, enrichment rows."""

from __future__ import annotations

import contextlib
import gzip
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.vulndb.cve5 import cve5_record
from shaobing.vulndb.enrich import read_epss, read_kev_csv, read_mapping
from shaobing.vulndb.jsonstream import JsonStream
from shaobing.vulndb.nvd import nvd_record, read_nvd
from shaobing.vulndb.records import cpe_field, severity, split_cpe23
from shaobing.vulndb.sources import FeedKind, open_feed, sniff_kind
from tests.vulndb import feeds


def test_split_cpe23_respects_escaped_colons() -> None:
    parts = split_cpe23("cpe:2.3:a:vendor\\:x:prod\\\\:1.0:*:*:*:*:*:*:*")
    assert parts is not None and parts[3:6] == ["vendor\\:x", "prod\\\\", "1.0"]
    assert cpe_field(parts[3]) == "vendor:x"
    assert split_cpe23("cpe:/a:openbsd:openssh:9.3") is None
    assert split_cpe23("cpe:2.3:a:too:short") is None


def test_severity_from_score_when_missing() -> None:
    # CVSS v3.1 qualitative scale.
    assert [severity(None, s) for s in (0.0, 0.1, 3.9, 4.0, 7.0, 8.9, 9.0)] == [
        "none",
        "low",
        "low",
        "medium",
        "high",
        "high",
        "critical",
    ]
    assert severity("HIGH", 9.9) == "high"


def test_nvd_record_keeps_configuration_structure() -> None:
    record = nvd_record(feeds.nvd_cve("CVE-2024-0002", configurations=feeds.running_on_config()))
    assert record is not None
    shape = [
        (c.config_index, c.config_operator, c.node_index, c.node_operator, c.vulnerable, c.vendor)
        for c in record.criteria
    ]
    assert shape == [(0, "AND", 0, "OR", True, "node.js"), (0, "AND", 1, "OR", False, "microsoft")]
    assert nvd_record({"cve": {"id": "CVE-24-1"}}) is None
    assert nvd_record([]) is None


def test_nvd_record_skips_unusable_criteria() -> None:
    config = [
        {
            "nodes": [
                {
                    "operator": "OR",
                    "cpeMatch": [
                        feeds.cpe_match(
                            "cpe:2.3:a:x:y:*:*:*:*:*:*:*:*", versionEndExcluding="1" * 500
                        ),
                        feeds.cpe_match("not a cpe"),
                        {"vulnerable": True},
                        feeds.cpe_match("cpe:2.3:a:x:y:1.0:*:*:*:*:*:*:*"),
                    ],
                }
            ]
        }
    ]
    record = nvd_record(feeds.nvd_cve("CVE-2024-0009", configurations=config))
    assert record is not None and [c.version for c in record.criteria] == ["1.0"]


def test_cve5_record_maps_affected_versions() -> None:
    record = cve5_record(
        feeds.cve5_record(
            "CVE-2024-4321",
            affected=[
                {
                    "vendor": "Acme",
                    "product": "Web Server (Pro)",
                    "versions": [
                        {"version": "0", "lessThanOrEqual": "5.7.44", "status": "affected"},
                        {
                            "version": "abc123",
                            "lessThan": "def456",
                            "status": "affected",
                            "versionType": "git",
                        },
                    ],
                },
                {"vendor": "Acme", "product": "Agent", "defaultStatus": "affected"},
                {
                    "vendor": "x",
                    "product": "y",
                    "cpes": ["cpe:2.3:a:mariadb:mariadb:*:*:*:*:*:*:*:*"],
                    "versions": [
                        {"version": "10.11.0", "lessThan": "10.11.19", "status": "affected"}
                    ],
                },
            ],
        )
    )
    assert record is not None
    got = [
        (
            c.config_index,
            c.vendor,
            c.product,
            c.version,
            c.version_start_including,
            c.version_end_including,
            c.version_end_excluding,
        )
        for c in record.criteria
    ]
    assert got == [
        (0, "acme", "web_server_(pro)", "*", None, "5.7.44", None),
        (1, "acme", "agent", "*", None, None, None),
        (2, "mariadb", "mariadb", "*", "10.11.0", None, "10.11.19"),
    ]
    assert record.criteria[0].criteria == "cpe:2.3:a:acme:web_server_\\(pro\\):*:*:*:*:*:*:*:*"


def test_sniffing(tmp_path: Path) -> None:
    nvd = feeds.write_json(
        tmp_path / "x.bin", feeds.nvd_document([feeds.nvd_cve("CVE-2024-0001")]), gz=True
    )
    kev = feeds.write_json(tmp_path / "k.json", feeds.kev_document([]))
    cve5 = feeds.write_json(tmp_path / "c.json", feeds.cve5_record("CVE-2024-0001"))
    epss = tmp_path / "e.csv"
    epss.write_text(feeds.EPSS_CSV)
    kev_csv = tmp_path / "k.csv"
    kev_csv.write_text(feeds.KEV_CSV)
    mapping = tmp_path / "m.csv"
    mapping.write_text(feeds.MAPPING_CSV)
    other = tmp_path / "o.json"
    other.write_text('{"hello": 1}')
    kinds = [sniff_kind(p) for p in (nvd, kev, cve5, epss, kev_csv, mapping, other)]
    assert kinds == [
        FeedKind.NVD,
        FeedKind.KEV,
        FeedKind.CVE5,
        FeedKind.EPSS,
        FeedKind.KEV,
        FeedKind.CNVD,
        None,
    ]


def test_bad_gzip_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress(b'{"vulnerabilities": []}' * 100)[:30])
    with pytest.raises(ValidationError, match="gzip"), open_feed(path) as reader:
        list(read_nvd(JsonStream(reader, str(path))))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("cve,cnvd\nCVE-2024-0001,CNVD-24-1\n", "第 2 行.*CNVD-24-1"),
        ("cve,other\nCVE-2024-0001,x\n", "cnvd/cnnvd"),
        ('cve,cnvd\nCVE-2024-0001,"CNVD-2024-1\n', "CSV"),
    ],
)
def test_mapping_errors(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        list(read_mapping(io.BytesIO(content.encode()), "m.csv"))  # type: ignore[arg-type]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "cve",
                    "id",
                    "configurations",
                    "nodes",
                    "cpeMatch",
                    "criteria",
                    "metrics",
                    "cvssMetricV31",
                    "cvssData",
                    "baseScore",
                    "descriptions",
                    "lang",
                    "value",
                    "cveMetadata",
                    "cveId",
                    "containers",
                    "cna",
                    "affected",
                    "versions",
                    "version",
                    "lessThan",
                    "status",
                    "vendor",
                    "product",
                    "cpes",
                    "problemTypes",
                    "references",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_record_mappers_accept_any_json_shape(value: object) -> None:
    for document in (
        value,
        {"cve": value},
        {"cveMetadata": {"cveId": "CVE-2024-0001"}, "containers": {"cna": value}},
    ):
        nvd_record(document)
        cve5_record(document)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_csv_readers_raise_only_validation_error(data: bytes) -> None:
    for reader in (read_epss, read_kev_csv, read_mapping):
        with contextlib.suppress(ValidationError):
            list(reader(io.BytesIO(data), "epss_scores-2024-03-01.csv"))  # type: ignore[operator]
