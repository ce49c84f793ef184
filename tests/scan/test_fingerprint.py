"""Service identification against tiny fake servers on 127.0.0.1 (never any other host)."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shaobing.core.errors import ValidationError
from shaobing.scan.fingerprint import (
    FingerprintError,
    ServiceMatch,
    http_details,
    identify,
    load_database,
    load_probes,
    parse_database,
    web_components,
)
from shaobing.scan.fingerprint_db import Rule, RuleSpec, literal_prefix
from shaobing.scan.fingerprint_net import certificate_details
from shaobing.scan.fingerprint_template import check_template, fill, fill_cpe
from tests.services.fake import Handler, drain, greeter, responder

ALL = len(load_probes())
FAST = 0.3  # per-probe timeout used against the fake servers


def _identify(port: int) -> ServiceMatch | None:
    return identify("127.0.0.1", port, timeout=FAST, max_probes=ALL)


# --- servers that speak first ------------------------------------------------------------


def _mysql_greeting(version: bytes) -> bytes:
    body = (
        b"\x0a"
        + version
        + b"\x00"
        + struct.pack("<I", 42)
        + b"abcdefgh\x00"
        + b"\xfe\xf7\x2d\x02\x00\xff\x81\x15"
        + b"\x00" * 10
        + b"ijklmnopqrst\x00mysql_native_password\x00"
    )
    return struct.pack("<I", len(body))[:3] + b"\x00" + body


@pytest.mark.parametrize(
    ("greeting", "service", "product", "version", "cpe"),
    [
        (
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
            "ssh",
            "OpenSSH",
            "9.2p1",
            "cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*",
        ),
        (
            b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n",
            "ssh",
            "OpenSSH",
            "8.9p1",
            "cpe:2.3:a:openbsd:openssh:8.9p1:*:*:*:*:*:*:*",
        ),
        (
            b"SSH-2.0-dropbear_2022.83\r\n",
            "ssh",
            "Dropbear sshd",
            "2022.83",
            "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2022.83:*:*:*:*:*:*:*",
        ),
        (
            b"220 (vsFTPd 3.0.3)\r\n",
            "ftp",
            "vsftpd",
            "3.0.3",
            "cpe:2.3:a:vsftpd_project:vsftpd:3.0.3:*:*:*:*:*:*:*",
        ),
        (
            b"220 ProFTPD 1.3.8 Server (Debian) [::ffff:127.0.0.1]\r\n",
            "ftp",
            "ProFTPD",
            "1.3.8",
            "cpe:2.3:a:proftpd:proftpd:1.3.8:*:*:*:*:*:*:*",
        ),
        (
            b"220 mx.example.com ESMTP Exim 4.96 Sun, 22 Nov 2026 00:00:00 +0000\r\n",
            "smtp",
            "Exim smtpd",
            "4.96",
            "cpe:2.3:a:exim:exim:4.96:*:*:*:*:*:*:*",
        ),
        (
            _mysql_greeting(b"5.5.5-10.11.6-MariaDB-0+deb12u1"),
            "mysql",
            "MariaDB",
            "10.11.6",
            "cpe:2.3:a:mariadb:mariadb:10.11.6:*:*:*:*:*:*:*",
        ),
        (
            _mysql_greeting(b"8.0.36"),
            "mysql",
            "MySQL",
            "8.0.36",
            "cpe:2.3:a:oracle:mysql:8.0.36:*:*:*:*:*:*:*",
        ),
    ],
)
def test_banner_services(
    serve: Callable[[Handler], int],
    greeting: bytes,
    service: str,
    product: str,
    version: str,
    cpe: str,
) -> None:
    result = _identify(serve(greeter(greeting)))
    assert result is not None
    assert (result.service, result.product, result.version) == (service, product, version)
    assert result.cpe[0] == cpe
    assert result.probe == "banner"
    assert 0 < len(result.banner) <= 256


def test_openssh_debian_details(serve: Callable[[Handler], int]) -> None:
    result = _identify(serve(greeter(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")))
    assert result is not None
    assert result.os == "Linux"
    assert result.info == "Debian 2+deb12u3; protocol 2.0"
    assert "cpe:2.3:o:debian:debian_linux:-:*:*:*:*:*:*:*" in result.cpe
    assert result.banner == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\\r\\n"


@pytest.mark.parametrize(
    ("greeting", "service", "info"),
    [
        (b"@RSYNCD: 31.0\n", "rsync", "protocol 31.0"),
        (b"RFB 003.008\n", "vnc", "protocol 003.008"),
        (b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27", "telnet", None),
        (b"220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n", "smtp", "Debian/GNU"),
        (b"+OK Dovecot (Debian) ready.\r\n", "pop3", "Debian"),
        (b"* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot (Ubuntu) ready.\r\n", "imap", "Ubuntu"),
        (b"220 Welcome to my FTP service\r\n", "ftp", None),
    ],
)
def test_banner_protocols(
    serve: Callable[[Handler], int], greeting: bytes, service: str, info: str | None
) -> None:
    result = _identify(serve(greeter(greeting)))
    assert result is not None
    assert result.service == service
    assert result.info == info


# --- servers that answer a request ----------------------------------------------------------

NGINX_PAGE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n"
    b"Content-Length: 53\r\nConnection: close\r\n\r\n"
    b"<html><head><title>Welcome to nginx!</title></head></html>"
)
ES_PAGE = (
    b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\n  "name" : "node-1",\n'
    b'  "cluster_name" : "prod",\n  "version" : {\n    "number" : "8.11.3",\n'
    b'    "build_flavor" : "default"\n  },\n  "tagline" : "You Know, for Search"\n}\n'
)
DOCKER_VERSION = (
    b"HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\n\r\n"
    b'{"Platform":{"Name":"Docker Engine - Community"},"Components":[],'
    b'"Version":"24.0.7","ApiVersion":"1.43","MinAPIVersion":"1.12","Os":"linux"}\n'
)


def _http(path_pages: dict[bytes, bytes]) -> Handler:
    def answer(request: bytes) -> bytes | None:
        for prefix, page in path_pages.items():
            if request.startswith(prefix):
                return page
        return None

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        # Like a real HTTP/1.0 server: one request, one answer, then close.
        _one_shot(conn, stop, answer)

    return handle


def _one_shot(
    conn: socket.socket, stop: threading.Event, answer: Callable[[bytes], bytes | None]
) -> None:
    conn.settimeout(0.05)
    while not stop.is_set():
        try:
            request = conn.recv(4096)
        except TimeoutError:
            continue
        if not request:
            return
        reply = answer(request)
        if reply is not None:
            conn.sendall(reply)
        return


def test_http_nginx(serve: Callable[[Handler], int]) -> None:
    result = _identify(serve(_http({b"GET / ": NGINX_PAGE})))
    assert result is not None
    assert (result.service, result.product, result.version) == ("http", "nginx", "1.22.1")
    assert result.cpe == ("cpe:2.3:a:f5:nginx:1.22.1:*:*:*:*:*:*:*",)
    assert result.probe == "http-get"


def test_http_title_only(serve: Callable[[Handler], int]) -> None:
    page = b"HTTP/1.0 200 OK\r\n\r\n<html><TITLE> Router login </TITLE></html>"
    result = _identify(serve(_http({b"GET / ": page})))
    assert result is not None
    assert result.service == "http"
    assert result.info == "title: Router login"


def test_elasticsearch(serve: Callable[[Handler], int]) -> None:
    result = _identify(serve(_http({b"GET / ": ES_PAGE})))
    assert result is not None
    assert (result.service, result.version, result.info) == (
        "elasticsearch",
        "8.11.3",
        "cluster prod",
    )


def test_docker_api(serve: Callable[[Handler], int]) -> None:
    # Only /version answers, so the generic GET probe gets nothing and docker-version decides.
    result = _identify(serve(_http({b"GET /version ": DOCKER_VERSION})))
    assert result is not None
    assert (result.service, result.product) == ("docker", "Docker Engine API")
    assert (result.version, result.info) == ("24.0.7", "API 1.43")
    assert result.cpe == ("cpe:2.3:a:docker:docker:24.0.7:*:*:*:*:*:*:*",)


def test_redis_noauth(serve: Callable[[Handler], int]) -> None:
    port = serve(responder(lambda _request: b"-NOAUTH Authentication required.\r\n"))
    result = _identify(port)
    assert result is not None
    assert (result.service, result.product) == ("redis", "Redis key-value store")
    assert result.cpe == ("cpe:2.3:a:redis:redis:*:*:*:*:*:*:*:*",)


def test_redis_info(serve: Callable[[Handler], int]) -> None:
    info = b"# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux 6.1.0 x86_64\r\n"

    def answer(request: bytes) -> bytes:
        if request.upper().startswith(b"INFO"):
            return b"$%d\r\n%s\r\n" % (len(info), info)
        if request.startswith(b"PING"):
            return b"+PONG\r\n"
        return b"-ERR unknown command\r\n"

    result = _identify(serve(responder(answer)))
    assert result is not None
    assert (result.service, result.version, result.os) == ("redis", "7.0.15", "Linux 6.1.0 x86_64")
    assert result.cpe == ("cpe:2.3:a:redis:redis:7.0.15:*:*:*:*:*:*:*",)


def test_memcached(serve: Callable[[Handler], int]) -> None:
    def answer(request: bytes) -> bytes:
        return b"VERSION 1.6.18\r\n" if request == b"version\r\n" else b"ERROR\r\n"

    result = _identify(serve(responder(answer)))
    assert result is not None
    assert (result.service, result.product, result.version) == ("memcached", "Memcached", "1.6.18")
    assert result.cpe == ("cpe:2.3:a:memcached:memcached:1.6.18:*:*:*:*:*:*:*",)


def test_zookeeper(serve: Callable[[Handler], int]) -> None:
    srvr = (
        b"Zookeeper version: 3.8.3-6ad6d364c7c0bcf0de452d54ebefa3058098ab56, built on "
        b"2023-10-05 10:34 UTC\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\n"
        b"Connections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n"
    )
    result = _identify(serve(_http({b"srvr": srvr})))
    assert result is not None
    assert (result.service, result.version) == ("zookeeper", "3.8.3")
    assert result.info == "built on 2023-10-05 10:34 UTC"
    assert result.cpe == ("cpe:2.3:a:apache:zookeeper:3.8.3:*:*:*:*:*:*:*",)


def _amqp_start() -> bytes:
    def field(key: bytes, value: bytes) -> bytes:
        return bytes([len(key)]) + key + b"S" + struct.pack(">I", len(value)) + value

    table = field(b"cluster_name", b"rabbit@host") + field(b"product", b"RabbitMQ")
    table += field(b"version", b"3.12.1")
    args = b"\x00\x09" + struct.pack(">I", len(table)) + table
    args += struct.pack(">I", 5) + b"PLAIN" + struct.pack(">I", 5) + b"en_US"
    payload = b"\x00\x0a\x00\x0a" + args
    return b"\x01\x00\x00" + struct.pack(">I", len(payload)) + payload + b"\xce"


@pytest.mark.parametrize(
    ("prefix", "reply", "service", "product"),
    [
        (b"AMQP", _amqp_start(), "amqp", "RabbitMQ"),
        (
            b"\x00\x00\x00\x29\x00\x03",
            b"R\x00\x00\x00\x0c\x00\x00\x00\x05abcd",
            "postgresql",
            "PostgreSQL DB",
        ),
        (
            b"\x16\x03\x01",
            b"\x16\x03\x03\x00\x2a\x02\x00\x00\x26\x03\x03" + b"\x00" * 38,
            "tls",
            None,
        ),
        (
            b"\x12\x01\x00\x1a",
            b"\x04\x01\x00\x25\x00\x00\x01\x00\x00\x00\x15\x00\x06\x01\x00\x1b\x00\x01\xff"
            b"\x0f\x00\x07\xd0\x00\x00\x02",
            "ms-sql-s",
            "Microsoft SQL Server",
        ),
        (
            b"\x03\x00\x00\x13",
            b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00",
            "ms-wbt-server",
            "Microsoft Terminal Services",
        ),
        (
            b"\x30\x0c\x02\x01\x01\x60",
            b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00",
            "ldap",
            None,
        ),
    ],
)
def test_request_protocols(
    serve: Callable[[Handler], int],
    prefix: bytes,
    reply: bytes,
    service: str,
    product: str | None,
) -> None:
    result = _identify(serve(_http({prefix: reply})))
    assert result is not None
    assert (result.service, result.product) == (service, product)


def test_rabbitmq_version(serve: Callable[[Handler], int]) -> None:
    result = _identify(serve(_http({b"AMQP": _amqp_start()})))
    assert result is not None
    assert result.version == "3.12.1"
    assert result.cpe == ("cpe:2.3:a:vmware:rabbitmq:3.12.1:*:*:*:*:*:*:*",)


# --- hostile or useless peers -------------------------------------------------------------


def test_silent_server_returns_none_within_bound(serve: Callable[[Handler], int]) -> None:
    port = serve(drain)
    started = time.monotonic()
    result = identify("127.0.0.1", port, timeout=0.2)
    elapsed = time.monotonic() - started
    assert result is None
    assert elapsed < 0.2 * 6 + 1.0


def test_garbage_server_returns_none_or_generic(serve: Callable[[Handler], int]) -> None:
    def spew(conn: socket.socket, stop: threading.Event) -> None:
        chunk = bytes((i * 37 + 11) % 251 for i in range(200)).replace(b"\xff", b"")
        while not stop.is_set():
            conn.sendall(chunk)
            time.sleep(0.02)

    port = serve(spew)
    started = time.monotonic()
    result = identify("127.0.0.1", port, timeout=0.2, max_bytes=4096)
    assert time.monotonic() - started < 0.2 * 6 + 1.0
    assert result is None or result.product is None


def test_trickling_server_is_bounded(serve: Callable[[Handler], int]) -> None:
    def trickle(conn: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            conn.sendall(b"x")
            time.sleep(0.1)

    port = serve(trickle)
    started = time.monotonic()
    assert identify("127.0.0.1", port, timeout=0.3, max_probes=3) is None
    assert time.monotonic() - started < 0.3 * 3 + 0.8


def test_closed_port_returns_none() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert identify("127.0.0.1", port, timeout=0.5) is None


@pytest.mark.parametrize("address", ["example.com", "localhost", "", "127.0.0.1:22"])
def test_non_ip_address_is_refused(address: str) -> None:
    with pytest.raises(ValidationError):
        identify(address, 22)


@pytest.mark.parametrize("port", [0, 65536, True])
def test_bad_port_is_refused(port: int) -> None:
    with pytest.raises(ValidationError):
        identify("127.0.0.1", port)


# --- the database itself ----------------------------------------------------------------


def test_database_loads_and_compiles() -> None:
    probes = load_probes()
    assert probes[0].name == "banner"
    assert len({p.name for p in probes}) == len(probes)
    services = {rule.spec.service for p in probes for rule in p.rules}
    expected = {"ssh", "ftp", "smtp", "pop3", "imap", "telnet", "http", "redis", "memcached"}
    expected |= {"mysql", "postgresql", "mongodb", "elasticsearch", "docker", "zookeeper"}
    expected |= {"rsync", "vnc", "ms-wbt-server", "ms-sql-s", "ldap", "dm", "kingbase"}
    expected |= {"amqp", "tls"}
    assert expected <= services
    for probe in probes:
        for rule in probe.rules:
            assert rule.regex.pattern  # compiled at load
            for cpe in rule.spec.cpe:
                assert cpe.startswith("cpe:2.3:")
                assert len(cpe.split(":")) == 13


BANNER = "  - name: banner\n    payload: ''\n    rarity: 1\n    matches:\n"


@pytest.mark.parametrize(
    "text",
    [
        "probes: [",  # not YAML
        "probes: []",
        "probes:\n" + BANNER + "      - {service: x, pattern: '(unclosed'}\n",
        "probes:\n" + BANNER + "      - {service: x, pattern: 'a', flags: 'q'}\n",
        "probes:\n" + BANNER + "      - {service: x, pattern: 'a', cpe: ['cpe:/a:x:y']}\n",
        "probes:\n" + BANNER + "      - {service: x, pattern: 'a', colour: red}\n",
        "probes:\n  - {name: p, payload: 'x', rarity: 1, matches: [{service: x, pattern: a}]}\n",
        "probes:\n  - {name: b, payload: '', rarity: 0, matches: [{service: x, pattern: a}]}\n",
        "probes:\n"
        + BANNER
        + "      - {service: x, pattern: a}\n"
        + BANNER.replace("name: banner", "name: other").replace(
            "    payload", "    protocol: udp\n    payload"
        )
        + "      - {service: y, pattern: b}\n",
        "probes:\n"
        + BANNER
        + "      - {service: x, pattern: a}\n"
        + BANNER
        + "      - {service: y, pattern: b}\n",
    ],
)
def test_malformed_database_is_refused(text: str) -> None:
    with pytest.raises(FingerprintError):
        parse_database(text, source="test.yaml")


def test_valid_custom_database() -> None:
    probes = parse_database(
        "probes:\n" + BANNER + "      - {service: x, pattern: '^X(\\d)', version: '$1'}\n"
    ).probes
    assert probes[0].payload == b""
    assert probes[0].rules[0].regex.search(b"X7") is not None


def test_port_hints_come_first() -> None:
    from shaobing.scan.fingerprint import _order

    # A port hinted for request probes only: they go before the banner wait.
    names = [p.name for p in _order(load_probes(), 6379, 6)]
    assert names[:3] == ["redis-info", "redis-ping", "banner"]
    names = [p.name for p in _order(load_probes(), 11211, 4)]
    assert names[:2] == ["memcached-version", "banner"]
    assert len(names) == 4
    # A port the banner probe is hinted for, or no hint at all: the banner comes first.
    assert _order(load_probes(), 22, 3)[0].name == "banner"
    names = [p.name for p in _order(load_probes(), 40001, 6)]
    assert names == [
        "banner",
        "http-get",
        "redis-info",
        "tls-client-hello",
        "memcached-version",
        "postgres-startup",
    ]
    # Inside TLS, ClientHello probes are pointless and a chosen probe goes first.
    inside = [p.name for p in _order(load_probes(), 40001, 50, tls=True, first="http-get")]
    assert inside[:2] == ["http-get", "banner"]
    assert "tls-client-hello" not in inside


def test_ipv6_loopback(serve: Callable[[Handler], int]) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
        try:
            server.bind(("::1", 0))
        except OSError:
            pytest.skip("no ::1")
        server.listen(4)
        port = server.getsockname()[1]

        def greet() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
                conn.recv(16)

        worker = threading.Thread(target=greet, daemon=True)
        worker.start()
        result = identify("::1", port, timeout=FAST, max_probes=1)
        worker.join(2)
    assert result is not None
    assert (result.product, result.version) == ("OpenSSH", "9.6")


def test_messages_exist_in_both_languages() -> None:
    from shaobing.core.i18n import catalogue

    zh = {k for k in catalogue("zh-CN") if k.startswith("scan_fp.")}
    en = {k for k in catalogue("en") if k.startswith("scan_fp.")}
    assert zh == en
    assert "scan_fp.address_invalid" in zh


# --- issue 4 additions: more protocols, TLS, web components ---------------------------------


def _oracle_refuse(text: bytes) -> bytes:
    body = b"\x00\x00" + struct.pack(">H", len(text)) + text
    return struct.pack(">HHBBH", 8 + len(body), 0, 4, 0, 0) + body


def test_oracle_tns_version_from_refusal(serve: Callable[[Handler], int]) -> None:
    refusal = _oracle_refuse(
        b"(DESCRIPTION=(TMP=)(VSNNUM=186647040)(ERR=12514)"
        b"(ERROR_STACK=(ERROR=(CODE=12514)(EMFI=4))))"
    )
    result = _identify(serve(_http({b"\x00\xa4\x00\x00\x01": refusal})))
    assert result is not None
    assert (result.service, result.product, result.version) == (
        "oracle-tns",
        "Oracle TNS listener",
        "11.2.0.2.0",
    )
    assert result.info == "ORA-12514"
    assert result.cpe == ("cpe:2.3:a:oracle:database_server:11.2.0.2.0:*:*:*:*:*:*:*",)


def test_oracle_tns_hidden_version(serve: Callable[[Handler], int]) -> None:
    refusal = _oracle_refuse(b"(DESCRIPTION=(ERR=1153)(VSNNUM=0)(ERROR_STACK=(ERROR=(CODE=1153))))")
    result = _identify(serve(_http({b"\x00\xa4\x00\x00\x01": refusal})))
    assert result is not None
    assert (result.product, result.version) == ("Oracle TNS listener", None)
    assert result.cpe == ("cpe:2.3:a:oracle:database_server:*:*:*:*:*:*:*:*",)


def _smb2_negotiate_response(dialect: int, security_blob: bytes) -> bytes:
    header = b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ", 64, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0)
    header += b"\x00" * 16
    body = struct.pack("<HHHH", 65, 1, dialect, 0) + b"G" * 16
    body += struct.pack("<IIII", 0x2F, 8388608, 8388608, 8388608) + b"\x00" * 16
    body += struct.pack("<HHI", 128, len(security_blob), 0) + security_blob
    message = header + body
    return struct.pack(">I", len(message)) + message


@pytest.mark.parametrize(
    ("dialect", "blob", "product", "info"),
    [
        (
            0x0302,
            b"\x60\x5e\x06\x06+\x06\x01\x05\x05\x02not_defined_in_RFC4178@please_ignore",
            "Samba smbd",
            "SMB dialect 3.0.2",
        ),
        (0x0210, b"\x60\x28\x06\x06+\x06\x01\x05\x05\x02\xa0\x1e", None, "SMB dialect 2.1"),
    ],
)
def test_smb2_negotiate(
    serve: Callable[[Handler], int], dialect: int, blob: bytes, product: str | None, info: str
) -> None:
    port = serve(_http({b"\x00\x00\x00\x6c\xfeSMB": _smb2_negotiate_response(dialect, blob)}))
    result = identify("127.0.0.1", port, timeout=FAST, max_probes=ALL)
    assert result is not None
    assert (result.service, result.product, result.info) == ("microsoft-ds", product, info)


K8S_VERSION = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
    b'{\n  "major": "1",\n  "minor": "28",\n  "gitVersion": "v1.28.2+k3s1",\n'
    b'  "gitCommit": "abc",\n  "goVersion": "go1.20.8",\n  "platform": "linux/amd64"\n}\n'
)
K8S_DENIED = (
    b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n"
    b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
    b'"message":"Unauthorized","reason":"Unauthorized","code":401}'
)


def test_kubernetes_version(serve: Callable[[Handler], int]) -> None:
    result = _identify(serve(_http({b"GET /version ": K8S_VERSION, b"GET / ": K8S_DENIED})))
    assert result is not None
    assert (result.service, result.product, result.version) == (
        "kubernetes",
        "Kubernetes API server",
        "1.28.2+k3s1",
    )
    assert result.info == "linux/amd64"
    assert result.cpe == ("cpe:2.3:a:kubernetes:kubernetes:1.28.2\\+k3s1:*:*:*:*:*:*:*",)


def test_kubernetes_anonymous_refused(serve: Callable[[Handler], int]) -> None:
    result = _identify(serve(_http({b"GET ": K8S_DENIED})))
    assert result is not None
    assert (result.service, result.info) == ("kubernetes", "anonymous access refused")


def _page(headers: bytes, body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + headers + b"\r\n" + body


def test_rabbitmq_management_and_components(serve: Callable[[Handler], int]) -> None:
    page = _page(
        b"Server: Cowboy\r\nContent-Type: text/html\r\n",
        b"<html><head><title>RabbitMQ Management</title></head></html>",
    )
    result = _identify(serve(_http({b"GET / ": page})))
    assert result is not None
    assert result.product == "RabbitMQ management web UI"
    names = [c["name"] for c in result.extra["components"]]
    assert names == ["RabbitMQ Management"]
    assert result.extra["http"] == {
        "status": 200,
        "server": "Cowboy",
        "title": "RabbitMQ Management",
    }


@pytest.mark.parametrize(
    ("headers", "body", "component", "version"),
    [
        (
            b"Server: Jetty(10.0.15)\r\nX-Jenkins: 2.414.1\r\n",
            b"<title>Dashboard</title>",
            "Jenkins",
            "2.414.1",
        ),
        (
            b"Set-Cookie: rememberMe=deleteMe; Path=/\r\n",
            b"<h1>Whitelabel Error Page</h1>",
            "Apache Shiro",
            None,
        ),
        (b"Set-Cookie: JSESSIONID=1\r\n", b"<h1>Whitelabel Error Page</h1>", "Spring Boot", None),
        (b"X-Powered-By: ThinkPHP\r\n", b"<title>x</title>", "ThinkPHP", None),
        (b"", b"<title>phpMyAdmin</title>", "phpMyAdmin", None),
        (
            b"Set-Cookie: _gitlab_session=abc\r\n",
            b"<title>Sign in \xc2\xb7 GitLab</title>",
            "GitLab",
            None,
        ),
        (b"", b"<title>Nacos</title>", "Nacos", None),
        (b"", "<title>安全入口校验失败</title>".encode(), "BT Panel (宝塔面板)", None),
        (b"Set-Cookie: zbx_session=abc\r\n", b"<title>Zabbix</title>", "Zabbix", None),
        (b"", b"<title>Grafana</title>", "Grafana", None),
        (b"kbn-name: kibana\r\nkbn-version: 8.11.3\r\n", b"", "Kibana", "8.11.3"),
        (b"", b"<title>Harbor</title>", "Harbor", None),
        (
            b"Server: Apache/2.4.57 (Debian)\r\n",
            b"<title>It works</title>",
            "Apache httpd",
            "2.4.57",
        ),
        (b"Server: Microsoft-IIS/10.0\r\nX-Powered-By: ASP.NET\r\n", b"", "Microsoft IIS", "10.0"),
        (b"Server: openresty/1.21.4.1\r\n", b"", "OpenResty", "1.21.4.1"),
        (b"Server: Tengine/2.3.3\r\n", b"", "Tengine", "2.3.3"),
        (b"", b"<title>Apache Tomcat/9.0.80</title>", "Apache Tomcat", "9.0.80"),
        (
            b"",
            b"<TITLE>Error 404--Not Found</TITLE><H4>From RFC 2068 <i>Hypertext",
            "Oracle WebLogic Server",
            None,
        ),
        (
            b"X-Powered-By: Undertow/1\r\n",
            b"<title>Welcome to WildFly</title>",
            "JBoss/WildFly",
            None,
        ),
    ],
)
def test_web_components(headers: bytes, body: bytes, component: str, version: str | None) -> None:
    found = {c["name"]: c for c in web_components(_page(headers, body), load_database().components)}
    assert component in found
    assert found[component]["version"] == version
    for cpe in found[component]["cpe"]:
        assert cpe.startswith("cpe:2.3:")
        assert len(cpe.split(":")) == 13


def test_components_reach_the_match(serve: Callable[[Handler], int]) -> None:
    page = _page(
        b"Server: nginx/1.24.0\r\nSet-Cookie: rememberMe=deleteMe\r\n",
        b"<h1>Whitelabel Error Page</h1>",
    )
    result = _identify(serve(_http({b"GET / ": page})))
    assert result is not None
    assert (result.product, result.version) == ("nginx", "1.24.0")
    names = [c["name"] for c in result.extra["components"]]
    assert names == ["nginx", "Spring Boot", "Apache Shiro"]
    assert "cpe:2.3:a:apache:shiro:*:*:*:*:*:*:*:*" in result.cpe
    assert result.cpe[0] == "cpe:2.3:a:f5:nginx:1.24.0:*:*:*:*:*:*:*"


def test_declared_charset_decides_short_titles() -> None:
    # "平台" in GBK is also valid UTF-8 (two unrelated characters): the charset decides.
    body = "<title>平台</title>".encode("gbk")
    for head in (b"Content-Type: text/html; charset=GBK\r\n", b""):
        meta = b"" if head else b'<meta charset="gb2312">'
        details = http_details(_page(head, meta + body))
        assert details["title"] == "平台"
    unknown = _page(b"Content-Type: text/html; charset=nonsense\r\n", b"<title>ok</title>")
    assert http_details(unknown)["title"] == "ok"


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_chinese_titles_are_decoded(serve: Callable[[Handler], int], encoding: str) -> None:
    title = "统一身份认证平台"
    page = _page(b"Content-Type: text/html\r\n", f"<title>{title}</title>".encode(encoding))
    result = _identify(serve(_http({b"GET / ": page})))
    assert result is not None
    assert result.info == f"title: {title}"
    assert result.extra["http"]["title"] == title


def test_postgres_trust_and_unsupported_protocol(serve: Callable[[Handler], int]) -> None:
    trust = b"R\x00\x00\x00\x08\x00\x00\x00\x00E\x00\x00\x00\x20SFATAL\x00C3D000\x00Mno db\x00\x00"
    result = _identify(serve(_http({b"\x00\x00\x00\x29\x00\x03": trust})))
    assert result is not None
    assert (result.product, result.info) == ("PostgreSQL DB", "no authentication required (trust)")
    unsupported = (
        b"E\x00\x00\x00\x60SFATAL\x00VFATAL\x00C0A000\x00Munsupported frontend protocol "
        b"65107.19778: server supports 3.0 to 3.0\x00\x00"
    )
    result = _identify(serve(_http({b"\x00\x00\x00\x6c\xfeSMB": unsupported})))
    assert result is not None
    assert (result.service, result.product) == ("postgresql", "PostgreSQL DB")


def test_memcached_with_authentication(serve: Callable[[Handler], int]) -> None:
    result = _identify(serve(responder(lambda _r: b"CLIENT_ERROR unauthenticated\r\n")))
    assert result is not None
    assert (result.product, result.info) == ("Memcached", "authentication required")


def test_soft_match_continues_to_the_version(serve: Callable[[Handler], int]) -> None:
    # Redis answers an HTTP request with an error (a soft match), then INFO gives the version.
    def answer(request: bytes) -> bytes | None:
        if request.startswith(b"GET"):
            return b"-ERR wrong number of arguments for 'get' command\r\n"
        if request.startswith(b"INFO"):
            info = b"redis_version:7.2.4\r\n"
            return b"$%d\r\n%s\r\n" % (len(info), info)
        return None

    result = _identify(serve(responder(answer)))
    assert result is not None
    assert (result.service, result.version, result.probe) == ("redis", "7.2.4", "redis-info")


def test_soft_match_is_the_fallback(serve: Callable[[Handler], int]) -> None:
    result = _identify(serve(responder(lambda _r: b"ERROR\r\n")))
    assert result is not None
    assert (result.service, result.product) == ("memcached", None)


# --- TLS ------------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_cert(
    directory: Path,
    *,
    key_kind: str = "rsa",
    ca: bool = False,
    expired: bool = False,
) -> tuple[Path, Path]:
    """A server certificate for CN shaobing.test (self-signed, or issued by a throw-away CA)."""
    key: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if key_kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    now = datetime.datetime.now(datetime.UTC)
    start, end = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1))
    if not expired:
        start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    issuer_key, issuer = key, _name("shaobing.test")
    if ca:
        issuer_key, issuer = ec.generate_private_key(ec.SECP256R1()), _name("Shaobing Test CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("shaobing.test"))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("shaobing.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{key_kind}-{ca}-{expired}.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _tls_server(
    cert: tuple[Path, Path],
    *,
    greeting: bytes = b"",
    reply: bytes | None = None,
    plain_reply: bytes | None = None,
) -> Handler:
    """Serve TLS on the connection when the client starts a handshake; otherwise answer
    ``plain_reply`` to a plain request (or just close)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(2)
        first = conn.recv(1, socket.MSG_PEEK)
        if first != b"\x16":
            if first and plain_reply is not None:
                conn.recv(4096)
                conn.sendall(plain_reply)
            return
        with context.wrap_socket(conn, server_side=True) as tls:
            if greeting:
                tls.sendall(greeting)
            request = tls.recv(4096)
            if request and reply is not None:
                tls.sendall(reply)

    return handle


