"""dns templates against a DNS responder written here (with the codec) and against dnsmasq,
both on 127.0.0.1: the corpus's dns templates and their near misses, every response part,
TCP fallback, stray replies, retries, and the two scope rules (the queried name belongs
to the target, the resolver is inside the scope)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import struct
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shaobing.scan.context import ScanContext
from shaobing.templates import dns as dns_block
from shaobing.templates.dnscodec import (
    TYPES,
    Header,
    Message,
    Record,
    decode_message,
    encode_message,
    name_from_text,
    name_text,
    opt_record,
)
from shaobing.templates.loader import load_template
from shaobing.templates.model import Template
from shaobing.templates.runner import RunReport, execute
from shaobing.templates.state import RunState
from tests.conftest import CliRunner
from tests.templates.conftest import context_for, write_template

CORPUS = Path("/work/shared/corpora/nuclei-templates/dns")
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not present at {CORPUS}")


# ------------------------------------------------------------------------- responder


@dataclass
class Entry:
    """How the responder answers one name (every type unless ``qtype`` is set)."""

    rcode: int = 0
    answers: tuple[tuple[str, str], ...] = ()
    """(type, presentation value) pairs: A/AAAA addresses, CNAME/PTR targets, TXT text."""
    authority: bool = False
    """Add an SOA record to the authority section (as servers do for NXDOMAIN)."""
    truncate_udp: bool = False
    stray_first: bool = False
    """Send a reply with a wrong id and a garbage datagram before the real reply."""
    garbage_only: bool = False
    silent: bool = False


def _rdata(rtype: str, value: str) -> tuple[object, ...]:
    if rtype == "A":
        return (socket.inet_pton(socket.AF_INET, value),)
    if rtype == "AAAA":
        return (socket.inet_pton(socket.AF_INET6, value),)
    if rtype == "TXT":
        return ((value.encode(),),)
    return (name_from_text(value),)


@dataclass
class Responder:
    """A UDP+TCP DNS server on one 127.0.0.1 port answering from ``zone``."""

    udp: socket.socket
    tcp: socket.socket
    zone: dict[str, Entry]
    queries: list[tuple[str, str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.udp.getsockname()[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reply(self, request: Message, over: str) -> list[bytes]:
        question = request.questions[0]
        name = name_text(question.name).rstrip(".").lower()
        self.queries.append((over, name, {v: k for k, v in TYPES.items()}[question.qtype]))
        entry = self.zone.get(name, Entry(rcode=5))
        if entry.silent:
            return []
        if entry.garbage_only:
            return [b"\x00" * 5, struct.pack("!HH", request.header.id, 0x8180) + b"\xff" * 30]
        answers = tuple(
            Record(question.name, TYPES[rtype], 1, 300, _rdata(rtype, value))  # type: ignore[arg-type]
            for rtype, value in entry.answers
            if TYPES[rtype] in (question.qtype, TYPES["CNAME"])
        )
        authority = ()
        if entry.authority:
            soa = (
                name_from_text("ns.test"),
                name_from_text("hostmaster.test"),
                1,
                3600,
                600,
                86400,
                60,
            )
            authority = (Record(name_from_text("test"), TYPES["SOA"], 1, 60, soa),)
        truncated = entry.truncate_udp and over == "udp"
        header = Header(
            id=request.header.id,
            qr=True,
            rd=request.header.rd,
            ra=True,
            tc=truncated,
            rcode=entry.rcode,
        )
        message = Message(
            header,
            request.questions,
            () if truncated else answers,
            () if truncated else authority,
            (opt_record(1232),),
        )
        out = [encode_message(message)]
        if entry.stray_first:
            wrong = Message(Header(id=request.header.id ^ 0x5555, qr=True), request.questions)
            out = [encode_message(wrong), b"\x01\x02\x03", *out]
        return out

    def serve_udp(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.udp.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(ValueError, IndexError):
                for packet in self.reply(decode_message(data), "udp"):
                    self.udp.sendto(packet, peer)

    def serve_tcp(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError, ValueError, IndexError):
                conn.settimeout(2)
                (length,) = struct.unpack("!H", conn.recv(2))
                data = b""
                while len(data) < length:
                    data += conn.recv(length - len(data))
                for packet in self.reply(decode_message(data), "tcp")[-1:]:
                    conn.sendall(struct.pack("!H", len(packet)) + packet)


ZONE = {
    "dangling.test": Entry(rcode=3, answers=(("CNAME", "gone.example.net"),), authority=True),
    "alias.test": Entry(answers=(("CNAME", "target.test"), ("A", "192.0.2.7"))),
    "nx.test": Entry(rcode=3, authority=True),
    "broken.test": Entry(rcode=2),
    "rebind.test": Entry(answers=(("A", "10.0.0.5"), ("AAAA", "fd00::5"))),
    "public.test": Entry(answers=(("A", "192.0.2.10"), ("AAAA", "2001:db8::10"))),
    "multi.test": Entry(answers=(("A", "192.0.2.1"), ("A", "192.0.2.2"), ("TXT", "v=spf1 -all"))),
    "big.test": Entry(answers=(("A", "192.0.2.99"),), truncate_udp=True),
    "noisy.test": Entry(answers=(("A", "192.0.2.42"),), stray_first=True),
    "garbled.test": Entry(garbage_only=True),
    "quiet.test": Entry(silent=True),
    "1.0.0.127.in-addr.arpa": Entry(answers=(("PTR", "localhost"),)),
}


def _bind_pair() -> tuple[socket.socket, socket.socket]:
    for _ in range(20):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(8)
        return udp, tcp
    raise RuntimeError("no port free on both UDP and TCP")


@pytest.fixture
def responder() -> Iterator[Responder]:
    udp, tcp = _bind_pair()
    udp.settimeout(0.1)
    tcp.settimeout(0.1)
    server = Responder(udp, tcp, dict(ZONE))
    threads = [
        threading.Thread(target=server.serve_udp, daemon=True),
        threading.Thread(target=server.serve_tcp, daemon=True),
    ]
    for thread in threads:
        thread.start()
    yield server
    server.stop.set()
    for thread in threads:
        thread.join(2)
    udp.close()
    tcp.close()


def ctx_for(target: str, resolver: str, *, timeout: float = 1.0) -> ScanContext:
    """Scope: the target and the resolver; the resolver given through the check options."""
    return context_for(target, resolver, timeout=timeout).with_options(
        {"dns_resolvers": [resolver]}
    )


def run(template: Template, target: str, server: Responder, **kw: float) -> RunReport:
    return execute(template, target, ctx_for(target, server.address, **kw))


def corpus(name: str) -> Template:
    template = load_template(CORPUS / name, root=CORPUS.parent)
    assert template.runnable, template.unsupported
    return template


FIELDS = """\
id: dns-fields
info:
  name: fields
  severity: info
