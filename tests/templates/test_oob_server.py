"""The callback server's registry and TCP listener: correlation, waiting, bounds, the
protocols sniffed from the first bytes (HTTP, LDAP, RMI, SMTP, TLS, raw TCP), fuzzed
parsers, and the error when a port cannot be bound."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.core.settings import Settings, reset_settings
from shaobing.templates.oob import (
    Interaction,
    OobConfig,
    OobServer,
    OobUnavailable,
    Registry,
    new_id,
    reset_shared_server,
)
from shaobing.templates.oob.ldap import BerError, bind_success, message_size, parse_message
from shaobing.templates.oob.tcp import server_name, sniff
from tests.templates import oob_support
from tests.templates.oob_support import (
    LOCAL,
    http_get,
    ldap_bind_request,
    ldap_lookup,
    ldap_search_request,
    rmi_lookup,
    tls_hello,
)


@pytest.fixture
def oob(monkeypatch: pytest.MonkeyPatch) -> Iterator[OobServer]:
    yield from oob_support.serve(monkeypatch)


def _item(cid: str, protocol: str = "dns") -> Interaction:
    return Interaction(protocol, cid, "192.0.2.7", 5353, f"request for {cid}")


# ----------------------------------------------------------------------- registry


def test_ids_are_fresh_lower_case_and_long() -> None:
    ids = {new_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(len(i) >= 20 and i.isalnum() and i == i.lower() and i[0].isalpha() for i in ids)


def test_interactions_belong_only_to_the_ids_found_in_them() -> None:
    registry = Registry()
    mine, other = registry.register(), registry.register()
    registry.record(f"GET / HTTP/1.1\r\nHost: x{mine.upper()}y.oob.test\r\n", _item)
    assert [i.correlation_id for i in registry.interactions([mine])] == [mine]
    assert registry.interactions([other]) == []
    assert registry.wait([other], 0.2) == []
    unregistered = new_id()
    assert registry.record(f"{unregistered}.oob.test", _item) == []
    assert registry.interactions([unregistered]) == []


def test_wait_returns_early_then_collects_what_follows_within_the_grace() -> None:
    registry = Registry()
    cid = registry.register()

    def callbacks() -> None:
        time.sleep(0.2)
        registry.record(cid, lambda c: _item(c, "dns"))
        time.sleep(0.1)
        registry.record(cid, lambda c: _item(c, "http"))

    threading.Thread(target=callbacks).start()
    started = time.monotonic()
    found = registry.wait([cid], timeout=5, grace=0.4)
    elapsed = time.monotonic() - started
    assert [i.protocol for i in found] == ["dns", "http"]
    assert 0.55 <= elapsed < 2.0  # 0.2 s to the first, then the 0.4 s grace; not 5 s


def test_wait_times_out_with_nothing() -> None:
    registry = Registry()
    started = time.monotonic()
    assert registry.wait([registry.register()], 0.3) == []
    assert 0.28 <= time.monotonic() - started < 1.5


def test_ids_expire_and_the_registry_stays_bounded() -> None:
    now = [1000.0]
    registry = Registry(ttl=10, max_ids=3, max_per_id=2, clock=lambda: now[0])
    first = registry.register()
    for _ in range(3):
        registry.register()
    assert not registry.registered(first) and len(registry) == 3  # oldest evicted
    cid = registry.register()
    for _ in range(5):
        registry.record(cid, _item)
    assert len(registry.interactions([cid])) == 2
    now[0] += 11
    assert not registry.registered(cid)
    assert registry.record(cid, _item) == []


def test_observers_see_uncorrelated_callbacks_too() -> None:
    registry = Registry()
    seen: list[Interaction] = []
    registry.observers.append(seen.append)
    registry.record("nothing registered here", _item)
    assert [i.correlation_id for i in seen] == [""]


# ------------------------------------------------------------------ tcp listener


def test_http_callbacks_are_recorded_with_the_request(oob: OobServer) -> None:
    cid, host = oob.new_url()
    reply = http_get(oob.tcp_ports[0], host, "/probe?x=1")
    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert cid[::-1].encode() in reply  # interactsh's reversed id in the body
    (item,) = oob.wait([cid], 2)
    assert item.protocol == "http" and item.remote_address == LOCAL
    assert "GET /probe?x=1 HTTP/1.1" in item.request
    assert "User-Agent: Java/1.8.0_151" in item.request
    assert item.response.startswith("HTTP/1.1 200 OK")


def test_http_body_is_read_by_content_length(oob: OobServer) -> None:
    cid, _ = oob.new_url()
    body = f"token={cid}"
    with socket.create_connection((LOCAL, oob.tcp_ports[0]), timeout=3) as sock:
        head = f"POST /hook HTTP/1.1\r\nHost: unrelated\r\nContent-Length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode())
        time.sleep(0.1)  # body in a second segment
        sock.sendall(body.encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
    (item,) = oob.wait([cid], 2)
    assert item.request.endswith(body)


def test_ldap_bind_gets_success_and_the_search_dn_is_recorded(oob: OobServer) -> None:
    cid, _ = oob.new_url()
    response = ldap_lookup(oob.tcp_ports[0], f"cn={cid},dc=example")
    # LDAPMessage { messageID 1, bindResponse { success, matchedDN "", message "" } }
    assert response == bytes.fromhex("300c020101610 70a010004000400".replace(" ", ""))
    assert bind_success(b"\x01") == response and parse_message(response).operation == 0x61
    (item,) = oob.wait([cid], 2)
    assert item.protocol == "ldap"
    assert "Type=Bind" in item.request and "Version=3" in item.request
    assert f"Type=Search\nBaseDN=cn={cid},dc=example" in item.request
    assert "ResultCode=success" in item.response


def test_rmi_gets_a_protocol_ack_and_the_call_is_recorded(oob: OobServer) -> None:
    cid, _ = oob.new_url()
    ack = rmi_lookup(oob.tcp_ports[0], f"Exploit{cid}")
    assert ack[:1] == b"\x4e" and b"127.0.0.1" in ack
    (item,) = oob.wait([cid], 2)
    assert item.protocol == "rmi" and f"Exploit{cid}" in item.request
    assert item.request.startswith("JRMI")


def test_silent_clients_get_an_smtp_banner_and_the_mail_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = OobServer(
        OobConfig("oob.test", "127.0.0.1", None, 0, (0,), 0.5, banner_wait=0.2, idle_wait=0.3)
    )
    server.start()
    try:
        cid, host = server.new_url()
        with socket.create_connection((LOCAL, server.tcp_ports[0]), timeout=3) as sock:
            stream = sock.makefile("rwb")
            assert stream.readline().startswith(b"220 oob.test")
            for line, code in (
                ("EHLO scanner", b"250"),
                (f"MAIL FROM:<probe@{host}>", b"250"),
                ("RCPT TO:<x@example.com>", b"250"),
                ("DATA", b"354"),
            ):
                stream.write(line.encode() + b"\r\n")
                stream.flush()
                assert stream.readline().startswith(code), line
            stream.write(b"Subject: hi\r\n\r\nbody\r\n.\r\n")
            stream.flush()
            assert stream.readline().startswith(b"250")
            stream.write(b"QUIT\r\n")
            stream.flush()
            assert stream.readline().startswith(b"221")
        (item,) = server.wait([cid], 2)
        assert item.protocol == "smtp" and f"MAIL FROM:<probe@{host}>" in item.request
        assert "Subject: hi" in item.request
    finally:
        server.close()


def test_tls_client_hello_is_recorded_by_its_server_name(oob: OobServer) -> None:
    cid, host = oob.new_url()
    tls_hello(oob.tcp_ports[0], host)
    (item,) = oob.wait([cid], 2)
    assert item.protocol == "https" and f"SNI={host}" in item.request


def test_other_bytes_are_raw_tcp(oob: OobServer) -> None:
    cid, _ = oob.new_url()
    with socket.create_connection((LOCAL, oob.tcp_ports[0]), timeout=3) as sock:
        sock.sendall(b"\x00\x01hello " + cid.encode() + b"\xff")
        time.sleep(0.1)
    (item,) = oob.wait([cid], 2)
    assert item.protocol == "tcp" and "\\x00\\x01hello" in item.request


def test_a_connection_without_an_id_is_not_recorded(oob: OobServer) -> None:
    cid, _ = oob.new_url()
    http_get(oob.tcp_ports[0], "someone-else.oob.test")
    assert oob.wait([cid], 0.3) == []


# ------------------------------------------------------------------ fuzzed parsers


@given(st.binary(max_size=64))
@settings(max_examples=500, deadline=None)
def test_sniffer_names_a_known_protocol_for_any_bytes(data: bytes) -> None:
    assert sniff(data) in {"http", "ldap", "rmi", "smtp", "https", "tcp"}


@pytest.mark.parametrize(
    ("first", "protocol"),
    [
        (b"GET / HTTP/1.1\r\n", "http"),
        (b"PROPFIND /x HTTP/1.1", "http"),
        (b"BREW /pot HTTP/1.1", "http"),
        (ldap_bind_request(), "ldap"),
        (b"JRMI\x00\x02K", "rmi"),
        (b"EHLO x\r\n", "smtp"),
        (b"\x16\x03\x01\x02\x00\x01", "https"),
        (b"GETX", "tcp"),
        (b"\x00\x00", "tcp"),
    ],
)
def test_sniffer_recognises_first_bytes(first: bytes, protocol: str) -> None:
    assert sniff(first) == protocol


@given(st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_ber_reader_fails_only_with_ber_errors(data: bytes) -> None:
    for chunk in (data, b"\x30" + data, ldap_search_request("x")[:5] + data):
        try:
            size = message_size(chunk)
            if size is not None and size <= len(chunk):
                parse_message(chunk[:size])
        except BerError:
            pass


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_client_hello_parser_never_raises(data: bytes) -> None:
    server_name(b"\x16\x03\x01" + data)
    server_name(data)


def test_ber_edge_cases() -> None:
    with pytest.raises(BerError):
        message_size(b"\x30\x80")  # indefinite length
    with pytest.raises(BerError):
        message_size(b"\x30\x85\x00\x00\x00\x00\x01")  # five length octets
    with pytest.raises(BerError):
        parse_message(b"\x30\x03\x02\x05\x01")  # child longer than parent
    assert message_size(b"\x30") is None
    search = ldap_search_request("cn=x", message_id=7)
    assert parse_message(search).name == "cn=x"
    assert message_size(search + b"extra") == len(search)


# ----------------------------------------------------------------------- binding


def test_a_port_in_use_gives_one_clear_chinese_line() -> None:
    with socket.socket() as busy:
        busy.bind((LOCAL, 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = OobServer(OobConfig("oob.test", LOCAL, None, 0, (port,), 0.5))
        with pytest.raises(OobUnavailable) as caught:
            server.start()
        assert f"TCP {LOCAL}:{port}" in caught.value.message
        assert "带外回连服务无法监听" in caught.value.message and "\n" not in caught.value.message
        with pytest.raises(OobUnavailable):
            server.start()  # the failure is remembered, not retried per template
        assert server.dns_port == 0  # the DNS sockets it had bound were released


def test_advertised_address_defaults() -> None:
    assert OobConfig("oob.test", "127.0.0.1").advertised() == "127.0.0.1"
    assert OobConfig("oob.test", "127.0.0.1", "198.51.100.4").advertised() == "198.51.100.4"
    wildcard = OobConfig("oob.test", "0.0.0.0").advertised()
    assert wildcard and wildcard != "0.0.0.0"


def test_settings_read_ports_and_zone_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHAOBING_OOB_DOMAIN", "OOB.Example.gov.cn.")
    monkeypatch.setenv("SHAOBING_OOB_TCP_PORTS", "80, 8080")
    loaded = Settings()
    assert loaded.oob_domain == "oob.example.gov.cn"
    assert loaded.oob_tcp_ports == [80, 8080]
    monkeypatch.setenv("SHAOBING_OOB_TCP_PORTS", "[389]")
    assert Settings().oob_tcp_ports == [389]
    defaults = Settings(_env_file=None, oob_domain=None)  # type: ignore[call-arg]
    assert defaults.oob_wait == 5.0 and defaults.oob_dns_port == 53
    monkeypatch.delenv("SHAOBING_OOB_TCP_PORTS")
    assert Settings().oob_tcp_ports == [80, 389, 1099]
    for bad in ("not a domain!", "-x.example"):
        monkeypatch.setenv("SHAOBING_OOB_DOMAIN", bad)
        with pytest.raises(ValueError, match="callback domain"):
            Settings()
    monkeypatch.setenv("SHAOBING_OOB_DOMAIN", "oob.test")
    monkeypatch.setenv("SHAOBING_OOB_TCP_PORTS", "70000")
    with pytest.raises(ValueError, match="65535"):
        Settings()


def test_the_self_check_entry_point_records_its_own_callbacks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shaobing.templates.oob.__main__ import main

    for _ in oob_support.serve(monkeypatch):
        reset_shared_server()  # main() starts the configured server itself
        assert main(["--self-test", "--seconds", "0"]) == 0
    out = capsys.readouterr().out
    assert "自检通过" in out
    assert " dns " in out and " http " in out
    monkeypatch.delenv("SHAOBING_OOB_DOMAIN")
    reset_settings()
    assert main(["--seconds", "0"]) == 1
    assert "SHAOBING_OOB_DOMAIN" in capsys.readouterr().out


def test_settings_refuse_host_names_as_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAOBING_OOB_ADVERTISE", "scanner.example")
    with pytest.raises(ValueError, match="IP"):
        Settings()
    monkeypatch.setenv("SHAOBING_OOB_ADVERTISE", " 2001:DB8::1 ")
    monkeypatch.setenv("SHAOBING_OOB_LISTEN", "::")
    loaded = Settings()
    assert loaded.oob_advertise == "2001:db8::1" and loaded.oob_listen == "::"
