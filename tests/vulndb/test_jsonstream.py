"""The streaming JSON reader: chunk boundaries, errors with positions, fuzzing."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.vulndb.jsonstream import JsonStream


def _stream(data: bytes, chunk: int = 7, max_chars: int = 1 << 20) -> JsonStream:
    return JsonStream(io.BytesIO(data), "feed.json", chunk_bytes=chunk, max_value_chars=max_chars)


def _items(data: bytes, **kw: Any) -> tuple[list[Any], dict[str, Any]]:
    meta: dict[str, Any] = {}
    return list(_stream(data, **kw).stream_array("vulnerabilities", meta)), meta


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(_json_values, max_size=6),
    before=st.dictionaries(st.text(max_size=8), _json_values, max_size=3),
    chunk=st.integers(min_value=1, max_value=40),
    indent=st.sampled_from([None, 0, 2]),
)
def test_items_survive_any_chunking(
    items: list[Any], before: dict[str, Any], chunk: int, indent: int | None
) -> None:
    before.pop("vulnerabilities", None)
    document = {**before, "vulnerabilities": items, "after": "x\u4e2d"}
    data = json.dumps(document, indent=indent, ensure_ascii=False).encode("utf-8")
    got, meta = _items(data, chunk=chunk)
    assert got == items
    assert meta == {**before, "after": "x\u4e2d"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=16))
def test_arbitrary_bytes_raise_only_validation_error(data: bytes, chunk: int) -> None:
    message = ""
    try:
        _items(data, chunk=chunk)
    except ValidationError as exc:
        message = str(exc)
    if message:
        assert "feed.json" in message
        assert "\n" not in message


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet='{}[]":,0123456789truefalsn \\"ab', max_size=200))
def test_json_like_text_raises_only_validation_error(text: str) -> None:
    with contextlib.suppress(ValidationError):
        _items(text.encode(), chunk=5)


def test_deep_nesting_is_refused_quickly() -> None:
    data = b'{"vulnerabilities": [' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    with pytest.raises(ValidationError, match="嵌套层数过深"):
        _items(data, chunk=1 << 16, max_chars=1 << 30)


def test_truncation_names_line_and_column() -> None:
    data = b'{"vulnerabilities": [\n  {"cve": {"id": "CVE-2024-0001"}},\n  {"cve": {"id": "CVE-20'
    with pytest.raises(ValidationError, match=r"不完整（在第 3 行第 3 列处中断）"):
        _items(data)


def test_invalid_json_names_the_position() -> None:
    data = b'{"vulnerabilities": [\n {"a": 1},\n {"a": 1,, "b": 2}]}'
    with pytest.raises(ValidationError, match=r"第 3 行第 10 列"):
        _items(data, chunk=4)


def test_oversized_item_is_refused() -> None:
    data = b'{"vulnerabilities": [{"a": "' + b"x" * 5000 + b'"}]}'
    with pytest.raises(ValidationError, match="超过 1000 个字符"):
        _items(data, chunk=64, max_chars=1000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"vulnerabilities": {"a": 1}}', "应为数组"),
        (b'{"vulnerabilities": []} []', "多余内容"),
        (b"[1, 2]", "意外字符"),
        (b"", "不完整"),
        (b'{"vulnerabilities": ["\xff"]}', "UTF-8"),
        (b'{"vulnerabilities": [1' + b"0" * 5000 + b"]}", "无效"),
    ],
)
def test_structural_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _items(data, chunk=3)


def test_numbers_split_across_chunks_and_bom() -> None:
    data = "\ufeff".encode() + b'{"vulnerabilities": [12345678, 1.5e10, "\\u4e2d"]}'
    assert _items(data, chunk=2)[0] == [12345678, 1.5e10, "中"]
