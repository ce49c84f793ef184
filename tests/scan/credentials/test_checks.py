"""The ``weak-credential.*`` check plugins end to end against the real services."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cvss import CVSS3

from shaobing.core.errors import ValidationError
from shaobing.findings.severity import Severity, severity_from_score
from shaobing.scan.checks import Check, Observation, Safety, ServiceTarget, load_checks
from shaobing.scan.plugins.weak_credentials import (
    Options,
    WeakCredentialCheck,
    load_checks_data,
    parse_checks,
)
from tests.scan.credentials.conftest import STRONG, WEAK
from tests.scan.credentials.context import RecordingContext
from tests.services.fake import Handler
from tests.services.nginx import NginxServer
from tests.services.snmpd import SnmpServer
from tests.services.sshd import SshServer
from tests.services.vsftpd import FtpServer

IDS = {
    "weak-credential.ssh": Safety.ACTIVE,
    "weak-credential.ftp": Safety.ACTIVE,
    "weak-credential.ftp-anonymous": Safety.ACTIVE,
    "weak-credential.ftp-anonymous-write": Safety.INTRUSIVE,
    "weak-credential.telnet": Safety.ACTIVE,
    "weak-credential.http-basic": Safety.ACTIVE,
    "weak-credential.tomcat": Safety.ACTIVE,
    "weak-credential.snmp": Safety.ACTIVE,
}
FAST: dict[str, Any] = {"max_attempts_per_account": None, "parallelism": 2}


def _check(check_id: str) -> Check:
    return load_checks()[check_id]()


def _run(check_id: str, target: ServiceTarget, **options: Any) -> list[Observation]:
    ctx = RecordingContext(timeout=2.0, options={**FAST, **options})
    return list(_check(check_id).run(target, ctx))


def _tcp(port: int, service: str, *, tls: bool = False) -> ServiceTarget:
    return ServiceTarget("127.0.0.1", port, service=service, tls=tls)


def test_every_check_is_registered_with_its_safety_class() -> None:
    checks = load_checks()
    for check_id, safety in IDS.items():
        assert checks[check_id].safety is safety
    snmp = checks["weak-credential.snmp"]()
    assert snmp.applies(ServiceTarget("127.0.0.1", 161, protocol="udp"))
    assert not snmp.applies(ServiceTarget("127.0.0.1", 161, protocol="tcp"))
    ssh = checks["weak-credential.ssh"]()
    assert ssh.applies(ServiceTarget("127.0.0.1", 2222, service="ssh"))
    assert not ssh.applies(ServiceTarget("127.0.0.1", 22, service="http"))


def test_data_file_is_consistent_with_the_checks() -> None:
    data = load_checks_data()
    checks = load_checks()
    assert set(data.throttle) <= set(checks)
    for check_id in IDS:
        check = checks[check_id]
        if issubclass(check, WeakCredentialCheck):
            assert check.finding_key in data.findings
            assert check.no_auth_key is None or check.no_auth_key in data.findings
    for finding in data.findings.values():
        score = float(CVSS3(finding.cvss).scores()[0])
        assert severity_from_score(score) is finding.severity
        assert all("{password" not in template for template in finding.evidence.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "findings:\n  x:\n    title: t\n    severity: low\n"
            "    cvss: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n"
            "    description: d\n    remediation: r\n    evidence: {a: b}\n",
            "CVSS 9.8",
        ),
        (
            "findings:\n  x:\n    title: t\n    severity: critical\n"
            "    cvss: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\n"
            "    description: d\n    remediation: r\n    evidence: {a: 'pw {password}'}\n",
            "password",
        ),
        ("findings: [", "checks.yaml"),
    ],
    ids=["severity-mismatch", "password-in-evidence", "yaml"],
)
def test_bad_data_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_checks(text)


def test_ssh_check_reports_the_weak_account_with_the_password_only_as_secret(
    sshd: SshServer,
) -> None:
    weak, strong = sshd.users["weak"].name, sshd.users["strong"].name
    observations = _run(
        "weak-credential.ssh",
        _tcp(sshd.port, "ssh"),
        users=[weak, strong],
        passwords=[123456, "password", WEAK],  # YAML reads 123456 as a number
    )
    assert len(observations) == 1
    found = observations[0]
    assert found.check_id == "weak-credential.ssh" and found.identity == weak
    assert found.secret == WEAK and found.severity is Severity.CRITICAL
    assert found.title == "SSH 服务存在弱口令" and found.cwe_ids == [521, 1392]
    assert found.cvss_v3_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert found.evidence is not None and weak in found.evidence
    assert WEAK not in found.evidence and "口令已加密保存" in found.evidence
    assert WEAK not in repr(found.extra) and found.extra["default_credential"] is False
    assert (found.address, found.port, found.protocol) == ("127.0.0.1", sshd.port, "tcp")


def test_ftp_checks(vsftpd: FtpServer, tmp_path: Path) -> None:
    target = _tcp(vsftpd.port, "ftp")
    passwords = tmp_path / "passwords.txt"
    passwords.write_text(f"x1\n{WEAK}\n{STRONG}x\n", encoding="utf-8")
    weak = _run(
        "weak-credential.ftp",
        target,
        users=[vsftpd.users["weak"].name, vsftpd.users["strong"].name, "ftp", "anonymous"],
        password_file=str(passwords),
    )
    # "ftp" and "anonymous" are left to the anonymous check, which finds them.
    assert [o.identity for o in weak] == [vsftpd.users["weak"].name]
    anonymous = _run("weak-credential.ftp-anonymous", target)
    assert [(o.identity, o.severity) for o in anonymous] == [("anonymous", Severity.MEDIUM)]
    assert anonymous[0].secret is None
    write = _run("weak-credential.ftp-anonymous-write", target)
    assert len(write) == 1 and write[0].title == "FTP 匿名用户可写入文件"
    name = write[0].extra["file_name"]
    assert name in (write[0].evidence or "") and "手工删除" in (write[0].evidence or "")
    assert vsftpd.upload is not None
    (vsftpd.upload / name).unlink()


def test_ftp_without_anonymous_reports_nothing_anonymous(vsftpd_closed: FtpServer) -> None:
    target = _tcp(vsftpd_closed.port, "ftp")
    assert _run("weak-credential.ftp-anonymous", target) == []
    assert _run("weak-credential.ftp-anonymous-write", target) == []


def test_tomcat_default_credentials_with_the_built_in_dictionary(nginx: NginxServer) -> None:
    observations = _run("weak-credential.tomcat", _tcp(nginx.port, "http"), parallelism=4)
    assert [o.identity for o in observations] == ["tomcat"]
    found = observations[0]
    assert found.secret == "tomcat" and found.severity is Severity.CRITICAL
    assert "默认口令" in (found.evidence or "") and found.extra["default_credential"] is True


def test_http_basic_on_configured_paths_and_unprotected_root(nginx: NginxServer) -> None:
    target = _tcp(nginx.tls_port, "https", tls=True)
    assert _run("weak-credential.http-basic", target) == []  # "/" needs no credentials
    observations = _run(
        "weak-credential.http-basic",
        target,
        paths=["/protected/"],
        users=["webweak", "webstrong"],
        extra_passwords=[WEAK],
        max_pairs=40,
    )
    assert [(o.identity, o.secret) for o in observations] == [("webweak", WEAK)]


def test_snmp_reports_each_community_without_revealing_it(snmpd: SnmpServer) -> None:
    target = ServiceTarget("127.0.0.1", snmpd.port, protocol="udp", service="snmp")
    ctx = RecordingContext(timeout=0.4, options={})
    observations = list(_check("weak-credential.snmp").run(target, ctx))
    assert sorted(o.secret or "" for o in observations) == ["private", "public"]
    identities = {o.identity or "" for o in observations}
    assert len(identities) == 2
    assert not any("public" in i or "private" in i for i in identities)
    assert all("public" not in (o.evidence or "") for o in observations)


def test_service_accepting_anything_is_not_reported(serve: Callable[[Handler], int]) -> None:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(3)
        while (request := conn.recv(65536)) and not stop.is_set():
            if b"Authorization:" in request:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            else:
                conn.sendall(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n"
                    b'WWW-Authenticate: Basic realm="x"\r\n\r\n'
                )

    port = serve(handle)
    assert _run("weak-credential.http-basic", _tcp(port, "http"), max_pairs=5) == []


def test_unauthenticated_telnet_shell_is_reported(serve: Callable[[Handler], int]) -> None:
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"\r\nBusyBox v1.36\r\n# ")
        conn.settimeout(3)
        while conn.recv(1024):
            pass

    port = serve(handle)
    observations = _run("weak-credential.telnet", _tcp(port, "telnet"), max_pairs=3)
    assert [(o.title, o.identity) for o in observations] == [
        ("Telnet 服务无需认证即可获得命令行", "no-auth")
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"parallelism": "many"}, "parallelism"),
        ({"parallelism": 0}, "parallelism"),
        ({"users": "root"}, "users"),
        ({"passwords": [None]}, "passwords"),
        ({"max_pairs": 0}, "max_pairs"),
        ({"window_seconds": -5}, "window_seconds"),
        ({"default_pairs": "no"}, "default_pairs"),
        ({"password_file": "/nonexistent/list.txt"}, "list.txt"),
        ({"paths": ["manager"]}, "path"),
    ],
)
def test_bad_options_are_one_line_errors(options: dict[str, Any], message: str) -> None:
    target = _tcp(1, "http")  # nothing is sent: the options fail first
    ctx = RecordingContext(options=options)
    with pytest.raises(ValidationError, match=message) as caught:
        list(_check("weak-credential.http-basic").run(target, ctx))
    assert "\n" not in str(caught.value)
    assert ctx.connections == []


def test_throttle_defaults_come_from_the_data_file() -> None:
    tomcat = load_checks()["weak-credential.tomcat"]()
    assert isinstance(tomcat, WeakCredentialCheck)
    limits = tomcat.limits(Options({}))
    assert (limits["max_attempts_per_account"], limits["window_seconds"]) == (4, 330.0)
    lifted = tomcat.limits(Options({"max_attempts_per_account": None, "parallelism": 8}))
    assert lifted["max_attempts_per_account"] is None and lifted["parallelism"] == 8


def test_retest_options_try_only_the_finding_s_account(sshd: SshServer) -> None:
    weak, strong = sshd.users["weak"].name, sshd.users["strong"].name
    check = load_checks()["weak-credential.ssh"]()
    assert isinstance(check, WeakCredentialCheck)
    pairs = check.pairs(Options({"accounts": [weak], "retest": True, "max_pairs": 50}))
    assert pairs and {user for user, _ in pairs} == {weak}
    observations = _run(
        "weak-credential.ssh",
        _tcp(sshd.port, "ssh"),
        accounts=[strong],
        retest=True,
        passwords=[WEAK, STRONG + "x"],
    )
    assert observations == []