NGINX_TLS_COMPLAINT = (
    b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\r\n"
    b"<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head>"
    b"<body><center>The plain HTTP request was sent to HTTPS port</center></body></html>"
)


def test_https_after_plain_http_complaint(serve: Callable[[Handler], int], tmp_path: Path) -> None:
    cert = _write_cert(tmp_path)
    page = _page(b"Server: nginx/1.22.1\r\n", b"<title>Inside TLS</title>")
    port = serve(_tls_server(cert, reply=page, plain_reply=NGINX_TLS_COMPLAINT))
    result = _identify(port)
    assert result is not None
    assert (result.service, result.product, result.version, result.tls) == (
        "http",
        "nginx",
        "1.22.1",
        True,
    )
    assert result.probe == "http-get"
    assert result.extra["http"]["title"] == "Inside TLS"
    tls = result.extra["tls"]
    assert tls["version"].startswith("TLSv1")
    details = tls["certificate"]
    assert details["subject_cn"] == "shaobing.test"
    assert details["issuer_cn"] == "shaobing.test"
    assert details["sans"] == ["DNS:shaobing.test", "IP:127.0.0.1"]
    assert details["self_signed"] is True
    assert details["expired"] is False
    assert (details["key_type"], details["key_bits"]) == ("RSA", 2048)
    assert details["signature_algorithm"] == "sha256WithRSAEncryption"
    assert datetime.datetime.fromisoformat(details["not_before"]) < datetime.datetime.fromisoformat(
        details["not_after"]
    )
    assert len(details["sha256"]) == 64


