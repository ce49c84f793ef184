"""nmap's service probe file as an extra database: the line parser, CPE conversion, use.

The probe files here are written for the tests; nmap's own file is only read from the
machine (tests needing it skip when it is absent) and never copied.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.core.settings import reset_settings
from shaobing.scan.fingerprint import (
    FingerprintError,
    default_databases,
    identify,
    load_database,
)
from shaobing.scan.fingerprint_db import Database
from shaobing.scan.fingerprint_template import split_cpe
from shaobing.scan.nmap_probes import (
    NmapProbeError,
    cpe22_to_23,
    find_probe_file,
    load_nmap_database,
    parse_nmap_probes,
    unescape_payload,
)
from tests.services.fake import Handler, greeter, responder

REAL = find_probe_file()
needs_real_file = pytest.mark.skipif(
    REAL is None, reason="nmap's nmap-service-probes is not installed (apt-get install nmap)"
)

TOY_CPE = 'cpe:/a:toy:toy_daemon:$SUBST(1,"_",".")/'
TOY_FIELDS = "i/build $P(2)/ o/Linux/ " + TOY_CPE + " cpe:/o:linux:linux_kernel/a"
SAMPLE = r"""# A probe file written for the tests.
Exclude T:9100-9102,U:30000-40000

Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match toy m|^TOY (\d+)_(\d+) ready\r\n| p/Toy daemon/ v/$SUBST(1,"_",".").$2/ {TOY_FIELDS}
softmatch toy m|^TOY|i
match blob m=^\x01\x02(..)= p/Blob server/ v/$I(1,">")/ h/blobhost/ d/storage-misc/

Probe TCP Hello q|HELLO\r\n\x00\\\x7f|
rarity 3
ports 7000-7002,7010
sslports 7443
fallback NULL
match toy m%^ERR toy% p/Toy daemon/ i/said ERR/ cpe:/a:toy:toy_daemon/

