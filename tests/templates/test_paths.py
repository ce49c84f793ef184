"""The jq subset, the XPath subset and the flow language on their own."""

from __future__ import annotations

import pytest

from shaobing.templates.flow import Call, FlowError, parse_flow
from shaobing.templates.jsonpath import JsonPathError, compile_path
from shaobing.templates.payloads import combinations
from shaobing.templates.xpath import XPathError, compile_xpath, parse_document

DOC = {"a": {"b": [1, {"c": "x"}], "d": None}, "list": [{"n": "p"}, {"n": "q"}]}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".a.b[0]", [1]),
        (".a.b[1].c", ["x"]),
        (".list[].n", ["p", "q"]),
        (".list | .[] | .n", ["p", "q"]),
        ('.["a"].b[-1].c', ["x"]),
        (".a.d", []),
        (".nothing.here", []),
        (".", [DOC]),
    ],
)
def test_json_paths(path: str, expected: list[object]) -> None:
    assert compile_path(path).apply(DOC) == expected


@pytest.mark.parametrize("path", ["a.b", ".a | map(.x)", ".a[1:2]", ""])
def test_json_paths_outside_the_subset_are_refused(path: str) -> None:
    with pytest.raises(JsonPathError):
        compile_path(path)


HTML = """<html><body><div id="x"><a href="/1">one</a><a href="/2" class="k">two</a></div>
<script src="//cdn/x.js"></script><script src="//cdn/y.js" integrity="SHA384-abc"></script>
<ul><li>a</li><li>b</li></ul><ul><li>c</li></ul></body></html>"""


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("//a/@href", ["/1", "/2"]),
        ("//a[@class='k']/text()", ["two"]),
        ('//div[@id="x"]/a[2]/@href', ["/2"]),
        ("//li[1]/text()", ["a", "c"]),
        ("/html/body/ul[2]/li/text()", ["c"]),
        (
            "//script[not(matches(translate(@integrity,'SHA','sha'), '^sha(256|384)-'))]/@src",
            ["//cdn/x.js"],
        ),
        ("//a[contains(@href, '2') or starts-with(text(), 'on')]/@href", ["/1", "/2"]),
    ],
)
def test_xpath_subset(expression: str, expected: list[str]) -> None:
    assert compile_xpath(expression).select(parse_document(HTML)) == expected


@pytest.mark.parametrize("expression", ["//a[position() > 1]", "//a[", "ancestor::div", "//a[@x=]"])
def test_xpath_outside_the_subset_is_refused(expression: str) -> None:
    with pytest.raises(XPathError):
        compile_xpath(expression)


def test_flow_short_circuits_like_javascript() -> None:
    calls: list[int] = []
    outcomes = {1: True, 2: False, 3: True, 4: True}

    def run(call: Call) -> bool:
        assert isinstance(call.selector, int)
        calls.append(call.selector)
        return outcomes[call.selector]

    parse_flow("http(1) && http(2) && http(4)\nhttp(3) || http(4)").run(run)
    assert calls == [1, 2, 3]
    with pytest.raises(FlowError):
        parse_flow("for (let x of y) { http(1) }")


def test_combinations_respect_attack_modes() -> None:
    payloads = {"u": ("a", "b", "c"), "p": ("1", "2")}
    assert len(list(combinations(payloads, "clusterbomb"))) == 6
    assert list(combinations(payloads, "pitchfork")) == [{"u": "a", "p": "1"}, {"u": "b", "p": "2"}]
    assert [c["p"] for c in combinations(payloads, "batteringram")] == ["a", "b", "c"]
    assert list(combinations({}, "batteringram")) == [{}]
