"""The nginx, apache and tomcat profiles against real servers on 127.0.0.1 (weak and hardened).

Each server runs from a temporary directory (tests/baseline/web_services.py). The profiles are
run through ``shaobing baseline check --target local --var ... --json -``, with the variables
pointing at the temporary configuration and ``http_url`` at the running server, so the
configuration rules read the real files and the online rules talk to the real process. The
installed tomcat10 package's own files (Debian defaults) are checked as they are.
"""

from __future__ import annotations

import json
import shutil
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shaobing.core.settings import reset_settings
from tests.baseline.web_services import (
    WebServer,
    start_apache,
    start_nginx,
    start_tomcats,
)
from tests.services.postgres import ServiceUnavailable

Results = dict[str, dict[str, Any]]


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty SHAOBING_HOME: only the built-in rules are loaded."""
    monkeypatch.setenv("SHAOBING_HOME", str(tmp_path / "home"))
    reset_settings()
    yield
    reset_settings()


def _check(capsys: pytest.CaptureFixture[str], profile: str, **variables: str) -> Results:
    """Run ``shaobing baseline check`` on this host and return the results by rule id."""
    from shaobing.cli.main import main

    args = ["baseline", "check", "--profile", profile, "--target", "local", "--json", "-"]
    for name, value in variables.items():
        args += ["--var", f"{name}={value}"]
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert data["profile"] == profile
    return {r["rule_id"]: r for r in data["results"]}


def _assert_fails(results: Results, expected: dict[str, str]) -> None:
    """Each rule failed and its observed text quotes the real setting."""
    for rule_id, quoted in expected.items():
        result = results[rule_id]
        assert result["status"] == "fail", (rule_id, result["observed"])
        assert quoted in result["observed"], (rule_id, result["observed"])


def _not_passing(results: Results) -> dict[str, str]:
    return {
        rid: f"{r['status']}: {r['observed']}"
        for rid, r in results.items()
        if r["status"] != "pass"
    }


def _server(start: Any, **kwargs: Any) -> Iterator[WebServer]:
    try:
        server = start(**kwargs)
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nginx_weak() -> Iterator[WebServer]:
    """nginx with Debian's stock directives and common shortcuts."""
    yield from _server(start_nginx, hardened=False)


@pytest.fixture(scope="module")
def nginx_hardened() -> Iterator[WebServer]:
    """nginx configured as the nginx profile requires."""
    yield from _server(start_nginx, hardened=True)


@pytest.fixture(scope="module")
def apache_weak() -> Iterator[WebServer]:
    """httpd with Debian's stock apache2.conf/security.conf and status/autoindex enabled."""
    yield from _server(start_apache, hardened=False)


@pytest.fixture(scope="module")
def apache_hardened() -> Iterator[WebServer]:
    """httpd configured as the apache profile requires."""
    yield from _server(start_apache, hardened=True)


@pytest.fixture(scope="module")
def tomcats() -> Iterator[tuple[WebServer, WebServer]]:
    """A weak and a hardened Tomcat from the tomcat10 package."""
    try:
        weak, hardened = start_tomcats()
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    yield weak, hardened
    weak.stop()
    hardened.stop()


def _status(url: str) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


# ---- nginx ---------------------------------------------------------------------------------


