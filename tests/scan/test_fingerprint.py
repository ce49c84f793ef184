"""Service identification against tiny fake servers on 127.0.0.1 (never any other host)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from shaobing.core.errors import ValidationError
from shaobing.scan.fingerprint import (
    FingerprintError,
    ServiceMatch,
    identify,
    load_probes,
    parse_database,
)
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
    )
    assert probes[0].payload == b""
    assert probes[0].rules[0].regex.search(b"X7") is not None


def test_port_hints_come_first() -> None:
    from shaobing.scan.fingerprint import _order

    names = [p.name for p in _order(load_probes(), 6379, 6)]
    assert names[:3] == ["banner", "redis-info", "redis-ping"]
    names = [p.name for p in _order(load_probes(), 11211, 4)]
    assert names[:2] == ["banner", "memcached-version"]
    assert len(names) == 4


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
