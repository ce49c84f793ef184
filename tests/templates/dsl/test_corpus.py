"""Every DSL expression of the community sample compiles (or is refused with a reason)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from shaobing.templates.dsl import (
    DslError,
    UnsupportedFunction,
    compile_expression,
    interpolate,
)

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpora" / "nuclei-templates"


def _expressions() -> list[str]:
    found: list[str] = []

    def walk(node: object, key: str | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str) and key == "dsl":
            found.append(node)

    for path in sorted(CORPUS.rglob("*.yaml")):
        try:
            walk(yaml.safe_load(path.read_text(encoding="utf-8")), None)
        except yaml.YAMLError:
            continue
    return found


@pytest.mark.skipif(not CORPUS.is_dir(), reason="community template sample not present")
def test_corpus_dsl_expressions_compile() -> None:
    expressions = _expressions()
    assert len(expressions) > 100
    failures: list[str] = []
    for raw in expressions:
        # Templates interpolate {{markers}} inside DSL text before evaluating it.
        text = interpolate(raw, {"match_str": "x", "filename": "f", "string": "s"})
        try:
            compile_expression(text)
        except UnsupportedFunction:
            continue
        except DslError as error:
            failures.append(str(error))
    assert failures == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="community template sample not present")
def test_corpus_marker_functions_are_known() -> None:
    unknown: set[str] = set()
    for path in sorted(CORPUS.rglob("*.yaml")):
        for match in re.finditer(r"\{\{([a-z_0-9]+)\(", path.read_text(encoding="utf-8")):
            try:
                compile_expression(f"{match.group(1)}()")
            except UnsupportedFunction:
                continue
            except DslError as error:
                if "未知" in str(error):
                    unknown.add(match.group(1))
    # alert(...) is a cross-site-scripting payload, not a helper; Nuclei leaves it too.
    assert unknown <= {"alert"}