def test_nginx_weak(nginx_weak: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Debian's defaults and the shortcuts fail with the offending directive quoted."""
    results = _check(capsys, "nginx", nginx_conf=str(nginx_weak.conf), http_url=nginx_weak.url)
    sites = str(nginx_weak.root / "sites-enabled" / "default.conf")
    _assert_fails(
        results,
        {
            "nginx.info.server-tokens": "未设置 server_tokens",
            "nginx.listing.autoindex": f"{sites}:10: autoindex on;",
            "nginx.tls.protocols": "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;",
            "nginx.tls.ciphers": "ssl_ciphers HIGH:!aNULL:!MD5:DES-CBC3-SHA;",
            "nginx.dos.keepalive-timeout": "keepalive_timeout 65;",
            "nginx.file.config-perms": f"{nginx_weak.conf} 0666 root:root",
            "nginx.live.server-header": "Server: nginx/",
            "nginx.tls.hsts": "Strict-Transport-Security",
            "nginx.headers.x-frame-options": "X-Frame-Options",
            "nginx.access.default-server": "return",
        },
    )
    assert results["nginx.methods.limit"]["status"] == "fail"
    assert results["nginx.account.worker-user"]["status"] == "pass"
    assert "user www-data;" in results["nginx.account.worker-user"]["observed"]
    # the online rule saw the real server, not a default
    assert nginx_weak.url in results["nginx.live.server-header"]["observed"]


def test_nginx_hardened(nginx_hardened: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Every nginx rule passes, the online ones against the running HTTPS server."""
    results = _check(
        capsys, "nginx", nginx_conf=str(nginx_hardened.conf), http_url=nginx_hardened.url
    )
    assert _not_passing(results) == {}
    assert "Server: nginx" in results["nginx.live.server-header"]["observed"]
    assert "OPTIONS" in results["nginx.methods.limit"]["observed"]
    assert "HTTP 403" in results["nginx.methods.limit"]["observed"]
    # without http_url the same configuration is judged on its files alone
    offline = _check(capsys, "nginx", nginx_conf=str(nginx_hardened.conf))
    assert offline["nginx.live.server-header"]["status"] == "na"
    assert offline["nginx.tls.hsts"]["status"] == "pass"


# ---- Apache httpd --------------------------------------------------------------------------


def test_apache_weak(apache_weak: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Debian's apache2.conf, security.conf and default modules fail where they should."""
    results = _check(capsys, "apache", apache_conf=str(apache_weak.conf), http_url=apache_weak.url)
    security = str(apache_weak.root / "conf-enabled" / "security.conf")
    _assert_fails(
        results,
        {
            "apache.info.server-tokens": f"{security}:3: ServerTokens OS",
            "apache.info.server-signature": "ServerSignature On",
            "apache.listing.indexes": "Options Indexes FollowSymLinks",
            "apache.dos.timeout": f"{apache_weak.conf}:5: Timeout 300",
            "apache.tls.protocols": "SSLProtocol all -SSLv3",
            "apache.modules.status-info": "LoadModule status_module",
            "apache.modules.autoindex-userdir": "LoadModule autoindex_module",
            "apache.methods.trace": "TraceEnable On",
            "apache.live.trace": "HTTP 200",
            "apache.live.server-header": "(Debian)",
            "apache.headers.x-frame-options": "未设置 Header",
            "apache.dos.limit-request-body": "LimitRequestBody",
        },
    )
    passing = ("apache.access.root-directory", "apache.account.run-user", "apache.audit.logs")
    for rule_id in passing:
        assert results[rule_id]["status"] == "pass", results[rule_id]
    assert "Require all denied" in results["apache.access.root-directory"]["observed"]


def test_apache_hardened(apache_hardened: WebServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Every apache rule passes; the headers and TRACE are confirmed on the running server."""
    results = _check(
        capsys, "apache", apache_conf=str(apache_hardened.conf), http_url=apache_hardened.url
    )
    assert _not_passing(results) == {}
    assert "Server: Apache" in results["apache.live.server-header"]["observed"]
    assert "HTTP 405" in results["apache.live.trace"]["observed"]
    # Debian's commented example form (header name with a colon) is what httpd really sends
    assert (
        "X-Content-Type-Options: nosniff"
        in (results["apache.headers.x-content-type-options"]["observed"])
    )


# ---- Tomcat --------------------------------------------------------------------------------


def _tomcat_vars(server: WebServer) -> dict[str, str]:
    missing = str(server.root / "no-package")
    return {
        "catalina_base": str(server.root),
        "tomcat_pkg_conf": missing,
        "tomcat_pkg_base": missing,
        "http_url": server.url,
    }


def test_tomcat_weak(
    tomcats: tuple[WebServer, WebServer], capsys: pytest.CaptureFixture[str]
) -> None:
    """The package's server.xml with the usual shortcuts fails; the manager is really open."""
    weak, _ = tomcats
    results = _check(capsys, "tomcat", **_tomcat_vars(weak))
    conf = weak.root / "conf"
    shutdown = weak.ports["shutdown"]
    _assert_fails(
        results,
        {
            "tomcat.shutdown.port": f'<Server port="{shutdown}" shutdown="SHUTDOWN">',
            "tomcat.users.weak-password": 'username="tomcat"',
            "tomcat.users.default-accounts": 'username="tomcat"',
            "tomcat.users.manager-script-shared": 'roles="manager-gui,manager-script"',
            "tomcat.ajp.secret": 'secretRequired="false"',
            "tomcat.manager.remote-addr": str(conf / "Catalina" / "localhost" / "manager.xml"),
            "tomcat.info.error-report": "ErrorReportValve",
            "tomcat.live.error-page": "Apache Tomcat/",
            "tomcat.file.conf-perms": f"{conf / 'tomcat-users.xml'} 0644",
            "tomcat.deploy.auto-deploy": 'autoDeploy="true"',
            "tomcat.apps.default-root": "If you're seeing this",
        },
    )
    assert results["tomcat.listing.default-servlet"]["status"] == "pass"
    assert results["tomcat.audit.access-log"]["status"] == "pass"
    # The manager's own META-INF/context.xml admits only 10.255.255.0/24, yet 127.0.0.1 reaches
    # the login (401): with a conf/Catalina descriptor Tomcat ignores that file, as the rule says.
    assert _status(f"{weak.url}/manager/html") == 401


def test_tomcat_hardened(
    tomcats: tuple[WebServer, WebServer], capsys: pytest.CaptureFixture[str]
) -> None:
    """All rules pass except the deliberately kept manager; its valve is really enforced."""
    _, hardened = tomcats
    results = _check(capsys, "tomcat", **_tomcat_vars(hardened))
    not_passing = _not_passing(results)
    assert set(not_passing) == {"tomcat.apps.admin-apps", "tomcat.tls.protocols"}, not_passing
    assert results["tomcat.tls.protocols"]["status"] == "na"
    assert results["tomcat.apps.admin-apps"]["status"] == "fail"
    assert "RemoteCIDRValve" in results["tomcat.manager.remote-addr"]["observed"]
    # the valve in the descriptor is the one Tomcat applies: 127.0.0.1 is refused
    assert _status(f"{hardened.url}/manager/html") == 403
    assert _status(f"{hardened.url}/") == 200


def test_tomcat_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    """The tomcat10 package's own files as installed (Debian defaults)."""
    server_xml = Path("/etc/tomcat10/server.xml")
    if not server_xml.exists():
        pytest.skip("tomcat10 not installed (apt-get install tomcat10)")
    results = _check(capsys, "tomcat", catalina_base="/nonexistent/tomcat")
    shutdown = results["tomcat.shutdown.port"]
    assert shutdown["status"] == "pass"
    assert '/etc/tomcat10/server.xml: <Server port="-1"' in shutdown["observed"]
    assert results["tomcat.deploy.auto-deploy"]["status"] == "fail"
    assert results["tomcat.listing.default-servlet"]["status"] == "pass"
    assert results["tomcat.file.conf-perms"]["status"] == "pass"
    assert (
        "/etc/tomcat10/tomcat-users.xml 0640 root:tomcat"
        in (results["tomcat.file.conf-perms"]["observed"])
    )
    # the packaged tomcat-users.xml only has commented-out examples
    assert results["tomcat.users.weak-password"]["status"] == "pass"
    manager = Path("/etc/tomcat10/Catalina/localhost/manager.xml")
    if manager.exists() and shutil.which("java"):
        # tomcat10-admin deploys the manager through a descriptor without any address valve
        remote = results["tomcat.manager.remote-addr"]
        assert remote["status"] == "fail"
        assert str(manager) in remote["observed"]
