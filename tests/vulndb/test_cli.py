"""``shaobing vulndb import/status`` through the in-process CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner
from tests.vulndb import feeds


@pytest.fixture(autouse=True)
def _registered() -> None:
    """Register the command group until cli/main.py does it itself."""
    from shaobing.cli import vulndb
    from shaobing.cli.main import app

    if not any(group.name == "vulndb" for group in app.registered_groups):
        app.add_typer(vulndb.app, name="vulndb")


def _feeds(tmp_path: Path) -> Path:
    folder = tmp_path / "feeds"
    folder.mkdir()
    feeds.write_json(
        folder / "nvdcve-2.0-2024.json.gz",
        feeds.nvd_document(
            [
                feeds.nvd_cve("CVE-2024-0001", configurations=feeds.openssh_config()),
                feeds.nvd_cve("CVE-2024-0002", status="Rejected"),
            ]
        ),
        gz=True,
    )
    feeds.write_json(
        folder / "kev.json",
        feeds.kev_document([("CVE-2024-0001", "2024-02-01", "2024-02-22", "Unknown")]),
    )
    (folder / "epss_scores-2024-03-01.csv").write_text(feeds.EPSS_CSV)
    (folder / "map.csv").write_bytes(feeds.MAPPING_CSV.encode("utf-8-sig"))
    (folder / "readme.txt").write_text("not a feed")
    return folder


def test_import_folder_and_status(cli: CliRunner, tmp_path: Path) -> None:
    folder = _feeds(tmp_path)
    data = cli.json("vulndb", "import", str(folder))
    assert isinstance(data, dict)
    kinds = {Path(item["path"]).name: item["kind"] for item in data["imports"]}
    assert kinds == {
        "nvdcve-2.0-2024.json.gz": "nvd",
        "kev.json": "kev",
        "epss_scores-2024-03-01.csv": "epss",
        "map.csv": "cnvd",
    }
    nvd = next(i for i in data["imports"] if i["kind"] == "nvd")
    assert (nvd["records"], nvd["inserted"], nvd["updated"], nvd["unchanged"]) == (2, 2, 0, 0)
    assert data["skipped"] == []  # readme.txt is not a feed file name at all
    status = cli.json("vulndb", "status")
    assert isinstance(status, dict)
    assert (status["cves"], status["rejected"], status["kev"], status["epss"]) == (2, 1, 1, 3)
    assert (status["cnvd"], status["cnnvd"], status["criteria"]) == (2, 1, 3)
    assert status["last_import"]["kev"]["records"] == 1
    assert status["last_import"]["cve5"] is None
    table = cli.ok("vulndb", "status").out
    assert "CVE 记录" in table and "已知被利用（KEV）" in table
    again = cli.json("vulndb", "import", str(folder / "kev.json"))
    assert isinstance(again, dict)
    [summary] = again["imports"]
    assert summary["already_imported"] and summary["unchanged"] == 1
    assert "漏洞库导入" in cli.ok("vulndb", "import", str(folder / "kev.json")).out


def test_import_errors_are_one_line(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"vulnerabilities": [{"cve": {"id": "CVE-2024-0001"}}, {"cve": ')
    result = cli("vulndb", "import", "--kind", "nvd", str(bad))
    assert result.code == 1
    assert "bad.json" in result.err and "不完整" in result.err
    assert "Traceback" not in result.err
    assert cli.json("vulndb", "status")["cves"] == 0  # type: ignore[index]
    unknown = tmp_path / "x.csv"
    unknown.write_text("a,b\n")
    result = cli("vulndb", "import", str(unknown))
    assert result.code == 1 and "--kind" in result.err
    result = cli("vulndb", "import", "--kind", "nvdx", str(bad))
    assert result.code == 1 and "nvdx" in result.err
    result = cli("vulndb", "import", str(tmp_path / "missing.json"))
    assert result.code == 1 and "missing.json" in result.err
