"""Loading templates: the model, refusals with reasons, untrusted-input limits, fuzzing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.templates.loader import TemplateError, load_template
from shaobing.templates.safeyaml import MAX_FILE_BYTES, parse_yaml_text

HEAD = "id: sample\ninfo:\n  name: 样例\n  severity: medium\n"
GET = (
    'http:\n  - path: ["{{BaseURL}}/"]\n'
    "    matchers:\n      - type: status\n        status: [200]\n"
)


def _load(tmp_path: Path, text: str, name: str = "t.yaml") -> object:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_template(path)


def test_full_model(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        id: CVE-2024-0001
        info:
          name: Example RCE
          author: alice,bob
          severity: critical
          description: something bad
          reference:
            - https://example.invalid/a
          tags: cve,rce
          classification:
            cve-id: CVE-2024-0001
            cwe-id: CWE-78
            cvss-metrics: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H
            cvss-score: 9.8
          metadata:
            max-request: 2
        variables:
          a: "{{rand_base(5)}}"
        http:
          - raw:
              - |
                POST /x HTTP/1.1
                Host: {{Hostname}}

                a={{a}}
            payloads:
              user: [root, admin]
            attack: pitchfork
            redirects: true
            max-redirects: 2
            stop-at-first-match: true
            matchers-condition: and
            matchers:
              - type: word
                part: body
                words: [ok]
                case-insensitive: true
              - type: dsl
                dsl: ["status_code == 200"]
            extractors:
              - type: regex
                name: tok
                internal: true
                group: 1
                regex: ["t=(\\\\w+)"]
        # digest: 4a0a00473045022100
        """
    )
    template = _load(tmp_path, text)
    assert template.runnable, template.unsupported  # type: ignore[attr-defined]
    info = template.info  # type: ignore[attr-defined]
    assert info.authors == ("alice", "bob")
    assert info.tags == ("cve", "rce")
    assert info.classification.cve_ids == ("CVE-2024-0001",)
    assert info.classification.cvss_score == 9.8
    block = template.http[0]  # type: ignore[attr-defined]
    assert block.attack == "pitchfork" and block.payloads == {"user": ("root", "admin")}
    assert block.operators.condition == "and" and len(block.operators.matchers) == 2
    assert block.operators.extractors[0].name == "tok"


@pytest.mark.parametrize(
    ("snippet", "feature"),
    [
        ("http:\n  - raw: ['GET / HTTP/1.1']\n    unsafe: true\n", "unsafe"),
        ("http:\n  - raw: ['GET / HTTP/1.1']\n    race: true\n", "race"),
        ("http:\n  - raw: ['GET / HTTP/1.1']\n    pipeline: true\n", "pipeline"),
        ("javascript:\n  - code: 'x'\n", "javascript"),
        ("code:\n  - engine: [sh]\n", "code"),
        ("headless:\n  - steps: []\n", "headless"),
        ("file:\n  - extensions: [all]\n", "file"),
        ("workflows:\n  - template: x.yaml\n", "workflows"),
        ("ssl:\n  - address: '{{Host}}:443'\n    scan_mode: ztls\n", "ssl-scan-mode:ztls"),
        ("dns:\n  - name: '{{FQDN}}'\n    trace: true\n", "dns-trace"),
        (GET + "flow: |\n  http(1)\n  set('x', 1)\n", "flow-javascript"),
        (
            GET.replace("{{BaseURL}}/", "{{BaseURL}}/{{no_such_helper(1)}}"),
            "dsl-function:no_such_helper",
        ),
        (GET + "    payloads:\n      p: ../../etc/passwd\n", "payload-file-outside"),
        (GET + "    payloads:\n      p: /etc/passwd\n", "payload-file-outside"),
        (GET + "    payloads:\n      p: helpers/none.txt\n", "payload-file-missing"),
        (GET + "    frobnicate: 1\n", "http-field:frobnicate"),
        (
            GET.replace("status\n        status: [200]", "fancy\n        x: [1]"),
            "matcher-type:fancy",
        ),
    ],
)
def test_refused_features_have_reasons(tmp_path: Path, snippet: str, feature: str) -> None:
    template = _load(tmp_path, HEAD + snippet)
    assert feature in template.features  # type: ignore[attr-defined]
    assert all(item.reason and "templates." not in item.reason for item in template.unsupported)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("id: [unclosed\n", "YAML"),
        ("- just\n- a list\n", "映射"),
        ("info:\n  name: x\n" + GET, "id"),
        ("id: x\n" + GET, "info"),
        ("id: 'bad id!'\ninfo:\n  name: x\n", "id"),
        (HEAD + "http:\n  - method: GET\n", "path"),
        (HEAD + "http: 3\n", "http"),
    ],
)
def test_errors_name_the_file_and_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as caught:
        _load(tmp_path, text, "bad.yaml")
    message = str(caught.value)
    assert "bad.yaml" in message and fragment in message and "\n" not in message


def test_billion_laughs_and_size_limits(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)]
    with pytest.raises(TemplateError, match="别名"):
        parse_yaml_text("\n".join(lines), "laughs.yaml")
    few = "a: &a [" + ",".join(["x"] * 2000) + "]\nb: [" + ",".join(["*a"] * 60) + "]\n"
    with pytest.raises(TemplateError, match="节点"):
        parse_yaml_text(few, "wide.yaml")
    with pytest.raises(TemplateError, match="过大"):
        _load(tmp_path, HEAD + "#" * MAX_FILE_BYTES)
    (tmp_path / "latin.yaml").write_bytes(b"id: \xff\xfe\n")
    with pytest.raises(TemplateError, match="UTF-8"):
        load_template(tmp_path / "latin.yaml")
    with pytest.raises(TemplateError, match="python/object"):
        _load(tmp_path, "id: !!python/object/apply:os.system ['true']\n")


@settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text_loads_or_fails_cleanly(tmp_path: Path, text: str) -> None:
    try:
        _load(tmp_path, text)
    except TemplateError as exc:
        assert "t.yaml" in str(exc)  # noqa: PT017


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_blocks = st.fixed_dictionaries(
    {"path": st.lists(st.text(max_size=20), max_size=3)},
    optional={
        "matchers": st.lists(
            st.dictionaries(
                st.sampled_from(["type", "words", "regex", "dsl", "status", "part", "condition"]),
                _values,
                max_size=4,
            ),
            max_size=3,
        ),
        "extractors": st.lists(
            st.dictionaries(
                st.sampled_from(["type", "regex", "json", "xpath", "kval", "group", "name"]),
                _values,
                max_size=4,
            ),
            max_size=2,
        ),
        "payloads": _values,
        "attack": _values,
        "headers": _values,
        "method": _values,
        "raw": _values,
    },
)


@settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_blocks, min_size=1, max_size=2), _values)
def test_fuzz_structured_templates(
    tmp_path: Path, blocks: list[dict[str, object]], extra: object
) -> None:
    document = {
        "id": "fuzz",
        "info": {"name": "x", "severity": extra},
        "http": blocks,
        "flow": extra,
    }
    try:
        template = _load(tmp_path, yaml.safe_dump(document, allow_unicode=True))
    except TemplateError as exc:
        assert "t.yaml" in str(exc)  # noqa: PT017
    else:
        assert template.id == "fuzz"  # type: ignore[attr-defined]
