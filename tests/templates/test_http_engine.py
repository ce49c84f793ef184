"""HTTP templates against local mock targets: matchers, extractors, payloads, redirects,
flows and the scope guard."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from shaobing.templates.runner import execute, run_template
from tests.templates.conftest import MockHttp, Seen, context_for, write_template

HEAD = """\
id: test-template
info:
  name: 测试模板
  author: tester
  severity: high
  tags: test,mock
  classification:
    cve-id: CVE-2024-0001
    cwe-id: CWE-200
    cvss-score: 7.5
"""

PAGE = (
    b"<html><head><title>Admin Console</title></head><body>"
    b'<input id="csrf" name="csrf" value="tok-123"><p class="v">Version: 2.4.57</p>'
    b"</body></html>"
)


def _template(tmp_path: Path, body: str) -> str:
    return HEAD + textwrap.dedent(body)


def _run(tmp_path: Path, mock: MockHttp, body: str, target: str | None = None) -> list[str]:
    template = write_template(tmp_path, _template(tmp_path, body))
    assert template.runnable, template.unsupported
    results = run_template(template, target or mock.url, context_for(mock.url))
    return [r.matcher_name or "" for r in results]


def _matcher_block(matcher: str) -> str:
    return (
        'http:\n  - method: GET\n    path:\n      - "{{BaseURL}}/admin"\n    matchers:\n'
        + textwrap.indent(textwrap.dedent(matcher), "      ")
    )


MATCHERS = [
    ("- type: word\n  words: [Admin Console]", "- type: word\n  words: [Admin Konsole]"),
    (
        "- type: word\n  words: [admin console, version]\n  case-insensitive: true\n"
        "  condition: and",
        "- type: word\n  words: [admin console, versionX]\n  case-insensitive: true\n"
        "  condition: and",
    ),
    (
        "- type: regex\n  regex: ['Version: 2\\.4\\.\\d+']",
        "- type: regex\n  regex: ['Version: 3\\.']",
    ),
    ("- type: status\n  status: [200]", "- type: status\n  status: [404]"),
    (f"- type: size\n  size: [{len(PAGE)}]", f"- type: size\n  size: [{len(PAGE) + 1}]"),
    (
        f"- type: binary\n  binary: ['{b'Admin'.hex()}']",
        f"- type: binary\n  binary: ['{b'Admix'.hex()}']",
    ),
    (
        "- type: dsl\n  dsl: ['status_code == 200 && contains(body, \"tok-123\")']",
        "- type: dsl\n  dsl: ['status_code == 200 && contains(body, \"tok-124\")']",
    ),
    (
        "- type: word\n  part: header\n  words: ['X-Powered-By: mock']",
        "- type: word\n  part: body\n  words: ['X-Powered-By: mock']",
    ),
    (
        "- type: word\n  part: content_type\n  words: [text/html]",
        "- type: word\n  part: content_type\n  words: [application/json]",
    ),
    (
        "- type: word\n  negative: true\n  words: [Forbidden]",
        "- type: word\n  negative: true\n  words: [Admin]",
    ),
    (
        "- type: xpath\n  xpath: [\"//input[@id='csrf']\"]",
        "- type: xpath\n  xpath: [\"//input[@id='nonce']\"]",
    ),
]


@pytest.mark.parametrize(("positive", "near_miss"), MATCHERS)
def test_each_matcher_kind_matches_and_its_near_miss_does_not(
    tmp_path: Path, http_target: MockHttp, positive: str, near_miss: str
) -> None:
    http_target.routes["/admin"] = (
        200,
        {"Content-Type": "text/html", "X-Powered-By": "mock"},
        PAGE,
    )
    assert _run(tmp_path, http_target, _matcher_block(positive)) == [""]
    assert _run(tmp_path, http_target, _matcher_block(near_miss)) == []


def test_matchers_condition_and_requires_every_matcher(
    tmp_path: Path, http_target: MockHttp
) -> None:
    http_target.routes["/admin"] = (200, {}, PAGE)
    block = """\
    http:
      - path: ["{{BaseURL}}/admin"]
        matchers-condition: and
        matchers:
          - type: status
            status: [200]
          - type: word
            words: [%s]
    """
    assert _run(tmp_path, http_target, block % "Admin") == [""]
    assert _run(tmp_path, http_target, block % "Nothing") == []


def test_or_condition_reports_each_named_matcher_and_hides_internal(
    tmp_path: Path, http_target: MockHttp
) -> None:
    http_target.routes["/admin"] = (200, {}, PAGE)
    names = _run(
        tmp_path,
        http_target,
        """\
        http:
          - path: ["{{BaseURL}}/admin"]
            matchers:
              - type: word
                name: console
                words: [Admin Console]
              - type: word
                name: version
                words: [Version]
              - type: word
                name: never
                words: [absent]
        """,
    )
    assert sorted(names) == ["console", "version"]
    internal_only = _run(
        tmp_path,
        http_target,
        """\
        http:
          - path: ["{{BaseURL}}/admin"]
            matchers:
              - type: word
                internal: true
                words: [Admin Console]
        """,
    )
    assert internal_only == []


EXTRACTORS = [
    (
        "- type: regex\n  group: 1\n  regex: ['Version: ([0-9.]+)']",
        ["2.4.57"],
        "Version: (9[0-9.]+)",
    ),
    ("- type: kval\n  kval: [x_powered_by]", ["mock"], None),
    ("- type: xpath\n  attribute: value\n  xpath: [\"//input[@id='csrf']\"]", ["tok-123"], None),
    ("- type: xpath\n  xpath: [\"//p[@class='v']\"]", ["Version: 2.4.57"], None),
    ('- type: dsl\n  dsl: [\'to_upper("v") + "-" + status_code\']', None, None),
]


@pytest.mark.parametrize(("extractor", "expected", "miss"), EXTRACTORS)
def test_extractors_report_values(
    tmp_path: Path,
    http_target: MockHttp,
    extractor: str,
    expected: list[str] | None,
    miss: str | None,
) -> None:
    http_target.routes["/admin"] = (200, {"X-Powered-By": "mock"}, PAGE)
    block = (
        'http:\n  - path: ["{{BaseURL}}/admin"]\n    extractors:\n'
        + textwrap.indent(extractor, "      ")
        + "\n"
    )
    template = write_template(tmp_path, HEAD + block)
    assert template.runnable, template.unsupported
    results = run_template(template, http_target.url, context_for(http_target.url))
    if expected is None:
        assert len(results) == 1 and results[0].extracted
    else:
        assert [r.extracted for r in results] == [expected]
    if miss is not None:
        template = write_template(tmp_path, HEAD + block.replace("Version: ([0-9.]+)", miss))
        assert run_template(template, http_target.url, context_for(http_target.url)) == []


def test_json_extractor_paths(tmp_path: Path, http_target: MockHttp) -> None:
    document = {"data": {"items": [{"name": "a"}, {"name": "b"}], "id": 7}, "ok": True}
    http_target.routes["/api"] = (
        200,
        {"Content-Type": "application/json"},
        json.dumps(document).encode(),
    )
    block = """\
    http:
      - path: ["{{BaseURL}}/api"]
        extractors:
          - type: json
            json:
              - .data.items[].name
              - .data.id
              - .data.items[1].name
              - .missing.field
    """
    template = write_template(tmp_path, HEAD + textwrap.dedent(block))
    results = run_template(template, http_target.url, context_for(http_target.url))
    assert results[0].extracted == ["a", "b", "7"]


def test_internal_named_extractor_feeds_the_next_request(
    tmp_path: Path, http_target: MockHttp
) -> None:
    http_target.routes["/login"] = (200, {}, PAGE)
    http_target.routes["/check"] = lambda seen: (
        (200, {}, b"welcome") if "csrf=tok-123" in seen.path else (403, {}, b"denied")
    )
    names = _run(
        tmp_path,
        http_target,
        """\
        http:
          - raw:
              - |
                GET /login HTTP/1.1
                Host: {{Hostname}}

              - |
                GET /check?csrf={{token}} HTTP/1.1
                Host: {{Hostname}}

            extractors:
              - type: regex
                name: token
                internal: true
                group: 1
                regex: ['value="(tok-[0-9]+)"']
            matchers:
              - type: dsl
                dsl: ['status_code_1 == 200 && status_code_2 == 200 && contains(body_2, "welcome")']
        """,
    )
    assert names == [""]
    assert http_target.paths() == ["/login", "/check?csrf=tok-123"]


def test_req_condition_matches_after_the_last_request(
    tmp_path: Path, http_target: MockHttp
) -> None:
    http_target.routes["/a"] = (200, {}, b"first")
    http_target.routes["/b"] = (500, {}, b"second")
    block = """\
    http:
      - method: GET
        path: ["{{BaseURL}}/a", "{{BaseURL}}/b"]
        req-condition: true
        matchers:
          - type: dsl
            dsl: ['status_code_1 == 200 && status_code_2 == %d']
    """
    assert _run(tmp_path, http_target, block % 500) == [""]
    assert _run(tmp_path, http_target, block % 200) == []


@pytest.mark.parametrize(
    ("attack", "expected"),
    [
        ("batteringram", {("a", "a"), ("b", "b")}),
        ("pitchfork", {("a", "1"), ("b", "2")}),
        ("clusterbomb", {("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")}),
    ],
)
def test_payload_attacks(
    tmp_path: Path, http_target: MockHttp, attack: str, expected: set[tuple[str, str]]
) -> None:
    http_target.routes["/login"] = (401, {}, b"no")
    _run(
        tmp_path,
        http_target,
        f"""\
        http:
          - method: POST
            path: ["{{{{BaseURL}}}}/login"]
            body: "user={{{{user}}}}&pass={{{{pass}}}}"
            attack: {attack}
            payloads:
              user: [a, b]
              pass: ["1", "2"]
            matchers:
              - type: status
                status: [200]
        """,
    )
    bodies = {tuple(p.split("=")[1] for p in s.body.decode().split("&")) for s in http_target.seen}
    if attack == "batteringram":
        # One payload set: the first list's value goes to every position.
        expected = {("a", "a"), ("b", "b")}
    assert bodies == expected


def test_payload_file_inside_the_template_folder(tmp_path: Path, http_target: MockHttp) -> None:
    (tmp_path / "words.txt").write_text("alpha\n\nbeta\n", encoding="utf-8")
    http_target.routes["*"] = lambda seen: (200 if seen.path == "/beta" else 404, {}, b"x")
    names = _run(
        tmp_path,
        http_target,
        """\
        http:
          - path: ["{{BaseURL}}/{{word}}"]
            payloads:
              word: words.txt
            stop-at-first-match: true
            matchers:
              - type: status
                status: [200]
        """,
    )
    assert names == [""]
    assert http_target.paths() == ["/alpha", "/beta"]


def test_stop_at_first_match(tmp_path: Path, http_target: MockHttp) -> None:
    http_target.routes["*"] = (200, {}, b"hit")
    _run(
        tmp_path,
        http_target,
        """\
        http:
          - path: ["{{BaseURL}}/1", "{{BaseURL}}/2", "{{BaseURL}}/3"]
            stop-at-first-match: true
            matchers:
              - type: word
                words: [hit]
        """,
    )
    assert http_target.paths() == ["/1"]


def test_redirect_in_scope_is_followed_and_out_of_scope_gets_no_packet(
    tmp_path: Path, http_target: MockHttp, other_http_target: MockHttp
) -> None:
    http_target.routes["/start"] = (302, {"Location": "/final"}, b"")
    http_target.routes["/final"] = (200, {}, b"landed")
    http_target.routes["/away"] = (302, {"Location": f"{other_http_target.url}/x"}, b"")
    other_http_target.routes["*"] = (200, {}, b"landed")
    block = """\
    http:
      - path: ["{{BaseURL}}/%s"]
        redirects: true
        max-redirects: 3
        matchers:
          - type: word
            words: [landed]
    """
    assert _run(tmp_path, http_target, block % "start") == [""]
    assert _run(tmp_path, http_target, block % "away") == []
    assert other_http_target.connections == 0
    assert other_http_target.seen == []


def test_host_redirects_do_not_leave_the_host(
    tmp_path: Path, http_target: MockHttp, other_http_target: MockHttp
) -> None:
    http_target.routes["/away"] = (
        302,
        {"Location": f"http://localhost:{other_http_target.port}/"},
        b"",
    )
    other_http_target.routes["*"] = (200, {}, b"landed")
    template = write_template(
        tmp_path,
        HEAD
        + 'http:\n  - path: ["{{BaseURL}}/away"]\n    host-redirects: true\n'
        + "    matchers:\n      - type: status\n        status: [302]\n",
    )
    both = context_for(http_target.url, other_http_target.url)
    assert len(run_template(template, http_target.url, both)) == 1
    assert other_http_target.seen == []


def test_target_outside_the_scope_gets_no_packet(
    tmp_path: Path, http_target: MockHttp, other_http_target: MockHttp
) -> None:
    other_http_target.routes["*"] = (200, {}, b"x")
    template = write_template(
        tmp_path,
        HEAD
        + 'http:\n  - path: ["{{BaseURL}}/"]\n'
        + "    matchers:\n      - type: status\n        status: [200]\n",
    )
    report = execute(template, other_http_target.url, context_for(http_target.url))
    assert report.results == []
    assert other_http_target.connections == 0
    assert any("授权范围" in note for note in report.notes)


def test_absolute_url_to_another_host_is_refused(
    tmp_path: Path, http_target: MockHttp, other_http_target: MockHttp
) -> None:
    other_http_target.routes["*"] = (200, {}, b"x")
    template = write_template(
        tmp_path,
        HEAD
        + "self-contained: true\n"
        + f'http:\n  - path: ["{other_http_target.url}/token"]\n'
        + "    matchers:\n      - type: status\n        status: [200]\n",
    )
    assert run_template(template, http_target.url, context_for(http_target.url)) == []
    assert other_http_target.connections == 0


def test_flow_runs_the_second_request_only_after_the_first_matched(
    tmp_path: Path, http_target: MockHttp
) -> None:
    http_target.routes["/detect"] = (200, {}, b"product-x")
    http_target.routes["/vuln"] = (200, {}, b"vulnerable")
    block = """\
    flow: http(1) && http(2)
    http:
      - path: ["{{BaseURL}}/detect"]
        matchers:
          - type: word
            internal: true
            words: [%s]
      - path: ["{{BaseURL}}/vuln"]
        matchers:
          - type: word
            words: [vulnerable]
    """
    assert _run(tmp_path, http_target, block % "product-x") == [""]
    assert http_target.paths() == ["/detect", "/vuln"]
    http_target.seen.clear()
    assert _run(tmp_path, http_target, block % "product-y") == []
    assert http_target.paths() == ["/detect"]


def test_variables_target_parts_and_keep_alive(tmp_path: Path, http_target: MockHttp) -> None:
    http_target.routes["*"] = lambda seen: (200, {}, json.dumps(seen.headers).encode())
    template = write_template(
        tmp_path,
        HEAD
        + textwrap.dedent(
            """\
            variables:
              marker: "{{to_upper('abc')}}-{{Port}}"
            http:
              - method: GET
                path:
                  - "{{BaseURL}}/one?m={{marker}}"
                  - "{{RootURL}}/two?h={{Hostname}}&host={{Host}}"
                headers:
                  X-Test: "{{md5('a')}}"
                matchers:
                  - type: word
                    words: ["0cc175b9c0f1b6a831c399e269772661"]
            """
        ),
    )
    results = run_template(template, http_target.url + "/app/", context_for(http_target.url))
    assert len(results) == 2
    port = http_target.port
    assert http_target.paths() == [
        f"/app/one?m=ABC-{port}",
        f"/two?h=127.0.0.1:{port}&host=127.0.0.1",
    ]
    assert http_target.connections == 1  # both requests on one kept-alive connection


def test_chunked_gzip_and_cookie_reuse(tmp_path: Path, http_target: MockHttp) -> None:
    http_target.routes["/set"] = (
        200,
        {"Set-Cookie": "sid=s3cr3t; Path=/", "X-Chunked": "1", "X-Gzip": "1"},
        b"compressed-body " * 20,
    )

    def check(seen: Seen) -> tuple[int, dict[str, str], bytes]:
        return (
            (200, {}, b"cookie ok")
            if seen.headers.get("Cookie") == "sid=s3cr3t"
            else (401, {}, b"")
        )

    http_target.routes["/check"] = check
    names = _run(
        tmp_path,
        http_target,
        """\
        http:
          - path: ["{{BaseURL}}/set", "{{BaseURL}}/check"]
            req-condition: true
            matchers:
              - type: dsl
                dsl:
                  - 'contains(body_1, "compressed-body compressed") && body_2 == "cookie ok"'
        """,
    )
    assert names == [""]


def test_raw_request_with_body_and_path_merge(tmp_path: Path, http_target: MockHttp) -> None:
    http_target.routes["*"] = lambda seen: (200, {}, seen.body)
    _run(
        tmp_path,
        http_target,
        """\
        http:
          - raw:
              - |
                @timeout: 2s
                POST /api/save HTTP/1.1
                Host: {{Hostname}}
                Content-Type: application/json

                {"name": "{{base64('x')}}"}
            matchers:
              - type: word
                words: ['"eA=="']
        """,
        target=http_target.url + "/base",
    )
    assert http_target.paths() == ["/base/api/save"]
    assert http_target.seen[0].body == b'{"name": "eA=="}'


def test_unresolved_variable_skips_the_request(tmp_path: Path, http_target: MockHttp) -> None:
    template = write_template(
        tmp_path,
        HEAD
        + 'http:\n  - path: ["{{BaseURL}}/{{token}}"]\n'
        + "    matchers:\n      - type: status\n        status: [404]\n",
    )
    report = execute(template, http_target.url, context_for(http_target.url))
    assert report.results == []
    assert http_target.seen == []
    assert any("token" in note for note in report.notes)
