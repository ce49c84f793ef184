"""A throw-away nginx on 127.0.0.1 with HTTP Basic auth and a Tomcat-manager look-alike.

``nginx -p prefix -c own.conf`` in the foreground, everything (logs, pid, temp dirs) under
a temporary prefix. Locations:

* ``/``              no authentication
* ``/protected/``    Basic auth, realm "Restricted"
* ``/manager/html``, ``/manager/text``  Basic auth, realm "Tomcat Manager Application", as
  Tomcat's manager answers: 200 for a user with the manager role, 403 for a valid user
  without it (the content root is chosen by the authenticated ``$remote_user``), 401 else.

The same locations are served over TLS on ``tls_port`` (a self-signed certificate).
Passwords are written in nginx's ``{SHA}`` htpasswd scheme (base64 SHA-1).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.services.postgres import ServiceUnavailable, free_port
from tests.services.process import stop_process, tcp_banner, wait_ready

NGINX = Path("/usr/sbin/nginx")
REALM = "Restricted"
TOMCAT_REALM = "Tomcat Manager Application"


@dataclass
class NginxServer:
    """A running nginx: plain HTTP on ``port``, HTTPS on ``tls_port``."""

    port: int
    tls_port: int
    root: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop nginx and remove its prefix."""
        stop_process(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def _htpasswd(users: Mapping[str, str]) -> str:
    lines = []
    for user, password in users.items():
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        lines.append(f"{user}:{{SHA}}{digest}\n")
    return "".join(lines)


def _certificate(root: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def start_nginx(
    users: Mapping[str, str],
    *,
    manager_users: Mapping[str, str] | None = None,
    manager_roles: tuple[str, ...] = (),
) -> NginxServer:
    """Start nginx; ``users`` guard ``/protected/``, ``manager_users`` the manager paths
    (those named in ``manager_roles`` get 200, the others 403)."""
    if not NGINX.exists():
        raise ServiceUnavailable("nginx not installed (apt-get install nginx-light)")
    root = Path(tempfile.mkdtemp(prefix="shaobing-nginx-"))
    # Workers run as "nobody" when the master is root: the prefix must be readable.
    root.chmod(0o755)
    try:
        www = root / "www"
        (www / "protected").mkdir(parents=True)
        (www / "index.html").write_text("welcome\n", encoding="utf-8")
        (www / "protected" / "index.html").write_text("secret area\n", encoding="utf-8")
        (www / "forbidden.html").write_text("403 Access Denied\n", encoding="utf-8")
        roles = root / "roles"
        roles.mkdir()
        for user in manager_roles:
            manager = roles / user / "manager"
            manager.mkdir(parents=True)
            (manager / "html").write_text("<title>/manager</title>\n", encoding="utf-8")
            (manager / "text").write_text("OK - Listed applications\n", encoding="utf-8")
        (root / "htpasswd").write_text(_htpasswd(users), encoding="utf-8")
        (root / "manager.htpasswd").write_text(_htpasswd(manager_users or {}), encoding="utf-8")
        cert, key = _certificate(root)
        for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (root / "tmp" / temp).mkdir(parents=True)
        port, tls_port = free_port(), free_port()
        locations = f"""
        location = /forbidden.html {{ root {www}; }}
        location / {{ root {www}; }}
        location /protected/ {{
            auth_basic "{REALM}";
            auth_basic_user_file {root}/htpasswd;
            root {www};
        }}
        location ^~ /manager/ {{
            auth_basic "{TOMCAT_REALM}";
            auth_basic_user_file {root}/manager.htpasswd;
            default_type text/html;
            root {roles}/$remote_user;
            error_page 404 =403 /forbidden.html;
        }}
"""
        config = root / "nginx.conf"
        config.write_text(
            f"""worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 512; }}
http {{
    access_log off;
    keepalive_requests 100000;
    keepalive_timeout 30s;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
{locations}
    }}
}}
""",
            encoding="utf-8",
        )
        log = root / "error.log"
        process = subprocess.Popen(
            [str(NGINX), "-p", str(root), "-c", str(config), "-e", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        request = b"GET / HTTP/1.0\r\n\r\n"
        wait_ready(
            process,
            lambda: (
                tcp_banner(port, send=request).startswith(b"HTTP/1.1 200") and _listening(tls_port)
            ),
            name="nginx",
            log=log,
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return NginxServer(port, tls_port, root, process)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
