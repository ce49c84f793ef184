"""Hypothesis: arbitrary input only ever raises DslError, terminates quickly, stays pure."""

from __future__ import annotations

import builtins
import io
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.core.i18n import catalogue
from shaobing.templates.dsl import KNOWN_FUNCTIONS, DslError, compile_expression, interpolate

_SAFE_FUNCTIONS = sorted(KNOWN_FUNCTIONS - {"wait_for", "waitfor"})
_TOKENS = st.sampled_from(
    [*_SAFE_FUNCTIONS, "(", ")", ",", "+", "-", "*", "/", "%", "**", "==", "!=", "<", ">=",
     "&&", "||", "!", "?", ":", "??", "=~", "in", "&", "|", "^", "<<", ">>", "~", "'a+'",
     '"(x+)+"', "1", "0", "-1", "1000000000", "9999999999999999999999", "1.5", "true",
     "nil", "body", "status_code", "x-y", "[a-b]", "'\\\\'", "{{", "}}"]
)  # fmt: skip
_VARIABLES: dict[str, Any] = {
    "body": "<html>Hello 世界</html>",
    "status_code": 200,
    "x": 1,
    "y": 2.5,
    "a-b": b"\x00\xff",
}


def _forbidden(*args: object, **kwargs: object) -> None:
    raise AssertionError("the DSL touched the file system or the network")


@contextmanager
def _no_io() -> Iterator[None]:
    """Make file and socket access fail loudly while the DSL (and only the DSL) runs."""
    catalogue("zh-CN")  # message catalogues are read once, before the guard is on
    catalogue("en")
    with pytest.MonkeyPatch.context() as patch:
        for target, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "listdir")):
            patch.setattr(target, name, _forbidden)
        for name in ("socket", "create_connection", "getaddrinfo", "gethostbyname"):
            patch.setattr(socket, name, _forbidden)
        yield


def _run(text: str, variables: dict[str, Any] | None = None) -> None:
    with _no_io():
        with suppress(DslError):
            compile_expression(text).evaluate(_VARIABLES if variables is None else variables)
        interpolate(text, _VARIABLES)


@settings(max_examples=400, deadline=2000)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    _run(text)
    _run("{{" + text + "}}")


@settings(max_examples=600, deadline=2000)
@given(st.lists(_TOKENS, max_size=30))
def test_token_soup(tokens: list[str]) -> None:
    text = " ".join(tokens)
    _run(text)


@settings(max_examples=300, deadline=2000)
@given(
    st.sampled_from(_SAFE_FUNCTIONS),
    st.lists(
        st.one_of(
            st.integers(-(10**12), 10**12),
            st.text(max_size=30),
            st.binary(max_size=30),
            st.floats(allow_nan=True),
            st.booleans(),
        ),
        max_size=4,
    ),
)
def test_helpers_with_arbitrary_arguments(name: str, args: list[Any]) -> None:
    variables = {f"v{i}": value for i, value in enumerate(args)}
    call = f"{name}({', '.join(variables)})"
    _run(call, variables)
