"""Property tests: hostile ledger files only ever fail with LedgerFormatError."""

from __future__ import annotations

import csv
import dataclasses
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.assets import ledger_io
from shaobing.assets.kinds import AssetType
from shaobing.assets.ledger_io import (
    LedgerFormatError,
    LedgerRow,
    read_ledger,
    write_ledger,
    write_template,
)
from tests.assets.test_ledger_io import HEADERS

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Hypothesis reruns the test body many times; function-scoped tmp_path would be shared.
    with tempfile.TemporaryDirectory(prefix="ledger-fuzz-") as name:
        yield Path(name)


@pytest.fixture(scope="module")
def template_bytes(workdir: Path) -> bytes:
    path = workdir / "template.xlsx"
    write_template(path)
    return path.read_bytes()


def check_read(path: Path) -> int:
    """Reading either succeeds with well-formed results or raises LedgerFormatError.

    Returns the number of rows read, -1 for a refused file.
    """
    refused: str | None = None
    try:
        rows, errors = read_ledger(path)
    except LedgerFormatError as exc:
        refused = str(exc)
    if refused is not None:
        assert path.name in refused
        assert "\n" not in refused
        return -1
    for row in rows:
        assert row.name
        assert row.addresses or row.hostname or row.url
        for level in (row.confidentiality, row.integrity, row.availability):
            assert 1 <= level <= 5
    for error in errors:
        message = error.message()
        assert message
        assert "\n" not in message
        assert not error.reason.startswith("ledger.")
    return len(rows)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_as_csv(workdir: Path, data: bytes) -> None:
    path = workdir / "fuzz.csv"
    path.write_bytes(data)
    check_read(path)


@FUZZ
@given(text=st.text(max_size=600), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_random_text_as_csv(workdir: Path, text: str, encoding: str) -> None:
    path = workdir / "fuzz.csv"
    path.write_bytes(text.encode(encoding))
    check_read(path)


CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "3",
            "３",
            "高",
            "0",
            "6",
            "主机",
            "打印机",
            "192.0.2.1",
            "2001:db8::1, 192.0.2.1",
            "192.0.2.300",
            "=1+1",
            "'=1+1",
            "https://www.example.gov.cn",
            "a\nb",
            '"',
        ]
    ),
)


@FUZZ
@given(
    header=st.one_of(
        st.permutations([*HEADERS, "序号"]),
        st.lists(st.sampled_from([*HEADERS, "序号", "名称", "C", "", "未知列"]), max_size=20),
    ),
    body=st.lists(st.lists(CELL, min_size=10, max_size=20), max_size=8),
    title=st.booleans(),
)
def test_structured_csv(
    workdir: Path, header: list[str], body: list[list[str]], title: bool
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    if title:
        writer.writerow(["XX单位资产台账"])
    writer.writerow(header)
    writer.writerows(body)
    path = workdir / "structured.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")
    check_read(path)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_random_bytes_as_xlsx(workdir: Path, data: bytes) -> None:
    path = workdir / "fuzz.xlsx"
    path.write_bytes(data)
    check_read(path)


@settings(FUZZ, max_examples=200)
@given(
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_mutated_xlsx(
    workdir: Path, template_bytes: bytes, edits: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(template_bytes)
    for position, value in edits:
        data[position % len(data)] = value
    if cut is not None:
        del data[cut % len(data) :]
    path = workdir / "mutated.xlsx"
    path.write_bytes(bytes(data))
    check_read(path)


TEXT = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\u0085"
        ),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)
OPTIONAL = st.one_of(st.none(), TEXT)
LEVEL = st.integers(1, 5)


@st.composite
def ledger_rows(draw: st.DrawFn) -> list[LedgerRow]:
    count = draw(st.integers(0, 6))
    names = draw(st.lists(TEXT, min_size=count, max_size=count, unique_by=ledger_io._duplicate_key))
    rows = []
    for index, name in enumerate(names):
        v6 = draw(st.booleans())
        address = f"2001:db8::{index + 1:x}" if v6 else f"192.0.2.{index + 1}"
        rows.append(
            LedgerRow(
                row=0,
                name=name,
                asset_type=draw(st.sampled_from(list(AssetType))),
                addresses=[address],
                hostname=draw(
                    st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True))
                ),
                url=draw(st.sampled_from([None, "www.example.gov.cn", "https://192.0.2.9/x"])),
                os=draw(OPTIONAL),
                system=draw(OPTIONAL),
                zone=draw(OPTIONAL),
                owner=draw(OPTIONAL),
                importance=draw(OPTIONAL),
                confidentiality=draw(LEVEL),
                integrity=draw(LEVEL),
                availability=draw(LEVEL),
                vendor=draw(OPTIONAL),
                version=draw(OPTIONAL),
                location=draw(OPTIONAL),
                notes=draw(OPTIONAL),
            )
        )
    return rows


@settings(FUZZ, max_examples=60)
@given(rows=ledger_rows(), fmt=st.sampled_from(["csv", "xlsx"]))
def test_round_trip(workdir: Path, rows: list[LedgerRow], fmt: str) -> None:
    path = workdir / f"round.{fmt}"
    write_ledger(path, rows)
    read, errors = read_ledger(path)
    assert errors == []
    assert [dataclasses.replace(r, row=0) for r in read] == rows