def test_tls_found_by_server_hello_then_banner_inside(
    serve: Callable[[Handler], int], tmp_path: Path
) -> None:
    cert = _write_cert(tmp_path, key_kind="ec", ca=True, expired=True)
    greeting = b"* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.\r\n"
    port = serve(_tls_server(cert, greeting=greeting))
    result = _identify(port)
    assert result is not None
    assert (result.service, result.tls, result.probe) == ("imap", True, "banner")
    details = result.extra["tls"]["certificate"]
    assert details["self_signed"] is False
    assert details["issuer_cn"] == "Shaobing Test CA"
    assert details["expired"] is True
    assert (details["key_type"], details["key_bits"], details["curve"]) == ("EC", 256, "secp256r1")
    assert details["signature_algorithm"] == "ecdsa-with-SHA256"


def test_silent_tls_service_is_reported_as_tls(
    serve: Callable[[Handler], int], tmp_path: Path
) -> None:
    port = serve(_tls_server(_write_cert(tmp_path, key_kind="ec")))
    result = identify("127.0.0.1", port, timeout=FAST, max_probes=4)
    assert result is not None
    assert (result.service, result.product, result.tls) == ("tls", None, True)
    assert result.extra["tls"]["certificate"]["subject_cn"] == "shaobing.test"


