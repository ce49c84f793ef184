"""Extractors: pull values out of a response, for the report or for later requests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shaobing.templates.dsl import safe_regex
from shaobing.templates.dsl.values import render as render_value
from shaobing.templates.jsonpath import compile_path, render
from shaobing.templates.matchers import evaluate_dsl, part_value
from shaobing.templates.model import Extractor
from shaobing.templates.xpath import Node, compile_xpath, parse_document

MAX_VALUES = 1000


def _regex(extractor: Extractor, text: str) -> list[str]:
    out: list[str] = []
    for pattern in extractor.values:
        compiled = safe_regex(pattern, extractor.case_insensitive)
        for found in compiled.finditer(text):
            if extractor.group <= (compiled.groups or 0):
                value = found.group(extractor.group)
                if value is not None:
                    out.append(value)
            if len(out) >= MAX_VALUES:
                return out
    return out


def _kval(extractor: Extractor, variables: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    lowered = {str(k).lower(): v for k, v in variables.items()}
    for key in extractor.values:
        name = key.strip().replace("-", "_")
        value = variables.get(name)
        if value is None:
            value = lowered.get(name.lower())
        if value is None:
            value = _cookie(variables, name, extractor.case_insensitive)
        if value is not None and str(value) != "":
            out.append(str(value))
    return out


def _cookie(variables: Mapping[str, Any], name: str, fold: bool) -> str | None:
    cookies = str(variables.get("set_cookie") or "")
    for item in cookies.replace(", ", " ").split(" "):
        key, sep, value = item.partition("=")
        if sep and (key == name or (fold and key.lower() == name.lower())):
            return value.rstrip(";")
    return None


def _json(extractor: Extractor, text: str) -> list[str]:
    documents: list[Any] = []
    try:
        documents.append(json.loads(text))
    except ValueError:
        # Nuclei also reads JSON Lines; keep it cheap by stopping at the first bad line.
        for line in text.splitlines()[:MAX_VALUES]:
            try:
                documents.append(json.loads(line))
            except ValueError:
                break
    out: list[str] = []
    for document in documents:
        for path in extractor.values:
            out.extend(render(value) for value in compile_path(path).apply(document))
    return out[:MAX_VALUES]


def _xpath(extractor: Extractor, text: str) -> list[str]:
    document = parse_document(text)
    out: list[str] = []
    for expression in extractor.values:
        for item in compile_xpath(expression).select(document):
            if isinstance(item, Node):
                if extractor.attribute:
                    if extractor.attribute in item.attrs:
                        out.append(item.attrs[extractor.attribute])
                else:
                    out.append(item.text().strip())
            else:
                out.append(item)
    return out[:MAX_VALUES]


def _dsl(extractor: Extractor, variables: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for expression in extractor.values:
        value = evaluate_dsl(expression, variables)
        if value is None or value == "" or value is False:
            continue
        # Lists and numbers print as Nuclei prints them ("[tls12 X]", "1.5"), not as Python.
        out.append(render_value(value))
    return out


def extract(
    extractor: Extractor, variables: Mapping[str, Any], *, default_part: str = "body"
) -> list[str]:
    """The values ``extractor`` finds in the response described by ``variables``,
    de-duplicated in order of appearance."""
    text = part_value(variables, extractor.part, default_part)
    kind = extractor.type
    if kind == "regex":
        values = _regex(extractor, text)
    elif kind == "kval":
        values = _kval(extractor, variables)
    elif kind == "json":
        values = _json(extractor, text)
    elif kind == "xpath":
        values = _xpath(extractor, text)
    elif kind == "dsl":
        values = _dsl(extractor, variables)
    else:
        values = []
    return list(dict.fromkeys(values))