dns:
  - name: "{{FQDN}}"
    type: A
    matchers:
      - type: dsl
        dsl:
          - "rcode >= 0"
"""


# ---------------------------------------------------------------------- corpus logic


@needs_corpus
def test_dangling_cname_matches_nxdomain_with_a_cname(responder: Responder) -> None:
    template = corpus("detect-dangling-cname.yaml")
    report = run(template, "dangling.test", responder)
    assert len(report.results) == 1, report.notes
    result = report.results[0]
    assert result.extracted == ["gone.example.net."]
    assert result.type == "dns"
    assert result.matched_at == "dangling.test"
    assert "status: NXDOMAIN" in result.response
    # Near misses: a CNAME that resolves, and NXDOMAIN without a CNAME.
    assert run(template, "alias.test", responder).results == []
    assert run(template, "nx.test", responder).results == []
    assert [q[1] for q in responder.queries] == ["dangling.test", "alias.test", "nx.test"]


@needs_corpus
def test_servfail_and_refused_hosts(responder: Responder) -> None:
    template = corpus("servfail-refused-hosts.yaml")
    assert len(run(template, "broken.test", responder).results) == 1  # SERVFAIL
    assert len(run(template, "unknown.test", responder).results) == 1  # REFUSED
    assert run(template, "public.test", responder).results == []  # NOERROR


@needs_corpus
def test_dns_rebinding_private_addresses(responder: Responder) -> None:
    template = corpus("dns-rebinding.yaml")
    report = run(template, "rebind.test", responder)
    assert sorted(r.extracted[0] for r in report.results) == ["10.0.0.5", "fd00::5"]
    assert run(template, "public.test", responder).results == []
    assert [q[2] for q in responder.queries] == ["A", "AAAA", "A", "AAAA"]


# --------------------------------------------------------------------------- parts


def test_every_part_of_a_reply(tmp_path: Path, responder: Responder) -> None:
    text = """\
    id: dns-parts
    info:
      name: parts
      severity: info
    dns:
      - name: "{{FQDN}}"
        type: A
        matchers-condition: and
        matchers:
          - type: dsl
            dsl: ["rcode == 3"]
          - type: word
            part: question
            words: [";nx.test.\\tIN\\t A"]
          - type: regex
            part: ns
            regex: ["^test\\\\.\\t60\\tIN\\tSOA\\tns\\\\.test\\\\. hostmaster\\\\.test\\\\. 1 3600"]
          - type: word
            part: request
            words: ["flags: rd;", ";; QUESTION SECTION:"]
            condition: and
          - type: word
            part: extra
            words: ["udp: 1232"]
          - type: word
            words: ["status: NXDOMAIN", ";; AUTHORITY SECTION:"]
            condition: and
    """
    template = write_template(tmp_path, textwrap.dedent(text))
    report = run(template, "nx.test", responder)
    assert len(report.results) == 1, report.notes
    assert report.results[0].request.startswith(";; opcode: QUERY, status: NOERROR, id: ")
    assert run(template, "broken.test", responder).results == []  # rcode 2


def test_answer_variables_per_type(tmp_path: Path, responder: Responder) -> None:
    text = """\
    id: dns-vars
    info:
      name: vars
      severity: info
    dns:
      - name: "{{FQDN}}"
        type: TXT
        extractors:
          - type: dsl
            dsl: ["txt"]
          - type: regex
            part: answer
            regex: ['TXT\\t"(.*)"$']
            group: 1
      - name: "{{FQDN}}"
        type: A
        matchers:
          - type: dsl
            dsl: ["len(a) == 2"]
        extractors:
          - type: regex
            part: answer
            regex: ["IN\\tA\\t([0-9.]+)"]
            group: 1
    """
    template = write_template(tmp_path, textwrap.dedent(text))
    report = run(template, "multi.test", responder)
    assert [r.extracted for r in report.results] == [
        ['"v=spf1 -all"', "v=spf1 -all"],
        ["192.0.2.1", "192.0.2.2"],
    ]


def test_truncated_udp_reply_is_asked_again_over_tcp(tmp_path: Path, responder: Responder) -> None:
    report = run(write_template(tmp_path, FIELDS), "big.test", responder)
    assert len(report.results) == 1
    assert "192.0.2.99" in report.results[0].response
    assert [q[0] for q in responder.queries] == ["udp", "tcp"]
    assert report.requests == 2


def test_stray_and_garbage_datagrams_are_skipped(tmp_path: Path, responder: Responder) -> None:
    report = run(write_template(tmp_path, FIELDS), "noisy.test", responder)
    assert len(report.results) == 1
    assert "192.0.2.42" in report.results[0].response
    garbled = run(write_template(tmp_path, FIELDS), "garbled.test", responder, timeout=0.3)
    assert garbled.results == []
    assert any("DNS" in note for note in garbled.notes)


def test_retries_then_gives_up(tmp_path: Path, responder: Responder) -> None:
    text = FIELDS.replace("    type: A\n", "    type: A\n    retries: 2\n")
    report = run(write_template(tmp_path, text), "quiet.test", responder, timeout=0.3)
    assert report.results == []
    assert responder.queries == [("udp", "quiet.test", "A")] * 2
    assert any("2" in note for note in report.notes)


def test_ptr_for_an_address_target_and_ip_refusal(tmp_path: Path, responder: Responder) -> None:
    text = FIELDS.replace("type: A", "type: PTR").replace('"rcode >= 0"', "\"ptr == 'localhost.'\"")
    report = run(write_template(tmp_path, text), "127.0.0.1", responder)
    assert len(report.results) == 1
    assert responder.queries == [("udp", "1.0.0.127.in-addr.arpa", "PTR")]
    # An address is no DNS name for any other type (as in Nuclei): nothing is sent.
    report = run(write_template(tmp_path, FIELDS, "a.yaml"), "127.0.0.1", responder)
    assert report.results == [] and report.notes
    assert len(responder.queries) == 1


def test_flow_stops_after_a_failed_dns_block(tmp_path: Path, responder: Responder) -> None:
    text = """\
    id: dns-flow
    info:
      name: flow
      severity: info
    flow: dns(1) && dns(2)
    dns:
      - name: "{{FQDN}}"
        type: A
        matchers:
          - type: word
            words: ["NXDOMAIN"]
      - name: "{{FQDN}}"
        type: TXT
        matchers:
          - type: word
            words: ["TXT"]
    """
    template = write_template(tmp_path, textwrap.dedent(text))
    assert run(template, "public.test", responder).results == []
    assert len(responder.queries) == 1
    # Both blocks run and match (the TXT question line reads "TXT").
    assert len(run(template, "nx.test", responder).results) == 2
    assert len(responder.queries) == 3


# --------------------------------------------------------------------------- scope


def test_resolver_outside_the_scope_gets_no_query(tmp_path: Path, responder: Responder) -> None:
    template = write_template(tmp_path, FIELDS)
    ctx = context_for("public.test").with_options({"dns_resolvers": [responder.address]})
    report = execute(template, "public.test", ctx)
    assert report.results == []
    assert responder.queries == []
    assert any(responder.address in note and "解析器" in note for note in report.notes)


def test_queried_name_must_belong_to_the_target(tmp_path: Path, responder: Responder) -> None:
    elsewhere = FIELDS.replace('"{{FQDN}}"', '"{{FQDN}}.attacker.example"')
    report = run(write_template(tmp_path, elsewhere), "public.test", responder)
    assert report.results == [] and responder.queries == []
    assert any("public.test" in note for note in report.notes)
    suffix_trick = FIELDS.replace('"{{FQDN}}"', '"notpublic.test"')
    report = run(write_template(tmp_path, suffix_trick, "b.yaml"), "public.test", responder)
    assert report.results == [] and responder.queries == []
    below = FIELDS.replace('"{{FQDN}}"', '"_dmarc.{{FQDN}}"')
    run(write_template(tmp_path, below, "c.yaml"), "public.test", responder)
    assert responder.queries == [("udp", "_dmarc.public.test", "A")]


def test_template_resolvers_are_used_without_options(tmp_path: Path, responder: Responder) -> None:
    text = FIELDS.replace("    type: A\n", f"    type: A\n    resolvers: ['{responder.address}']\n")
    ctx = context_for("public.test", responder.address)
    report = execute(write_template(tmp_path, text), "public.test", ctx)
    assert len(report.results) == 1
    assert responder.queries == [("udp", "public.test", "A")]


def test_resolver_sources_and_forms(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# comment\nsearch example\nnameserver 127.0.0.53\nnameserver ::1 # v6\n"
        "nameserver 127.0.0.2\nnameserver 127.0.0.3\n"
    )
    assert dns_block.system_resolvers(conf) == ["127.0.0.53", "::1", "127.0.0.2"]
    assert dns_block.system_resolvers(tmp_path / "missing") == []
    parse = dns_block.parse_resolver
    assert parse("127.0.0.1:5353") == dns_block.Resolver("127.0.0.1", 5353)
    assert parse("[::1]:5353") == dns_block.Resolver("::1", 5353)
    assert parse("::1") == dns_block.Resolver("::1", 53)
    assert parse("tcp:127.0.0.1") == dns_block.Resolver("127.0.0.1", 53, True)
    assert parse("udp://ns.example:53") == dns_block.Resolver("ns.example", 53)
    assert parse("127.0.0.1:99999") is None
    assert parse("https://dns.example/dns-query") is None
    template = write_template(
        tmp_path, FIELDS.replace("    type: A\n", "    type: A\n    resolvers: ['127.0.0.9:53']\n")
    )
    block = template.dns[0]
    for options, expected in (
        ({"dns_resolvers": "127.0.0.7:5300, 127.0.0.8"}, ["127.0.0.7:5300", "127.0.0.8:53"]),
        ({}, ["127.0.0.9:53"]),
    ):
        ctx = context_for("x.test").with_options(options)
        state = RunState(template, "http://x.test", ctx, {})
        found = dns_block.resolvers_for(state, block, {}, conf)
        assert [str(r) for r in found] == expected
    bare = write_template(tmp_path, FIELDS, "bare.yaml")
    state = RunState(bare, "http://x.test", context_for("x.test"), {})
    assert [str(r) for r in dns_block.resolvers_for(state, bare.dns[0], {}, conf)] == [
        "127.0.0.53:53",
        "[::1]:53",
        "127.0.0.2:53",
    ]


def _features(tmp_path: Path, block: str) -> list[str]:
    text = f"id: x\ninfo:\n  name: x\n  severity: info\ndns:\n  - name: '{{{{FQDN}}}}'\n{block}"
    return write_template(tmp_path, text).features


def test_load_time_refusals(tmp_path: Path) -> None:
    assert _features(tmp_path, "    type: A\n") == []
    assert _features(tmp_path, "    trace: true\n") == ["dns-trace"]
    assert _features(tmp_path, "    type: AXFR\n") == ["dns-type:AXFR"]
    assert _features(tmp_path, "    class: weird\n") == ["dns-class:weird"]
    assert _features(tmp_path, "    bogus: 1\n") == ["dns-field:bogus"]
    assert _features(tmp_path, "    payloads:\n      x: [a]\n") == ["dns-payloads"]
    loaded = write_template(
        tmp_path,
        "id: y\ninfo:\n  name: y\n  severity: info\ndns:\n"
        "  - name: '{{FQDN}}'\n    type: txt\n    class: CHAOS\n    recursion: false\n",
    )
    block = loaded.dns[0]
    assert (block.qtype, block.qclass, block.recursion, block.retries) == ("TXT", "chaos", False, 3)


# ------------------------------------------------------------------------- dnsmasq


def _free_pair_port() -> int:
    udp, tcp = _bind_pair()
    port = int(udp.getsockname()[1])
    udp.close()
    tcp.close()
    return port


def _udp_bound(port: int) -> bool:
    wanted = f"0100007F:{port:04X}"
    lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(line.split()[1] == wanted for line in lines)


@pytest.fixture
def dnsmasq(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin")
    if binary is None:
        pytest.skip("dnsmasq is not installed (Debian package dnsmasq-base)")
    for _ in range(3):
        port = _free_pair_port()
        log = tmp_path / "dnsmasq.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    binary,
                    "--keep-in-foreground",
                    f"--port={port}",
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--no-resolv",  # no upstream: nothing is forwarded anywhere
                    "--no-hosts",
                    "--conf-file=/dev/null",
                    f"--pid-file={tmp_path / 'pid'}",
                    "--address=/rebind.test/10.0.0.5",
                    "--address=/rebind.test/fd00::5",
                    "--address=/nx.test/",
                    "--host-record=target.test,192.0.2.7",
                    "--cname=alias.test,target.test",
                    "--cname=dangling.test,gone.test",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None and not _udp_bound(port):
            time.sleep(0.05)
        if process.poll() is None and _udp_bound(port):
            break
        process.kill()
        process.wait(5)
    else:
        pytest.fail(f"dnsmasq did not start: {log.read_text(errors='replace')[-800:]}")
    yield f"127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _against(template: Template, target: str, resolver: str) -> RunReport:
    return execute(template, target, ctx_for(target, resolver))


@needs_corpus
def test_corpus_templates_against_dnsmasq(dnsmasq: str) -> None:
    rebinding = corpus("dns-rebinding.yaml")
    report = _against(rebinding, "rebind.test", dnsmasq)
    assert sorted(r.extracted[0] for r in report.results) == ["10.0.0.5", "fd00::5"]
    assert _against(rebinding, "alias.test", dnsmasq).results == []  # 192.0.2.7 is public
    refused = corpus("servfail-refused-hosts.yaml")
    assert len(_against(refused, "unknown.test", dnsmasq).results) == 1  # no upstream
    assert _against(refused, "target.test", dnsmasq).results == []
    dangling = corpus("detect-dangling-cname.yaml")
    # dnsmasq answers a CNAME to an unknown name with NOERROR: not the dangling pattern.
    assert _against(dangling, "dangling.test", dnsmasq).results == []
    assert _against(dangling, "nx.test", dnsmasq).results == []  # NXDOMAIN, no CNAME


def test_answers_from_dnsmasq_read_like_dig(tmp_path: Path, dnsmasq: str) -> None:
    text = FIELDS.replace('"rcode >= 0"', "\"cname == 'target.test.' && a == '192.0.2.7'\"")
    report = _against(write_template(tmp_path, text), "alias.test", dnsmasq)
    assert len(report.results) == 1, report.notes
    response = report.results[0].response
    assert ";; flags: qr aa rd ra;" in response or ";; flags: qr rd ra;" in response
    assert "alias.test.\t0\tIN\tCNAME\ttarget.test.\ntarget.test.\t0\tIN\tA\t192.0.2.7" in response


def test_cli_template_run_with_a_resolver(
    tmp_path: Path, responder: Responder, cli: CliRunner
) -> None:
    path = tmp_path / "fields.yaml"
    path.write_text(FIELDS, encoding="utf-8")
    # Without --resolver the system resolver is outside this run's scope: nothing is sent,
    # and --verbose says why.
    quiet = cli("template", "run", str(path), "--target", "public.test", "--verbose")
    assert quiet.code == 0 and responder.queries == []
    assert "dns-fields @ public.test" in quiet.err
    found = cli(
        "template",
        "run",
        str(path),
        "--target",
        "public.test",
        "--resolver",
        responder.address,
        "--json",
    )
    assert found.code == 0, found
    record = json.loads(found.out.splitlines()[0])
    assert record["template-id"] == "dns-fields" and record["type"] == "dns"
    assert [q[1] for q in responder.queries] == ["public.test"]