def test_certificate_details_never_raise() -> None:
    assert certificate_details(b"not a certificate")["error"] == "unparsable certificate"
    key = ed25519.Ed25519PrivateKey.generate()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("ed"))
        .issuer_name(_name("ed"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, None)
    )
    details = certificate_details(cert.public_bytes(serialization.Encoding.DER))
    assert (details["key_type"], details["self_signed"], details["sans"]) == ("Ed25519", True, [])
    assert details["signature_algorithm"] == "ed25519"


# --- templates and literal prefixes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "pattern", "data", "expected"),
    [
        ("$1", rb"^v(\S+)", b"v1.2", "1.2"),
        ('$SUBST(1,"_",".")', rb"^v(\S+)", b"v1_2_3", "1.2.3"),
        ('$SUBST(1, "_", " ")', rb"^v(\S+)", b"v1_2", "1 2"),
        ('$I(1,">")', rb"^(..)", b"\x01\x02", "258"),
        ('$I(1,"<")', rb"^(..)", b"\x01\x02", "513"),
        ("$P(1)", rb"^(.*)", b"a\x00b\x01c", "abc"),
        ("$ORAVSN(1)", rb"^(\d+)", b"318767104", "19.0.0.0.0"),
        ("$ORAVSN(1)", rb"^(\d+)", b"0", None),
        ("v$2", rb"^(x)", b"x", "v"),
        ("$1 / $2", rb"^(a)(b)?", b"a", "a /"),
        ("$1", rb"^(.*)", "统一身份认证平台".encode("gb18030"), "统一身份认证平台"),
    ],
)
def test_templates(template: str, pattern: bytes, data: bytes, expected: str | None) -> None:
    found = re.search(pattern, data, re.DOTALL)
    assert found is not None
    assert fill(template, found) == expected