Probe UDP Ping q|ping|
rarity 9
match udptoy m|^pong| p/Ping responder/
""".replace("{TOY_FIELDS}", TOY_FIELDS)


def test_sample_file_is_parsed() -> None:
    db = parse_nmap_probes(SAMPLE.encode(), source="sample")
    assert [p.name for p in db.probes] == ["NULL", "Hello", "Ping"]
    null, hello, ping = db.probes
    assert (null.payload, null.rarity, null.protocol) == (b"", 1, "tcp")
    assert hello.payload == b"HELLO\r\n\x00\\\x7f"
    assert hello.ports == frozenset({7000, 7001, 7002, 7010})
    assert hello.tls_ports == frozenset({7443})
    assert (hello.rarity, hello.fallback) == (3, ("NULL",))
    assert (ping.protocol, ping.rarity) == ("udp", 9)
    assert db.exclude == frozenset({9100, 9101, 9102})
    assert db.tcp_probes == (null, hello)
    assert db.tls_ports == frozenset({7443})
    toy, soft, blob = null.rules
    assert toy.spec.cpe == (
        'cpe:2.3:a:toy:toy_daemon:$SUBST(1,"_","."):*:*:*:*:*:*:*',
        "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*",
    )
    assert toy.line == 7 and toy.prefix == b"TOY "
    assert (soft.spec.soft, soft.flags, soft.prefix) == (True, re.IGNORECASE, b"toy")
    assert (blob.spec.hostname, blob.spec.device, blob.prefix) == (
        "blobhost",
        "storage-misc",
        b"\x01\x02",
    )
    # Rules of the fallback and of the NULL probe apply to Hello's answers too.
    assert db.rules_for(hello)[: len(hello.rules)] == hello.rules
    assert db.rules_for(hello).count(toy) == 1


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("Probe TCP X q|abc", "q"),
        ("Probe SCTP X q|a|", "SCTP"),
        ("Probe TCP X q|\\q|", "\\q"),
        ("Probe TCP X q|\\x4|", "\\x4"),
        ("Probe TCP X q|a| extra", "extra"),
        ("Probe TCP NULL q|a|", "NULL"),
        ("rarity 0", "0"),
        ("rarity ten", "ten"),
        ("ports 80-", "80-"),
        ("ports 70000", "70000"),
        ("ports 90-80", "90-80"),
        ("frobnicate 1", "frobnicate"),
        ("match x m|a|q", "q"),
        ("match x m|a", "m"),
        ("match x n|a|", "match"),
        ("match x m||", "match"),
        ("match x m|a| p/x", "p/x"),
        ("match x m|a| z/x/", "z/x/"),
        ("match x m|a| p/x/ p/y/", "p/y/"),
        ("match x m|a| cpe:/q:x:y/", "q:x:y"),
        ("match x m|a| v/$Q(1)/", "$Q"),
        ('match x m|a| v/$SUBST(1,"a")/', "SUBST"),
        ("Exclude 1", "Exclude"),
        ("totalwaitms soon", "soon"),
        ("fallback a,,b", "a,,b"),
    ],
)
def test_invalid_lines_name_the_line(line: str, fragment: str) -> None:
    text = "Probe TCP NULL q||\n# the line under test follows\n" + line + "\n"
    with pytest.raises(NmapProbeError) as caught:
        parse_nmap_probes(text, source="bad-file")
    message = str(caught.value)
    assert "bad-file" in message
    assert "第 3 行" in message
    assert fragment in message
    assert "\n" not in message


def test_repeated_directive_and_empty_file() -> None:
    with pytest.raises(NmapProbeError, match=r"第 1 行.*Probe"):
        parse_nmap_probes("match x m|a|\n")
    with pytest.raises(NmapProbeError, match="第 3 行"):
        parse_nmap_probes("Probe TCP A q|x|\nrarity 2\nrarity 3\n")
    with pytest.raises(NmapProbeError, match="Probe"):
        parse_nmap_probes("# nothing\n\n")


def test_invalid_regex_is_reported_with_its_line() -> None:
    text = "Probe TCP NULL q||\nmatch ok m|^ok|\nmatch bad m|^(unclosed|\n"
    db = parse_nmap_probes(text, source="lazy")  # compiled on first use
    with pytest.raises(FingerprintError, match="第 3 行"):
        _ = db.probes[0].rules[1].regex
    with pytest.raises(FingerprintError, match="第 3 行"):
        parse_nmap_probes(text, source="eager", check_patterns=True)


_LINE_START = st.sampled_from(
    [
        "match ",
        "softmatch ",
        "Probe TCP ",
        "Probe UDP ",
        "ports ",
        "sslports ",
        "rarity ",
        "fallback ",
        "Exclude ",
        "totalwaitms ",
        "",
        "# ",
    ]
)
_LINE_BODY = st.text(
    alphabet=st.sampled_from(list('mqpvihodcpe:/|%=$()\\x0123456789abAZ_ -,"^.*?[]{}SUBT')),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(start=_LINE_START, body=_LINE_BODY)
def test_line_parser_fuzz(start: str, body: str) -> None:
    text = "Probe TCP NULL q||\n" + start + body + "\n"
    error: FingerprintError | None = None
    try:
        db = parse_nmap_probes(text, source="fuzz", check_patterns=True)
    except FingerprintError as exc:  # NmapProbeError, or a regex that does not compile
        error = exc
    if error is None:
        assert db.probes[0].name == "NULL"
    else:
        message = str(error)
        assert "fuzz" in message
        assert "第 2 行" in message
        assert "\n" not in message


@given(st.binary(max_size=64))
def test_payload_escapes_round_trip(payload: bytes) -> None:
    def escape(byte: int) -> str:
        if byte == 0x5C:
            return "\\\\"
        if 0x20 < byte < 0x7F and byte != ord("|"):
            return chr(byte)
        return f"\\x{byte:02x}"

    text = "".join(escape(b) for b in payload)
    assert unescape_payload(text) == payload
    db = parse_nmap_probes(f"Probe TCP P q|{text}|\n")
    assert db.probes[0].payload == payload


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("cpe:/a:apache:http_server:2.4.57", "cpe:2.3:a:apache:http_server:2.4.57:*:*:*:*:*:*:*"),
        ("cpe:/o:linux:linux_kernel", "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*"),
        ("cpe:/h:cisco", "cpe:2.3:h:cisco:*:*:*:*:*:*:*:*:*"),
        ("cpe:/a:vendor:product:1.0:beta", "cpe:2.3:a:vendor:product:1.0:beta:*:*:*:*:*:*"),
        ("cpe:/a:x:y::sp1", "cpe:2.3:a:x:y:*:sp1:*:*:*:*:*:*"),
        ("cpe:/a:x:a%21b:1", "cpe:2.3:a:x:a\\!b:1:*:*:*:*:*:*:*"),
        ("cpe:/a:x:y:$1", "cpe:2.3:a:x:y:$1:*:*:*:*:*:*:*"),
        (
            'cpe:/o:microsoft:windows_$SUBST(1," ",":")',
            'cpe:2.3:o:microsoft:windows_$SUBST(1," ",":"):*:*:*:*:*:*:*:*',
        ),
    ],
)
def test_cpe22_to_23(uri: str, expected: str) -> None:
    assert cpe22_to_23(uri) == expected


@pytest.mark.parametrize("uri", ["cpe:a:x:y", "cpe:/z:x:y", "cpe:/a:1:2:3:4:5:6:7", "x"])
def test_cpe22_to_23_refuses(uri: str) -> None:
    with pytest.raises(ValueError, match=r"cpe|x"):
        cpe22_to_23(uri)


@given(
    st.sampled_from("aoh"),
    st.lists(st.text(alphabet="abcxyz019._-~!%:", max_size=8), max_size=6),
)
def test_cpe22_to_23_always_has_eleven_attributes(part: str, fields: list[str]) -> None:
    uri = "cpe:/" + ":".join([part, *(f.replace(":", "") for f in fields)])
    converted = cpe22_to_23(uri)
    assert converted.startswith(f"cpe:2.3:{part}:")
    assert len(split_cpe(converted)) == 13


# --- identification with an extra database ------------------------------------------------

EXTRA = r"""Probe TCP NULL q||
match toy m|^TOY ([\d_]+) ready\r\n| p/Toy daemon/ v/$SUBST(1,"_",".")/ {TOY_CPE}
match blob m|^BLOB(..)| p/Blob server/ v/$I(1,">")/ i/$I(1,"<")/
Probe TCP Hello q|HELLO\r\n|
rarity 1
match hello m|^HI from (\w+)| p/Hello server/ h/$1/
""".replace("{TOY_CPE}", TOY_CPE)


def _extra() -> tuple[Database, ...]:
    return (load_database(), parse_nmap_probes(EXTRA, source="extra"))


@pytest.mark.parametrize(
    ("greeting", "product", "version", "info"),
    [
        (b"TOY 1_2_3 ready\r\n", "Toy daemon", "1.2.3", None),
        (b"BLOB\x01\x02", "Blob server", "258", "513"),
    ],
)
def test_extra_database_identifies(
    serve: Callable[[Handler], int],
    greeting: bytes,
    product: str,
    version: str,
    info: str | None,
) -> None:
    port = serve(greeter(greeting))
    assert identify("127.0.0.1", port, timeout=0.3, max_probes=2, databases=_extra()[:1]) is None
    result = identify("127.0.0.1", port, timeout=0.3, max_probes=2, databases=_extra())
    assert result is not None
    assert (result.product, result.version, result.info) == (product, version, info)
    assert result.extra["database"] == "extra"


def test_extra_database_cpe_is_filled(serve: Callable[[Handler], int]) -> None:
    result = identify(
        "127.0.0.1", serve(greeter(b"TOY 4_5 ready\r\n")), timeout=0.3, databases=_extra()
    )
    assert result is not None
    assert result.cpe == ("cpe:2.3:a:toy:toy_daemon:4.5:*:*:*:*:*:*:*",)


def test_answers_are_reused_across_databases(serve: Callable[[Handler], int]) -> None:
    connections: list[bytes] = []

    def answer(request: bytes) -> bytes | None:
        connections.append(request)
        return b"HI from alpha\r\n" if request == b"HELLO\r\n" else None

    port = serve(responder(answer))
    result = identify("127.0.0.1", port, timeout=0.3, max_probes=3, databases=_extra())
    assert result is not None
    assert (result.product, result.hostname, result.probe) == ("Hello server", "alpha", "Hello")


def test_own_database_wins_when_it_names_a_product(serve: Callable[[Handler], int]) -> None:
    port = serve(greeter(b"SSH-2.0-OpenSSH_9.6\r\n"))
    result = identify("127.0.0.1", port, timeout=0.3, databases=_extra())
    assert result is not None
    assert (result.product, result.extra["database"]) == ("OpenSSH", "fingerprints.yaml")


@pytest.fixture
def probe_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "probes"
    path.write_text(EXTRA, encoding="utf-8")
    monkeypatch.setenv("SHAOBING_NMAP_SERVICE_PROBES", str(path))
    reset_settings()
    yield path
    monkeypatch.delenv("SHAOBING_NMAP_SERVICE_PROBES")
    reset_settings()


def test_settings_add_the_probe_file(probe_setting: Path) -> None:
    databases = default_databases()
    assert [db.name for db in databases] == ["fingerprints.yaml", str(probe_setting.resolve())]
    assert load_nmap_database(probe_setting) is databases[1]  # cached while unchanged


def test_missing_probe_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(NmapProbeError) as caught:
        load_nmap_database(tmp_path / "absent")
    assert "absent" in str(caught.value)
    assert "\n" not in str(caught.value)


# --- nmap's own file, read from this machine ----------------------------------------------


@needs_real_file
def test_real_probe_file_loads_quickly() -> None:
    assert REAL is not None
    data = REAL.read_bytes()
    started = time.perf_counter()
    db = parse_nmap_probes(data, source=str(REAL))
    elapsed = time.perf_counter() - started
    rules = [rule for probe in db.probes for rule in probe.rules]
    assert len(db.probes) >= 100
    assert len(rules) >= 10_000
    assert db.probes[0].name == "NULL"
    assert 9100 in db.exclude
    assert elapsed < 5.0, f"loading took {elapsed:.2f} s"
    assert all(cpe.startswith("cpe:2.3:") for rule in rules for cpe in rule.spec.cpe)
    # Most rules carry a literal prefix, so most answers skip them without a regex.
    assert sum(1 for rule in rules if rule.prefix) > 0.9 * len(rules)


@needs_real_file
def test_real_probe_file_patterns_all_compile() -> None:
    assert REAL is not None
    db = parse_nmap_probes(REAL.read_bytes(), source=str(REAL), check_patterns=True)
    assert db.probes


@needs_real_file
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_literal_prefixes_never_hide_a_match(data: st.DataObject) -> None:
    # For real rules: any answer the regex matches starts with the rule's prefix.
    db = load_nmap_database(REAL)
    rules = [r for p in db.probes for r in p.rules if r.prefix and len(r.pattern) < 80]
    rule = data.draw(st.sampled_from(rules))
    tail = data.draw(st.binary(max_size=40))
    for candidate in (rule.prefix + tail, tail, rule.prefix.upper() + tail):
        if rule.regex.search(candidate) is not None:
            assert rule.candidate(candidate)


@needs_real_file
def test_nmap_database_after_ours(serve: Callable[[Handler], int]) -> None:
    # Our database knows only "some SSH server" here; nmap's names the product.
    port = serve(greeter(b"SSH-2.0-Cisco-1.25\r\n"))
    own = identify("127.0.0.1", port, timeout=0.3, databases=(load_database(),))
    assert own is not None
    assert (own.service, own.product) == ("ssh", None)
    both = identify(
        "127.0.0.1", port, timeout=0.3, databases=(load_database(), load_nmap_database(REAL))
    )
    assert both is not None
    assert both.service == "ssh"
    assert both.product is not None and "Cisco" in both.product
    assert both.version == "1.25"
    assert all(cpe.startswith("cpe:2.3:") for cpe in both.cpe)
