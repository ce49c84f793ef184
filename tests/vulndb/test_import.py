"""Importing the feeds into both databases: content, updates, idempotence, atomicity."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from shaobing.core.db import session_scope
from shaobing.core.errors import ValidationError
from shaobing.vulndb.models import CpeCriterionRecord, Cve, VulndbImport
from shaobing.vulndb.query import candidate_criteria, criteria_for_cves, cve_summaries
from shaobing.vulndb.service import import_paths, status
from shaobing.vulndb.sources import FeedKind
from tests.vulndb import feeds


def _nvd(
    tmp_path: Path, name: str = "nvdcve-2.0-2024.json", *, gz: bool = False, **kw: object
) -> Path:
    items = [
        feeds.nvd_cve("CVE-2024-0001", configurations=feeds.openssh_config()),
        feeds.nvd_cve(
            "CVE-2024-0002",
            configurations=feeds.running_on_config(),
            score=7.5,
            severity="HIGH",
            extra_descriptions=[{"lang": "zh", "value": "示例漏洞。"}],
        ),
        feeds.nvd_cve("CVE-2024-0003", status="Rejected", text="** REJECT ** Duplicate."),
    ]
    return feeds.write_json(tmp_path / name, feeds.nvd_document(items), gz=gz, **kw)  # type: ignore[arg-type]


def _count(engine: Engine, model: type) -> int:
    with session_scope(engine, readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_nvd_import_stores_records_and_criteria(engine: Engine, tmp_path: Path) -> None:
    [summary] = import_paths(engine, [_nvd(tmp_path, "page.json.gz", gz=True)])
    assert (summary.kind, summary.records, summary.inserted, summary.updated) == ("nvd", 3, 3, 0)
    with session_scope(engine, readonly=True) as session:
        cve = session.get(Cve, "CVE-2024-0001")
        assert cve is not None
        assert cve.source == "nvd"
        assert cve.description == "A flaw in the example product."
        assert cve.cvss3_score == 9.8 and cve.cvss3_severity == "critical"  # Primary wins
        assert cve.cvss3_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
        assert cve.cwe_ids == ["CWE-787"]
        assert cve.reference_urls == ["https://example.org/advisory/CVE-2024-0001"]
        assert cve.modified == datetime(2024, 2, 1, 10, 0, tzinfo=UTC)
        assert cve.criteria_count == 3
        second = session.get(Cve, "CVE-2024-0002")
        assert second is not None and second.description == "示例漏洞。"  # Chinese preferred
        rejected = session.get(Cve, "CVE-2024-0003")
        assert rejected is not None and rejected.rejected
        rows = candidate_criteria(session, None, "OpenSSH")
        assert [(r.version, r.version_end_excluding) for r in rows] == [
            ("*", "9.3"),
            ("9.3", None),
            ("9.3", None),
        ]
        assert all(r.cve_id == "CVE-2024-0001" and r.vulnerable for r in rows)
        node = candidate_criteria(session, "node.js", "node.js")
        assert len(node) == 1
        assert node[0].criteria == "cpe:2.3:a:node\\.js:node\\.js:*:*:*:*:*:*:*:*"
        assert (node[0].version_start_including, node[0].version_end_excluding) == (
            "18.0.0",
            "18.19.1",
        )
        assert (node[0].config_operator, node[0].node_index) == ("AND", 0)
        assert candidate_criteria(session, "other", "node.js") == []
        whole = criteria_for_cves(session, ["CVE-2024-0002"])["CVE-2024-0002"]
        assert [(r.product, r.node_index, r.vulnerable, r.part) for r in whole] == [
            ("node.js", 0, True, "a"),
            ("windows", 1, False, "o"),
        ]


def test_same_file_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = _nvd(tmp_path)
    import_paths(engine, [path])
    [again] = import_paths(engine, [path])
    assert again.already_imported and again.unchanged == 3 and again.inserted == 0
    # The same data in a differently formatted file goes through the record comparison.
    copy = _nvd(tmp_path, "reformatted.json", indent=None)
    [third] = import_paths(engine, [copy])
    assert not third.already_imported
    assert (third.inserted, third.updated, third.unchanged) == (0, 0, 3)
    assert _count(engine, CpeCriterionRecord) == 5
    assert _count(engine, VulndbImport) == 2


def test_newer_record_replaces_row_and_criteria(engine: Engine, tmp_path: Path) -> None:
    import_paths(engine, [_nvd(tmp_path)])
    newer = feeds.nvd_cve(
        "CVE-2024-0001",
        modified="2024-03-05T00:00:00.000",
        text="Updated text.",
        configurations=[
            {
                "nodes": [
                    {
                        "operator": "OR",
                        "negate": False,
                        "cpeMatch": [
                            feeds.cpe_match(
                                "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*",
                                versionEndIncluding="9.6",
                            )
                        ],
                    }
                ]
            }
        ],
    )
    older = feeds.nvd_cve("CVE-2024-0002", modified="2023-01-01T00:00:00.000", text="Old.")
    path = feeds.write_json(tmp_path / "update.json", feeds.nvd_document([newer, older]))
    [summary] = import_paths(engine, [path])
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 1)
    with session_scope(engine, readonly=True) as session:
        cve = session.get(Cve, "CVE-2024-0001")
        assert cve is not None and cve.description == "Updated text." and cve.criteria_count == 1
        rows = candidate_criteria(session, "openbsd", "openssh")
        assert [(r.version_end_including, r.version_end_excluding) for r in rows] == [("9.6", None)]
        kept = session.get(Cve, "CVE-2024-0002")
        assert kept is not None and kept.description == "示例漏洞。"
        info = status(session)
        assert info["newest_modified"].startswith("2024-03-05")
        assert info["criteria"] == 3


def test_truncated_file_is_refused_and_rolled_back(engine: Engine, tmp_path: Path) -> None:
    good = _nvd(tmp_path).read_bytes()
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(gzip.compress(good[: len(good) - 400]))
    with pytest.raises(ValidationError, match=r"broken\.json\.gz.*不完整"):
        import_paths(engine, [broken], FeedKind.NVD)
    assert _count(engine, Cve) == 0
    assert _count(engine, CpeCriterionRecord) == 0
    assert _count(engine, VulndbImport) == 0


def test_cve5_tree_import_and_nvd_precedence(engine: Engine, tmp_path: Path) -> None:
    root = feeds.cve5_tree(
        tmp_path / "cvelistV5",
        [
            feeds.cve5_record("CVE-2024-0001"),
            feeds.cve5_record("CVE-2024-1234"),
            feeds.cve5_record("CVE-2023-50000", state="REJECTED"),
        ],
    )
    [summary] = import_paths(engine, [root])
    assert (summary.kind, summary.records, summary.inserted) == ("cve5", 3, 3)
    with session_scope(engine, readonly=True) as session:
        cve = session.get(Cve, "CVE-2024-1234")
        assert cve is not None and cve.source == "cve5"
        assert cve.description == "Example HTTPD 存在越界写入漏洞。"
        assert (cve.cvss3_score, cve.cvss3_severity, cve.cwe_ids) == (9.1, "critical", ["CWE-787"])
        rows = candidate_criteria(session, "example_org", "example_httpd")
        assert {
            (r.cve_id, r.version, r.version_start_including, r.version_end_excluding) for r in rows
        } >= {
            ("CVE-2024-1234", "*", "2.4.0", "2.4.58"),
            ("CVE-2024-1234", "2.2.34", None, None),
        }
        rejected = session.get(Cve, "CVE-2023-50000")
        assert rejected is not None and rejected.rejected and rejected.criteria_count == 0
        assert rejected.description == "Duplicate of CVE-2024-0001."
    # NVD has CPE configurations for CVE-2024-0001, so it takes over that record even
    # though the CVE 5 record is newer; re-importing the CVE 5 tree then changes nothing.
    import_paths(engine, [_nvd(tmp_path)])
    [again] = import_paths(engine, [root])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    with session_scope(engine, readonly=True) as session:
        cve = session.get(Cve, "CVE-2024-0001")
        assert cve is not None and cve.source == "nvd" and cve.criteria_count == 3


def test_enrichment_feeds(engine: Engine, tmp_path: Path) -> None:
    kev = feeds.write_json(
        tmp_path / "known_exploited_vulnerabilities.json",
        feeds.kev_document([("CVE-2024-0001", "2024-02-01", "2024-02-22", "Known")]),
    )
    kev_csv = tmp_path / "known_exploited_vulnerabilities.csv"
    kev_csv.write_text(feeds.KEV_CSV.replace("CVE-2024-0001", "CVE-2024-0002"))
    epss = tmp_path / "epss_scores-2024-03-01.csv.gz"
    epss.write_bytes(gzip.compress(feeds.EPSS_CSV.encode()))
    mapping = tmp_path / "cnvd.csv"
    mapping.write_bytes(
        feeds.MAPPING_CSV.replace("cve,cnvd,cnnvd", "CVE编号,CNVD编号,CNNVD编号").encode("gbk")
    )
    # Enrichment first: stub rows, later filled by the NVD record without losing anything.
    summaries = import_paths(engine, [kev, kev_csv, epss, mapping])
    assert [s.kind for s in summaries] == ["kev", "kev", "epss", "cnvd"]
    assert [s.inserted for s in summaries] == [1, 1, 1, 0]
    import_paths(engine, [_nvd(tmp_path)])
    with session_scope(engine, readonly=True) as session:
        summary = cve_summaries(session, ["CVE-2024-0001", "CVE-2024-0002", "CVE-2000-9999"])
        first = summary["CVE-2024-0001"]
        assert (first.kev, first.kev_due_date, first.kev_ransomware) == (
            True,
            date(2024, 2, 22),
            True,
        )
        assert (first.epss_score, first.epss_percentile) == (0.97, 0.999)
        assert (first.cnvd_ids, first.cnnvd_ids) == (("CNVD-2024-01234",), ("CNNVD-202401-1234",))
        assert (first.severity, first.score) == ("critical", 9.8)
        assert summary["CVE-2024-0002"].cnvd_ids == ("CNVD-2024-05678", "CNVD-2024-05679")
        assert summary["CVE-2024-0002"].kev and summary["CVE-2024-0002"].kev_ransomware
        assert "CVE-2000-9999" not in summary
        info = status(session)
        assert (info["cves"], info["kev"], info["epss"], info["cnvd"], info["cnnvd"]) == (
            3,
            2,
            3,
            2,
            1,
        )
        assert info["enrichment_only"] == 1  # CVE-1999-0001 from EPSS only
        assert info["last_import"]["epss"]["records"] == 3
    # An older EPSS file never overwrites newer scores.
    older = tmp_path / "epss_scores-2024-02-01.csv"
    older.write_text(feeds.EPSS_CSV.replace("2024-03-01", "2024-02-01").replace("0.97000", "0.5"))
    [summary_old] = import_paths(engine, [older])
    assert (summary_old.updated, summary_old.unchanged) == (0, 3)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "epss_scores-2024-03-01.csv",
            "cve,epss,percentile\nCVE-2024-1,0.1,0.2\n",
            "第 2 行.*CVE-2024-1",
        ),
        (
            "scores.csv",
            "#model_version:v1,score_date:2024-03-01T00:00:00Z\ncve,epss,percentile\n"
            "CVE-2024-0001,1.5,0.2\n",
            "第 3 行",
        ),
        ("scores.csv", "#model_version:v1\ncve,epss,percentile\n", "缺少评分日期"),
    ],
)
def test_bad_epss_rows_name_the_line(
    engine: Engine, tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValidationError, match=message):
        import_paths(engine, [path], FeedKind.EPSS)
    assert _count(engine, Cve) == 0


def test_folder_walk_skips_unknown_files(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    folder.mkdir()
    shutil.copy(_nvd(tmp_path), folder / "a.json")
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    from shaobing.vulndb.service import plan_units

    units, skipped = plan_units([folder])
    assert [(u.kind, u.path.name) for u in units] == [(FeedKind.NVD, "a.json")]
    assert [p.name for p in skipped] == ["notes.csv"]
    with pytest.raises(ValidationError, match=r"notes\.csv"):
        plan_units([folder / "notes.csv"])