def test_cpe_templates_escape_and_default() -> None:
    found = re.search(rb"^(\S+) (\S*)", b"1.0+beta ")
    assert found is not None
    assert fill_cpe("cpe:2.3:a:x:y:$1:$2:*:*:*:*:*:*", found) == (
        "cpe:2.3:a:x:y:1.0\\+beta:*:*:*:*:*:*:*"
    )


@pytest.mark.parametrize(
    "template", ["$X(1)", '$SUBST(1,"a")', '$I(1,"=")', "$P(1", '$SUBST(1,"a","b","c")']
)
def test_bad_templates(template: str) -> None:
    with pytest.raises(ValueError, match=r"\$"):
        check_template(template)


@pytest.mark.parametrize(
    ("pattern", "flags", "prefix"),
    [
        (rb"^SSH-([\d.]+)-", 0, b"SSH-"),
        (rb"^HTTP/1\.[01] ", 0, b"HTTP/1."),
        (rb"^\x16\x03\x01", 0, b"\x16\x03\x01"),
        (rb"^\0\0\x01", 0, b"\x00\x00\x01"),
        (rb"^\012", 0, b""),
        (rb"^abc?", 0, b"ab"),
        (rb"^ab{2}", 0, b"a"),
        (rb"^Server", re.IGNORECASE, b"server"),
        (rb"^a|^b", 0, b""),
        (rb"^a(?:b|c)", 0, b"a"),
        (rb"^[|]x", 0, b""),
        (rb"^\|x", 0, b"|x"),
        (rb"x^", 0, b""),
        (rb"^abc", re.MULTILINE, b""),
        (rb"^\d+", 0, b""),
        (rb"^" + b"A" * 40, 0, b"A" * 16),
    ],
)
def test_literal_prefix(pattern: bytes, flags: int, prefix: bytes) -> None:
    assert literal_prefix(pattern, int(flags)) == prefix


