"""The recommended nginx front (deploy/nginx/nginx.conf): the platform's own nginx baseline
passes on it, and a real nginx started from it serves the console over HTTPS with secure
cookies, the security headers, the body limit and refusal of unknown host names."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from shaobing.cli.main import main
from shaobing.server.app import create_app
from tests.server.conftest import PASSWORD, World
from tests.services.nginx import NGINX, _certificate
from tests.services.postgres import free_port
from tests.services.process import stop_process, wait_ready

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "nginx.conf"
HOST = "shaobing.example.gov.cn"


def _baseline(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    capsys.readouterr()
    code = main(["baseline", "check", "--profile", "nginx", *args, "--json", "-"])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    return dict(json.loads(out))


def test_the_deploy_config_passes_the_nginx_baseline(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "root" / "etc" / "nginx" / "nginx.conf"
    conf.parent.mkdir(parents=True)
    shutil.copyfile(DEPLOY, conf)
    conf.chmod(0o644)
    result = _baseline(capsys, "--root", str(tmp_path / "root"))
    failed = [r["rule_id"] for r in result["results"] if r["status"] != "pass"]  # type: ignore[attr-defined]
    assert failed == ["nginx.live.server-header"], failed  # needs a live server: see below


def _live_config(root: Path, https_port: int, http_port: int, upstream: int) -> Path:
    """The deploy file with this test's ports, prefix and certificate (nothing else changed)."""
    cert, key = _certificate(root)
    text = DEPLOY.read_text(encoding="utf-8")
    replacements = {
        "user www-data;": "user nobody nogroup;",
        "pid /run/nginx.pid;": f"pid {root}/nginx.pid;\ndaemon off;",
        "/var/log/nginx/": f"{root}/",
        "listen 80 default_server;": f"listen 127.0.0.1:{http_port} default_server;",
        "listen 443 ssl default_server;": f"listen 127.0.0.1:{https_port} ssl default_server;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "/etc/nginx/tls/shaobing.crt": str(cert),
        "/etc/nginx/tls/shaobing.key": str(key),
        "http://127.0.0.1:8000": f"http://127.0.0.1:{upstream}",
        "http {": "http {\n"
        + "".join(
            f"    {kind}_temp_path {root}/tmp/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ),
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / "tmp" / kind).mkdir(parents=True)
    config = root / "nginx.conf"
    config.write_text(text, encoding="utf-8")
    return config


@pytest.fixture
def fronted(world: World) -> Iterator[int]:
    """The console (behind-proxy mode) with the deploy nginx in front; yields the HTTPS port."""
    if not NGINX.exists():
        pytest.skip("nginx not installed (make test installs it)")
    upstream = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(world.engine, auth=world.auth, https=True),
            host="127.0.0.1",
            port=upstream,
            log_level="warning",
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    root = Path(tempfile.mkdtemp(prefix="shaobing-front-"))
    root.chmod(0o755)
    https_port, http_port = free_port(), free_port()
    config = _live_config(root, https_port, http_port, upstream)
    process = subprocess.Popen(
        [str(NGINX), "-p", str(root), "-c", str(config), "-e", str(root / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(
            process,
            lambda: _status(https_port, "/login") == 200,
            name="nginx",
            log=root / "error.log",
        )
        yield https_port
    finally:
        stop_process(process)
        server.should_exit = True
        thread.join(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's self-signed certificate
    return context


def _request(
    port: int,
    path: str,
    *,
    host: str = HOST,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}{path}", data=data, headers={"Host": host, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, context=_context(), timeout=10) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _status(port: int, path: str) -> int:
    try:
        return _request(port, path)[0]
    except OSError:
        return 0


def test_the_console_behind_the_deploy_nginx(fronted: int, world: World) -> None:
    body = json.dumps({"username": "engineer", "password": PASSWORD}).encode()
    status, headers, _ = _request(
        fronted, "/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 200
    cookie = headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert "nginx/" not in headers.get("server", "")
    # nginx's own refusal of a large body carries the headers too.
    big = b"x" * (65 * 1024 * 1024)
    status, headers, _ = _request(fronted, "/api/v1/assets/import", data=big)
    assert status == 413 and headers["x-frame-options"] == "DENY"
    # Methods outside GET/HEAD/POST never reach the console.
    request = urllib.request.Request(
        f"https://127.0.0.1:{fronted}/login", method="DELETE", headers={"Host": HOST}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, context=_context(), timeout=10)
    assert refused.value.code == 403
    # An unknown host name gets the connection closed (444), not the console.
    with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError, OSError)):
        _request(fronted, "/login", host="guessed.example")