_ATOMS = st.sampled_from(
    [b"a", b"Z", b"0", b" ", b"-", b"\\.", b"\\|", b"\\x41", b"\\x00", b"\\r", b"\\n", b"\\0"]
)
_TAILS = st.sampled_from(
    [b"", b"?", b"*", b"+", b"{2}", b"(x|y)", b"|b", b"[ab]", b".", b"\\d", b"$", b"(?:q)?"]
)


@settings(max_examples=300, deadline=None)
@given(
    atoms=st.lists(_ATOMS, max_size=8),
    tail=_TAILS,
    data=st.binary(max_size=24),
    fold=st.booleans(),
)
def test_literal_prefix_never_hides_a_match(
    atoms: list[bytes], tail: bytes, data: bytes, fold: bool
) -> None:
    pattern = b"^" + b"".join(atoms) + tail
    flags = int(re.IGNORECASE) if fold else 0
    try:
        regex = re.compile(pattern, flags)
    except re.error:
        assume(False)  # e.g. "^?": nothing to repeat
        return
    rule = Rule(RuleSpec(service="x"), pattern, flags, literal_prefix(pattern, flags))
    # Whatever the regex matches must pass the prefix check; try data it is likely to match.
    literal = regex.pattern
    for candidate in (data, _unescape_sample(literal) + data):
        if regex.search(candidate) is not None:
            assert rule.candidate(candidate)


def _unescape_sample(pattern: bytes) -> bytes:
    # A plausible matching text: the pattern's atoms with escapes resolved, tail dropped.
    out = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), pattern[1:])
    out = out.replace(b"\\r", b"\r").replace(b"\\n", b"\n").replace(b"\\0", b"\x00")
    return re.sub(rb"\\(.)", rb"\1", out)


def test_excluded_ports_and_explicit_databases(serve: Callable[[Handler], int]) -> None:
    port = serve(greeter(b"SSH-2.0-OpenSSH_9.6\r\n"))
    own = load_database()
    excluded = dataclasses.replace(own, exclude=frozenset({port}))
    assert identify("127.0.0.1", port, timeout=FAST, databases=(excluded,)) is None
    found = identify("127.0.0.1", port, timeout=FAST, databases=(own,))
    assert found is not None and found.extra["database"] == "fingerprints.yaml"
